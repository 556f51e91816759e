// Against the dev node scripts/test.sh starts (ARBITER_WS): chain properties, metadata, a
// finalized transfer with exact balance accounting.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, devAccounts, freeBalance, signAndWait, finalizedNumber, waitForFinalized } from '@arbiter/client';

let api;
let accounts;

before(async () => {
  api = await connect();
  accounts = await devAccounts();
});

after(async () => {
  await api?.disconnect();
});

test('chain properties: ARBT, 12 decimals, ss58 42', async () => {
  const props = await api.rpc.system.properties();
  assert.equal(props.tokenSymbol.unwrap()[0].toString(), 'ARBT');
  assert.equal(props.tokenDecimals.unwrap()[0].toNumber(), 12);
  assert.equal(props.ss58Format.unwrap().toNumber(), 42);
  assert.equal((await api.rpc.system.chain()).toString(), 'Arbiter Development');
});

test('metadata is V15 or newer and names the runtime pallets', async () => {
  assert.ok(api.runtimeMetadata.version >= 15, `metadata version ${api.runtimeMetadata.version}`);
  for (const pallet of ['system', 'balances', 'sudo', 'utility', 'parameters', 'grandpa', 'aura', 'protocolParameters', 'referenda', 'convictionVoting', 'scheduler', 'preimage', 'treasury']) {
    assert.ok(api.tx[pallet] || api.query[pallet], `pallet ${pallet} present`);
  }
  assert.equal(api.runtimeVersion.specName.toString(), 'arbiter');
});

test('blocks are produced and GRANDPA finalizes them', async () => {
  const start = await finalizedNumber(api);
  const reached = await waitForFinalized(api, start + 2, { timeoutMs: 60_000 });
  assert.ok(reached >= start + 2);
});

test('transfer from Alice to Bob: balances move by exactly amount and fee', async () => {
  const { alice, bob } = accounts;
  const amount = 1_234_567_890_000n; // 1.23456789 ARBT
  const parentHash = await api.rpc.chain.getFinalizedHead();
  const tx = api.tx.balances.transferKeepAlive(bob.address, amount);
  const { blockHash, fee } = await signAndWait(api, tx, alice, { finalized: true });
  assert.ok(fee > 0n, 'a fee was paid');

  // Compare the state just before the including block with the state after it.
  const header = await api.rpc.chain.getHeader(blockHash);
  const before = header.parentHash;
  const aliceBefore = await freeBalance(api, alice.address, before);
  const bobBefore = await freeBalance(api, bob.address, before);
  const aliceAfter = await freeBalance(api, alice.address, blockHash);
  const bobAfter = await freeBalance(api, bob.address, blockHash);
  assert.equal(bobAfter - bobBefore, amount, 'Bob receives exactly the amount');
  assert.equal(aliceBefore - aliceAfter, amount + fee, 'Alice pays exactly amount plus fee');
  assert.ok((await finalizedNumber(api)) >= header.number.toNumber(), 'the block is finalized');
  assert.ok(parentHash);
});

test('a transfer beyond the balance fails with a clear error', async () => {
  const { bob, charlie } = accounts;
  const bobBefore = await freeBalance(api, bob.address);
  const tooMuch = bobBefore * 10n;
  await assert.rejects(
    signAndWait(api, api.tx.balances.transferKeepAlive(charlie.address, tooMuch), bob),
    /balances\.|Funds|Token|Inability to pay/,
  );
});
