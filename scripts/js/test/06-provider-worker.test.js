// Against the dev node started with `--provider` (scripts/test.sh), nothing registered by the
// test: the development genesis registers MiniLM with its pinned commitments (which must be what
// `arbiter-infer model-info` computes) and Alice as its provider with her own operator key
// (which `--dev --provider` puts in the node's keystore). A text is submitted through the client
// library (tokenized in JS with the model's tokenizer.json, checked against its registered hash);
// the node's off-chain worker runs the ids on the engine and commits; the embedding and trace
// root on chain equal `arbiter-infer embed` for the same text, and the task finalizes. The JS
// tokenizer gives the engine's ids for every text tried.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, decodeOutput, devAccounts, f32Hex, loadTokenizer, signAndWait, submitText, verifyTraceRow } from '@arbiter/client';

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

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function infer(args) {
  return JSON.parse(execFileSync(INFER, args, { encoding: 'utf8' }));
}

test('the provider off-chain worker runs a MiniLM task and commits the engine\'s result', { timeout: 400_000 }, async () => {
  assert.ok(INFER && MODEL_DIR, 'ARBITER_INFER and ARBITER_MINILM_DIR are set by scripts/test.sh');
  const { alice, charlie } = accounts;
  const info = infer(['model-info', '--model', MODEL_DIR, '--json']);
  const text = 'A man is eating food.';
  const expected = infer(['embed', '--model', MODEL_DIR, '--text', text, '--json']);

  // Genesis: model 0 is MiniLM with exactly the engine's commitments, approved; Alice serves it.
  const genesisModel = (await api.query.taskRegistry.models(0)).unwrap();
  assert.equal(genesisModel.modelRoot.toHex(), info.model_root);
  assert.equal(genesisModel.descriptorHash.toHex(), info.descriptor_hash);
  assert.equal(genesisModel.tokenizerHash.toHex(), info.tokenizer_hash);
  assert.equal(genesisModel.maxRowWidth.toNumber(), info.max_row_width);
  assert.equal(genesisModel.io.input.asTokenIds.vocabulary.toNumber(), info.io.input.TokenIds.vocabulary);
  assert.equal(genesisModel.io.maxInputTokens.toNumber(), info.io.max_input_tokens);
  assert.ok(genesisModel.status.isApproved);
  const model = 0;
  const provider = (await api.query.computeStaking.providers(alice.address)).unwrap();
  assert.equal(provider.operator.toString(), alice.address);
  // Alice serves MiniLM (model 0) and SmolLM2 (model 1, a generation model).
  assert.deepEqual(provider.offer.models.toJSON(), [model, 1]);

  // Charlie submits the text: one call of the client library (tokenize, then submitTask).
  const tokenizer = await loadTokenizer(api, model, readFileSync(join(MODEL_DIR, 'tokenizer.json')));
  const { task, ids } = await submitText(api, tokenizer, text, 10n * UNIT, charlie);
  assert.deepEqual(ids, expected.ids[0], 'the client\'s ids are the engine\'s');
  assert.deepEqual((await api.call.taskRegistryApi.task(task)).unwrap().input.toJSON(), ids, 'the task holds the ids');

  // The worker commits within a few blocks.
  let record;
  for (let i = 0; i < 60; i += 1) {
    record = (await api.call.taskRegistryApi.task(task)).unwrap();
    if (record.status.isCommitted || record.status.isFinalized) break;
    await sleep(2_000);
  }
  assert.ok(record.status.isCommitted || record.status.isFinalized, `task committed (status ${record.status.type})`);
  const committed = record.status.isCommitted ? record.status.asCommitted : record.status.asFinalized;
  assert.equal(committed.operator?.toString?.() ?? alice.address, alice.address);
  assert.equal(committed.output.toHex(), f32Hex(expected.embeddings[0]), 'the embedding on chain is the engine\'s');
  // The output alone: the worker ran the model plain; the root is fixed only if challenged
  // (docs/protocol.md, "The trace root is fixed when first needed").
  assert.ok(committed.traceRoot.isNone, 'no trace root committed');
  // A client reads the embedding as 384 f32 little-endian values of unit length.
  const embedding = decodeOutput(committed.output);
  assert.equal(embedding.length, 384);
  assert.ok(Math.abs(embedding.reduce((s, v) => s + v * v, 0) - 1) < 1e-5);
  assert.deepEqual(Array.from(embedding), expected.embeddings[0].map((v) => Math.fround(v)));

  // The node serves the trace (a replay of the task): its rows verify against the engine's root,
  // openings decode.
  const status = (await api.rpc.arbiter.engineStatus()).toJSON();
  assert.equal(status.models[0].model_root, info.model_root);
  assert.ok(status.done >= 1);
  const nodes = info.nodes;
  for (const [node, row] of [[5, 0], [50, 3], [nodes - 1, 0]]) {
    const r = (await api.rpc.arbiter.traceRow(task, node, row)).toJSON();
    assert.ok(verifyTraceRow(r, expected.trace_roots[0]));
    // A changed value no longer verifies.
    const tampered = { ...r, valuesHex: r.valuesHex.slice(0, -2) + (r.valuesHex.endsWith('00') ? '01' : '00') };
    assert.throws(() => verifyTraceRow(tampered, expected.trace_roots[0]), /does not hash/);
  }
  // The opening is SCALE bytes; it starts with the element it opens (node, row, col as u32 LE).
  const opening = (await api.rpc.arbiter.opening(task, nodes - 1, 0, 7)).toU8a(true);
  const view = new DataView(opening.buffer, opening.byteOffset);
  assert.deepEqual([view.getUint32(0, true), view.getUint32(4, true), view.getUint32(8, true)], [nodes - 1, 0, 7]);
  assert.ok(opening.length > 1536, `opening of ${opening.length} bytes carries the rows`);
  await assert.rejects(api.rpc.arbiter.traceRow(999_999, 5, 0), /no trace for task 999999/);

  // Prometheus shows the job (scripts/test.sh starts the node with metrics on ARBITER_PROMETHEUS).
  if (process.env.ARBITER_PROMETHEUS) {
    const metrics = await (await fetch(process.env.ARBITER_PROMETHEUS)).text();
    const done = metrics.match(/^arbiter_inference_jobs\{[^}]*state="done"[^}]*\} (\d+)/m);
    assert.ok(done && Number(done[1]) >= 1, 'arbiter_inference_jobs{state="done"} >= 1');
    assert.match(metrics, /^arbiter_inference_job_latency_microseconds_total(\{[^}]*\})? [1-9]/m);
  }

  // And it finalizes after the challenge window.
  for (let i = 0; i < 90 && !record.status.isFinalized; i += 1) {
    await sleep(2_000);
    record = (await api.call.taskRegistryApi.task(task)).unwrap();
  }
  assert.ok(record.status.isFinalized, `task finalized (status ${record.status.type})`);

  // The provider's own metrics (node/src/provider_metrics.rs) count it, and every metric the
  // alert rules and the Grafana dashboard read is on the endpoint (scripts/monitoring).
  if (process.env.ARBITER_PROMETHEUS) {
    const metrics = await (await fetch(process.env.ARBITER_PROMETHEUS)).text();
    const alice = accounts.alice.address;
    const value = (name) => {
      const m = metrics.match(new RegExp(`^${name}\\{[^}]*provider="${alice}"[^}]*\\} (\\S+)$`, 'm'));
      assert.ok(m, `${name}{provider="${alice}"} is exported`);
      return Number(m[1]);
    };
    // The metrics read the best block, which can be past the one read here.
    const info = (await api.query.computeStaking.providers(alice)).unwrap();
    assert.ok(value('arbiter_provider_tasks_completed') >= Math.max(1, info.reputation.completed.toNumber()), 'the finalized task is counted');
    assert.equal(value('arbiter_provider_jailed'), 0);
    assert.equal(value('arbiter_provider_active_stake_arbt'), Number(info.active.toBigInt() / UNIT));
    const score = (await api.call.computeStakingApi.reputationScore(alice)).unwrap().toNumber() / 1e9;
    assert.ok(Math.abs(value('arbiter_provider_reputation') - score) < 0.05, 'the reputation score');
    const monitoring = join(dirname(fileURLToPath(import.meta.url)), '../../monitoring');
    const read = [readFileSync(join(monitoring, 'alerts.yml'), 'utf8'),
      ...JSON.parse(readFileSync(join(monitoring, 'grafana-dashboard.json'), 'utf8')).panels.flatMap((p) => p.targets.map((t) => t.expr))];
    const names = new Set(read.join('\n').match(/\b(arbiter|substrate)_[a-z0-9_]+/g));
    assert.ok(names.size >= 12, `the rules and the dashboard read ${names.size} metrics`);
    for (const name of names) assert.match(metrics, new RegExp(`^${name}[{ ]`, 'm'), `${name} is on the endpoint`);
  }
});

test('the client tokenizes as the engine does and the chain refuses what the engine could not run', { timeout: 120_000 }, async () => {
  assert.ok(INFER && MODEL_DIR, 'ARBITER_INFER and ARBITER_MINILM_DIR are set by scripts/test.sh');
  const { charlie } = accounts;
  const model = 0;
  const file = readFileSync(join(MODEL_DIR, 'tokenizer.json'));
  const tokenizer = await loadTokenizer(api, model, file);
  assert.deepEqual([tokenizer.vocabulary, tokenizer.maxTokens], [30522, 256]);
  const texts = [
    'A man is eating food.',
    'Ünïcödé — naïve café, 東京, emoji 🤖 and CAPS!',
    '  leading and trailing spaces  ',
    'verifiable inference '.repeat(150), // past the 256-token limit: truncated, [SEP] kept
  ];
  const engine = infer(['tokenize', '--model', MODEL_DIR, ...texts.flatMap((t) => ['--text', t]), '--json']);
  texts.forEach((t, k) => assert.deepEqual(tokenizer.encode(t), engine.ids[k], `ids of text ${k}`));
  assert.equal(engine.ids[3].length, 256);
  assert.equal(engine.tokenizer_hash, (await api.query.taskRegistry.models(model)).unwrap().tokenizerHash.toHex());

  // Another tokenizer file than the registered one is refused before anything is sent.
  const edited = Buffer.from(file.toString('utf8').replace('"[UNK]"', '"[UNKNOWN]"'));
  await assert.rejects(loadTokenizer(api, model, edited), /is not model 0's/);
  assert.throws(() => tokenizer.encode('   '), /empty/);

  // The chain refuses token ids the engine could not run, with a clear error, and holds nothing.
  const before = (await api.query.system.account(charlie.address)).data.reserved.toBigInt();
  const submit = (ids) => signAndWait(api, api.tx.taskRegistry.submitTask(model, ids, 10n * UNIT), charlie);
  await assert.rejects(submit([101, 30522, 102]), /taskRegistry\.TokenIdOutOfRange/);
  await assert.rejects(submit(new Array(257).fill(1012)), /taskRegistry\.BadInputLength/);
  await assert.rejects(submit([]), /taskRegistry\.BadInputLength/);
  assert.equal((await api.query.system.account(charlie.address)).data.reserved.toBigInt(), before, 'no escrow held');
});
