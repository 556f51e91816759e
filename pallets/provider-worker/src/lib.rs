//! # Provider worker (off-chain)
//!
//! Every block, on a node whose keystore holds operator keys (`arbi`) and whose engine runs
//! (`arbiter-node --provider`): for each task assigned to one of those operators and still
//! waiting for a result, start the job on the native engine through the inference host
//! functions, and once it is done submit `commit_result` signed by the operator key.
//!
//! - Inference never blocks: `start_job` queues, later blocks poll `job_status`.
//! - A result is committed once: the send is recorded in persistent off-chain storage with an
//!   atomic compare-and-set, and repeated only if the task still waits `ResubmitAfter` blocks
//!   later (the first transaction was dropped). After a restart the engine reports finished tasks
//!   from its trace store, and offchain storage still holds the record of what was sent.
//! - On nodes without the engine the host functions answer `Unavailable` and the worker does
//!   nothing.
//!
//! The pallet has no calls and no storage; the tasks come from the task registry through
//! [`AssignedTasks`].
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;

pub mod crypto;
mod provider;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;

use alloc::vec::Vec;

/// A task waiting for this node's result.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AssignedTask {
	pub task: u64,
	/// The model's commitment: how the engine finds the model.
	pub model_root: [u8; 32],
	pub input: Vec<u8>,
}

/// The task registry as the worker sees it.
pub trait AssignedTasks<AccountId, Call> {
	/// Tasks assigned to `operator` that wait for a result.
	fn awaiting_result(operator: &AccountId) -> Vec<AssignedTask>;
	/// The call committing `output` and `trace_root` for `task` (`None` if it cannot be built,
	/// e.g. an output longer than the registry accepts).
	fn commit_call(task: u64, output: Vec<u8>, trace_root: [u8; 32]) -> Option<Call>;
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
		/// Blocks after which a commit that did not land is sent again.
		#[pallet::constant]
		type ResubmitAfter: Get<BlockNumberFor<Self>>;
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn offchain_worker(now: BlockNumberFor<T>) {
			Self::run_provider(now);
		}
	}
}
