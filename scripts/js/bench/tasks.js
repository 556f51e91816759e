// Provider throughput and latency on a dev chain whose node runs `--provider` (scripts/bench-tasks.sh
// starts one): first one task alone (blocks from its submission to its commit), then N tasks
// submitted from five accounts in waves of WAVE per block (sustained tasks per minute, from the
// block holding the first submission to the block holding the last commit). A block takes at most
// 64 new deadlines (the registry's MaxDeadlinesPerBlock, spilling over 8 more blocks), so waves
// stay below it. Alice, MiniLM's genesis provider, first raises her capacity so the measurement
// is of the node, not of the offer.
//
//   ARBITER_WS=ws://127.0.0.1:9944 ARBITER_MINILM_DIR=… node bench/tasks.js [N=240] [WAVE=48]

import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { connect, devAccounts, loadTokenizer, signAndWait, sleep } from '@arbiter/client';

const N = Number(process.argv[2] || 240);
const WAVE = Number(process.argv[3] || 48);
const UNIT = 10n ** 12n;
const sentences = readFileSync(new URL('../../bench/sentences.txt', import.meta.url), 'utf8').trim().split('\n');

const api = await connect();
const modelDir = process.env.ARBITER_MINILM_DIR || join(homedir(), '.cache/arbiter/models/all-minilm-l6-v2');
const tokenizer = await loadTokenizer(api, 0, readFileSync(join(modelDir, 'tokenizer.json')));
const inputs = sentences.map((s) => tokenizer.encode(s));
const accounts = await devAccounts();
const { alice } = accounts;
const senders = [accounts.bob, accounts.charlie, accounts.dave, accounts.eve, accounts.ferdie];

// Every block's submissions and commits, with the block's timestamp.
const submitted = new Map(); // task -> { block, ms }
const committed = new Map();
let failed = 0;
let best = 0;
const unsub = await api.rpc.chain.subscribeNewHeads(async (header) => {
  best = Math.max(best, header.number.toNumber());
  const at = await api.at(header.hash);
  const [records, now] = await Promise.all([at.query.system.events(), at.query.timestamp.now()]);
  const block = header.number.toNumber();
  const ms = now.toNumber();
  for (const { event } of records) {
    if (api.events.taskRegistry.TaskSubmitted.is(event)) submitted.set(event.data[0].toNumber(), { block, ms });
    if (api.events.taskRegistry.ResultCommitted.is(event)) committed.set(event.data[0].toNumber(), { block, ms });
    if (api.events.system.ExtrinsicFailed.is(event)) failed += 1;
  }
});

const provider = (await api.query.computeStaking.providers(alice.address)).unwrap();
const offer = provider.offer.toJSON();
await signAndWait(api, api.tx.computeStaking.updateOffer({ ...offer, capacity: 4 * N }), alice);

async function waitCommitted(tasks, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (!tasks.every((t) => committed.has(t))) {
    if (Date.now() > deadline) throw new Error(`${tasks.filter((t) => !committed.has(t)).length} tasks not committed in time`);
    await sleep(500);
  }
}

// One task alone.
const first = Number(await api.query.taskRegistry.nextTaskId());
await signAndWait(api, api.tx.taskRegistry.submitTask(0, inputs[0], 10n * UNIT), senders[0]);
await waitCommitted([first], 120_000);
const single = committed.get(first).block - submitted.get(first).block;

// N in waves: every sender signs its share with explicit nonces; one wave per block.
const start = Number(await api.query.taskRegistry.nextTaskId());
const nonces = await Promise.all(senders.map((s) => api.rpc.system.accountNextIndex(s.address)));
for (let i = 0; i < N; i += WAVE) {
  const sends = [];
  for (let j = i; j < Math.min(N, i + WAVE); j += 1) {
    const k = j % senders.length;
    const nonce = nonces[k].toNumber() + Math.floor(j / senders.length);
    sends.push(api.tx.taskRegistry.submitTask(0, inputs[j % inputs.length], 10n * UNIT).signAndSend(senders[k], { nonce }));
  }
  await Promise.all(sends);
  const seen = best;
  while (best === seen) await sleep(200);
}
const tasks = Array.from({ length: N }, (_, i) => start + i);
await waitCommitted(tasks, 300_000).catch((e) => {
  throw new Error(`${e.message} (submitted ${submitted.size}, committed ${committed.size}, failed extrinsics ${failed})`);
});
unsub();

const latencies = tasks.map((t) => committed.get(t).block - submitted.get(t).block).sort((a, b) => a - b);
const firstIn = Math.min(...tasks.map((t) => submitted.get(t).ms));
const lastCommit = Math.max(...tasks.map((t) => committed.get(t).ms));
const minutes = (lastCommit - firstIn) / 60_000;
const blocks = Math.max(...tasks.map((t) => committed.get(t).block)) - Math.min(...tasks.map((t) => submitted.get(t).block));
console.log(JSON.stringify({
  single_task_blocks_submit_to_commit: single,
  tasks: N,
  wave_per_block: WAVE,
  failed_extrinsics: failed,
  blocks_first_submission_to_last_commit: blocks,
  minutes: Number(minutes.toFixed(2)),
  tasks_per_minute: Number((N / minutes).toFixed(1)),
  latency_blocks: { min: latencies[0], median: latencies[Math.floor(N / 2)], max: latencies[N - 1] },
}));
await api.disconnect();
process.exit(0);
