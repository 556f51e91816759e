//! # Task registry: models
//!
//! The model registry: a model is registered with the commitments the off-chain engine computes
//! for it (`descriptor_hash`, `model_root`, `tokenizer_hash`), its input/output spec, its widest
//! row (which bounds a dispute step) and its tolerance slack, against a deposit. Governance
//! approves it before tasks or providers may use it, and may retire it.
//!
//! The task lifecycle (submit, assign, commit, challenge window, finalize) joins this pallet
//! next; the staking pallet already sees approved models through [`ModelCatalog`].
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;

mod model_impls;
pub mod types;
pub mod weights;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;

pub use pallet_compute_staking::ModelCatalog;
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
	use sp_core::H256;

	/// Balance type of the currency deposits are held in.
	pub type BalanceOf<T> = <<T as Config>::Currency as Inspect<<T as frame_system::Config>::AccountId>>::Balance;
	/// A stored model.
	pub type ModelOf<T> = ModelInfo<<T as frame_system::Config>::AccountId, BalanceOf<T>, <T as Config>::MaxMetadataLen>;

	#[pallet::pallet]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config: frame_system::Config {
		/// The hold reasons of this pallet, as the runtime aggregates them.
		type RuntimeHoldReason: From<HoldReason>;
		/// The currency deposits are held in.
		type Currency: Inspect<Self::AccountId>
			+ Mutate<Self::AccountId>
			+ InspectHold<Self::AccountId, Reason = Self::RuntimeHoldReason>
			+ MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>;
		/// Who approves and retires models (Root until the governance tracks land).
		type GovernanceOrigin: EnsureOrigin<Self::RuntimeOrigin>;
		/// Deposit held for a registered model.
		#[pallet::constant]
		type ModelDeposit: Get<BalanceOf<Self>>;
		/// Widest row a model may have (governable): a dispute step must fit a block.
		type MaxModelRowWidth: Get<u32>;
		/// Largest tolerance slack a model may register, as f32 bits (governable).
		type MaxToleranceSlackBits: Get<u32>;
		/// Longest metadata, in bytes.
		#[pallet::constant]
		type MaxMetadataLen: Get<u32>;
		/// Weights of the calls.
		type WeightInfo: WeightInfo;
	}

	/// Why this pallet holds funds.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// Deposit for a registered model.
		#[codec(index = 0)]
		ModelDeposit,
	}

	/// The id the next registered model gets.
	#[pallet::storage]
	pub type NextModelId<T: Config> = StorageValue<_, ModelId, ValueQuery>;

	/// Registered models.
	#[pallet::storage]
	pub type Models<T: Config> = StorageMap<_, Twox64Concat, ModelId, ModelOf<T>>;

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A model was registered; it waits for approval.
		ModelRegistered { model: ModelId, owner: T::AccountId, model_root: H256 },
		/// Governance approved a model: tasks and providers may use it.
		ModelApproved { model: ModelId },
		/// Governance retired a model; its deposit went back to the owner.
		ModelRetired { model: ModelId },
	}

	#[pallet::error]
	pub enum Error<T> {
		/// No model with that id.
		UnknownModel,
		/// The model is not waiting for approval.
		NotProposed,
		/// The model is already retired.
		AlreadyRetired,
		/// The widest row exceeds `MaxModelRowWidth`, or is zero.
		RowWidthOutOfBounds,
		/// The slack is not a finite non-negative f32 at most `MaxToleranceSlackBits`.
		SlackOutOfBounds,
		/// The io spec has a zero width or token limit.
		BadIoSpec,
		/// The owner cannot hold the deposit.
		InsufficientBalance,
		/// No more model ids.
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
		/// Registers a model with its commitments, holding `ModelDeposit` from the caller.
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::register_model(metadata.len() as u32))]
		pub fn register_model(
			origin: OriginFor<T>,
			descriptor_hash: H256,
			model_root: H256,
			tokenizer_hash: H256,
			io: IoSpec,
			max_row_width: u32,
			slack_bits: u32,
			metadata: BoundedVec<u8, T::MaxMetadataLen>,
		) -> DispatchResult {
			let owner = ensure_signed(origin)?;
			Self::do_register_model(owner, descriptor_hash, model_root, tokenizer_hash, io, max_row_width, slack_bits, metadata)
		}

		/// Approves a proposed model (governance).
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::approve_model())]
		pub fn approve_model(origin: OriginFor<T>, model: ModelId) -> DispatchResult {
			T::GovernanceOrigin::ensure_origin(origin)?;
			Self::do_approve_model(model)
		}

		/// Retires a model (governance) and returns its deposit.
		#[pallet::call_index(2)]
		#[pallet::weight(T::WeightInfo::retire_model())]
		pub fn retire_model(origin: OriginFor<T>, model: ModelId) -> DispatchResult {
			T::GovernanceOrigin::ensure_origin(origin)?;
			Self::do_retire_model(model)
		}
	}
}
