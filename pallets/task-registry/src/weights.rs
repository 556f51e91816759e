//! Weights for `pallet_task_registry`.
//!
//! The trait, and conservative estimates for runtimes that have not benchmarked the pallet.
//! Arbiter's runtime uses weights measured by `scripts/benchmark-pallets.sh`:
//! `runtime/src/weights/pallet_task_registry.rs`.

use core::marker::PhantomData;
use frame_support::weights::{constants::ParityDbWeight, Weight};

/// Weight functions of the pallet's calls.
pub trait WeightInfo {
	fn register_model(metadata_len: u32) -> Weight;
	fn approve_model() -> Weight;
	fn retire_model() -> Weight;
	fn submit_task(input_len: u32) -> Weight;
	fn submit_generation(prompt_len: u32) -> Weight;
	fn cancel_task() -> Weight;
	fn commit_result(output_len: u32) -> Weight;
	fn finalize() -> Weight;
	/// The hook with `d` deadlines and `p` prunes due.
	fn on_initialize(d: u32, p: u32) -> Weight;
}

/// Estimated weights for a runtime on ParityDB.
pub struct SubstrateWeight<T>(PhantomData<T>);
impl<T> WeightInfo for SubstrateWeight<T> {
	fn register_model(metadata_len: u32) -> Weight {
		Weight::from_parts(60_000_000 + 2_000 * metadata_len as u64, 6_000 + metadata_len as u64)
			.saturating_add(ParityDbWeight::get().reads_writes(4, 4))
	}
	fn approve_model() -> Weight {
		Weight::from_parts(30_000_000, 4_000)
			.saturating_add(ParityDbWeight::get().reads_writes(1, 1))
	}
	fn retire_model() -> Weight {
		Weight::from_parts(50_000_000, 6_000)
			.saturating_add(ParityDbWeight::get().reads_writes(3, 3))
	}
	fn submit_task(input_len: u32) -> Weight {
		// Selection reads up to 256 provider records.
		Weight::from_parts(400_000_000 + 2_000 * input_len as u64, 80_000 + input_len as u64)
			.saturating_add(ParityDbWeight::get().reads_writes(262, 8))
	}
	fn submit_generation(prompt_len: u32) -> Weight {
		Self::submit_task(prompt_len)
	}
	fn cancel_task() -> Weight {
		Weight::from_parts(50_000_000, 8_000)
			.saturating_add(ParityDbWeight::get().reads_writes(3, 3))
	}
	fn commit_result(output_len: u32) -> Weight {
		Weight::from_parts(60_000_000 + 2_000 * output_len as u64, 20_000 + output_len as u64)
			.saturating_add(ParityDbWeight::get().reads_writes(3, 2))
	}
	fn finalize() -> Weight {
		// The worst branch: a timeout that slashes and reassigns.
		Weight::from_parts(500_000_000, 100_000)
			.saturating_add(ParityDbWeight::get().reads_writes(270, 16))
	}
	fn on_initialize(d: u32, p: u32) -> Weight {
		Weight::from_parts(5_000_000, 2_000)
			.saturating_add(Self::finalize().saturating_mul(d as u64))
			.saturating_add(Weight::from_parts(20_000_000, 1_000).saturating_mul(p as u64))
			.saturating_add(ParityDbWeight::get().reads_writes(2 + p as u64, 2 + p as u64))
	}
}

impl WeightInfo for () {
	fn register_model(metadata_len: u32) -> Weight {
		SubstrateWeight::<()>::register_model(metadata_len)
	}
	fn approve_model() -> Weight {
		SubstrateWeight::<()>::approve_model()
	}
	fn retire_model() -> Weight {
		SubstrateWeight::<()>::retire_model()
	}
	fn submit_task(input_len: u32) -> Weight {
		SubstrateWeight::<()>::submit_task(input_len)
	}
	fn submit_generation(prompt_len: u32) -> Weight {
		SubstrateWeight::<()>::submit_generation(prompt_len)
	}
	fn cancel_task() -> Weight {
		SubstrateWeight::<()>::cancel_task()
	}
	fn commit_result(output_len: u32) -> Weight {
		SubstrateWeight::<()>::commit_result(output_len)
	}
	fn finalize() -> Weight {
		SubstrateWeight::<()>::finalize()
	}
	fn on_initialize(d: u32, p: u32) -> Weight {
		SubstrateWeight::<()>::on_initialize(d, p)
	}
}
