//! Types stored by the pallet.

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use core::fmt::Debug;
use frame_support::{BoundedVec, CloneNoBound, DebugNoBound, EqNoBound, PartialEqNoBound};
use scale_info::TypeInfo;
use sp_core::H256;
use sp_runtime::traits::Get;

pub use arbiter_interface::{ModelId, TaskId, TaskRequest, TokenSampling};

/// Largest vocabulary a model may register: traces hold token ids as f32, which is exact for
/// every integer up to 2^24 (SmolLM2's 49,152 and BERT's 30,522 are far below it).
pub const MAX_VOCABULARY: u32 = 1 << 24;

/// What a model takes as input.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum InputKind {
	/// Token ids, each below `vocabulary`: clients tokenize text with the committed tokenizer
	/// (its hash is `tokenizer_hash`), and every model input is derived from the ids on chain
	/// (docs/protocol.md, "Inputs are the task's").
	TokenIds { vocabulary: u32 },
}

/// What a model's tasks produce, and what the chain checks of it (docs/protocol.md,
/// "Generation tasks").
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
	frame_support::Serialize,
	frame_support::Deserialize,
)]
#[serde(crate = "frame_support::__private::serde", rename_all = "camelCase")]
pub enum ModelKind {
	/// One run over the input; the output is the final node, `output_width` f32 values (e.g.
	/// 384 for MiniLM embeddings). Tasks: `submit_task`.
	Embedding { output_width: u32 },
	/// Text generation from a prompt (`submit_generation`): at most `max_new_tokens` tokens a
	/// task, the prompt and the tokens together at most `max_context` positions (the model's
	/// rotary tables), ended early only by `stop_token`.
	Generation { max_new_tokens: u32, max_context: u32, stop_token: u32 },
}

/// A model's inputs and outputs.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub struct IoSpec {
	pub input: InputKind,
	/// Longest input (a generation's prompt) in tokens (at most the pallet's
	/// `MaxInputTokens`).
	pub max_input_tokens: u32,
	/// What its tasks produce.
	pub kind: ModelKind,
}

/// Where a model stands.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum ModelStatus {
	/// Registered, waiting for governance.
	Proposed,
	/// Tasks may target it.
	Approved,
	/// No new tasks or providers; the deposit went back.
	Retired,
}

/// A model as `register_model` is asked to record it, before its checks.
#[derive(CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound)]
pub struct ModelRegistration<MaxMetadataLen: Get<u32>> {
	/// Hash of the model's graph descriptor.
	pub descriptor_hash: H256,
	/// Merkle root of its weights.
	pub model_root: H256,
	/// Hash of its tokenizer (what clients tokenize text with).
	pub tokenizer_hash: H256,
	/// What a task gives it and gets back.
	pub io: IoSpec,
	/// Its widest row (bounds one dispute step).
	pub max_row_width: u32,
	/// Absolute tolerance slack, as f32 bits.
	pub slack_bits: u32,
	/// Free-form metadata (name, source).
	pub metadata: BoundedVec<u8, MaxMetadataLen>,
}

/// A registered model: exactly the commitments the off-chain engine computes
/// (`arbiter-infer model-info`), so a provider can prove weights row by row in a dispute.
#[derive(
	CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound, Encode, Decode, TypeInfo, MaxEncodedLen,
)]
#[scale_info(skip_type_params(MaxMetadataLen))]
#[codec(mel_bound(AccountId: MaxEncodedLen, Balance: MaxEncodedLen))]
pub struct ModelInfo<
	AccountId: Clone + PartialEq + Eq + Debug,
	Balance: Clone + PartialEq + Eq + Debug,
	MaxMetadataLen: Get<u32>,
> {
	pub owner: AccountId,
	/// `blake2_256("arbiter/graph/v1" ‖ SCALE(graph))`.
	pub descriptor_hash: H256,
	/// `blake2_256("arbiter/model/v1" ‖ weights_root ‖ descriptor_hash ‖ tokenizer_hash)`.
	pub model_root: H256,
	/// blake2-256 of the tokenizer file.
	pub tokenizer_hash: H256,
	pub io: IoSpec,
	/// Widest tensor row: bounds the work of one dispute step.
	pub max_row_width: u32,
	/// Absolute tolerance slack added to every op's bound, as f32 bits.
	pub slack_bits: u32,
	/// Free-form description (name, source, licence), UTF-8.
	pub metadata: BoundedVec<u8, MaxMetadataLen>,
	pub status: ModelStatus,
	/// Held from the owner until the model is retired.
	pub deposit: Balance,
}

/// Where a task stands. Every state but the last three still holds the submitter's escrow.
#[derive(
	CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound, Encode, Decode, TypeInfo, MaxEncodedLen,
)]
#[scale_info(skip_type_params(MaxOutputLen))]
#[codec(mel_bound(AccountId: MaxEncodedLen, Balance: MaxEncodedLen, BlockNumber: MaxEncodedLen))]
pub enum TaskStatus<
	AccountId: Clone + PartialEq + Eq + Debug,
	Balance: Clone + PartialEq + Eq + Debug,
	BlockNumber: Clone + PartialEq + Eq + Debug,
	MaxOutputLen: Get<u32>,
> {
	/// No provider could take it yet; assignment is retried at `retry_at`.
	Unassigned { retry_at: BlockNumber },
	/// A provider must commit a result by `deadline`.
	Assigned { provider: AccountId, operator: AccountId, price: Balance, deadline: BlockNumber },
	/// A result is committed; final after `window_end` unless a dispute is open.
	Committed {
		provider: AccountId,
		operator: AccountId,
		price: Balance,
		output: BoundedVec<u8, MaxOutputLen>,
		/// The trace root, when the provider committed one; otherwise fixed by its first
		/// answer to a dispute.
		trace_root: Option<H256>,
		window_end: BlockNumber,
	},
	/// Disputes are open: the task cannot finalize. The window keeps running (more challenges
	/// may come while it is open); when the last dispute resolves in the provider's favour, it
	/// is extended to leave at least a response window after the ruling.
	Disputed {
		provider: AccountId,
		operator: AccountId,
		price: Balance,
		output: BoundedVec<u8, MaxOutputLen>,
		/// The trace root, once fixed (at commit or by the provider's first answer).
		trace_root: Option<H256>,
		/// Last block a challenge is accepted in.
		window_end: BlockNumber,
		/// Disputes open on the task.
		open: u32,
	},
	/// Final: the provider was paid; the output stays readable until pruned.
	Finalized {
		provider: AccountId,
		output: BoundedVec<u8, MaxOutputLen>,
		/// The trace root, if one was ever fixed (a result no one disputed needs none).
		trace_root: Option<H256>,
		at: BlockNumber,
	},
	/// Refunded after too many missed deadlines or a lost dispute with no retries left.
	Refunded { at: BlockNumber },
	/// Cancelled by the submitter before assignment.
	Cancelled { at: BlockNumber },
}

/// A task.
#[derive(
	CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound, Encode, Decode, TypeInfo, MaxEncodedLen,
)]
#[scale_info(skip_type_params(MaxInputTokens, MaxOutputLen))]
#[codec(mel_bound(AccountId: MaxEncodedLen, Balance: MaxEncodedLen, BlockNumber: MaxEncodedLen))]
pub struct TaskInfo<
	AccountId: Clone + PartialEq + Eq + Debug,
	Balance: Clone + PartialEq + Eq + Debug,
	BlockNumber: Clone + PartialEq + Eq + Debug,
	MaxInputTokens: Get<u32>,
	MaxOutputLen: Get<u32>,
> {
	pub submitter: AccountId,
	pub model: ModelId,
	/// The token ids the model runs on (checked against the model's io spec at submission); a
	/// generation's prompt.
	pub input: BoundedVec<u32, MaxInputTokens>,
	/// What the task asks (an embedding, or a generation with its limit and sampling).
	pub request: TaskRequest,
	/// The assigned provider's price per generated token, fixed at assignment (0 until then and
	/// for tasks that generate nothing): the committed tokens are paid at it.
	pub price_per_token: Balance,
	/// Held from the submitter until the task ends.
	pub max_fee: Balance,
	pub submitted_at: BlockNumber,
	/// Assignments made so far (the first included).
	pub assignments: u32,
	/// The challenge window, fixed when the task was submitted (later parameter changes apply
	/// to later tasks only).
	pub challenge_window: BlockNumber,
	pub status: TaskStatus<AccountId, Balance, BlockNumber, MaxOutputLen>,
}

/// A model registered (its deposit held from `owner`) and approved at genesis, e.g. the models
/// a development chain serves out of the box.
#[derive(Clone, PartialEq, Eq, Debug, frame_support::Serialize, frame_support::Deserialize)]
#[serde(crate = "frame_support::__private::serde", rename_all = "camelCase")]
pub struct GenesisModel<AccountId> {
	pub owner: AccountId,
	pub descriptor_hash: sp_core::H256,
	pub model_root: sp_core::H256,
	pub tokenizer_hash: sp_core::H256,
	/// Token-id input: longest input in tokens, ids below `vocabulary`; what its tasks produce.
	pub max_input_tokens: u32,
	pub vocabulary: u32,
	pub kind: ModelKind,
	pub max_row_width: u32,
	pub slack_bits: u32,
	/// Metadata (a name), at most `MaxMetadataLen` bytes.
	pub metadata: alloc::vec::Vec<u8>,
}
