//! Benchmarks (frame_benchmarking v2).

use super::*;
use frame_benchmarking::v2::*;
use frame_support::traits::{EnsureOriginWithArg, Get};

#[benchmarks]
mod benches {
	use super::*;
	use frame_support::traits::dynamic_params::AggregatedKeyValue;

	#[benchmark]
	fn set_parameter() -> Result<(), BenchmarkError> {
		let key_value = T::BenchmarkValue::get();
		let (key, _) = key_value.clone().into_parts();
		let origin = T::GovernanceOrigin::try_successful_origin(&key)
			.map_err(|_| BenchmarkError::Weightless)?;
		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, key_value);
		Ok(())
	}

	impl_benchmark_test_suite!(Pallet, crate::mock::new_test_ext(), crate::mock::Test);
}
