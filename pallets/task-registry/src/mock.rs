//! A test runtime: System, Balances, the task registry, and the staking pallet reading models
//! from it (the real pairing the runtime uses).

use crate as pallet_task_registry;
use frame_support::{
	derive_impl, parameter_types,
	traits::{ConstU32, ConstU64},
};
use frame_system::EnsureRoot;
use sp_runtime::BuildStorage;

type Block = frame_system::mocking::MockBlock<Test>;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Balances: pallet_balances,
		Registry: pallet_task_registry,
		Staking: pallet_compute_staking,
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

parameter_types! {
	pub static MaxOutputBytes: u32 = 128;
	pub static ChallengeWindow: u64 = 5;
	pub static AssignmentTimeout: u64 = 3;
	pub static MaxReassignments: u32 = 2;
	pub const ProtocolFee: sp_runtime::Perbill = sp_runtime::Perbill::from_percent(10);
	pub const MissedDeadlineSlash: sp_runtime::Perbill = sp_runtime::Perbill::from_percent(1);
	pub const Treasury: u64 = 99;
	pub static MaxRowWidth: u32 = 4096;
	/// 1.0e-5 as f32 bits.
	pub static MaxSlackBits: u32 = 0x3727_c5ac;
}

impl pallet_task_registry::Config for Test {
	type RuntimeHoldReason = RuntimeHoldReason;
	type Currency = Balances;
	type GovernanceOrigin = EnsureRoot<u64>;
	type ModelDeposit = ConstU64<500>;
	type MaxModelRowWidth = MaxRowWidth;
	type MaxToleranceSlackBits = MaxSlackBits;
	type MaxMetadataLen = ConstU32<64>;
	type Providers = Staking;
	type MaxOutputBytes = MaxOutputBytes;
	type MaxInputTokens = ConstU32<64>;
	type MaxOutputLen = ConstU32<128>;
	type ChallengeWindow = ChallengeWindow;
	type AssignmentTimeout = AssignmentTimeout;
	type MaxReassignments = MaxReassignments;
	type ProtocolFee = ProtocolFee;
	type MissedDeadlineSlash = MissedDeadlineSlash;
	type TreasuryAccount = Treasury;
	type RetentionPeriod = ConstU64<20>;
	type MaxDeadlinesPerBlock = ConstU32<4>;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = StakingProviders;
}

#[cfg(feature = "runtime-benchmarks")]
pub struct StakingProviders;
#[cfg(feature = "runtime-benchmarks")]
impl crate::BenchmarkHelper<u64, u64> for StakingProviders {
	fn provider(model: crate::ModelId, index: u32, price: u64) -> (u64, u64) {
		pallet_compute_staking::Pallet::<Test>::benchmark_provider(model, index, price)
	}
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

pub const ENDOWMENT: u64 = 100_000;

pub fn new_test_ext() -> sp_io::TestExternalities {
	let mut t = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	let mut balances: Vec<(u64, u64)> = (1..=10).map(|a| (a, ENDOWMENT)).collect();
	balances.push((99, 10)); // the treasury exists
	pallet_balances::GenesisConfig::<Test> { balances, ..Default::default() }
		.assimilate_storage(&mut t)
		.unwrap();
	let mut ext: sp_io::TestExternalities = t.into();
	ext.execute_with(|| System::set_block_number(1));
	ext
}

/// Runs blocks up to `n`, calling the hooks.
pub fn run_to_block(n: u64) {
	use frame_support::traits::Hooks;
	while System::block_number() < n {
		let next = System::block_number() + 1;
		System::set_block_number(next);
		Registry::on_initialize(next);
	}
}
