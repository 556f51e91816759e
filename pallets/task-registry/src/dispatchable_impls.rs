//! The calls: what each dispatchable does after its origin is checked in `lib.rs`. Checks run
//! before any state changes.

use frame_support::{
	ensure,
	pallet_prelude::*,
	storage::{with_transaction, TransactionOutcome},
	traits::{
		fungible::{Inspect, MutateHold},
		tokens::{Fortitude, Precision, Preservation},
	},
};
use sp_core::H256;
use sp_runtime::traits::{Saturating, Zero};

use crate::{pallet::*, types::*, AuditHooks};

impl<T: Config> Pallet<T> {
	pub(crate) fn do_register_model(
		owner: T::AccountId,
		registration: ModelRegistrationOf<T>,
	) -> DispatchResult {
		let ModelRegistration {
			descriptor_hash,
			model_root,
			tokenizer_hash,
			io,
			max_row_width,
			slack_bits,
			metadata,
		} = registration;
		ensure!(
			max_row_width > 0 && max_row_width <= T::MaxModelRowWidth::get(),
			Error::<T>::RowWidthOutOfBounds
		);
		let slack = f32::from_bits(slack_bits);
		let max_slack = f32::from_bits(T::MaxToleranceSlackBits::get());
		// `!(slack <= max)` also refuses NaN.
		ensure!(
			slack.is_finite() && slack >= 0.0 && slack <= max_slack,
			Error::<T>::SlackOutOfBounds
		);
		let InputKind::TokenIds { vocabulary } = io.input;
		let tokens_ok = io.max_input_tokens > 0 && io.max_input_tokens <= T::MaxInputTokens::get();
		// Traces hold ids as f32, exact up to 2^24: a larger id could stand for another.
		let vocabulary_ok = vocabulary > 0 && vocabulary <= MAX_VOCABULARY;
		let kind_ok = match io.kind {
			ModelKind::Embedding { output_width } => output_width > 0,
			// Each new token is 4 output bytes; the longest prompt and one new token fit the
			// context; the stop token is a token.
			ModelKind::Generation { max_new_tokens, max_context, stop_token } =>
				max_new_tokens > 0 &&
					max_new_tokens.checked_mul(4).is_some_and(|b| b <= T::MaxOutputBytes::get()) &&
					max_context >= io.max_input_tokens &&
					stop_token < vocabulary,
		};
		ensure!(kind_ok && vocabulary_ok && tokens_ok, Error::<T>::BadIoSpec);
		let id = NextModelId::<T>::get();
		let next = id.checked_add(1).ok_or(Error::<T>::Overflow)?;
		let deposit = T::ModelDeposit::get();
		let reason: T::RuntimeHoldReason = HoldReason::ModelDeposit.into();
		if !deposit.is_zero() {
			let holdable =
				T::Currency::reducible_balance(&owner, Preservation::Preserve, Fortitude::Polite);
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

	pub(crate) fn do_submit_task(
		who: T::AccountId,
		model: ModelId,
		input: BoundedVec<u32, T::MaxInputTokens>,
		max_fee: BalanceOf<T>,
	) -> DispatchResult {
		Self::submit(who, model, input, TaskRequest::Embedding, max_fee)
	}

	pub(crate) fn do_submit_generation(
		who: T::AccountId,
		model: ModelId,
		prompt: BoundedVec<u32, T::MaxInputTokens>,
		max_new_tokens: u32,
		sampling: TokenSampling,
		max_fee: BalanceOf<T>,
	) -> DispatchResult {
		let request = TaskRequest::Generation { max_new_tokens, sampling };
		Self::submit(who, model, prompt, request, max_fee)
	}

	/// Checks a task against its model and submits it: the input (every model), the request
	/// against the model's kind (docs/protocol.md, "Generation tasks").
	fn submit(
		who: T::AccountId,
		model: ModelId,
		input: BoundedVec<u32, T::MaxInputTokens>,
		request: TaskRequest,
		max_fee: BalanceOf<T>,
	) -> DispatchResult {
		let io = Models::<T>::get(model)
			.filter(|m| m.status == ModelStatus::Approved)
			.ok_or(Error::<T>::ModelNotApproved)?
			.io;
		match (io.kind, request) {
			(ModelKind::Embedding { .. }, TaskRequest::Embedding) => {},
			(
				ModelKind::Generation { max_new_tokens: most, max_context, .. },
				TaskRequest::Generation { max_new_tokens, sampling },
			) => {
				// The positions run: the prompt and every new token but the last.
				let positions = (input.len() as u64).saturating_add(max_new_tokens as u64);
				ensure!(
					max_new_tokens > 0 &&
						max_new_tokens <= most &&
						positions.saturating_sub(1) <= max_context as u64,
					Error::<T>::BadNewTokens
				);
				ensure!(sampling.is_valid(), Error::<T>::BadSampling);
			},
			_ => return Err(Error::<T>::WrongModelKind.into()),
		}
		// Exactly what the engine runs (docs/protocol.md, "Inputs are the task's").
		let InputKind::TokenIds { vocabulary } = io.input;
		ensure!(
			!input.is_empty() && input.len() as u32 <= io.max_input_tokens,
			Error::<T>::BadInputLength
		);
		ensure!(input.iter().all(|id| *id < vocabulary), Error::<T>::TokenIdOutOfRange);
		let holdable =
			T::Currency::reducible_balance(&who, Preservation::Preserve, Fortitude::Polite);
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
					request,
					price_per_token: Zero::zero(),
					max_fee,
					submitted_at: now,
					assignments: 0,
					challenge_window: T::ChallengeWindow::get(),
					status: TaskStatus::Unassigned { retry_at: now },
				};
				Self::deposit_event(Event::TaskSubmitted {
					task: id,
					submitter: who.clone(),
					model,
					max_fee,
				});
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
		trace_root: Option<H256>,
	) -> DispatchResult {
		let mut task = Tasks::<T>::get(id).ok_or(Error::<T>::UnknownTask)?;
		let TaskStatus::Assigned { provider, operator, price, deadline } = task.status.clone()
		else {
			return Err(Error::<T>::NotAwaitingResult.into());
		};
		ensure!(operator == who, Error::<T>::NotAssignedOperator);
		let now = frame_system::Pallet::<T>::block_number();
		ensure!(now <= deadline, Error::<T>::DeadlinePassed);
		ensure!(
			!output.is_empty() && output.len() as u32 <= T::MaxOutputBytes::get(),
			Error::<T>::BadOutputLength
		);
		// A generation's output is its tokens: the stop rule holds, and they are paid for.
		let price = match task.request {
			TaskRequest::Embedding => price,
			TaskRequest::Generation { max_new_tokens, .. } => {
				let model = Models::<T>::get(task.model).ok_or(Error::<T>::UnknownModel)?;
				let (InputKind::TokenIds { vocabulary }, ModelKind::Generation { stop_token, .. }) =
					(model.io.input, model.io.kind)
				else {
					return Err(Error::<T>::WrongModelKind.into());
				};
				let tokens = arbiter_primitives::token_choice::tokens_of_output(&output)
					.ok_or(Error::<T>::BadGeneratedTokens)?;
				arbiter_primitives::token_choice::check_generated_tokens(
					&tokens,
					max_new_tokens,
					stop_token,
					vocabulary,
				)
				.map_err(|_| Error::<T>::BadGeneratedTokens)?;
				task.price_per_token
					.saturating_mul((tokens.len() as u32).into())
					.saturating_add(price)
			},
		};
		// The challenge ends after `window_end`: finalization runs one block later.
		let queued = Self::enqueue(
			now.saturating_add(task.challenge_window).saturating_add(1u32.into()),
			id,
		)?;
		let window_end = queued.saturating_sub(1u32.into());
		task.status = TaskStatus::Committed {
			provider: provider.clone(),
			operator,
			price,
			output,
			trace_root,
			window_end,
		};
		Tasks::<T>::insert(id, task);
		// Drawn for audit (or not) in the next block (docs/protocol.md, "Audits").
		T::Audits::result_committed(id)?;
		Self::deposit_event(Event::ResultCommitted { task: id, provider, trace_root, window_end });
		Ok(())
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
}
