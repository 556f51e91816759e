//! # Compute staking
//!
//! The stake ledger and on-chain identity of compute providers: the people who sell inference.
//!
//! - `register` holds a stake (at least `MinProviderStake`, `HoldReason::ProviderStake`), names a
//!   hot **operator** account (its key lives in the provider node's keystore and signs the node's
//!   off-chain transactions; the stake-holding account can stay cold) and an offer: models, price,
//!   capacity, trace endpoint, hardware class.
//! - `unbond` moves stake into unlocking chunks, released by `withdraw_unbonded` after
//!   `UnbondingPeriod`; unlocking stake stays held and slashable, and nothing leaves while a
//!   dispute is open.
//! - Other pallets select providers, reserve capacity, track disputes, record reputation and slash
//!   through the traits in [`traits`].
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;

mod dispatchable_impls;
mod provider_impls;
pub mod runtime_api;
pub mod traits;
pub mod types;
pub mod weights;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;

pub use traits::*;
pub use types::*;
pub use weights::WeightInfo;

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use frame_support::{
		pallet_prelude::*,
		traits::fungible::{Inspect, InspectHold, Mutate, MutateHold},
	};
	use frame_system::pallet_prelude::*;

	/// Balance type of the staking currency.
	pub type BalanceOf<T> =
		<<T as Config>::Currency as Inspect<<T as frame_system::Config>::AccountId>>::Balance;
	/// A provider's stored record.
	pub type ProviderOf<T> = ProviderInfo<
		<T as frame_system::Config>::AccountId,
		BalanceOf<T>,
		BlockNumberFor<T>,
		<T as Config>::MaxModelsPerProvider,
		<T as Config>::MaxEndpointLen,
		<T as Config>::MaxUnlockingChunks,
	>;
	/// A provider's offer.
	pub type OfferOf<T> =
		Offer<BalanceOf<T>, <T as Config>::MaxModelsPerProvider, <T as Config>::MaxEndpointLen>;

	#[pallet::pallet]
	pub struct Pallet<T>(_);

	#[pallet::config(with_default)]
	pub trait Config: frame_system::Config {
		/// The hold reason of this pallet, as the runtime aggregates it.
		#[pallet::no_default_bounds]
		type RuntimeHoldReason: From<HoldReason>;
		/// The currency stakes are held in.
		#[pallet::no_default]
		type Currency: Inspect<Self::AccountId>
			+ Mutate<Self::AccountId>
			+ InspectHold<Self::AccountId, Reason = Self::RuntimeHoldReason>
			+ MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>;
		/// Least active stake of an active provider (governable).
		#[pallet::no_default_bounds]
		type MinProviderStake: Get<BalanceOf<Self>>;
		/// Least price per task an offer may ask (governable): self-dealt tasks that farm
		/// reputation cost at least the protocol fee on it (docs/protocol.md, "Stake").
		#[pallet::no_default_bounds]
		type MinPrice: Get<BalanceOf<Self>>;
		/// Blocks a slashed provider stays jailed before it may resume (governable).
		#[pallet::no_default_bounds]
		type MinJailPeriod: Get<BlockNumberFor<Self>>;
		/// Blocks from `unbond` to withdrawable (governable).
		#[pallet::no_default_bounds]
		type UnbondingPeriod: Get<BlockNumberFor<Self>>;
		/// Most registered providers (governable).
		type MaxProviders: Get<u32>;
		/// Most models one provider declares.
		#[pallet::constant]
		type MaxModelsPerProvider: Get<u32>;
		/// Most providers serving one model (bounds selection work).
		#[pallet::constant]
		type MaxProvidersPerModel: Get<u32>;
		/// Most unlocking chunks per provider.
		#[pallet::constant]
		type MaxUnlockingChunks: Get<u32>;
		/// Longest endpoint URL, in bytes.
		#[pallet::constant]
		type MaxEndpointLen: Get<u32>;
		/// The model registry.
		#[pallet::no_default]
		type Models: ModelCatalog;
		/// Weights of the calls.
		type WeightInfo: WeightInfo;
	}

	/// Config presets for `#[derive_impl]`.
	pub mod config_preludes {
		use super::*;
		use frame_support::{
			derive_impl,
			traits::{ConstU32, ConstU64},
		};

		/// Test runtimes (u64 balances and block numbers): a small provider set, short periods.
		pub struct TestDefaultConfig;

		#[derive_impl(frame_system::config_preludes::TestDefaultConfig, no_aggregated_types)]
		impl frame_system::DefaultConfig for TestDefaultConfig {}

		#[frame_support::register_default_impl(TestDefaultConfig)]
		impl DefaultConfig for TestDefaultConfig {
			#[inject_runtime_type]
			type RuntimeHoldReason = ();
			type MinProviderStake = ConstU64<1_000>;
			type MinPrice = ConstU64<1>;
			type MinJailPeriod = ConstU64<5>;
			type UnbondingPeriod = ConstU64<10>;
			type MaxProviders = ConstU32<8>;
			type MaxModelsPerProvider = ConstU32<4>;
			type MaxProvidersPerModel = ConstU32<6>;
			type MaxUnlockingChunks = ConstU32<3>;
			type MaxEndpointLen = ConstU32<64>;
			type WeightInfo = ();
		}
	}

	/// Why this pallet holds funds.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// A compute provider's stake.
		#[codec(index = 0)]
		ProviderStake,
	}

	/// Providers by their stake-holding account.
	#[pallet::storage]
	pub type Providers<T: Config> = StorageMap<_, Blake2_128Concat, T::AccountId, ProviderOf<T>>;

	/// Operator account -> provider account (each operator acts for exactly one provider).
	#[pallet::storage]
	pub type Operators<T: Config> = StorageMap<_, Blake2_128Concat, T::AccountId, T::AccountId>;

	/// Number of registered providers (at most `MaxProviders`).
	#[pallet::storage]
	pub type ProviderCount<T: Config> = StorageValue<_, u32, ValueQuery>;

	#[pallet::genesis_config]
	#[derive(frame_support::DefaultNoBound)]
	pub struct GenesisConfig<T: Config> {
		/// Providers registered at genesis (their models must be servable then: the model
		/// registry's genesis is built first).
		pub providers: alloc::vec::Vec<GenesisProvider<T::AccountId, BalanceOf<T>>>,
	}

	#[pallet::genesis_build]
	impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
		fn build(&self) {
			for p in &self.providers {
				// Same checks and hold as `register`; a chain spec that breaks them must not start.
				let offer = Offer {
					models: BoundedVec::try_from(p.models.clone())
						.expect("genesis provider serves more than MaxModelsPerProvider models"),
					price: p.price,
					price_per_token: p.price_per_token,
					capacity: p.capacity,
					endpoint: BoundedVec::try_from(p.endpoint.clone())
						.expect("genesis provider endpoint exceeds MaxEndpointLen"),
					hardware: if p.gpu { Hardware::Gpu } else { Hardware::Cpu },
				};
				Pallet::<T>::do_register(p.stash.clone(), p.stake, p.operator.clone(), offer)
					.expect("genesis provider refused by register's checks");
			}
		}
	}

	/// Providers that declare they serve a model, for selection.
	#[pallet::storage]
	pub type ModelProviders<T: Config> = StorageMap<
		_,
		Twox64Concat,
		ModelId,
		BoundedVec<T::AccountId, T::MaxProvidersPerModel>,
		ValueQuery,
	>;

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A provider registered with this stake and operator.
		Registered {
			/// The provider (its stake-holding account).
			provider: T::AccountId,
			/// Its operator key.
			operator: T::AccountId,
			/// Stake held.
			stake: BalanceOf<T>,
		},
		/// More stake was bonded.
		Bonded {
			/// The provider (its stake-holding account).
			provider: T::AccountId,
			/// Stake added.
			amount: BalanceOf<T>,
		},
		/// The offer (models, price, capacity, endpoint, hardware) changed.
		OfferUpdated {
			/// The provider (its stake-holding account).
			provider: T::AccountId,
		},
		/// The operator account changed.
		OperatorChanged {
			/// The provider (its stake-holding account).
			provider: T::AccountId,
			/// The operator key before.
			old: T::AccountId,
			/// The operator key now.
			new: T::AccountId,
		},
		/// The provider paused.
		Paused {
			/// The provider (its stake-holding account).
			provider: T::AccountId,
		},
		/// The provider resumed taking tasks.
		Resumed {
			/// The provider (its stake-holding account).
			provider: T::AccountId,
		},
		/// Stake started unbonding; withdrawable from `unlock_at`.
		Unbonded {
			/// The provider (its stake-holding account).
			provider: T::AccountId,
			/// Stake unbonding.
			amount: BalanceOf<T>,
			/// First block it can be withdrawn in.
			unlock_at: BlockNumberFor<T>,
		},
		/// The active stake fell below the minimum: no new tasks until it is topped up.
		BelowMinimum {
			/// The provider (its stake-holding account).
			provider: T::AccountId,
			/// Its active stake now.
			active: BalanceOf<T>,
		},
		/// Unbonded stake was released.
		Withdrawn {
			/// The provider (its stake-holding account).
			provider: T::AccountId,
			/// Stake released to the provider.
			amount: BalanceOf<T>,
		},
		/// The provider left (its stake was already withdrawn).
		Deregistered {
			/// The provider (its stake-holding account).
			provider: T::AccountId,
		},
		/// Stake was slashed and paid out.
		Slashed {
			/// The provider (its stake-holding account).
			provider: T::AccountId,
			/// Stake slashed.
			amount: BalanceOf<T>,
		},
		/// The provider was jailed.
		Jailed {
			/// The provider (its stake-holding account).
			provider: T::AccountId,
		},
	}

	#[pallet::error]
	pub enum Error<T> {
		/// The account is already a registered provider.
		AlreadyRegistered,
		/// The account is not a registered provider.
		NotProvider,
		/// The stake is below `MinProviderStake`.
		StakeBelowMinimum,
		/// The account cannot hold that much (free balance too low).
		InsufficientBalance,
		/// `MaxProviders` providers are registered.
		TooManyProviders,
		/// The operator already acts for a provider.
		OperatorInUse,
		/// A declared model does not exist or is not approved.
		UnknownModel,
		/// A model is declared twice.
		DuplicateModel,
		/// No model declared.
		NoModels,
		/// Too many models, or too long an endpoint.
		OfferTooLarge,
		/// Capacity must be at least 1.
		ZeroCapacity,
		/// A model already has `MaxProvidersPerModel` providers.
		ModelProvidersFull,
		/// Zero amount.
		ZeroAmount,
		/// Unbonding more than the active stake.
		UnbondTooMuch,
		/// Too many unlocking chunks: withdraw first.
		TooManyUnlockingChunks,
		/// Nothing is ready to withdraw.
		NothingToWithdraw,
		/// A dispute is open against the provider: its stake cannot leave.
		DisputeOpen,
		/// Tasks are still assigned to the provider, committed or disputed: their stake must stay.
		TasksInFlight,
		/// Stake is still bonded or unlocking: unbond and withdraw it first.
		StakeRemaining,
		/// Already paused or jailed.
		NotActive,
		/// Only a paused or jailed provider can resume.
		NotPaused,
		/// Jailed until a later block (`MinJailPeriod` after the slash).
		StillJailed,
		/// The offer's price is below `MinPrice`.
		PriceBelowMinimum,
		/// No free capacity.
		NoCapacity,
		/// Beneficiary shares do not add up to 100 %.
		BadShares,
		/// Arithmetic overflow.
		Overflow,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		#[cfg(feature = "try-runtime")]
		fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Registers the caller as a compute provider: holds `stake`, names the `operator` whose
		/// key signs the node's transactions, and publishes the offer.
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::register(offer.models.len() as u32))]
		pub fn register(
			origin: OriginFor<T>,
			stake: BalanceOf<T>,
			operator: T::AccountId,
			offer: OfferOf<T>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_register(who, stake, operator, offer)
		}

		/// Holds `amount` more stake.
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::bond_extra())]
		pub fn bond_extra(origin: OriginFor<T>, amount: BalanceOf<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_bond_extra(who, amount)
		}

		/// Replaces the offer.
		#[pallet::call_index(2)]
		#[pallet::weight(T::WeightInfo::update_offer(offer.models.len() as u32))]
		pub fn update_offer(origin: OriginFor<T>, offer: OfferOf<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_update_offer(who, offer)
		}

		/// Names another operator account.
		#[pallet::call_index(3)]
		#[pallet::weight(T::WeightInfo::set_operator())]
		pub fn set_operator(origin: OriginFor<T>, operator: T::AccountId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_set_operator(who, operator)
		}

		/// Stops taking new tasks.
		#[pallet::call_index(4)]
		#[pallet::weight(T::WeightInfo::pause())]
		pub fn pause(origin: OriginFor<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_pause(who)
		}

		/// Takes tasks again (also after a jail, once the stake is back above the minimum).
		#[pallet::call_index(5)]
		#[pallet::weight(T::WeightInfo::resume())]
		pub fn resume(origin: OriginFor<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_resume(who)
		}

		/// Starts unbonding `amount` of active stake.
		#[pallet::call_index(6)]
		#[pallet::weight(T::WeightInfo::unbond())]
		pub fn unbond(origin: OriginFor<T>, amount: BalanceOf<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_unbond(who, amount)
		}

		/// Releases every unlocking chunk whose period has passed.
		#[pallet::call_index(7)]
		#[pallet::weight(T::WeightInfo::withdraw_unbonded(T::MaxUnlockingChunks::get()))]
		pub fn withdraw_unbonded(origin: OriginFor<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_withdraw_unbonded(who)
		}

		/// Leaves, once all stake is unbonded and withdrawn and no task or dispute is open.
		#[pallet::call_index(8)]
		#[pallet::weight(T::WeightInfo::deregister(T::MaxModelsPerProvider::get()))]
		pub fn deregister(origin: OriginFor<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_deregister(who)
		}
	}
}
