//! The calls' logic. Every check runs before any state changes, so a refused call changes
//! nothing.

use frame_support::{
	ensure,
	pallet_prelude::*,
	traits::{
		fungible::{Inspect, InspectHold, MutateHold},
		tokens::{Fortitude, Precision, Preservation},
	},
};
use frame_system::pallet_prelude::BlockNumberFor;
use sp_runtime::traits::{CheckedAdd, CheckedSub, Saturating, Zero};

use crate::{pallet::*, traits::ModelCatalog, types::*};

/// A model and its provider list, ready to be written.
type ModelIndexEntry<T> = (
	ModelId,
	BoundedVec<<T as frame_system::Config>::AccountId, <T as Config>::MaxProvidersPerModel>,
);

impl<T: Config> Pallet<T> {
	fn hold_reason() -> T::RuntimeHoldReason {
		HoldReason::ProviderStake.into()
	}

	/// Checks an offer: models known and distinct, capacity positive.
	fn check_offer(offer: &OfferOf<T>) -> DispatchResult {
		ensure!(!offer.models.is_empty(), Error::<T>::NoModels);
		ensure!(offer.capacity > 0, Error::<T>::ZeroCapacity);
		ensure!(offer.price >= T::MinPrice::get(), Error::<T>::PriceBelowMinimum);
		for (i, m) in offer.models.iter().enumerate() {
			ensure!(T::Models::is_servable(*m), Error::<T>::UnknownModel);
			ensure!(!offer.models.iter().take(i).any(|x| x == m), Error::<T>::DuplicateModel);
		}
		Ok(())
	}

	/// Whether `who` can have `amount` more held (keeping the account alive).
	fn ensure_can_hold(who: &T::AccountId, amount: BalanceOf<T>) -> DispatchResult {
		let holdable =
			T::Currency::reducible_balance(who, Preservation::Preserve, Fortitude::Polite);
		ensure!(holdable >= amount, Error::<T>::InsufficientBalance);
		ensure!(
			T::Currency::ensure_can_hold(&Self::hold_reason(), who, amount).is_ok(),
			Error::<T>::InsufficientBalance
		);
		Ok(())
	}

	/// Model lists with `who` added to `models` (not yet written).
	fn index_with(
		who: &T::AccountId,
		models: &[ModelId],
	) -> Result<alloc::vec::Vec<ModelIndexEntry<T>>, DispatchError> {
		let mut out = alloc::vec::Vec::new();
		for m in models {
			let mut list = ModelProviders::<T>::get(m);
			if !list.contains(who) {
				list.try_push(who.clone()).map_err(|_| Error::<T>::ModelProvidersFull)?;
			}
			out.push((*m, list));
		}
		Ok(out)
	}

	fn unindex(who: &T::AccountId, models: &[ModelId]) {
		for m in models {
			ModelProviders::<T>::mutate_exists(m, |list| {
				if let Some(l) = list {
					l.retain(|p| p != who);
					if l.is_empty() {
						*list = None;
					}
				}
			});
		}
	}

	pub(crate) fn do_register(
		who: T::AccountId,
		stake: BalanceOf<T>,
		operator: T::AccountId,
		offer: OfferOf<T>,
	) -> DispatchResult {
		ensure!(!Providers::<T>::contains_key(&who), Error::<T>::AlreadyRegistered);
		ensure!(!Operators::<T>::contains_key(&operator), Error::<T>::OperatorInUse);
		ensure!(stake >= T::MinProviderStake::get(), Error::<T>::StakeBelowMinimum);
		let count = ProviderCount::<T>::get();
		ensure!(count < T::MaxProviders::get(), Error::<T>::TooManyProviders);
		Self::check_offer(&offer)?;
		Self::ensure_can_hold(&who, stake)?;
		let index = Self::index_with(&who, &offer.models)?;

		T::Currency::hold(&Self::hold_reason(), &who, stake)?;
		for (m, list) in index {
			ModelProviders::<T>::insert(m, list);
		}
		Operators::<T>::insert(&operator, &who);
		ProviderCount::<T>::put(count.saturating_add(1));
		Providers::<T>::insert(
			&who,
			ProviderInfo {
				operator: operator.clone(),
				active: stake,
				unlocking: BoundedVec::default(),
				offer,
				status: ProviderStatus::Active,
				tasks_in_flight: 0,
				open_disputes: 0,
				reputation: Reputation::default(),
				jailed_until: Zero::zero(),
			},
		);
		Self::deposit_event(Event::Registered { provider: who, operator, stake });
		Ok(())
	}

	pub(crate) fn do_bond_extra(who: T::AccountId, amount: BalanceOf<T>) -> DispatchResult {
		ensure!(!amount.is_zero(), Error::<T>::ZeroAmount);
		let mut info = Providers::<T>::get(&who).ok_or(Error::<T>::NotProvider)?;
		info.active = info.active.checked_add(&amount).ok_or(Error::<T>::Overflow)?;
		Self::ensure_can_hold(&who, amount)?;
		T::Currency::hold(&Self::hold_reason(), &who, amount)?;
		Providers::<T>::insert(&who, info);
		Self::deposit_event(Event::Bonded { provider: who, amount });
		Ok(())
	}

	pub(crate) fn do_update_offer(who: T::AccountId, offer: OfferOf<T>) -> DispatchResult {
		let mut info = Providers::<T>::get(&who).ok_or(Error::<T>::NotProvider)?;
		Self::check_offer(&offer)?;
		let dropped: alloc::vec::Vec<ModelId> = info
			.offer
			.models
			.iter()
			.filter(|m| !offer.models.contains(m))
			.copied()
			.collect();
		let index = Self::index_with(&who, &offer.models)?;
		Self::unindex(&who, &dropped);
		for (m, list) in index {
			ModelProviders::<T>::insert(m, list);
		}
		info.offer = offer;
		Providers::<T>::insert(&who, info);
		Self::deposit_event(Event::OfferUpdated { provider: who });
		Ok(())
	}

	pub(crate) fn do_set_operator(who: T::AccountId, operator: T::AccountId) -> DispatchResult {
		let mut info = Providers::<T>::get(&who).ok_or(Error::<T>::NotProvider)?;
		ensure!(!Operators::<T>::contains_key(&operator), Error::<T>::OperatorInUse);
		let old = core::mem::replace(&mut info.operator, operator.clone());
		Operators::<T>::remove(&old);
		Operators::<T>::insert(&operator, &who);
		Providers::<T>::insert(&who, info);
		Self::deposit_event(Event::OperatorChanged { provider: who, old, new: operator });
		Ok(())
	}

	pub(crate) fn do_pause(who: T::AccountId) -> DispatchResult {
		let mut info = Providers::<T>::get(&who).ok_or(Error::<T>::NotProvider)?;
		ensure!(info.status == ProviderStatus::Active, Error::<T>::NotActive);
		info.status = ProviderStatus::Paused;
		Providers::<T>::insert(&who, info);
		Self::deposit_event(Event::Paused { provider: who });
		Ok(())
	}

	pub(crate) fn do_resume(who: T::AccountId) -> DispatchResult {
		let mut info = Providers::<T>::get(&who).ok_or(Error::<T>::NotProvider)?;
		ensure!(info.status != ProviderStatus::Active, Error::<T>::NotPaused);
		if info.status == ProviderStatus::Jailed {
			ensure!(
				frame_system::Pallet::<T>::block_number() >= info.jailed_until,
				Error::<T>::StillJailed
			);
		}
		ensure!(info.active >= T::MinProviderStake::get(), Error::<T>::StakeBelowMinimum);
		info.status = ProviderStatus::Active;
		Providers::<T>::insert(&who, info);
		Self::deposit_event(Event::Resumed { provider: who });
		Ok(())
	}

	pub(crate) fn do_unbond(who: T::AccountId, amount: BalanceOf<T>) -> DispatchResult {
		ensure!(!amount.is_zero(), Error::<T>::ZeroAmount);
		let mut info = Providers::<T>::get(&who).ok_or(Error::<T>::NotProvider)?;
		info.active = info.active.checked_sub(&amount).ok_or(Error::<T>::UnbondTooMuch)?;
		let now = frame_system::Pallet::<T>::block_number();
		let unlock_at: BlockNumberFor<T> = now.saturating_add(T::UnbondingPeriod::get());
		info.unlocking
			.try_push(UnlockChunk { amount, unlock_at })
			.map_err(|_| Error::<T>::TooManyUnlockingChunks)?;
		let below = info.active < T::MinProviderStake::get();
		let active = info.active;
		Providers::<T>::insert(&who, info);
		Self::deposit_event(Event::Unbonded { provider: who.clone(), amount, unlock_at });
		if below {
			Self::deposit_event(Event::BelowMinimum { provider: who, active });
		}
		Ok(())
	}

	pub(crate) fn do_withdraw_unbonded(who: T::AccountId) -> DispatchResult {
		let mut info = Providers::<T>::get(&who).ok_or(Error::<T>::NotProvider)?;
		ensure!(info.open_disputes == 0, Error::<T>::DisputeOpen);
		// Stake answers for every task it took: an assigned, committed or disputed task can
		// still be challenged and slashed (docs/protocol.md, "Stake").
		ensure!(info.tasks_in_flight == 0, Error::<T>::TasksInFlight);
		let now = frame_system::Pallet::<T>::block_number();
		let mut ready = BalanceOf::<T>::zero();
		info.unlocking.retain(|c| {
			if c.unlock_at <= now {
				ready = ready.saturating_add(c.amount);
				false
			} else {
				true
			}
		});
		ensure!(!ready.is_zero(), Error::<T>::NothingToWithdraw);
		T::Currency::release(&Self::hold_reason(), &who, ready, Precision::Exact)?;
		Providers::<T>::insert(&who, info);
		Self::deposit_event(Event::Withdrawn { provider: who, amount: ready });
		Ok(())
	}

	pub(crate) fn do_deregister(who: T::AccountId) -> DispatchResult {
		let info = Providers::<T>::get(&who).ok_or(Error::<T>::NotProvider)?;
		ensure!(info.open_disputes == 0, Error::<T>::DisputeOpen);
		ensure!(info.tasks_in_flight == 0, Error::<T>::TasksInFlight);
		ensure!(info.active.is_zero() && info.unlocking.is_empty(), Error::<T>::StakeRemaining);
		Self::unindex(&who, &info.offer.models);
		Operators::<T>::remove(&info.operator);
		Providers::<T>::remove(&who);
		ProviderCount::<T>::mutate(|c| *c = c.saturating_sub(1));
		Self::deposit_event(Event::Deregistered { provider: who });
		Ok(())
	}

	/// Registers a funded provider serving `model` at `price` (benchmarks of other pallets).
	#[cfg(feature = "runtime-benchmarks")]
	pub fn benchmark_provider(
		model: ModelId,
		index: u32,
		price: BalanceOf<T>,
	) -> (T::AccountId, T::AccountId) {
		use frame_support::traits::fungible::Mutate;
		let who: T::AccountId = frame_benchmarking::account("bench-provider", index, 0);
		let operator: T::AccountId = frame_benchmarking::account("bench-operator", index, 0);
		T::Models::make_servable(model);
		let offer = Offer {
			models: BoundedVec::truncate_from(alloc::vec![model]),
			price: price.max(T::MinPrice::get()),
			price_per_token: Zero::zero(),
			capacity: 64,
			endpoint: BoundedVec::default(),
			hardware: Hardware::Gpu,
		};
		let stake = T::MinProviderStake::get()
			.saturating_add(T::Currency::minimum_balance())
			.saturating_mul(2u32.into());
		let _ = T::Currency::set_balance(&who, stake.saturating_mul(3u32.into()));
		let _ = Self::do_register(who.clone(), stake, operator.clone(), offer);
		(who, operator)
	}

	/// Total stake held for `who` according to the ledger.
	pub fn ledger_total(info: &ProviderOf<T>) -> BalanceOf<T> {
		info.unlocking.iter().fold(info.active, |acc, c| acc.saturating_add(c.amount))
	}

	/// The held balance must equal the ledger for every provider (try-runtime and tests).
	pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
		let mut count = 0u32;
		for (who, info) in Providers::<T>::iter() {
			count = count.saturating_add(1);
			let held = T::Currency::balance_on_hold(&Self::hold_reason(), &who);
			ensure!(held == Self::ledger_total(&info), "held stake differs from the ledger");
			ensure!(
				Operators::<T>::get(&info.operator).as_ref() == Some(&who),
				"operator index broken"
			);
			for m in info.offer.models.iter() {
				ensure!(
					ModelProviders::<T>::get(m).contains(&who),
					"model index misses a provider"
				);
			}
		}
		ensure!(count == ProviderCount::<T>::get(), "provider count differs");
		Ok(())
	}
}
