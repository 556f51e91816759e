//! A test runtime with the real pallets: Balances, the task registry, compute staking and
//! challenges. Model commitments come from the registry.

use crate as pallet_challenges;
use frame_support::{
	derive_impl, parameter_types,
	traits::{ConstU32, ConstU64},
};
use frame_system::EnsureRoot;
use sp_runtime::{BuildStorage, Perbill};

type Block = frame_system::mocking::MockBlock<Test>;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Balances: pallet_balances,
		Registry: pallet_task_registry,
		Staking: pallet_compute_staking,
		Challenges: pallet_challenges,
	}
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
	type AccountData = pallet_balances::AccountData<u64>;
}

#[derive_impl(pallet_balances::config_preludes::TestDefaultConfig)]
impl pallet_balances::Config for Test {
	type AccountStore = System;
	type RuntimeHoldReason = RuntimeHoldReason;
	type ExistentialDeposit = ConstU64<5>;
}

pub const TREASURY: u64 = 99;

parameter_types! {
	pub const Treasury: u64 = TREASURY;
	pub const ProtocolFee: Perbill = Perbill::from_percent(10);
	pub const DeadlineSlash: Perbill = Perbill::from_percent(1);
	pub const SlashFraction: Perbill = Perbill::from_percent(20);
	pub const RewardShare: Perbill = Perbill::from_percent(50);
}

impl pallet_task_registry::Config for Test {
	type RuntimeHoldReason = RuntimeHoldReason;
	type Currency = Balances;
	type GovernanceOrigin = EnsureRoot<u64>;
	type ModelDeposit = ConstU64<0>;
	type MaxModelRowWidth = ConstU32<4096>;
	type MaxToleranceSlackBits = ConstU32<0x3727_c5ac>;
	type MaxMetadataLen = ConstU32<64>;
	type Providers = Staking;
	type MaxOutputBytes = ConstU32<128>;
	type MaxInputTokens = ConstU32<64>;
	type MaxOutputLen = ConstU32<128>;
	type ChallengeWindow = ConstU64<10>;
	type AssignmentTimeout = ConstU64<5>;
	type MaxReassignments = ConstU32<0>;
	type ProtocolFee = ProtocolFee;
	type MissedDeadlineSlash = DeadlineSlash;
	type TreasuryAccount = Treasury;
	type RetentionPeriod = ConstU64<100>;
	type MaxDeadlinesPerBlock = ConstU32<8>;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = StakingProviders;
}

impl pallet_compute_staking::Config for Test {
	type RuntimeHoldReason = RuntimeHoldReason;
	type Currency = Balances;
	type MinProviderStake = ConstU64<1_000>;
	type MinPrice = ConstU64<1>;
	type MinJailPeriod = ConstU64<5>;
	type UnbondingPeriod = ConstU64<10>;
	type MaxProviders = ConstU32<8>;
	type MaxModelsPerProvider = ConstU32<4>;
	type MaxProvidersPerModel = ConstU32<6>;
	type MaxUnlockingChunks = ConstU32<3>;
	type MaxEndpointLen = ConstU32<64>;
	type Models = Registry;
	type WeightInfo = ();
}

/// Model commitments as the registry holds them.
pub struct RegistryModels;
impl crate::ModelCommitments for RegistryModels {
	fn commitment(model: pallet_task_registry::ModelId) -> Option<crate::ModelCommitment> {
		pallet_task_registry::Models::<Test>::get(model).map(|m| crate::ModelCommitment {
			descriptor_hash: m.descriptor_hash.0,
			model_root: m.model_root.0,
			max_row_width: m.max_row_width,
			slack_bits: m.slack_bits,
		})
	}
}

impl pallet_challenges::Config for Test {
	type RuntimeHoldReason = RuntimeHoldReason;
	type Currency = Balances;
	type Tasks = Registry;
	type Providers = Staking;
	type Models = RegistryModels;
	type ChallengerBond = ConstU64<300>;
	type ResponseWindow = ConstU64<4>;
	type SlashFraction = SlashFraction;
	type ChallengerRewardShare = RewardShare;
	type TreasuryAccount = Treasury;
	type MaxDeadlinesPerBlock = ConstU32<8>;
	type MaxOpenDisputesPerTask = ConstU32<3>;
	type MaxGraphBytes = ConstU32<{ 64 * 1024 }>;
	type MaxOpeningBytes = ConstU32<{ 64 * 1024 }>;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = RegistryTasks;
}

#[cfg(feature = "runtime-benchmarks")]
pub struct RegistryTasks;
#[cfg(feature = "runtime-benchmarks")]
impl crate::BenchmarkHelper for RegistryTasks {
	fn committed_task(descriptor_hash: [u8; 32], model_root: [u8; 32], max_row_width: u32, trace_root: [u8; 32], input: Vec<u32>, output: Vec<u8>) -> u64 {
		pallet_task_registry::Pallet::<Test>::benchmark_committed_task(
			sp_core::H256(descriptor_hash),
			sp_core::H256(model_root),
			max_row_width,
			sp_core::H256(trace_root),
			input,
			output,
		)
		.expect("benchmark task")
	}
	fn fill_providers(task: u64) {
		pallet_task_registry::Pallet::<Test>::benchmark_add_providers(task, 5);
	}
	fn max_row_width() -> u32 {
		4096
	}
}

#[cfg(feature = "runtime-benchmarks")]
pub struct StakingProviders;
#[cfg(feature = "runtime-benchmarks")]
impl pallet_task_registry::BenchmarkHelper<u64, u64> for StakingProviders {
	fn provider(model: pallet_task_registry::ModelId, index: u32, price: u64) -> (u64, u64) {
		pallet_compute_staking::Pallet::<Test>::benchmark_provider(model, index, price)
	}
}

pub const ENDOWMENT: u64 = 100_000;

pub fn new_test_ext() -> sp_io::TestExternalities {
	let mut t = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	let mut balances: Vec<(u64, u64)> = (1..=10).map(|a| (a, ENDOWMENT)).collect();
	balances.push((TREASURY, 10));
	pallet_balances::GenesisConfig::<Test> { balances, ..Default::default() }.assimilate_storage(&mut t).unwrap();
	let mut ext: sp_io::TestExternalities = t.into();
	ext.execute_with(|| System::set_block_number(1));
	ext
}

pub fn run_to_block(n: u64) {
	use frame_support::traits::Hooks;
	while System::block_number() < n {
		let next = System::block_number() + 1;
		System::set_block_number(next);
		Registry::on_initialize(next);
		Challenges::on_initialize(next);
	}
}
