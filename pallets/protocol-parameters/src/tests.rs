//! Values within bounds are stored; values outside are refused with a clear error and change
//! nothing; the origin is checked per key; `None` restores the default.

use crate::{
	mock::{
		dynamic_params::protocol::{self, Parameters as P},
		*,
	},
	Error,
};
use frame_support::{assert_noop, assert_ok, traits::Get};
use sp_runtime::{DispatchError, Perbill};

fn window(v: Option<u32>) -> RuntimeParameters {
	RuntimeParameters::Protocol(P::Window(protocol::Window, v))
}
fn fee(v: Option<Perbill>) -> RuntimeParameters {
	RuntimeParameters::Protocol(P::Fee(protocol::Fee, v))
}

#[test]
fn a_value_within_bounds_is_stored_and_evented() {
	new_test_ext().execute_with(|| {
		assert_eq!(<protocol::Window as Get<u32>>::get(), 10);
		assert_ok!(ProtocolParameters::set_parameter(
			RuntimeOrigin::signed(GOVERNANCE),
			window(Some(2))
		));
		assert_eq!(<protocol::Window as Get<u32>>::get(), 2);
		assert_ok!(ProtocolParameters::set_parameter(
			RuntimeOrigin::signed(GOVERNANCE),
			window(Some(100))
		));
		assert_eq!(<protocol::Window as Get<u32>>::get(), 100);
		System::assert_last_event(
			pallet_parameters::Event::Updated {
				key: RuntimeParametersKey::Protocol(protocol::ParametersKey::Window(
					protocol::Window,
				)),
				old_value: Some(RuntimeParametersValue::Protocol(
					protocol::ParametersValue::Window(2),
				)),
				new_value: Some(RuntimeParametersValue::Protocol(
					protocol::ParametersValue::Window(100),
				)),
			}
			.into(),
		);
		// `None` restores the default.
		assert_ok!(ProtocolParameters::set_parameter(
			RuntimeOrigin::signed(GOVERNANCE),
			window(None)
		));
		assert_eq!(<protocol::Window as Get<u32>>::get(), 10);
	});
}

#[test]
fn values_outside_bounds_are_refused_and_change_nothing() {
	new_test_ext().execute_with(|| {
		assert_noop!(
			ProtocolParameters::set_parameter(RuntimeOrigin::signed(GOVERNANCE), window(Some(1))),
			Error::<Test>::BelowMinimum
		);
		assert_noop!(
			ProtocolParameters::set_parameter(RuntimeOrigin::signed(GOVERNANCE), window(Some(101))),
			Error::<Test>::AboveMaximum
		);
		assert_noop!(
			ProtocolParameters::set_parameter(
				RuntimeOrigin::root(),
				fee(Some(Perbill::from_percent(51)))
			),
			Error::<Test>::AboveMaximum
		);
		assert_eq!(<protocol::Window as Get<u32>>::get(), 10);
		assert_eq!(<protocol::Fee as Get<Perbill>>::get(), Perbill::from_percent(5));
		assert_ok!(ProtocolParameters::set_parameter(
			RuntimeOrigin::root(),
			fee(Some(Perbill::from_percent(50)))
		));
		assert_eq!(<protocol::Fee as Get<Perbill>>::get(), Perbill::from_percent(50));
	});
}

#[test]
fn the_origin_is_checked_per_key() {
	new_test_ext().execute_with(|| {
		// Account 1 may set the window but not the fee; nobody else may set either.
		assert_noop!(
			ProtocolParameters::set_parameter(
				RuntimeOrigin::signed(GOVERNANCE),
				fee(Some(Perbill::from_percent(1)))
			),
			DispatchError::BadOrigin
		);
		assert_noop!(
			ProtocolParameters::set_parameter(RuntimeOrigin::signed(2), window(Some(20))),
			DispatchError::BadOrigin
		);
		assert_noop!(
			ProtocolParameters::set_parameter(RuntimeOrigin::none(), window(Some(20))),
			DispatchError::BadOrigin
		);
		// The origin is checked before the bounds: an outsider learns nothing about them.
		assert_noop!(
			ProtocolParameters::set_parameter(RuntimeOrigin::signed(2), window(Some(0))),
			DispatchError::BadOrigin
		);
	});
}
