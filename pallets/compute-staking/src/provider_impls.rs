//! The traits other pallets use: selection, capacity, disputes, reputation, slashing.

use frame_support::{
	ensure,
	pallet_prelude::*,
	storage::{with_transaction, TransactionOutcome},
	traits::{
		fungible::MutateHold,
		tokens::{Fortitude, Precision, Restriction},
	},
};
use sp_runtime::{
	traits::{Saturating, UniqueSaturatedInto, Zero},
	Perbill,
};

use crate::{pallet::*, traits::*, types::*};

impl<T: Config> Pallet<T> {
	/// Whether a provider record takes new tasks.
	pub fn takes_tasks(info: &ProviderOf<T>) -> bool {
		info.status == ProviderStatus::Active && info.active >= T::MinProviderStake::get()
	}

	/// Selection weight: active stake scaled by the reputation score.
	pub fn selection_weight(info: &ProviderOf<T>) -> u128 {
		let stake: u128 = info.active.unique_saturated_into();
		info.reputation.score().mul_floor(stake)
	}

	/// Takes `amount` out of the ledger: active stake first, then the newest unlocking chunks.
	fn debit_ledger(info: &mut ProviderOf<T>, mut amount: BalanceOf<T>) {
		let from_active = amount.min(info.active);
		info.active = info.active.saturating_sub(from_active);
		amount = amount.saturating_sub(from_active);
		for chunk in info.unlocking.iter_mut().rev() {
			if amount.is_zero() {
				break;
			}
			let take = amount.min(chunk.amount);
			chunk.amount = chunk.amount.saturating_sub(take);
			amount = amount.saturating_sub(take);
		}
		info.unlocking.retain(|c| !c.amount.is_zero());
	}

	fn do_slash(
		provider: &T::AccountId,
		fraction: Perbill,
		beneficiaries: &[(T::AccountId, Perbill)],
	) -> Result<BalanceOf<T>, DispatchError> {
		let total_share = beneficiaries
			.iter()
			.fold(0u64, |acc, (_, s)| acc.saturating_add(s.deconstruct() as u64));
		ensure!(!beneficiaries.is_empty() && total_share == 1_000_000_000, Error::<T>::BadShares);
		let mut info = Providers::<T>::get(provider).ok_or(Error::<T>::NotProvider)?;
		let amount = fraction.mul_floor(Self::ledger_total(&info));
		let reason: T::RuntimeHoldReason = HoldReason::ProviderStake.into();
		let mut paid = BalanceOf::<T>::zero();
		let last = beneficiaries.len().saturating_sub(1);
		for (i, (who, share)) in beneficiaries.iter().enumerate() {
			// The last beneficiary takes the rounding dust, so exactly `amount` moves.
			let part =
				if i == last { amount.saturating_sub(paid) } else { share.mul_floor(amount) };
			if part.is_zero() {
				continue;
			}
			T::Currency::transfer_on_hold(
				&reason,
				provider,
				who,
				part,
				Precision::Exact,
				Restriction::Free,
				Fortitude::Force,
			)?;
			paid = paid.saturating_add(part);
		}
		Self::debit_ledger(&mut info, amount);
		info.status = ProviderStatus::Jailed;
		info.jailed_until =
			frame_system::Pallet::<T>::block_number().saturating_add(T::MinJailPeriod::get());
		Providers::<T>::insert(provider, info);
		Self::deposit_event(Event::Slashed { provider: provider.clone(), amount });
		Self::deposit_event(Event::Jailed { provider: provider.clone() });
		Ok(amount)
	}
}

impl<T: Config> ProviderSlashing<T::AccountId, BalanceOf<T>> for Pallet<T> {
	fn slash(
		provider: &T::AccountId,
		fraction: Perbill,
		beneficiaries: &[(T::AccountId, Perbill)],
	) -> Result<BalanceOf<T>, DispatchError> {
		// All or nothing, also when called from a hook.
		with_transaction(|| match Self::do_slash(provider, fraction, beneficiaries) {
			Ok(a) => TransactionOutcome::Commit(Ok(a)),
			Err(e) => TransactionOutcome::Rollback(Err(e)),
		})
	}
}

impl<T: Config> ProviderSelection<T::AccountId, BalanceOf<T>> for Pallet<T> {
	fn select(
		model: ModelId,
		seed: [u8; 32],
		exclude: &[T::AccountId],
		max_price: BalanceOf<T>,
		new_tokens: u32,
	) -> Option<Selected<T::AccountId, BalanceOf<T>>> {
		// At most `MaxProvidersPerModel` reads: bounded work.
		let candidates: alloc::vec::Vec<(T::AccountId, ProviderOf<T>, u128)> =
			ModelProviders::<T>::get(model)
				.into_iter()
				.filter(|p| !exclude.contains(p))
				.filter_map(|p| Providers::<T>::get(&p).map(|info| (p, info)))
				.filter(|(_, info)| {
					// An offer priced below a raised minimum takes nothing until it is updated.
					let asks = info
						.offer
						.price_per_token
						.saturating_mul(new_tokens.into())
						.saturating_add(info.offer.price);
					let priced = info.offer.price >= T::MinPrice::get() && asks <= max_price;
					Self::takes_tasks(info) && info.tasks_in_flight < info.offer.capacity && priced
				})
				.map(|(p, info)| {
					let w = Self::selection_weight(&info);
					(p, info, w)
				})
				.filter(|(_, _, w)| *w > 0)
				.collect();
		let total = candidates.iter().fold(0u128, |acc, (_, _, w)| acc.saturating_add(*w));
		if total == 0 {
			return None;
		}
		let digest = sp_crypto_hashing::blake2_256(&seed);
		let mut bytes = [0u8; 16];
		bytes.copy_from_slice(digest.get(..16)?);
		let mut point = u128::from_le_bytes(bytes) % total;
		for (provider, info, w) in candidates {
			if point < w {
				return Some(Selected {
					provider,
					operator: info.operator,
					price: info.offer.price,
					price_per_token: info.offer.price_per_token,
				});
			}
			point = point.saturating_sub(w);
		}
		None
	}
}

impl<T: Config> CapacityAccounting<T::AccountId> for Pallet<T> {
	fn reserve(provider: &T::AccountId) -> DispatchResult {
		Providers::<T>::try_mutate(provider, |maybe| {
			let info = maybe.as_mut().ok_or(Error::<T>::NotProvider)?;
			ensure!(info.tasks_in_flight < info.offer.capacity, Error::<T>::NoCapacity);
			info.tasks_in_flight = info.tasks_in_flight.saturating_add(1);
			Ok(())
		})
	}

	fn release(provider: &T::AccountId) {
		Providers::<T>::mutate(provider, |maybe| {
			if let Some(info) = maybe {
				info.tasks_in_flight = info.tasks_in_flight.saturating_sub(1);
			}
		});
	}
}

impl<T: Config> DisputeTracking<T::AccountId> for Pallet<T> {
	fn dispute_opened(provider: &T::AccountId) -> DispatchResult {
		Providers::<T>::try_mutate(provider, |maybe| {
			let info = maybe.as_mut().ok_or(Error::<T>::NotProvider)?;
			info.open_disputes = info.open_disputes.saturating_add(1);
			Ok(())
		})
	}

	fn dispute_closed(provider: &T::AccountId) {
		Providers::<T>::mutate(provider, |maybe| {
			if let Some(info) = maybe {
				info.open_disputes = info.open_disputes.saturating_sub(1);
			}
		});
	}
}

impl<T: Config> ReputationRecorder<T::AccountId> for Pallet<T> {
	fn record(provider: &T::AccountId, outcome: Outcome) {
		Providers::<T>::mutate(provider, |maybe| {
			if let Some(info) = maybe {
				let r = &mut info.reputation;
				match outcome {
					Outcome::Completed => r.completed = r.completed.saturating_add(1),
					Outcome::MissedDeadline => r.missed = r.missed.saturating_add(1),
					Outcome::DisputeWon => r.disputes_won = r.disputes_won.saturating_add(1),
					Outcome::DisputeLost => r.disputes_lost = r.disputes_lost.saturating_add(1),
				}
			}
		});
	}
}

impl<T: Config> ProviderRegistry<T::AccountId> for Pallet<T> {
	fn provider_of_operator(operator: &T::AccountId) -> Option<T::AccountId> {
		Operators::<T>::get(operator)
	}

	fn is_active(provider: &T::AccountId) -> bool {
		Providers::<T>::get(provider).is_some_and(|i| Self::takes_tasks(&i))
	}
}
