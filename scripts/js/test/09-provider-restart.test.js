// A provider node that stops while its task runs finishes it once after a restart. A one-node
// dev chain this test starts itself (`--chain dev --alice --provider`, a base path on disk):
// Charlie submits a text; as soon as the block holding it is authored the node is killed
// (SIGKILL: no clean shutdown), before the off-chain worker's commit can land. The node restarts
// on the same base path; its worker finds the task still assigned, the engine reports the job
// (re-run, or recovered from the trace store) and the result is committed exactly once, with the
// engine's trace root, and finalizes.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, devAccounts, devMiniLm, f32Hex, findEvent, signAndWait, waitFor } from '@arbiter/client';

const UNIT = 10n ** 12n;
const NODE = process.env.ARBITER_NODE;
const INFER = process.env.ARBITER_INFER;
const MODEL_DIR = process.env.ARBITER_MINILM_DIR;
const base = Number(process.env.ARBITER_RESTART_PORT_BASE || 22000);
const rpc = base + 44;
const dir = mkdtempSync(join(tmpdir(), 'arbiter-restart-'));
let child;
const apis = [];

function start() {
  const log = openSync(join(dir, 'node.log'), 'a');
  child = spawn(NODE, [
    '--chain', 'dev', '--alice', '--node-key', '0'.repeat(63) + '1', '--base-path', join(dir, 'alice'), '--port', String(base + 33), '--rpc-port', String(rpc),
    '--no-prometheus', '--no-mdns', '--provider', '--models-dir', MODEL_DIR,
  ], { stdio: ['ignore', log, log], detached: true });
}

function kill() {
  return new Promise((resolve) => {
    if (!child || child.exitCode !== null) return resolve();
    child.once('exit', resolve);
    try { process.kill(-child.pid, 'SIGKILL'); } catch { resolve(); }
  });
}

after(async () => {
  for (const a of apis) await a.disconnect().catch(() => {});
  await kill();
  if (!process.env.ARBITER_KEEP_RESTART) rmSync(dir, { recursive: true, force: true });
});

test('a provider node killed mid-task commits the task once after a restart', { timeout: 400_000 }, async () => {
  assert.ok(NODE && INFER && MODEL_DIR, 'ARBITER_NODE, ARBITER_INFER and ARBITER_MINILM_DIR are set by scripts/test.sh');
  try {
    await scenario();
  } catch (e) {
    let text = '';
    try { text = readFileSync(join(dir, 'node.log'), 'utf8').split('\n').filter((l) => /arbiter|rror/.test(l)).slice(-15).join('\n'); } catch {}
    e.message += `\n--- node log ---\n${text}`;
    throw e;
  }
});

async function scenario() {
  const { charlie } = await devAccounts();
  const info = JSON.parse(execFileSync(INFER, ['model-info', '--model', MODEL_DIR, '--json'], { encoding: 'utf8' }));
  const text = 'The node restarts and the task completes once.';
  const expected = JSON.parse(execFileSync(INFER, ['embed', '--model', MODEL_DIR, '--text', text, '--json'], { encoding: 'utf8' }));

  start();
  let api = await connect(`ws://127.0.0.1:${rpc}`, { timeoutMs: 120_000 });
  const model = await devMiniLm(api, info);
  const { events, blockHash } = await signAndWait(api, api.tx.taskRegistry.submitTask(model, expected.ids[0], 10n * UNIT), charlie);
  const killedAt = (await api.rpc.chain.getHeader(blockHash)).number.toNumber();
  await api.disconnect();
  await kill();
  const task = findEvent(events, 'taskRegistry', 'TaskSubmitted').data[0].toNumber();

  start();
  api = await connect(`ws://127.0.0.1:${rpc}`, { timeoutMs: 120_000 });
  apis.push(api);
  const before = (await api.call.taskRegistryApi.task(task)).unwrap();
  assert.ok(before.status.isAssigned, `still assigned after the restart (status ${before.status.type})`);

  const done = await waitFor(async () => {
    const t = (await api.call.taskRegistryApi.task(task)).unwrap();
    return t.status.isFinalized ? t.status.asFinalized : null;
  }, { what: `task ${task} finalized` });
  assert.equal(done.output.toHex(), f32Hex(expected.embeddings[0]), 'the engine\'s result');
  assert.ok(done.traceRoot.isNone, 'committed alone; no challenge fixed a root');

  // Exactly one commit: count ResultCommitted for the task in every block since the submission.
  const head = (await api.rpc.chain.getHeader()).number.toNumber();
  let commits = 0;
  for (let n = killedAt; n <= head; n += 1) {
    const hash = await api.rpc.chain.getBlockHash(n);
    const records = await (await api.at(hash)).query.system.events();
    commits += records.filter(({ event }) => api.events.taskRegistry.ResultCommitted.is(event) && event.data[0].toNumber() === task).length;
  }
  assert.equal(commits, 1, 'committed once');
}
