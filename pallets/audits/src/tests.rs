//! Audits against the real registry and staking pallets: draws happen in the block after the
//! commit at the audit rate, never to the provider's own accounts; attestations are paid exactly
//! (from what the treasury holds); silent auditors are slashed; attesting a result proven wrong
//! costs the auditor; a challenging auditor is neither; refusals change nothing; funds add up
//! after each.

use crate::{mock::*, pallet::*, AuditHooks, AuditorStatus, Error, Event};
use frame_support::{
	assert_noop, assert_ok,
	traits::fungible::{Inspect, InspectHold},
	BoundedVec,
};
use pallet_compute_staking::{Hardware, Offer, Providers as StakingProviders};
use pallet_task_registry::{InputKind, IoSpec, ModelKind, TaskStatus, Tasks};
use sp_core::H256;
use sp_runtime::Perbill;

const SUBMITTER: u64 = 1;
const PRICE: u64 = 100;
const STAKE: u64 = 5_000;

fn all_accounts() -> Vec<u64> {
	(1..=10).chain([TREASURY]).collect()
}

/// Funds neither created nor destroyed (the treasury started with `treasury`); holds match the
/// ledgers.
fn assert_accounting_from(treasury: u64) {
	let sum: u64 = all_accounts()
		.iter()
		.map(|a| Balances::balance(a) + Balances::total_balance_on_hold(a))
		.sum();
	assert_eq!(sum, Balances::total_issuance());
	assert_eq!(Balances::total_issuance(), 10 * ENDOWMENT + treasury);
	Staking::do_try_state().unwrap();
	Registry::do_try_state().unwrap();
}

fn assert_accounting() {
	assert_accounting_from(TREASURY_FUNDS);
}

/// Model 0 approved; `providers` serve it at `PRICE`, each with operator `100 + p` unless
/// `operators` names another.
fn setup(providers: &[u64], operators: &[(u64, u64)]) {
	assert_ok!(Registry::register_model(
		RuntimeOrigin::signed(10),
		H256::zero(),
		H256::zero(),
		H256::zero(),
		IoSpec {
			input: InputKind::TokenIds { vocabulary: 30_522 },
			max_input_tokens: 16,
			kind: ModelKind::Embedding { output_width: 4 }
		},
		64,
		0,
		BoundedVec::default(),
	));
	assert_ok!(Registry::approve_model(RuntimeOrigin::root(), 0));
	for p in providers {
		let offer = Offer {
			models: BoundedVec::try_from(vec![0u32]).unwrap(),
			price: PRICE,
			price_per_token: 0,
			capacity: 8,
			endpoint: BoundedVec::default(),
			hardware: Hardware::Cpu,
		};
		let operator = operators.iter().find(|(q, _)| q == p).map_or(100 + p, |(_, o)| *o);
		assert_ok!(Staking::register(RuntimeOrigin::signed(*p), STAKE, operator, offer));
	}
}

/// Submits a task and commits its result as the assigned provider's operator: (task,
/// provider).
fn submit_and_commit() -> (u64, u64) {
	let id = pallet_task_registry::NextTaskId::<Test>::get();
	assert_ok!(Registry::submit_task(
		RuntimeOrigin::signed(SUBMITTER),
		0,
		BoundedVec::try_from(vec![101, 7592, 102]).unwrap(),
		2 * PRICE,
	));
	let status = Tasks::<Test>::get(id).unwrap().status;
	let TaskStatus::Assigned { provider, operator, .. } = status else {
		panic!("not assigned: {status:?}")
	};
	assert_ok!(Registry::commit_result(
		RuntimeOrigin::signed(operator),
		id,
		BoundedVec::try_from(vec![0u8; 16]).unwrap(),
		None,
	));
	(id, provider)
}

/// Every drawn auditor of `task` attests (as honest auditors' nodes do; a silent one would be
/// slashed and jailed at finalization).
fn attest_all(task: u64) {
	for (auditor, _) in auditors(task) {
		assert_ok!(Audits::attest(RuntimeOrigin::signed(auditor), task));
	}
}

fn next_block() {
	run_to_block(System::block_number() + 1);
}

fn auditors(task: u64) -> Vec<(u64, AuditorStatus)> {
	OpenAudits::<Test>::get(task)
		.map(|a| a.auditors.into_inner())
		.unwrap_or_default()
}

fn stake(p: u64) -> u64 {
	StakingProviders::<Test>::get(p).unwrap().active
}

/// Runs blocks until `task` is finalized.
fn finalize(task: u64) {
	for _ in 0..20 {
		if matches!(Tasks::<Test>::get(task).unwrap().status, TaskStatus::Finalized { .. }) {
			return;
		}
		next_block();
	}
	panic!("task {task} not finalized");
}

#[test]
fn a_committed_result_is_drawn_in_the_next_block_never_to_its_own_provider_or_operator() {
	ExtBuilder::default().build().execute_with(|| {
		// Provider 2's operator key is provider 3's account: 3 must never audit 2.
		setup(&[2, 3, 4, 5, 6], &[(2, 3)]);
		for _ in 0..12 {
			let (task, provider) = submit_and_commit();
			// Not before the block after the commit: its hash decides.
			assert_eq!(PendingDraws::<Test>::get().into_inner(), vec![task]);
			assert!(OpenAudits::<Test>::get(task).is_none());
			next_block();
			assert!(PendingDraws::<Test>::get().is_empty());
			let drawn: Vec<u64> = auditors(task).iter().map(|(a, _)| *a).collect();
			assert_eq!(drawn.len(), 2, "AuditorsPerAudit at a 100 % audit rate");
			assert_ne!(drawn[0], drawn[1]);
			assert!(auditors(task).iter().all(|(_, s)| *s == AuditorStatus::Drawn));
			assert!(!drawn.contains(&provider), "never the provider");
			if provider == 2 {
				assert!(!drawn.contains(&3), "never the provider's operator account");
			}
			System::assert_has_event(
				Event::AuditDrawn { task, provider, auditors: BoundedVec::truncate_from(drawn) }
					.into(),
			);
			attest_all(task);
		}
		assert_accounting();
	});
}

#[test]
fn the_draw_follows_the_audit_rate() {
	ExtBuilder::default().build().execute_with(|| {
		setup(&[2, 3, 4], &[]);
		let audited = |rate: Perbill, tasks: u32| -> u32 {
			AuditRate::set(rate);
			(0..tasks)
				.filter(|_| {
					let (task, _) = submit_and_commit();
					next_block();
					attest_all(task);
					OpenAudits::<Test>::get(task).is_some()
				})
				.count() as u32
		};
		assert_eq!(audited(Perbill::zero(), 20), 0);
		assert_eq!(audited(Perbill::one(), 20), 20);
		let half = audited(Perbill::from_percent(50), 80);
		assert!((25..=55).contains(&half), "{half} of 80 at 50 %");
	});
}

#[test]
fn an_attestation_is_paid_exactly_and_a_silent_auditor_is_slashed_at_finalization() {
	ExtBuilder::default().build().execute_with(|| {
		setup(&[2, 3, 4], &[]);
		let (task, provider) = submit_and_commit();
		next_block();
		let drawn: Vec<u64> = auditors(task).iter().map(|(a, _)| *a).collect();
		let (attester, silent) = (drawn[0], drawn[1]);
		// Signed by the attester's operator key.
		assert_ok!(Audits::attest(RuntimeOrigin::signed(100 + attester), task));
		System::assert_has_event(Event::Attested { task, auditor: attester }.into());
		assert_eq!(auditors(task)[0], (attester, AuditorStatus::Attested));
		let (attester_free, treasury) =
			(Balances::balance(&attester), Balances::balance(&TREASURY));
		let silent_stake = stake(silent);
		finalize(task);
		// 40 % of the price from the treasury; the treasury got the protocol fee (10 %) and the
		// silent auditor's 1 % of its stake.
		let reward = Perbill::from_percent(40) * PRICE;
		let fee = Perbill::from_percent(10) * PRICE;
		let penalty = Perbill::from_percent(1) * silent_stake;
		assert_eq!(Balances::balance(&attester), attester_free + reward);
		assert_eq!(Balances::balance(&TREASURY), treasury + fee + penalty - reward);
		assert_eq!(stake(silent), silent_stake - penalty);
		System::assert_has_event(
			Event::AuditorPaid { task, auditor: attester, amount: reward }.into(),
		);
		System::assert_has_event(
			Event::SilentAuditorSlashed { task, auditor: silent, slashed: penalty }.into(),
		);
		System::assert_has_event(Event::AuditClosed { task }.into());
		assert!(OpenAudits::<Test>::get(task).is_none());
		assert_ne!(provider, attester);
		assert_accounting();
	});
}

#[test]
fn the_treasury_pays_attestations_only_from_what_it_holds() {
	ExtBuilder::default().treasury(25).build().execute_with(|| {
		setup(&[2, 3, 4], &[]);
		AuditorsPerAudit::set(1);
		let (task, _) = submit_and_commit();
		next_block();
		let attester = auditors(task)[0].0;
		assert_ok!(Audits::attest(RuntimeOrigin::signed(attester), task));
		let free = Balances::balance(&attester);
		finalize(task);
		// The treasury holds 25 + the 10 fee; it keeps its existential deposit (5).
		assert_eq!(Balances::balance(&attester), free + 30);
		assert_eq!(Balances::balance(&TREASURY), 5);
		System::assert_has_event(Event::AuditorPaid { task, auditor: attester, amount: 30 }.into());
		assert_accounting_from(25);
	});
}

#[test]
fn attesting_a_result_proven_wrong_costs_the_auditor_and_pays_the_challenger() {
	ExtBuilder::default().build().execute_with(|| {
		setup(&[2, 3, 4, 5], &[]);
		let (task, _) = submit_and_commit();
		next_block();
		let drawn: Vec<u64> = auditors(task).iter().map(|(a, _)| *a).collect();
		assert_ok!(Audits::attest(RuntimeOrigin::signed(drawn[0]), task));
		let challenger = 7;
		let (challenger_free, treasury) =
			(Balances::balance(&challenger), Balances::balance(&TREASURY));
		let (attester_stake, silent_stake) = (stake(drawn[0]), stake(drawn[1]));
		// The challenges pallet's call when a dispute convicts the result.
		<Audits as AuditHooks<u64, u64>>::result_disproven(task, &challenger);
		let slashed = Perbill::from_percent(10) * attester_stake;
		assert_eq!(stake(drawn[0]), attester_stake - slashed);
		assert_eq!(Balances::balance(&challenger), challenger_free + slashed / 2);
		assert_eq!(Balances::balance(&TREASURY), treasury + slashed - slashed / 2);
		// The silent auditor is not slashed for a result it did not vouch for.
		assert_eq!(stake(drawn[1]), silent_stake);
		System::assert_has_event(
			Event::FalseAttestationSlashed { task, auditor: drawn[0], slashed }.into(),
		);
		assert!(OpenAudits::<Test>::get(task).is_none());
		assert_accounting();
	});
}

#[test]
fn an_auditor_that_challenges_is_neither_paid_nor_penalised_by_the_audit() {
	ExtBuilder::default().build().execute_with(|| {
		setup(&[2, 3, 4], &[]);
		let (task, _) = submit_and_commit();
		next_block();
		let drawn: Vec<u64> = auditors(task).iter().map(|(a, _)| *a).collect();
		// The challenges pallet's call when the auditor's operator opens a dispute.
		<Audits as AuditHooks<u64, u64>>::challenged(task, &(100 + drawn[0]));
		assert_eq!(auditors(task)[0], (drawn[0], AuditorStatus::Challenged));
		System::assert_has_event(Event::AuditorChallenged { task, auditor: drawn[0] }.into());
		assert_noop!(
			Audits::attest(RuntimeOrigin::signed(drawn[0]), task),
			Error::<Test>::AlreadyDone
		);
		let (free, staked) = (Balances::balance(&drawn[0]), stake(drawn[0]));
		finalize(task);
		assert_eq!((Balances::balance(&drawn[0]), stake(drawn[0])), (free, staked));
		assert_accounting();
	});
}

#[test]
fn refusals_change_nothing() {
	ExtBuilder::default().build().execute_with(|| {
		setup(&[2, 3, 4, 5], &[]);
		AuditorsPerAudit::set(1);
		let (task, provider) = submit_and_commit();
		assert_noop!(Audits::attest(RuntimeOrigin::signed(3), task), Error::<Test>::NoAudit);
		next_block();
		let auditor = auditors(task)[0].0;
		let outsider = [2, 3, 4, 5].into_iter().find(|p| *p != auditor && *p != provider).unwrap();
		assert_noop!(
			Audits::attest(RuntimeOrigin::signed(outsider), task),
			Error::<Test>::NotDrawn
		);
		assert_noop!(
			Audits::attest(RuntimeOrigin::signed(100 + provider), task),
			Error::<Test>::NotDrawn
		);
		assert_ok!(Audits::attest(RuntimeOrigin::signed(auditor), task));
		assert_noop!(
			Audits::attest(RuntimeOrigin::signed(auditor), task),
			Error::<Test>::AlreadyDone
		);
		finalize(task);
		assert_noop!(Audits::attest(RuntimeOrigin::signed(auditor), task), Error::<Test>::NoAudit);
		assert_accounting();
	});
}

#[test]
fn a_block_full_of_commits_refuses_the_next_and_changes_nothing() {
	ExtBuilder::default().build().execute_with(|| {
		setup(&[2, 3, 4], &[]);
		for _ in 0..4 {
			submit_and_commit();
		}
		let id = pallet_task_registry::NextTaskId::<Test>::get();
		assert_ok!(Registry::submit_task(
			RuntimeOrigin::signed(SUBMITTER),
			0,
			BoundedVec::try_from(vec![101, 102]).unwrap(),
			2 * PRICE,
		));
		let TaskStatus::Assigned { operator, .. } = Tasks::<Test>::get(id).unwrap().status else {
			panic!("not assigned")
		};
		let output = BoundedVec::try_from(vec![0u8; 16]).unwrap();
		assert_noop!(
			Registry::commit_result(RuntimeOrigin::signed(operator), id, output.clone(), None),
			Error::<Test>::TooManyCommits
		);
		// The next block takes it.
		next_block();
		assert_ok!(Registry::commit_result(RuntimeOrigin::signed(operator), id, output, None));
		assert_eq!(PendingDraws::<Test>::get().into_inner(), vec![id]);
		assert_accounting();
	});
}
