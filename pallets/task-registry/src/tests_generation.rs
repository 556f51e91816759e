//! Generation models and tasks (docs/protocol.md, "Generation tasks"): every refusal of a
//! generation model's io spec, of a generation task and of committed tokens changes nothing; the
//! escrow covers the price and the most new tokens; the tokens committed are paid at the price
//! per token fixed at assignment; funds add up after each.

use crate::{mock::*, pallet::*, types::*, Error, Event, TaskDisputes};
use frame_support::{
	assert_noop, assert_ok,
	traits::fungible::{Inspect, InspectHold},
	BoundedVec,
};
use pallet_compute_staking::{Hardware, Offer};
use sp_core::H256;

const SUBMITTER: u64 = 4;
const PRICE: u64 = 10;
const PER_TOKEN: u64 = 2;
const VOCABULARY: u32 = 100;
const STOP: u32 = 2;
const MAX_NEW: u32 = 8;
const CONTEXT: u32 = 20;
/// The embedding model the generation model stands beside.
const EMBEDDING: ModelId = 0;
const GENERATION: ModelId = 1;

fn assert_accounting() {
	let accounts: Vec<u64> = (1..=10).chain([99, 102, 103]).collect();
	let sum: u64 = accounts
		.iter()
		.map(|a| Balances::balance(a) + Balances::total_balance_on_hold(a))
		.sum();
	assert_eq!(sum, Balances::total_issuance());
	Staking::do_try_state().unwrap();
	Registry::do_try_state().unwrap();
	for a in accounts {
		assert!(Registry::task_escrow_consistent(&a), "escrow of {a}");
	}
}

fn io(kind: ModelKind) -> IoSpec {
	IoSpec { input: InputKind::TokenIds { vocabulary: VOCABULARY }, max_input_tokens: 12, kind }
}

fn generation_kind() -> ModelKind {
	ModelKind::Generation { max_new_tokens: MAX_NEW, max_context: CONTEXT, stop_token: STOP }
}

fn register(io: IoSpec) -> frame_support::dispatch::DispatchResult {
	Registry::register_model(
		RuntimeOrigin::signed(1),
		H256::zero(),
		H256::repeat_byte(1),
		H256::zero(),
		io,
		64,
		0,
		BoundedVec::default(),
	)
}

/// An embedding model (0) and a generation model (1), approved; provider 2 (operator 102)
/// serves both at `PRICE` a task and `PER_TOKEN` a generated token.
fn setup() {
	assert_ok!(register(io(ModelKind::Embedding { output_width: 4 })));
	assert_ok!(register(io(generation_kind())));
	for model in [EMBEDDING, GENERATION] {
		assert_ok!(Registry::approve_model(RuntimeOrigin::root(), model));
	}
	let offer = Offer {
		models: BoundedVec::try_from(vec![EMBEDDING, GENERATION]).unwrap(),
		price: PRICE,
		price_per_token: PER_TOKEN,
		capacity: 4,
		endpoint: BoundedVec::default(),
		hardware: Hardware::Cpu,
	};
	assert_ok!(Staking::register(RuntimeOrigin::signed(2), 5_000, 102, offer));
}

fn prompt(ids: &[u32]) -> BoundedVec<u32, <Test as Config>::MaxInputTokens> {
	BoundedVec::try_from(ids.to_vec()).unwrap()
}

fn submit(
	model: ModelId,
	ids: &[u32],
	max_new: u32,
	sampling: TokenSampling,
	max_fee: u64,
) -> frame_support::dispatch::DispatchResult {
	Registry::submit_generation(
		RuntimeOrigin::signed(SUBMITTER),
		model,
		prompt(ids),
		max_new,
		sampling,
		max_fee,
	)
}

fn tokens(ids: &[u32]) -> BoundedVec<u8, <Test as Config>::MaxOutputLen> {
	BoundedVec::try_from(ids.iter().flat_map(|t| t.to_le_bytes()).collect::<Vec<u8>>()).unwrap()
}

#[test]
fn a_generation_model_registers_with_limits_the_chain_can_check() {
	ExtBuilder::default().build().execute_with(|| {
		let generation = |max_new_tokens, max_context, stop_token| {
			io(ModelKind::Generation { max_new_tokens, max_context, stop_token })
		};
		// No new token; more new tokens than MaxOutputBytes holds (128 bytes: 32 tokens); a
		// context shorter than the longest prompt (12); a stop token outside the vocabulary.
		for spec in [
			generation(0, CONTEXT, STOP),
			generation(33, CONTEXT, STOP),
			generation(u32::MAX, CONTEXT, STOP),
			generation(MAX_NEW, 11, STOP),
			generation(MAX_NEW, CONTEXT, VOCABULARY),
		] {
			assert_noop!(register(spec), Error::<Test>::BadIoSpec);
		}
		assert_ok!(register(generation(32, 12, VOCABULARY - 1)));
		assert_eq!(Models::<Test>::get(0).unwrap().io.kind, generation_kind_with(32, 12, 99));
		assert_accounting();
	});
}

fn generation_kind_with(max_new_tokens: u32, max_context: u32, stop_token: u32) -> ModelKind {
	ModelKind::Generation { max_new_tokens, max_context, stop_token }
}

#[test]
fn every_refused_generation_task_changes_nothing() {
	ExtBuilder::default().build().execute_with(|| {
		setup();
		let greedy = TokenSampling::Greedy;
		let fee = 100;
		// The wrong kind of task for each model.
		assert_noop!(submit(EMBEDDING, &[5, 6], 4, greedy, fee), Error::<Test>::WrongModelKind);
		assert_noop!(
			Registry::submit_task(RuntimeOrigin::signed(SUBMITTER), GENERATION, prompt(&[5]), fee),
			Error::<Test>::WrongModelKind
		);
		// No new token, more than the model's maximum, or past its context (12 + 9 - 1 > 20).
		assert_noop!(submit(GENERATION, &[5], 0, greedy, fee), Error::<Test>::BadNewTokens);
		assert_noop!(
			submit(GENERATION, &[5], MAX_NEW + 1, greedy, fee),
			Error::<Test>::BadNewTokens
		);
		assert_noop!(
			submit(GENERATION, &[5; 12], CONTEXT - 12 + 2, greedy, fee),
			Error::<Test>::BadNewTokens
		);
		assert_ok!(submit(GENERATION, &[5; 12], MAX_NEW, greedy, fee));
		// A temperature that is zero, negative, infinite or NaN.
		for t in [0.0f32, -1.0, f32::INFINITY, f32::NAN] {
			let hot = TokenSampling::Gumbel { temperature_bits: t.to_bits(), seed: 1 };
			assert_noop!(submit(GENERATION, &[5], 4, hot, fee), Error::<Test>::BadSampling);
		}
		// The prompt: empty, longer than the model takes, an id outside the vocabulary.
		assert_noop!(submit(GENERATION, &[], 4, greedy, fee), Error::<Test>::BadInputLength);
		assert_noop!(submit(GENERATION, &[5; 13], 4, greedy, fee), Error::<Test>::BadInputLength);
		assert_noop!(
			submit(GENERATION, &[5, VOCABULARY], 4, greedy, fee),
			Error::<Test>::TokenIdOutOfRange
		);
		assert_accounting();
	});
}

#[test]
fn the_escrow_covers_the_price_and_the_most_new_tokens() {
	ExtBuilder::default().build().execute_with(|| {
		setup();
		// 10 + 2 × 8 = 26: a max fee of 25 finds no provider, 26 does.
		assert_ok!(submit(GENERATION, &[5, 6], MAX_NEW, TokenSampling::Greedy, 25));
		assert!(matches!(Tasks::<Test>::get(0).unwrap().status, TaskStatus::Unassigned { .. }));
		assert_ok!(submit(GENERATION, &[5, 6], MAX_NEW, TokenSampling::Greedy, 26));
		let task = Tasks::<Test>::get(1).unwrap();
		assert!(matches!(task.status, TaskStatus::Assigned { price: PRICE, .. }));
		assert_eq!(task.price_per_token, PER_TOKEN);
		// An embedding task on the same provider pays no tokens.
		assert_ok!(Registry::submit_task(
			RuntimeOrigin::signed(SUBMITTER),
			EMBEDDING,
			prompt(&[5]),
			PRICE
		));
		assert_eq!(Tasks::<Test>::get(2).unwrap().price_per_token, 0);
		assert_accounting();
	});
}

#[test]
fn committed_tokens_must_keep_the_stop_rule_and_are_paid_per_token() {
	ExtBuilder::default().build().execute_with(|| {
		setup();
		let sampling = TokenSampling::Gumbel { temperature_bits: 0.7f32.to_bits(), seed: 9 };
		assert_ok!(submit(GENERATION, &[5, 6, 7], 4, sampling, 50));
		let commit = |output| Registry::commit_result(RuntimeOrigin::signed(102), 0, output, None);
		// Not whole u32s; more tokens than asked; the stop token before the last; fewer than
		// asked without the stop token last; a token outside the vocabulary.
		let ragged = BoundedVec::try_from(vec![1u8, 0, 0, 0, 7]).unwrap();
		assert_noop!(commit(ragged), Error::<Test>::BadGeneratedTokens);
		for bad in [&[5u32, 6, 7, 8, 9][..], &[5, STOP, 7], &[5, 6], &[5, VOCABULARY, STOP]] {
			assert_noop!(commit(tokens(bad)), Error::<Test>::BadGeneratedTokens);
		}
		// Three tokens ended by the stop token: paid 10 + 2 × 3 = 16 of the 50 held.
		let free_before = Balances::balance(&SUBMITTER) + 50;
		assert_ok!(commit(tokens(&[40, 41, STOP])));
		let committed = <Registry as TaskDisputes<u64>>::committed_result(0).unwrap();
		assert_eq!(committed.input, vec![5, 6, 7]);
		assert_eq!(committed.request, TaskRequest::Generation { max_new_tokens: 4, sampling });
		let (p0, t0) = (Balances::balance(&2), Balances::balance(&99));
		let window_end = match Tasks::<Test>::get(0).unwrap().status {
			TaskStatus::Committed { price, window_end, .. } => {
				assert_eq!(price, 16);
				window_end
			},
			s => panic!("{s:?}"),
		};
		run_to_block(window_end + 1);
		System::assert_has_event(
			Event::TaskFinalized { task: 0, provider: 2, paid: 15, fee: 1, refunded: 34 }.into(),
		);
		assert_eq!(Balances::balance(&2) - p0, 15);
		assert_eq!(Balances::balance(&99) - t0, 1);
		assert_eq!(Balances::balance(&SUBMITTER), free_before - 16);
		// The most tokens allowed, no stop token: paid for all four.
		assert_ok!(submit(GENERATION, &[5], 4, TokenSampling::Greedy, 50));
		assert_ok!(Registry::commit_result(
			RuntimeOrigin::signed(102),
			1,
			tokens(&[9, 9, 9, 9]),
			None
		));
		assert!(matches!(
			Tasks::<Test>::get(1).unwrap().status,
			TaskStatus::Committed { price: 18, .. }
		));
		assert_accounting();
	});
}
