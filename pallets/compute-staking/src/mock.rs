//! A test runtime: System, Balances and the staking pallet; models 1–5 exist, others do not.

use crate as pallet_compute_staking;
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
	static EXTRA_MODELS: core::cell::RefCell<Vec<crate::ModelId>> = const { core::cell::RefCell::new(Vec::new()) };
}

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

impl pallet_compute_staking::Config for Test {
	type RuntimeHoldReason = RuntimeHoldReason;
	type Currency = Balances;
	type MinProviderStake = MinStake;
	type MinPrice = MinPrice;
	type MinJailPeriod = ConstU64<5>;
	type UnbondingPeriod = ConstU64<10>;
	type MaxProviders = MaxProviders;
	type MaxModelsPerProvider = ConstU32<4>;
	type MaxProvidersPerModel = ConstU32<6>;
	type MaxUnlockingChunks = ConstU32<3>;
	type MaxEndpointLen = ConstU32<64>;
	type Models = Models;
	type WeightInfo = ();
}

/// Accounts 1–20 start with 100_000 each; 100–120 are operators with 10 each.
pub const ENDOWMENT: u64 = 100_000;

pub fn new_test_ext() -> sp_io::TestExternalities {
	let mut t = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	let mut balances: Vec<(u64, u64)> = (1..=20).map(|a| (a, ENDOWMENT)).collect();
	balances.extend((100..=120).map(|a| (a, 10)));
	pallet_balances::GenesisConfig::<Test> { balances, ..Default::default() }
		.assimilate_storage(&mut t)
		.unwrap();
	let mut ext: sp_io::TestExternalities = t.into();
	ext.execute_with(|| System::set_block_number(1));
	ext
}

pub fn run_to_block(n: u64) {
	System::set_block_number(n);
}
