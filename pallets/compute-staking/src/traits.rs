//! How other pallets use compute providers, and what this pallet needs from the model registry.
//! Pallets talk through these traits, never through each other's storage.

use sp_runtime::{DispatchError, DispatchResult, Perbill};

use crate::types::ModelId;

/// The model registry, as the staking pallet sees it.
pub trait ModelCatalog {
	/// Whether providers may declare they serve `model` (it exists and is approved).
	fn is_servable(model: ModelId) -> bool;
	/// Makes `model` servable, so benchmarks can declare it.
	#[cfg(feature = "runtime-benchmarks")]
	fn make_servable(model: ModelId);
}

/// A provider picked for a task.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Selected<AccountId, Balance> {
	pub provider: AccountId,
	pub operator: AccountId,
	pub price: Balance,
}

/// Picks providers for tasks.
pub trait ProviderSelection<AccountId, Balance> {
	/// An active provider serving `model` with free capacity, a price at most `max_price` and
	/// not in `exclude`, chosen with probability proportional to stake × reputation score,
	/// deterministically from `seed`.
	fn select(model: ModelId, seed: [u8; 32], exclude: &[AccountId], max_price: Balance) -> Option<Selected<AccountId, Balance>>;
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
	fn dispute_opened(provider: &AccountId) -> DispatchResult;
	fn dispute_closed(provider: &AccountId);
}

/// What happened in one task, for the reputation score.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Outcome {
	Completed,
	MissedDeadline,
	DisputeWon,
	DisputeLost,
}

/// Records outcomes.
pub trait ReputationRecorder<AccountId> {
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
