//! Runtime API: provider records, providers of a model, operator lookup, reputation.

use alloc::vec::Vec;
use codec::Codec;
use sp_runtime::Perbill;

use crate::types::ModelId;

sp_api::decl_runtime_apis! {
	/// Read access to compute providers for clients and off-chain workers.
	pub trait ComputeStakingApi<AccountId, ProviderRecord> where
		AccountId: Codec,
		ProviderRecord: Codec,
	{
		/// The record of `provider`.
		fn provider(provider: AccountId) -> Option<ProviderRecord>;
		/// Providers that declare they serve `model`.
		fn providers_for_model(model: ModelId) -> Vec<AccountId>;
		/// The provider `operator` acts for.
		fn provider_of_operator(operator: AccountId) -> Option<AccountId>;
		/// The reputation score of `provider` (Beta posterior mean, see `Reputation::score`).
		fn reputation_score(provider: AccountId) -> Option<Perbill>;
	}
}
