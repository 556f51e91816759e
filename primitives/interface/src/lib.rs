//! # Arbiter's pallet interface
//!
//! The ids, element references and traits through which Arbiter's pallets use each other, like
//! `sp_staking` for nomination-pools: a pallet names what it needs as a `Config` type bounded by
//! these traits, its sibling implements them, and the runtime wires the two
//! (`type Models = TaskRegistry`). No pallet depends on another pallet's crate.
//!
//! - [`providers`]: what the staking pallet offers (selection, capacity, slashing, reputation).
//! - [`models`]: what the model registry offers (servable models, their commitments).
//! - [`tasks`]: what the task registry offers disputes (freeze, resolve, the committed result).
//! - [`audits`]: what the audits pallet hears from the registry and the challenges pallet.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub mod audits;
pub mod models;
pub mod providers;
pub mod tasks;

pub use audits::AuditHooks;
pub use models::{ModelCatalog, ModelCommitment, ModelCommitments};
pub use providers::{
	CapacityAccounting, DisputeTracking, Outcome, ProviderRegistry, ProviderSelection,
	ProviderSlashing, ReputationRecorder, Selected,
};
pub use tasks::{CommittedResult, DisputeSubject, TaskDisputes, TaskRequest, TokenSampling};

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;

/// Identifier of a registered model (assigned by the model registry).
pub type ModelId = u32;
/// Identifier of a task (assigned by the task registry).
pub type TaskId = u64;
/// Identifier of a dispute (assigned by the challenges pallet).
pub type DisputeId = u64;

/// One element of one node's output in a task's trace: what a challenge names and a response
/// opens. Encoded as three `u32`s in this order.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	PartialOrd,
	Ord,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub struct ElementRef {
	/// The node (operation) of the model graph, by index.
	pub node: u32,
	/// The row of that node's output (a token position, or a row of a matrix operand).
	pub row: u32,
	/// The column within the row.
	pub col: u32,
}

impl ElementRef {
	/// The element at `node`, `row`, `col`.
	pub const fn new(node: u32, row: u32, col: u32) -> Self {
		Self { node, row, col }
	}
}
