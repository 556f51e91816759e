//! A test runtime: System, Balances, the task registry, and the staking pallet reading models
//! from it (the real pairing the runtime uses).

use crate as pallet_task_registry;
use frame_support::{
	derive_impl, parameter_types,
	traits::{ConstU32, ConstU64},
};
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

/// The treasury of the test presets.
pub const TREASURY: u64 = 99;

parameter_types! {
	pub static MaxOutputBytes: u32 = 128;
	pub static ChallengeWindow: u64 = 5;
	pub static AssignmentTimeout: u64 = 3;
	pub static MaxReassignments: u32 = 2;
	pub static MaxRowWidth: u32 = 4096;
	/// 1.0e-5 as f32 bits.
	pub static MaxSlackBits: u32 = 0x3727_c5ac;
}

#[derive_impl(pallet_task_registry::config_preludes::TestDefaultConfig)]
impl pallet_task_registry::Config for Test {
	type Currency = Balances;
	type ModelDeposit = ConstU64<500>;
	type MaxModelRowWidth = MaxRowWidth;
	type MaxToleranceSlackBits = MaxSlackBits;
	type Providers = Staking;
	type MaxOutputBytes = MaxOutputBytes;
	type ChallengeWindow = ChallengeWindow;
	type AssignmentTimeout = AssignmentTimeout;
	type MaxReassignments = MaxReassignments;
	type RetentionPeriod = ConstU64<20>;
	type MaxDeadlinesPerBlock = ConstU32<4>;
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

#[derive_impl(pallet_compute_staking::config_preludes::TestDefaultConfig)]
impl pallet_compute_staking::Config for Test {
	type Currency = Balances;
	type Models = Registry;
}

pub const ENDOWMENT: u64 = 100_000;

/// Builds the test externalities: accounts 1–10 endowed, the treasury (99) existing, at block 1.
pub struct ExtBuilder {
	balances: Vec<(u64, u64)>,
}

impl Default for ExtBuilder {
	fn default() -> Self {
		let mut balances: Vec<(u64, u64)> = (1..=10).map(|a| (a, ENDOWMENT)).collect();
		balances.push((TREASURY, 10));
		Self { balances }
	}
}

impl ExtBuilder {
	pub fn build(self) -> sp_io::TestExternalities {
		let mut t = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
		pallet_balances::GenesisConfig::<Test> { balances: self.balances, ..Default::default() }
			.assimilate_storage(&mut t)
			.unwrap();
		let mut ext: sp_io::TestExternalities = t.into();
		ext.execute_with(|| System::set_block_number(1));
		ext
	}
}

/// Runs blocks up to `n` with every pallet's hooks.
pub fn run_to_block(n: u64) {
	System::run_to_block::<AllPalletsWithSystem>(n);
}
