// Paid audits end to end (docs/protocol.md, "Audits"), on a two-node dev chain with no
// volunteer watcher: node A (`--alice --provider`) and node B (`--bob --provider`, Dave's
// provider). Sudo sets the audit rate to 100 % (the runtime's is 5 %). An honest result of
// Alice's is drawn for audit to Dave, whose node re-executes it and attests; at finalization
// Dave is paid exactly half the price from the treasury. Then a wrong result committed by a provider this client drives (Eve:
// it never answers) is drawn to Alice and Dave; each one's node finds it wrong and challenges
// it (the audit records both as done), and Eve is slashed when her answer does not come.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { withTwoNodes } from '../lib/fraud.js';
import { connect, devAccounts, devMiniLm, findEvent, recordEvents, signAndWait, waitFor } from '@arbiter/client';

const UNIT = 10n ** 12n;
const base = Number(process.env.ARBITER_FRAUD_PORT_BASE || 21000);

test('a drawn auditor attests an honest result and is paid; drawn auditors challenge a wrong one and it is slashed', { timeout: 900_000 }, async (t) => {
  const INFER = process.env.ARBITER_INFER;
  const MODEL_DIR = process.env.ARBITER_MINILM_DIR;
  const ports = { p2pA: base + 57, p2pB: base + 58, rpcA: base + 67, rpcB: base + 68 };
  // Every result audited (governance would set it by referendum; sudo on the dev chain).
  await withTwoNodes({ faultArgs: [], ports, watcher: false, auditRate: 1_000_000_000 }, async (nodes, apis) => {
    const api = await connect(`ws://127.0.0.1:${nodes.a.rpc}`, { timeoutMs: 120_000 });
    apis.push(api);
    const { alice, bob, charlie, dave, eve } = await devAccounts();
    const info = JSON.parse(execFileSync(INFER, ['model-info', '--model', MODEL_DIR, '--json'], { encoding: 'utf8' }));
    const honest = JSON.parse(execFileSync(INFER, ['embed', '--model', MODEL_DIR, '--text', 'Audits make checking pay.', '--json'], { encoding: 'utf8' }));
    const model = await devMiniLm(api, info);
    const offer = (endpoint, price = 2n * UNIT) => ({ models: [model], price, capacity: 4, endpoint, hardware: 'Cpu' });

    await signAndWait(api, api.tx.computeStaking.updateOffer(offer(`http://127.0.0.1:${nodes.a.rpc}`)), alice);
    const recorder = await recordEvents(api);
    const audits = (method, task) => recorder.events.filter((e) => e.section === 'audits' && e.method === method && e.data[0].toNumber() === task);

    // 1. An honest result of Alice's, drawn to Dave (the only other provider: his price is above
    // what Charlie offers, so he takes no task, but audits any), attested by node B.
    await signAndWait(api, api.tx.computeStaking.register(2_000n * UNIT, bob.address, offer(`http://127.0.0.1:${nodes.b.rpc}`, 20n * UNIT)), dave);
    const { events: sub1 } = await signAndWait(api, api.tx.taskRegistry.submitTask(model, honest.ids[0], 10n * UNIT), charlie);
    const task1 = findEvent(sub1, 'taskRegistry', 'TaskSubmitted').data[0].toNumber();
    assert.equal((await api.call.taskRegistryApi.task(task1)).unwrap().status.asAssigned.provider.toString(), alice.address);
    const drawn1 = await waitFor(() => audits('AuditDrawn', task1)[0], { what: 'the draw of the honest result' });
    assert.equal(drawn1.data[1].toString(), alice.address, 'Alice\'s result');
    assert.deepEqual(drawn1.data[2].toJSON(), [dave.address], 'drawn to Dave, never to Alice');
    const committed1 = recorder.events.find((e) => e.section === 'taskRegistry' && e.method === 'ResultCommitted' && e.data[0].toNumber() === task1);
    assert.equal(drawn1.blockNumber, committed1.blockNumber + 1, 'drawn in the block after the commit');
    const daveBefore = (await api.query.system.account(dave.address)).data.free.toBigInt();
    await waitFor(() => audits('Attested', task1)[0], { what: 'Dave\'s attestation (node B)' });
    const paid = await waitFor(() => audits('AuditorPaid', task1)[0], { what: 'the audit paid at finalization', timeoutMs: 300_000 });
    assert.equal(paid.data[1].toString(), dave.address);
    assert.equal(paid.data[2].toBigInt(), UNIT, 'half of the 2 ARBT price');
    const daveAfter = (await api.query.system.account(dave.address)).data.free.toBigInt();
    assert.equal(daveAfter - daveBefore, UNIT, 'exactly the reward (Bob, the operator, paid the fee)');
    assert.equal(audits('SilentAuditorSlashed', task1).length, 0);

    // 2. A wrong result from Eve's provider (Alice priced out too), drawn to both.
    await signAndWait(api, api.tx.computeStaking.updateOffer(offer(`http://127.0.0.1:${nodes.a.rpc}`, 20n * UNIT)), alice);
    await signAndWait(api, api.tx.computeStaking.register(2_000n * UNIT, eve.address, offer('http://127.0.0.1:9')), eve);
    const eveStake = (await api.query.computeStaking.providers(eve.address)).unwrap().active.toBigInt();
    const { events: sub2 } = await signAndWait(api, api.tx.taskRegistry.submitTask(model, honest.ids[0], 10n * UNIT), charlie);
    const task2 = findEvent(sub2, 'taskRegistry', 'TaskSubmitted').data[0].toNumber();
    assert.equal((await api.call.taskRegistryApi.task(task2)).unwrap().status.asAssigned.provider.toString(), eve.address);
    const output = new Uint8Array(honest.embeddings[0].length * 4);
    const view = new DataView(output.buffer);
    honest.embeddings[0].forEach((v, i) => view.setFloat32(i * 4, i < 8 ? -v : v, true));
    await signAndWait(api, api.tx.taskRegistry.commitResult(task2, `0x${Buffer.from(output).toString('hex')}`, null), eve);
    const drawn2 = await waitFor(() => audits('AuditDrawn', task2)[0], { what: 'the draw of the wrong result' });
    assert.deepEqual(new Set(drawn2.data[2].toJSON()), new Set([alice.address, dave.address]));
    // Each auditor's node challenges it (its first operator key: Alice on A, Bob on B).
    const challengers = await waitFor(() => {
      const c = recorder.events.filter((e) => e.section === 'challenges' && e.method === 'Challenged' && e.data[1].toNumber() === task2);
      return c.length === 2 ? c : null;
    }, { what: 'both auditors\' challenges' });
    assert.deepEqual(new Set(challengers.map((e) => e.data[2].toString())), new Set([alice.address, bob.address]));
    assert.equal(audits('AuditorChallenged', task2).length, 2, 'both audits done by challenging');
    const lost = await waitFor(() => recorder.events.find((e) => e.section === 'challenges' && e.method === 'ProviderLost' && e.data[1].toNumber() === task2), { what: 'Eve\'s loss', timeoutMs: 400_000 });
    assert.equal(lost.data[2].toString(), 'NoResponse');
    const slashed = lost.data[3].toBigInt();
    assert.equal((await api.query.computeStaking.providers(eve.address)).unwrap().active.toBigInt(), eveStake - slashed);
    assert.equal(audits('Attested', task2).length, 0, 'nobody vouched for the wrong result');
    assert.ok(audits('AuditClosed', task2)[0], 'the audit ended with the disproven result');
    recorder.stop();
    t.diagnostic(`task 1: committed ${committed1.blockNumber}, drawn ${drawn1.blockNumber}, paid ${paid.blockNumber}; task 2: drawn ${drawn2.blockNumber}, challenged ${challengers.map((e) => e.blockNumber)}, ruled ${lost.blockNumber}`);
  });
});
