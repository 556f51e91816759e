// Verified text generation end to end (docs/protocol.md, "Generation tasks"), against the dev
// node started with `--provider --gguf SmolLM2` (scripts/test.sh): the genesis registers
// SmolLM2-135M-Instruct as model 1 with the engine's commitments; a chat prompt submitted through
// the client library (`generate`: the committed tokenizer, the chat template, submitGeneration,
// follow, decode) comes back as exactly the tokens and text `arbiter-infer generate` gives, paid
// per token; a false token-choice challenge of it is answered by the provider's worker on its own
// and costs the challenger its bond.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  chatPrompt, connect, devAccounts, findEvent, generate, loadTokenizer, recordEvents, signAndWait,
  waitFor,
} from '@arbiter/client';

const UNIT = 10n ** 12n;
const INFER = process.env.ARBITER_INFER;
const GGUF = process.env.ARBITER_SMOLLM2_GGUF;
const MODEL = 1;
let api;
let accounts;
let generated;

const infer = (args) => JSON.parse(execFileSync(INFER, args, { encoding: 'utf8' }));

before(async () => {
  api = await connect();
  accounts = await devAccounts();
});

after(async () => {
  await api?.disconnect();
});

test('a chat prompt through the client library comes back as the engine\'s tokens, paid per token', { timeout: 600_000 }, async () => {
  assert.ok(INFER && GGUF, 'ARBITER_INFER and ARBITER_SMOLLM2_GGUF are set by scripts/test.sh');
  const { alice, charlie } = accounts;
  // The committed tokenizer, built from the GGUF by the engine: model 1's tokenizer hash.
  const tokenizerPath = join(mkdtempSync(join(tmpdir(), 'arbiter-gen-')), 'tokenizer.json');
  const exported = infer(['tokenizer', '--model', GGUF, '--out', tokenizerPath]);
  const model = (await api.query.taskRegistry.models(MODEL)).unwrap();
  assert.equal(model.tokenizerHash.toHex(), exported.tokenizer_hash);
  assert.ok(model.io.kind.isGeneration, 'model 1 is a generation model');
  const provider = (await api.query.computeStaking.providers(alice.address)).unwrap();
  assert.deepEqual(provider.offer.models.toJSON(), [0, MODEL]);
  const tokenizer = await loadTokenizer(api, MODEL, readFileSync(tokenizerPath));

  const prompt = 'What is the capital of France?';
  const expected = infer(['generate', '--model', GGUF, '--prompt', prompt, '--chat', '--max-new-tokens', '12', '--json']);
  assert.equal(expected.model_root, model.modelRoot.toHex(), 'the engine computes the registered model root');
  // The client tokenizes as the engine does (the chat template, special tokens, digits).
  assert.deepEqual(tokenizer.encode(chatPrompt(prompt)), expected.prompt_ids);
  assert.deepEqual(tokenizer.encode('In 1987, 42 cats ate 3.14159 pies.'),
    infer(['generate', '--model', GGUF, '--prompt', 'In 1987, 42 cats ate 3.14159 pies.', '--max-new-tokens', '1', '--json']).prompt_ids);

  generated = await generate(api, tokenizer, prompt, {
    chat: true, maxNewTokens: 12, maxFee: 5n * UNIT, signer: charlie,
  });
  assert.deepEqual(generated.ids, expected.prompt_ids);
  assert.deepEqual(generated.tokens, expected.tokens, 'the committed tokens are the engine\'s');
  assert.equal(generated.text, expected.text);
  assert.match(generated.text, /Paris/);
  // Paid per token: Alice's price plus her price per token for each token committed.
  const status = (await api.call.taskRegistryApi.task(generated.task)).unwrap().status;
  const committed = status.isCommitted ? status.asCommitted : status.asDisputed;
  assert.equal(
    committed.price.toBigInt(),
    provider.offer.price.toBigInt() + provider.offer.pricePerToken.toBigInt() * BigInt(generated.tokens.length),
  );
});

test('a false token-choice challenge is answered by the provider and costs the challenger its bond', { timeout: 600_000 }, async () => {
  assert.ok(generated, 'the generation of the previous test');
  const { dave } = accounts;
  const { task, tokens } = generated;
  const recorder = await recordEvents(api);
  // Dave says another token beats the first one Alice committed: it does not.
  const rival = (tokens[0] + 1) % 49_152;
  const { events } = await signAndWait(api, api.tx.challenges.challengeTokenChoice(task, 0, rival), dave);
  const challenged = findEvent(events, 'challenges', 'TokenChoiceChallenged');
  const dispute = challenged.data[0].toNumber();
  const bond = (await api.query.challenges.disputes(dispute)).unwrap().bond.toBigInt();
  // The worker answers with the hidden row and the two embedding rows; the ruling is within the
  // band, and the hidden row is opened for a descent Dave does not make.
  const by = (method) => recorder.events.find((e) => e.section === 'challenges' && e.method === method && e.data[0].toNumber() === dispute);
  await waitFor(() => by('Answered') ?? by('ProviderWon'), { what: 'the provider\'s answer to the token choice' });
  const fixed = recorder.events.find((e) => e.section === 'taskRegistry' && e.method === 'TraceRootFixed' && e.data[0].toNumber() === task);
  assert.ok(fixed, 'the answer fixed the task\'s trace root');
  const won = await waitFor(() => by('ProviderWon'), { what: 'ProviderWon', timeoutMs: 400_000 });
  assert.equal(by('ProviderLost'), undefined, 'the honest provider did not lose');
  assert.equal(won.data[2].toBigInt() + won.data[3].toBigInt(), bond, 'the whole bond is forfeited');
});
