//! Benchmarks for the model registry calls.

use super::*;
use crate::BenchmarkHelper;
use frame_benchmarking::v2::*;
use frame_support::{
	traits::{fungible::Mutate, EnsureOrigin, Get},
	BoundedVec,
};
use frame_system::RawOrigin;
use sp_core::H256;
use sp_runtime::traits::{Bounded, Saturating};

/// A task's `max_fee`: above any provider's price (benchmark providers ask the minimum), far
/// below the owner's balance.
fn max_fee<T: Config>() -> BalanceOf<T> {
	BalanceOf::<T>::max_value() / 1_000_000_000u32.into()
}

fn owner<T: Config>() -> T::AccountId {
	let who: T::AccountId = account("owner", 0, 0);
	let _ = T::Currency::set_balance(&who, BalanceOf::<T>::max_value() / 1_000_000u32.into());
	who
}

/// A model taking the longest inputs the pallet stores.
fn io<T: Config>() -> IoSpec {
	IoSpec {
		input: InputKind::TokenIds { vocabulary: 30_522 },
		max_input_tokens: T::MaxInputTokens::get(),
		kind: ModelKind::Embedding { output_width: 384 },
	}
}

fn registered<T: Config>() -> ModelId {
	let id = NextModelId::<T>::get();
	let registration = ModelRegistration {
		descriptor_hash: H256::zero(),
		model_root: H256::zero(),
		tokenizer_hash: H256::zero(),
		io: io::<T>(),
		max_row_width: 1,
		slack_bits: 0,
		metadata: BoundedVec::default(),
	};
	Pallet::<T>::do_register_model(owner::<T>(), registration).expect("registers");
	id
}

/// Providers serving one model in the worst case: the runtime's `MaxProvidersPerModel`.
const SELECTION_CANDIDATES: u32 = 256;

#[benchmarks]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn register_model(m: Linear<0, { T::MaxMetadataLen::get() }>) {
		let who = owner::<T>();
		let metadata = BoundedVec::truncate_from(alloc::vec![b'm'; m as usize]);
		#[extrinsic_call]
		_(
			RawOrigin::Signed(who),
			H256::zero(),
			H256::zero(),
			H256::zero(),
			io::<T>(),
			1,
			0,
			metadata,
		);
	}

	#[benchmark]
	fn approve_model() -> Result<(), BenchmarkError> {
		let id = registered::<T>();
		let origin =
			T::GovernanceOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;
		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, id);
		Ok(())
	}

	#[benchmark]
	fn retire_model() -> Result<(), BenchmarkError> {
		let id = registered::<T>();
		let origin =
			T::GovernanceOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;
		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, id);
		Ok(())
	}

	/// An approved model with `n` providers serving it (worst-case selection work).
	fn model_with_providers<T: Config>(
		n: u32,
	) -> (ModelId, alloc::vec::Vec<(T::AccountId, T::AccountId)>) {
		let model = 7_000;
		<Pallet<T> as ModelCatalog>::make_servable(model);
		let providers =
			(0..n).map(|i| T::BenchmarkHelper::provider(model, i, 1u32.into())).collect();
		(model, providers)
	}

	fn submitted<T: Config>(model: ModelId, len: u32) -> TaskId {
		let id = NextTaskId::<T>::get();
		let input = BoundedVec::truncate_from(alloc::vec![7u32; len.max(1) as usize]);
		Pallet::<T>::do_submit_task(owner::<T>(), model, input, max_fee::<T>()).expect("submits");
		id
	}

	fn operator_of<T: Config>(id: TaskId) -> T::AccountId {
		match Tasks::<T>::get(id).map(|t| t.status) {
			Some(TaskStatus::Assigned { operator, .. }) => operator,
			_ => panic!("task not assigned"),
		}
	}

	#[benchmark]
	fn submit_task(l: Linear<1, { T::MaxInputTokens::get() }>) {
		let (model, _) = model_with_providers::<T>(SELECTION_CANDIDATES);
		let who = owner::<T>();
		// Every id is checked against the vocabulary: the worst case is the longest input.
		let input = BoundedVec::truncate_from(alloc::vec![30_521u32; l as usize]);
		#[extrinsic_call]
		_(RawOrigin::Signed(who), model, input, max_fee::<T>());
	}

	/// A generation model with `n` providers serving it, taking `max_new_tokens` tokens a task.
	fn generation_model_with_providers<T: Config>(n: u32, max_new_tokens: u32) -> ModelId {
		let id = NextModelId::<T>::get();
		let registration = ModelRegistration {
			descriptor_hash: H256::zero(),
			model_root: H256::zero(),
			tokenizer_hash: H256::zero(),
			io: IoSpec {
				input: InputKind::TokenIds { vocabulary: 30_522 },
				max_input_tokens: T::MaxInputTokens::get(),
				kind: ModelKind::Generation {
					max_new_tokens,
					max_context: T::MaxInputTokens::get().saturating_add(max_new_tokens),
					stop_token: 0,
				},
			},
			max_row_width: 1,
			slack_bits: 0,
			metadata: BoundedVec::default(),
		};
		Pallet::<T>::do_register_model(owner::<T>(), registration).expect("registers");
		Pallet::<T>::do_approve_model(id).expect("approves");
		for i in 0..n {
			T::BenchmarkHelper::provider(id, i, 1u32.into());
		}
		id
	}

	/// The most new tokens a task's output holds.
	fn most_new_tokens<T: Config>() -> u32 {
		(T::MaxOutputBytes::get() / 4).max(1)
	}

	#[benchmark]
	fn submit_generation(l: Linear<1, { T::MaxInputTokens::get() }>) {
		let max_new = most_new_tokens::<T>();
		let model = generation_model_with_providers::<T>(SELECTION_CANDIDATES, max_new);
		let prompt = BoundedVec::truncate_from(alloc::vec![30_521u32; l as usize]);
		let sampling = TokenSampling::Gumbel { temperature_bits: 0.7f32.to_bits(), seed: 1 };
		#[extrinsic_call]
		_(RawOrigin::Signed(owner::<T>()), model, prompt, max_new, sampling, max_fee::<T>());
		assert!(matches!(
			Tasks::<T>::get(NextTaskId::<T>::get() - 1).map(|t| t.status),
			Some(TaskStatus::Assigned { .. })
		));
	}

	#[benchmark]
	fn cancel_task() {
		let (model, _) = model_with_providers::<T>(0);
		let id = submitted::<T>(model, 8);
		#[extrinsic_call]
		_(RawOrigin::Signed(owner::<T>()), id);
	}

	/// The costlier kind: a generation's tokens are decoded and checked against the stop rule
	/// (the model read again), then priced; `l` output bytes are `l / 4` tokens, the last the
	/// stop token unless as many as asked.
	#[benchmark]
	fn commit_result(l: Linear<1, { T::MaxOutputLen::get() }>) {
		let max_new = most_new_tokens::<T>();
		let model = generation_model_with_providers::<T>(1, max_new);
		let id = NextTaskId::<T>::get();
		let prompt = BoundedVec::truncate_from(alloc::vec![7u32; 8]);
		let sampling = TokenSampling::Greedy;
		Pallet::<T>::do_submit_generation(
			owner::<T>(),
			model,
			prompt,
			max_new,
			sampling,
			max_fee::<T>(),
		)
		.expect("submits");
		let operator = operator_of::<T>(id);
		let count = (l.min(T::MaxOutputBytes::get()) / 4).clamp(1, max_new);
		let mut tokens = alloc::vec![7u32; count as usize];
		if count < max_new {
			tokens[count as usize - 1] = 0;
		}
		let output = arbiter_primitives::token_choice::output_of_tokens(&tokens);
		let output = BoundedVec::truncate_from(output);
		#[extrinsic_call]
		_(RawOrigin::Signed(operator), id, output, Some(H256::zero()));
		assert!(matches!(
			Tasks::<T>::get(id).map(|t| t.status),
			Some(TaskStatus::Committed { .. })
		));
	}

	#[benchmark]
	fn finalize() {
		// The worst branch: a missed deadline that slashes and reassigns over many providers.
		let (model, _) = model_with_providers::<T>(SELECTION_CANDIDATES);
		let id = submitted::<T>(model, 8);
		let late = frame_system::Pallet::<T>::block_number()
			.saturating_add(T::AssignmentTimeout::get())
			.saturating_add(2u32.into());
		frame_system::Pallet::<T>::set_block_number(late);
		#[extrinsic_call]
		_(RawOrigin::Signed(owner::<T>()), id);
	}

	#[benchmark]
	fn on_initialize(
		d: Linear<0, { T::MaxDeadlinesPerBlock::get() }>,
		p: Linear<0, { T::MaxDeadlinesPerBlock::get() }>,
	) {
		let (model, _) = model_with_providers::<T>(SELECTION_CANDIDATES);
		// Past every assignment deadline (a commit is accepted up to the deadline, the timeout
		// runs after it), so each queued task times out and is reassigned.
		let due = frame_system::Pallet::<T>::block_number()
			.saturating_add(T::AssignmentTimeout::get())
			.saturating_add(2u32.into());
		let mut queued = alloc::vec::Vec::new();
		for _ in 0..d {
			let id = submitted::<T>(model, 8);
			let _ = Deadlines::<T>::try_mutate(due, |q| q.try_push(id));
			queued.push(id);
		}
		for k in 0..p {
			let _ = PruneQueue::<T>::try_mutate(due, |q| q.try_push(1_000_000 + k as u64));
		}
		frame_system::Pallet::<T>::set_block_number(due);
		#[block]
		{
			Pallet::<T>::process_deadlines(due);
		}
		// Every queued task timed out: reassigned (or refunded when no provider is left).
		for id in queued {
			let task = Tasks::<T>::get(id).expect("queued tasks exist");
			assert!(
				task.assignments >= 2 || matches!(task.status, TaskStatus::Refunded { .. }),
				"task {id} timed out"
			);
		}
	}

	impl_benchmark_test_suite!(
		Pallet,
		crate::mock::ExtBuilder::default().build(),
		crate::mock::Test
	);
}
