// The fraud path end to end, on a two-node development chain the caller's test starts:
//
//   node A (`--alice --provider` plus a test fault switch): authors blocks and provides MiniLM
//          with Alice's operator key, but its results are wrong in the way the switch says;
//   node B (`--bob --provider --watcher`): an honest provider (Bob's operator key) and a watcher.
//
// The dev genesis makes Alice MiniLM's only provider (operator Alice: node A); she points her
// offer's endpoint at node A. Charlie submits a text, so A runs it and commits a wrong result.
// Then Dave registers as a second provider (operator Bob: node B). B's watcher re-executes the
// task and, as A committed its output alone (docs/protocol.md, "The trace root is fixed when
// first needed"), challenges the output element farthest from its own (Bob's bond). A's worker
// answers with its own opening, which fixes A's trace root. Where that answer does not already
// lose, B checks the result again against the fixed root: it walks A's trace over A's RPC, finds
// the element A's own rows convict it of and challenges it too; A's answer there is ruled
// against it (or, where A serves nothing, B descends to it). Alice's stake is slashed (half to
// Bob), the other dispute is dismissed, the task is reassigned to Dave's provider, whose node B
// commits the right embedding; it finalizes, and Charlie pays only the honest provider. Used by test/08 (a faulted graph node) and test/10 (a wrong output over an honest
// trace), and by test/11 for providers that withhold their trace: A's offer points at an
// endpoint nothing listens on, so B's watcher cannot read A's trace and descends instead
// (docs/protocol.md, "Descent"); or the result comes from an operator driven from this client
// (Eve's key, on no node), which commits a wrong output and never answers anything.

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, devAccounts, devMiniLm, f32Hex, findEvent, recordEvents, setAuditRate, signAndWait, waitFor } from '@arbiter/client';

const UNIT = 10n ** 12n;
// Alice's fixed node key (0x..01) gives her this peer id, so B can bootstrap from her.
const ALICE_PEER_ID = '12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp';

/**
 * Runs the scenario. `faultArgs`: node A's fault switch; `ports`: { p2pA, p2pB, rpcA, rpcB };
 * `expected(info)`: { element: [node, row, col] of the challenge that convicts (none: any element
 * of the output node's first row, the first challenge), reason: the `LossReason`,
 * honestTraceRoot: whether A's first answer fixes the honest trace root (`null`: no answer
 * fixes one), descentTo: the node the convicting dispute's descent ends at (none: no descent),
 * challenges: how many the watcher sends (default 1) }. `withheld`: A's offer points at a closed port. `clientOperator`:
 * the task goes to a provider whose operator (Eve) this client drives: it commits a wrong output
 * and never answers; node A's Alice is priced out.
 */
export async function fraudScenario(t, { faultArgs, ports, text, expected, withheld = false, clientOperator = false }) {
  const MODEL_DIR = process.env.ARBITER_MINILM_DIR;
  await withTwoNodes({ faultArgs, ports }, (nodes, apis) =>
    scenario({ t, nodes, apis, text, expected, INFER: process.env.ARBITER_INFER, MODEL_DIR, withheld, clientOperator }));
}

/**
 * Starts node A (`--alice --provider` plus `faultArgs`) and node B (`--bob --provider`, and
 * `--watcher` unless `watcher` is false), both with MiniLM (`--models-dir`) and `extraArgs`
 * (`--gguf` for SmolLM2), sets the audit rate to `auditRate` (parts per billion; 0: no result
 * is drawn for audit, so the challenges each test counts are the watcher's alone), runs
 * `body(nodes, apis)` and stops them (the nodes' logs end a failure's message).
 */
export async function withTwoNodes({ faultArgs, ports, extraArgs = [], watcher = true, auditRate = 0 }, body) {
  const NODE = process.env.ARBITER_NODE;
  const INFER = process.env.ARBITER_INFER;
  const MODEL_DIR = process.env.ARBITER_MINILM_DIR;
  assert.ok(NODE && INFER && MODEL_DIR, 'ARBITER_NODE, ARBITER_INFER and ARBITER_MINILM_DIR are set by scripts/test.sh');
  const dir = mkdtempSync(join(tmpdir(), 'arbiter-fraud-'));
  const nodes = {
    a: { p2p: ports.p2pA, rpc: ports.rpcA, args: ['--alice', '--node-key', '0'.repeat(63) + '1', '--provider', ...faultArgs] },
    b: { p2p: ports.p2pB, rpc: ports.rpcB, args: ['--bob', '--node-key', '0'.repeat(63) + '2', '--provider', ...(watcher ? ['--watcher'] : []), '--bootnodes', `/ip4/127.0.0.1/tcp/${ports.p2pA}/p2p/${ALICE_PEER_ID}`] },
  };
  const children = [];
  const apis = [];
  const start = (name) => {
    const n = nodes[name];
    const log = openSync(join(dir, `${name}.log`), 'a');
    children.push(spawn(NODE, [
      '--chain', 'dev', '--base-path', join(dir, name), '--port', String(n.p2p), '--rpc-port', String(n.rpc),
      '--no-prometheus', '--no-mdns', '--allow-private-ip', '--models-dir', MODEL_DIR, ...extraArgs, ...n.args,
    ], { stdio: ['ignore', log, log], detached: true }));
  };
  const logTails = () => Object.keys(nodes).map((n) => {
    let lines = '';
    try { lines = readFileSync(join(dir, `${n}.log`), 'utf8').trim().split('\n').filter((l) => /arbiter|rror|WARN/.test(l)).slice(-12).join('\n'); } catch {}
    return `--- node ${n} ---\n${lines}`;
  }).join('\n');
  start('a');
  start('b');
  try {
    const api = await connect(`ws://127.0.0.1:${nodes.a.rpc}`, { timeoutMs: 120_000 });
    apis.push(api);
    await setAuditRate(api, (await devAccounts()).alice, auditRate);
    await body(nodes, apis);
  } catch (e) {
    e.message += `\n${logTails()}`;
    throw e;
  } finally {
    for (const a of apis) await a.disconnect().catch(() => {});
    for (const c of children) {
      try { process.kill(-c.pid, 'SIGKILL'); } catch {}
    }
    if (!process.env.ARBITER_KEEP_FRAUD) rmSync(dir, { recursive: true, force: true });
  }
}

async function scenario({ t, nodes, apis, text, expected, INFER, MODEL_DIR, withheld, clientOperator }) {
  const api = await connect(`ws://127.0.0.1:${nodes.a.rpc}`, { timeoutMs: 120_000 });
  apis.push(api);
  const apiB = await connect(`ws://127.0.0.1:${nodes.b.rpc}`, { timeoutMs: 120_000 });
  apis.push(apiB);
  const { alice, bob, charlie, dave, eve } = await devAccounts();
  const info = JSON.parse(execFileSync(INFER, ['model-info', '--model', MODEL_DIR, '--json'], { encoding: 'utf8' }));
  const honest = JSON.parse(execFileSync(INFER, ['embed', '--model', MODEL_DIR, '--text', text, '--json'], { encoding: 'utf8' }));
  const { element, reason, honestTraceRoot, descentTo, challenges = 1 } = expected(info);
  const model = await devMiniLm(api, info);
  const offer = (endpoint, price = 2n * UNIT) => ({ models: [model], price, capacity: 4, endpoint, hardware: 'Cpu' });
  // Nothing listens on a discard port here: the watcher's connection is refused.
  const closed = 'http://127.0.0.1:9';
  const faultyProvider = clientOperator ? eve : alice;
  if (clientOperator) {
    // Alice asks more than Charlie offers; Eve's provider (operator Eve, on no node) takes it.
    await signAndWait(api, api.tx.computeStaking.updateOffer(offer(`http://127.0.0.1:${nodes.a.rpc}`, 20n * UNIT)), alice);
    await signAndWait(api, api.tx.computeStaking.register(2_000n * UNIT, eve.address, offer(closed)), eve);
  } else {
    await signAndWait(api, api.tx.computeStaking.updateOffer(offer(withheld ? closed : `http://127.0.0.1:${nodes.a.rpc}`)), alice);
  }
  const stake = (await api.query.computeStaking.providers(faultyProvider.address)).unwrap().active.toBigInt();

  const recorder = await recordEvents(api);
  const charlieBefore = (await api.query.system.account(charlie.address)).data;
  const { events: sub, fee: submitFee } = await signAndWait(api, api.tx.taskRegistry.submitTask(model, honest.ids[0], 10n * UNIT), charlie);
  const task = findEvent(sub, 'taskRegistry', 'TaskSubmitted').data[0].toNumber();
  // Only now the honest provider joins: the task went to the faulty one.
  await signAndWait(api, api.tx.computeStaking.register(2_000n * UNIT, bob.address, offer(`http://127.0.0.1:${nodes.b.rpc}`)), dave);

  const has = (method, pred = () => true) => recorder.events.find((e) => e.section === 'challenges' && e.method === method && pred(e));
  if (clientOperator) {
    assert.equal((await api.call.taskRegistryApi.task(task)).unwrap().status.asAssigned.provider.toString(), eve.address, 'assigned to the client-driven provider');
    // A wrong output (the honest embedding with its first eight values negated) and a trace
    // root of nothing: Eve cannot answer any challenge, and does not try.
    const output = new Uint8Array(honest.embeddings[0].length * 4);
    const view = new DataView(output.buffer);
    honest.embeddings[0].forEach((v, i) => view.setFloat32(i * 4, i < 8 ? -v : v, true));
    await signAndWait(api, api.tx.taskRegistry.commitResult(task, `0x${Buffer.from(output).toString('hex')}`, null), eve);
  }
  const wrong = await waitFor(() => recorder.events.find((e) => e.section === 'taskRegistry' && e.method === 'ResultCommitted' && e.data[0].toNumber() === task), { what: 'the faulty commit' });
  assert.equal(wrong.data[1].toString(), faultyProvider.address, 'committed by the faulty provider');
  assert.ok(wrong.data[2].isNone, 'the output alone');

  // The first challenge is of an output element: with no root fixed, A's served rows prove nothing.
  const challenged = await waitFor(() => has('Challenged', (e) => e.data[1].toNumber() === task), { what: 'the watcher\'s challenge' });
  assert.equal(challenged.data[2].toString(), bob.address, 'the watcher (Bob\'s key) challenged');
  const first = challenged.data[3].toJSON();
  assert.deepEqual([first.node, first.row], [info.nodes - 1, 0], 'an element of the committed output');

  const steps = descentTo === undefined ? 0 : 60;
  const lost = await waitFor(() => has('ProviderLost', (e) => e.data[1].toNumber() === task) || has('ProviderWon', (e) => e.data[1].toNumber() === task), { what: 'the ruling', timeoutMs: 300_000 + steps * 15_000 });
  assert.equal(lost.method, 'ProviderLost');
  const dispute = lost.data[0].toNumber();
  const convicting = has('Challenged', (e) => e.data[0].toNumber() === dispute);
  assert.equal(convicting.data[2].toString(), bob.address);
  if (element) {
    const [node, row, col] = element;
    assert.deepEqual(convicting.data[3].toJSON(), { node, row, col }, 'at the element the provider\'s rows convict it of');
  } else {
    assert.equal(dispute, challenged.data[0].toNumber(), 'the first challenge convicts');
  }
  const fixed = recorder.events.find((e) => e.section === 'taskRegistry' && e.method === 'TraceRootFixed' && e.data[0].toNumber() === task);
  if (honestTraceRoot === null) {
    assert.equal(fixed, undefined, 'no answer, no root');
  } else {
    assert.ok(fixed, 'the first answer fixed the root');
    assert.ok(fixed.blockNumber <= lost.blockNumber);
    if (honestTraceRoot) assert.equal(fixed.data[1].toHex(), honest.trace_roots[0], 'the honest trace root (only the output is wrong)');
    else assert.notEqual(fixed.data[1].toHex(), honest.trace_roots[0], 'a wrong trace');
  }
  assert.equal(lost.data[2].toString(), reason, 'the provider is ruled against for the expected reason');
  const descended = recorder.events.filter((e) => e.section === 'challenges' && e.method === 'Descended' && e.data[0].toNumber() === dispute);
  if (descentTo === undefined) {
    assert.equal(descended.length, 0, 'no descent');
  } else {
    assert.ok(descended.length > 0, 'the watcher descended');
    assert.equal(descended.at(-1).data[3].toJSON().node, descentTo, 'the descent ended at the faulted node');
    descended.forEach((e, i) => assert.equal(e.data[2].toNumber(), i + 1, 'one step a round, in order'));
  }
  const slashed = lost.data[3].toBigInt();
  assert.ok(slashed > 0n);
  const faulty = (await api.query.computeStaking.providers(faultyProvider.address)).unwrap();
  assert.equal(faulty.active.toBigInt(), stake - slashed, 'exactly the slash left the stake');
  assert.ok(faulty.status.isJailed);

  // Reassigned to Dave's provider; node B commits the engine's honest result; it finalizes.
  const done = await waitFor(async () => {
    const record = (await api.call.taskRegistryApi.task(task)).unwrap();
    return record.status.isFinalized ? record.status.asFinalized : null;
  }, { what: `task ${task} finalized`, timeoutMs: 400_000 });
  assert.equal(done.provider.toString(), dave.address);
  assert.equal(done.output.toHex(), f32Hex(honest.embeddings[0]), 'the honest embedding');
  assert.ok(done.traceRoot.isNone, 'unchallenged: no root fixed');
  recorder.stop();
  const at = (section, method) => recorder.events.find((e) => e.section === section && e.method === method && e.data[0].toNumber() === task)?.blockNumber;
  const blocks = { committed: wrong.blockNumber, challenged: challenged.blockNumber, rootFixed: fixed?.blockNumber, convictingChallenge: convicting.blockNumber, ruled: lost.blockNumber, finalized: at('taskRegistry', 'TaskFinalized') };
  t.diagnostic(`blocks: ${JSON.stringify(blocks)}; challenge to verdict: ${blocks.ruled - blocks.challenged} blocks, ${descended.length} descent steps`);
  assert.equal(recorder.events.filter((e) => e.section === 'challenges' && e.method === 'Challenged').length, challenges, 'the watcher\'s challenges');
  // A dispute other than the convicting one is dismissed, its bond back.
  const dismissed = recorder.events.filter((e) => e.section === 'challenges' && e.method === 'DisputeDismissed' && e.data[1].toNumber() === task);
  assert.equal(dismissed.length, challenges - 1);

  // Charlie paid the honest provider's price and his fee, nothing for the wrong result.
  const charlieAfter = (await api.query.system.account(charlie.address)).data;
  const spent = charlieBefore.free.toBigInt() + charlieBefore.reserved.toBigInt() - charlieAfter.free.toBigInt() - charlieAfter.reserved.toBigInt();
  assert.equal(spent, 2n * UNIT + submitFee);
}
