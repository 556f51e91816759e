//! What the staking pallet offers the others: picking providers for tasks, their task slots,
//! the lock that open disputes put on their stake, reputation and slashing.

use sp_runtime::{DispatchError, DispatchResult, Perbill};

use crate::ModelId;

/// A provider picked for a task.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Selected<AccountId, Balance> {
	/// The account whose stake backs the work.
	pub provider: AccountId,
	/// The key that commits results for it.
	pub operator: AccountId,
	/// Its price for one task of the model.
	pub price: Balance,
	/// Its price for each token a generation task generates (besides `price`).
	pub price_per_token: Balance,
}

/// Picks providers for tasks.
pub trait ProviderSelection<AccountId, Balance> {
	/// An active provider serving `model` with free capacity, asking at most `max_price` for a
	/// task that generates `new_tokens` tokens (its price plus `new_tokens` times its price per
	/// token; 0 tokens for a task that generates none), not in `exclude`, chosen with
	/// probability proportional to stake × reputation score, deterministically from `seed`.
	fn select(
		model: ModelId,
		seed: [u8; 32],
		exclude: &[AccountId],
		max_price: Balance,
		new_tokens: u32,
	) -> Option<Selected<AccountId, Balance>>;
}

/// Task slots of providers.
pub trait CapacityAccounting<AccountId> {
	/// Takes one of `provider`'s slots; fails if none is free.
	fn reserve(provider: &AccountId) -> DispatchResult;
	/// Gives a slot back.
	fn release(provider: &AccountId);
}

/// Open disputes keep stake from leaving.
pub trait DisputeTracking<AccountId> {
	/// A dispute against `provider` opened: its stake cannot be withdrawn until it closes.
	fn dispute_opened(provider: &AccountId) -> DispatchResult;
	/// One of `provider`'s disputes closed.
	fn dispute_closed(provider: &AccountId);
}

/// What happened in one task, for the reputation score.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Outcome {
	/// The result was committed and finalized.
	Completed,
	/// The provider let its assignment deadline pass.
	MissedDeadline,
	/// A challenge of its result failed.
	DisputeWon,
	/// A challenge of its result succeeded.
	DisputeLost,
}

/// Records outcomes.
pub trait ReputationRecorder<AccountId> {
	/// Counts `outcome` in `provider`'s reputation.
	fn record(provider: &AccountId, outcome: Outcome);
}

/// Slashing: move a fraction of a provider's held stake to beneficiaries and jail it.
pub trait ProviderSlashing<AccountId, Balance> {
	/// Slashes `fraction` of everything `provider` has held (active and unlocking) and pays it
	/// out to `beneficiaries` by their shares, which must add up to 100 %; rounding dust goes to
	/// the last beneficiary, so nothing is created or destroyed. Returns the amount slashed.
	fn slash(
		provider: &AccountId,
		fraction: Perbill,
		beneficiaries: &[(AccountId, Perbill)],
	) -> Result<Balance, DispatchError>;
}

/// Identity lookups.
pub trait ProviderRegistry<AccountId> {
	/// The provider an operator key acts for.
	fn provider_of_operator(operator: &AccountId) -> Option<AccountId>;
	/// Whether `provider` takes new tasks.
	fn is_active(provider: &AccountId) -> bool;
}
