//! Weights for `pallet_task_registry`.
//!
//! NOT YET GENERATED: conservative estimates from the storage each call touches (ParityDB),
//! to be replaced by `arbiter-node benchmark pallet --pallet pallet_task_registry`.

use core::marker::PhantomData;
use frame_support::weights::{constants::ParityDbWeight, Weight};

/// Weight functions of the pallet's calls.
pub trait WeightInfo {
	fn register_model(metadata_len: u32) -> Weight;
	fn approve_model() -> Weight;
	fn retire_model() -> Weight;
}

/// Estimated weights for a runtime on ParityDB.
pub struct SubstrateWeight<T>(PhantomData<T>);
impl<T> WeightInfo for SubstrateWeight<T> {
	fn register_model(metadata_len: u32) -> Weight {
		Weight::from_parts(60_000_000 + 2_000 * metadata_len as u64, 6_000 + metadata_len as u64)
			.saturating_add(ParityDbWeight::get().reads_writes(4, 4))
	}
	fn approve_model() -> Weight {
		Weight::from_parts(30_000_000, 4_000).saturating_add(ParityDbWeight::get().reads_writes(1, 1))
	}
	fn retire_model() -> Weight {
		Weight::from_parts(50_000_000, 6_000).saturating_add(ParityDbWeight::get().reads_writes(3, 3))
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
}
