//! A test runtime: System, pallet-parameters (the store) and this pallet, with two parameters.
//! Account 1 is a "governance" origin allowed to set `Window` only; Root may set both.

use crate as pallet_protocol_parameters;
use crate::{OutOfBounds, ParameterBounds, ParameterStore};
use frame_support::{
	derive_impl,
	dynamic_params::{dynamic_pallet_params, dynamic_params},
	traits::EnsureOriginWithArg,
};
use sp_runtime::{BuildStorage, Perbill};

type Block = frame_system::mocking::MockBlock<Test>;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Parameters: pallet_parameters,
		ProtocolParameters: pallet_protocol_parameters,
	}
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
}

#[dynamic_params(RuntimeParameters, pallet_parameters::Parameters::<Test>)]
pub mod dynamic_params {
	use super::*;

	#[dynamic_pallet_params]
	#[codec(index = 0)]
	pub mod protocol {
		#[codec(index = 0)]
		pub static Window: u32 = 10;
		#[codec(index = 1)]
		pub static Fee: Perbill = Perbill::from_percent(5);
	}
}

#[cfg(feature = "runtime-benchmarks")]
impl Default for RuntimeParameters {
	fn default() -> Self {
		RuntimeParameters::Protocol(dynamic_params::protocol::Parameters::Window(
			dynamic_params::protocol::Window,
			Some(20),
		))
	}
}

impl pallet_parameters::Config for Test {
	type RuntimeEvent = RuntimeEvent;
	type RuntimeParameters = RuntimeParameters;
	type AdminOrigin = frame_support::traits::AsEnsureOriginWithArg<frame_system::EnsureRoot<u64>>;
	type WeightInfo = ();
}

pub const GOVERNANCE: u64 = 1;

/// Root for every key; account 1 for `Window` only.
pub struct Governance;
impl EnsureOriginWithArg<RuntimeOrigin, RuntimeParametersKey> for Governance {
	type Success = ();
	fn try_origin(o: RuntimeOrigin, key: &RuntimeParametersKey) -> Result<(), RuntimeOrigin> {
		let window = matches!(
			key,
			RuntimeParametersKey::Protocol(dynamic_params::protocol::ParametersKey::Window(_))
		);
		match o.clone().into() {
			Ok(frame_system::RawOrigin::Root) => Ok(()),
			Ok(frame_system::RawOrigin::Signed(GOVERNANCE)) if window => Ok(()),
			_ => Err(o),
		}
	}
	#[cfg(feature = "runtime-benchmarks")]
	fn try_successful_origin(_: &RuntimeParametersKey) -> Result<RuntimeOrigin, ()> {
		Ok(RuntimeOrigin::root())
	}
}

/// `Window` in [2, 100]; `Fee` at most 50 %.
pub struct Bounds;
impl ParameterBounds<RuntimeParameters> for Bounds {
	fn check(kv: &RuntimeParameters) -> Result<(), OutOfBounds> {
		use dynamic_params::protocol::Parameters as P;
		match kv {
			RuntimeParameters::Protocol(P::Window(_, Some(v))) if *v < 2 =>
				Err(OutOfBounds::BelowMinimum),
			RuntimeParameters::Protocol(P::Window(_, Some(v))) if *v > 100 =>
				Err(OutOfBounds::AboveMaximum),
			RuntimeParameters::Protocol(P::Fee(_, Some(v))) if *v > Perbill::from_percent(50) =>
				Err(OutOfBounds::AboveMaximum),
			_ => Ok(()),
		}
	}
}

/// Stores through pallet-parameters as Root.
pub struct Store;
impl ParameterStore<RuntimeParameters> for Store {
	fn store(kv: RuntimeParameters) -> frame_support::dispatch::DispatchResult {
		Parameters::set_parameter(RuntimeOrigin::root(), kv)
	}
}

#[cfg(feature = "runtime-benchmarks")]
frame_support::parameter_types! {
	pub BenchmarkValue: RuntimeParameters = RuntimeParameters::default();
}

impl pallet_protocol_parameters::Config for Test {
	type KeyValue = RuntimeParameters;
	type GovernanceOrigin = Governance;
	type Bounds = Bounds;
	type Store = Store;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkValue = BenchmarkValue;
}

pub fn new_test_ext() -> sp_io::TestExternalities {
	let t = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	let mut ext = sp_io::TestExternalities::new(t);
	ext.execute_with(|| System::set_block_number(1));
	ext
}
