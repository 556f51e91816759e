//! A test runtime with the real pallets: Balances, the task registry, compute staking and
//! challenges. Model commitments come from the registry.

use crate as pallet_challenges;
use frame_support::{derive_impl, traits::ConstU64};
use sp_runtime::BuildStorage;

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

/// The treasury of the test presets.
pub const TREASURY: u64 = 99;

#[derive_impl(pallet_task_registry::config_preludes::TestDefaultConfig)]
impl pallet_task_registry::Config for Test {
	type Currency = Balances;
	type Providers = Staking;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = StakingProviders;
}

#[derive_impl(pallet_compute_staking::config_preludes::TestDefaultConfig)]
impl pallet_compute_staking::Config for Test {
	type Currency = Balances;
	type Models = Registry;
}

#[derive_impl(pallet_challenges::config_preludes::TestDefaultConfig)]
impl pallet_challenges::Config for Test {
	type Currency = Balances;
	type Tasks = Registry;
	type Providers = Staking;
	type Models = Registry;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = RegistryTasks;
}

#[cfg(feature = "runtime-benchmarks")]
pub struct RegistryTasks;
#[cfg(feature = "runtime-benchmarks")]
impl crate::BenchmarkHelper for RegistryTasks {
	fn committed_task(
		descriptor_hash: [u8; 32],
		model_root: [u8; 32],
		max_row_width: u32,
		trace_root: Option<[u8; 32]>,
		input: Vec<u32>,
		output: Vec<u8>,
	) -> u64 {
		pallet_task_registry::Pallet::<Test>::benchmark_committed_task(
			sp_core::H256(descriptor_hash),
			sp_core::H256(model_root),
			max_row_width,
			trace_root.map(sp_core::H256),
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
	fn committed_generation(prompt: Vec<u32>, tokens: Vec<u32>) -> u64 {
		pallet_task_registry::Pallet::<Test>::benchmark_committed_generation(prompt, tokens)
			.expect("benchmark generation")
	}
	fn most_new_tokens() -> u32 {
		<<Test as pallet_task_registry::Config>::MaxOutputBytes as frame_support::traits::Get<
			u32,
		>>::get() / 4
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

/// Builds the test externalities: accounts 1–10 endowed, the treasury existing, at block 1.
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
