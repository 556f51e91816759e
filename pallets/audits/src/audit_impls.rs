//! The draw, attestations, and what the registry's and the challenges pallet's events do to an
//! audit (docs/protocol.md, "Audits").

use alloc::vec::Vec;
use arbiter_interface::{
	AuditHooks, ProviderRegistry, ProviderSelection, ProviderSlashing, TaskDisputes, TaskId,
};
use codec::Encode;
use frame_support::{
	pallet_prelude::*,
	traits::{
		fungible::{Inspect, Mutate},
		tokens::{Fortitude, Preservation},
	},
};
use sp_runtime::{
	traits::{Bounded, Saturating, Zero},
	Perbill,
};

use crate::{pallet::*, AuditorStatus, WeightInfo};

impl<T: Config> Pallet<T> {
	/// The hook: draws every result committed in the previous block, with that block's hash.
	pub(crate) fn draw_pending() -> Weight {
		let pending = PendingDraws::<T>::take();
		if pending.is_empty() {
			return T::WeightInfo::draw(0);
		}
		let randomness = frame_system::Pallet::<T>::parent_hash();
		for task in pending.iter() {
			Self::draw(*task, randomness.as_ref());
		}
		T::WeightInfo::draw(pending.len() as u32)
	}

	/// Whether `task` is audited, and by whom: from `randomness` (the hash of the block the
	/// commit is in, which the committer could not know when it signed). A result with no
	/// eligible auditor (no other active provider of the model with a free slot) is not audited.
	pub(crate) fn draw(task: TaskId, randomness: &[u8]) {
		let Some(subject) = T::Tasks::subject(task) else { return };
		let seed = |k: u32| {
			sp_crypto_hashing::blake2_256(&(b"arbiter/audit", randomness, task, k).encode())
		};
		let roll = seed(0);
		let roll = u32::from_le_bytes([roll[0], roll[1], roll[2], roll[3]]);
		// Audited iff roll / 2^32 < AuditRate.
		if (roll as u64) * 1_000_000_000 >= (T::AuditRate::get().deconstruct() as u64) << 32 {
			return;
		}
		let wanted = T::AuditorsPerAudit::get().min(T::MaxAuditors::get()) as usize;
		// Never the provider, nor its operator's account, nor a provider run by its operator key.
		let mut exclude = Vec::from([subject.provider.clone(), subject.operator.clone()]);
		let mut auditors = BoundedVec::<_, T::MaxAuditors>::new();
		let mut attempt = 1u32;
		while auditors.len() < wanted && attempt <= 2 * T::MaxAuditors::get() + 2 {
			let Some(selected) = T::Providers::select(
				subject.model,
				seed(attempt),
				&exclude,
				BalanceOf::<T>::max_value(),
				0,
			) else {
				break;
			};
			attempt += 1;
			exclude.push(selected.provider.clone());
			if selected.operator == subject.operator {
				continue;
			}
			let _ = auditors.try_push((selected.provider, AuditorStatus::Drawn));
		}
		if auditors.is_empty() {
			return;
		}
		let drawn = auditors.iter().map(|(a, _)| a.clone()).collect::<Vec<_>>();
		OpenAudits::<T>::insert(
			task,
			crate::Audit { provider: subject.provider.clone(), auditors },
		);
		Self::deposit_event(Event::AuditDrawn {
			task,
			provider: subject.provider,
			auditors: BoundedVec::truncate_from(drawn),
		});
	}

	/// The drawn auditor `who` is, or acts for as its operator key.
	fn drawn_auditor(who: &T::AccountId, audit: &AuditOf<T>) -> Option<usize> {
		let position = |a: &T::AccountId| audit.auditors.iter().position(|(x, _)| x == a);
		position(who).or_else(|| T::Providers::provider_of_operator(who).and_then(|p| position(&p)))
	}

	/// Moves the drawn auditor `who` is (or acts for as its operator key) from `Drawn` to
	/// `status`; returns that auditor.
	fn mark_done(
		task: TaskId,
		who: &T::AccountId,
		status: AuditorStatus,
	) -> Result<T::AccountId, Error<T>> {
		let mut audit = OpenAudits::<T>::get(task).ok_or(Error::<T>::NoAudit)?;
		let at = Self::drawn_auditor(who, &audit).ok_or(Error::<T>::NotDrawn)?;
		let entry = audit.auditors.get_mut(at).ok_or(Error::<T>::NotDrawn)?;
		ensure!(entry.1 == AuditorStatus::Drawn, Error::<T>::AlreadyDone);
		entry.1 = status;
		let auditor = entry.0.clone();
		OpenAudits::<T>::insert(task, audit);
		Ok(auditor)
	}

	pub(crate) fn do_attest(who: T::AccountId, task: TaskId) -> DispatchResult {
		let auditor = Self::mark_done(task, &who, AuditorStatus::Attested)?;
		Self::deposit_event(Event::Attested { task, auditor });
		Ok(())
	}

	/// Pays `auditor` `AuditReward` of `price` from the treasury (what it holds, at most).
	fn pay(task: TaskId, auditor: T::AccountId, price: BalanceOf<T>) {
		let treasury = T::TreasuryAccount::get();
		let owed = T::AuditReward::get().mul_floor(price);
		let available =
			T::Currency::reducible_balance(&treasury, Preservation::Preserve, Fortitude::Polite);
		let amount = owed.min(available);
		let amount = if amount.is_zero() {
			amount
		} else {
			T::Currency::transfer(&treasury, &auditor, amount, Preservation::Preserve)
				.unwrap_or_else(|_| Zero::zero())
		};
		Self::deposit_event(Event::AuditorPaid { task, auditor, amount });
	}
}

impl<T: Config> AuditHooks<T::AccountId, BalanceOf<T>> for Pallet<T> {
	fn result_committed(task: TaskId) -> DispatchResult {
		PendingDraws::<T>::try_mutate(|pending| pending.try_push(task))
			.map_err(|_| Error::<T>::TooManyCommits.into())
	}

	fn challenged(task: TaskId, who: &T::AccountId) {
		// Anyone else's challenge (or one of an audit already done) changes no audit.
		if let Ok(auditor) = Self::mark_done(task, who, AuditorStatus::Challenged) {
			Self::deposit_event(Event::AuditorChallenged { task, auditor });
		}
	}

	fn result_finalized(task: TaskId, price: BalanceOf<T>) -> Weight {
		let Some(audit) = OpenAudits::<T>::take(task) else {
			return T::WeightInfo::result_finalized(0);
		};
		let treasury = T::TreasuryAccount::get();
		for (auditor, status) in audit.auditors.iter().cloned() {
			match status {
				AuditorStatus::Attested => Self::pay(task, auditor, price),
				AuditorStatus::Drawn => {
					let slashed = T::Providers::slash(
						&auditor,
						T::SilencePenalty::get(),
						&[(treasury.clone(), Perbill::one())],
					)
					.unwrap_or_else(|_| Zero::zero());
					Self::deposit_event(Event::SilentAuditorSlashed { task, auditor, slashed });
				},
				AuditorStatus::Challenged => {},
			}
		}
		Self::deposit_event(Event::AuditClosed { task });
		T::WeightInfo::result_finalized(audit.auditors.len() as u32)
	}

	fn result_disproven(task: TaskId, challenger: &T::AccountId) -> Weight {
		let Some(audit) = OpenAudits::<T>::take(task) else {
			return T::WeightInfo::result_disproven(0);
		};
		let share = T::ChallengerRewardShare::get();
		let beneficiaries = [
			(challenger.clone(), share),
			(T::TreasuryAccount::get(), Perbill::one().saturating_sub(share)),
		];
		for (auditor, status) in audit.auditors.iter().cloned() {
			if status == AuditorStatus::Attested {
				let slashed =
					T::Providers::slash(&auditor, T::AttestationSlash::get(), &beneficiaries)
						.unwrap_or_else(|_| Zero::zero());
				Self::deposit_event(Event::FalseAttestationSlashed { task, auditor, slashed });
			}
		}
		Self::deposit_event(Event::AuditClosed { task });
		T::WeightInfo::result_disproven(audit.auditors.len() as u32)
	}

	fn max_committed_weight() -> Weight {
		T::WeightInfo::result_committed()
	}

	fn max_challenged_weight() -> Weight {
		T::WeightInfo::challenged()
	}

	fn max_finalized_weight() -> Weight {
		T::WeightInfo::result_finalized(T::MaxAuditors::get())
	}

	fn max_disproven_weight() -> Weight {
		T::WeightInfo::result_disproven(T::MaxAuditors::get())
	}
}
