//! Configuration of every pallet in the runtime. Protocol parameters that governance tunes live
//! in [`parameters`]; constants that only a runtime upgrade may change live here.

pub mod governance;
pub mod offchain;
pub mod parameters;

use frame_support::{
	derive_impl,
	dispatch::DispatchClass,
	parameter_types,
	traits::{ConstBool, ConstU128, ConstU32, ConstU64, ConstU8, VariantCountOf},
	weights::{
		constants::{ParityDbWeight, WEIGHT_REF_TIME_PER_SECOND},
		IdentityFee, Weight,
	},
};
use frame_system::limits::{BlockLength, BlockWeights};
use pallet_transaction_payment::{ConstFeeMultiplier, FungibleAdapter, Multiplier};
use sp_consensus_aura::sr25519::AuthorityId as AuraId;
use sp_runtime::{traits::One, Perbill};
use sp_version::RuntimeVersion;

use super::{
	AccountId, Audits, Aura, Balance, Balances, Block, BlockNumber, ComputeStaking, Hash, Nonce,
	OriginCaller, PalletInfo, Runtime, RuntimeCall, RuntimeEvent, RuntimeFreezeReason,
	RuntimeHoldReason, RuntimeOrigin, RuntimeTask, System, TaskRegistry, BLOCK_HASH_COUNT, DAYS,
	EXISTENTIAL_DEPOSIT, SLOT_DURATION, SS58_PREFIX, UNIT, VERSION,
};
use frame_support::PalletId;
use parameters::dynamic_params::protocol;
use sp_runtime::traits::AccountIdConversion;

const NORMAL_DISPATCH_RATIO: Perbill = Perbill::from_percent(75);
/// 5 MiB blocks.
const MAX_BLOCK_LENGTH: u32 = 5 * 1024 * 1024;

parameter_types! {
	pub const BlockHashCount: BlockNumber = BLOCK_HASH_COUNT;
	pub const Version: RuntimeVersion = VERSION;

	/// 2 s of compute per 6 s block.
	pub RuntimeBlockWeights: BlockWeights = BlockWeights::with_sensible_defaults(
		Weight::from_parts(2u64 * WEIGHT_REF_TIME_PER_SECOND, u64::MAX),
		NORMAL_DISPATCH_RATIO,
	);
	pub RuntimeBlockLength: BlockLength = BlockLength::builder()
		.max_length(MAX_BLOCK_LENGTH)
		.modify_max_length_for_class(DispatchClass::Normal, |max| *max = NORMAL_DISPATCH_RATIO * MAX_BLOCK_LENGTH)
		.build();
	pub const SS58Prefix: u16 = SS58_PREFIX;
}

#[derive_impl(frame_system::config_preludes::SolochainDefaultConfig)]
impl frame_system::Config for Runtime {
	type Block = Block;
	type BlockWeights = RuntimeBlockWeights;
	type BlockLength = RuntimeBlockLength;
	type AccountId = AccountId;
	type Nonce = Nonce;
	type Hash = Hash;
	type BlockHashCount = BlockHashCount;
	/// The node stores state in ParityDB (no RocksDB).
	type DbWeight = ParityDbWeight;
	type Version = Version;
	type AccountData = pallet_balances::AccountData<Balance>;
	type SS58Prefix = SS58Prefix;
	type MaxConsumers = ConstU32<16>;
}

impl pallet_aura::Config for Runtime {
	type AuthorityId = AuraId;
	type DisabledValidators = ();
	type MaxAuthorities = ConstU32<32>;
	type AllowMultipleBlocksPerSlot = ConstBool<false>;
	type SlotDuration = pallet_aura::MinimumPeriodTimesTwo<Runtime>;
}

impl pallet_grandpa::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type WeightInfo = ();
	type MaxAuthorities = ConstU32<32>;
	type MaxNominators = ConstU32<0>;
	type MaxSetIdSessionEntries = ConstU64<0>;
	// No session/staking pallet: equivocation reports are not processed on this chain.
	type KeyOwnerProof = sp_core::Void;
	type EquivocationReportSystem = ();
}

impl pallet_timestamp::Config for Runtime {
	/// Milliseconds since the unix epoch.
	type Moment = u64;
	type OnTimestampSet = Aura;
	type MinimumPeriod = ConstU64<{ SLOT_DURATION / 2 }>;
	type WeightInfo = ();
}

impl pallet_balances::Config for Runtime {
	type MaxLocks = ConstU32<50>;
	type MaxReserves = ();
	type ReserveIdentifier = [u8; 8];
	type Balance = Balance;
	type RuntimeEvent = RuntimeEvent;
	type DustRemoval = ();
	type ExistentialDeposit = ConstU128<EXISTENTIAL_DEPOSIT>;
	type AccountStore = System;
	type WeightInfo = pallet_balances::weights::SubstrateWeight<Runtime>;
	type FreezeIdentifier = RuntimeFreezeReason;
	type MaxFreezes = VariantCountOf<RuntimeFreezeReason>;
	type RuntimeHoldReason = RuntimeHoldReason;
	type RuntimeFreezeReason = RuntimeFreezeReason;
	type DoneSlashHandler = ();
}

parameter_types! {
	pub FeeMultiplier: Multiplier = Multiplier::one();
	/// Fee per byte of an extrinsic. Weight costs 1 planck per picosecond, so a block full of
	/// computation (2 s) costs 2 ARBT; at this rate a block full of bytes (5 MiB) costs about the
	/// same, and block space is priced like block time (1 planck a byte made a 16 KB dispute
	/// answer cost 1.6e-8 ARBT; now 0.0066 ARBT).
	pub const TransactionByteFee: Balance = UNIT / 2_500_000;
}

impl pallet_transaction_payment::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type OnChargeTransaction = FungibleAdapter<Balances, ()>;
	type OperationalFeeMultiplier = ConstU8<5>;
	type WeightToFee = IdentityFee<Balance>;
	type LengthToFee = frame_support::weights::ConstantMultiplier<Balance, TransactionByteFee>;
	type FeeMultiplierUpdate = ConstFeeMultiplier<FeeMultiplier>;
	type WeightInfo = pallet_transaction_payment::weights::SubstrateWeight<Runtime>;
}

impl pallet_sudo::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type RuntimeCall = RuntimeCall;
	type WeightInfo = pallet_sudo::weights::SubstrateWeight<Runtime>;
}

impl pallet_utility::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type RuntimeCall = RuntimeCall;
	type PalletsOrigin = OriginCaller;
	type WeightInfo = pallet_utility::weights::SubstrateWeight<Runtime>;
}

impl pallet_parameters::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type RuntimeParameters = parameters::RuntimeParameters;
	// Root only: governance sets parameters through `pallet-protocol-parameters`, which checks
	// each value against its bounds first (configs/governance.rs).
	type AdminOrigin =
		frame_support::traits::AsEnsureOriginWithArg<frame_system::EnsureRoot<AccountId>>;
	// pallet-parameters keeps its generated weights private; the runtime's own benchmark run
	// (`benchmark pallet --pallet pallet_parameters`) replaces this with measured weights.
	type WeightInfo = ();
}

impl pallet_compute_staking::Config for Runtime {
	type RuntimeHoldReason = RuntimeHoldReason;
	type Currency = Balances;
	type MinProviderStake = protocol::MinProviderStake;
	type MinPrice = protocol::MinTaskPrice;
	type MinJailPeriod = protocol::MinJailPeriod;
	type UnbondingPeriod = protocol::UnbondingPeriod;
	type MaxProviders = protocol::MaxProviders;
	type MaxModelsPerProvider = ConstU32<16>;
	type MaxProvidersPerModel = ConstU32<256>;
	type MaxUnlockingChunks = ConstU32<16>;
	type MaxEndpointLen = ConstU32<256>;
	type Models = TaskRegistry;
	type WeightInfo = crate::weights::pallet_compute_staking::WeightInfo<Runtime>;
}

impl pallet_task_registry::Config for Runtime {
	type RuntimeHoldReason = RuntimeHoldReason;
	type Currency = Balances;
	// Root or the `model-registry` referendum track.
	type GovernanceOrigin = governance::ModelGovernanceOrigin;
	type ModelDeposit = ConstU128<{ 100 * UNIT }>;
	type MaxModelRowWidth = protocol::MaxModelRowWidth;
	type MaxToleranceSlackBits = protocol::MaxToleranceSlackBits;
	type MaxMetadataLen = ConstU32<1024>;
	type Providers = ComputeStaking;
	type MaxOutputBytes = protocol::MaxOutputBytes;
	// 16 KiB of ids: a model's own `max_input_tokens` (256 for MiniLM) is the working limit.
	type MaxInputTokens = ConstU32<4096>;
	type MaxOutputLen = ConstU32<{ 64 * 1024 }>;
	type ChallengeWindow = protocol::ChallengeWindow;
	type AssignmentTimeout = protocol::AssignmentTimeout;
	type MaxReassignments = protocol::MaxReassignments;
	type ProtocolFee = protocol::ProtocolFee;
	type MissedDeadlineSlash = MissedDeadlineSlash;
	type TreasuryAccount = TreasuryAccount;
	type Audits = Audits;
	type RetentionPeriod = ConstU32<{ 7 * DAYS }>;
	type MaxDeadlinesPerBlock = ConstU32<64>;
	type WeightInfo = crate::weights::pallet_task_registry::WeightInfo<Runtime>;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = StakingBenchmarkHelper;
}

parameter_types! {
	/// A missed assignment deadline costs 1 % of the provider's stake (and jails it).
	pub const MissedDeadlineSlash: Perbill = Perbill::from_percent(1);
	/// The treasury pallet's account: receives protocol fees and slashes.
	pub TreasuryAccount: AccountId = TREASURY_PALLET_ID.into_account_truncating();
}

/// The treasury's pallet id: its account is `modl` ‖ `arb/trsy` ‖ zeros.
pub const TREASURY_PALLET_ID: PalletId = PalletId(*b"arb/trsy");

/// Registers providers for the task registry's benchmarks through the staking pallet.
#[cfg(feature = "runtime-benchmarks")]
pub struct StakingBenchmarkHelper;
#[cfg(feature = "runtime-benchmarks")]
impl pallet_task_registry::BenchmarkHelper<AccountId, Balance> for StakingBenchmarkHelper {
	fn provider(
		model: pallet_task_registry::ModelId,
		index: u32,
		price: Balance,
	) -> (AccountId, AccountId) {
		pallet_compute_staking::Pallet::<Runtime>::benchmark_provider(model, index, price)
	}
}

impl pallet_challenges::Config for Runtime {
	type RuntimeHoldReason = RuntimeHoldReason;
	type Currency = Balances;
	type Tasks = TaskRegistry;
	type Providers = ComputeStaking;
	type Models = TaskRegistry;
	type ChallengerBond = protocol::ChallengerBond;
	type ResponseWindow = protocol::ResponseWindow;
	type SlashFraction = protocol::SlashFraction;
	type ChallengerRewardShare = protocol::ChallengerRewardShare;
	type TreasuryAccount = TreasuryAccount;
	type Audits = Audits;
	type MaxDeadlinesPerBlock = ConstU32<64>;
	// A decoy challenge cannot shield a wrong result: several are heard at once.
	type MaxOpenDisputesPerTask = ConstU32<8>;
	// The registry's widest row (`MaxModelRowWidth` may be governed up to 4,096).
	type MaxOperandWidth = ConstU32<4_096>;
	// MiniLM's graph is 8 KB; SmolLM2-360M's about 40 KB.
	type MaxGraphBytes = ConstU32<{ 256 * 1024 }>;
	// An opening of the widest row (4,096) is about 50 KB.
	type MaxOpeningBytes = ConstU32<{ 64 * 1024 }>;
	type WeightInfo = crate::weights::pallet_challenges::WeightInfo<Runtime>;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = RegistryBenchmarkHelper;
}

impl pallet_audits::Config for Runtime {
	type Currency = Balances;
	type Tasks = TaskRegistry;
	type Providers = ComputeStaking;
	type TreasuryAccount = TreasuryAccount;
	type AuditRate = protocol::AuditRate;
	type AuditorsPerAudit = protocol::AuditorsPerAudit;
	type AuditReward = protocol::AuditReward;
	type SilencePenalty = protocol::SilencePenalty;
	type AttestationSlash = protocol::AttestationSlash;
	type ChallengerRewardShare = protocol::ChallengerRewardShare;
	type MaxAuditors = ConstU32<4>;
	// Commits a block may hold: each is drawn in the next block's hook (about 1,000 a minute
	// at 6 s blocks; one provider node commits about 550).
	type MaxDrawsPerBlock = ConstU32<128>;
	type WeightInfo = crate::weights::pallet_audits::WeightInfo<Runtime>;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = AuditsBenchmarkHelper;
}

/// Committed tasks for the audits benchmarks, through the task registry; the audit rate set
/// through pallet-parameters.
#[cfg(feature = "runtime-benchmarks")]
pub struct AuditsBenchmarkHelper;
#[cfg(feature = "runtime-benchmarks")]
impl pallet_audits::BenchmarkHelper<AccountId> for AuditsBenchmarkHelper {
	fn committed_tasks(
		tasks: u32,
		providers: u32,
	) -> (alloc::vec::Vec<u64>, alloc::vec::Vec<(AccountId, AccountId)>) {
		pallet_task_registry::Pallet::<Runtime>::benchmark_committed_tasks(tasks, providers)
			.expect("benchmark tasks")
	}
	fn audit_everything() {
		use parameters::dynamic_params::protocol;
		// Every result, by the most auditors (`MaxAuditors`): the draw's worst case.
		for parameter in [
			protocol::Parameters::AuditRate(protocol::AuditRate, Some(Perbill::one())),
			protocol::Parameters::AuditorsPerAudit(protocol::AuditorsPerAudit, Some(4)),
		] {
			let _ = pallet_parameters::Pallet::<Runtime>::set_parameter(
				RuntimeOrigin::root(),
				parameters::RuntimeParameters::Protocol(parameter),
			);
		}
	}
}

/// Committed tasks for the challenges benchmarks, through the task registry.
#[cfg(feature = "runtime-benchmarks")]
pub struct RegistryBenchmarkHelper;
#[cfg(feature = "runtime-benchmarks")]
impl pallet_challenges::BenchmarkHelper for RegistryBenchmarkHelper {
	fn committed_task(
		descriptor_hash: [u8; 32],
		model_root: [u8; 32],
		max_row_width: u32,
		trace_root: Option<[u8; 32]>,
		input: alloc::vec::Vec<u32>,
		output: alloc::vec::Vec<u8>,
	) -> u64 {
		// Benchmark setup cannot fail silently: a broken setup would measure nothing.
		pallet_task_registry::Pallet::<Runtime>::benchmark_committed_task(
			descriptor_hash.into(),
			model_root.into(),
			max_row_width,
			trace_root.map(Into::into),
			input,
			output,
		)
		.unwrap_or_default()
	}
	fn fill_providers(task: u64) {
		// The task's first provider is registered already.
		let more = <<Runtime as pallet_compute_staking::Config>::MaxProvidersPerModel as frame_support::traits::Get<u32>>::get().saturating_sub(1);
		pallet_task_registry::Pallet::<Runtime>::benchmark_add_providers(task, more);
	}
	fn max_row_width() -> u32 {
		<protocol::MaxModelRowWidth as frame_support::traits::Get<u32>>::get()
	}
	fn committed_generation(prompt: alloc::vec::Vec<u32>, tokens: alloc::vec::Vec<u32>) -> u64 {
		pallet_task_registry::Pallet::<Runtime>::benchmark_committed_generation(prompt, tokens)
			.unwrap_or_default()
	}
	fn most_new_tokens() -> u32 {
		<protocol::MaxOutputBytes as frame_support::traits::Get<u32>>::get() / 4
	}
}
