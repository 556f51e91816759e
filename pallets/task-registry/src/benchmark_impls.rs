//! State the benchmarks of this and other pallets set up through this pallet.

use frame_support::pallet_prelude::*;
use sp_core::H256;

use crate::{pallet::*, types::*};

impl<T: Config> Pallet<T> {
	/// Registers and approves a model with these commitments, registers a provider, submits a
	/// task and commits its output (and `trace_root`, when given) for it (benchmarks of other
	/// pallets). Returns the task id.
	pub fn benchmark_committed_task(
		descriptor_hash: H256,
		model_root: H256,
		max_row_width: u32,
		trace_root: Option<H256>,
		input: alloc::vec::Vec<u32>,
		output: alloc::vec::Vec<u8>,
	) -> Result<TaskId, DispatchError> {
		use sp_runtime::traits::Bounded;
		let io = IoSpec {
			input: InputKind::TokenIds { vocabulary: MAX_VOCABULARY },
			max_input_tokens: T::MaxInputTokens::get(),
			kind: ModelKind::Embedding { output_width: 384 },
		};
		let (owner, model, operator) =
			Self::benchmark_served_model(0, io, descriptor_hash, model_root, max_row_width)?;
		let task = NextTaskId::<T>::get();
		let input = BoundedVec::try_from(input).map_err(|_| Error::<T>::BadInputLength)?;
		Self::do_submit_task(
			owner,
			model,
			input,
			BalanceOf::<T>::max_value() / 1_000_000_000u32.into(),
		)?;
		let output = BoundedVec::try_from(output).map_err(|_| Error::<T>::BadOutputLength)?;
		Self::do_commit_result(operator, task, output, trace_root)?;
		Ok(task)
	}

	/// Registers and approves a generation model of the largest vocabulary, registers a
	/// provider, submits a generation of `tokens.len()` new tokens from `prompt` and commits
	/// `tokens` (benchmarks of other pallets; the last token is the stop token, 0, unless there
	/// are as many as asked). Returns the task id.
	pub fn benchmark_committed_generation(
		prompt: alloc::vec::Vec<u32>,
		tokens: alloc::vec::Vec<u32>,
	) -> Result<TaskId, DispatchError> {
		use sp_runtime::traits::Bounded;
		let max_new_tokens = tokens.len() as u32;
		let io = IoSpec {
			input: InputKind::TokenIds { vocabulary: MAX_VOCABULARY },
			max_input_tokens: T::MaxInputTokens::get(),
			kind: ModelKind::Generation {
				max_new_tokens,
				max_context: T::MaxInputTokens::get().saturating_add(max_new_tokens),
				stop_token: 0,
			},
		};
		let width = T::MaxModelRowWidth::get();
		let (owner, model, operator) =
			Self::benchmark_served_model(1, io, H256::zero(), H256::zero(), width)?;
		let task = NextTaskId::<T>::get();
		let prompt = BoundedVec::try_from(prompt).map_err(|_| Error::<T>::BadInputLength)?;
		Self::do_submit_generation(
			owner,
			model,
			prompt,
			max_new_tokens,
			TokenSampling::Gumbel { temperature_bits: 0.7f32.to_bits(), seed: 1 },
			BalanceOf::<T>::max_value() / 1_000_000_000u32.into(),
		)?;
		let output = arbiter_primitives::token_choice::output_of_tokens(&tokens);
		let output = BoundedVec::try_from(output).map_err(|_| Error::<T>::BadOutputLength)?;
		Self::do_commit_result(operator, task, output, None)?;
		Ok(task)
	}

	/// A funded owner (account `index` of "bench-owner"), the model it registers with `io` and
	/// these commitments, approved, and the operator of the provider serving it.
	fn benchmark_served_model(
		index: u32,
		io: IoSpec,
		descriptor_hash: H256,
		model_root: H256,
		max_row_width: u32,
	) -> Result<(T::AccountId, ModelId, T::AccountId), DispatchError> {
		use frame_support::traits::fungible::Mutate;
		use sp_runtime::traits::Bounded;
		let owner: T::AccountId = frame_benchmarking::account("bench-owner", index, 0);
		let _ = T::Currency::set_balance(&owner, BalanceOf::<T>::max_value() / 1_000_000u32.into());
		let model = NextModelId::<T>::get();
		let registration = ModelRegistration {
			descriptor_hash,
			model_root,
			tokenizer_hash: H256::zero(),
			io,
			max_row_width: max_row_width.min(T::MaxModelRowWidth::get()).max(1),
			slack_bits: 0,
			metadata: BoundedVec::default(),
		};
		Self::do_register_model(owner.clone(), registration)?;
		Self::do_approve_model(model)?;
		let (_, operator) =
			<T::BenchmarkHelper as crate::BenchmarkHelper<_, _>>::provider(model, 0, 1u32.into());
		Ok((owner, model, operator))
	}

	/// `count` committed embedding tasks of one new model, served by provider 0 and `providers`
	/// more (indices 1 to `providers`), each committed by the operator it was assigned to
	/// (benchmarks of the audits pallet). Returns the tasks and the extra providers with their
	/// operators.
	#[allow(clippy::type_complexity)]
	pub fn benchmark_committed_tasks(
		count: u32,
		providers: u32,
	) -> Result<
		(alloc::vec::Vec<TaskId>, alloc::vec::Vec<(T::AccountId, T::AccountId)>),
		DispatchError,
	> {
		use sp_runtime::traits::Bounded;
		let io = IoSpec {
			input: InputKind::TokenIds { vocabulary: MAX_VOCABULARY },
			max_input_tokens: T::MaxInputTokens::get(),
			kind: ModelKind::Embedding { output_width: 384 },
		};
		let (owner, model, _) =
			Self::benchmark_served_model(2, io, H256::repeat_byte(2), H256::repeat_byte(2), 64)?;
		let others = (1..=providers)
			.map(|index| {
				<T::BenchmarkHelper as crate::BenchmarkHelper<_, _>>::provider(
					model,
					index,
					1u32.into(),
				)
			})
			.collect();
		let mut tasks = alloc::vec::Vec::new();
		for _ in 0..count {
			let task = NextTaskId::<T>::get();
			Self::do_submit_task(
				owner.clone(),
				model,
				BoundedVec::truncate_from(alloc::vec![1]),
				BalanceOf::<T>::max_value() / 1_000_000_000u32.into(),
			)?;
			let Some(TaskStatus::Assigned { operator, .. }) =
				Tasks::<T>::get(task).map(|t| t.status)
			else {
				return Err(Error::<T>::NotAwaitingResult.into());
			};
			Self::do_commit_result(
				operator,
				task,
				BoundedVec::truncate_from(alloc::vec![0; 4]),
				None,
			)?;
			tasks.push(task);
		}
		Ok((tasks, others))
	}

	/// Registers `count` more providers of `task`'s model (benchmarks of other pallets).
	pub fn benchmark_add_providers(task: TaskId, count: u32) {
		let Some(model) = Tasks::<T>::get(task).map(|t| t.model) else { return };
		for index in 1..=count {
			let _ = <T::BenchmarkHelper as crate::BenchmarkHelper<_, _>>::provider(
				model,
				index,
				1u32.into(),
			);
		}
	}
}
