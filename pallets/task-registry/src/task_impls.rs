//! The task lifecycle: submit, assign, commit, deadlines, finalize, refund, prune, and the
//! trait the challenges pallet uses to freeze and resolve disputed tasks.

use frame_support::{
	ensure,
	pallet_prelude::*,
	storage::{with_transaction, TransactionOutcome},
	traits::{
		fungible::{Inspect, MutateHold},
		tokens::{Fortitude, Precision, Preservation, Restriction},
	},
};
use frame_system::pallet_prelude::BlockNumberFor;
use sp_core::H256;
use sp_runtime::{
	traits::{Saturating, Zero},
	Perbill,
};

use crate::{
	pallet::*, types::*, CapacityAccounting, Outcome, ProviderSelection, ProviderSlashing, ReputationRecorder,
	WeightInfo,
};

/// How far past its block a deadline may be queued when that block's queue is full.
const QUEUE_SPILL: u32 = 8;

/// What a committed task's disputes are ruled against besides the trace root: the values the
/// verifier does not recompute.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CommittedResult {
	/// The task's token ids.
	pub input: alloc::vec::Vec<u32>,
	/// The committed output bytes.
	pub output: alloc::vec::Vec<u8>,
}

/// What the challenges pallet needs to know about a committed task.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct DisputeSubject<AccountId> {
	pub provider: AccountId,
	pub operator: AccountId,
	pub submitter: AccountId,
	pub model: ModelId,
	pub trace_root: H256,
}

/// Freezing and resolving tasks under dispute. Several disputes may be open on one task at once
/// (the challenges pallet bounds how many): a decoy challenge cannot shield a wrong result.
pub trait TaskDisputes<AccountId> {
	/// The task's parties and commitments, if it is committed (disputed or not) and inside its
	/// window.
	fn subject(task: TaskId) -> Option<DisputeSubject<AccountId>>;
	/// The task's input and committed output, while it is committed or disputed.
	fn committed_result(task: TaskId) -> Option<CommittedResult>;
	/// One more dispute is open: the task cannot finalize until every one is resolved.
	fn freeze(task: TaskId) -> DispatchResult;
	/// Ends one dispute. Provider won: when it was the last one open, the task is committed
	/// again with its window extended, if need be, to `reopen_for` blocks after now.
	/// Provider lost: its slot is freed and the task is reassigned or refunded (the caller
	/// dismisses the task's other disputes).
	fn resolve(task: TaskId, provider_won: bool, reopen_for: u32) -> DispatchResult;
}

impl<T: Config> Pallet<T> {
	fn escrow_reason() -> T::RuntimeHoldReason {
		HoldReason::TaskEscrow.into()
	}

	/// Queues `task` for block `at`, spilling into the next blocks if `at` is full.
	fn enqueue(at: BlockNumberFor<T>, task: TaskId) -> Result<BlockNumberFor<T>, DispatchError> {
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

	fn schedule_prune(now: BlockNumberFor<T>, task: TaskId) {
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
	fn assign(id: TaskId, task: &mut TaskOf<T>, exclude: &[T::AccountId]) -> DispatchResult {
		let now = frame_system::Pallet::<T>::block_number();
		let parent = frame_system::Pallet::<T>::parent_hash();
		let seed = sp_crypto_hashing::blake2_256(&(parent, id, task.assignments).encode());
		task.assignments = task.assignments.saturating_add(1);
		let due = now.saturating_add(T::AssignmentTimeout::get());
		let picked = T::Providers::select(task.model, seed, exclude, task.max_fee)
			.filter(|s| T::Providers::reserve(&s.provider).is_ok());
		match picked {
			Some(s) => {
				// Commits are accepted up to `deadline`; the timeout runs one block later.
				let queued = Self::enqueue(due.saturating_add(1u32.into()), id)?;
				let deadline = queued.saturating_sub(1u32.into());
				OperatorTasks::<T>::insert(&s.operator, id, ());
				task.status = TaskStatus::Assigned {
					provider: s.provider.clone(),
					operator: s.operator.clone(),
					price: s.price,
					deadline,
				};
				Self::deposit_event(Event::TaskAssigned { task: id, provider: s.provider, operator: s.operator, price: s.price, deadline });
			},
			None => {
				let retry_at = Self::enqueue(due, id)?;
				task.status = TaskStatus::Unassigned { retry_at };
				Self::deposit_event(Event::TaskUnassigned { task: id, retry_at });
			},
		}
		Ok(())
	}

	pub(crate) fn do_submit_task(
		who: T::AccountId,
		model: ModelId,
		input: BoundedVec<u32, T::MaxInputTokens>,
		max_fee: BalanceOf<T>,
	) -> DispatchResult {
		let io = Models::<T>::get(model).filter(|m| m.status == ModelStatus::Approved).ok_or(Error::<T>::ModelNotApproved)?.io;
		// Exactly what the engine runs (docs/protocol.md, "Inputs are the task's").
		let InputKind::TokenIds { vocabulary } = io.input;
		ensure!(!input.is_empty() && input.len() as u32 <= io.max_input_tokens, Error::<T>::BadInputLength);
		ensure!(input.iter().all(|id| *id < vocabulary), Error::<T>::TokenIdOutOfRange);
		let holdable = T::Currency::reducible_balance(&who, Preservation::Preserve, Fortitude::Polite);
		ensure!(holdable >= max_fee, Error::<T>::CannotPayFee);
		let id = NextTaskId::<T>::get();
		let next = id.checked_add(1).ok_or(Error::<T>::Overflow)?;
		let now = frame_system::Pallet::<T>::block_number();
		// All or nothing: the hold, the assignment and the queues.
		with_transaction(|| {
			let result = (|| {
				T::Currency::hold(&Self::escrow_reason(), &who, max_fee)?;
				let mut task = TaskInfo {
					submitter: who.clone(),
					model,
					input,
					max_fee,
					submitted_at: now,
					assignments: 0,
					challenge_window: T::ChallengeWindow::get(),
					status: TaskStatus::Unassigned { retry_at: now },
				};
				Self::deposit_event(Event::TaskSubmitted { task: id, submitter: who.clone(), model, max_fee });
				Self::assign(id, &mut task, &[])?;
				NextTaskId::<T>::put(next);
				Tasks::<T>::insert(id, task);
				Ok(())
			})();
			match result {
				Ok(()) => TransactionOutcome::Commit(Ok(())),
				Err(e) => TransactionOutcome::Rollback(Err(e)),
			}
		})
	}

	pub(crate) fn do_cancel_task(who: T::AccountId, id: TaskId) -> DispatchResult {
		let mut task = Tasks::<T>::get(id).ok_or(Error::<T>::UnknownTask)?;
		ensure!(task.submitter == who, Error::<T>::NotSubmitter);
		ensure!(matches!(task.status, TaskStatus::Unassigned { .. }), Error::<T>::AlreadyAssigned);
		T::Currency::release(&Self::escrow_reason(), &who, task.max_fee, Precision::Exact)?;
		let now = frame_system::Pallet::<T>::block_number();
		task.status = TaskStatus::Cancelled { at: now };
		Tasks::<T>::insert(id, task);
		Self::schedule_prune(now, id);
		Self::deposit_event(Event::TaskCancelled { task: id });
		Ok(())
	}

	pub(crate) fn do_commit_result(
		who: T::AccountId,
		id: TaskId,
		output: BoundedVec<u8, T::MaxOutputLen>,
		trace_root: H256,
	) -> DispatchResult {
		let mut task = Tasks::<T>::get(id).ok_or(Error::<T>::UnknownTask)?;
		let TaskStatus::Assigned { provider, operator, price, deadline } = task.status.clone() else {
			return Err(Error::<T>::NotAwaitingResult.into());
		};
		ensure!(operator == who, Error::<T>::NotAssignedOperator);
		let now = frame_system::Pallet::<T>::block_number();
		ensure!(now <= deadline, Error::<T>::DeadlinePassed);
		ensure!(!output.is_empty() && output.len() as u32 <= T::MaxOutputBytes::get(), Error::<T>::BadOutputLength);
		// The challenge ends after `window_end`: finalization runs one block later.
		let queued = Self::enqueue(now.saturating_add(task.challenge_window).saturating_add(1u32.into()), id)?;
		let window_end = queued.saturating_sub(1u32.into());
		task.status = TaskStatus::Committed { provider: provider.clone(), operator, price, output, trace_root, window_end };
		Tasks::<T>::insert(id, task);
		Self::deposit_event(Event::ResultCommitted { task: id, provider, trace_root, window_end });
		Ok(())
	}

	/// Ends a task's provider involvement: frees its slot and the operator index.
	fn release_provider(id: TaskId, provider: &T::AccountId, operator: &T::AccountId) {
		T::Providers::release(provider);
		OperatorTasks::<T>::remove(operator, id);
	}

	fn refund(id: TaskId, task: &mut TaskOf<T>, now: BlockNumberFor<T>) -> DispatchResult {
		T::Currency::release(&Self::escrow_reason(), &task.submitter, task.max_fee, Precision::Exact)?;
		task.status = TaskStatus::Refunded { at: now };
		Self::schedule_prune(now, id);
		Self::deposit_event(Event::TaskRefunded { task: id, submitter: task.submitter.clone(), amount: task.max_fee });
		Ok(())
	}

	/// Reassigns after a failure, or refunds once `MaxReassignments` is used up.
	fn retry_or_refund(id: TaskId, task: &mut TaskOf<T>, exclude: &[T::AccountId], now: BlockNumberFor<T>) -> DispatchResult {
		if task.assignments <= T::MaxReassignments::get() {
			Self::assign(id, task, exclude)
		} else {
			Self::refund(id, task, now)
		}
	}

	/// Pays a committed task whose window has passed.
	fn pay_out(id: TaskId, task: &mut TaskOf<T>, now: BlockNumberFor<T>) -> DispatchResult {
		let TaskStatus::Committed { provider, operator, price, output, trace_root, .. } = task.status.clone() else {
			return Err(Error::<T>::NotFinalizable.into());
		};
		let reason = Self::escrow_reason();
		let price = price.min(task.max_fee);
		let fee = T::ProtocolFee::get().mul_floor(price);
		let paid = price.saturating_sub(fee);
		let refunded = task.max_fee.saturating_sub(price);
		let pay = |to: &T::AccountId, amount: BalanceOf<T>| -> DispatchResult {
			if !amount.is_zero() {
				T::Currency::transfer_on_hold(&reason, &task.submitter, to, amount, Precision::Exact, Restriction::Free, Fortitude::Force)?;
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
		task.status = TaskStatus::Finalized { provider: provider.clone(), output, trace_root, at: now };
		Self::schedule_prune(now, id);
		Self::deposit_event(Event::TaskFinalized { task: id, provider, paid, fee, refunded });
		Ok(())
	}

	/// Moves a task along if one of its deadlines has passed. Returns whether it changed.
	fn advance(id: TaskId, now: BlockNumberFor<T>) -> Result<bool, DispatchError> {
		let Some(mut task) = Tasks::<T>::get(id) else { return Ok(false) };
		match task.status.clone() {
			TaskStatus::Assigned { provider, operator, deadline, .. } if deadline < now => {
				let slashed = T::Providers::slash(&provider, T::MissedDeadlineSlash::get(), &[(T::TreasuryAccount::get(), Perbill::one())])
					.unwrap_or_else(|_| Zero::zero());
				Self::release_provider(id, &provider, &operator);
				T::Providers::record(&provider, Outcome::MissedDeadline);
				Self::deposit_event(Event::DeadlineMissed { task: id, provider: provider.clone(), slashed });
				Self::retry_or_refund(id, &mut task, &[provider], now)?;
			},
			TaskStatus::Committed { window_end, .. } if window_end < now => Self::pay_out(id, &mut task, now)?,
			TaskStatus::Unassigned { retry_at } if retry_at <= now => Self::retry_or_refund(id, &mut task, &[], now)?,
			_ => return Ok(false),
		}
		Tasks::<T>::insert(id, task);
		Ok(true)
	}

	/// `finalize(task)`: advances a task whose deadline has passed, or says why it cannot.
	pub(crate) fn do_finalize_checked(id: TaskId) -> DispatchResult {
		ensure!(Tasks::<T>::contains_key(id), Error::<T>::UnknownTask);
		let now = frame_system::Pallet::<T>::block_number();
		let changed = with_transaction(|| match Self::advance(id, now) {
			Ok(c) => TransactionOutcome::Commit(Ok(c)),
			Err(e) => TransactionOutcome::Rollback(Err(e)),
		})?;
		ensure!(changed, Error::<T>::NotFinalizable);
		Ok(())
	}

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
		T::WeightInfo::on_initialize(due.len() as u32, pruned.len() as u32)
	}

	/// Held escrow per submitter equals `max_fee` of its open tasks (try-runtime and tests).
	pub fn task_escrow_consistent(who: &T::AccountId) -> bool {
		use frame_support::traits::fungible::InspectHold;
		let open = Tasks::<T>::iter_values()
			.filter(|t| &t.submitter == who)
			.filter(|t| {
				!matches!(t.status, TaskStatus::Finalized { .. } | TaskStatus::Refunded { .. } | TaskStatus::Cancelled { .. })
			})
			.fold(BalanceOf::<T>::zero(), |acc, t| acc.saturating_add(t.max_fee));
		T::Currency::balance_on_hold(&Self::escrow_reason(), who) == open
	}
}

impl<T: Config> TaskDisputes<T::AccountId> for Pallet<T> {
	fn subject(id: TaskId) -> Option<DisputeSubject<T::AccountId>> {
		let task = Tasks::<T>::get(id)?;
		let now = frame_system::Pallet::<T>::block_number();
		match task.status {
			TaskStatus::Committed { provider, operator, trace_root, window_end, .. } |
			TaskStatus::Disputed { provider, operator, trace_root, window_end, .. }
				if now <= window_end =>
				Some(DisputeSubject { provider, operator, submitter: task.submitter, model: task.model, trace_root }),
			_ => None,
		}
	}

	fn committed_result(id: TaskId) -> Option<CommittedResult> {
		let task = Tasks::<T>::get(id)?;
		match task.status {
			TaskStatus::Committed { output, .. } | TaskStatus::Disputed { output, .. } => {
				Some(CommittedResult { input: task.input.into_inner(), output: output.into_inner() })
			},
			_ => None,
		}
	}

	fn freeze(id: TaskId) -> DispatchResult {
		let mut task = Tasks::<T>::get(id).ok_or(Error::<T>::UnknownTask)?;
		let now = frame_system::Pallet::<T>::block_number();
		match task.status.clone() {
			TaskStatus::Committed { provider, operator, price, output, trace_root, window_end } if now <= window_end => {
				task.status = TaskStatus::Disputed { provider, operator, price, output, trace_root, window_end, open: 1 };
				Self::deposit_event(Event::TaskFrozen { task: id });
			},
			TaskStatus::Disputed { provider, operator, price, output, trace_root, window_end, open } if now <= window_end => {
				let open = open.checked_add(1).ok_or(Error::<T>::Overflow)?;
				task.status = TaskStatus::Disputed { provider, operator, price, output, trace_root, window_end, open };
			},
			_ => return Err(Error::<T>::NotChallengeable.into()),
		}
		Tasks::<T>::insert(id, task);
		Ok(())
	}

	fn resolve(id: TaskId, provider_won: bool, reopen_for: u32) -> DispatchResult {
		let mut task = Tasks::<T>::get(id).ok_or(Error::<T>::UnknownTask)?;
		let now = frame_system::Pallet::<T>::block_number();
		let TaskStatus::Disputed { provider, operator, price, output, trace_root, window_end, open } = task.status.clone() else {
			return Err(Error::<T>::NotDisputed.into());
		};
		if provider_won && open > 1 {
			T::Providers::record(&provider, Outcome::DisputeWon);
			task.status = TaskStatus::Disputed { provider, operator, price, output, trace_root, window_end, open: open - 1 };
		} else if provider_won {
			// At least `reopen_for` blocks after the ruling: a challenge that did not land
			// before it (a decoy took the last blocks, a transaction was dropped) can be sent again.
			let wanted = window_end.max(now.saturating_add(reopen_for.into()));
			let window_end = if wanted == window_end && window_end >= now {
				// Its finalization is still queued for `window_end + 1`.
				window_end
			} else {
				Self::enqueue(wanted.saturating_add(1u32.into()), id)?.saturating_sub(1u32.into())
			};
			T::Providers::record(&provider, Outcome::DisputeWon);
			task.status = TaskStatus::Committed { provider, operator, price, output, trace_root, window_end };
			Self::deposit_event(Event::TaskUnfrozen { task: id, window_end });
		} else {
			Self::release_provider(id, &provider, &operator);
			T::Providers::record(&provider, Outcome::DisputeLost);
			Self::retry_or_refund(id, &mut task, &[provider], now)?;
		}
		Tasks::<T>::insert(id, task);
		Ok(())
	}
}

impl<T: Config> Pallet<T> {
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

#[cfg(feature = "runtime-benchmarks")]
impl<T: Config> Pallet<T> {
	/// Registers and approves a model with these commitments, registers a provider, submits a
	/// task and commits `trace_root` for it (benchmarks of other pallets). Returns the task id.
	pub fn benchmark_committed_task(
		descriptor_hash: H256,
		model_root: H256,
		max_row_width: u32,
		trace_root: H256,
		input: alloc::vec::Vec<u32>,
		output: alloc::vec::Vec<u8>,
	) -> Result<TaskId, DispatchError> {
		use frame_support::traits::fungible::Mutate;
		use sp_runtime::traits::Bounded;
		let owner: T::AccountId = frame_benchmarking::account("bench-owner", 0, 0);
		let _ = T::Currency::set_balance(&owner, BalanceOf::<T>::max_value() / 1_000_000u32.into());
		let model = NextModelId::<T>::get();
		let width = max_row_width.min(T::MaxModelRowWidth::get());
		Self::do_register_model(
			owner.clone(),
			descriptor_hash,
			model_root,
			H256::zero(),
			IoSpec { input: InputKind::TokenIds { vocabulary: MAX_VOCABULARY }, max_input_tokens: T::MaxInputTokens::get(), output_width: 384 },
			width,
			0,
			BoundedVec::default(),
		)?;
		Self::do_approve_model(model)?;
		let (_, operator) = <T::BenchmarkHelper as crate::BenchmarkHelper<_, _>>::provider(model, 0, 1u32.into());
		let task = NextTaskId::<T>::get();
		let input = BoundedVec::try_from(input).map_err(|_| Error::<T>::BadInputLength)?;
		Self::do_submit_task(owner, model, input, BalanceOf::<T>::max_value() / 1_000_000_000u32.into())?;
		let output = BoundedVec::try_from(output).map_err(|_| Error::<T>::BadOutputLength)?;
		Self::do_commit_result(operator, task, output, trace_root)?;
		Ok(task)
	}

	/// Registers `count` more providers of `task`'s model (benchmarks of other pallets).
	#[cfg(feature = "runtime-benchmarks")]
	pub fn benchmark_add_providers(task: TaskId, count: u32) {
		let Some(model) = Tasks::<T>::get(task).map(|t| t.model) else { return };
		for index in 1..=count {
			let _ = <T::BenchmarkHelper as crate::BenchmarkHelper<_, _>>::provider(model, index, 1u32.into());
		}
	}
}
