//! What the task registry offers the challenges pallet: the committed task a dispute is about,
//! and freezing and resolving it.

use alloc::vec::Vec;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;
use sp_core::H256;

pub use arbiter_primitives::token_choice::TokenSampling;
use sp_runtime::DispatchResult;

use crate::{ModelId, TaskId};

/// What a task asks of its model (docs/protocol.md, "Generation tasks").
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
pub enum TaskRequest {
	/// One run over the input; the output is the graph's final node (an embedding).
	Embedding,
	/// Text generation from the input (the prompt): up to `max_new_tokens` tokens, each chosen by
	/// `sampling`; the output is the tokens, u32 little-endian each.
	Generation { max_new_tokens: u32, sampling: TokenSampling },
}

/// What a committed task's disputes are ruled against besides the trace root: the values the
/// verifier does not recompute.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CommittedResult {
	/// The task's token ids (a generation's prompt).
	pub input: Vec<u32>,
	/// The committed output bytes (a generation's tokens, u32 little-endian each).
	pub output: Vec<u8>,
	/// What the task asked.
	pub request: TaskRequest,
	/// The trace root the task's disputes are ruled against, once fixed: by the provider at
	/// commit, or by its first answer to a dispute (docs/protocol.md, "The trace root is fixed
	/// when first needed").
	pub trace_root: Option<H256>,
}

/// What the challenges pallet needs to know about a committed task.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct DisputeSubject<AccountId> {
	/// The provider whose stake answers for the result.
	pub provider: AccountId,
	/// The key that committed the result and answers disputes for the provider.
	pub operator: AccountId,
	/// Who submitted and paid for the task.
	pub submitter: AccountId,
	/// The task's model.
	pub model: ModelId,
}

/// Freezing and resolving tasks under dispute. Several disputes may be open on one task at once
/// (the challenges pallet bounds how many): a decoy challenge cannot shield a wrong result.
pub trait TaskDisputes<AccountId> {
	/// The task's parties and commitments, if it is committed (disputed or not) and inside its
	/// window.
	fn subject(task: TaskId) -> Option<DisputeSubject<AccountId>>;
	/// The task's input, committed output and trace root, while it is committed or disputed.
	fn committed_result(task: TaskId) -> Option<CommittedResult>;
	/// Fixes the trace root of a disputed task that has none yet (its provider's first answer
	/// to a dispute proves against it). Fails when the task is not disputed or its root is
	/// already fixed.
	fn fix_trace_root(task: TaskId, trace_root: H256) -> DispatchResult;
	/// One more dispute is open: the task cannot finalize until every one is resolved.
	fn freeze(task: TaskId) -> DispatchResult;
	/// Ends one dispute. Provider won: when it was the last one open, the task is committed
	/// again with its window extended, if need be, to `reopen_for` blocks after now.
	/// Provider lost: its slot is freed and the task is reassigned or refunded (the caller
	/// dismisses the task's other disputes).
	fn resolve(task: TaskId, provider_won: bool, reopen_for: u32) -> DispatchResult;
}
