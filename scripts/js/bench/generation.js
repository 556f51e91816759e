// Generation tasks on a dev chain whose node runs `--provider --gguf SmolLM2` (scripts/bench-gen-tasks.sh
// starts one): first one chat generation of up to 32 new tokens alone (blocks and seconds from the
// block holding its submission to the block holding its commit), then N generations submitted
// together (the node batches generations of one request: tasks and generated tokens per minute,
// from the first submission's block to the last commit's). Alice, SmolLM2's genesis provider,
// first raises her capacity so the measurement is of the node, not of the offer.
//
//   ARBITER_WS=ws://127.0.0.1:9944 ARBITER_INFER=… ARBITER_SMOLLM2_GGUF=… node bench/generation.js [N=16] [NEW_TOKENS=32]

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chatPrompt, connect, decodeTokens, devAccounts, loadTokenizer, signAndWait, sleep } from '@arbiter/client';

const N = Number(process.argv[2] || 16);
const NEW_TOKENS = Number(process.argv[3] || 32);
const UNIT = 10n ** 12n;
const MODEL = 1;
const sentences = readFileSync(new URL('../../bench/sentences.txt', import.meta.url), 'utf8').trim().split('\n');

const api = await connect();
const tokenizerPath = join(mkdtempSync(join(tmpdir(), 'arbiter-bench-gen-')), 'tokenizer.json');
execFileSync(process.env.ARBITER_INFER, ['tokenizer', '--model', process.env.ARBITER_SMOLLM2_GGUF, '--out', tokenizerPath]);
const tokenizer = await loadTokenizer(api, MODEL, readFileSync(tokenizerPath));
const prompts = sentences.map((s) => tokenizer.encode(chatPrompt(`Say more about this: ${s}`)));
const accounts = await devAccounts();
const { alice } = accounts;
const senders = [accounts.bob, accounts.charlie, accounts.dave, accounts.eve, accounts.ferdie];

const submitted = new Map(); // task -> { block, ms }
const committed = new Map(); // task -> { block, ms }
let best = 0;
const unsub = await api.rpc.chain.subscribeNewHeads(async (header) => {
  best = Math.max(best, header.number.toNumber());
  const at = await api.at(header.hash);
  const [records, now] = await Promise.all([at.query.system.events(), at.query.timestamp.now()]);
  for (const { event } of records) {
    const entry = { block: header.number.toNumber(), ms: now.toNumber() };
    if (api.events.taskRegistry.TaskSubmitted.is(event)) submitted.set(event.data[0].toNumber(), entry);
    if (api.events.taskRegistry.ResultCommitted.is(event)) committed.set(event.data[0].toNumber(), entry);
  }
});

const offer = (await api.query.computeStaking.providers(alice.address)).unwrap().offer.toJSON();
await signAndWait(api, api.tx.computeStaking.updateOffer({ ...offer, capacity: 4 * N }), alice);

async function waitCommitted(tasks, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (!tasks.every((t) => committed.has(t))) {
    if (Date.now() > deadline) throw new Error(`${tasks.filter((t) => !committed.has(t)).length} generations not committed in time`);
    await sleep(500);
  }
}
const submit = (ids, sender, nonce) =>
  api.tx.taskRegistry.submitGeneration(MODEL, ids, NEW_TOKENS, 'Greedy', 10n * UNIT).signAndSend(sender, nonce === undefined ? {} : { nonce });
async function tokensOf(task) {
  const s = (await api.call.taskRegistryApi.task(task)).unwrap().status;
  return decodeTokens(s.isCommitted ? s.asCommitted.output : s.isFinalized ? s.asFinalized.output : s.asDisputed.output).length;
}

// One alone.
const first = Number(await api.query.taskRegistry.nextTaskId());
await signAndWait(api, api.tx.taskRegistry.submitGeneration(MODEL, prompts[0], NEW_TOKENS, 'Greedy', 10n * UNIT), senders[0]);
await waitCommitted([first], 300_000);
const single = { blocks: committed.get(first).block - submitted.get(first).block, seconds: (committed.get(first).ms - submitted.get(first).ms) / 1000, tokens: await tokensOf(first) };

// N together.
const start = Number(await api.query.taskRegistry.nextTaskId());
const nonces = await Promise.all(senders.map((s) => api.rpc.system.accountNextIndex(s.address)));
await Promise.all(Array.from({ length: N }, (_, j) => {
  const k = j % senders.length;
  return submit(prompts[(j + 1) % prompts.length], senders[k], nonces[k].toNumber() + Math.floor(j / senders.length));
}));
const tasks = Array.from({ length: N }, (_, i) => start + i);
await waitCommitted(tasks, 900_000);
unsub();
const tokens = (await Promise.all(tasks.map(tokensOf))).reduce((a, b) => a + b, 0);
const minutes = (Math.max(...tasks.map((t) => committed.get(t).ms)) - Math.min(...tasks.map((t) => submitted.get(t).ms))) / 60_000;
const latencies = tasks.map((t) => committed.get(t).block - submitted.get(t).block).sort((a, b) => a - b);
console.log(JSON.stringify({
  single_generation: single,
  generations: N,
  new_tokens_asked: NEW_TOKENS,
  tokens_generated: tokens,
  minutes: Number(minutes.toFixed(2)),
  generations_per_minute: Number((N / minutes).toFixed(1)),
  tokens_per_minute: Number((tokens / minutes).toFixed(0)),
  latency_blocks: { min: latencies[0], median: latencies[Math.floor(N / 2)], max: latencies[N - 1] },
}));
await api.disconnect();
