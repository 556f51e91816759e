// @arbiter/client: Arbiter's client library over @polkadot/api. Connect, sign and wait (a key
// pair, or the polkadot.js extension's signer), read balances, follow finality and tasks,
// tokenize and submit text with a model's committed tokenizer, decode embeddings and generated
// tokens, read the protocol parameters. It runs in Node.js and in browsers; the end-to-end tests
// (scripts/js), the web app (web/app) and the guides in docs/ use it. Types: index.d.ts.

import { Tokenizer } from '@huggingface/tokenizers';
import { ApiPromise, WsProvider } from '@polkadot/api';
import { Keyring } from '@polkadot/keyring';
import { hexToU8a, u8aConcat, u8aToHex, stringToU8a } from '@polkadot/util';
import { blake2AsU8a, cryptoWaitReady, encodeAddress } from '@polkadot/util-crypto';

/** Custom JSON-RPC methods of arbiter-node (`rpc:` definitions for ApiPromise.create). They answer
 * on nodes that run the inference engine (`--provider` / `--watcher`). */
export const ARBITER_RPC = {
  arbiter: {
    traceRow: {
      description: 'One row of a task trace with its Merkle proof',
      params: [{ name: 'taskId', type: 'u64' }, { name: 'node', type: 'u32' }, { name: 'row', type: 'u32' }],
      type: 'Json',
    },
    opening: {
      description: 'The SCALE-encoded opening of one element of a task trace (what challenges.respond takes)',
      params: [{ name: 'taskId', type: 'u64' }, { name: 'node', type: 'u32' }, { name: 'row', type: 'u32' }, { name: 'col', type: 'u32' }],
      type: 'Bytes',
    },
    engineStatus: {
      description: 'Loaded models, job counters and the device of the node engine',
      params: [],
      type: 'Json',
    },
    tokenizer: {
      description: 'The tokenizer.json of a loaded model (its blake2-256 is the registered tokenizer hash)',
      params: [{ name: 'modelRoot', type: 'H256' }],
      type: 'Text',
    },
  },
};

/**
 * Checks a row from `arbiter_traceRow` against the trace root a provider committed: the leaf
 * `blake2(0x00 ‖ 'A' ‖ node ‖ row ‖ bytes)`, its path to the tree root (a node without a sibling
 * is promoted), and `blake2("arbiter/trace/v1" ‖ seqLen ‖ treeRoot)`. Returns true or throws.
 */
export function verifyTraceRow(row, committedTraceRoot) {
  const le32 = (n) => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, n, true); return b; };
  let hash = blake2AsU8a(u8aConcat(new Uint8Array([0x00, 0x41]), le32(row.node), le32(row.row), hexToU8a(row.valuesHex)), 256);
  let index = BigInt(row.leafIndex);
  let size = BigInt(row.leafCount);
  const siblings = row.proof.map((h) => hexToU8a(h));
  while (size > 1n) {
    if (index % 2n === 1n) {
      hash = blake2AsU8a(u8aConcat(new Uint8Array([0x01]), siblings.shift(), hash), 256);
    } else if (index + 1n < size) {
      hash = blake2AsU8a(u8aConcat(new Uint8Array([0x01]), hash, siblings.shift()), 256);
    }
    index /= 2n;
    size = (size + 1n) / 2n;
  }
  if (siblings.length !== 0) throw new Error('proof has siblings left over');
  if (u8aToHex(hash) !== row.traceTreeRoot) throw new Error('the row does not hash to the trace tree root');
  const root = blake2AsU8a(u8aConcat(stringToU8a('arbiter/trace/v1'), le32(row.seqLen), hash), 256);
  if (u8aToHex(root) !== committedTraceRoot) throw new Error('the tree root and length do not hash to the committed trace root');
  return true;
}

/** The treasury's account (PalletId `arb/trsy`): receives protocol fees and slashes. */
export const TREASURY = encodeAddress(u8aConcat(stringToU8a('modlarb/trsy'), new Uint8Array(20)), 42);

/** The default RPC endpoint of a local node. */
export const DEFAULT_WS = globalThis.process?.env?.ARBITER_WS || 'ws://127.0.0.1:9944';

/** Connects to a node, retrying while it starts; fails after `timeoutMs`. */
export async function connect(url = DEFAULT_WS, { timeoutMs = 30_000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  while (Date.now() < deadline) {
    const provider = new WsProvider(url, false);
    try {
      await provider.connect();
      await waitConnected(provider, Math.min(5_000, deadline - Date.now()));
      const api = await ApiPromise.create({ provider, rpc: ARBITER_RPC, noInitWarn: true, throwOnConnect: true });
      return api;
    } catch (e) {
      lastError = e;
      await provider.disconnect().catch(() => {});
      await sleep(1_000);
    }
  }
  throw new Error(`no node answered at ${url} within ${timeoutMs} ms (${lastError?.message ?? 'no error'})`);
}

function waitConnected(provider, ms) {
  if (provider.isConnected) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('connection timed out')), Math.max(ms, 1));
    provider.on('connected', () => {
      clearTimeout(timer);
      resolve();
    });
    provider.on('error', (e) => {
      clearTimeout(timer);
      reject(e instanceof Error ? e : new Error('connection failed'));
    });
  });
}

/** The dev accounts (//Alice, //Bob, ...) as sr25519 key pairs. */
export async function devAccounts() {
  await cryptoWaitReady();
  const keyring = new Keyring({ type: 'sr25519', ss58Format: 42 });
  const names = ['Alice', 'Bob', 'Charlie', 'Dave', 'Eve', 'Ferdie'];
  return Object.fromEntries(names.map((n) => [n.toLowerCase(), keyring.addFromUri(`//${n}`)]));
}

/**
 * Sets the audit rate (`AuditRate`, in parts per billion) through sudo and checks it took.
 * The runtime draws 5 % of results for audit (docs/protocol.md, "Audits"); tests that count
 * challenges or balances exactly on a chain with more than one provider of a model pin it (0),
 * and the audits test raises it (100 %), so no draw is left to chance.
 */
export async function setAuditRate(api, sudo, parts) {
  const set = api.tx.parameters.setParameter({ Protocol: { AuditRate: [null, parts] } });
  const { events } = await signAndWait(api, api.tx.sudo.sudo(set), sudo);
  if (!findEvent(events, 'parameters', 'Updated')) throw new Error('the audit rate did not change');
}

/** Human-readable text of a dispatch error (module errors decoded from metadata). */
export function describeDispatchError(api, dispatchError) {
  if (dispatchError.isModule) {
    const meta = api.registry.findMetaError(dispatchError.asModule);
    return `${meta.section}.${meta.name}: ${meta.docs.join(' ')}`;
  }
  return dispatchError.toString();
}

/**
 * Signs and submits `tx`, resolving once it is in a block (`finalized: true` waits for
 * finality) with the block hash, its events and the fee paid. Rejects with the decoded error
 * if the call failed. `signer` is a key pair, or an address whose `injectedSigner` (the
 * browser extension's, `web3FromAddress(address).signer`) signs.
 */
export function signAndWait(api, tx, signer, { finalized = false, timeoutMs = 120_000, injectedSigner } = {}) {
  return new Promise((resolve, reject) => {
    let unsub = () => {};
    const timer = setTimeout(() => {
      unsub();
      reject(new Error(`transaction not ${finalized ? 'finalized' : 'included'} within ${timeoutMs} ms`));
    }, timeoutMs);
    const callback = (result) => {
      const { status, events, dispatchError } = result;
      const done = finalized ? status.isFinalized : status.isInBlock || status.isFinalized;
      if (status.isDropped || status.isInvalid || status.isUsurped) {
        clearTimeout(timer);
        unsub();
        reject(new Error(`transaction ${status.type}`));
        return;
      }
      if (!done) return;
      clearTimeout(timer);
      unsub();
      if (dispatchError) {
        reject(new Error(describeDispatchError(api, dispatchError)));
        return;
      }
      const blockHash = finalized ? status.asFinalized : status.isInBlock ? status.asInBlock : status.asFinalized;
      const feeEvent = events.find(({ event }) => api.events.transactionPayment.TransactionFeePaid.is(event));
      const fee = feeEvent ? feeEvent.event.data[1].toBigInt() + feeEvent.event.data[2].toBigInt() : 0n;
      resolve({ blockHash, events, fee });
    };
    (injectedSigner ? tx.signAndSend(signer, { signer: injectedSigner }, callback) : tx.signAndSend(signer, callback))
      .then((u) => {
        unsub = u;
      })
      .catch((e) => {
        clearTimeout(timer);
        reject(e);
      });
  });
}

/** The first event `section.method` among `events` (records from `signAndWait`); throws if absent. */
export function findEvent(events, section, method) {
  const found = events.find(({ event }) => event.section === section && event.method === method);
  if (!found) throw new Error(`no ${section}.${method} event`);
  return found.event;
}

/** Free balance of `address`, optionally at block `at`. */
export async function freeBalance(api, address, at) {
  const q = at ? await api.at(at) : api;
  const { data } = await q.query.system.account(address);
  return data.free.toBigInt();
}

/** Number of the latest finalized block. */
export async function finalizedNumber(api) {
  const hash = await api.rpc.chain.getFinalizedHead();
  const header = await api.rpc.chain.getHeader(hash);
  return header.number.toNumber();
}

/** Waits until the finalized block number reaches `target`; returns it. */
export async function waitForFinalized(api, target, { timeoutMs = 120_000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const n = await finalizedNumber(api);
    if (n >= target) return n;
    if (Date.now() > deadline) throw new Error(`finalized height stayed at ${n}, wanted ${target}`);
    await sleep(1_000);
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * The development chain's MiniLM (model 0, registered at genesis), checked against the engine's
 * commitments `info` (`arbiter-infer model-info --json`); its id.
 */
export async function devMiniLm(api, info) {
  const model = (await api.query.taskRegistry.models(0)).unwrap();
  if (model.modelRoot.toHex() !== info.model_root || !model.status.isApproved) {
    throw new Error(`model 0 is not the approved MiniLM (${model.modelRoot.toHex()}, ${model.status.type})`);
  }
  return 0;
}

/** Collects the events of every new block until `stop()` is called (for events of calls the
 *  off-chain workers send); each event gets `blockNumber`. */
export async function recordEvents(api) {
  const seen = [];
  const unsub = await api.rpc.chain.subscribeNewHeads(async (header) => {
    const records = await (await api.at(header.hash)).query.system.events();
    for (const { event } of records) {
      event.blockNumber = header.number.toNumber();
      seen.push(event);
    }
  });
  return { events: seen, stop: unsub };
}

/** Waits until `predicate()` resolves truthy, polling every `everyMs`; returns its value. */
export async function waitFor(predicate, { timeoutMs = 300_000, everyMs = 2_000, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await predicate();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/**
 * A registered model's tokenizer, for submitting text (tasks take token ids, docs/tasks.md).
 * `tokenizerJson` is the model's `tokenizer.json` (bytes, e.g. from `readFileSync` or `fetch`):
 * its blake2-256 must be the model's registered `tokenizerHash`, so the ids are the ones the
 * model was registered with. The returned `encode(text)` adds the special tokens and truncates
 * to the model's `maxInputTokens` like the engine's tokenizer (the last special token kept).
 */
export async function loadTokenizer(api, model, tokenizerJson) {
  const info = (await api.query.taskRegistry.models(model)).unwrapOr(null);
  if (!info) throw new Error(`no model ${model} is registered`);
  const bytes = tokenizerJson instanceof Uint8Array ? tokenizerJson : new TextEncoder().encode(String(tokenizerJson));
  const hash = u8aToHex(blake2AsU8a(bytes, 256));
  if (hash !== info.tokenizerHash.toHex()) {
    throw new Error(`this tokenizer.json (blake2-256 ${hash}) is not model ${model}'s (${info.tokenizerHash.toHex()})`);
  }
  if (!info.io.input.isTokenIds) throw new Error(`model ${model} does not take token ids`);
  const vocabulary = info.io.input.asTokenIds.vocabulary.toNumber();
  const maxTokens = info.io.maxInputTokens.toNumber();
  const tokenizer = new Tokenizer(JSON.parse(new TextDecoder().decode(bytes)), {});
  // The special tokens the post-processor puts before and after the text ([CLS] … [SEP]).
  const specials = tokenizer.encode('').ids;
  return {
    model,
    vocabulary,
    maxTokens,
    /** Token ids as text, special tokens kept (what `arbiter-infer generate` prints). */
    decode(ids) {
      return tokenizer.decode(Array.from(ids, Number), { skip_special_tokens: false });
    },
    encode(text) {
      if (typeof text !== 'string' || text.trim() === '') throw new Error('the text is empty');
      const ids = tokenizer.encode(text).ids;
      if (ids.length <= maxTokens) return ids;
      const lead = specials.findIndex((id, k) => ids[k] !== id);
      const tail = specials.length - (lead < 0 ? specials.length : lead);
      return [...ids.slice(0, maxTokens - tail), ...ids.slice(ids.length - tail)];
    },
  };
}

/**
 * A registered model's tokenizer from the connected node (`arbiter_tokenizer`: a `--provider` or
 * `--watcher` node that loaded the model), checked against the model's tokenizer hash as
 * `loadTokenizer` does: a node cannot hand out a tokenizer other than the registered one.
 */
export async function fetchTokenizer(api, model) {
  const info = (await api.query.taskRegistry.models(model)).unwrapOr(null);
  if (!info) throw new Error(`no model ${model} is registered`);
  const json = await api.rpc.arbiter.tokenizer(info.modelRoot);
  return loadTokenizer(api, model, new TextEncoder().encode(json.toString()));
}

/**
 * Submits `text` for the tokenizer's model as one call: tokenizes it (`loadTokenizer`) and sends
 * `taskRegistry.submitTask(model, ids, maxFee)`; resolves as `signAndWait` does, with the task id
 * and the ids submitted.
 */
export async function submitText(api, tokenizer, text, maxFee, signer, options) {
  const ids = tokenizer.encode(text);
  const result = await signAndWait(api, api.tx.taskRegistry.submitTask(tokenizer.model, ids, maxFee), signer, options);
  const task = findEvent(result.events, 'taskRegistry', 'TaskSubmitted').data[0].toNumber();
  return { ...result, task, ids };
}

/**
 * SmolLM2's chat template with one user message (the engine's `generate --chat`,
 * `arbiter_inference::llama::chat_prompt`): the model answers as the assistant.
 */
export function chatPrompt(user) {
  return '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n'
    + `<|im_start|>user\n${user}<|im_end|>\n<|im_start|>assistant\n`;
}

/** A temperature as the f32 bits `TokenSampling::Gumbel` carries. */
export function temperatureBits(temperature) {
  return new Uint32Array(new Float32Array([temperature]).buffer)[0];
}

/** A generation's committed output as its token ids (u32 little-endian each). */
export function decodeTokens(output) {
  const bytes = output instanceof Uint8Array ? output : hexToU8a(output.toHex ? output.toHex() : output);
  if (bytes.length % 4 !== 0) throw new Error(`an output of ${bytes.length} bytes is not token ids`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: bytes.length / 4 }, (_, k) => view.getUint32(4 * k, true));
}

/**
 * Generates text with a generation model (docs/tasks.md, "Generation tasks"): tokenizes `prompt`
 * with the model's committed tokenizer (`loadTokenizer`; SmolLM2's chat template first with
 * `chat: true`), submits `taskRegistry.submitGeneration`, follows the task until its tokens are
 * committed (and, with `finalized: true`, until the task is final), and returns the task id, the
 * prompt ids, the tokens and their text. Options: `maxNewTokens` (default 32), `temperature` and
 * `seed` (seeded sampling; greedy without a temperature), `maxFee`, `signer`, `chat`,
 * `finalized`, `timeoutMs`.
 */
export async function generate(api, tokenizer, prompt, options) {
  const { maxNewTokens = 32, temperature, seed = 0, maxFee, signer, chat = false,
    finalized = false, timeoutMs = 600_000 } = options;
  const ids = tokenizer.encode(chat ? chatPrompt(prompt) : prompt);
  const sampling = temperature === undefined
    ? 'Greedy'
    : { Gumbel: { temperatureBits: temperatureBits(temperature), seed } };
  const tx = api.tx.taskRegistry.submitGeneration(tokenizer.model, ids, maxNewTokens, sampling, maxFee);
  const { events } = await signAndWait(api, tx, signer);
  const task = findEvent(events, 'taskRegistry', 'TaskSubmitted').data[0].toNumber();
  const done = (s) => s.isFinalized || (!finalized && (s.isCommitted || s.isDisputed));
  const record = await waitFor(async () => {
    const t = (await api.call.taskRegistryApi.task(task)).unwrapOr(null);
    if (t && (t.status.isRefunded || t.status.isCancelled)) throw new Error(`task ${task} ended without a result`);
    return t && done(t.status) ? t : null;
  }, { timeoutMs, what: `the tokens of generation task ${task}` });
  const s = record.status;
  const output = s.isFinalized ? s.asFinalized.output : s.isCommitted ? s.asCommitted.output : s.asDisputed.output;
  const tokens = decodeTokens(output);
  return { task, ids, tokens, text: tokenizer.decode(tokens), status: record.status };
}

/** f32 values as the little-endian bytes a provider commits, hex (what `decodeOutput` reads). */
export function f32Hex(values) {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  Array.from(values).forEach((v, i) => view.setFloat32(i * 4, v, true));
  return u8aToHex(bytes);
}

/** A committed output as numbers: `4 · n` bytes, n f32 little-endian (an embedding: 384 for
 *  MiniLM, unit length). */
export function decodeOutput(output) {
  const bytes = output instanceof Uint8Array ? output : hexToU8a(output.toHex ? output.toHex() : output);
  if (bytes.length % 4 !== 0) throw new Error(`an output of ${bytes.length} bytes is not f32 values`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Float32Array.from({ length: bytes.length / 4 }, (_, k) => view.getFloat32(4 * k, true));
}

/** Cosine similarity of two vectors (MiniLM's embeddings are unit length: their dot product). */
export function cosineSimilarity(a, b) {
  if (a.length !== b.length) throw new Error(`vectors of ${a.length} and ${b.length} values`);
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / Math.sqrt(na * nb);
}

/**
 * Where a task is (its `TaskStatus`), as a name and a line for people: who runs it and until
 * when, the challenge window of a committed result, open disputes, the block it ended in.
 */
export function taskStage(status) {
  const name = status.type;
  const who = (a) => `${a.toString().slice(0, 8)}…`;
  switch (name) {
    case 'Unassigned': return { name, text: `waiting for a provider (retry at block ${status.asUnassigned.retryAt})` };
    case 'Assigned': {
      const s = status.asAssigned;
      return { name, text: `assigned to ${who(s.provider)} at ${s.price.toHuman()}, result due by block ${s.deadline}` };
    }
    case 'Committed': {
      const s = status.asCommitted;
      return { name, text: `committed by ${who(s.provider)}; challenge window until block ${s.windowEnd}` };
    }
    case 'Disputed': {
      const s = status.asDisputed;
      return { name, text: `disputed (${s.open} open); window until block ${s.windowEnd}` };
    }
    case 'Finalized': return { name, text: `final at block ${status.asFinalized.at}` };
    case 'Refunded': return { name, text: `refunded at block ${status.asRefunded.at}` };
    case 'Cancelled': return { name, text: `cancelled at block ${status.asCancelled.at}` };
    default: return { name, text: name };
  }
}

/**
 * Every protocol parameter (docs/governance.md) with its current value and the static bounds a
 * new value must lie in, from the runtime (`ProtocolParametersApi`): `{ name, unit, value, min,
 * max }`, numbers as bigints (a `Perbill` in parts per billion, an `F32Bits` as its bits).
 */
export async function protocolParameters(api) {
  return (await api.call.protocolParametersApi.parameters()).map((p) => ({
    name: p.name.toUtf8(),
    unit: p.unit.toString(),
    value: p.value.toBigInt(),
    min: p.min.toBigInt(),
    max: p.max.toBigInt(),
  }));
}
