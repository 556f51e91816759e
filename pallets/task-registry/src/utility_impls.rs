//! Helpers shared by the calls, the hook and the dispute interface (escrow, assignment, payout,
//! refund, the deadline queues), and the getters the runtime API reads.

use frame_support::{
	ensure,
	pallet_prelude::*,
	traits::{
		fungible::{InspectHold, MutateHold},
		tokens::{Fortitude, Precision, Restriction},
	},
};
use frame_system::pallet_prelude::BlockNumberFor;
use sp_runtime::traits::{Saturating, Zero};

use crate::{
	pallet::*, types::*, AuditHooks, CapacityAccounting, Outcome, ProviderSelection,
	ReputationRecorder,
};

/// How far past its block a deadline may be queued when that block's queue is full.
const QUEUE_SPILL: u32 = 8;

impl<T: Config> Pallet<T> {
	pub(crate) fn escrow_reason() -> T::RuntimeHoldReason {
		HoldReason::TaskEscrow.into()
	}

	/// Queues `task` for block `at`, spilling into the next blocks if `at` is full.
	pub(crate) fn enqueue(
		at: BlockNumberFor<T>,
		task: TaskId,
	) -> Result<BlockNumberFor<T>, DispatchError> {
		let mut block = at;
		for _ in 0..=QUEUE_SPILL {
			let pushed = Deadlines::<T>::mutate(block, |q| q.try_push(task).is_ok());
			if pushed {
				return Ok(block);
			}
			block = block.saturating_add(1u32.into());
		}
		Err(Error::<T>::DeadlineQueueFull.into())
	}

	pub(crate) fn schedule_prune(now: BlockNumberFor<T>, task: TaskId) {
		let mut block = now.saturating_add(T::RetentionPeriod::get());
		for _ in 0..=QUEUE_SPILL {
			if PruneQueue::<T>::mutate(block, |q| q.try_push(task).is_ok()) {
				return;
			}
			block = block.saturating_add(1u32.into());
		}
		// Every queue is full: the task stays readable longer; nothing is lost.
	}

	/// Picks a provider (stake × reputation weighted) or leaves the task unassigned until a
	/// retry. Updates `task` in place; the caller stores it.
	pub(crate) fn assign(
		id: TaskId,
		task: &mut TaskOf<T>,
		exclude: &[T::AccountId],
	) -> DispatchResult {
		let now = frame_system::Pallet::<T>::block_number();
		let parent = frame_system::Pallet::<T>::parent_hash();
		let seed = sp_crypto_hashing::blake2_256(&(parent, id, task.assignments).encode());
		task.assignments = task.assignments.saturating_add(1);
		let due = now.saturating_add(T::AssignmentTimeout::get());
		// A generation's escrow covers the provider's price and its most new tokens.
		let new_tokens = match task.request {
			TaskRequest::Embedding => 0,
			TaskRequest::Generation { max_new_tokens, .. } => max_new_tokens,
		};
		let picked = T::Providers::select(task.model, seed, exclude, task.max_fee, new_tokens)
			.filter(|s| T::Providers::reserve(&s.provider).is_ok());
		match picked {
			Some(s) => {
				// Commits are accepted up to `deadline`; the timeout runs one block later.
				let queued = Self::enqueue(due.saturating_add(1u32.into()), id)?;
				let deadline = queued.saturating_sub(1u32.into());
				OperatorTasks::<T>::insert(&s.operator, id, ());
				task.price_per_token =
					if new_tokens == 0 { Zero::zero() } else { s.price_per_token };
				task.status = TaskStatus::Assigned {
					provider: s.provider.clone(),
					operator: s.operator.clone(),
					price: s.price,
					deadline,
				};
				Self::deposit_event(Event::TaskAssigned {
					task: id,
					provider: s.provider,
					operator: s.operator,
					price: s.price,
					price_per_token: task.price_per_token,
					deadline,
				});
			},
			None => {
				let retry_at = Self::enqueue(due, id)?;
				task.status = TaskStatus::Unassigned { retry_at };
				Self::deposit_event(Event::TaskUnassigned { task: id, retry_at });
			},
		}
		Ok(())
	}

	/// Ends a task's provider involvement: frees its slot and the operator index.
	pub(crate) fn release_provider(id: TaskId, provider: &T::AccountId, operator: &T::AccountId) {
		T::Providers::release(provider);
		OperatorTasks::<T>::remove(operator, id);
	}

	pub(crate) fn refund(
		id: TaskId,
		task: &mut TaskOf<T>,
		now: BlockNumberFor<T>,
	) -> DispatchResult {
		T::Currency::release(
			&Self::escrow_reason(),
			&task.submitter,
			task.max_fee,
			Precision::Exact,
		)?;
		task.status = TaskStatus::Refunded { at: now };
		Self::schedule_prune(now, id);
		Self::deposit_event(Event::TaskRefunded {
			task: id,
			submitter: task.submitter.clone(),
			amount: task.max_fee,
		});
		Ok(())
	}

	/// Reassigns after a failure, or refunds once `MaxReassignments` is used up.
	pub(crate) fn retry_or_refund(
		id: TaskId,
		task: &mut TaskOf<T>,
		exclude: &[T::AccountId],
		now: BlockNumberFor<T>,
	) -> DispatchResult {
		if task.assignments <= T::MaxReassignments::get() {
			Self::assign(id, task, exclude)
		} else {
			Self::refund(id, task, now)
		}
	}

	/// Pays a committed task whose window has passed.
	pub(crate) fn pay_out(
		id: TaskId,
		task: &mut TaskOf<T>,
		now: BlockNumberFor<T>,
	) -> DispatchResult {
		let TaskStatus::Committed { provider, operator, price, output, trace_root, .. } =
			task.status.clone()
		else {
			return Err(Error::<T>::NotFinalizable.into());
		};
		let reason = Self::escrow_reason();
		let price = price.min(task.max_fee);
		let fee = T::ProtocolFee::get().mul_floor(price);
		let paid = price.saturating_sub(fee);
		let refunded = task.max_fee.saturating_sub(price);
		let pay = |to: &T::AccountId, amount: BalanceOf<T>| -> DispatchResult {
			if !amount.is_zero() {
				T::Currency::transfer_on_hold(
					&reason,
					&task.submitter,
					to,
					amount,
					Precision::Exact,
					Restriction::Free,
					Fortitude::Force,
				)?;
			}
			Ok(())
		};
		pay(&provider, paid)?;
		pay(&T::TreasuryAccount::get(), fee)?;
		if !refunded.is_zero() {
			T::Currency::release(&reason, &task.submitter, refunded, Precision::Exact)?;
		}
		Self::release_provider(id, &provider, &operator);
		T::Providers::record(&provider, Outcome::Completed);
		// Attesting auditors are paid, silent ones penalised (docs/protocol.md, "Audits").
		T::Audits::result_finalized(id, price);
		task.status =
			TaskStatus::Finalized { provider: provider.clone(), output, trace_root, at: now };
		Self::schedule_prune(now, id);
		Self::deposit_event(Event::TaskFinalized { task: id, provider, paid, fee, refunded });
		Ok(())
	}

	/// Held escrow per submitter equals `max_fee` of its open tasks (try-runtime and tests).
	pub fn task_escrow_consistent(who: &T::AccountId) -> bool {
		use frame_support::traits::fungible::InspectHold;
		let open = Tasks::<T>::iter_values()
			.filter(|t| &t.submitter == who)
			.filter(|t| {
				!matches!(
					t.status,
					TaskStatus::Finalized { .. } |
						TaskStatus::Refunded { .. } |
						TaskStatus::Cancelled { .. }
				)
			})
			.fold(BalanceOf::<T>::zero(), |acc, t| acc.saturating_add(t.max_fee));
		T::Currency::balance_on_hold(&Self::escrow_reason(), who) == open
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
			ensure!(
				T::Currency::balance_on_hold(&reason, &owner) == expected,
				"model deposits differ from holds"
			);
		}
		Ok(())
	}
}

impl<T: Config> Pallet<T> {
	/// A registered model (its commitments, bounds and status).
	pub fn model(id: ModelId) -> Option<ModelOf<T>> {
		Models::<T>::get(id)
	}

	/// Open tasks of `operator` (runtime API).
	pub fn operator_tasks(operator: &T::AccountId) -> alloc::vec::Vec<TaskId> {
		OperatorTasks::<T>::iter_key_prefix(operator).collect()
	}

	/// Tasks with a deadline in `from..=to`, scanning at most 1,024 blocks (runtime API).
	pub fn tasks_due(from: BlockNumberFor<T>, to: BlockNumberFor<T>) -> alloc::vec::Vec<TaskId> {
		let mut out = alloc::vec::Vec::new();
		let mut block = from;
		let mut scanned = 0u32;
		while block <= to && scanned < 1024 {
			out.extend(Deadlines::<T>::get(block));
			block = block.saturating_add(1u32.into());
			scanned = scanned.saturating_add(1);
		}
		out
	}
}
