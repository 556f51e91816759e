//! Disputes end to end on a real (tiny) model: an honest provider wins a false challenge, a
//! cheating provider loses, malformed answers are refused, silence loses; every refusal; funds
//! add up after each.

use crate::{mock::*, pallet::*, Error, Event};
use arbiter_primitives::{
	builder::GraphBuilder,
	commitment::{model_commitment, trace_tree, weights_tree},
	encoding::descriptor_hash,
	ir::Graph,
	prover::ProverData,
	Opening,
};
use frame_support::{
	assert_noop, assert_ok,
	traits::fungible::{Inspect, InspectHold},
	BoundedVec,
};
use pallet_compute_staking::{Hardware, Offer};
use pallet_task_registry::{InputKind, IoSpec, TaskStatus, Tasks};
use sp_core::H256;

const SUBMITTER: u64 = 4;
const PROVIDER: u64 = 2;
const OPERATOR: u64 = 7;
const CHALLENGER: u64 = 5;
const TOKENIZER: [u8; 32] = [9; 32];

/// A model of one Linear layer (x [2,4] · W [3,4]ᵀ + b), its weights and an input.
fn model() -> (Graph, Vec<Vec<f32>>, Vec<f32>) {
	let mut g = GraphBuilder::new();
	let w = g.weight("w", &[3, 4]);
	let b = g.weight("b", &[3]);
	let x = g.input(&[2, 4]);
	g.linear(x, w, Some(b));
	let weights = vec![vec![0.5, -1.25, 2.0, 0.75, 1.5, 0.25, -0.5, 1.0, -2.0, 0.125, 0.5, 3.0], vec![0.1, -0.2, 0.3]];
	(g.build(), weights, vec![1.0, 2.0, -1.0, 0.5, -0.25, 4.0, 1.5, -2.0])
}

/// The trace the provider computes (optionally with one element of the output cheated).
fn trace(cheat: Option<f32>) -> Vec<Vec<f32>> {
	let (_, w, x) = model();
	let mut out = Vec::new();
	for r in 0..2 {
		for c in 0..3 {
			let dot: f32 = (0..4).map(|k| x[r * 4 + k] * w[0][c * 4 + k]).sum();
			out.push(dot + w[1][c]);
		}
	}
	if let Some(delta) = cheat {
		out[4] += delta; // row 1, col 1
	}
	vec![x, out]
}

struct Fixture {
	graph: Graph,
	outputs: Vec<Vec<f32>>,
	task: u64,
}

/// Registers the model and a provider, submits a task, commits the (possibly cheated) trace.
fn setup(cheat: Option<f32>) -> Fixture {
	let (graph, weights, _) = model();
	let commitment = model_commitment(&graph, &weights, TOKENIZER).unwrap();
	assert_ok!(Registry::register_model(
		RuntimeOrigin::signed(1),
		H256(descriptor_hash(&graph)),
		H256(commitment.model_root),
		H256(TOKENIZER),
		IoSpec { input: InputKind::Text, max_input_tokens: 8, output_width: 3 },
		4,
		0,
		BoundedVec::default(),
	));
	assert_ok!(Registry::approve_model(RuntimeOrigin::root(), 0));
	let offer = Offer {
		models: BoundedVec::try_from(vec![0u32]).unwrap(),
		price: 10,
		capacity: 1,
		endpoint: BoundedVec::default(),
		hardware: Hardware::Cpu,
	};
	assert_ok!(Staking::register(RuntimeOrigin::signed(PROVIDER), 10_000, OPERATOR, offer));
	assert_ok!(Registry::submit_task(RuntimeOrigin::signed(SUBMITTER), 0, BoundedVec::try_from(b"x".to_vec()).unwrap(), 50));
	let outputs = trace(cheat);
	let root = arbiter_primitives::encoding::trace_root_of(1, &trace_tree(&graph, &outputs).unwrap().root());
	assert_ok!(Registry::commit_result(
		RuntimeOrigin::signed(OPERATOR),
		0,
		BoundedVec::try_from(vec![1u8]).unwrap(),
		H256(root)
	));
	Fixture { graph, outputs, task: 0 }
}

fn opening(f: &Fixture, node: u32, row: u32, col: u32) -> Opening {
	let (_, weights, _) = model();
	let tt = trace_tree(&f.graph, &f.outputs).unwrap();
	let wt = weights_tree(&f.graph, &weights).unwrap();
	let prover = ProverData { graph: &f.graph, outputs: &f.outputs, trace_tree: &tt, weights: &weights, weights_tree: &wt, tokenizer_hash: TOKENIZER, seq_len: 1 };
	prover.opening(node, row, col).unwrap()
}

fn accounts() -> Vec<u64> {
	(1..=10).chain([TREASURY]).collect()
}

fn assert_accounting() {
	let sum: u64 = accounts().iter().map(|a| Balances::balance(a) + Balances::total_balance_on_hold(a)).sum();
	assert_eq!(sum, Balances::total_issuance());
	assert_eq!(Balances::total_issuance(), 10 * ENDOWMENT + 10);
	Challenges::do_try_state().unwrap();
	Staking::do_try_state().unwrap();
}

fn bond_held(who: u64) -> u64 {
	Balances::balance_on_hold(&HoldReason::ChallengerBond.into(), &who)
}

#[test]
fn honest_provider_wins_a_false_challenge() {
	new_test_ext().execute_with(|| {
		let f = setup(None);
		assert_ok!(Challenges::challenge(RuntimeOrigin::signed(CHALLENGER), f.task, 1, 1, 1));
		assert_eq!(bond_held(CHALLENGER), 300);
		assert!(matches!(Tasks::<Test>::get(f.task).unwrap().status, TaskStatus::Disputed { .. }));
		let provider_free = Balances::balance(&PROVIDER);
		let treasury = Balances::balance(&TREASURY);
		// Anyone may submit the provider's opening.
		assert_ok!(Challenges::respond(RuntimeOrigin::signed(8), 0, f.graph.clone(), opening(&f, 1, 1, 1)));
		System::assert_last_event(Event::ProviderWon { dispute: 0, task: f.task, bond_to_provider: 150, bond_to_treasury: 150 }.into());
		assert_eq!(bond_held(CHALLENGER), 0);
		assert_eq!(Balances::balance(&CHALLENGER), ENDOWMENT - 300, "the false challenge cost the bond");
		assert_eq!(Balances::balance(&PROVIDER) - provider_free, 150);
		assert_eq!(Balances::balance(&TREASURY) - treasury, 150);
		assert!(matches!(Tasks::<Test>::get(f.task).unwrap().status, TaskStatus::Committed { .. }), "the window resumes");
		assert_eq!(pallet_compute_staking::Providers::<Test>::get(PROVIDER).unwrap().open_disputes, 0);
		assert_accounting();
	});
}

#[test]
fn cheating_provider_loses_and_the_submitter_is_refunded() {
	new_test_ext().execute_with(|| {
		let f = setup(Some(0.01));
		let submitter_free = Balances::balance(&SUBMITTER);
		assert_ok!(Challenges::challenge(RuntimeOrigin::signed(CHALLENGER), f.task, 1, 1, 1));
		assert_ok!(Challenges::respond(RuntimeOrigin::signed(OPERATOR), 0, f.graph.clone(), opening(&f, 1, 1, 1)));
		// 20 % of 10_000 slashed: half to the challenger, half to the treasury.
		System::assert_last_event(Event::ProviderLost { dispute: 0, task: f.task, reason: LossReason::OutsideBound, slashed: 2_000 }.into());
		assert_eq!(Balances::balance(&CHALLENGER), ENDOWMENT + 1_000, "bond back plus the reward");
		assert_eq!(
			pallet_compute_staking::Providers::<Test>::get(PROVIDER).unwrap().status,
			pallet_compute_staking::ProviderStatus::Jailed
		);
		// No reassignment left (MaxReassignments = 0): the submitter gets the whole escrow back.
		assert!(matches!(Tasks::<Test>::get(f.task).unwrap().status, TaskStatus::Refunded { .. }));
		assert_eq!(Balances::balance(&SUBMITTER) - submitter_free, 50);
		assert_accounting();
	});
}

#[test]
fn malformed_answers_are_refused_and_silence_loses() {
	new_test_ext().execute_with(|| {
		let f = setup(None);
		assert_ok!(Challenges::challenge(RuntimeOrigin::signed(CHALLENGER), f.task, 1, 0, 2));
		let good = opening(&f, 1, 0, 2);
		// A flipped value: the proof no longer verifies, nothing is ruled.
		let mut bad = good.clone();
		bad.trace_rows[1].rows[0][0] ^= 1;
		assert_noop!(Challenges::respond(RuntimeOrigin::signed(CHALLENGER), 0, f.graph.clone(), bad), Error::<Test>::InvalidOpening);
		// Another element than the disputed one.
		let other = opening(&f, 1, 0, 1);
		assert_noop!(Challenges::respond(RuntimeOrigin::signed(CHALLENGER), 0, f.graph.clone(), other), Error::<Test>::InvalidOpening);
		// Another model's graph.
		let mut g2 = f.graph.clone();
		g2.weights[0].name = b"other".to_vec();
		assert_noop!(Challenges::respond(RuntimeOrigin::signed(OPERATOR), 0, g2, good.clone()), Error::<Test>::GraphMismatch);
		// Settling early is refused; after the window the provider loses.
		assert_noop!(Challenges::settle(RuntimeOrigin::signed(8), 0), Error::<Test>::ResponseWindowOpen);
		let deadline = Disputes::<Test>::get(0).unwrap().deadline;
		System::set_block_number(deadline + 1);
		assert_noop!(Challenges::respond(RuntimeOrigin::signed(OPERATOR), 0, f.graph.clone(), good), Error::<Test>::ResponseTooLate);
		// The hook of block deadline + 1 settles it.
		<Challenges as frame_support::traits::Hooks<u64>>::on_initialize(deadline + 1);
		assert!(Disputes::<Test>::get(0).is_none());
		System::assert_has_event(Event::ProviderLost { dispute: 0, task: f.task, reason: LossReason::NoResponse, slashed: 2_000 }.into());
		assert_accounting();
	});
}

#[test]
fn challenge_refusals() {
	new_test_ext().execute_with(|| {
		let f = setup(None);
		// Unbonded account (account 11 has nothing).
		assert_noop!(Challenges::challenge(RuntimeOrigin::signed(11), f.task, 1, 0, 0), Error::<Test>::InsufficientBond);
		// Unknown task.
		assert_noop!(Challenges::challenge(RuntimeOrigin::signed(CHALLENGER), 9, 1, 0, 0), Error::<Test>::NotChallengeable);
		// Twice at once.
		assert_ok!(Challenges::challenge(RuntimeOrigin::signed(CHALLENGER), f.task, 1, 0, 0));
		assert_noop!(Challenges::challenge(RuntimeOrigin::signed(6), f.task, 1, 0, 1), Error::<Test>::NotChallengeable);
		// A challenge of a model input is invalid: the provider wins it.
		assert_ok!(Challenges::respond(RuntimeOrigin::signed(OPERATOR), 0, f.graph.clone(), opening(&f, 1, 0, 0)));
		// Outside the window (and on a final task).
		run_to_block(40);
		assert!(matches!(Tasks::<Test>::get(f.task).unwrap().status, TaskStatus::Finalized { .. }));
		assert_noop!(Challenges::challenge(RuntimeOrigin::signed(CHALLENGER), f.task, 1, 0, 0), Error::<Test>::NotChallengeable);
		assert_accounting();
	});
}

#[test]
fn a_challenge_of_an_input_node_is_won_by_the_provider() {
	new_test_ext().execute_with(|| {
		let f = setup(None);
		assert_ok!(Challenges::challenge(RuntimeOrigin::signed(CHALLENGER), f.task, 0, 0, 0));
		let mut o = opening(&f, 1, 0, 0);
		(o.node, o.row, o.col) = (0, 0, 0);
		assert_ok!(Challenges::respond(RuntimeOrigin::signed(OPERATOR), 0, f.graph.clone(), o));
		assert!(matches!(System::events().last().unwrap().event, RuntimeEvent::Challenges(Event::ProviderWon { .. })));
		assert_accounting();
	});
}
