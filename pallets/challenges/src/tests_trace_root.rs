//! A result committed without its trace root (docs/protocol.md, "The trace root is fixed when
//! first needed"): the provider's first ruled answer fixes the root, only the provider's side may
//! give it, and a wrong output loses whatever trace the provider answers with.

use crate::{
	mock::*,
	pallet::*,
	tests::{
		assert_accounting, bond_held, model, opening, register_and_submit, respond, trace, Fixture,
		CHALLENGER, OPERATOR, PROVIDER, SUBMITTER, TASK_INPUT,
	},
	Error, Event,
};
use arbiter_primitives::{
	commitment::trace_tree,
	encoding::{row_bytes, trace_root_of},
};
use frame_support::{assert_noop, assert_ok, traits::fungible::Inspect, BoundedVec};
use pallet_task_registry::{TaskStatus, Tasks};
use sp_core::H256;

/// Registers the model, submits the task and commits `output` alone; `outputs` is the trace the
/// provider will answer from.
fn commit_output_alone(outputs: Vec<Vec<f32>>, output: Vec<u8>) -> Fixture {
	let (graph, weights, _) = model();
	register_and_submit(&graph, &weights, &TASK_INPUT);
	assert_ok!(Registry::commit_result(
		RuntimeOrigin::signed(OPERATOR),
		0,
		BoundedVec::try_from(output).unwrap(),
		None
	));
	Fixture { graph, outputs, task: 0, seq_len: 1 }
}

fn root_of(f: &Fixture) -> H256 {
	H256(trace_root_of(f.seq_len, &trace_tree(&f.graph, &f.outputs).unwrap().root()))
}

fn fixed_root(task: u64) -> Option<H256> {
	match Tasks::<Test>::get(task).unwrap().status {
		TaskStatus::Committed { trace_root, .. } | TaskStatus::Disputed { trace_root, .. } =>
			trace_root,
		s => panic!("{s:?}"),
	}
}

#[test]
fn the_providers_first_answer_fixes_the_root_and_binds_every_later_answer() {
	ExtBuilder::default().build().execute_with(|| {
		let honest = trace(None);
		let f = commit_output_alone(honest.clone(), row_bytes(&honest[1]));
		assert_eq!(fixed_root(f.task), None);
		assert_ok!(Challenges::challenge(RuntimeOrigin::signed(CHALLENGER), f.task, 1, 1, 1));
		assert_ok!(Challenges::challenge(RuntimeOrigin::signed(6), f.task, 1, 0, 2));
		// Anyone else answering first could fix a trace the provider cannot open.
		assert_noop!(
			respond(RuntimeOrigin::signed(8), 0, f.graph.clone(), opening(&f, 1, 1, 1)),
			Error::<Test>::NotTheProvider
		);
		// A refused answer fixes nothing.
		assert_noop!(
			respond(RuntimeOrigin::signed(OPERATOR), 0, f.graph.clone(), opening(&f, 1, 0, 0)),
			Error::<Test>::InvalidOpening
		);
		assert_eq!(fixed_root(f.task), None);
		// The provider's stake account may answer as well as its operator.
		assert_ok!(respond(
			RuntimeOrigin::signed(PROVIDER),
			0,
			f.graph.clone(),
			opening(&f, 1, 1, 1)
		));
		System::assert_has_event(
			pallet_task_registry::Event::TraceRootFixed { task: f.task, trace_root: root_of(&f) }
				.into(),
		);
		System::assert_last_event(
			Event::ProviderWon {
				dispute: 0,
				task: f.task,
				bond_to_provider: 150,
				bond_to_treasury: 150,
			}
			.into(),
		);
		assert_eq!(fixed_root(f.task), Some(root_of(&f)));
		// Another trace that also holds the committed output (its input rows differ only in a
		// way the output does not show) is no longer an answer: the root is fixed.
		let mut other = honest.clone();
		other[0][0] = f32::from_bits(other[0][0].to_bits() + 1);
		let g = Fixture { graph: f.graph.clone(), outputs: other, task: f.task, seq_len: 1 };
		assert_ne!(root_of(&g), root_of(&f));
		assert_noop!(
			respond(RuntimeOrigin::signed(OPERATOR), 1, f.graph.clone(), opening(&g, 1, 0, 2)),
			Error::<Test>::InvalidOpening
		);
		// Once fixed, anyone holding the data may answer.
		assert_ok!(respond(RuntimeOrigin::signed(8), 1, f.graph.clone(), opening(&f, 1, 0, 2)));
		assert!(matches!(
			Tasks::<Test>::get(f.task).unwrap().status,
			TaskStatus::Committed { trace_root: Some(r), .. } if r == root_of(&f)
		));
		assert_eq!((bond_held(CHALLENGER), bond_held(6)), (0, 0));
		assert_accounting();
	});
}

/// The challenger disputes output element (1, 1, 1); the operator's answer from `f`'s trace fixes
/// the root and loses for `reason`.
fn challenged_answer_loses(f: &Fixture, reason: LossReason) {
	assert_ok!(Challenges::challenge(RuntimeOrigin::signed(CHALLENGER), f.task, 1, 1, 1));
	assert_ok!(respond(RuntimeOrigin::signed(OPERATOR), 0, f.graph.clone(), opening(f, 1, 1, 1)));
	System::assert_has_event(
		pallet_task_registry::Event::TraceRootFixed { task: f.task, trace_root: root_of(f) }.into(),
	);
	System::assert_last_event(
		Event::ProviderLost { dispute: 0, task: f.task, reason, slashed: 2_000 }.into(),
	);
}

/// A provider that commits a wrong output alone cannot find a root that saves it: the honest
/// trace does not hold its output, and a trace that holds it breaks the bound where it differs.
#[test]
fn a_wrong_output_committed_alone_loses_whatever_trace_answers() {
	let wrong = |honest: &[Vec<f32>]| {
		let mut out = honest[1].clone();
		out[4] += 3.0;
		out
	};
	// Answered from the honest trace: the output is not its final node.
	ExtBuilder::default().build().execute_with(|| {
		let honest = trace(None);
		let f = commit_output_alone(honest.clone(), row_bytes(&wrong(&honest)));
		let submitter_free = Balances::balance(&SUBMITTER);
		challenged_answer_loses(&f, LossReason::OutputMismatch);
		assert_eq!(Balances::balance(&CHALLENGER), ENDOWMENT + 1_000, "bond back plus the reward");
		assert!(matches!(Tasks::<Test>::get(f.task).unwrap().status, TaskStatus::Refunded { .. }));
		assert_eq!(Balances::balance(&SUBMITTER) - submitter_free, 50);
		assert_accounting();
	});
	// Answered from a trace whose final node holds the wrong output: outside the bound.
	ExtBuilder::default().build().execute_with(|| {
		let cheated = trace(Some(3.0));
		let f = commit_output_alone(cheated.clone(), row_bytes(&cheated[1]));
		assert_eq!(cheated[1], wrong(&trace(None)));
		challenged_answer_loses(&f, LossReason::OutsideBound);
		assert_accounting();
	});
}

/// Silence loses as before: a root that is never fixed protects nothing.
#[test]
fn a_provider_that_never_answers_loses_without_a_root() {
	ExtBuilder::default().build().execute_with(|| {
		let honest = trace(None);
		let f = commit_output_alone(honest.clone(), row_bytes(&honest[1]));
		assert_ok!(Challenges::challenge(RuntimeOrigin::signed(CHALLENGER), f.task, 1, 1, 1));
		let deadline = Disputes::<Test>::get(0).unwrap().deadline;
		run_to_block(deadline + 1);
		System::assert_has_event(
			Event::ProviderLost {
				dispute: 0,
				task: f.task,
				reason: LossReason::NoResponse,
				slashed: 2_000,
			}
			.into(),
		);
		assert!(matches!(Tasks::<Test>::get(f.task).unwrap().status, TaskStatus::Refunded { .. }));
		assert_accounting();
	});
}
