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
		use frame_support::traits::fungible::Mutate;
		use sp_runtime::traits::Bounded;
		let owner: T::AccountId = frame_benchmarking::account("bench-owner", 0, 0);
		let _ = T::Currency::set_balance(&owner, BalanceOf::<T>::max_value() / 1_000_000u32.into());
		let model = NextModelId::<T>::get();
		let width = max_row_width.min(T::MaxModelRowWidth::get());
		let registration = ModelRegistration {
			descriptor_hash,
			model_root,
			tokenizer_hash: H256::zero(),
			io: IoSpec {
				input: InputKind::TokenIds { vocabulary: MAX_VOCABULARY },
				max_input_tokens: T::MaxInputTokens::get(),
				output_width: 384,
			},
			max_row_width: width,
			slack_bits: 0,
			metadata: BoundedVec::default(),
		};
		Self::do_register_model(owner.clone(), registration)?;
		Self::do_approve_model(model)?;
		let (_, operator) =
			<T::BenchmarkHelper as crate::BenchmarkHelper<_, _>>::provider(model, 0, 1u32.into());
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
