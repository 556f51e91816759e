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
use pallet_protocol_parameters::{OutOfBounds, ParameterBounds};

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

/// The bounds of every protocol parameter. Storage bounds fixed by the runtime (the 64 KiB task
/// output, the 4096-wide rows `respond` is benchmarked with) cap the governable limits.
pub struct ProtocolBounds;
impl ParameterBounds<RuntimeParameters> for ProtocolBounds {
	fn check(key_value: &RuntimeParameters) -> Result<(), OutOfBounds> {
		use dynamic_params::protocol::Parameters as P;
		let RuntimeParameters::Protocol(p) = key_value;
		match p {
			P::MinProviderStake(_, Some(v)) => within(*v, UNIT, 10_000_000 * UNIT),
			// Stake unbonds no faster than one challenge and its answer can be heard (withdrawal
			// also waits for every task in flight and every open dispute).
			P::UnbondingPeriod(_, Some(v)) => {
				within(*v, 1, 90 * DAYS)?;
				within(
					*v,
					dynamic_params::protocol::ChallengeWindow::get()
						.saturating_add(dynamic_params::protocol::ResponseWindow::get()),
					BlockNumber::MAX,
				)
			},
			P::MaxProviders(_, Some(v)) => within(*v, 1, 100_000),
			P::ChallengeWindow(_, Some(v)) => {
				within(*v, 2, 30 * DAYS)?;
				within(
					v.saturating_add(dynamic_params::protocol::ResponseWindow::get()),
					0,
					dynamic_params::protocol::UnbondingPeriod::get(),
				)
			},
			P::ResponseWindow(_, Some(v)) => {
				within(*v, 20, 7 * DAYS)?;
				within(
					dynamic_params::protocol::ChallengeWindow::get().saturating_add(*v),
					0,
					dynamic_params::protocol::UnbondingPeriod::get(),
				)
			},
			P::ChallengerBond(_, Some(v)) => within(*v, UNIT, 1_000_000 * UNIT),
			P::SlashFraction(_, Some(v)) =>
				within(*v, Perbill::from_percent(1), Perbill::from_percent(100)),
			P::ChallengerRewardShare(_, Some(v)) =>
				within(*v, Perbill::zero(), Perbill::from_percent(100)),
			P::ProtocolFee(_, Some(v)) => within(*v, Perbill::zero(), Perbill::from_percent(50)),
			P::AssignmentTimeout(_, Some(v)) => within(*v, 2, DAYS),
			P::MaxReassignments(_, Some(v)) => within(*v, 0, 10),
			P::MaxOutputBytes(_, Some(v)) => within(*v, 64, 64 * 1024),
			P::MaxModelRowWidth(_, Some(v)) => within(*v, 16, 4_096),
			// A finite slack in [0, 1e-3]; f32 bit patterns of non-negative floats order like the
			// floats.
			P::MaxToleranceSlackBits(_, Some(v)) => within(*v, 0, 0x3a83_126f),
			P::MinTaskPrice(_, Some(v)) => within(*v, 1, 1_000 * UNIT),
			P::MinJailPeriod(_, Some(v)) => within(*v, 10, 30 * DAYS),
			P::AuditRate(_, Some(v)) => within(*v, Perbill::zero(), Perbill::from_percent(100)),
			// The storage bound (`MaxAuditors`).
			P::AuditorsPerAudit(_, Some(v)) => within(*v, 1, 4),
			P::AuditReward(_, Some(v)) => within(*v, Perbill::zero(), Perbill::from_percent(100)),
			P::SilencePenalty(_, Some(v)) => {
				within(*v, Perbill::zero(), Perbill::from_percent(10))?;
				within(*v, Perbill::zero(), dynamic_params::protocol::AttestationSlash::get())
			},
			// A false attestation costs at least what a silent one does.
			P::AttestationSlash(_, Some(v)) => within(
				*v,
				dynamic_params::protocol::SilencePenalty::get(),
				Perbill::from_percent(100),
			),
			// Removing a value restores its (in-bounds) default.
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
