//! Disputes end to end on a real (tiny) model: an honest provider wins a false challenge, a
//! cheating provider loses, malformed answers are refused, silence loses; every refusal; funds
//! add up after each.

use crate::{mock::*, pallet::*, Error, Event};
use arbiter_primitives::{
	builder::GraphBuilder,
	commitment::{model_commitment, trace_tree, weights_tree},
	encoding::descriptor_hash,
	ir::{Graph, InputKind as GraphInput},
	prover::ProverData,
	Opening,
};
use frame_support::{
	assert_noop, assert_ok,
	traits::fungible::{Inspect, InspectHold},
	BoundedVec,
};
use pallet_compute_staking::{Hardware, Offer};
use pallet_task_registry::{InputKind, IoSpec, ModelKind, TaskStatus, Tasks};
use sp_core::H256;

pub(crate) const SUBMITTER: u64 = 4;
pub(crate) const PROVIDER: u64 = 2;
pub(crate) const OPERATOR: u64 = 7;
pub(crate) const CHALLENGER: u64 = 5;
pub(crate) const TOKENIZER: [u8; 32] = [9; 32];

/// The value of the model's one input, a constant `[2, 4]` (derived on chain, like every
/// model input; the graph has fixed shapes, so a task is one token long).
const X: f32 = 1.5;
/// The task's token ids: one token (any id of the vocabulary).
pub(crate) const TASK_INPUT: [u32; 1] = [101];

/// A model of one Linear layer (x [2,4] · W [3,4]ᵀ + b), its weights and its input.
pub(crate) fn model() -> (Graph, Vec<Vec<f32>>, Vec<f32>) {
	let mut g = GraphBuilder::new();
	let w = g.weight("w", &[3, 4]);
	let b = g.weight("b", &[3]);
	let x = g.input(GraphInput::Constant { value_bits: X.to_bits() }, &[2, 4]);
	g.linear(x, w, Some(b));
	let weights = vec![
		vec![0.5, -1.25, 2.0, 0.75, 1.5, 0.25, -0.5, 1.0, -2.0, 0.125, 0.5, 3.0],
		vec![0.1, -0.2, 0.3],
	];
	(g.build(), weights, vec![X; 8])
}

/// The trace the provider computes (optionally with one element of the output cheated).
pub(crate) fn trace(cheat: Option<f32>) -> Vec<Vec<f32>> {
	let (_, _, x) = model();
	trace_of(x, cheat)
}

/// The trace of input rows `x` (the model's own, or any a provider made up).
pub(crate) fn trace_of(x: Vec<f32>, cheat: Option<f32>) -> Vec<Vec<f32>> {
	let (_, w, _) = model();
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

pub(crate) struct Fixture {
	pub(crate) graph: Graph,
	pub(crate) outputs: Vec<Vec<f32>>,
	pub(crate) task: u64,
	/// The length the trace is committed at.
	pub(crate) seq_len: u32,
}

/// Registers the model and a provider, submits a task, commits the (possibly cheated) trace
/// with its final node as the output.
fn setup(cheat: Option<f32>) -> Fixture {
	let output = arbiter_primitives::encoding::row_bytes(&trace(cheat)[1]);
	setup_with_output(cheat, output)
}

/// [`setup`], committing `output` as the task's output.
fn setup_with_output(cheat: Option<f32>, output: Vec<u8>) -> Fixture {
	setup_with(trace(cheat), 1, output, &TASK_INPUT)
}

/// Registers the model and a provider, submits `task_input`, commits `outputs` as a trace of
/// `seq_len` tokens with `output` as the output.
fn setup_with(
	outputs: Vec<Vec<f32>>,
	seq_len: u32,
	output: Vec<u8>,
	task_input: &[u32],
) -> Fixture {
	let (graph, weights, _) = model();
	register_and_commit(&graph, &weights, &outputs, seq_len, output, task_input);
	Fixture { graph, outputs, task: 0, seq_len }
}

/// Registers `graph` (rows at most 4 wide, outputs 3 wide) with `weights` and approves it,
/// registers a provider, submits `task_input` (task 0) and commits `outputs` as a trace of
/// `seq_len` tokens with `output` as the output.
pub(crate) fn register_and_commit(
	graph: &Graph,
	weights: &[Vec<f32>],
	outputs: &[Vec<f32>],
	seq_len: u32,
	output: Vec<u8>,
	task_input: &[u32],
) {
	register_and_submit(graph, weights, task_input);
	let root = arbiter_primitives::encoding::trace_root_of(
		seq_len,
		&trace_tree(graph, outputs).unwrap().root(),
	);
	assert_ok!(Registry::commit_result(
		RuntimeOrigin::signed(OPERATOR),
		0,
		BoundedVec::try_from(output).unwrap(),
		Some(H256(root))
	));
}

/// Registers `graph` and a provider and submits `task_input` (task 0), assigned to `PROVIDER`.
pub(crate) fn register_and_submit(graph: &Graph, weights: &[Vec<f32>], task_input: &[u32]) {
	let commitment = model_commitment(graph, weights, TOKENIZER).unwrap();
	assert_ok!(Registry::register_model(
		RuntimeOrigin::signed(1),
		H256(descriptor_hash(graph)),
		H256(commitment.model_root),
		H256(TOKENIZER),
		IoSpec {
			input: InputKind::TokenIds { vocabulary: 30_522 },
			max_input_tokens: 8,
			kind: ModelKind::Embedding { output_width: 3 }
		},
		4,
		0,
		BoundedVec::default(),
	));
	assert_ok!(Registry::approve_model(RuntimeOrigin::root(), 0));
	let offer = Offer {
		models: BoundedVec::try_from(vec![0u32]).unwrap(),
		price: 10,
		price_per_token: 0,
		capacity: 1,
		endpoint: BoundedVec::default(),
		hardware: Hardware::Cpu,
	};
	assert_ok!(Staking::register(RuntimeOrigin::signed(PROVIDER), 10_000, OPERATOR, offer));
	assert_ok!(Registry::submit_task(
		RuntimeOrigin::signed(SUBMITTER),
		0,
		BoundedVec::try_from(task_input.to_vec()).unwrap(),
		50
	));
}

pub(crate) fn opening(f: &Fixture, node: u32, row: u32, col: u32) -> Opening {
	let (_, weights, _) = model();
	let tt = trace_tree(&f.graph, &f.outputs).unwrap();
	let wt = weights_tree(&f.graph, &weights).unwrap();
	let prover = ProverData {
		graph: &f.graph,
		outputs: &f.outputs,
		trace_tree: &tt,
		weights: &weights,
		weights_tree: &wt,
		tokenizer_hash: TOKENIZER,
		seq_len: f.seq_len,
	};
	prover.opening(node, row, col).unwrap()
}

/// `challenges.respond` with the graph and the opening SCALE-encoded, as callers send them.
pub(crate) fn respond(
	origin: RuntimeOrigin,
	dispute: u64,
	graph: Graph,
	opening: Opening,
) -> frame_support::dispatch::DispatchResult {
	use codec::Encode;
	Challenges::respond(
		origin,
		dispute,
		BoundedVec::try_from(graph.encode()).unwrap(),
		BoundedVec::try_from(opening.encode()).unwrap(),
	)
}

fn accounts() -> Vec<u64> {
	(1..=10).chain([TREASURY]).collect()
}

pub(crate) fn assert_accounting() {
	let sum: u64 = accounts()
		.iter()
		.map(|a| Balances::balance(a) + Balances::total_balance_on_hold(a))
		.sum();
	assert_eq!(sum, Balances::total_issuance());
	assert_eq!(Balances::total_issuance(), 10 * ENDOWMENT + 10);
	Challenges::do_try_state().unwrap();
	Staking::do_try_state().unwrap();
}

pub(crate) fn bond_held(who: u64) -> u64 {
	Balances::balance_on_hold(&HoldReason::ChallengerBond.into(), &who)
}

#[test]
fn honest_provider_wins_a_false_challenge() {
	ExtBuilder::default().build().execute_with(|| {
		let f = setup(None);
		assert_ok!(Challenges::challenge(RuntimeOrigin::signed(CHALLENGER), f.task, 1, 1, 1));
		assert_eq!(bond_held(CHALLENGER), 300);
		assert!(matches!(Tasks::<Test>::get(f.task).unwrap().status, TaskStatus::Disputed { .. }));
		let provider_free = Balances::balance(&PROVIDER);
		let treasury = Balances::balance(&TREASURY);
		// Anyone may submit the provider's opening.
		assert_ok!(respond(RuntimeOrigin::signed(8), 0, f.graph.clone(), opening(&f, 1, 1, 1)));
		System::assert_last_event(
			Event::ProviderWon {
				dispute: 0,
				task: f.task,
				bond_to_provider: 150,
				bond_to_treasury: 150,
			}
			.into(),
		);
		assert_eq!(bond_held(CHALLENGER), 0);
		assert_eq!(
			Balances::balance(&CHALLENGER),
			ENDOWMENT - 300,
			"the false challenge cost the bond"
		);
		assert_eq!(Balances::balance(&PROVIDER) - provider_free, 150);
		assert_eq!(Balances::balance(&TREASURY) - treasury, 150);
		assert!(
			matches!(Tasks::<Test>::get(f.task).unwrap().status, TaskStatus::Committed { .. }),
			"the window resumes"
		);
		assert_eq!(
			pallet_compute_staking::Providers::<Test>::get(PROVIDER).unwrap().open_disputes,
			0
		);
		assert_accounting();
	});
}

#[test]
fn cheating_provider_loses_and_the_submitter_is_refunded() {
	ExtBuilder::default().build().execute_with(|| {
		let f = setup(Some(0.01));
		let submitter_free = Balances::balance(&SUBMITTER);
		assert_ok!(Challenges::challenge(RuntimeOrigin::signed(CHALLENGER), f.task, 1, 1, 1));
		assert_ok!(respond(
			RuntimeOrigin::signed(OPERATOR),
			0,
			f.graph.clone(),
			opening(&f, 1, 1, 1)
		));
		// 20 % of 10_000 slashed: half to the challenger, half to the treasury.
		System::assert_last_event(
			Event::ProviderLost {
				dispute: 0,
				task: f.task,
				reason: LossReason::OutsideBound,
				slashed: 2_000,
			}
			.into(),
		);
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

/// A provider that runs the model on inputs of its own choosing (here a larger constant, and
/// a trace of another length) is consistent everywhere downstream, so every op's bound holds;
/// its own answer to any challenge reading an input row, or to any challenge at all when the
/// length is not the task's, proves it ran something else, and it is slashed. Fails on the
/// old code, which ruled such traces for the provider.
#[test]
fn a_provider_whose_trace_is_not_of_the_task_input_loses() {
	// Input rows of its own choosing.
	ExtBuilder::default().build().execute_with(|| {
		let outputs = trace_of(vec![1e6; 8], None);
		let output = arbiter_primitives::encoding::row_bytes(&outputs[1]);
		let f = setup_with(outputs, 1, output, &TASK_INPUT);
		assert_ok!(Challenges::challenge(RuntimeOrigin::signed(CHALLENGER), f.task, 1, 0, 2));
		assert_ok!(respond(
			RuntimeOrigin::signed(OPERATOR),
			0,
			f.graph.clone(),
			opening(&f, 1, 0, 2)
		));
		System::assert_last_event(
			Event::ProviderLost {
				dispute: 0,
				task: f.task,
				reason: LossReason::InputMismatch,
				slashed: 2_000,
			}
			.into(),
		);
		assert_eq!(Balances::balance(&CHALLENGER), ENDOWMENT + 1_000, "bond back plus the reward");
		assert_accounting();
	});
	// A trace committed at another length than the task's two tokens: any element loses, even
	// one that does not exist.
	for (node, row, col) in [(1, 0, 0), (0, 1, 3), (1, 999, 0), (9, 0, 0)] {
		ExtBuilder::default().build().execute_with(|| {
			let outputs = trace(None);
			let output = arbiter_primitives::encoding::row_bytes(&outputs[1]);
			let f = setup_with(outputs, 1, output, &[101, 102]);
			assert_ok!(Challenges::challenge(
				RuntimeOrigin::signed(CHALLENGER),
				f.task,
				node,
				row,
				col
			));
			assert_ok!(respond(
				RuntimeOrigin::signed(OPERATOR),
				0,
				f.graph.clone(),
				opening(&f, node, row, col)
			));
			System::assert_last_event(
				Event::ProviderLost {
					dispute: 0,
					task: f.task,
					reason: LossReason::InputMismatch,
					slashed: 2_000,
				}
				.into(),
			);
			assert_accounting();
		});
	}
}

#[test]
fn malformed_answers_are_refused_and_silence_loses() {
	ExtBuilder::default().build().execute_with(|| {
		let f = setup(None);
		assert_ok!(Challenges::challenge(RuntimeOrigin::signed(CHALLENGER), f.task, 1, 0, 2));
		let good = opening(&f, 1, 0, 2);
		// A flipped value: the proof no longer verifies, nothing is ruled.
		let mut bad = good.clone();
		bad.trace_rows[1].rows[0][0] ^= 1;
		assert_noop!(
			respond(RuntimeOrigin::signed(CHALLENGER), 0, f.graph.clone(), bad),
			Error::<Test>::InvalidOpening
		);
		// Another element than the disputed one.
		let other = opening(&f, 1, 0, 1);
		assert_noop!(
			respond(RuntimeOrigin::signed(CHALLENGER), 0, f.graph.clone(), other),
			Error::<Test>::InvalidOpening
		);
		// Another model's graph.
		let mut g2 = f.graph.clone();
		g2.weights[0].name = b"other".to_vec();
		assert_noop!(
			respond(RuntimeOrigin::signed(OPERATOR), 0, g2, good.clone()),
			Error::<Test>::GraphMismatch
		);
		// Settling early is refused; after the window the provider loses.
		assert_noop!(
			Challenges::settle(RuntimeOrigin::signed(8), 0),
			Error::<Test>::ResponseWindowOpen
		);
		let deadline = Disputes::<Test>::get(0).unwrap().deadline;
		System::set_block_number(deadline + 1);
		assert_noop!(
			respond(RuntimeOrigin::signed(OPERATOR), 0, f.graph.clone(), good),
			Error::<Test>::ResponseTooLate
		);
		// The hook of block deadline + 1 settles it.
		<Challenges as frame_support::traits::Hooks<u64>>::on_initialize(deadline + 1);
		assert!(Disputes::<Test>::get(0).is_none());
		System::assert_has_event(
			Event::ProviderLost {
				dispute: 0,
				task: f.task,
				reason: LossReason::NoResponse,
				slashed: 2_000,
			}
			.into(),
		);
		assert_accounting();
	});
}

#[test]
fn challenge_refusals() {
	ExtBuilder::default().build().execute_with(|| {
		let f = setup(None);
		// Unbonded account (account 11 has nothing).
		assert_noop!(
			Challenges::challenge(RuntimeOrigin::signed(11), f.task, 1, 0, 0),
			Error::<Test>::InsufficientBond
		);
		// Unknown task.
		assert_noop!(
			Challenges::challenge(RuntimeOrigin::signed(CHALLENGER), 9, 1, 0, 0),
			Error::<Test>::NotChallengeable
		);
		// Up to MaxOpenDisputesPerTask (3 here) at once.
		assert_ok!(Challenges::challenge(RuntimeOrigin::signed(CHALLENGER), f.task, 1, 0, 0));
		assert_ok!(Challenges::challenge(RuntimeOrigin::signed(6), f.task, 1, 0, 1));
		assert_ok!(Challenges::challenge(RuntimeOrigin::signed(6), f.task, 1, 1, 1));
		assert_noop!(
			Challenges::challenge(RuntimeOrigin::signed(8), f.task, 1, 0, 2),
			Error::<Test>::TooManyDisputes
		);
		for (dispute, (row, col)) in [(0, 0), (0, 1), (1, 1)].into_iter().enumerate() {
			assert_ok!(respond(
				RuntimeOrigin::signed(OPERATOR),
				dispute as u64,
				f.graph.clone(),
				opening(&f, 1, row, col)
			));
		}
		assert!(OpenDisputes::<Test>::get(f.task).is_empty());
		// Outside the window (and on a final task).
		run_to_block(40);
		assert!(matches!(Tasks::<Test>::get(f.task).unwrap().status, TaskStatus::Finalized { .. }));
		assert_noop!(
			Challenges::challenge(RuntimeOrigin::signed(CHALLENGER), f.task, 1, 0, 0),
			Error::<Test>::NotChallengeable
		);
		assert_accounting();
	});
}

#[test]
fn a_challenge_of_an_input_node_is_won_by_the_provider() {
	ExtBuilder::default().build().execute_with(|| {
		let f = setup(None);
		assert_ok!(Challenges::challenge(RuntimeOrigin::signed(CHALLENGER), f.task, 0, 0, 0));
		assert_ok!(respond(
			RuntimeOrigin::signed(OPERATOR),
			0,
			f.graph.clone(),
			opening(&f, 0, 0, 0)
		));
		assert!(matches!(
			System::events().last().unwrap().event,
			RuntimeEvent::Challenges(Event::ProviderWon { .. })
		));
		assert_accounting();
	});
}

/// Elements that do not exist (a row past the node, a column past its width, a node past the
/// graph) are answered by the provider's prover with its commitments alone, and it wins: nobody
/// can get an honest provider slashed by naming an element it cannot open.
#[test]
fn a_challenge_of_an_element_that_does_not_exist_is_answered_and_won() {
	for (node, row, col) in [(1, 999, 0), (1, 0, 3), (7, 0, 0), (u32::MAX, u32::MAX, u32::MAX)] {
		ExtBuilder::default().build().execute_with(|| {
			let f = setup(None);
			let provider_free = Balances::balance(&PROVIDER);
			assert_ok!(Challenges::challenge(
				RuntimeOrigin::signed(CHALLENGER),
				f.task,
				node,
				row,
				col
			));
			assert_ok!(respond(
				RuntimeOrigin::signed(OPERATOR),
				0,
				f.graph.clone(),
				opening(&f, node, row, col)
			));
			System::assert_last_event(
				Event::ProviderWon {
					dispute: 0,
					task: f.task,
					bond_to_provider: 150,
					bond_to_treasury: 150,
				}
				.into(),
			);
			assert_eq!(Balances::balance(&PROVIDER) - provider_free, 150, "({node}, {row}, {col})");
			assert_accounting();
		});
	}
}

/// An operator that traces honestly but commits other output bytes loses a challenge of an
/// output element that differs; the challenger is rewarded, the submitter refunded.
#[test]
fn an_output_that_is_not_the_traces_final_node_loses() {
	ExtBuilder::default().build().execute_with(|| {
		let honest = trace(None);
		let mut wrong = honest[1].clone();
		wrong[4] += 3.0;
		let f = setup_with_output(None, arbiter_primitives::encoding::row_bytes(&wrong));
		let submitter_free = Balances::balance(&SUBMITTER);
		// An element where output and trace agree is ruled on its operands: the provider wins.
		assert_ok!(Challenges::challenge(RuntimeOrigin::signed(6), f.task, 1, 0, 0));
		assert_ok!(respond(
			RuntimeOrigin::signed(OPERATOR),
			0,
			f.graph.clone(),
			opening(&f, 1, 0, 0)
		));
		assert!(matches!(
			System::events().last().unwrap().event,
			RuntimeEvent::Challenges(Event::ProviderWon { .. })
		));
		// The element that differs: the provider's own opening loses.
		assert_ok!(Challenges::challenge(RuntimeOrigin::signed(CHALLENGER), f.task, 1, 1, 1));
		assert_ok!(respond(
			RuntimeOrigin::signed(OPERATOR),
			1,
			f.graph.clone(),
			opening(&f, 1, 1, 1)
		));
		System::assert_last_event(
			Event::ProviderLost {
				dispute: 1,
				task: f.task,
				reason: LossReason::OutputMismatch,
				slashed: 2_000,
			}
			.into(),
		);
		assert_eq!(Balances::balance(&CHALLENGER), ENDOWMENT + 1_000, "bond back plus the reward");
		assert!(matches!(Tasks::<Test>::get(f.task).unwrap().status, TaskStatus::Refunded { .. }));
		assert_eq!(Balances::balance(&SUBMITTER) - submitter_free, 50);
		assert_accounting();
	});
}

/// A decoy (a challenge of a correct element, e.g. by the provider's own sock-puppet) does not
/// shield a wrong result: the real challenge is heard at the same time, the provider loses it,
/// and the decoy is dismissed with its bond back.
#[test]
fn a_decoy_challenge_does_not_shield_a_wrong_result() {
	ExtBuilder::default().build().execute_with(|| {
		let f = setup(Some(0.01));
		let decoy = 6;
		assert_ok!(Challenges::challenge(RuntimeOrigin::signed(decoy), f.task, 1, 0, 0));
		assert_ok!(Challenges::challenge(RuntimeOrigin::signed(CHALLENGER), f.task, 1, 1, 1));
		assert_eq!(OpenDisputes::<Test>::get(f.task).into_inner(), vec![0, 1]);
		assert_eq!(
			pallet_compute_staking::Providers::<Test>::get(PROVIDER).unwrap().open_disputes,
			2
		);
		// The real one is ruled first: the provider loses, the decoy is dismissed.
		assert_ok!(respond(
			RuntimeOrigin::signed(OPERATOR),
			1,
			f.graph.clone(),
			opening(&f, 1, 1, 1)
		));
		System::assert_has_event(
			Event::DisputeDismissed { dispute: 0, task: f.task, challenger: decoy, bond: 300 }
				.into(),
		);
		System::assert_last_event(
			Event::ProviderLost {
				dispute: 1,
				task: f.task,
				reason: LossReason::OutsideBound,
				slashed: 2_000,
			}
			.into(),
		);
		assert_eq!(Balances::balance(&decoy), ENDOWMENT, "the decoy's bond is back in full");
		assert_eq!(Balances::balance(&CHALLENGER), ENDOWMENT + 1_000);
		assert!(Disputes::<Test>::get(0).is_none() && OpenDisputes::<Test>::get(f.task).is_empty());
		assert_eq!(
			pallet_compute_staking::Providers::<Test>::get(PROVIDER).unwrap().open_disputes,
			0
		);
		assert_noop!(
			respond(RuntimeOrigin::signed(OPERATOR), 0, f.graph.clone(), opening(&f, 1, 0, 0)),
			Error::<Test>::UnknownDispute
		);
		assert_accounting();
	});
}

/// A decoy answered in the provider's favour leaves the real challenge standing; a dispute
/// opened in the window's last block still leaves a response window of challenges after its
/// ruling.
#[test]
fn a_ruling_leaves_a_response_window_of_challenges() {
	ExtBuilder::default().build().execute_with(|| {
		let f = setup(Some(0.01));
		let TaskStatus::Committed { window_end, .. } = Tasks::<Test>::get(f.task).unwrap().status
		else {
			panic!("committed")
		};
		System::set_block_number(window_end);
		assert_ok!(Challenges::challenge(RuntimeOrigin::signed(6), f.task, 1, 0, 0));
		assert_ok!(respond(
			RuntimeOrigin::signed(OPERATOR),
			0,
			f.graph.clone(),
			opening(&f, 1, 0, 0)
		));
		let TaskStatus::Committed { window_end: reopened, .. } =
			Tasks::<Test>::get(f.task).unwrap().status
		else {
			panic!("committed")
		};
		assert_eq!(reopened, window_end + 4, "ResponseWindow (4) blocks after the ruling");
		run_to_block(reopened);
		assert_ok!(Challenges::challenge(RuntimeOrigin::signed(CHALLENGER), f.task, 1, 1, 1));
		assert_ok!(respond(
			RuntimeOrigin::signed(OPERATOR),
			1,
			f.graph.clone(),
			opening(&f, 1, 1, 1)
		));
		System::assert_last_event(
			Event::ProviderLost {
				dispute: 1,
				task: f.task,
				reason: LossReason::OutsideBound,
				slashed: 2_000,
			}
			.into(),
		);
		assert_accounting();
	});
}

/// `respond` takes bytes bounded before decoding: more than the bound does not even decode as a
/// call, and bytes that are not exactly one graph or one opening are refused without a ruling.
#[test]
fn answers_are_bounded_and_must_decode() {
	use codec::{Decode, Encode};
	ExtBuilder::default().build().execute_with(|| {
		let f = setup(None);
		assert_ok!(Challenges::challenge(RuntimeOrigin::signed(CHALLENGER), f.task, 1, 1, 1));
		let graph = f.graph.encode();
		let opening = opening(&f, 1, 1, 1).encode();
		let bytes = |v: &[u8]| BoundedVec::try_from(v.to_vec()).unwrap();
		let answer = |g: &[u8], o: &[u8]| {
			Challenges::respond(RuntimeOrigin::signed(OPERATOR), 0, bytes(g), bytes(o))
		};
		assert_noop!(answer(b"junk", &opening), Error::<Test>::UndecodableGraph);
		assert_noop!(
			answer(&[&graph[..], &[0]].concat(), &opening),
			Error::<Test>::UndecodableGraph
		);
		assert_noop!(
			answer(&graph, &opening[..opening.len() - 1]),
			Error::<Test>::UndecodableOpening
		);
		// A graph past MaxGraphBytes (64 KiB in the mock): the call itself does not decode.
		let mut call = crate::Call::<Test>::respond {
			dispute: 0,
			graph: bytes(&graph),
			opening: bytes(&opening),
		}
		.encode();
		assert!(crate::Call::<Test>::decode(&mut &call[..]).is_ok());
		call.truncate(9); // the call index and the dispute id
		call.extend(vec![0u8; 64 * 1024 + 1].encode());
		call.extend(opening.encode());
		assert!(crate::Call::<Test>::decode(&mut &call[..]).is_err());
		// The weight grows with the graph's bytes.
		use crate::WeightInfo;
		assert!(
			<() as WeightInfo>::respond(64 * 1024).ref_time() >
				<() as WeightInfo>::respond(0).ref_time()
		);
		// The honest answer still rules.
		assert_ok!(answer(&graph, &opening));
		assert_accounting();
	});
}
