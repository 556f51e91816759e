//! # Audits
//!
//! Checking is paid, silence and false attestations cost (the verifier's dilemma;
//! docs/protocol.md, "Audits"; docs/economics.md for the numbers behind the defaults).
//!
//! - Every commit is heard ([`AuditHooks::result_committed`]); at the start of the next block the
//!   parent block's hash — which did not exist when the commit was signed — decides whether the
//!   result is audited (probability `AuditRate`) and draws `AuditorsPerAudit` auditors among the
//!   active providers serving the model, by stake × reputation, never the provider itself nor a
//!   provider sharing its operator key.
//! - A drawn auditor's node re-executes the task (the watcher's check) and calls `attest`, or
//!   challenges the result (the challenges pallet tells us: [`AuditHooks::challenged`]).
//! - At finalization ([`AuditHooks::result_finalized`]) each attesting auditor is paid
//!   `AuditReward` of the task's price from the treasury; each silent one is slashed
//!   `SilencePenalty` of its stake (to the treasury, and jailed, like a missed deadline).
//! - When a dispute proves the result wrong ([`AuditHooks::result_disproven`]), each auditor that
//!   attested it is slashed `AttestationSlash` of its stake, shared between the challenger who
//!   proved it and the treasury like a provider's slash: attesting without checking does not pay.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;

mod audit_impls;
pub mod types;
pub mod weights;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;

pub use arbiter_interface::{AuditHooks, TaskId};
pub use types::{Audit, AuditorStatus};
pub use weights::WeightInfo;

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use arbiter_interface::{ProviderRegistry, ProviderSelection, ProviderSlashing, TaskDisputes};
	use frame_support::{pallet_prelude::*, traits::fungible};
	use frame_system::pallet_prelude::*;
	use sp_runtime::Perbill;

	/// The currency's balance type.
	pub type BalanceOf<T> = <<T as Config>::Currency as fungible::Inspect<
		<T as frame_system::Config>::AccountId,
	>>::Balance;

	/// An audit as stored.
	pub type AuditOf<T> = Audit<<T as frame_system::Config>::AccountId, <T as Config>::MaxAuditors>;

	#[pallet::pallet]
	pub struct Pallet<T>(_);

	#[pallet::config(with_default)]
	pub trait Config: frame_system::Config {
		/// Rewards are paid in it.
		#[pallet::no_default]
		type Currency: fungible::Mutate<Self::AccountId>;
		/// Committed tasks: their provider, operator and model.
		#[pallet::no_default]
		type Tasks: TaskDisputes<Self::AccountId>;
		/// Providers: drawing auditors, who an operator acts for, slashing.
		#[pallet::no_default]
		type Providers: ProviderSelection<Self::AccountId, BalanceOf<Self>>
			+ ProviderRegistry<Self::AccountId>
			+ ProviderSlashing<Self::AccountId, BalanceOf<Self>>;
		/// Pays attestations and receives penalties.
		#[pallet::no_default_bounds]
		type TreasuryAccount: Get<Self::AccountId>;
		/// Share of committed results audited (governable).
		type AuditRate: Get<Perbill>;
		/// Auditors drawn for an audited result, at most `MaxAuditors` (governable).
		type AuditorsPerAudit: Get<u32>;
		/// An attestation's pay, as a share of the task's price (governable).
		type AuditReward: Get<Perbill>;
		/// Share of a silent auditor's stake slashed (governable).
		type SilencePenalty: Get<Perbill>;
		/// Share of an auditor's stake slashed for attesting a result proven wrong (governable).
		type AttestationSlash: Get<Perbill>;
		/// The share of a false attestation's slash that goes to the challenger who proved the
		/// result wrong (the rest to the treasury) (governable; the challenges pallet's).
		type ChallengerRewardShare: Get<Perbill>;
		/// Storage bound on the auditors of one audit.
		#[pallet::constant]
		type MaxAuditors: Get<u32>;
		/// Most commits one block may hold (each is drawn in the next block's hook; a commit
		/// beyond it is refused and sent again).
		#[pallet::constant]
		type MaxDrawsPerBlock: Get<u32>;
		/// Weights of the calls and hooks.
		type WeightInfo: WeightInfo;
		/// Creates committed tasks and providers for the benchmarks.
		#[cfg(feature = "runtime-benchmarks")]
		#[pallet::no_default]
		type BenchmarkHelper: BenchmarkHelper<Self::AccountId>;
	}

	/// Sets up what the benchmarks need from other pallets.
	#[cfg(feature = "runtime-benchmarks")]
	pub trait BenchmarkHelper<AccountId> {
		/// `tasks` committed results of one model that `providers` more active providers serve
		/// (each committed in this block: queued for the draw); the tasks, and those providers
		/// with their operators.
		#[allow(clippy::type_complexity)]
		fn committed_tasks(
			tasks: u32,
			providers: u32,
		) -> (alloc::vec::Vec<TaskId>, alloc::vec::Vec<(AccountId, AccountId)>);
		/// Makes every committed result audited by the most auditors (the audit rate at 100 %,
		/// `MaxAuditors` auditors).
		fn audit_everything();
	}

	/// Config presets for `#[derive_impl]`.
	pub mod config_preludes {
		use super::*;
		use frame_support::{
			derive_impl,
			traits::{ConstU32, ConstU64},
		};

		/// Test runtimes (u64 accounts and balances): account 99 is the treasury; half of all
		/// results audited by two auditors.
		pub struct TestDefaultConfig;

		#[derive_impl(frame_system::config_preludes::TestDefaultConfig, no_aggregated_types)]
		impl frame_system::DefaultConfig for TestDefaultConfig {}

		#[frame_support::register_default_impl(TestDefaultConfig)]
		impl DefaultConfig for TestDefaultConfig {
			type TreasuryAccount = ConstU64<99>;
			type AuditRate = AuditRate;
			type AuditorsPerAudit = ConstU32<2>;
			type AuditReward = AuditReward;
			type SilencePenalty = SilencePenalty;
			type AttestationSlash = AttestationSlash;
			type ChallengerRewardShare = ChallengerRewardShare;
			type MaxAuditors = ConstU32<4>;
			type MaxDrawsPerBlock = ConstU32<8>;
			type WeightInfo = ();
		}

		frame_support::parameter_types! {
			pub const AuditRate: Perbill = Perbill::from_percent(50);
			pub const AuditReward: Perbill = Perbill::from_percent(40);
			pub const SilencePenalty: Perbill = Perbill::from_percent(1);
			pub const AttestationSlash: Perbill = Perbill::from_percent(10);
			pub const ChallengerRewardShare: Perbill = Perbill::from_percent(50);
		}
	}

	/// Results committed in this block, drawn (or not) at the start of the next.
	#[pallet::storage]
	pub type PendingDraws<T: Config> =
		StorageValue<_, BoundedVec<TaskId, T::MaxDrawsPerBlock>, ValueQuery>;

	/// Open audits by task: from the draw until finalization or a lost dispute.
	#[pallet::storage]
	pub type OpenAudits<T: Config> = StorageMap<_, Blake2_128Concat, TaskId, AuditOf<T>>;

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A committed result was drawn for audit.
		AuditDrawn {
			/// The task.
			task: TaskId,
			/// The audited provider.
			provider: T::AccountId,
			/// The drawn auditors (provider accounts).
			auditors: BoundedVec<T::AccountId, T::MaxAuditors>,
		},
		/// A drawn auditor attested that the result matched its re-execution.
		Attested {
			/// The task.
			task: TaskId,
			/// The auditor (provider account).
			auditor: T::AccountId,
		},
		/// A drawn auditor opened a dispute on the result: its audit is done.
		AuditorChallenged {
			/// The task.
			task: TaskId,
			/// The auditor (provider account).
			auditor: T::AccountId,
		},
		/// An attesting auditor was paid at finalization.
		AuditorPaid {
			/// The task.
			task: TaskId,
			/// The auditor (provider account).
			auditor: T::AccountId,
			/// Paid from the treasury (less than `AuditReward` of the price only when the
			/// treasury holds less).
			amount: BalanceOf<T>,
		},
		/// A drawn auditor that neither attested nor challenged by finalization was slashed.
		SilentAuditorSlashed {
			/// The task.
			task: TaskId,
			/// The auditor (provider account).
			auditor: T::AccountId,
			/// Slashed to the treasury.
			slashed: BalanceOf<T>,
		},
		/// An auditor that attested a result since proven wrong was slashed.
		FalseAttestationSlashed {
			/// The task.
			task: TaskId,
			/// The auditor (provider account).
			auditor: T::AccountId,
			/// Slashed, to the challenger who proved the result wrong and the treasury.
			slashed: BalanceOf<T>,
		},
		/// The audit of a task's result ended (finalized or proven wrong).
		AuditClosed {
			/// The task.
			task: TaskId,
		},
	}

	#[pallet::error]
	pub enum Error<T> {
		/// No audit of this task is open (not drawn, or already finalized).
		NoAudit,
		/// The caller (or the provider its operator key acts for) was not drawn for this audit.
		NotDrawn,
		/// This auditor attested or challenged already.
		AlreadyDone,
		/// This block holds `MaxDrawsPerBlock` commits already: send the commit again.
		TooManyCommits,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn on_initialize(_now: BlockNumberFor<T>) -> Weight {
			Self::draw_pending()
		}
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Attests, as a drawn auditor of `task` (signed by the auditor's operator key or the
		/// auditor itself), that its re-execution matched the committed result. Paid at
		/// finalization; slashed if the result is proven wrong.
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::attest())]
		pub fn attest(origin: OriginFor<T>, task: TaskId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_attest(who, task)
		}
	}
}
