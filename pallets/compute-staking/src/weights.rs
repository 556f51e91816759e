//! Weights for `pallet_compute_staking`.
//!
//! The trait, and conservative estimates for runtimes that have not benchmarked the pallet.
//! Arbiter's runtime uses weights measured by `scripts/benchmark-pallets.sh`:
//! `runtime/src/weights/pallet_compute_staking.rs`.

use core::marker::PhantomData;
use frame_support::weights::{constants::ParityDbWeight, Weight};

/// Weight functions of the pallet's calls.
pub trait WeightInfo {
	fn register(m: u32) -> Weight;
	fn bond_extra() -> Weight;
	fn update_offer(m: u32) -> Weight;
	fn set_operator() -> Weight;
	fn pause() -> Weight;
	fn resume() -> Weight;
	fn unbond() -> Weight;
	fn withdraw_unbonded(c: u32) -> Weight;
	fn deregister(m: u32) -> Weight;
}

const BASE: u64 = 50_000_000;

fn rw(reads: u64, writes: u64) -> Weight {
	ParityDbWeight::get().reads_writes(reads, writes)
}

/// Estimated weights for a runtime on ParityDB.
pub struct SubstrateWeight<T>(PhantomData<T>);
impl<T> WeightInfo for SubstrateWeight<T> {
	fn register(m: u32) -> Weight {
		Weight::from_parts(BASE + 5_000_000 * m as u64, 4_000 + 2_000 * m as u64)
			.saturating_add(rw(6 + m as u64, 5 + m as u64))
	}
	fn bond_extra() -> Weight {
		Weight::from_parts(BASE, 4_000).saturating_add(rw(3, 2))
	}
	fn update_offer(m: u32) -> Weight {
		Weight::from_parts(BASE + 10_000_000 * m as u64, 4_000 + 4_000 * m as u64)
			.saturating_add(rw(1 + 2 * m as u64, 1 + 2 * m as u64))
	}
	fn set_operator() -> Weight {
		Weight::from_parts(BASE, 4_000).saturating_add(rw(2, 3))
	}
	fn pause() -> Weight {
		Weight::from_parts(BASE, 2_000).saturating_add(rw(1, 1))
	}
	fn resume() -> Weight {
		Weight::from_parts(BASE, 2_000).saturating_add(rw(1, 1))
	}
	fn unbond() -> Weight {
		Weight::from_parts(BASE, 3_000).saturating_add(rw(2, 1))
	}
	fn withdraw_unbonded(c: u32) -> Weight {
		Weight::from_parts(BASE + 1_000_000 * c as u64, 4_000).saturating_add(rw(4, 3))
	}
	fn deregister(m: u32) -> Weight {
		Weight::from_parts(BASE + 5_000_000 * m as u64, 4_000 + 2_000 * m as u64)
			.saturating_add(rw(2 + m as u64, 3 + m as u64))
	}
}

impl WeightInfo for () {
	fn register(m: u32) -> Weight {
		SubstrateWeight::<()>::register(m)
	}
	fn bond_extra() -> Weight {
		SubstrateWeight::<()>::bond_extra()
	}
	fn update_offer(m: u32) -> Weight {
		SubstrateWeight::<()>::update_offer(m)
	}
	fn set_operator() -> Weight {
		SubstrateWeight::<()>::set_operator()
	}
	fn pause() -> Weight {
		SubstrateWeight::<()>::pause()
	}
	fn resume() -> Weight {
		SubstrateWeight::<()>::resume()
	}
	fn unbond() -> Weight {
		SubstrateWeight::<()>::unbond()
	}
	fn withdraw_unbonded(c: u32) -> Weight {
		SubstrateWeight::<()>::withdraw_unbonded(c)
	}
	fn deregister(m: u32) -> Weight {
		SubstrateWeight::<()>::deregister(m)
	}
}
