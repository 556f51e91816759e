//! The block hook: deadlines that passed (missed assignments, challenge windows that ended,
//! retries of unassigned tasks) and pruning of finished tasks.

use frame_support::{
	pallet_prelude::*,
	storage::{with_transaction, TransactionOutcome},
};
use frame_system::pallet_prelude::BlockNumberFor;
use sp_runtime::{traits::Zero, Perbill};

use crate::{
	pallet::*, types::*, AuditHooks, Outcome, ProviderSlashing, ReputationRecorder, WeightInfo,
};

impl<T: Config> Pallet<T> {
	/// The hook: every deadline queued for `now`, then every prune. Bounded by
	/// `MaxDeadlinesPerBlock` each.
	pub(crate) fn process_deadlines(now: BlockNumberFor<T>) -> Weight {
		let due = Deadlines::<T>::take(now);
		let pruned = PruneQueue::<T>::take(now);
		for id in due.iter() {
			// A failure (e.g. a payout the currency refuses) leaves the task as it was; anyone
			// can retry it with `finalize`.
			let _ = with_transaction(|| match Self::advance(*id, now) {
				Ok(c) => TransactionOutcome::Commit(Ok::<bool, DispatchError>(c)),
				Err(e) => TransactionOutcome::Rollback(Err(e)),
			});
		}
		for id in pruned.iter() {
			Tasks::<T>::remove(id);
			Self::deposit_event(Event::TaskPruned { task: *id });
		}
		// Each deadline may finalize a task and settle its audit.
		T::WeightInfo::on_initialize(due.len() as u32, pruned.len() as u32)
			.saturating_add(T::Audits::max_finalized_weight().saturating_mul(due.len() as u64))
	}

	/// Moves a task along if one of its deadlines has passed. Returns whether it changed.
	pub(crate) fn advance(id: TaskId, now: BlockNumberFor<T>) -> Result<bool, DispatchError> {
		let Some(mut task) = Tasks::<T>::get(id) else { return Ok(false) };
		match task.status.clone() {
			TaskStatus::Assigned { provider, operator, deadline, .. } if deadline < now => {
				let slashed = T::Providers::slash(
					&provider,
					T::MissedDeadlineSlash::get(),
					&[(T::TreasuryAccount::get(), Perbill::one())],
				)
				.unwrap_or_else(|_| Zero::zero());
				Self::release_provider(id, &provider, &operator);
				T::Providers::record(&provider, Outcome::MissedDeadline);
				Self::deposit_event(Event::DeadlineMissed {
					task: id,
					provider: provider.clone(),
					slashed,
				});
				Self::retry_or_refund(id, &mut task, &[provider], now)?;
			},
			TaskStatus::Committed { window_end, .. } if window_end < now =>
				Self::pay_out(id, &mut task, now)?,
			TaskStatus::Unassigned { retry_at } if retry_at <= now =>
				Self::retry_or_refund(id, &mut task, &[], now)?,
			_ => return Ok(false),
		}
		Tasks::<T>::insert(id, task);
		Ok(true)
	}
}
