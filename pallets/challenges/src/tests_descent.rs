//! The descent inside one dispute (docs/protocol.md, "Descent") on a three-layer model: an
//! honest provider answers every step and wins; the challenger's strategy convicts a provider
//! whose first layer is wrong without reading its trace; whoever lets its move expire loses;
//! every refusal. Funds add up after each.

use crate::{
	mock::*,
	pallet::*,
	tests::{
		assert_accounting, bond_held, register_and_commit, CHALLENGER, OPERATOR, PROVIDER,
		TOKENIZER,
	},
	Error, Event,
};
use arbiter_interface::ElementRef;
use arbiter_primitives::{
	builder::GraphBuilder,
	commitment::{trace_tree, weights_tree},
	descent::{first_element, next_element, OwnRun},
	encoding::row_bytes,
	evaluator::ops,
	ir::{Graph, InputKind as GraphInput, NodeId, WeightId},
	prover::ProverData,
	Opening,
};
use codec::Encode;
use frame_support::{assert_noop, assert_ok, traits::fungible::Inspect, BoundedVec};
use pallet_task_registry::{TaskStatus, Tasks};

const X: f32 = 1.5;

/// x [2,4] (a constant input) → Linear 4→4 → GELU → Linear 4→3: nodes 0 to 3. A descent from
/// the output walks through two computed rows before it reaches the input.
fn model() -> (Graph, Vec<Vec<f32>>) {
	let mut g = GraphBuilder::new();
	let w1 = g.weight("l1.w", &[4, 4]);
	let b1 = g.weight("l1.b", &[4]);
	let w2 = g.weight("l2.w", &[3, 4]);
	let b2 = g.weight("l2.b", &[3]);
	let x = g.input(GraphInput::Constant { value_bits: X.to_bits() }, &[2, 4]);
	let h = g.linear(x, w1, Some(b1));
	let a = g.gelu(h);
	g.linear(a, w2, Some(b2));
	let weights = vec![
		vec![
			0.5, -1.25, 2.0, 0.75, 1.5, 0.25, -0.5, 1.0, -2.0, 0.125, 0.5, 3.0, 0.3, 0.2, -0.1, 0.4,
		],
		vec![0.1, -0.2, 0.3, 0.05],
		vec![1.0, -0.5, 0.25, 2.0, -1.5, 0.75, 1.25, -0.25, 0.5, 0.5, -2.0, 1.0],
		vec![0.01, 0.02, -0.03],
	];
	(g.build(), weights)
}

fn linear(x: &[f32], w: &[f32], b: &[f32], k: usize) -> Vec<f32> {
	x.chunks(k)
		.flat_map(|row| {
			w.chunks(k)
				.zip(b)
				.map(|(wr, bias)| row.iter().zip(wr).map(|(a, b)| a * b).sum::<f32>() + bias)
				.collect::<Vec<_>>()
		})
		.collect()
}

/// The trace a provider commits: honest, or with node `fault`'s output shifted by 0.5 and the
/// nodes after it computed from that (a consistent wrong trace).
fn trace(fault: Option<NodeId>) -> Vec<Vec<f32>> {
	let (_, w) = model();
	let shift = |node: NodeId, v: Vec<f32>| -> Vec<f32> {
		if fault == Some(node) {
			v.into_iter().map(|x| x + 0.5).collect()
		} else {
			v
		}
	};
	let x = vec![X; 8];
	let h = shift(1, linear(&x, &w[0], &w[1], 4));
	let a = shift(2, h.iter().map(|v| ops::gelu(*v, 0.0).reference as f32).collect());
	let y = shift(3, linear(&a, &w[2], &w[3], 4));
	vec![x, h, a, y]
}

struct Fixture {
	graph: Graph,
	weights: Vec<Vec<f32>>,
	outputs: Vec<Vec<f32>>,
}

/// Registers the model and a provider, submits a task and commits `outputs` with its final
/// node as the output.
fn setup(outputs: Vec<Vec<f32>>) -> Fixture {
	let (graph, weights) = model();
	let output = row_bytes(outputs.last().unwrap());
	register_and_commit(&graph, &weights, &outputs, 1, output, &[101]);
	Fixture { graph, weights, outputs }
}

impl Fixture {
	fn opening(&self, e: ElementRef) -> Opening {
		let tt = trace_tree(&self.graph, &self.outputs).unwrap();
		let wt = weights_tree(&self.graph, &self.weights).unwrap();
		ProverData {
			graph: &self.graph,
			outputs: &self.outputs,
			trace_tree: &tt,
			weights: &self.weights,
			weights_tree: &wt,
			tokenizer_hash: TOKENIZER,
			seq_len: 1,
		}
		.opening(e.node, e.row, e.col)
		.unwrap()
	}

	/// The provider's answer to the dispute's current element.
	fn answer(&self, dispute: u64) -> frame_support::dispatch::DispatchResult {
		let element = Disputes::<Test>::get(dispute).unwrap().element;
		Challenges::respond(
			RuntimeOrigin::signed(OPERATOR),
			dispute,
			BoundedVec::try_from(self.graph.encode()).unwrap(),
			BoundedVec::try_from(self.opening(element).encode()).unwrap(),
		)
	}
}

/// The challenger's own (honest) run.
struct Own {
	graph: Graph,
	weights: Vec<Vec<f32>>,
	outputs: Vec<Vec<f32>>,
}

impl OwnRun for Own {
	fn trace_row(&self, node: NodeId, row: u32) -> Option<Vec<f32>> {
		let w = self.graph.node(node)?.shape.width() as usize;
		self.outputs
			.get(node as usize)?
			.get(row as usize * w..(row as usize + 1) * w)
			.map(|r| r.to_vec())
	}
	fn weight_row(&self, tensor: WeightId, row: u32) -> Option<Vec<f32>> {
		let w = self.graph.weight(tensor)?.shape.width() as usize;
		self.weights
			.get(tensor as usize)?
			.get(row as usize * w..(row as usize + 1) * w)
			.map(|r| r.to_vec())
	}
}

fn own() -> Own {
	let (graph, weights) = model();
	Own { graph, weights, outputs: trace(None) }
}

/// What the challenger reads from the chain for its next step.
fn opened(dispute: u64) -> Vec<(NodeId, u32, Vec<f32>)> {
	OpenedOperands::<Test>::get(dispute)
		.unwrap_or_default()
		.into_iter()
		.map(|o| (o.node, o.row, o.values.iter().map(|b| f32::from_bits(*b)).collect()))
		.collect()
}

fn challenge(e: ElementRef) {
	assert_ok!(Challenges::challenge(RuntimeOrigin::signed(CHALLENGER), 0, e.node, e.row, e.col));
}

fn descend(e: ElementRef) -> frame_support::dispatch::DispatchResult {
	Challenges::descend(RuntimeOrigin::signed(CHALLENGER), 0, e.node, e.row, e.col)
}

#[test]
fn an_honest_provider_answers_every_step_and_the_descent_ends_in_its_favour() {
	ExtBuilder::default().build().execute_with(|| {
		let f = setup(trace(None));
		challenge(ElementRef::new(3, 1, 2));
		let provider_free = Balances::balance(&PROVIDER);
		// Round 0: the output element; its answer opens the GELU row it reads.
		assert_ok!(f.answer(0));
		let d = Disputes::<Test>::get(0).unwrap();
		assert_eq!((d.turn, d.round), (Turn::Challenger, 0));
		System::assert_last_event(
			Event::Answered { dispute: 0, task: 0, round: 0, deadline: d.deadline }.into(),
		);
		assert_eq!(opened(0).iter().map(|(n, r, _)| (*n, *r)).collect::<Vec<_>>(), [(2, 1)]);
		assert_eq!(bond_held(CHALLENGER), 300, "the bond is held once for the whole descent");
		// Round 1: a GELU element; its answer opens the first layer's row.
		assert_ok!(descend(ElementRef::new(2, 1, 3)));
		let d = Disputes::<Test>::get(0).unwrap();
		assert_eq!((d.turn, d.round, d.element), (Turn::Provider, 1, ElementRef::new(2, 1, 3)));
		assert!(OpenedOperands::<Test>::get(0).is_none());
		assert_ok!(f.answer(0));
		assert_eq!(opened(0).iter().map(|(n, r, _)| (*n, *r)).collect::<Vec<_>>(), [(1, 1)]);
		// Round 2: a first-layer element reads only the input: nothing is left to name.
		assert_ok!(descend(ElementRef::new(1, 1, 0)));
		assert_ok!(f.answer(0));
		System::assert_last_event(
			Event::ProviderWon {
				dispute: 0,
				task: 0,
				bond_to_provider: 150,
				bond_to_treasury: 150,
			}
			.into(),
		);
		assert!(Disputes::<Test>::get(0).is_none());
		assert!(OpenedOperands::<Test>::get(0).is_none());
		assert_eq!(bond_held(CHALLENGER), 0);
		assert_eq!(Balances::balance(&PROVIDER) - provider_free, 150);
		assert!(matches!(Tasks::<Test>::get(0).unwrap().status, TaskStatus::Committed { .. }));
		assert_accounting();
	});
}

#[test]
fn the_strategy_convicts_a_wrong_first_layer_without_reading_the_providers_trace() {
	ExtBuilder::default().build().execute_with(|| {
		let f = setup(trace(Some(1)));
		let own = own();
		let committed: Vec<f32> = f.outputs.last().unwrap().clone();
		let (node, row, col) = first_element(&f.graph, &own, 0.0, &committed).unwrap();
		challenge(ElementRef::new(node, row, col));
		let mut rounds = 1;
		loop {
			assert_ok!(f.answer(0));
			let Some(d) = Disputes::<Test>::get(0) else { break };
			assert_eq!(d.turn, Turn::Challenger, "an answer within the bound hands the turn over");
			let (node, row, col) = next_element(&f.graph, &own, 0.0, &opened(0)).unwrap();
			assert_ok!(descend(ElementRef::new(node, row, col)));
			rounds += 1;
		}
		assert_eq!(rounds, 3, "output, GELU, then the first layer");
		System::assert_has_event(
			Event::ProviderLost {
				dispute: 0,
				task: 0,
				reason: LossReason::OutsideBound,
				slashed: 2_000,
			}
			.into(),
		);
		assert_eq!(bond_held(CHALLENGER), 0);
		assert_eq!(Balances::balance(&CHALLENGER), ENDOWMENT + 1_000, "half the slash");
		assert_accounting();
	});
}

#[test]
fn whoever_lets_its_move_expire_loses() {
	// The challenger does not name the next step: its bond goes to the provider and treasury.
	ExtBuilder::default().build().execute_with(|| {
		let f = setup(trace(None));
		challenge(ElementRef::new(3, 0, 0));
		let challenged_deadline = Disputes::<Test>::get(0).unwrap().deadline;
		run_to_block(2);
		assert_ok!(f.answer(0));
		let step_deadline = Disputes::<Test>::get(0).unwrap().deadline;
		assert!(step_deadline > challenged_deadline);
		// The entry queued for the first deadline does not settle a dispute whose move was made.
		run_to_block(challenged_deadline + 1);
		assert_eq!(Disputes::<Test>::get(0).unwrap().turn, Turn::Challenger);
		run_to_block(step_deadline + 1);
		System::assert_has_event(
			Event::ProviderWon {
				dispute: 0,
				task: 0,
				bond_to_provider: 150,
				bond_to_treasury: 150,
			}
			.into(),
		);
		assert!(OpenedOperands::<Test>::get(0).is_none());
		assert_accounting();
	});
	// The provider does not answer a step: it loses as if it never answered.
	ExtBuilder::default().build().execute_with(|| {
		let f = setup(trace(None));
		challenge(ElementRef::new(3, 0, 0));
		assert_ok!(f.answer(0));
		assert_ok!(descend(ElementRef::new(2, 0, 1)));
		let deadline = Disputes::<Test>::get(0).unwrap().deadline;
		run_to_block(deadline + 1);
		System::assert_has_event(
			Event::ProviderLost {
				dispute: 0,
				task: 0,
				reason: LossReason::NoResponse,
				slashed: 2_000,
			}
			.into(),
		);
		assert_accounting();
	});
}

#[test]
fn descent_refusals() {
	ExtBuilder::default().build().execute_with(|| {
		let f = setup(trace(None));
		challenge(ElementRef::new(3, 0, 0));
		assert_noop!(descend(ElementRef::new(2, 0, 0)), Error::<Test>::NotChallengersTurn);
		assert_ok!(f.answer(0));
		assert_noop!(f.answer(0), Error::<Test>::NotProvidersTurn);
		assert_noop!(
			Challenges::descend(RuntimeOrigin::signed(8), 0, 2, 0, 0),
			Error::<Test>::NotTheChallenger
		);
		// Row 1 of the GELU node was not opened (the output element read row 0).
		assert_noop!(descend(ElementRef::new(2, 1, 0)), Error::<Test>::NotAnOpenedRow);
		assert_noop!(descend(ElementRef::new(1, 0, 0)), Error::<Test>::NotAnOpenedRow);
		assert_noop!(descend(ElementRef::new(2, 0, 4)), Error::<Test>::BadElement);
		assert_noop!(
			Challenges::descend(RuntimeOrigin::signed(CHALLENGER), 9, 2, 0, 0),
			Error::<Test>::UnknownDispute
		);
		let deadline = Disputes::<Test>::get(0).unwrap().deadline;
		System::set_block_number(deadline + 1);
		assert_noop!(descend(ElementRef::new(2, 0, 0)), Error::<Test>::StepTooLate);
		assert_accounting();
	});
}
