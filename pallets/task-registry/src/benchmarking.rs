//! Benchmarks for the model registry calls.

use super::*;
use frame_benchmarking::v2::*;
use frame_support::{
	traits::{fungible::Mutate, EnsureOrigin, Get},
	BoundedVec,
};
use frame_system::RawOrigin;
use sp_core::H256;
use sp_runtime::traits::Bounded;

fn owner<T: Config>() -> T::AccountId {
	let who: T::AccountId = account("owner", 0, 0);
	let _ = T::Currency::set_balance(&who, BalanceOf::<T>::max_value() / 4u32.into());
	who
}

fn io() -> IoSpec {
	IoSpec { input: InputKind::Text, max_input_tokens: 256, output_width: 384 }
}

fn registered<T: Config>() -> ModelId {
	let id = NextModelId::<T>::get();
	Pallet::<T>::do_register_model(owner::<T>(), H256::zero(), H256::zero(), H256::zero(), io(), 1, 0, BoundedVec::default())
		.expect("registers");
	id
}

#[benchmarks]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn register_model(m: Linear<0, { T::MaxMetadataLen::get() }>) {
		let who = owner::<T>();
		let metadata = BoundedVec::truncate_from(alloc::vec![b'm'; m as usize]);
		#[extrinsic_call]
		_(RawOrigin::Signed(who), H256::zero(), H256::zero(), H256::zero(), io(), 1, 0, metadata);
	}

	#[benchmark]
	fn approve_model() -> Result<(), BenchmarkError> {
		let id = registered::<T>();
		let origin = T::GovernanceOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;
		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, id);
		Ok(())
	}

	#[benchmark]
	fn retire_model() -> Result<(), BenchmarkError> {
		let id = registered::<T>();
		let origin = T::GovernanceOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;
		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, id);
		Ok(())
	}

	impl_benchmark_test_suite!(Pallet, crate::mock::new_test_ext(), crate::mock::Test);
}
