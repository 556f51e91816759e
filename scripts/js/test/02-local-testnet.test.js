// Four validators (scripts/local-testnet.sh): finality on every node; it survives one validator
// down (3 of 4 > 2/3); the restarted validator catches up.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, finalizedNumber, waitForFinalized, sleep } from '@arbiter/client';

const here = dirname(fileURLToPath(import.meta.url));
const script = join(here, '..', '..', 'local-testnet.sh');
const portBase = Number(process.env.ARBITER_TESTNET_PORT_BASE || 20000);
const names = ['alice', 'bob', 'charlie', 'dave'];
const dir = mkdtempSync(join(tmpdir(), 'arbiter-testnet-'));
const procs = new Map();
const apis = new Map();

function start(name) {
  const log = openSync(join(dir, `${name}.log`), 'a');
  const child = spawn('bash', [script, 'node', name], {
    env: { ...process.env, ARBITER_TESTNET_DIR: dir, ARBITER_TESTNET_PORT_BASE: String(portBase) },
    stdio: ['ignore', log, log],
    detached: true,
  });
  procs.set(name, child);
  return child;
}

function stop(name) {
  const child = procs.get(name);
  if (!child || child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', resolve);
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      resolve();
    }
  });
}

const rpcPort = (name) => portBase + 44 + names.indexOf(name);

async function api(name) {
  if (!apis.has(name)) apis.set(name, await connect(`ws://127.0.0.1:${rpcPort(name)}`, { timeoutMs: 90_000 }));
  return apis.get(name);
}

after(async () => {
  for (const a of apis.values()) await a.disconnect().catch(() => {});
  await Promise.all(names.map(stop));
  if (!process.env.ARBITER_KEEP_TESTNET) rmSync(dir, { recursive: true, force: true });
});

/** The last lines of every validator's log, to explain a failure. */
function logTails() {
  return names
    .map((n) => {
      let text = '';
      try {
        text = readFileSync(join(dir, `${n}.log`), 'utf8').trim().split('\n').slice(-5).join('\n');
      } catch {}
      return `--- ${n} ---\n${text}`;
    })
    .join('\n');
}

test('four validators finalize; one down keeps finality; it catches up', { timeout: 600_000 }, async () => {
  try {
    await scenario();
  } catch (e) {
    e.message += `\n${logTails()}`;
    throw e;
  }
});

async function scenario() {
  names.forEach(start);

  // Every node follows finality.
  for (const n of names) await waitForFinalized(await api(n), 3, { timeoutMs: 180_000 });

  // Dave goes down: 3 of 4 votes are still more than 2/3.
  await apis.get('dave').disconnect();
  apis.delete('dave');
  await stop('dave');
  const alice = await api('alice');
  const atKill = await finalizedNumber(alice);
  await waitForFinalized(alice, atKill + 3, { timeoutMs: 120_000 });
  for (const n of ['bob', 'charlie']) await waitForFinalized(await api(n), atKill + 3, { timeoutMs: 60_000 });

  // Dave comes back with the same base path and catches up with the others.
  start('dave');
  await sleep(2_000);
  const target = await finalizedNumber(alice);
  const reached = await waitForFinalized(await api('dave'), target, { timeoutMs: 180_000 });
  assert.ok(reached >= target, `dave reached ${reached}, network was at ${target}`);
  // And finality still moves with all four.
  await waitForFinalized(alice, target + 2, { timeoutMs: 120_000 });
}
