// Type declarations of @arbiter/client (index.js). Codec values are @polkadot/api's.

import type { ApiPromise } from '@polkadot/api';
import type { SubmittableExtrinsic } from '@polkadot/api/types';
import type { KeyringPair } from '@polkadot/keyring/types';
import type { Signer } from '@polkadot/types/types';
import type { DefinitionRpc } from '@polkadot/types/types';

/** Custom JSON-RPC methods of arbiter-node (`rpc:` definitions for ApiPromise.create). */
export const ARBITER_RPC: { arbiter: Record<'traceRow' | 'opening' | 'engineStatus' | 'tokenizer', DefinitionRpc> };
/** The treasury's account (PalletId `arb/trsy`), SS58 prefix 42. */
export const TREASURY: string;
/** `ARBITER_WS` where there is an environment, else ws://127.0.0.1:9944. */
export const DEFAULT_WS: string;

export interface TraceRow {
  taskId: number; node: number; row: number; values: number[]; valuesHex: string;
  leafIndex: number; leafCount: number; proof: string[]; seqLen: number; traceTreeRoot: string; traceRoot: string;
}
/** Checks a row from `arbiter_traceRow` against a committed trace root; true or throws. */
export function verifyTraceRow(row: TraceRow, committedTraceRoot: string): true;

/** Connects to a node, retrying while it starts; fails after `timeoutMs`. */
export function connect(url?: string, options?: { timeoutMs?: number }): Promise<ApiPromise>;
/** The dev accounts (//Alice … //Ferdie) as sr25519 pairs, by lowercase name. */
export function devAccounts(): Promise<Record<'alice' | 'bob' | 'charlie' | 'dave' | 'eve' | 'ferdie', KeyringPair>>;
/** Sets `AuditRate` (parts per billion) through sudo. */
export function setAuditRate(api: ApiPromise, sudo: KeyringPair, parts: number | bigint): Promise<void>;
/** `pallet.Error: its documentation` for a dispatch error. */
export function describeDispatchError(api: ApiPromise, dispatchError: unknown): string;

export interface Included {
  blockHash: { toHex(): string };
  events: Array<{ event: any }>;
  /** The transaction fee paid (fee and tip), planck. */
  fee: bigint;
}
/**
 * Signs (a key pair, or an address with `injectedSigner`: the browser extension's) and submits
 * `tx`; resolves once in a block (or finalized), rejects with the decoded error.
 */
export function signAndWait(
  api: ApiPromise,
  tx: SubmittableExtrinsic<'promise'>,
  signer: KeyringPair | string,
  options?: { finalized?: boolean; timeoutMs?: number; injectedSigner?: Signer },
): Promise<Included>;
/** The first `section.method` event among `events`; throws if absent. */
export function findEvent(events: Array<{ event: any }>, section: string, method: string): any;
export function freeBalance(api: ApiPromise, address: string, at?: string): Promise<bigint>;
export function finalizedNumber(api: ApiPromise): Promise<number>;
export function waitForFinalized(api: ApiPromise, target: number, options?: { timeoutMs?: number }): Promise<number>;
export function sleep(ms: number): Promise<void>;
/** The development chain's MiniLM (model 0), checked against `arbiter-infer model-info --json`. */
export function devMiniLm(api: ApiPromise, info: { model_root: string }): Promise<number>;
/** Events of every new block until `stop()`; each event gets `blockNumber`. */
export function recordEvents(api: ApiPromise): Promise<{ events: any[]; stop: () => void }>;
export function waitFor<T>(predicate: () => T | Promise<T>, options?: { timeoutMs?: number; everyMs?: number; what?: string }): Promise<T>;

export interface ModelTokenizer {
  model: number;
  vocabulary: number;
  maxTokens: number;
  /** Token ids (special tokens added, truncated to the model's limit as the engine does). */
  encode(text: string): number[];
  /** Token ids as text, special tokens kept. */
  decode(ids: ArrayLike<number>): string;
}
/** A model's tokenizer from its `tokenizer.json` bytes, checked against the registered hash. */
export function loadTokenizer(api: ApiPromise, model: number, tokenizerJson: Uint8Array | string): Promise<ModelTokenizer>;
/** A model's tokenizer from the connected node (`arbiter_tokenizer`), checked the same way. */
export function fetchTokenizer(api: ApiPromise, model: number): Promise<ModelTokenizer>;
export function submitText(
  api: ApiPromise, tokenizer: ModelTokenizer, text: string, maxFee: bigint, signer: KeyringPair | string,
  options?: { finalized?: boolean; timeoutMs?: number; injectedSigner?: Signer },
): Promise<Included & { task: number; ids: number[] }>;
/** SmolLM2's chat template around one user message. */
export function chatPrompt(user: string): string;
export function temperatureBits(temperature: number): number;
/** A generation's committed output as token ids. */
export function decodeTokens(output: Uint8Array | string | { toHex(): string }): number[];
export function generate(
  api: ApiPromise, tokenizer: ModelTokenizer, prompt: string,
  options: { maxNewTokens?: number; temperature?: number; seed?: number; maxFee: bigint; signer: KeyringPair;
    chat?: boolean; finalized?: boolean; timeoutMs?: number },
): Promise<{ task: number; ids: number[]; tokens: number[]; text: string; status: any }>;
/** f32 values as the little-endian hex a provider commits. */
export function f32Hex(values: ArrayLike<number>): string;
/** A committed output as f32 values. */
export function decodeOutput(output: Uint8Array | string | { toHex(): string }): Float32Array;
/** Cosine similarity of two vectors. */
export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number;

export type StageName = 'Unassigned' | 'Assigned' | 'Committed' | 'Disputed' | 'Finalized' | 'Refunded' | 'Cancelled';
/** Where a task is, with a line of text for people (its provider, price, window, …). */
export function taskStage(status: any): { name: StageName; text: string };

export interface ProtocolParameter {
  name: string;
  unit: 'Balance' | 'Blocks' | 'Perbill' | 'Count' | 'Bytes' | 'F32Bits';
  value: bigint;
  min: bigint;
  max: bigint;
}
/** Every protocol parameter with its current value and bounds (`ProtocolParametersApi`). */
export function protocolParameters(api: ApiPromise): Promise<ProtocolParameter[]>;
