//! A test runtime with the real pallets: Balances, the task registry (wired to audits), compute
//! staking and audits. Audit rate, auditors per audit and the treasury's balance are settable.

use crate as pallet_audits;
use frame_support::{
	derive_impl, parameter_types,
	traits::{ConstU32, ConstU64},
};
use sp_runtime::{BuildStorage, Perbill};

type Block = frame_system::mocking::MockBlock<Test>;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Balances: pallet_balances,
		Registry: pallet_task_registry,
		Staking: pallet_compute_staking,
		Audits: pallet_audits,
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
	pub static AuditRate: Perbill = Perbill::one();
	pub static AuditorsPerAudit: u32 = 2;
}

#[derive_impl(pallet_task_registry::config_preludes::TestDefaultConfig)]
impl pallet_task_registry::Config for Test {
	type Currency = Balances;
	type Providers = Staking;
	type Audits = Audits;
	type ChallengeWindow = ConstU64<5>;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = StakingProviders;
}

#[cfg(feature = "runtime-benchmarks")]
pub struct StakingProviders;
#[cfg(feature = "runtime-benchmarks")]
impl pallet_task_registry::BenchmarkHelper<u64, u64> for StakingProviders {
	fn provider(model: pallet_task_registry::ModelId, index: u32, price: u64) -> (u64, u64) {
		pallet_compute_staking::Pallet::<Test>::benchmark_provider(model, index, price)
	}
}

#[derive_impl(pallet_compute_staking::config_preludes::TestDefaultConfig)]
impl pallet_compute_staking::Config for Test {
	type Currency = Balances;
	type Models = Registry;
}

#[derive_impl(pallet_audits::config_preludes::TestDefaultConfig)]
impl pallet_audits::Config for Test {
	type Currency = Balances;
	type Tasks = Registry;
	type Providers = Staking;
	type AuditRate = AuditRate;
	type AuditorsPerAudit = AuditorsPerAudit;
	type MaxDrawsPerBlock = ConstU32<4>;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = RegistryTasks;
}

#[cfg(feature = "runtime-benchmarks")]
pub struct RegistryTasks;
#[cfg(feature = "runtime-benchmarks")]
impl crate::BenchmarkHelper<u64> for RegistryTasks {
	fn committed_tasks(tasks: u32, providers: u32) -> (Vec<u64>, Vec<(u64, u64)>) {
		pallet_task_registry::Pallet::<Test>::benchmark_committed_tasks(tasks, providers)
			.expect("benchmark tasks")
	}
	fn audit_everything() {
		AuditRate::set(Perbill::one());
		AuditorsPerAudit::set(4);
	}
}

pub const ENDOWMENT: u64 = 100_000;
/// What the treasury holds at genesis (it pays attestations).
pub const TREASURY_FUNDS: u64 = 1_000;

/// Builds the test externalities: accounts 1–10 endowed, the treasury funded, at block 1.
pub struct ExtBuilder {
	treasury: u64,
}

impl Default for ExtBuilder {
	fn default() -> Self {
		Self { treasury: TREASURY_FUNDS }
	}
}

impl ExtBuilder {
	/// The treasury's genesis balance.
	pub fn treasury(mut self, funds: u64) -> Self {
		self.treasury = funds;
		self
	}

	pub fn build(self) -> sp_io::TestExternalities {
		let mut t = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
		let mut balances: Vec<(u64, u64)> = (1..=10).map(|a| (a, ENDOWMENT)).collect();
		balances.push((TREASURY, self.treasury));
		pallet_balances::GenesisConfig::<Test> { balances, ..Default::default() }
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
