// A provider that commits a generation's runner-up token is caught by a watcher and slashed
// (docs/protocol.md, "Watching generations"). Two nodes, both with SmolLM2 (`--gguf`): node A
// (`--alice --provider --provider-token-fault 0`) commits, at the first step, the token its own
// logits rank second and decodes on from it, so its trace is consistent with its tokens; node B
// (`--bob --provider --watcher`) decodes A's committed tokens teacher-forced, finds that step's
// token beaten by its own choice beyond the ruling's band, and challenges the token choice naming
// the best token (Bob's bond). A's worker answers with its own hidden row, which the runtime
// rules against it (`OutsideBound`). Alice is slashed and jailed; the task goes to Dave's
// provider (operator Bob: node B), which commits the honest tokens, equal to
// `arbiter-infer generate`; Charlie pays only for those.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { withTwoNodes } from '../lib/fraud.js';
import { connect, decodeTokens, devAccounts, findEvent, recordEvents, signAndWait, waitFor } from '@arbiter/client';

const UNIT = 10n ** 12n;
const MODEL = 1;
// The step A commits the runner-up at: its lead is far beyond the watcher's tolerance on this
// prompt (offchain-workers/inference/tests/gguf.rs checks the same step).
const STEP = 0;
const PROMPT = 'What is the capital of France?';
const base = Number(process.env.ARBITER_FRAUD_PORT_BASE || 21000);

test('a provider that commits the runner-up token is challenged by a watcher and slashed', { timeout: 900_000 }, async (t) => {
  const INFER = process.env.ARBITER_INFER;
  const GGUF = process.env.ARBITER_SMOLLM2_GGUF;
  assert.ok(INFER && GGUF, 'ARBITER_INFER and ARBITER_SMOLLM2_GGUF are set by scripts/test.sh');
  const honest = JSON.parse(execFileSync(INFER, ['generate', '--model', GGUF, '--prompt', PROMPT, '--chat', '--max-new-tokens', '12', '--json'], { encoding: 'utf8' }));
  const ports = { p2pA: base + 55, p2pB: base + 56, rpcA: base + 65, rpcB: base + 66 };
  await withTwoNodes({ faultArgs: ['--provider-token-fault', String(STEP)], ports, extraArgs: ['--gguf', GGUF] }, async (nodes, apis) => {
    const api = await connect(`ws://127.0.0.1:${nodes.a.rpc}`, { timeoutMs: 120_000 });
    apis.push(api);
    const { alice, bob, charlie, dave } = await devAccounts();
    const pricePerToken = UNIT / 100n;
    const offer = (models, endpoint) => ({ models, price: 2n * UNIT, pricePerToken, capacity: 4, endpoint, hardware: 'Cpu' });
    // Alice provides both genesis models from node A.
    await signAndWait(api, api.tx.computeStaking.updateOffer(offer([0, MODEL], `http://127.0.0.1:${nodes.a.rpc}`)), alice);
    const stake = (await api.query.computeStaking.providers(alice.address)).unwrap().active.toBigInt();

    const recorder = await recordEvents(api);
    const charlieBefore = (await api.query.system.account(charlie.address)).data;
    const { events: sub, fee: submitFee } = await signAndWait(api, api.tx.taskRegistry.submitGeneration(MODEL, honest.prompt_ids, 12, 'Greedy', 10n * UNIT), charlie);
    const task = findEvent(sub, 'taskRegistry', 'TaskSubmitted').data[0].toNumber();
    // Only now the honest provider joins: the task went to Alice.
    await signAndWait(api, api.tx.computeStaking.register(2_000n * UNIT, bob.address, offer([MODEL], `http://127.0.0.1:${nodes.b.rpc}`)), dave);

    const of = (section, method) => recorder.events.find((e) => e.section === section && e.method === method && e.data[1].toNumber() === task);
    const wrong = await waitFor(() => recorder.events.find((e) => e.section === 'taskRegistry' && e.method === 'ResultCommitted' && e.data[0].toNumber() === task), { what: 'the faulty commit' });
    assert.equal(wrong.data[1].toString(), alice.address);
    const committed = decodeTokens((await api.call.taskRegistryApi.task(task)).unwrap().status.asCommitted.output);
    assert.deepEqual(committed.slice(0, STEP), honest.tokens.slice(0, STEP));
    assert.notEqual(committed[STEP], honest.tokens[STEP], 'the runner-up at the faulted step');

    // B's watcher challenges that choice, naming the best token.
    const challenged = await waitFor(() => of('challenges', 'TokenChoiceChallenged'), { what: 'the watcher\'s token-choice challenge', timeoutMs: 300_000 });
    assert.equal(challenged.data[2].toString(), bob.address, 'the watcher (Bob\'s key) challenged');
    assert.deepEqual([challenged.data[3].toNumber(), challenged.data[4].toNumber()], [STEP, honest.tokens[STEP]], 'the faulted step, the best token its rival');

    const ruled = await waitFor(() => of('challenges', 'ProviderLost') ?? of('challenges', 'ProviderWon'), { what: 'the ruling', timeoutMs: 300_000 });
    assert.equal(ruled.method, 'ProviderLost');
    assert.equal(ruled.data[0].toNumber(), challenged.data[0].toNumber(), 'the token-choice dispute');
    assert.equal(ruled.data[2].toString(), 'OutsideBound');
    const slashed = ruled.data[3].toBigInt();
    assert.ok(slashed > 0n);
    const faulty = (await api.query.computeStaking.providers(alice.address)).unwrap();
    assert.equal(faulty.active.toBigInt(), stake - slashed, 'exactly the slash left the stake');
    assert.ok(faulty.status.isJailed);
    // A's answer fixed its trace root; nothing was descended (its hidden row is its own).
    assert.ok(recorder.events.find((e) => e.section === 'taskRegistry' && e.method === 'TraceRootFixed' && e.data[0].toNumber() === task));
    assert.equal(recorder.events.filter((e) => e.section === 'challenges' && e.method === 'Descended').length, 0);

    // Reassigned to Dave's provider; node B commits the engine's honest tokens; it finalizes.
    const done = await waitFor(async () => {
      const record = (await api.call.taskRegistryApi.task(task)).unwrap();
      return record.status.isFinalized ? record.status.asFinalized : null;
    }, { what: `task ${task} finalized`, timeoutMs: 400_000 });
    assert.equal(done.provider.toString(), dave.address);
    assert.deepEqual(decodeTokens(done.output), honest.tokens, 'the honest tokens');
    recorder.stop();
    const at = (section, method) => recorder.events.find((e) => e.section === section && e.method === method && e.data[0].toNumber() === task)?.blockNumber;
    t.diagnostic(`blocks: committed ${wrong.blockNumber}, challenged ${challenged.blockNumber}, ruled ${ruled.blockNumber}, finalized ${at('taskRegistry', 'TaskFinalized')}`);
    assert.equal(recorder.events.filter((e) => e.section === 'challenges' && ['Challenged', 'TokenChoiceChallenged'].includes(e.method)).length, 1, 'one challenge');

    // Charlie paid Dave's price and per-token price for the honest tokens, and his fee.
    const charlieAfter = (await api.query.system.account(charlie.address)).data;
    const spent = charlieBefore.free.toBigInt() + charlieBefore.reserved.toBigInt() - charlieAfter.free.toBigInt() - charlieAfter.reserved.toBigInt();
    assert.equal(spent, 2n * UNIT + pricePerToken * BigInt(honest.tokens.length) + submitFee);
  });
});
