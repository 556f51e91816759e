// A false challenge costs the challenger its bond. Against the dev node started with
// `--provider` (scripts/test.sh): an honest MiniLM result is committed by the node's off-chain
// worker; Dave challenges one element of it; the worker answers on its own with the opening
// from its trace store; the runtime recomputes the element, finds it within the bound and rules
// for the provider: Dave's bond goes to the provider and the treasury, exactly, and the task
// goes on to finalize.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  connect, devAccounts, devMiniLm, findEvent, recordEvents, signAndWait, waitFor, TREASURY,
} from '@arbiter/client';

const UNIT = 10n ** 12n;
const INFER = process.env.ARBITER_INFER;
const MODEL_DIR = process.env.ARBITER_MINILM_DIR;
let api;
let accounts;

before(async () => {
  api = await connect();
  accounts = await devAccounts();
});

after(async () => {
  await api?.disconnect();
});

/** Balances of `address` at block `hash`. */
async function account(address, hash) {
  const { data } = await (await api.at(hash)).query.system.account(address);
  return { free: data.free.toBigInt(), held: data.reserved.toBigInt() };
}

/** The best block: its hash and number (balances are read at one block, so fee events can be
 *  matched to the blocks between two readings). */
async function head() {
  const header = await api.rpc.chain.getHeader();
  return { hash: header.hash, number: header.number.toNumber() };
}

async function balances(accounts) {
  const h = await head();
  const out = { number: h.number };
  for (const [name, address] of Object.entries(accounts)) out[name] = await account(address, h.hash);
  return out;
}

test('an honest provider answers a false challenge and wins the bond', { timeout: 600_000 }, async () => {
  assert.ok(INFER && MODEL_DIR, 'ARBITER_INFER and ARBITER_MINILM_DIR are set by scripts/test.sh');
  const { alice, charlie, dave } = accounts;
  const info = JSON.parse(execFileSync(INFER, ['model-info', '--model', MODEL_DIR, '--json'], { encoding: 'utf8' }));
  // MiniLM and its provider, Alice (operator Alice, the node's key), come with the dev genesis.
  const model = await devMiniLm(api, info);

  const { ids: [ids] } = JSON.parse(execFileSync(INFER, ['tokenize', '--model', MODEL_DIR, '--text', 'Challenges are cheap to settle.', '--json'], { encoding: 'utf8' }));
  const { events: sub } = await signAndWait(api, api.tx.taskRegistry.submitTask(model, ids, 10n * UNIT), charlie);
  const task = findEvent(sub, 'taskRegistry', 'TaskSubmitted').data[0].toNumber();
  const committed = await waitFor(async () => {
    const t = (await api.call.taskRegistryApi.task(task)).unwrap();
    return t.status.isCommitted ? t.status.asCommitted : null;
  }, { what: `task ${task} committed` });
  assert.equal(committed.operator.toString(), alice.address);

  // Dave disputes an element of the last layer's feed-forward output (row 1, column 100).
  const node = info.nodes - 5;
  const recorder = await recordEvents(api);
  const who = { dave: dave.address, alice: alice.address, treasury: TREASURY };
  const before = await balances(who);
  const { events: ch, fee } = await signAndWait(api, api.tx.challenges.challenge(task, node, 1, 100), dave);
  const challenged = findEvent(ch, 'challenges', 'Challenged');
  const dispute = challenged.data[0].toNumber();
  const bond = (await api.query.challenges.disputes(dispute)).unwrap().bond.toBigInt();
  assert.ok(bond > 0n);
  assert.equal((await balances(who)).dave.held - before.dave.held, bond, 'the bond is held');
  assert.ok((await api.call.taskRegistryApi.task(task)).unwrap().status.isDisputed, 'the task is frozen');

  // The provider's worker answers by itself. Its answer is within the bound and the element
  // reads computed rows: it is Dave's turn to descend
  // (docs/protocol.md, "Descent").
  const answered = (round) => recorder.events.find((e) => e.section === 'challenges' && e.method === 'Answered' && e.data[0].toNumber() === dispute && e.data[2].toNumber() === round);
  await waitFor(() => answered(0), { what: 'the answer to the challenged element' });
  const opened = (await api.query.challenges.openedOperands(dispute)).unwrap();
  assert.ok(opened.length >= 1, 'the answer opened the computed rows the element reads');
  const step = { node: opened[0].node.toNumber(), row: opened[0].row.toNumber(), col: 7 };
  assert.ok(step.node < node, 'the step names an earlier node');
  const { events: ds, fee: descendFee } = await signAndWait(api, api.tx.challenges.descend(dispute, step.node, step.row, step.col), dave);
  assert.deepEqual(findEvent(ds, 'challenges', 'Descended').data[3].toJSON(), step);
  // The worker answers the step too; Dave names nothing more, so his step window runs out and
  // the provider wins.
  await waitFor(() => answered(1) ?? recorder.events.find((e) => e.section === 'challenges' && e.method === 'ProviderWon' && e.data[0].toNumber() === dispute), { what: 'the answer to the step' });
  const won = await waitFor(() => recorder.events.find((e) => e.section === 'challenges' && e.method === 'ProviderWon' && e.data[0].toNumber() === dispute), { what: 'ProviderWon' });
  const lost = recorder.events.find((e) => e.section === 'challenges' && e.method === 'ProviderLost');
  assert.equal(lost, undefined, 'the honest provider did not lose');
  const toProvider = won.data[2].toBigInt();
  const toTreasury = won.data[3].toBigInt();
  assert.ok(toProvider > 0n, 'the provider gets a share of the bond');
  assert.equal(toProvider + toTreasury, bond, 'the whole bond is forfeited');

  // Funds: Dave lost the bond and his fee; Alice (provider and operator) gained her share less
  // the fee of her node's answer; nothing is held for the dispute.
  const after = await balances(who);
  // Every block up to the reading is recorded (each has at least the timestamp's events).
  await waitFor(() => recorder.events.some((e) => e.blockNumber >= after.number), { what: 'the recorder to catch up', everyMs: 200 });
  recorder.stop();
  assert.equal(before.dave.free + before.dave.held - (after.dave.free + after.dave.held), bond + fee + descendFee);
  assert.equal(after.dave.held, before.dave.held);
  const aliceFees = recorder.events
    .filter((e) => e.blockNumber > before.number && e.blockNumber <= after.number)
    .filter((e) => e.section === 'transactionPayment' && e.method === 'TransactionFeePaid' && e.data[0].toString() === alice.address)
    .reduce((sum, e) => sum + e.data[1].toBigInt() + e.data[2].toBigInt(), 0n);
  assert.ok(aliceFees > 0n, 'the answers were transactions from Alice\'s operator key');
  assert.equal(after.alice.free + after.alice.held - (before.alice.free + before.alice.held), toProvider - aliceFees);
  assert.ok(after.treasury.free - before.treasury.free >= toTreasury, 'the treasury received its share');
  assert.ok((await api.query.challenges.disputes(dispute)).isNone, 'the dispute is closed');

  // The window resumes and the task finalizes.
  await waitFor(async () => (await api.call.taskRegistryApi.task(task)).unwrap().status.isFinalized, { what: `task ${task} finalized` });
});

test('challenges of an input element and of an element beyond the trace never cost an honest provider', { timeout: 400_000 }, async () => {
  const { alice, charlie, dave, eve } = accounts;
  const info = JSON.parse(execFileSync(INFER, ['model-info', '--model', MODEL_DIR, '--json'], { encoding: 'utf8' }));
  const model = await devMiniLm(api, info);
  const { ids: [ids] } = JSON.parse(execFileSync(INFER, ['tokenize', '--model', MODEL_DIR, '--text', 'Inputs are the task\'s own.', '--json'], { encoding: 'utf8' }));
  const { events: sub } = await signAndWait(api, api.tx.taskRegistry.submitTask(model, ids, 10n * UNIT), charlie);
  const task = findEvent(sub, 'taskRegistry', 'TaskSubmitted').data[0].toNumber();
  await waitFor(async () => (await api.call.taskRegistryApi.task(task)).unwrap().status.isCommitted, { what: `task ${task} committed` });
  const stake = (await api.query.computeStaking.providers(alice.address)).unwrap().active.toBigInt();

  // Dave names the third token id (node 0 is the token-id input); Eve a row far past the trace
  // of a feed-forward node. Both disputes are open on the task at once.
  const recorder = await recordEvents(api);
  const elements = [[dave, [0, 0, 2]], [eve, [info.nodes - 5, 999, 0]]];
  const disputes = [];
  for (const [who, [node, row, col]] of elements) {
    const { events } = await signAndWait(api, api.tx.challenges.challenge(task, node, row, col), who);
    disputes.push(findEvent(events, 'challenges', 'Challenged').data[0].toNumber());
  }
  for (const dispute of disputes) {
    const ruled = await waitFor(() => recorder.events.find((e) => e.section === 'challenges' && ['ProviderWon', 'ProviderLost'].includes(e.method) && e.data[0].toNumber() === dispute), { what: `the ruling on dispute ${dispute}` });
    assert.equal(ruled.method, 'ProviderWon', `dispute ${dispute}: the provider answered and won`);
  }
  recorder.stop();
  const provider = (await api.query.computeStaking.providers(alice.address)).unwrap();
  assert.equal(provider.active.toBigInt(), stake, 'not slashed');
  assert.ok(provider.status.isActive, 'not jailed');
  await waitFor(async () => (await api.call.taskRegistryApi.task(task)).unwrap().status.isFinalized, { what: `task ${task} finalized` });
});
