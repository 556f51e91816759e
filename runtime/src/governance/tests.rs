//! Referenda on Arbiter's tracks, driven block by block: a passing `protocol-parameters`
//! referendum changes `ChallengeWindow` (for tasks submitted after enactment only), a rejected one
//! does not, an out-of-bounds value fails at enactment, and models are approved by the
//! `model-registry` track.

use crate::{
	dynamic_params::protocol, governance::pallet_custom_origins, tests::ext_from_preset, AccountId,
	Balances, ConvictionVoting, OriginCaller, Preimage, ProtocolParameters, Referenda, Runtime,
	RuntimeCall, RuntimeEvent, RuntimeOrigin, RuntimeParameters, Scheduler, System, TaskRegistry,
	UNIT,
};
use codec::Encode;
use frame_support::{
	assert_noop, assert_ok,
	traits::{schedule::DispatchTime, Bounded, Currency, Get, Hooks, StorePreimage},
	BoundedVec,
};
use pallet_conviction_voting::{AccountVote, Conviction, Vote};
use pallet_referenda::ReferendumInfo;
use sp_keyring::Sr25519Keyring;

fn account(k: Sr25519Keyring) -> AccountId {
	k.to_account_id()
}

fn run_to(n: u32) {
	while System::block_number() < n {
		let b = System::block_number() + 1;
		System::set_block_number(b);
		// Referenda advance through scheduler alarms; enactments are scheduled calls.
		Scheduler::on_initialize(b);
	}
}

fn set_window(v: u32) -> RuntimeCall {
	RuntimeCall::ProtocolParameters(pallet_protocol_parameters::Call::set_parameter {
		key_value: RuntimeParameters::Protocol(protocol::Parameters::ChallengeWindow(
			protocol::ChallengeWindow,
			Some(v),
		)),
	})
}

/// Notes the preimage, submits on `track_origin`'s track, places the decision deposit, and
/// votes with conviction from Bob, Charlie and Dave (`aye` or not). Returns the index.
fn referendum(call: RuntimeCall, track_origin: OriginCaller, aye: bool) -> u32 {
	let alice = account(Sr25519Keyring::Alice);
	assert_ok!(Preimage::note_preimage(RuntimeOrigin::signed(alice.clone()), call.encode()));
	let proposal: Bounded<RuntimeCall, <Runtime as frame_system::Config>::Hashing> =
		Preimage::bound(call).unwrap();
	let index = pallet_referenda::ReferendumCount::<Runtime>::get();
	assert_ok!(Referenda::submit(
		RuntimeOrigin::signed(alice.clone()),
		Box::new(track_origin),
		proposal,
		DispatchTime::After(1)
	));
	assert_ok!(Referenda::place_decision_deposit(RuntimeOrigin::signed(alice), index));
	for (who, conviction) in [
		(Sr25519Keyring::Bob, Conviction::Locked1x),
		(Sr25519Keyring::Charlie, Conviction::Locked3x),
		(Sr25519Keyring::Dave, Conviction::None),
	] {
		let vote =
			AccountVote::Standard { vote: Vote { aye, conviction }, balance: 400_000 * UNIT };
		assert_ok!(ConvictionVoting::vote(RuntimeOrigin::signed(account(who)), index, vote));
	}
	index
}

fn approved(index: u32) -> bool {
	matches!(
		pallet_referenda::ReferendumInfoFor::<Runtime>::get(index),
		Some(ReferendumInfo::Approved(..))
	)
}

fn rejected(index: u32) -> bool {
	matches!(
		pallet_referenda::ReferendumInfoFor::<Runtime>::get(index),
		Some(ReferendumInfo::Rejected(..))
	)
}

/// A model approved by the `model-registry` track, and Bob as its provider; the model's id.
fn model_and_provider() -> pallet_task_registry::ModelId {
	crate::tests::approved_model_with_provider(
		Default::default(),
		RuntimeOrigin::from(pallet_custom_origins::Origin::ModelRegistry),
	)
}

fn submit_task(model: pallet_task_registry::ModelId) -> u64 {
	let id = pallet_task_registry::NextTaskId::<Runtime>::get();
	assert_ok!(TaskRegistry::submit_task(
		RuntimeOrigin::signed(account(Sr25519Keyring::Eve)),
		model,
		BoundedVec::try_from(vec![101, 7592, 102]).unwrap(),
		10 * UNIT,
	));
	id
}

#[test]
fn a_passing_parameters_referendum_changes_the_challenge_window_for_later_tasks() {
	ext_from_preset("development").execute_with(|| {
		run_to(1);
		let model = model_and_provider();
		let before = submit_task(model);
		let index = referendum(
			set_window(42),
			OriginCaller::Origins(pallet_custom_origins::Origin::ProtocolParameters),
			true,
		);
		assert_eq!(protocol::ChallengeWindow::get(), 10);
		run_to(40);
		assert!(
			approved(index),
			"{:?}",
			pallet_referenda::ReferendumInfoFor::<Runtime>::get(index)
		);
		assert_eq!(protocol::ChallengeWindow::get(), 42);
		// Tasks keep the window they were submitted with.
		let after = submit_task(model);
		let window = |id| pallet_task_registry::Tasks::<Runtime>::get(id).unwrap().challenge_window;
		assert_eq!(window(before), 10);
		assert_eq!(window(after), 42);
	});
}

#[test]
fn a_rejected_referendum_changes_nothing_and_voters_keep_their_funds() {
	ext_from_preset("development").execute_with(|| {
		run_to(1);
		let bob = account(Sr25519Keyring::Bob);
		let total_before = Balances::total_balance(&bob);
		let index = referendum(
			set_window(42),
			OriginCaller::Origins(pallet_custom_origins::Origin::ProtocolParameters),
			false,
		);
		run_to(40);
		assert!(
			rejected(index),
			"{:?}",
			pallet_referenda::ReferendumInfoFor::<Runtime>::get(index)
		);
		assert_eq!(protocol::ChallengeWindow::get(), 10);
		// Voting locks funds, it does not spend them.
		assert_eq!(Balances::total_balance(&bob), total_before);
	});
}

#[test]
fn an_out_of_bounds_value_is_refused_even_when_the_referendum_passes() {
	ext_from_preset("development").execute_with(|| {
		run_to(1);
		let index = referendum(
			set_window(1),
			OriginCaller::Origins(pallet_custom_origins::Origin::ProtocolParameters),
			true,
		);
		run_to(40);
		assert!(approved(index));
		assert_eq!(protocol::ChallengeWindow::get(), 10);
		let refused = System::events().iter().any(|r| {
			matches!(
				&r.event,
				RuntimeEvent::Scheduler(pallet_scheduler::Event::Dispatched { result: Err(e), .. })
					if *e == pallet_protocol_parameters::Error::<Runtime>::BelowMinimum.into()
			)
		});
		assert!(refused, "the enactment failed with BelowMinimum");
	});
}

#[test]
fn parameter_bounds_and_origins() {
	ext_from_preset("development").execute_with(|| {
		run_to(1);
		let track = || RuntimeOrigin::from(pallet_custom_origins::Origin::ProtocolParameters);
		let set = |p| RuntimeParameters::Protocol(p);
		use pallet_protocol_parameters::Error;
		use protocol::Parameters as P;
		use sp_runtime::Perbill;
		// Every parameter's limits: the bound itself is accepted, one step beyond is refused.
		assert_ok!(ProtocolParameters::set_parameter(
			track(),
			set(P::ChallengeWindow(protocol::ChallengeWindow, Some(2)))
		));
		assert_noop!(
			ProtocolParameters::set_parameter(
				track(),
				set(P::ResponseWindow(protocol::ResponseWindow, Some(1)))
			),
			Error::<Runtime>::BelowMinimum
		);
		assert_noop!(
			ProtocolParameters::set_parameter(
				track(),
				set(P::ProtocolFee(protocol::ProtocolFee, Some(Perbill::from_percent(51))))
			),
			Error::<Runtime>::AboveMaximum
		);
		assert_noop!(
			ProtocolParameters::set_parameter(
				track(),
				set(P::MaxModelRowWidth(protocol::MaxModelRowWidth, Some(4097)))
			),
			Error::<Runtime>::AboveMaximum
		);
		assert_noop!(
			ProtocolParameters::set_parameter(
				track(),
				set(P::MaxOutputBytes(protocol::MaxOutputBytes, Some(64 * 1024 + 1)))
			),
			Error::<Runtime>::AboveMaximum
		);
		assert_noop!(
			ProtocolParameters::set_parameter(
				track(),
				set(P::SlashFraction(protocol::SlashFraction, Some(Perbill::zero())))
			),
			Error::<Runtime>::BelowMinimum
		);
		assert_noop!(
			ProtocolParameters::set_parameter(
				track(),
				set(P::MinProviderStake(protocol::MinProviderStake, Some(0)))
			),
			Error::<Runtime>::BelowMinimum
		);
		assert_noop!(
			ProtocolParameters::set_parameter(
				track(),
				set(P::MaxToleranceSlackBits(
					protocol::MaxToleranceSlackBits,
					Some(f32::NAN.to_bits())
				))
			),
			Error::<Runtime>::AboveMaximum
		);
		assert_ok!(ProtocolParameters::set_parameter(
			track(),
			set(P::MaxModelRowWidth(protocol::MaxModelRowWidth, Some(4096)))
		));
		// An answer must survive a one-minute outage: at least 20 blocks (2 minutes).
		assert_noop!(
			ProtocolParameters::set_parameter(
				track(),
				set(P::ResponseWindow(protocol::ResponseWindow, Some(19)))
			),
			Error::<Runtime>::BelowMinimum
		);
		// Free tasks and instant release from jail are refused.
		assert_noop!(
			ProtocolParameters::set_parameter(
				track(),
				set(P::MinTaskPrice(protocol::MinTaskPrice, Some(0)))
			),
			Error::<Runtime>::BelowMinimum
		);
		assert_noop!(
			ProtocolParameters::set_parameter(
				track(),
				set(P::MinJailPeriod(protocol::MinJailPeriod, Some(9)))
			),
			Error::<Runtime>::BelowMinimum
		);
		// The windows stay consistent: stake unbonds no faster than a challenge window (2, set
		// above) and a response window (20) pass, whichever of the three changes.
		assert_noop!(
			ProtocolParameters::set_parameter(
				track(),
				set(P::UnbondingPeriod(protocol::UnbondingPeriod, Some(21)))
			),
			Error::<Runtime>::BelowMinimum
		);
		assert_ok!(ProtocolParameters::set_parameter(
			track(),
			set(P::UnbondingPeriod(protocol::UnbondingPeriod, Some(22)))
		));
		assert_noop!(
			ProtocolParameters::set_parameter(
				track(),
				set(P::ChallengeWindow(protocol::ChallengeWindow, Some(3)))
			),
			Error::<Runtime>::AboveMaximum
		);
		assert_noop!(
			ProtocolParameters::set_parameter(
				track(),
				set(P::ResponseWindow(protocol::ResponseWindow, Some(21)))
			),
			Error::<Runtime>::AboveMaximum
		);
		// Signed accounts and the model-registry track cannot set parameters; pallet-parameters
		// itself takes Root only.
		let bob = RuntimeOrigin::signed(account(Sr25519Keyring::Bob));
		let models = RuntimeOrigin::from(pallet_custom_origins::Origin::ModelRegistry);
		let v = set(P::ChallengeWindow(protocol::ChallengeWindow, Some(20)));
		assert_noop!(
			ProtocolParameters::set_parameter(bob, v.clone()),
			sp_runtime::DispatchError::BadOrigin
		);
		assert_noop!(
			ProtocolParameters::set_parameter(models, v.clone()),
			sp_runtime::DispatchError::BadOrigin
		);
		assert_noop!(
			crate::Parameters::set_parameter(track(), v),
			sp_runtime::DispatchError::BadOrigin
		);
		// Only the model-registry track (or Root) approves models.
		assert_noop!(TaskRegistry::approve_model(track(), 0), sp_runtime::DispatchError::BadOrigin);
	});
}

#[test]
fn tracks_are_sorted_and_fast_in_test_builds() {
	use pallet_referenda::TracksInfo as _;
	assert!(crate::governance::tracks::TracksInfo::check_integrity().is_ok());
	let names: Vec<_> = crate::governance::tracks::TracksInfo::tracks()
		.map(|t| String::from_utf8_lossy(&t.info.name).trim_end_matches('\0').to_string())
		.collect();
	assert_eq!(names, ["root", "protocol-parameters", "model-registry"]);
	let params =
		crate::governance::tracks::TracksInfo::info(crate::governance::tracks::PROTOCOL_PARAMETERS)
			.unwrap();
	if cfg!(feature = "fast-runtime") {
		assert!(params.decision_period <= 20);
	} else {
		assert_eq!(params.decision_period, 7 * crate::DAYS);
	}
	let _ = <crate::configs::governance::VoteLockingPeriod as Get<u32>>::get();
}
