// Against the dev node (ARBITER_WS): register and approve a model, register a compute provider
// with a separate operator account, read it back, unbond, wait, withdraw. Balances move by
// exactly the stake and the fees.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, devAccounts, findEvent, signAndWait } from '@arbiter/client';

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

async function balances(who, at) {
  const q = at ? await api.at(at) : api;
  const { data } = await q.query.system.account(who);
  return { free: data.free.toBigInt(), reserved: data.reserved.toBigInt() };
}

test('register a model, approve it, register a provider, unbond and withdraw', { timeout: 300_000 }, async () => {
  const { alice, charlie, ferdie } = accounts;

  // Short unbonding on the dev chain, set through pallet-parameters (Root).
  const setPeriod = api.tx.parameters.setParameter({ Protocol: { UnbondingPeriod: [null, 2] } });
  const { events: paramEvents } = await signAndWait(api, api.tx.sudo.sudo(setPeriod), alice);
  findEvent(paramEvents, 'parameters', 'Updated');

  // A model with MiniLM's shape; hashes are placeholders for this test.
  const h = (b) => '0x' + b.repeat(64);
  const register = api.tx.taskRegistry.registerModel(
    h('1'), h('2'), h('3'),
    { input: { TokenIds: { vocabulary: 30522 } }, maxInputTokens: 256, kind: { Embedding: { outputWidth: 384 } } },
    1536, 0, 'test model',
  );
  const { events: regEvents } = await signAndWait(api, register, alice);
  const modelId = findEvent(regEvents, 'taskRegistry', 'ModelRegistered').data[0].toNumber();
  const { events: apprEvents } = await signAndWait(api, api.tx.sudo.sudo(api.tx.taskRegistry.approveModel(modelId)), alice);
  findEvent(apprEvents, 'taskRegistry', 'ModelApproved');

  // Charlie stakes 2,000 ARBT; Ferdie is his operator (the hot key in the node's keystore).
  const stake = 2_000n * UNIT;
  const offer = {
    models: [modelId],
    price: UNIT,
    capacity: 2,
    endpoint: 'http://127.0.0.1:9944',
    hardware: 'Cpu',
  };
  const { blockHash: regBlock, events, fee: regFee } = await signAndWait(
    api, api.tx.computeStaking.register(stake, ferdie.address, offer), charlie);
  const registered = findEvent(events, 'computeStaking', 'Registered');
  assert.equal(registered.data[1].toString(), ferdie.address);
  const header = await api.rpc.chain.getHeader(regBlock);
  const before = await balances(charlie.address, header.parentHash);
  const after = await balances(charlie.address, regBlock);
  assert.equal(before.free - after.free, stake + regFee, 'free balance pays stake and fee');
  assert.equal(after.reserved - before.reserved, stake, 'the stake is held');

  // Read it back: storage and the runtime API.
  const info = (await api.query.computeStaking.providers(charlie.address)).unwrap();
  assert.equal(info.operator.toString(), ferdie.address);
  assert.equal(info.active.toBigInt(), stake);
  assert.equal(info.status.toString(), 'Active');
  const viaApi = await api.call.computeStakingApi.providerOfOperator(ferdie.address);
  assert.equal(viaApi.unwrap().toString(), charlie.address);
  const forModel = await api.call.computeStakingApi.providersForModel(modelId);
  assert.ok(forModel.map((a) => a.toString()).includes(charlie.address));

  // Unbond half; it stays held until the period passes.
  const part = 1_000n * UNIT;
  const { events: ubEvents } = await signAndWait(api, api.tx.computeStaking.unbond(part), charlie);
  const unlockAt = findEvent(ubEvents, 'computeStaking', 'Unbonded').data[2].toNumber();
  assert.equal((await balances(charlie.address)).reserved - before.reserved, stake, 'unlocking stake stays held');

  // Too early: refused with a clear error.
  const best = (await api.rpc.chain.getHeader()).number.toNumber();
  if (best + 1 < unlockAt) {
    await assert.rejects(signAndWait(api, api.tx.computeStaking.withdrawUnbonded(), charlie), /NothingToWithdraw/);
  }
  while ((await api.rpc.chain.getHeader()).number.toNumber() + 1 < unlockAt) {
    await new Promise((r) => setTimeout(r, 2_000));
  }
  const { blockHash: wBlock, events: wEvents, fee: wFee } = await signAndWait(
    api, api.tx.computeStaking.withdrawUnbonded(), charlie);
  assert.equal(findEvent(wEvents, 'computeStaking', 'Withdrawn').data[1].toBigInt(), part);
  const wHeader = await api.rpc.chain.getHeader(wBlock);
  const b0 = await balances(charlie.address, wHeader.parentHash);
  const b1 = await balances(charlie.address, wBlock);
  assert.equal(b1.free - b0.free, part - wFee, 'withdrawn stake returns to free balance');
  assert.equal(b0.reserved - b1.reserved, part, 'and leaves the hold');
  const left = (await api.query.computeStaking.providers(charlie.address)).unwrap();
  assert.equal(left.active.toBigInt(), stake - part);

  // Back to the default unbonding period (later tests change the windows through governance,
  // whose bounds keep the unbonding period at least a challenge and a response window).
  const restore = api.tx.parameters.setParameter({ Protocol: { UnbondingPeriod: [null, null] } });
  await signAndWait(api, api.tx.sudo.sudo(restore), alice);
  const keys = (await api.query.parameters.parameters.entries()).map(([key]) => key.args[0]);
  assert.ok(!keys.some((k) => k.isProtocol && k.asProtocol.isUnbondingPeriod), 'the default is back');
});
