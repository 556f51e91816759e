//! Types stored by the pallet.

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use core::fmt::Debug;
use frame_support::{BoundedVec, CloneNoBound, DebugNoBound, EqNoBound, PartialEqNoBound};
use scale_info::TypeInfo;
use sp_runtime::{traits::Get, Perbill};

pub use arbiter_interface::ModelId;

/// The class of hardware a provider runs inference on.
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
pub enum Hardware {
	Cpu,
	Gpu,
}

/// Whether a provider takes new tasks.
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
pub enum ProviderStatus {
	/// Takes tasks while its active stake is at least the minimum.
	Active,
	/// Paused by the provider.
	Paused,
	/// Jailed after a slash: inactive until it re-bonds above the minimum and calls `resume`.
	Jailed,
}

/// Stake on its way out: released by `withdraw_unbonded` from block `unlock_at` on.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo, MaxEncodedLen)]
pub struct UnlockChunk<Balance, BlockNumber> {
	pub amount: Balance,
	pub unlock_at: BlockNumber,
}

/// Counters behind the reputation score.
#[derive(Clone, Copy, PartialEq, Eq, Default, Debug, Encode, Decode, TypeInfo, MaxEncodedLen)]
pub struct Reputation {
	pub completed: u32,
	pub missed: u32,
	pub disputes_won: u32,
	pub disputes_lost: u32,
}

/// Weight of a lost dispute against the score, relative to a missed deadline.
pub const LOST_DISPUTE_PENALTY: u64 = 5;

impl Reputation {
	/// The mean of a Beta(1 + good, 1 + bad) posterior, where `good` counts completed tasks and
	/// disputes won and `bad` counts missed deadlines plus five per dispute lost. A new provider
	/// scores 1/2; the score moves towards its observed reliability as evidence accumulates.
	pub fn score(&self) -> Perbill {
		let good = self.completed as u64 + self.disputes_won as u64;
		let bad = self.missed as u64 + LOST_DISPUTE_PENALTY * self.disputes_lost as u64;
		Perbill::from_rational(1 + good, 2 + good + bad)
	}
}

/// What a provider offers.
#[derive(
	CloneNoBound,
	PartialEqNoBound,
	EqNoBound,
	DebugNoBound,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
#[scale_info(skip_type_params(MaxModels, MaxEndpointLen))]
#[codec(mel_bound(Balance: MaxEncodedLen))]
// The derives repeat `Balance`'s bounds in where clauses of their own.
#[allow(clippy::multiple_bound_locations)]
pub struct Offer<
	Balance: Clone + PartialEq + Eq + Debug,
	MaxModels: Get<u32>,
	MaxEndpointLen: Get<u32>,
> {
	/// Models served.
	pub models: BoundedVec<ModelId, MaxModels>,
	/// Price per task.
	pub price: Balance,
	/// Price per token a generation task generates, on top of `price` (the submitter's escrow
	/// covers `price` plus the task's most new tokens at this price; it pays for the tokens
	/// committed).
	pub price_per_token: Balance,
	/// Tasks it runs at once.
	pub capacity: u32,
	/// URL of the node RPC that serves trace rows to challengers.
	pub endpoint: BoundedVec<u8, MaxEndpointLen>,
	pub hardware: Hardware,
}

/// A provider's ledger and identity.
#[derive(
	CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound, Encode, Decode, TypeInfo, MaxEncodedLen,
)]
#[scale_info(skip_type_params(MaxModels, MaxEndpointLen, MaxChunks))]
#[codec(mel_bound(AccountId: MaxEncodedLen, Balance: MaxEncodedLen, BlockNumber: MaxEncodedLen))]
pub struct ProviderInfo<
	AccountId: Clone + PartialEq + Eq + Debug,
	Balance: Clone + PartialEq + Eq + Debug,
	BlockNumber: Clone + PartialEq + Eq + Debug,
	MaxModels: Get<u32>,
	MaxEndpointLen: Get<u32>,
	MaxChunks: Get<u32>,
> {
	/// The hot account whose key signs the node's off-chain transactions.
	pub operator: AccountId,
	/// Bonded stake that backs tasks.
	pub active: Balance,
	/// Stake being unbonded (still held, still slashable).
	pub unlocking: BoundedVec<UnlockChunk<Balance, BlockNumber>, MaxChunks>,
	pub offer: Offer<Balance, MaxModels, MaxEndpointLen>,
	pub status: ProviderStatus,
	/// Tasks assigned and not yet ended.
	pub tasks_in_flight: u32,
	/// Disputes open against it.
	pub open_disputes: u32,
	pub reputation: Reputation,
	/// While jailed: the first block it may `resume` in (`MinJailPeriod` after the slash).
	pub jailed_until: BlockNumber,
}

/// A provider registered at genesis (its stake held from `stash`), e.g. the development chain's
/// Alice serving the bundled model.
#[derive(Clone, PartialEq, Eq, Debug, frame_support::Serialize, frame_support::Deserialize)]
#[serde(crate = "frame_support::__private::serde", rename_all = "camelCase")]
pub struct GenesisProvider<AccountId, Balance> {
	pub stash: AccountId,
	pub stake: Balance,
	pub operator: AccountId,
	/// The offer: models served, price per task and per generated token, tasks at once,
	/// endpoint, GPU or CPU.
	pub models: alloc::vec::Vec<ModelId>,
	pub price: Balance,
	#[serde(default)]
	pub price_per_token: Balance,
	pub capacity: u32,
	pub endpoint: alloc::vec::Vec<u8>,
	pub gpu: bool,
}
