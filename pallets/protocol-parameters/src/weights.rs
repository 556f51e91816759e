//! Weights for `pallet_protocol_parameters`.
//!
//! The trait, and an estimate for runtimes that have not benchmarked the pallet. Arbiter's
//! runtime uses the weights measured by `scripts/benchmark-pallets.sh`
//! (`runtime/src/weights/pallet_protocol_parameters.rs`).

use core::marker::PhantomData;
use frame_support::weights::{constants::ParityDbWeight, Weight};

/// Weight functions of the pallet's calls.
pub trait WeightInfo {
	fn set_parameter() -> Weight;
}

/// Estimated weights for a runtime on ParityDB: one parameter read and write.
pub struct SubstrateWeight<T>(PhantomData<T>);
impl<T> WeightInfo for SubstrateWeight<T> {
	fn set_parameter() -> Weight {
		Weight::from_parts(30_000_000, 3_600)
			.saturating_add(ParityDbWeight::get().reads_writes(1, 1))
	}
}

impl WeightInfo for () {
	fn set_parameter() -> Weight {
		SubstrateWeight::<()>::set_parameter()
	}
}
