//! # Provider and watcher workers (off-chain)
//!
//! Every block, on a node whose keystore holds operator keys (`arbi`) and whose engine runs
//! (`arbiter-node --provider`): for each task assigned to one of those operators and still
//! waiting for a result, start the job on the native engine through the inference host
//! functions, and once it is done submit `commit_result` signed by the operator key. For each
//! dispute open against one of those operators' results, answer it: `respond` with the model's
//! graph and the opening of the disputed element from the engine's trace store.
//!
//! With `--watcher`, the same block step checks committed results in their challenge window
//! (not this node's own): the engine re-executes them and, when one is off, finds an element of
//! the provider's trace the runtime will rule against it; the worker then sends `challenge`
//! signed by this node's first operator key (which holds the bond). When the provider does not
//! serve its trace, the worker challenges the output element the engine names and then, at
//! every step of the descent that is its turn, names the operand element the engine picks
//! (`descend`; docs/protocol.md, "Descent").
//!
//! - Inference never blocks: `start_job` queues, later blocks poll `job_status`.
//! - A result is committed (a dispute answered, a task challenged) once: the send is recorded in
//!   persistent off-chain storage with an atomic compare-and-set, and repeated only if the task
//!   still waits `ResubmitAfter` blocks later (the first transaction was dropped). After a restart
//!   the engine reports finished tasks from its trace store, and offchain storage still holds the
//!   record of what was sent.
//! - On nodes without the engine the host functions answer `Unavailable` and the worker does
//!   nothing.
//!
//! A provider drawn to audit a result (docs/protocol.md, "Audits") has it checked the same way,
//! whatever the sample rate: a clean result is attested (`attest`, signed by its operator key),
//! a wrong one challenged by the watcher's step.
//!
//! The pallet has no calls and no storage; the tasks come from the task registry through
//! [`AssignedTasks`] and [`WatchedTasks`], the disputes from the challenges pallet through
//! [`ProviderDisputes`], the audits from the audits pallet through [`AuditDuties`].
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;

mod auditor;
pub mod crypto;
#[cfg(test)]
mod mock;
mod provider;
mod responder;
mod send_once;
#[cfg(test)]
mod tests;
mod watcher;

use alloc::vec::Vec;
pub use arbiter_interface::{DisputeId, ElementRef, TaskId};

/// A task waiting for this node's result.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AssignedTask {
	pub task: TaskId,
	/// The model's commitment: how the engine finds the model.
	pub model_root: [u8; 32],
	/// The task's token ids (a generation's prompt).
	pub input: Vec<u32>,
	/// A generation task's request (its limit, sampling and the model's stop token); `None`
	/// for a task run once over its input.
	pub generation: Option<arbiter_inference_interface::GenerationJob>,
}

/// The task registry as the worker sees it.
pub trait AssignedTasks<AccountId, Call> {
	/// Tasks assigned to `operator` that wait for a result.
	fn awaiting_result(operator: &AccountId) -> Vec<AssignedTask>;
	/// Tasks of `operator` still assigned, committed or disputed: a challenge may still ask for
	/// their traces.
	fn open_tasks(operator: &AccountId) -> Vec<TaskId>;
	/// The call committing `output` for `task`, with `trace_root` where the engine gives one
	/// (`None` if it cannot be built, e.g. an output longer than the registry accepts).
	fn commit_call(task: TaskId, output: Vec<u8>, trace_root: Option<[u8; 32]>) -> Option<Call>;
}

/// A dispute against one of this node's operators.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct OpenDispute {
	pub dispute: DisputeId,
	pub task: TaskId,
	pub model_root: [u8; 32],
	/// The element to open now.
	pub element: ElementRef,
	/// A token-choice dispute of a generation task, `(step, rival)`: its answer is the opening
	/// of that choice, not of `element`.
	pub token_choice: Option<(u32, u32)>,
	/// The descent step it is (0 for the challenged element): each is answered once.
	pub round: u32,
}

/// The challenges pallet as the provider worker sees it.
pub trait ProviderDisputes<AccountId, Call> {
	/// Open disputes against results committed by `operator` that wait for its answer.
	fn disputes_against(operator: &AccountId) -> Vec<OpenDispute>;
	/// The `respond` call from the SCALE-encoded graph and opening (`None` if they do not decode).
	fn respond_call(dispute: DisputeId, graph: &[u8], opening: &[u8]) -> Option<Call>;
}

/// A committed result in its challenge window.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct WatchedTask<AccountId> {
	/// The operator that committed it (a watcher never checks its own).
	pub operator: AccountId,
	/// What the engine checks: the task, its input, the committed output and trace root, the
	/// provider's endpoint, the model's tolerance slack and row bound.
	pub request: arbiter_inference_interface::WatchRequest,
	/// The disputes open on the task: each one's challenger and the element it disputes now
	/// (a watcher whose challenge landed does not send it again).
	pub disputes: Vec<(AccountId, ElementRef)>,
}

/// A descent step it is a challenger's turn to name.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct DescentTurn {
	pub dispute: DisputeId,
	/// The step (each is named once).
	pub round: u32,
	/// What the engine needs to pick the element: the task, its input and trace root, the
	/// model's slack and the rows the provider's last answer opened.
	pub request: arbiter_inference_interface::DescentRequest,
}

/// The task registry and challenges pallet as the watcher sees them.
pub trait WatchedTasks<AccountId, Call> {
	/// Committed results (disputed or not) whose challenge window is open.
	fn challengeable() -> Vec<WatchedTask<AccountId>>;
	/// The call challenging `element` of `task`.
	fn challenge_call(task: TaskId, element: ElementRef) -> Call;
	/// The call challenging generation `task`'s token at `step`: `rival` scores higher.
	fn token_choice_call(task: TaskId, step: u32, rival: u32) -> Call;
	/// Disputes opened by `challenger` that wait for it to name the next element.
	fn descents(challenger: &AccountId) -> Vec<DescentTurn>;
	/// The call naming `element` as the next step of `dispute`.
	fn descend_call(dispute: DisputeId, element: ElementRef) -> Call;
}

/// The audits pallet as a drawn auditor's node sees it (docs/protocol.md, "Audits").
pub trait AuditDuties<AccountId, Call> {
	/// Results that `operator`'s provider was drawn to audit and has neither attested nor
	/// challenged yet, as the watcher checks them (`audit` set).
	fn audits_of(operator: &AccountId) -> Vec<arbiter_inference_interface::WatchRequest>;
	/// The call attesting that `task`'s result matched this node's re-execution.
	fn attest_call(task: TaskId) -> Call;
}

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use frame_support::pallet_prelude::*;
	use frame_system::{
		offchain::{AppCrypto, CreateSignedTransaction},
		pallet_prelude::*,
	};

	#[pallet::pallet]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config:
		frame_system::Config + CreateSignedTransaction<<Self as frame_system::Config>::RuntimeCall>
	{
		/// The operator key (`arbi`, sr25519) that signs commits.
		type OperatorKey: AppCrypto<Self::Public, Self::Signature>;
		/// Where assigned tasks come from and how a commit is made.
		type Tasks: AssignedTasks<Self::AccountId, <Self as frame_system::Config>::RuntimeCall>;
		/// Disputes against this node's operators and how to answer them.
		type Disputes: ProviderDisputes<
			Self::AccountId,
			<Self as frame_system::Config>::RuntimeCall,
		>;
		/// Results a watcher checks and how to challenge them.
		type Watched: WatchedTasks<Self::AccountId, <Self as frame_system::Config>::RuntimeCall>;
		/// Results this node's operators were drawn to audit, and how to attest them.
		type Audits: AuditDuties<Self::AccountId, <Self as frame_system::Config>::RuntimeCall>;
		/// Blocks after which a commit or a response that did not land is sent again.
		#[pallet::constant]
		type ResubmitAfter: Get<BlockNumberFor<Self>>;
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn offchain_worker(now: BlockNumberFor<T>) {
			Self::run_provider(now);
			Self::run_responder(now);
			Self::run_audits(now);
			Self::run_watcher(now);
		}
	}
}
