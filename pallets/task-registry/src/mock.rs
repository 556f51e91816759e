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
	type WeightInfo = ();
}

impl pallet_compute_staking::Config for Test {
	type RuntimeHoldReason = RuntimeHoldReason;
	type Currency = Balances;
	type MinProviderStake = ConstU64<1_000>;
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
	pallet_balances::GenesisConfig::<Test> { balances: (1..=10).map(|a| (a, ENDOWMENT)).collect(), ..Default::default() }
		.assimilate_storage(&mut t)
		.unwrap();
	let mut ext: sp_io::TestExternalities = t.into();
	ext.execute_with(|| System::set_block_number(1));
	ext
}
