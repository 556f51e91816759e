//! Protocol parameters (docs/governance.md, "Parameters and their bounds"), changed at run time
//! through `pallet-parameters`.
//!
//! Each parameter is a `Get<T>` that pallet configurations use directly
//! (`type ChallengeWindow = dynamic_params::protocol::ChallengeWindow;`). The values below are the
//! genesis defaults; they suit development chains (short windows, in blocks). Governance changes
//! them through `pallet-protocol-parameters` on the `protocol-parameters` referendum track, which
//! refuses any value outside the bounds in [`ProtocolBounds`] (docs/governance.md lists them).

use frame_support::{
	dynamic_params::{dynamic_pallet_params, dynamic_params},
	traits::Get,
};

use sp_runtime::Perbill;

use crate::{Balance, BlockNumber, Runtime, DAYS, UNIT};
use pallet_protocol_parameters::{OutOfBounds, ParameterBounds, ParameterInfo, ParameterUnit};

#[dynamic_params(RuntimeParameters, pallet_parameters::Parameters::<Runtime>)]
pub mod dynamic_params {
	use super::*;

	/// Staking, tasks and disputes.
	#[dynamic_pallet_params]
	#[codec(index = 0)]
	pub mod protocol {
		/// Least stake a compute provider must hold to be active.
		#[codec(index = 0)]
		pub static MinProviderStake: Balance = 1_000 * UNIT;
		/// Blocks between `unbond` and the stake becoming withdrawable.
		#[codec(index = 1)]
		pub static UnbondingPeriod: BlockNumber = 100;
		/// Upper bound on registered providers.
		#[codec(index = 2)]
		pub static MaxProviders: u32 = 1_000;
		/// Blocks after `commit_result` during which anyone bonded may challenge.
		#[codec(index = 3)]
		pub static ChallengeWindow: BlockNumber = 10;
		/// Blocks the provider has to answer a challenge with its openings (two minutes: an
		/// answer survives a one-minute outage of the provider's node).
		#[codec(index = 4)]
		pub static ResponseWindow: BlockNumber = 20;
		/// Bond held from a challenger while its dispute is open.
		#[codec(index = 5)]
		pub static ChallengerBond: Balance = 100 * UNIT;
		/// Share of the provider's stake slashed when it loses a dispute.
		#[codec(index = 6)]
		pub static SlashFraction: Perbill = Perbill::from_percent(10);
		/// Share of a slash that goes to the challenger (the rest to the treasury).
		#[codec(index = 7)]
		pub static ChallengerRewardShare: Perbill = Perbill::from_percent(50);
		/// Share of a task's fee that goes to the treasury.
		#[codec(index = 8)]
		pub static ProtocolFee: Perbill = Perbill::from_percent(5);
		/// Blocks an assigned provider has to commit a result.
		#[codec(index = 9)]
		pub static AssignmentTimeout: BlockNumber = 10;
		/// How often a timed-out task is reassigned before it is refunded.
		#[codec(index = 10)]
		pub static MaxReassignments: u32 = 3;
		// Index 11 was `MaxInputBytes`: inputs are token ids now, bounded by each model's
		// registered `max_input_tokens` (docs/protocol.md, "Inputs are the task's").
		/// Largest task output, in bytes.
		#[codec(index = 12)]
		pub static MaxOutputBytes: u32 = 16 * 1024;
		/// Widest tensor row a registered model may have (bounds the work of one dispute step).
		#[codec(index = 13)]
		pub static MaxModelRowWidth: u32 = 4_096;
		/// Largest per-model tolerance slack a model may register, as f32 bits.
		#[codec(index = 14)]
		pub static MaxToleranceSlackBits: u32 = 0x3727_c5ac; // 1.0e-5_f32
		/// Least price per task a provider may ask: farming reputation with self-dealt tasks
		/// costs at least `ProtocolFee` of it per task.
		#[codec(index = 15)]
		pub static MinTaskPrice: Balance = UNIT / 1_000;
		/// Blocks a slashed provider stays jailed before it may resume (one hour).
		#[codec(index = 16)]
		pub static MinJailPeriod: BlockNumber = 600;
		/// Share of committed results drawn for audit (docs/protocol.md, "Audits"): 5 %, the
		/// rate at which cheating and lazy auditing both lose money (docs/economics.md).
		#[codec(index = 17)]
		pub static AuditRate: Perbill = Perbill::from_percent(5);
		/// Auditors drawn for an audited result.
		#[codec(index = 18)]
		pub static AuditorsPerAudit: u32 = 2;
		/// An attestation's pay, as a share of the audited task's price, from the treasury.
		#[codec(index = 19)]
		pub static AuditReward: Perbill = Perbill::from_percent(50);
		/// Share of a drawn auditor's stake slashed when it neither attests nor challenges.
		#[codec(index = 20)]
		pub static SilencePenalty: Perbill = Perbill::from_percent(1);
		/// Share of an auditor's stake slashed when a result it attested is proven wrong.
		#[codec(index = 21)]
		pub static AttestationSlash: Perbill = Perbill::from_percent(25);
	}
}

/// Checks `value` against `[min, max]`.
fn within<T: PartialOrd>(value: T, min: T, max: T) -> Result<(), OutOfBounds> {
	if value < min {
		Err(OutOfBounds::BelowMinimum)
	} else if value > max {
		Err(OutOfBounds::AboveMaximum)
	} else {
		Ok(())
	}
}

/// A parameter's value as the number `ParameterInfo` and the bounds table carry.
trait AsU128 {
	fn as_u128(&self) -> u128;
}
impl AsU128 for u32 {
	fn as_u128(&self) -> u128 {
		*self as u128
	}
}
impl AsU128 for u128 {
	fn as_u128(&self) -> u128 {
		*self
	}
}
impl AsU128 for Perbill {
	fn as_u128(&self) -> u128 {
		self.deconstruct() as u128
	}
}

/// One table of every protocol parameter's unit and static bounds: `ProtocolBounds::check`
/// enforces it and `ProtocolParametersApi::parameters` reports it, so the two cannot differ.
macro_rules! protocol_parameters {
	($($name:ident: $unit:ident, $min:expr, $max:expr;)*) => {
		/// `(min, max)` of the value a key carries, with the value; `None` for a removal.
		fn static_bounds(p: &dynamic_params::protocol::Parameters) -> Option<(u128, u128, u128)> {
			use dynamic_params::protocol::Parameters as P;
			match p {
				$(P::$name(_, v) => v.as_ref().map(|v| (v.as_u128(), $min.as_u128(), $max.as_u128())),)*
			}
		}

		/// Every parameter with its current value and static bounds (the runtime API).
		pub fn protocol_parameters() -> alloc::vec::Vec<ParameterInfo> {
			alloc::vec![$(ParameterInfo {
				name: stringify!($name).as_bytes().to_vec(),
				unit: ParameterUnit::$unit,
				value: dynamic_params::protocol::$name::get().as_u128(),
				min: $min.as_u128(),
				max: $max.as_u128(),
			},)*]
		}
	};
}

// Storage bounds fixed by the runtime (the 64 KiB task output, the 4096-wide rows `respond` is
// benchmarked with, `MaxAuditors`) cap the governable limits.
protocol_parameters! {
	MinProviderStake: Balance, UNIT, 10_000_000 * UNIT;
	UnbondingPeriod: Blocks, 1u32, 90 * DAYS;
	MaxProviders: Count, 1u32, 100_000u32;
	ChallengeWindow: Blocks, 2u32, 30 * DAYS;
	ResponseWindow: Blocks, 20u32, 7 * DAYS;
	ChallengerBond: Balance, UNIT, 1_000_000 * UNIT;
	SlashFraction: Perbill, Perbill::from_percent(1), Perbill::from_percent(100);
	ChallengerRewardShare: Perbill, Perbill::zero(), Perbill::from_percent(100);
	ProtocolFee: Perbill, Perbill::zero(), Perbill::from_percent(50);
	AssignmentTimeout: Blocks, 2u32, DAYS;
	MaxReassignments: Count, 0u32, 10u32;
	MaxOutputBytes: Bytes, 64u32, 64 * 1024u32;
	MaxModelRowWidth: Count, 16u32, 4_096u32;
	// A finite slack in [0, 1e-3]; f32 bit patterns of non-negative floats order like the floats.
	MaxToleranceSlackBits: F32Bits, 0u32, 0x3a83_126fu32;
	MinTaskPrice: Balance, 1u128, 1_000 * UNIT;
	MinJailPeriod: Blocks, 10u32, 30 * DAYS;
	AuditRate: Perbill, Perbill::zero(), Perbill::from_percent(100);
	AuditorsPerAudit: Count, 1u32, 4u32;
	AuditReward: Perbill, Perbill::zero(), Perbill::from_percent(100);
	SilencePenalty: Perbill, Perbill::zero(), Perbill::from_percent(10);
	AttestationSlash: Perbill, Perbill::zero(), Perbill::from_percent(100);
}

/// The bounds of every protocol parameter: the static ones of the table above, then those one
/// parameter puts on another.
pub struct ProtocolBounds;
impl ParameterBounds<RuntimeParameters> for ProtocolBounds {
	fn check(key_value: &RuntimeParameters) -> Result<(), OutOfBounds> {
		use dynamic_params::protocol::{self as protocol, Parameters as P};
		let RuntimeParameters::Protocol(p) = key_value;
		// Removing a value restores its (in-bounds) default.
		let Some((value, min, max)) = static_bounds(p) else { return Ok(()) };
		within(value, min, max)?;
		match p {
			// Stake unbonds no faster than one challenge and its answer can be heard (withdrawal
			// also waits for every task in flight and every open dispute).
			P::UnbondingPeriod(_, Some(v)) => within(
				*v,
				protocol::ChallengeWindow::get().saturating_add(protocol::ResponseWindow::get()),
				BlockNumber::MAX,
			),
			P::ChallengeWindow(_, Some(v)) => within(
				v.saturating_add(protocol::ResponseWindow::get()),
				0,
				protocol::UnbondingPeriod::get(),
			),
			P::ResponseWindow(_, Some(v)) => within(
				protocol::ChallengeWindow::get().saturating_add(*v),
				0,
				protocol::UnbondingPeriod::get(),
			),
			P::SilencePenalty(_, Some(v)) =>
				within(*v, Perbill::zero(), protocol::AttestationSlash::get()),
			// A false attestation costs at least what a silent one does.
			P::AttestationSlash(_, Some(v)) =>
				within(*v, protocol::SilencePenalty::get(), Perbill::from_percent(100)),
			_ => Ok(()),
		}
	}
}

#[cfg(feature = "runtime-benchmarks")]
impl Default for RuntimeParameters {
	fn default() -> Self {
		RuntimeParameters::Protocol(dynamic_params::protocol::Parameters::ChallengeWindow(
			dynamic_params::protocol::ChallengeWindow,
			Some(10),
		))
	}
}
