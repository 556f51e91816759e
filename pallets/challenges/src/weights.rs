//! Weights for `pallet_challenges`.
//!
//! NOT YET GENERATED: estimates. `respond` is dominated by `verify_element`; measured natively
//! at 24 µs and in an interpreted wasm engine at 1.2 ms for MiniLM's widest op
//! (docs/benchmarks.md), so 5 ms of ref time with a 64 KiB proof size is a safe bound until the
//! runtime benchmark replaces it.

use core::marker::PhantomData;
use frame_support::weights::{constants::ParityDbWeight, Weight};

/// Weight functions of the pallet's calls.
pub trait WeightInfo {
	fn challenge() -> Weight;
	fn respond() -> Weight;
	fn settle() -> Weight;
	fn on_initialize(d: u32) -> Weight;
}

/// Estimated weights for a runtime on ParityDB.
pub struct SubstrateWeight<T>(PhantomData<T>);
impl<T> WeightInfo for SubstrateWeight<T> {
	fn challenge() -> Weight {
		Weight::from_parts(80_000_000, 20_000).saturating_add(ParityDbWeight::get().reads_writes(8, 8))
	}
	fn respond() -> Weight {
		Weight::from_parts(5_000_000_000, 65_536).saturating_add(ParityDbWeight::get().reads_writes(12, 12))
	}
	fn settle() -> Weight {
		Weight::from_parts(150_000_000, 20_000).saturating_add(ParityDbWeight::get().reads_writes(12, 12))
	}
	fn on_initialize(d: u32) -> Weight {
		Weight::from_parts(5_000_000, 1_000).saturating_add(Self::settle().saturating_mul(d as u64))
	}
}

impl WeightInfo for () {
	fn challenge() -> Weight {
		SubstrateWeight::<()>::challenge()
	}
	fn respond() -> Weight {
		SubstrateWeight::<()>::respond()
	}
	fn settle() -> Weight {
		SubstrateWeight::<()>::settle()
	}
	fn on_initialize(d: u32) -> Weight {
		SubstrateWeight::<()>::on_initialize(d)
	}
}
