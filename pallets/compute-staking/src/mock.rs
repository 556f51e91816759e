//! A test runtime: System, Balances and the staking pallet; models 1–5 exist, others do not.

use crate as pallet_compute_staking;
use frame_support::{derive_impl, parameter_types, traits::ConstU64};
use sp_runtime::BuildStorage;

type Block = frame_system::mocking::MockBlock<Test>;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Balances: pallet_balances,
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
	pub static MinStake: u64 = 1_000;
	pub static MinPrice: u64 = 1;
	pub static MaxProviders: u32 = 8;
}

thread_local! {
	/// Models made servable by benchmarks, besides 1–5.
	static EXTRA_MODELS: core::cell::RefCell<Vec<crate::ModelId>> =
		const { core::cell::RefCell::new(Vec::new()) };
}

/// The model registry of this test runtime: models 1–5 and what benchmarks add.
pub struct Models;
impl crate::ModelCatalog for Models {
	fn is_servable(model: crate::ModelId) -> bool {
		(1..=5).contains(&model) || EXTRA_MODELS.with(|m| m.borrow().contains(&model))
	}
	#[cfg(feature = "runtime-benchmarks")]
	fn make_servable(model: crate::ModelId) {
		EXTRA_MODELS.with(|m| m.borrow_mut().push(model));
	}
}

#[derive_impl(pallet_compute_staking::config_preludes::TestDefaultConfig)]
impl pallet_compute_staking::Config for Test {
	type Currency = Balances;
	type MinProviderStake = MinStake;
	type MinPrice = MinPrice;
	type MaxProviders = MaxProviders;
	type Models = Models;
}

/// Accounts 1–20 start with 100_000 each; 100–120 are operators with 10 each.
pub const ENDOWMENT: u64 = 100_000;

/// Builds the test externalities: the endowments above, at block 1.
pub struct ExtBuilder {
	balances: Vec<(u64, u64)>,
}

impl Default for ExtBuilder {
	fn default() -> Self {
		let mut balances: Vec<(u64, u64)> = (1..=20).map(|a| (a, ENDOWMENT)).collect();
		balances.extend((100..=120).map(|a| (a, 10)));
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
