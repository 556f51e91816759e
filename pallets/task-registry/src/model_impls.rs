//! Model registration, approval and retirement. Checks run before any state changes.

use frame_support::{
	ensure,
	pallet_prelude::*,
	traits::{
		fungible::{Inspect, MutateHold},
		tokens::{Fortitude, Precision, Preservation},
	},
};
use sp_core::H256;
use frame_support::traits::fungible::InspectHold;
use sp_runtime::traits::{Saturating, Zero};

use crate::{pallet::*, types::*, ModelCatalog};

impl<T: Config> Pallet<T> {
	#[allow(clippy::too_many_arguments)]
	pub(crate) fn do_register_model(
		owner: T::AccountId,
		descriptor_hash: H256,
		model_root: H256,
		tokenizer_hash: H256,
		io: IoSpec,
		max_row_width: u32,
		slack_bits: u32,
		metadata: BoundedVec<u8, T::MaxMetadataLen>,
	) -> DispatchResult {
		ensure!(max_row_width > 0 && max_row_width <= T::MaxModelRowWidth::get(), Error::<T>::RowWidthOutOfBounds);
		let slack = f32::from_bits(slack_bits);
		let max_slack = f32::from_bits(T::MaxToleranceSlackBits::get());
		// `!(slack <= max)` also refuses NaN.
		ensure!(slack.is_finite() && slack >= 0.0 && slack <= max_slack, Error::<T>::SlackOutOfBounds);
		let InputKind::TokenIds { vocabulary } = io.input;
		let tokens_ok = io.max_input_tokens > 0 && io.max_input_tokens <= T::MaxInputTokens::get();
		// Traces hold ids as f32, exact up to 2^24: a larger id could stand for another.
		let vocabulary_ok = vocabulary > 0 && vocabulary <= MAX_VOCABULARY;
		ensure!(io.output_width > 0 && vocabulary_ok && tokens_ok, Error::<T>::BadIoSpec);
		let id = NextModelId::<T>::get();
		let next = id.checked_add(1).ok_or(Error::<T>::Overflow)?;
		let deposit = T::ModelDeposit::get();
		let reason: T::RuntimeHoldReason = HoldReason::ModelDeposit.into();
		if !deposit.is_zero() {
			let holdable = T::Currency::reducible_balance(&owner, Preservation::Preserve, Fortitude::Polite);
			ensure!(holdable >= deposit, Error::<T>::InsufficientBalance);
			T::Currency::hold(&reason, &owner, deposit)?;
		}
		NextModelId::<T>::put(next);
		Models::<T>::insert(
			id,
			ModelInfo {
				owner: owner.clone(),
				descriptor_hash,
				model_root,
				tokenizer_hash,
				io,
				max_row_width,
				slack_bits,
				metadata,
				status: ModelStatus::Proposed,
				deposit,
			},
		);
		Self::deposit_event(Event::ModelRegistered { model: id, owner, model_root });
		Ok(())
	}

	pub(crate) fn do_approve_model(model: ModelId) -> DispatchResult {
		Models::<T>::try_mutate(model, |m| {
			let m = m.as_mut().ok_or(Error::<T>::UnknownModel)?;
			ensure!(m.status == ModelStatus::Proposed, Error::<T>::NotProposed);
			m.status = ModelStatus::Approved;
			Ok::<(), DispatchError>(())
		})?;
		Self::deposit_event(Event::ModelApproved { model });
		Ok(())
	}

	pub(crate) fn do_retire_model(model: ModelId) -> DispatchResult {
		let mut info = Models::<T>::get(model).ok_or(Error::<T>::UnknownModel)?;
		ensure!(info.status != ModelStatus::Retired, Error::<T>::AlreadyRetired);
		if !info.deposit.is_zero() {
			let reason: T::RuntimeHoldReason = HoldReason::ModelDeposit.into();
			T::Currency::release(&reason, &info.owner, info.deposit, Precision::BestEffort)?;
		}
		info.status = ModelStatus::Retired;
		info.deposit = Zero::zero();
		Models::<T>::insert(model, info);
		Self::deposit_event(Event::ModelRetired { model });
		Ok(())
	}

	/// Deposits held for every owner equal the deposits of their live models (try-runtime and
	/// tests).
	pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
		let reason: T::RuntimeHoldReason = HoldReason::ModelDeposit.into();
		let mut owners: alloc::vec::Vec<T::AccountId> = alloc::vec::Vec::new();
		for (_, m) in Models::<T>::iter() {
			if !owners.contains(&m.owner) {
				owners.push(m.owner.clone());
			}
		}
		for owner in owners {
			let expected = Models::<T>::iter_values()
				.filter(|m| m.owner == owner)
				.fold(BalanceOf::<T>::zero(), |acc, m| acc.saturating_add(m.deposit));
			ensure!(T::Currency::balance_on_hold(&reason, &owner) == expected, "model deposits differ from holds");
		}
		Ok(())
	}
}

impl<T: Config> Pallet<T> {
	/// A registered model (its commitments, bounds and status).
	pub fn model(id: ModelId) -> Option<ModelOf<T>> {
		Models::<T>::get(id)
	}
}

impl<T: Config> ModelCatalog for Pallet<T> {
	fn is_servable(model: ModelId) -> bool {
		Models::<T>::get(model).is_some_and(|m| m.status == ModelStatus::Approved)
	}

	#[cfg(feature = "runtime-benchmarks")]
	fn make_servable(model: ModelId) {
		use sp_runtime::traits::Get;
		// A registered model keeps its commitments; it is only approved.
		if Models::<T>::mutate(model, |m| m.as_mut().map(|m| m.status = ModelStatus::Approved)).is_some() {
			return;
		}
		let owner: T::AccountId = frame_benchmarking::account("model-owner", 0, 0);
		Models::<T>::insert(
			model,
			ModelInfo {
				owner,
				descriptor_hash: H256::zero(),
				model_root: H256::zero(),
				tokenizer_hash: H256::zero(),
				io: IoSpec {
					input: InputKind::TokenIds { vocabulary: 30_522 },
					max_input_tokens: T::MaxInputTokens::get(),
					output_width: 384,
				},
				max_row_width: T::MaxModelRowWidth::get().max(1),
				slack_bits: 0,
				metadata: BoundedVec::default(),
				status: ModelStatus::Approved,
				deposit: Zero::zero(),
			},
		);
	}
}
