// Against the dev node (ARBITER_WS): the whole task lifecycle from polkadot.js. A model is
// registered and approved (sudo), a provider registers with an operator key, a user submits a
// task, the provider is assigned (TaskAssigned), its operator commits a result signed from the
// client, and after the challenge window the task finalizes: the provider is paid its price
// minus the protocol fee, the treasury gets the fee, the submitter gets the rest back.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, devAccounts, findEvent as event, signAndWait, sleep, TREASURY } from '@arbiter/client';

const UNIT = 10n ** 12n;
let api;
let accounts;

before(async () => {
  api = await connect();
  accounts = await devAccounts();
});

after(async () => {
  await api?.disconnect();
});

async function free(who, at) {
  const q = at ? await api.at(at) : api;
  return (await q.query.system.account(who)).data.free.toBigInt();
}

test('submit, assign, commit, finalize, with exact payouts', { timeout: 300_000 }, async () => {
  const { alice, bob, dave, eve } = accounts;

  // Short windows for the dev chain (Root through pallet-parameters).
  const params = [
    api.tx.parameters.setParameter({ Protocol: { ChallengeWindow: [null, 2] } }),
    api.tx.parameters.setParameter({ Protocol: { AssignmentTimeout: [null, 20] } }),
  ];
  await signAndWait(api, api.tx.sudo.sudo(api.tx.utility.batchAll(params)), alice);

  const h = (b) => '0x' + b.repeat(64);
  const { events: reg } = await signAndWait(api, api.tx.taskRegistry.registerModel(
    h('a'), h('b'), h('c'), { input: { TokenIds: { vocabulary: 30522 } }, maxInputTokens: 256, kind: { Embedding: { outputWidth: 384 } } }, 1536, 0, 'lifecycle model'), alice);
  const model = event(reg, 'taskRegistry', 'ModelRegistered').data[0].toNumber();
  await signAndWait(api, api.tx.sudo.sudo(api.tx.taskRegistry.approveModel(model)), alice);

  const price = 1n * UNIT;
  const offer = { models: [model], price, capacity: 1, endpoint: 'http://127.0.0.1:9944', hardware: 'Cpu' };
  await signAndWait(api, api.tx.computeStaking.register(2_000n * UNIT, eve.address, offer), dave);

  // Submit: max_fee is held, Dave (the only provider of this model) is assigned.
  const maxFee = 5n * UNIT;
  const bobStart = await free(bob.address);
  const { events: sub, fee: submitFee } = await signAndWait(
    api, api.tx.taskRegistry.submitTask(model, [101, 7592, 12098, 17062, 102], maxFee), bob);
  const submitted = event(sub, 'taskRegistry', 'TaskSubmitted');
  const task = submitted.data[0].toNumber();
  const assigned = event(sub, 'taskRegistry', 'TaskAssigned');
  assert.equal(assigned.data[1].toString(), dave.address);
  assert.equal(assigned.data[2].toString(), eve.address);
  assert.equal(assigned.data[3].toBigInt(), price);
  const ops = await api.call.taskRegistryApi.operatorTasks(eve.address);
  assert.ok(ops.map((x) => x.toNumber()).includes(task), 'the operator sees its task');

  // Refused: a commit signed by anyone but the assigned operator.
  await assert.rejects(signAndWait(api, api.tx.taskRegistry.commitResult(task, '0x01', null), dave), /NotAssignedOperator/);

  // The operator commits (signed from the client here; the provider's off-chain worker does it
  // in production), here with a trace root (optional: the node's worker commits the output alone).
  const output = '0x' + '0102030405060708';
  const traceRoot = h('e');
  const { events: com, blockHash: commitBlock } = await signAndWait(
    api, api.tx.taskRegistry.commitResult(task, output, traceRoot), eve);
  const windowEnd = event(com, 'taskRegistry', 'ResultCommitted').data[3].toNumber();
  const daveBefore = await free(dave.address, commitBlock);
  const treasuryBefore = await free(TREASURY, commitBlock);

  // Wait for finalization (the hook runs in block window_end + 1).
  let record;
  for (let i = 0; i < 60; i += 1) {
    record = (await api.call.taskRegistryApi.task(task)).unwrap();
    if (record.status.isFinalized) break;
    await sleep(2_000);
  }
  assert.ok(record.status.isFinalized, `task finalized (status ${record.status.type}, window end ${windowEnd})`);
  const fin = record.status.asFinalized;
  assert.equal(fin.provider.toString(), dave.address);
  assert.equal(fin.output.toHex(), output);
  assert.equal(fin.traceRoot.unwrap().toHex(), traceRoot);

  // Payouts: 5 % protocol fee on the price; the rest of max_fee back to the submitter.
  const protocolFee = price / 20n;
  assert.equal((await free(dave.address)) - daveBefore, price - protocolFee, 'provider paid price minus fee');
  assert.equal(bobStart - (await free(bob.address)), price + submitFee, 'submitter paid exactly the price');
  assert.equal((await free(TREASURY)) - treasuryBefore, protocolFee, 'treasury got the fee');
  const held = (await api.query.system.account(bob.address)).data.reserved.toBigInt();
  assert.equal(held, 0n, 'no escrow left');
});
