//! Task lifecycle tests against the real staking pallet: happy path, timeouts, refunds,
//! cancellation, disputes, pruning, every refusal; funds add up after each.

use crate::{mock::*, pallet::*, types::*, Error, Event, TaskDisputes};
use frame_support::{
	assert_noop, assert_ok,
	traits::fungible::{Inspect, InspectHold},
	BoundedVec,
};
use pallet_compute_staking::{Hardware, Offer, Providers as StakingProviders};
use sp_core::H256;

const SUBMITTER: u64 = 4;
const PRICE: u64 = 10;
const STAKE: u64 = 5_000;

fn all_accounts() -> Vec<u64> {
	(1..=10).chain([99, 102, 103, 105]).collect()
}

/// Funds neither created nor destroyed; holds match the ledgers.
fn assert_accounting() {
	let sum: u64 = all_accounts()
		.iter()
		.map(|a| Balances::balance(a) + Balances::total_balance_on_hold(a))
		.sum();
	assert_eq!(sum, Balances::total_issuance());
	assert_eq!(Balances::total_issuance(), 10 * ENDOWMENT + 10);
	Staking::do_try_state().unwrap();
	Registry::do_try_state().unwrap();
	for a in all_accounts() {
		assert!(Registry::task_escrow_consistent(&a), "escrow of {a}");
	}
}

/// Token ids of a short text (`[CLS] hello world [SEP]` in BERT's vocabulary).
fn input() -> BoundedVec<u32, <Test as Config>::MaxInputTokens> {
	BoundedVec::try_from(vec![101, 7592, 2088, 102]).unwrap()
}

fn output() -> BoundedVec<u8, <Test as Config>::MaxOutputLen> {
	BoundedVec::try_from(vec![1u8; 16]).unwrap()
}

/// Model 0's io spec: token ids below this, at most `MAX_TOKENS` of them.
const VOCABULARY: u32 = 30_522;
const MAX_TOKENS: u32 = 16;

/// Model 0 approved; providers 2 and 3 (operators 102, 103) serve it at `PRICE`.
fn setup(providers: &[u64]) {
	assert_ok!(Registry::register_model(
		RuntimeOrigin::signed(1),
		H256::zero(),
		H256::zero(),
		H256::zero(),
		IoSpec {
			input: InputKind::TokenIds { vocabulary: VOCABULARY },
			max_input_tokens: MAX_TOKENS,
			kind: ModelKind::Embedding { output_width: 384 }
		},
		384,
		0,
		BoundedVec::default(),
	));
	assert_ok!(Registry::approve_model(RuntimeOrigin::root(), 0));
	for p in providers {
		let offer = Offer {
			models: BoundedVec::try_from(vec![0u32]).unwrap(),
			price: PRICE,
			price_per_token: 0,
			capacity: 2,
			endpoint: BoundedVec::default(),
			hardware: Hardware::Cpu,
		};
		assert_ok!(Staking::register(RuntimeOrigin::signed(*p), STAKE, 100 + p, offer));
	}
}

fn submit(max_fee: u64) -> TaskId {
	let id = NextTaskId::<Test>::get();
	assert_ok!(Registry::submit_task(RuntimeOrigin::signed(SUBMITTER), 0, input(), max_fee));
	id
}

fn assigned(id: TaskId) -> (u64, u64, u64) {
	match Tasks::<Test>::get(id).unwrap().status {
		TaskStatus::Assigned { provider, operator, deadline, .. } => (provider, operator, deadline),
		s => panic!("not assigned: {s:?}"),
	}
}

fn in_flight(p: u64) -> u32 {
	StakingProviders::<Test>::get(p).unwrap().tasks_in_flight
}

#[test]
fn happy_path_pays_provider_and_treasury_and_refunds_the_rest() {
	ExtBuilder::default().build().execute_with(|| {
		setup(&[2, 3]);
		let free_before = Balances::balance(&SUBMITTER);
		let id = submit(50);
		assert_eq!(Balances::balance(&SUBMITTER), free_before - 50, "max_fee held");
		let (provider, operator, deadline) = assigned(id);
		assert_eq!(deadline, 1 + 3);
		assert_eq!(in_flight(provider), 1);
		assert_eq!(Registry::operator_tasks(&operator), vec![id]);
		assert_ok!(Registry::commit_result(
			RuntimeOrigin::signed(operator),
			id,
			output(),
			Some(H256::repeat_byte(9))
		));
		let window_end = match Tasks::<Test>::get(id).unwrap().status {
			TaskStatus::Committed { window_end, .. } => window_end,
			s => panic!("{s:?}"),
		};
		assert_eq!(window_end, 1 + 5);
		assert_noop!(
			Registry::finalize(RuntimeOrigin::signed(7), id),
			Error::<Test>::NotFinalizable
		);
		let (p0, t0) = (Balances::balance(&provider), Balances::balance(&99));
		run_to_block(window_end + 1);
		match Tasks::<Test>::get(id).unwrap().status {
			TaskStatus::Finalized { provider: p, trace_root, .. } => {
				assert_eq!(p, provider);
				assert_eq!(trace_root, Some(H256::repeat_byte(9)));
			},
			s => panic!("{s:?}"),
		}
		System::assert_has_event(
			Event::TaskFinalized { task: id, provider, paid: 9, fee: 1, refunded: 40 }.into(),
		);
		assert_eq!(Balances::balance(&provider) - p0, 9);
		assert_eq!(Balances::balance(&99) - t0, 1);
		assert_eq!(Balances::balance(&SUBMITTER), free_before - PRICE);
		assert_eq!(in_flight(provider), 0);
		assert!(Registry::operator_tasks(&operator).is_empty());
		assert_eq!(StakingProviders::<Test>::get(provider).unwrap().reputation.completed, 1);
		assert_accounting();
		// Readable until pruned after the retention period.
		run_to_block(window_end + 1 + 20);
		assert!(Tasks::<Test>::get(id).is_none());
		System::assert_has_event(Event::TaskPruned { task: id }.into());
	});
}

#[test]
fn timeout_slashes_and_reassigns_then_succeeds() {
	ExtBuilder::default().build().execute_with(|| {
		setup(&[2, 3]);
		let id = submit(50);
		let (first, _, deadline) = assigned(id);
		let treasury = Balances::balance(&99);
		run_to_block(deadline + 1);
		System::assert_has_event(
			Event::DeadlineMissed { task: id, provider: first, slashed: 50 }.into(),
		);
		assert_eq!(Balances::balance(&99) - treasury, 50, "1 % of the stake to the treasury");
		assert_eq!(in_flight(first), 0);
		assert_eq!(StakingProviders::<Test>::get(first).unwrap().reputation.missed, 1);
		let (second, operator, _) = assigned(id);
		assert_ne!(second, first, "the provider that missed is not picked again at once");
		assert_ok!(Registry::commit_result(RuntimeOrigin::signed(operator), id, output(), None));
		run_to_block(deadline + 1 + 5 + 1);
		assert!(matches!(Tasks::<Test>::get(id).unwrap().status, TaskStatus::Finalized { .. }));
		assert_accounting();
	});
}

#[test]
fn timeouts_until_refund() {
	ExtBuilder::default().build().execute_with(|| {
		setup(&[2, 3]);
		let free_before = Balances::balance(&SUBMITTER);
		let id = submit(50);
		// Both providers miss their deadline; each miss jails the provider (its node is
		// presumably down), so the third attempt finds nobody, and with the attempts
		// (1 + MaxReassignments = 3) used up the task is refunded at its retry.
		for _ in 0..2 {
			let (_, _, deadline) = assigned(id);
			run_to_block(deadline + 1);
		}
		let retry_at = match Tasks::<Test>::get(id).unwrap().status {
			TaskStatus::Unassigned { retry_at } => retry_at,
			s => panic!("{s:?}"),
		};
		assert_eq!(
			StakingProviders::<Test>::get(2).unwrap().status,
			pallet_compute_staking::ProviderStatus::Jailed
		);
		run_to_block(retry_at);
		assert!(matches!(Tasks::<Test>::get(id).unwrap().status, TaskStatus::Refunded { .. }));
		System::assert_has_event(
			Event::TaskRefunded { task: id, submitter: SUBMITTER, amount: 50 }.into(),
		);
		assert_eq!(Balances::balance(&SUBMITTER), free_before);
		assert_eq!(in_flight(2) + in_flight(3), 0);
		assert_accounting();
	});
}

#[test]
fn no_provider_then_retry_then_cancel() {
	ExtBuilder::default().build().execute_with(|| {
		setup(&[]);
		let free_before = Balances::balance(&SUBMITTER);
		let id = submit(50);
		let retry_at = match Tasks::<Test>::get(id).unwrap().status {
			TaskStatus::Unassigned { retry_at } => retry_at,
			s => panic!("{s:?}"),
		};
		assert_noop!(
			Registry::cancel_task(RuntimeOrigin::signed(5), id),
			Error::<Test>::NotSubmitter
		);
		// A provider appears; the retry assigns it.
		let offer = Offer {
			models: BoundedVec::try_from(vec![0u32]).unwrap(),
			price: PRICE,
			price_per_token: 0,
			capacity: 1,
			endpoint: BoundedVec::default(),
			hardware: Hardware::Gpu,
		};
		assert_ok!(Staking::register(RuntimeOrigin::signed(5), STAKE, 105, offer));
		run_to_block(retry_at);
		let (provider, _, _) = assigned(id);
		assert_eq!(provider, 5);
		assert_noop!(
			Registry::cancel_task(RuntimeOrigin::signed(SUBMITTER), id),
			Error::<Test>::AlreadyAssigned
		);
		// A second task finds provider 5 full and waits; the submitter cancels it.
		let id2 = submit(30);
		assert!(matches!(Tasks::<Test>::get(id2).unwrap().status, TaskStatus::Unassigned { .. }));
		assert_ok!(Registry::cancel_task(RuntimeOrigin::signed(SUBMITTER), id2));
		assert_eq!(Balances::balance(&SUBMITTER), free_before - 50, "the cancelled escrow is back");
		System::assert_has_event(Event::TaskCancelled { task: id2 }.into());
		assert_accounting();
	});
}

#[test]
fn dispute_freezes_and_both_resolutions() {
	ExtBuilder::default().build().execute_with(|| {
		setup(&[2, 3]);
		// Provider wins every dispute: the window is heard again for a while after the last ruling.
		let id = submit(50);
		let (provider, operator, _) = assigned(id);
		assert_ok!(Registry::commit_result(RuntimeOrigin::signed(operator), id, output(), None));
		run_to_block(3); // window_end = 6: 3 blocks left
		let subject = <Registry as TaskDisputes<u64>>::subject(id).unwrap();
		assert_eq!((subject.provider, subject.submitter, subject.model), (provider, SUBMITTER, 0));
		// The root is fixed under dispute, once: a committed task's is not fixed by a hook.
		assert_noop!(
			<Registry as TaskDisputes<u64>>::fix_trace_root(id, H256::repeat_byte(4)),
			Error::<Test>::NotDisputed
		);
		assert_ok!(<Registry as TaskDisputes<u64>>::freeze(id));
		let root = |id| <Registry as TaskDisputes<u64>>::committed_result(id).unwrap().trace_root;
		assert_eq!(root(id), None);
		assert_ok!(<Registry as TaskDisputes<u64>>::fix_trace_root(id, H256::repeat_byte(4)));
		System::assert_last_event(
			Event::TraceRootFixed { task: id, trace_root: H256::repeat_byte(4) }.into(),
		);
		assert_noop!(
			<Registry as TaskDisputes<u64>>::fix_trace_root(id, H256::repeat_byte(5)),
			Error::<Test>::TraceRootFixed
		);
		assert_eq!(root(id), Some(H256::repeat_byte(4)));
		assert!(
			<Registry as TaskDisputes<u64>>::subject(id).is_some(),
			"more challenges are heard while the window runs"
		);
		assert_ok!(<Registry as TaskDisputes<u64>>::freeze(id));
		run_to_block(20);
		assert!(
			matches!(Tasks::<Test>::get(id).unwrap().status, TaskStatus::Disputed { open: 2, .. }),
			"no finality while disputed"
		);
		assert!(<Registry as TaskDisputes<u64>>::subject(id).is_none(), "the window has passed");
		assert_noop!(
			Registry::finalize(RuntimeOrigin::signed(7), id),
			Error::<Test>::NotFinalizable
		);
		// One of two resolved: still disputed.
		assert_ok!(<Registry as TaskDisputes<u64>>::resolve(id, true, 3));
		assert!(matches!(
			Tasks::<Test>::get(id).unwrap().status,
			TaskStatus::Disputed { open: 1, .. }
		));
		// The last one: challenges are heard again for 3 blocks after the ruling.
		assert_ok!(<Registry as TaskDisputes<u64>>::resolve(id, true, 3));
		System::assert_has_event(Event::TaskUnfrozen { task: id, window_end: 23 }.into());
		assert!(<Registry as TaskDisputes<u64>>::subject(id).is_some());
		assert_eq!(StakingProviders::<Test>::get(provider).unwrap().reputation.disputes_won, 2);
		run_to_block(24);
		assert!(matches!(
			Tasks::<Test>::get(id).unwrap().status,
			TaskStatus::Finalized { trace_root: Some(r), .. } if r == H256::repeat_byte(4)
		));

		// Provider loses: its slot is freed and another provider gets the task.
		let id = submit(50);
		let (loser, operator, _) = assigned(id);
		assert_ok!(Registry::commit_result(RuntimeOrigin::signed(operator), id, output(), None));
		assert_ok!(<Registry as TaskDisputes<u64>>::freeze(id));
		assert_ok!(<Registry as TaskDisputes<u64>>::freeze(id));
		assert_ok!(<Registry as TaskDisputes<u64>>::resolve(id, false, 3));
		assert_noop!(
			<Registry as TaskDisputes<u64>>::resolve(id, false, 3),
			Error::<Test>::NotDisputed
		);
		assert_noop!(<Registry as TaskDisputes<u64>>::freeze(id), Error::<Test>::NotChallengeable);
		let (next, _, _) = assigned(id);
		assert_ne!(next, loser);
		assert_eq!(in_flight(loser), 0);
		assert_eq!(StakingProviders::<Test>::get(loser).unwrap().reputation.disputes_lost, 1);
		assert_accounting();
	});
}

#[test]
fn refusals_change_nothing() {
	ExtBuilder::default().build().execute_with(|| {
		setup(&[2]);
		let submit_as = |who: u64, model: u32, input: Vec<u32>, fee: u64| {
			Registry::submit_task(
				RuntimeOrigin::signed(who),
				model,
				BoundedVec::try_from(input).unwrap(),
				fee,
			)
		};
		assert_noop!(submit_as(SUBMITTER, 7, vec![101, 102], 50), Error::<Test>::ModelNotApproved);
		// Inputs the engine could not run are refused here, not timed out on providers.
		assert_noop!(submit_as(SUBMITTER, 0, vec![], 50), Error::<Test>::BadInputLength);
		assert_noop!(
			submit_as(SUBMITTER, 0, vec![101; MAX_TOKENS as usize + 1], 50),
			Error::<Test>::BadInputLength
		);
		assert_noop!(
			submit_as(SUBMITTER, 0, vec![101, VOCABULARY, 102], 50),
			Error::<Test>::TokenIdOutOfRange
		);
		assert_noop!(
			submit_as(SUBMITTER, 0, vec![101, u32::MAX, 102], 50),
			Error::<Test>::TokenIdOutOfRange
		);
		// The largest accepted input: the model's token limit, the last id of its vocabulary.
		assert_ok!(submit_as(SUBMITTER, 0, vec![VOCABULARY - 1; MAX_TOKENS as usize], 50));
		assert_noop!(
			submit_as(SUBMITTER, 0, vec![101, 102], ENDOWMENT),
			Error::<Test>::CannotPayFee
		);
		assert_ok!(Registry::retire_model(RuntimeOrigin::root(), 0));
		assert_noop!(submit_as(SUBMITTER, 0, vec![101, 102], 50), Error::<Test>::ModelNotApproved);
	});
	ExtBuilder::default().build().execute_with(|| {
		setup(&[2]);
		let id = submit(50);
		let (_, operator, deadline) = assigned(id);
		let commit = |who: u64, out: Vec<u8>| {
			Registry::commit_result(
				RuntimeOrigin::signed(who),
				id,
				BoundedVec::try_from(out).unwrap(),
				None,
			)
		};
		assert_noop!(commit(2, vec![1]), Error::<Test>::NotAssignedOperator);
		assert_noop!(commit(operator, vec![]), Error::<Test>::BadOutputLength);
		MaxOutputBytes::set(2);
		assert_noop!(commit(operator, vec![1, 2, 3]), Error::<Test>::BadOutputLength);
		MaxOutputBytes::set(128);
		assert_noop!(
			Registry::commit_result(RuntimeOrigin::signed(operator), 77, output(), None),
			Error::<Test>::UnknownTask
		);
		assert_ok!(commit(operator, vec![1]));
		assert_noop!(commit(operator, vec![1]), Error::<Test>::NotAwaitingResult);
		// A late commit on a new task.
		let id2 = submit(50);
		let (_, op2, d2) = assigned(id2);
		System::set_block_number(d2 + 1);
		assert_noop!(
			Registry::commit_result(RuntimeOrigin::signed(op2), id2, output(), None),
			Error::<Test>::DeadlinePassed
		);
		let _ = deadline;
		// Prices above max_fee are never assigned.
		let id3 = submit(PRICE - 1);
		assert!(matches!(Tasks::<Test>::get(id3).unwrap().status, TaskStatus::Unassigned { .. }));
		assert_accounting();
	});
}

#[test]
fn a_new_challenge_window_applies_to_later_tasks_only() {
	ExtBuilder::default().build().execute_with(|| {
		setup(&[2, 3]);
		let old = submit(50);
		ChallengeWindow::set(50);
		let new = submit(50);
		for id in [old, new] {
			let (_, op, _) = assigned(id);
			assert_ok!(Registry::commit_result(RuntimeOrigin::signed(op), id, output(), None));
		}
		let end = |id| match Tasks::<Test>::get(id).unwrap().status {
			TaskStatus::Committed { window_end, .. } => window_end,
			s => panic!("{s:?}"),
		};
		assert_eq!(end(old), 1 + 5);
		assert_eq!(end(new), 1 + 50);
		ChallengeWindow::set(5);
	});
}
