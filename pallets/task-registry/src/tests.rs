//! Model registry tests: registration bounds, approval and retirement by governance, deposits,
//! and the staking pallet seeing only approved models.

use crate::{mock::*, pallet::*, types::*, Error, Event, ModelCatalog};
use frame_support::{assert_noop, assert_ok, traits::fungible::InspectHold, BoundedVec};
use sp_core::H256;
use sp_runtime::DispatchError;

fn io() -> IoSpec {
	IoSpec {
		input: InputKind::TokenIds { vocabulary: 30_522 },
		max_input_tokens: 64,
		kind: ModelKind::Embedding { output_width: 384 },
	}
}

fn register(owner: u64, width: u32, slack: f32) -> Result<(), DispatchError> {
	Registry::register_model(
		RuntimeOrigin::signed(owner),
		H256::repeat_byte(1),
		H256::repeat_byte(2),
		H256::repeat_byte(3),
		io(),
		width,
		slack.to_bits(),
		BoundedVec::try_from(b"all-MiniLM-L6-v2".to_vec()).unwrap(),
	)
}

fn deposit_held(who: u64) -> u64 {
	Balances::balance_on_hold(&HoldReason::ModelDeposit.into(), &who)
}

#[test]
fn register_approve_retire() {
	ExtBuilder::default().build().execute_with(|| {
		assert_ok!(register(1, 1536, 1e-6));
		let m = Models::<Test>::get(0).unwrap();
		assert_eq!(m.status, ModelStatus::Proposed);
		assert_eq!(m.model_root, H256::repeat_byte(2));
		assert_eq!(deposit_held(1), 500);
		System::assert_last_event(
			Event::ModelRegistered { model: 0, owner: 1, model_root: H256::repeat_byte(2) }.into(),
		);
		assert!(!Registry::is_servable(0), "proposed models are not servable");

		assert_noop!(
			Registry::approve_model(RuntimeOrigin::signed(1), 0),
			DispatchError::BadOrigin
		);
		assert_ok!(Registry::approve_model(RuntimeOrigin::root(), 0));
		assert!(Registry::is_servable(0));
		assert_noop!(Registry::approve_model(RuntimeOrigin::root(), 0), Error::<Test>::NotProposed);
		assert_noop!(
			Registry::approve_model(RuntimeOrigin::root(), 7),
			Error::<Test>::UnknownModel
		);

		assert_noop!(Registry::retire_model(RuntimeOrigin::signed(1), 0), DispatchError::BadOrigin);
		assert_ok!(Registry::retire_model(RuntimeOrigin::root(), 0));
		assert!(!Registry::is_servable(0));
		assert_eq!(deposit_held(1), 0);
		assert_eq!(Balances::free_balance(1), ENDOWMENT);
		assert_noop!(
			Registry::retire_model(RuntimeOrigin::root(), 0),
			Error::<Test>::AlreadyRetired
		);
		Registry::do_try_state().unwrap();
	});
}

#[test]
fn registration_bounds() {
	ExtBuilder::default().build().execute_with(|| {
		assert_noop!(register(1, 0, 0.0), Error::<Test>::RowWidthOutOfBounds);
		assert_noop!(register(1, 4097, 0.0), Error::<Test>::RowWidthOutOfBounds);
		assert_noop!(register(1, 384, 1e-4), Error::<Test>::SlackOutOfBounds);
		assert_noop!(register(1, 384, -1e-7), Error::<Test>::SlackOutOfBounds);
		assert_noop!(register(1, 384, f32::NAN), Error::<Test>::SlackOutOfBounds);
		assert_noop!(register(1, 384, f32::INFINITY), Error::<Test>::SlackOutOfBounds);
		let register_io = |io: IoSpec| {
			Registry::register_model(
				RuntimeOrigin::signed(1),
				H256::zero(),
				H256::zero(),
				H256::zero(),
				io,
				384,
				0,
				BoundedVec::default(),
			)
		};
		// No tokens, more than the pallet stores (64 in the mock), no vocabulary, no output, a
		// vocabulary past 2^24 (ids would not be exact as f32 in a trace).
		for (max_input_tokens, vocabulary, output_width) in [
			(0, 100, 384),
			(65, 100, 384),
			(64, 0, 384),
			(64, 100, 0),
			(64, MAX_VOCABULARY + 1, 384),
		] {
			let io = IoSpec {
				input: InputKind::TokenIds { vocabulary },
				max_input_tokens,
				kind: ModelKind::Embedding { output_width },
			};
			assert_noop!(register_io(io), Error::<Test>::BadIoSpec);
		}
		// Governance lowers the widest row: larger models are refused.
		MaxRowWidth::set(1024);
		assert_noop!(register(1, 1536, 0.0), Error::<Test>::RowWidthOutOfBounds);
		assert_ok!(register(1, 1024, 1e-5));
		// Not enough balance for the deposit: account 11 has nothing.
		assert_noop!(register(11, 384, 0.0), Error::<Test>::InsufficientBalance);
		assert_eq!(NextModelId::<Test>::get(), 1);
		Registry::do_try_state().unwrap();
	});
}

#[test]
fn staking_accepts_only_approved_models() {
	use pallet_compute_staking::{Hardware, Offer};
	ExtBuilder::default().build().execute_with(|| {
		assert_ok!(register(1, 1536, 0.0));
		let offer = Offer {
			models: BoundedVec::try_from(vec![0u32]).unwrap(),
			price: 10,
			price_per_token: 0,
			capacity: 1,
			endpoint: BoundedVec::default(),
			hardware: Hardware::Gpu,
		};
		assert_noop!(
			Staking::register(RuntimeOrigin::signed(2), 2_000, 9, offer.clone()),
			pallet_compute_staking::Error::<Test>::UnknownModel
		);
		assert_ok!(Registry::approve_model(RuntimeOrigin::root(), 0));
		assert_ok!(Staking::register(RuntimeOrigin::signed(2), 2_000, 9, offer));
	});
}
