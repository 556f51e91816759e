//! Weights for `pallet_challenges`.
//!
//! The trait, and conservative estimates for runtimes that have not benchmarked the pallet.
//! Arbiter's runtime uses weights measured by `scripts/benchmark-pallets.sh`:
//! `runtime/src/weights/pallet_challenges.rs`.

use core::marker::PhantomData;
use frame_support::weights::{constants::ParityDbWeight, Weight};

/// Weight functions of the pallet's calls.
pub trait WeightInfo {
	fn challenge() -> Weight;
	fn challenge_token_choice() -> Weight;
	/// `g`: bytes of the SCALE-encoded graph.
	fn respond(g: u32) -> Weight;
	fn settle() -> Weight;
	fn descend() -> Weight;
	fn on_initialize(d: u32) -> Weight;
}

/// Estimated weights for a runtime on ParityDB.
pub struct SubstrateWeight<T>(PhantomData<T>);
impl<T> WeightInfo for SubstrateWeight<T> {
	fn challenge() -> Weight {
		Weight::from_parts(80_000_000, 20_000)
			.saturating_add(ParityDbWeight::get().reads_writes(8, 8))
	}
	fn challenge_token_choice() -> Weight {
		Self::challenge()
	}
	fn respond(g: u32) -> Weight {
		Weight::from_parts(5_000_000_000, 65_536)
			.saturating_add(Weight::from_parts(100_000, 0).saturating_mul(g as u64))
			.saturating_add(ParityDbWeight::get().reads_writes(12, 12))
	}
	fn settle() -> Weight {
		Weight::from_parts(150_000_000, 20_000)
			.saturating_add(ParityDbWeight::get().reads_writes(12, 12))
	}
	fn descend() -> Weight {
		Weight::from_parts(60_000_000, 40_000)
			.saturating_add(ParityDbWeight::get().reads_writes(4, 4))
	}
	fn on_initialize(d: u32) -> Weight {
		Weight::from_parts(5_000_000, 1_000).saturating_add(Self::settle().saturating_mul(d as u64))
	}
}

impl WeightInfo for () {
	fn challenge() -> Weight {
		SubstrateWeight::<()>::challenge()
	}
	fn challenge_token_choice() -> Weight {
		SubstrateWeight::<()>::challenge_token_choice()
	}
	fn respond(g: u32) -> Weight {
		SubstrateWeight::<()>::respond(g)
	}
	fn settle() -> Weight {
		SubstrateWeight::<()>::settle()
	}
	fn descend() -> Weight {
		SubstrateWeight::<()>::descend()
	}
	fn on_initialize(d: u32) -> Weight {
		SubstrateWeight::<()>::on_initialize(d)
	}
}
