//! Weights for `pallet_audits`.
//!
//! The trait, and conservative estimates for runtimes that have not benchmarked the pallet.
//! Arbiter's runtime uses weights measured by `scripts/benchmark-pallets.sh`:
//! `runtime/src/weights/pallet_audits.rs`.

use core::marker::PhantomData;
use frame_support::weights::{constants::ParityDbWeight, Weight};

/// Weight functions of the pallet's call and of the hooks the other pallets call.
pub trait WeightInfo {
	fn attest() -> Weight;
	/// `n`: results drawn in the block hook (each draw selects up to `2 · MaxAuditors + 2`
	/// times among the model's providers).
	fn draw(n: u32) -> Weight;
	fn result_committed() -> Weight;
	fn challenged() -> Weight;
	/// `a`: auditors of the audit (each paid or slashed).
	fn result_finalized(a: u32) -> Weight;
	/// `a`: auditors of the audit (each slashed).
	fn result_disproven(a: u32) -> Weight;
}

/// Estimated weights for a runtime on ParityDB.
pub struct SubstrateWeight<T>(PhantomData<T>);
impl<T> WeightInfo for SubstrateWeight<T> {
	fn attest() -> Weight {
		Weight::from_parts(40_000_000, 4_000)
			.saturating_add(ParityDbWeight::get().reads_writes(2, 1))
	}
	fn draw(n: u32) -> Weight {
		Weight::from_parts(5_000_000, 1_000)
			.saturating_add(Weight::from_parts(2_000_000_000, 200_000).saturating_mul(n as u64))
			.saturating_add(ParityDbWeight::get().reads_writes(1 + 300 * n as u64, 1 + n as u64))
	}
	fn result_committed() -> Weight {
		Weight::from_parts(10_000_000, 4_000)
			.saturating_add(ParityDbWeight::get().reads_writes(1, 1))
	}
	fn challenged() -> Weight {
		Weight::from_parts(20_000_000, 4_000)
			.saturating_add(ParityDbWeight::get().reads_writes(2, 1))
	}
	fn result_finalized(a: u32) -> Weight {
		Weight::from_parts(10_000_000, 4_000)
			.saturating_add(Weight::from_parts(150_000_000, 20_000).saturating_mul(a as u64))
			.saturating_add(ParityDbWeight::get().reads_writes(1 + 8 * a as u64, 1 + 8 * a as u64))
	}
	fn result_disproven(a: u32) -> Weight {
		Self::result_finalized(a)
	}
}

impl WeightInfo for () {
	fn attest() -> Weight {
		SubstrateWeight::<()>::attest()
	}
	fn draw(n: u32) -> Weight {
		SubstrateWeight::<()>::draw(n)
	}
	fn result_committed() -> Weight {
		SubstrateWeight::<()>::result_committed()
	}
	fn challenged() -> Weight {
		SubstrateWeight::<()>::challenged()
	}
	fn result_finalized(a: u32) -> Weight {
		SubstrateWeight::<()>::result_finalized(a)
	}
	fn result_disproven(a: u32) -> Weight {
		SubstrateWeight::<()>::result_disproven(a)
	}
}
