//! The worker with the test off-chain, transaction-pool and keystore extensions and a fake
//! engine: jobs start once, results are committed once (signed by the operator key), nothing
//! happens without the engine, other operators' tasks are ignored; disputes are answered once
//! with the engine's opening; the watcher challenges what the engine found, once, never its own
//! operators' results, and names each step of its descents once.

use crate::{mock::*, AssignedTask, DescentTurn, ElementRef, OpenDispute, WatchedTask};
use arbiter_inference_interface::{
	DescentRequest, DescentStep, InferenceExt, JobStatus, WatchRequest, WatchStatus,
};
use codec::Decode;
use frame_support::traits::Hooks;
use sp_core::{
	offchain::{testing, OffchainDbExt, OffchainWorkerExt, TransactionPoolExt},
	sr25519::Public,
};
use sp_keystore::{testing::MemoryKeystore, Keystore, KeystoreExt};
use sp_runtime::RuntimeAppPublic;
use std::sync::Arc;

const MODEL: [u8; 32] = [5; 32];

struct Setup {
	ext: sp_io::TestExternalities,
	pool: Arc<parking_lot::RwLock<testing::PoolState>>,
	operator: Public,
}

fn setup(engine: Option<Arc<FakeEngine>>) -> Setup {
	let (offchain, _) = testing::TestOffchainExt::new();
	let (pool, pool_state) = testing::TestTransactionPoolExt::new();
	let keystore = MemoryKeystore::new();
	let operator = keystore
		.sr25519_generate_new(crate::crypto::Public::ID, Some("//Alice"))
		.unwrap();
	let mut ext = sp_io::TestExternalities::default();
	ext.register_extension(OffchainWorkerExt::new(offchain.clone()));
	ext.register_extension(OffchainDbExt::new(offchain));
	ext.register_extension(TransactionPoolExt::new(pool));
	ext.register_extension(KeystoreExt::new(keystore));
	if let Some(e) = engine {
		ext.register_extension(InferenceExt::new(e));
	}
	TASKS.with(|t| t.borrow_mut().clear());
	DISPUTES.with(|t| t.borrow_mut().clear());
	COMMITTED.with(|t| t.borrow_mut().clear());
	DESCENTS.with(|t| t.borrow_mut().clear());
	Setup { ext, pool: pool_state, operator }
}

fn assign(operator: Public, task: u64, input: &[u32]) {
	TASKS.with(|t| {
		t.borrow_mut().push((
			operator,
			AssignedTask { task, model_root: MODEL, input: input.to_vec(), generation: None },
		))
	});
}

fn run(block: u64) {
	System::set_block_number(block);
	ProviderWorker::offchain_worker(block);
}

fn sent(pool: &Arc<parking_lot::RwLock<testing::PoolState>>) -> Vec<Extrinsic> {
	pool.read()
		.transactions
		.iter()
		.map(|tx| Extrinsic::decode(&mut &tx[..]).unwrap())
		.collect()
}

#[test]
fn a_task_is_started_then_committed_once_signed_by_the_operator() {
	let engine = engine();
	let mut s = setup(Some(engine.clone()));
	let operator = s.operator;
	s.ext.execute_with(|| {
		assign(operator, 7, &[101, 7592, 102]);
		assign(Public::from_raw([42; 32]), 8, &[101, 102]);
		run(1);
		assert_eq!(engine.started.lock().unwrap().as_slice(), &[(7, MODEL, vec![101, 7592, 102])]);
		// The trace store keeps the traces of our operator's open tasks, not others'.
		assert_eq!(engine.retained.lock().unwrap().as_slice(), &[7]);
		assert!(sent(&s.pool).is_empty());
		// Still queued: polled, not started again.
		run(2);
		assert_eq!(engine.started.lock().unwrap().len(), 1);
		engine.finish(7, JobStatus::Done { output: vec![1, 2, 3], trace_root: Some([9; 32]) });
		run(3);
		let txs = sent(&s.pool);
		assert_eq!(txs.len(), 1);
		assert!(matches!(txs[0].preamble, sp_runtime::generic::Preamble::Signed(0, (), ())));
		assert_eq!(txs[0].function, commit_remark(7, vec![1, 2, 3], Some([9; 32])));
		// The task still shows as waiting (the transaction is not in a block yet): no resend
		// before ResubmitAfter (5) blocks, one resend after.
		for b in 4..8 {
			run(b);
		}
		assert_eq!(sent(&s.pool).len(), 1);
		run(8);
		assert_eq!(sent(&s.pool).len(), 2);
	});
}

#[test]
fn without_the_engine_nothing_happens() {
	let mut s = setup(None);
	let operator = s.operator;
	s.ext.execute_with(|| {
		assign(operator, 7, &[101, 7592, 102]);
		for b in 1..4 {
			run(b);
		}
		assert!(sent(&s.pool).is_empty());
	});
}

#[test]
fn other_operators_tasks_and_failed_jobs_are_not_committed() {
	let engine = engine();
	let mut s = setup(Some(engine.clone()));
	let operator = s.operator;
	s.ext.execute_with(|| {
		assign(Public::from_raw([42; 32]), 1, &[101, 102]);
		assign(operator, 2, &[101, 999_999, 102]);
		engine.finish(1, JobStatus::Done { output: vec![1], trace_root: None });
		engine.finish(
			2,
			JobStatus::Failed(
				b"token id 999999 at position 1 is not below the vocabulary size 30522".to_vec(),
			),
		);
		for b in 1..4 {
			run(b);
		}
		assert!(sent(&s.pool).is_empty());
		assert!(engine.started.lock().unwrap().is_empty());
	});
}

#[test]
fn an_output_the_registry_would_refuse_is_not_sent() {
	let engine = engine();
	let mut s = setup(Some(engine.clone()));
	let operator = s.operator;
	s.ext.execute_with(|| {
		assign(operator, 3, &[101, 102]);
		engine.finish(3, JobStatus::Done { output: vec![0; 65], trace_root: None });
		run(1);
		assert!(sent(&s.pool).is_empty());
	});
}

#[test]
fn a_dispute_against_our_operator_is_answered_once_with_the_engines_opening() {
	let engine = engine();
	let mut s = setup(Some(engine.clone()));
	let operator = s.operator;
	s.ext.execute_with(|| {
		let dispute = |id, task| OpenDispute {
			dispute: id,
			task,
			model_root: MODEL,
			element: ElementRef::new(40, 1, 2),
			token_choice: None,
			round: 0,
		};
		DISPUTES.with(|d| {
			d.borrow_mut().push((operator, dispute(3, 7)));
			d.borrow_mut().push((Public::from_raw([42; 32]), dispute(4, 8)));
			// A task whose trace this node does not have: no answer (another node may hold it).
			d.borrow_mut().push((operator, dispute(5, 9)));
		});
		engine.finish(7, JobStatus::Done { output: vec![1], trace_root: None });
		engine.finish(8, JobStatus::Done { output: vec![1], trace_root: None });
		run(1);
		let txs = sent(&s.pool);
		assert_eq!(txs.len(), 1);
		assert_eq!(
			txs[0].function,
			respond_remark(3, &MODEL, &codec::Encode::encode(&(7u64, 40u32, 1u32, 2u32)))
		);
		// Not again while the answer may still land.
		run(2);
		assert_eq!(sent(&s.pool).len(), 1);
		// The challenger descended: the next step's element is answered at once.
		DISPUTES.with(|d| {
			let mut d = d.borrow_mut();
			d[0].1.element = ElementRef::new(39, 1, 0);
			d[0].1.round = 1;
		});
		run(3);
		let txs = sent(&s.pool);
		assert_eq!(txs.len(), 2);
		assert_eq!(
			txs[1].function,
			respond_remark(3, &MODEL, &codec::Encode::encode(&(7u64, 39u32, 1u32, 0u32)))
		);
	});
}

#[test]
fn a_generation_task_is_started_as_a_generation_and_its_token_choice_disputes_answered() {
	use arbiter_inference_interface::GenerationJob;
	use arbiter_primitives::token_choice::TokenSampling;
	let engine = engine();
	let mut s = setup(Some(engine.clone()));
	let operator = s.operator;
	s.ext.execute_with(|| {
		let job = GenerationJob {
			max_new_tokens: 16,
			stop_token: 2,
			sampling: TokenSampling::Gumbel { temperature_bits: 0.7f32.to_bits(), seed: 5 },
		};
		TASKS.with(|t| {
			t.borrow_mut().push((
				operator,
				AssignedTask {
					task: 9,
					model_root: MODEL,
					input: vec![1, 3, 5],
					generation: Some(job),
				},
			))
		});
		run(1);
		// Started with its request, not as a one-pass job.
		assert_eq!(engine.generations.lock().unwrap().as_slice(), &[(9, vec![1, 3, 5], job)]);
		assert!(engine.started.lock().unwrap().is_empty());
		// Done: its tokens are committed as the output bytes the engine gives.
		let tokens: Vec<u8> = [40u32, 41, 2].iter().flat_map(|t| t.to_le_bytes()).collect();
		engine.finish(9, JobStatus::Done { output: tokens.clone(), trace_root: None });
		run(2);
		let txs = sent(&s.pool);
		assert_eq!(txs.len(), 1);
		assert_eq!(txs[0].function, commit_remark(9, tokens, None));
		// A token-choice dispute is answered with the opening of that choice.
		DISPUTES.with(|d| {
			d.borrow_mut().push((
				operator,
				OpenDispute {
					dispute: 4,
					task: 9,
					model_root: MODEL,
					element: ElementRef::new(0, 0, 0),
					token_choice: Some((1, 17)),
					round: 0,
				},
			))
		});
		run(3);
		let txs = sent(&s.pool);
		assert_eq!(txs.len(), 2);
		assert_eq!(
			txs[1].function,
			respond_remark(4, &MODEL, &codec::Encode::encode(&(9u64, b"token", 1u32, 17u32)))
		);
	});
}

/// Blocks after which a send that did not land is sent again.
fn resubmit_after() -> u64 {
	<<Test as crate::Config>::ResubmitAfter as frame_support::traits::Get<u64>>::get()
}

fn watched(task: u64, operator: Public) -> WatchedTask<Public> {
	WatchedTask {
		operator,
		request: WatchRequest {
			task,
			model_root: MODEL,
			input: vec![101, 3793, 102],
			output: vec![0; 4],
			generation: None,
			trace_root: None,
			endpoint: b"ws://provider".to_vec(),
			slack_bits: 0,
			max_row_width: 64,
			audit: false,
		},
		disputes: Vec::new(),
	}
}

#[test]
fn the_watcher_challenges_a_found_fault_once_and_never_its_own_results() {
	let engine = watching_engine();
	let mut s = setup(Some(engine.clone()));
	let operator = s.operator;
	s.ext.execute_with(|| {
		let other = Public::from_raw([42; 32]);
		COMMITTED.with(|c| {
			c.borrow_mut().extend([
				watched(1, other),
				watched(2, other),
				watched(3, operator),
				watched(4, other),
			]);
		});
		run(1);
		// Every other operator's result is checked; our own is not.
		let asked: Vec<u64> = engine.watched.lock().unwrap().iter().map(|r| r.task).collect();
		assert_eq!(asked, vec![1, 2, 4]);
		assert_eq!(engine.watched.lock().unwrap()[0], watched(1, other).request);
		assert!(sent(&s.pool).is_empty(), "nothing found yet");
		engine.found(1, WatchStatus::Fraud { node: 12, row: 0, col: 3 });
		engine.found(2, WatchStatus::Clean);
		engine.found(4, WatchStatus::Inconclusive(b"unreachable".to_vec()));
		run(2);
		let txs = sent(&s.pool);
		assert_eq!(txs.len(), 1);
		assert_eq!(txs[0].function, challenge_remark(1, 12, 0, 3));
		assert!(matches!(txs[0].preamble, sp_runtime::generic::Preamble::Signed(0, (), ())));
		// Not again while it may still land; again after ResubmitAfter if it did not.
		run(3);
		assert_eq!(sent(&s.pool).len(), 1);
		let resubmit = resubmit_after();
		run(2 + resubmit);
		assert_eq!(sent(&s.pool).len(), 2, "the challenge did not land: sent again");
		// Once it stands on chain, never again.
		let challenger = crate::send_once::operator_keys::<Test>()[0].1;
		COMMITTED
			.with(|c| c.borrow_mut()[0].disputes.push((challenger, ElementRef::new(12, 0, 3))));
		for b in 3 + resubmit..30 {
			run(b);
		}
		assert_eq!(sent(&s.pool).len(), 2);
	});
}

/// A challenge that landed is never sent again for the same result, even once its dispute has
/// ended (the provider won it): a second one would only cost a second bond.
#[test]
fn the_watcher_never_repeats_a_challenge_that_landed_and_was_ruled() {
	let engine = watching_engine();
	let mut s = setup(Some(engine.clone()));
	s.ext.execute_with(|| {
		let other = Public::from_raw([42; 32]);
		let challenger = crate::send_once::operator_keys::<Test>()[0].1;
		COMMITTED.with(|c| c.borrow_mut().push(watched(1, other)));
		engine.found(1, WatchStatus::Fraud { node: 12, row: 0, col: 3 });
		run(1);
		assert_eq!(sent(&s.pool).len(), 1);
		COMMITTED
			.with(|c| c.borrow_mut()[0].disputes.push((challenger, ElementRef::new(12, 0, 3))));
		run(2);
		// The provider won: the dispute is gone, the result still in its window.
		COMMITTED.with(|c| c.borrow_mut()[0].disputes.clear());
		let resubmit = resubmit_after();
		for b in 3..3 + 3 * resubmit {
			run(b);
		}
		assert_eq!(sent(&s.pool).len(), 1, "not challenged again");
	});
}

/// A generation's wrong token is challenged as a token choice, once; never while a dispute of
/// ours is open on the task, nor after it ended.
#[test]
fn the_watcher_challenges_a_token_choice_once() {
	let engine = watching_engine();
	let mut s = setup(Some(engine.clone()));
	s.ext.execute_with(|| {
		let other = Public::from_raw([42; 32]);
		let challenger = crate::send_once::operator_keys::<Test>()[0].1;
		let mut generation = watched(1, other);
		generation.request.generation = Some(arbiter_inference_interface::GenerationJob {
			max_new_tokens: 8,
			stop_token: 2,
			sampling: arbiter_primitives::token_choice::TokenSampling::Greedy,
		});
		COMMITTED.with(|c| c.borrow_mut().push(generation.clone()));
		run(1);
		assert_eq!(engine.watched.lock().unwrap().as_slice(), &[generation.request]);
		engine.found(1, WatchStatus::TokenChoice { step: 3, rival: 17 });
		run(2);
		assert_eq!(
			sent(&s.pool).iter().map(|t| t.function.clone()).collect::<Vec<_>>(),
			[token_choice_remark(1, 3, 17)]
		);
		let resubmit = resubmit_after();
		run(3);
		assert_eq!(sent(&s.pool).len(), 1, "not again while it may still land");
		// It landed (the dispute names no element yet), then descended, then ended.
		COMMITTED.with(|c| c.borrow_mut()[0].disputes.push((challenger, ElementRef::new(0, 0, 0))));
		for b in 4..4 + 2 * resubmit {
			run(b);
		}
		COMMITTED.with(|c| c.borrow_mut()[0].disputes[0].1 = ElementRef::new(30, 5, 7));
		run(4 + 2 * resubmit);
		COMMITTED.with(|c| c.borrow_mut()[0].disputes.clear());
		for b in 5 + 2 * resubmit..5 + 4 * resubmit {
			run(b);
		}
		assert_eq!(sent(&s.pool).len(), 1);
	});
}

/// A drawn auditor's node checks the result whatever the sample rate and attests a clean one,
/// once, signed by the drawn operator; a wrong one is left to the watcher's challenge.
#[test]
fn a_drawn_auditor_attests_a_clean_result_once() {
	let engine = watching_engine();
	let mut s = setup(Some(engine.clone()));
	let operator = s.operator;
	s.ext.execute_with(|| {
		let other = Public::from_raw([42; 32]);
		let mut clean = watched(1, other).request;
		clean.audit = true;
		let wrong = WatchRequest { task: 2, ..clean.clone() };
		AUDITS.with(|a| a.borrow_mut().extend([(operator, clean.clone()), (operator, wrong)]));
		run(1);
		assert!(engine.watched.lock().unwrap().iter().all(|r| r.audit), "checked as audits");
		assert!(sent(&s.pool).is_empty(), "nothing found yet");
		engine.found(1, WatchStatus::Clean);
		engine.found(2, WatchStatus::Fraud { node: 12, row: 0, col: 3 });
		run(2);
		let txs = sent(&s.pool);
		assert_eq!(txs.iter().map(|t| t.function.clone()).collect::<Vec<_>>(), [attest_remark(1)]);
		assert!(matches!(txs[0].preamble, sp_runtime::generic::Preamble::Signed(0, (), ())));
		// Not again while it may land; again if it did not (the audit still lists it).
		run(3);
		assert_eq!(sent(&s.pool).len(), 1);
		run(3 + resubmit_after());
		assert_eq!(sent(&s.pool).len(), 2);
		// Attested: the audits pallet no longer lists it.
		AUDITS.with(|a| a.borrow_mut().retain(|(_, r)| r.task != 1));
		for b in 4 + resubmit_after()..20 {
			run(b);
		}
		assert_eq!(sent(&s.pool).len(), 2);
	});
}

/// A finding is keyed by the committed result (output and trace root): after a reassignment
/// the new provider's result is challenged on its own finding.
#[test]
fn the_watcher_keys_its_challenges_by_the_committed_result() {
	let engine = watching_engine();
	let mut s = setup(Some(engine.clone()));
	s.ext.execute_with(|| {
		let other = Public::from_raw([42; 32]);
		COMMITTED.with(|c| c.borrow_mut().push(watched(1, other)));
		run(1);
		engine.found(1, WatchStatus::Fraud { node: 12, row: 0, col: 3 });
		run(2);
		assert_eq!(sent(&s.pool).len(), 1);
		// Reassigned and committed again by another operator, with another root.
		let mut again = watched(1, Public::from_raw([43; 32]));
		again.request.output = vec![9; 8];
		COMMITTED.with(|c| *c.borrow_mut() = vec![again.clone()]);
		run(3);
		assert_eq!(sent(&s.pool).len(), 2);
		// The same output, its trace root since fixed: a result of its own too.
		again.request.trace_root = Some([2; 32]);
		COMMITTED.with(|c| *c.borrow_mut() = vec![again]);
		run(4);
		assert_eq!(sent(&s.pool).len(), 3);
	});
}

#[test]
fn without_a_watcher_nothing_is_checked() {
	let engine = engine();
	let mut s = setup(Some(engine.clone()));
	s.ext.execute_with(|| {
		COMMITTED.with(|c| c.borrow_mut().push(watched(1, Public::from_raw([42; 32]))));
		run(1);
		assert!(engine.watched.lock().unwrap().is_empty());
		assert!(sent(&s.pool).is_empty());
	});
}

fn descent_turn(dispute: u64, round: u32) -> DescentTurn {
	DescentTurn {
		dispute,
		round,
		request: DescentRequest {
			task: 1,
			model_root: MODEL,
			input: vec![101, 3793, 102],
			tokens: None,
			slack_bits: 0,
			opened: vec![(7, 0, vec![0x3f80_0000; 4])],
		},
	}
}

/// A provider that withholds its trace is challenged at the element the engine names; then the
/// watcher names each descent step the engine picks, once per step, only in its own disputes.
#[test]
fn the_watcher_challenges_a_withheld_trace_and_names_each_descent_step_once() {
	let engine = watching_engine();
	let mut s = setup(Some(engine.clone()));
	s.ext.execute_with(|| {
		let other = Public::from_raw([42; 32]);
		let challenger = crate::send_once::operator_keys::<Test>()[0].1;
		COMMITTED.with(|c| c.borrow_mut().push(watched(1, other)));
		engine.found(1, WatchStatus::Withheld { node: 157, row: 0, col: 9 });
		run(1);
		assert_eq!(
			sent(&s.pool).iter().map(|t| t.function.clone()).collect::<Vec<_>>(),
			[challenge_remark(1, 157, 0, 9)]
		);
		COMMITTED
			.with(|c| c.borrow_mut()[0].disputes.push((challenger, ElementRef::new(157, 0, 9))));

		// The provider answered: our turn. A dispute of another challenger is not ours.
		DESCENTS.with(|d| {
			d.borrow_mut()
				.extend([(challenger, descent_turn(0, 0)), (other, descent_turn(5, 0))])
		});
		run(2);
		assert_eq!(sent(&s.pool).len(), 1, "the engine is still re-executing");
		assert_eq!(
			engine.descent_requests.lock().unwrap().as_slice(),
			&[descent_turn(0, 0).request]
		);
		engine
			.descent_steps
			.lock()
			.unwrap()
			.insert(1, DescentStep::Next { node: 156, row: 0, col: 4 });
		run(3);
		run(4);
		let txs = sent(&s.pool);
		assert_eq!(txs.len(), 2, "each step is named once");
		assert_eq!(txs[1].function, descend_remark(0, 156, 0, 4));
		assert!(matches!(txs[1].preamble, sp_runtime::generic::Preamble::Signed(_, (), ())));
		// The next step (after the provider's next answer) is named again.
		engine
			.descent_steps
			.lock()
			.unwrap()
			.insert(1, DescentStep::Next { node: 150, row: 0, col: 2 });
		DESCENTS.with(|d| d.borrow_mut()[0] = (challenger, descent_turn(0, 1)));
		run(5);
		assert_eq!(sent(&s.pool).last().unwrap().function, descend_remark(0, 150, 0, 2));
		// Nothing to name: nothing is sent.
		engine
			.descent_steps
			.lock()
			.unwrap()
			.insert(1, DescentStep::Nothing(b"inputs only".to_vec()));
		DESCENTS.with(|d| d.borrow_mut()[0] = (challenger, descent_turn(0, 2)));
		run(6);
		assert_eq!(sent(&s.pool).len(), 3);
	});
}

/// While its descent runs, the watcher challenges nothing more on a `Withheld` finding; once the
/// provider's first answer has fixed the root and the engine finds a provable element, that one
/// is challenged beside the descent, once.
#[test]
fn a_provable_element_found_after_the_root_is_fixed_is_challenged_beside_the_descent() {
	let engine = watching_engine();
	let mut s = setup(Some(engine.clone()));
	s.ext.execute_with(|| {
		let other = Public::from_raw([42; 32]);
		let challenger = crate::send_once::operator_keys::<Test>()[0].1;
		let mut task = watched(1, other);
		task.disputes.push((challenger, ElementRef::new(157, 0, 9)));
		COMMITTED.with(|c| c.borrow_mut().push(task.clone()));
		engine.found(1, WatchStatus::Withheld { node: 157, row: 0, col: 9 });
		run(1);
		run(2);
		assert!(sent(&s.pool).is_empty(), "the descent is under way");
		// The root is fixed: the result is checked again and the provider's rows convict it.
		task.request.trace_root = Some([5; 32]);
		COMMITTED.with(|c| *c.borrow_mut() = vec![task.clone()]);
		engine.found(1, WatchStatus::Fraud { node: 40, row: 0, col: 0 });
		run(3);
		assert_eq!(
			sent(&s.pool).iter().map(|t| t.function.clone()).collect::<Vec<_>>(),
			[challenge_remark(1, 40, 0, 0)]
		);
		// Once it stands on chain, never again.
		task.disputes.push((challenger, ElementRef::new(40, 0, 0)));
		COMMITTED.with(|c| *c.borrow_mut() = vec![task]);
		for b in 4..30 {
			run(b);
		}
		assert_eq!(sent(&s.pool).len(), 1);
	});
}
