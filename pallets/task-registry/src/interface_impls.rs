//! What this pallet offers the others, through `arbiter_interface`: servable models and their
//! commitments (staking, disputes), and committed tasks to freeze and resolve (disputes).

use frame_support::pallet_prelude::*;
use sp_core::H256;
use sp_runtime::traits::Saturating;

use crate::{
	pallet::*, types::*, CommittedResult, DisputeSubject, ModelCatalog, ModelCommitment,
	ModelCommitments, Outcome, ReputationRecorder, TaskDisputes,
};

impl<T: Config> TaskDisputes<T::AccountId> for Pallet<T> {
	fn subject(id: TaskId) -> Option<DisputeSubject<T::AccountId>> {
		let task = Tasks::<T>::get(id)?;
		let now = frame_system::Pallet::<T>::block_number();
		match task.status {
			TaskStatus::Committed { provider, operator, window_end, .. } |
			TaskStatus::Disputed { provider, operator, window_end, .. }
				if now <= window_end =>
				Some(DisputeSubject {
					provider,
					operator,
					submitter: task.submitter,
					model: task.model,
				}),
			_ => None,
		}
	}

	fn committed_result(id: TaskId) -> Option<CommittedResult> {
		let task = Tasks::<T>::get(id)?;
		match task.status {
			TaskStatus::Committed { output, trace_root, .. } |
			TaskStatus::Disputed { output, trace_root, .. } => Some(CommittedResult {
				input: task.input.into_inner(),
				output: output.into_inner(),
				request: task.request,
				trace_root,
			}),
			_ => None,
		}
	}

	fn fix_trace_root(id: TaskId, root: H256) -> DispatchResult {
		Tasks::<T>::try_mutate(id, |task| {
			let task = task.as_mut().ok_or(Error::<T>::UnknownTask)?;
			let TaskStatus::Disputed { trace_root, .. } = &mut task.status else {
				return Err(Error::<T>::NotDisputed);
			};
			ensure!(trace_root.is_none(), Error::<T>::TraceRootFixed);
			*trace_root = Some(root);
			Ok(())
		})?;
		Self::deposit_event(Event::TraceRootFixed { task: id, trace_root: root });
		Ok(())
	}

	fn freeze(id: TaskId) -> DispatchResult {
		let mut task = Tasks::<T>::get(id).ok_or(Error::<T>::UnknownTask)?;
		let now = frame_system::Pallet::<T>::block_number();
		match task.status.clone() {
			TaskStatus::Committed { provider, operator, price, output, trace_root, window_end }
				if now <= window_end =>
			{
				task.status = TaskStatus::Disputed {
					provider,
					operator,
					price,
					output,
					trace_root,
					window_end,
					open: 1,
				};
				Self::deposit_event(Event::TaskFrozen { task: id });
			},
			TaskStatus::Disputed {
				provider,
				operator,
				price,
				output,
				trace_root,
				window_end,
				open,
			} if now <= window_end => {
				let open = open.checked_add(1).ok_or(Error::<T>::Overflow)?;
				task.status = TaskStatus::Disputed {
					provider,
					operator,
					price,
					output,
					trace_root,
					window_end,
					open,
				};
			},
			_ => return Err(Error::<T>::NotChallengeable.into()),
		}
		Tasks::<T>::insert(id, task);
		Ok(())
	}

	fn resolve(id: TaskId, provider_won: bool, reopen_for: u32) -> DispatchResult {
		let mut task = Tasks::<T>::get(id).ok_or(Error::<T>::UnknownTask)?;
		let now = frame_system::Pallet::<T>::block_number();
		let TaskStatus::Disputed {
			provider,
			operator,
			price,
			output,
			trace_root,
			window_end,
			open,
		} = task.status.clone()
		else {
			return Err(Error::<T>::NotDisputed.into());
		};
		if provider_won && open > 1 {
			T::Providers::record(&provider, Outcome::DisputeWon);
			task.status = TaskStatus::Disputed {
				provider,
				operator,
				price,
				output,
				trace_root,
				window_end,
				open: open - 1,
			};
		} else if provider_won {
			// At least `reopen_for` blocks after the ruling: a challenge that did not land
			// before it (a decoy took the last blocks, a transaction was dropped) can be sent
			// again.
			let wanted = window_end.max(now.saturating_add(reopen_for.into()));
			let window_end = if wanted == window_end && window_end >= now {
				// Its finalization is still queued for `window_end + 1`.
				window_end
			} else {
				Self::enqueue(wanted.saturating_add(1u32.into()), id)?.saturating_sub(1u32.into())
			};
			T::Providers::record(&provider, Outcome::DisputeWon);
			task.status =
				TaskStatus::Committed { provider, operator, price, output, trace_root, window_end };
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

impl<T: Config> ModelCommitments for Pallet<T> {
	fn commitment(model: ModelId) -> Option<ModelCommitment> {
		Models::<T>::get(model).map(|m| {
			let InputKind::TokenIds { vocabulary } = m.io.input;
			ModelCommitment {
				descriptor_hash: m.descriptor_hash.0,
				model_root: m.model_root.0,
				max_row_width: m.max_row_width,
				slack_bits: m.slack_bits,
				vocabulary,
			}
		})
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
		if Models::<T>::mutate(model, |m| m.as_mut().map(|m| m.status = ModelStatus::Approved))
			.is_some()
		{
			return;
		}
		let owner: T::AccountId = frame_benchmarking::account("model-owner", 0, 0);
		Models::<T>::insert(
			model,
			ModelInfo {
				owner,
				descriptor_hash: sp_core::H256::zero(),
				model_root: sp_core::H256::zero(),
				tokenizer_hash: sp_core::H256::zero(),
				io: IoSpec {
					input: InputKind::TokenIds { vocabulary: 30_522 },
					max_input_tokens: T::MaxInputTokens::get(),
					kind: ModelKind::Embedding { output_width: 384 },
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
