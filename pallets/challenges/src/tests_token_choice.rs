//! Token-choice disputes on a generation task (docs/protocol.md, "Generation tasks"), on a real
//! (tiny) generation model: token ids → embedding → RMSNorm, its hidden rows read against the
//! tied embedding. An honest greedy choice survives; a near tie inside the rounding band survives;
//! a clearly wrong choice loses; seeded sampling survives and a choice that ignores the seed
//! loses; a descent from a token choice into the hidden row reaches the inputs and weights; every
//! refusal changes nothing; funds add up after each.

use crate::{mock::*, pallet::*, tests::*, Error, Event};
use arbiter_primitives::{
	builder::GraphBuilder,
	commitment::{model_commitment, trace_tree, weights_tree},
	encoding::descriptor_hash,
	ir::{Graph, InputKind as GraphInput, SEQ_DIM},
	prover::ProverData,
	token_choice::{generation_trace_input, GenerationCommitments, TokenSampling},
	Opening,
};
use frame_support::{assert_noop, assert_ok, traits::fungible::Inspect, BoundedVec};
use pallet_compute_staking::{Hardware, Offer};
use pallet_task_registry::{InputKind, IoSpec, ModelKind, TaskStatus, Tasks};
use sp_core::H256;

const VOCABULARY: u32 = 6;
const WIDTH: usize = 4;
const STOP: u32 = 5;
const PROMPT: [u32; 2] = [1, 3];
const NEW_TOKENS: u32 = 3;

/// Token 4's row is token 2's with one value one ulp larger: their logits nearly tie.
fn table() -> Vec<f32> {
	let mut rows = [
		[0.9f32, -0.3, 0.2, 0.5],
		[-0.4, 1.1, 0.3, -0.2],
		[0.3, 0.2, -1.0, 0.8],
		[1.2, 0.4, 0.1, -0.6],
		[0.3, 0.2, -1.0, 0.8],
		[-0.7, -0.5, 0.9, 0.1],
	];
	rows[4][0] = f32::from_bits(rows[4][0].to_bits() + 1);
	rows.concat()
}

fn weights() -> Vec<Vec<f32>> {
	vec![table(), vec![1.0, 0.9, 1.1, 1.0]]
}

/// Token ids → embedding → RMSNorm: the hidden row of each position is its token's normalized
/// embedding, read against the same table (tied LM head).
fn graph() -> Graph {
	let mut g = GraphBuilder::new();
	let table = g.weight("emb", &[VOCABULARY, WIDTH as u32]);
	let gamma = g.weight("norm", &[WIDTH as u32]);
	let ids = g.input(GraphInput::TokenIds, &[1, SEQ_DIM]);
	let x = g.embedding(ids, table);
	g.rms_norm(x, gamma, 1e-5);
	g.build()
}

fn hidden(token: u32) -> Vec<f32> {
	let w = weights();
	let row = &w[0][token as usize * WIDTH..(token as usize + 1) * WIDTH];
	let mean_sq = row.iter().map(|v| v * v).sum::<f32>() / WIDTH as f32;
	let scale = 1.0 / (mean_sq + 1e-5).sqrt();
	row.iter().zip(&w[1]).map(|(v, g)| v * scale * g).collect()
}

fn logits(token: u32) -> Vec<f32> {
	let h = hidden(token);
	table()
		.chunks(WIDTH)
		.map(|e| e.iter().zip(&h).map(|(a, b)| a * b).sum())
		.collect()
}

/// The trace of a generation: ids as f32, embedding rows, hidden rows.
fn trace(prompt: &[u32], tokens: &[u32]) -> Vec<Vec<f32>> {
	let ids = generation_trace_input(prompt, tokens);
	let w = weights();
	let emb: Vec<f32> = ids
		.iter()
		.flat_map(|t| w[0][*t as usize * WIDTH..(*t as usize + 1) * WIDTH].to_vec())
		.collect();
	vec![
		ids.iter().map(|t| *t as f32).collect(),
		emb,
		ids.iter().flat_map(|t| hidden(*t)).collect(),
	]
}

/// Generates `n` tokens from `prompt`, each the best under `sampling` unless `pick` says
/// otherwise.
fn generate(sampling: TokenSampling, pick: impl Fn(u32, &[f32], u32) -> u32) -> Vec<u32> {
	let mut last = *PROMPT.last().unwrap();
	let mut tokens = Vec::new();
	for step in 0..NEW_TOKENS {
		let l = logits(last);
		let best = (0..VOCABULARY)
			.max_by(|a, b| {
				sampling.score(l[*a as usize], step, *a).total_cmp(&sampling.score(
					l[*b as usize],
					step,
					*b,
				))
			})
			.unwrap();
		let token = pick(step, &l, best);
		tokens.push(token);
		last = token;
	}
	tokens
}

struct Generation {
	graph: Graph,
	tokens: Vec<u32>,
	outputs: Vec<Vec<f32>>,
	sampling: TokenSampling,
}

/// Registers the generation model and a provider (price 10, 1 a token), submits a generation
/// of `NEW_TOKENS` from `PROMPT` (task 0), and commits `tokens` with their trace, without a
/// trace root (the provider's first answer fixes it).
fn commit(tokens: Vec<u32>, sampling: TokenSampling) -> Generation {
	let (graph, weights) = (graph(), weights());
	let commitment = model_commitment(&graph, &weights, TOKENIZER).unwrap();
	assert_ok!(Registry::register_model(
		RuntimeOrigin::signed(1),
		H256(descriptor_hash(&graph)),
		H256(commitment.model_root),
		H256(TOKENIZER),
		IoSpec {
			input: InputKind::TokenIds { vocabulary: VOCABULARY },
			max_input_tokens: 8,
			kind: ModelKind::Generation { max_new_tokens: 4, max_context: 16, stop_token: STOP },
		},
		8,
		0,
		BoundedVec::default(),
	));
	assert_ok!(Registry::approve_model(RuntimeOrigin::root(), 0));
	let offer = Offer {
		models: BoundedVec::try_from(vec![0u32]).unwrap(),
		price: 10,
		price_per_token: 1,
		capacity: 1,
		endpoint: BoundedVec::default(),
		hardware: Hardware::Cpu,
	};
	assert_ok!(Staking::register(RuntimeOrigin::signed(PROVIDER), 10_000, OPERATOR, offer));
	assert_ok!(Registry::submit_generation(
		RuntimeOrigin::signed(SUBMITTER),
		0,
		BoundedVec::try_from(PROMPT.to_vec()).unwrap(),
		NEW_TOKENS,
		sampling,
		50
	));
	let output: Vec<u8> = tokens.iter().flat_map(|t| t.to_le_bytes()).collect();
	assert_ok!(Registry::commit_result(
		RuntimeOrigin::signed(OPERATOR),
		0,
		BoundedVec::try_from(output).unwrap(),
		None
	));
	let outputs = trace(&PROMPT, &tokens);
	Generation { graph, tokens, outputs, sampling }
}

impl Generation {
	fn prover<R>(&self, f: impl FnOnce(&ProverData<'_, Vec<f32>, Vec<Vec<f32>>>) -> R) -> R {
		let seq = generation_trace_input(&PROMPT, &self.tokens).len() as u32;
		let graph = self.graph.instantiate(seq);
		let weights = weights();
		let (tt, wt) =
			(trace_tree(&graph, &self.outputs).unwrap(), weights_tree(&graph, &weights).unwrap());
		f(&ProverData {
			graph: &graph,
			seq_len: seq,
			outputs: &self.outputs,
			trace_tree: &tt,
			weights: &weights,
			weights_tree: &wt,
			tokenizer_hash: TOKENIZER,
		})
	}

	fn token_choice(&self, step: u32, rival: u32) -> Opening {
		let root = [0u8; 32];
		let task = GenerationCommitments {
			trace_root: &root,
			prompt: &PROMPT,
			tokens: &self.tokens,
			sampling: self.sampling,
		};
		self.prover(|p| p.token_choice_opening(&task, step, rival).unwrap())
	}

	fn element(&self, node: u32, row: u32, col: u32) -> Opening {
		self.prover(|p| p.opening(node, row, col).unwrap())
	}
}

fn challenge(step: u32, rival: u32) -> frame_support::dispatch::DispatchResult {
	Challenges::challenge_token_choice(RuntimeOrigin::signed(CHALLENGER), 0, step, rival)
}

fn greedy_best(l: &[f32]) -> u32 {
	(0..VOCABULARY)
		.max_by(|a, b| l[*a as usize].total_cmp(&l[*b as usize]))
		.unwrap()
}

#[test]
fn an_honest_greedy_choice_survives_and_the_challenger_pays() {
	ExtBuilder::default().build().execute_with(|| {
		let g = commit(generate(TokenSampling::Greedy, |_, _, best| best), TokenSampling::Greedy);
		let rival = (g.tokens[1] + 1) % VOCABULARY;
		assert_ok!(challenge(1, rival));
		System::assert_has_event(
			Event::TokenChoiceChallenged {
				dispute: 0,
				task: 0,
				challenger: CHALLENGER,
				step: 1,
				rival,
				deadline: Disputes::<Test>::get(0).unwrap().deadline,
			}
			.into(),
		);
		let provider_free = Balances::balance(&PROVIDER);
		assert_ok!(respond(
			RuntimeOrigin::signed(OPERATOR),
			0,
			g.graph.clone(),
			g.token_choice(1, rival)
		));
		// Within the band: the trace root is fixed, and the challenger may descend into the
		// hidden row; it does not, and loses its bond.
		assert!(matches!(
			Tasks::<Test>::get(0).unwrap().status,
			TaskStatus::Disputed { trace_root: Some(_), .. }
		));
		let d = Disputes::<Test>::get(0).unwrap();
		assert_eq!(d.turn, Turn::Challenger);
		let opened = OpenedOperands::<Test>::get(0).unwrap();
		assert_eq!((opened[0].node, opened[0].row), (2, PROMPT.len() as u32));
		run_to_block(d.deadline + 1);
		System::assert_has_event(
			Event::ProviderWon {
				dispute: 0,
				task: 0,
				bond_to_provider: 150,
				bond_to_treasury: 150,
			}
			.into(),
		);
		assert_eq!(Balances::balance(&PROVIDER) - provider_free, 150);
		assert_accounting();
	});
}

#[test]
fn a_near_tie_inside_the_band_survives_either_way() {
	for (committed, rival) in [(2u32, 4u32), (4, 2)] {
		ExtBuilder::default().build().execute_with(|| {
			// Token 2 and token 4 score within an ulp of each other after any token.
			let tokens = generate(
				TokenSampling::Greedy,
				|step, _, best| if step == 0 { committed } else { best },
			);
			let g = commit(tokens, TokenSampling::Greedy);
			assert_ok!(challenge(0, rival));
			assert_ok!(respond(
				RuntimeOrigin::signed(OPERATOR),
				0,
				g.graph.clone(),
				g.token_choice(0, rival)
			));
			assert_eq!(
				Disputes::<Test>::get(0).unwrap().turn,
				Turn::Challenger,
				"committed {committed}"
			);
			assert_accounting();
		});
	}
}

#[test]
fn a_clearly_wrong_choice_loses_and_is_slashed() {
	ExtBuilder::default().build().execute_with(|| {
		// (Not the stop token, which may only come last.)
		let worst = |l: &[f32]| {
			(0..VOCABULARY)
				.filter(|t| *t != STOP)
				.min_by(|a, b| l[*a as usize].total_cmp(&l[*b as usize]))
				.unwrap()
		};
		// At step 1 the provider commits the lowest-scoring token, then decodes on from it.
		let tokens = generate(
			TokenSampling::Greedy,
			|step, l, best| if step == 1 { worst(l) } else { best },
		);
		let best = greedy_best(&logits(tokens[0]));
		assert_ne!(tokens[1], best);
		let g = commit(tokens, TokenSampling::Greedy);
		let challenger_free = Balances::balance(&CHALLENGER);
		assert_ok!(challenge(1, best));
		assert_ok!(respond(
			RuntimeOrigin::signed(OPERATOR),
			0,
			g.graph.clone(),
			g.token_choice(1, best)
		));
		System::assert_has_event(
			Event::ProviderLost {
				dispute: 0,
				task: 0,
				reason: LossReason::OutsideBound,
				slashed: 2_000,
			}
			.into(),
		);
		assert!(Balances::balance(&CHALLENGER) > challenger_free, "the bond back and a reward");
		assert_accounting();
	});
}

#[test]
fn seeded_sampling_survives_and_a_choice_that_ignores_the_seed_loses() {
	// A temperature that lets the noise move the choice; the first seed whose first choice is
	// not the greedy one by a clear margin.
	let seed = (0u64..)
		.find(|seed| {
			let s = TokenSampling::Gumbel { temperature_bits: 2.0f32.to_bits(), seed: *seed };
			let l = logits(*PROMPT.last().unwrap());
			let greedy = greedy_best(&l);
			let sampled = generate(s, |_, _, best| best)[0];
			sampled != greedy &&
				s.score(l[sampled as usize], 0, sampled) - s.score(l[greedy as usize], 0, greedy) >
					0.1
		})
		.unwrap();
	let sampling = TokenSampling::Gumbel { temperature_bits: 2.0f32.to_bits(), seed };
	let sampled = generate(sampling, |_, _, best| best);
	ExtBuilder::default().build().execute_with(|| {
		let g = commit(sampled.clone(), sampling);
		let greedy = greedy_best(&logits(*PROMPT.last().unwrap()));
		assert_ok!(challenge(0, greedy));
		assert_ok!(respond(
			RuntimeOrigin::signed(OPERATOR),
			0,
			g.graph.clone(),
			g.token_choice(0, greedy)
		));
		assert_eq!(Disputes::<Test>::get(0).unwrap().turn, Turn::Challenger);
		assert_accounting();
	});
	ExtBuilder::default().build().execute_with(|| {
		// The provider commits the greedy token at step 0 under the seeded task.
		let ignoring =
			generate(sampling, |step, l, best| if step == 0 { greedy_best(l) } else { best });
		let g = commit(ignoring, sampling);
		assert_ok!(challenge(0, sampled[0]));
		assert_ok!(respond(
			RuntimeOrigin::signed(OPERATOR),
			0,
			g.graph.clone(),
			g.token_choice(0, sampled[0])
		));
		System::assert_has_event(
			Event::ProviderLost {
				dispute: 0,
				task: 0,
				reason: LossReason::OutsideBound,
				slashed: 2_000,
			}
			.into(),
		);
		assert_accounting();
	});
}

#[test]
fn a_descent_from_a_token_choice_walks_the_hidden_row_down_to_the_inputs() {
	ExtBuilder::default().build().execute_with(|| {
		let g = commit(generate(TokenSampling::Greedy, |_, _, best| best), TokenSampling::Greedy);
		let rival = (g.tokens[0] + 1) % VOCABULARY;
		assert_ok!(challenge(0, rival));
		assert_ok!(respond(
			RuntimeOrigin::signed(OPERATOR),
			0,
			g.graph.clone(),
			g.token_choice(0, rival)
		));
		// The hidden row of the prompt's last position: name its column 2.
		let p = PROMPT.len() as u32 - 1;
		assert_noop!(
			Challenges::descend(RuntimeOrigin::signed(CHALLENGER), 0, 2, p + 1, 2),
			Error::<Test>::NotAnOpenedRow
		);
		assert_ok!(Challenges::descend(RuntimeOrigin::signed(CHALLENGER), 0, 2, p, 2));
		assert_eq!(Disputes::<Test>::get(0).unwrap().claim, Claim::Element);
		// An element of a generation trace: no output rule, the input is the prompt and tokens.
		assert_ok!(respond(
			RuntimeOrigin::signed(OPERATOR),
			0,
			g.graph.clone(),
			g.element(2, p, 2)
		));
		assert_ok!(Challenges::descend(RuntimeOrigin::signed(CHALLENGER), 0, 1, p, 0));
		// The embedding's operands are the task's ids and a weight row: nothing left to name.
		assert_ok!(respond(
			RuntimeOrigin::signed(OPERATOR),
			0,
			g.graph.clone(),
			g.element(1, p, 0)
		));
		System::assert_has_event(
			Event::ProviderWon {
				dispute: 0,
				task: 0,
				bond_to_provider: 150,
				bond_to_treasury: 150,
			}
			.into(),
		);
		assert_accounting();
	});
}

#[test]
fn every_refused_token_choice_challenge_changes_nothing() {
	ExtBuilder::default().build().execute_with(|| {
		let g = commit(generate(TokenSampling::Greedy, |_, _, best| best), TokenSampling::Greedy);
		// A step past the tokens; the committed token itself; a token outside the vocabulary.
		assert_noop!(challenge(NEW_TOKENS, 0), Error::<Test>::NoSuchStep);
		assert_noop!(challenge(0, g.tokens[0]), Error::<Test>::BadRival);
		assert_noop!(challenge(0, VOCABULARY), Error::<Test>::BadRival);
		// A task that is not committed.
		assert_noop!(
			Challenges::challenge_token_choice(RuntimeOrigin::signed(CHALLENGER), 7, 0, 1),
			Error::<Test>::NotChallengeable
		);
		// An answer of the wrong kind (an element opening) is refused, nothing ruled.
		assert_ok!(challenge(0, (g.tokens[0] + 1) % VOCABULARY));
		assert_noop!(
			respond(RuntimeOrigin::signed(OPERATOR), 0, g.graph.clone(), g.element(2, 1, 0)),
			Error::<Test>::InvalidOpening
		);
		assert_accounting();
	});
}

#[test]
fn a_token_choice_challenge_of_an_embedding_task_is_refused() {
	ExtBuilder::default().build().execute_with(|| {
		let (graph, weights, _) = crate::tests::model();
		let outputs = crate::tests::trace(None);
		let output = arbiter_primitives::encoding::row_bytes(&outputs[1]);
		register_and_commit(&graph, &weights, &outputs, 1, output, &TASK_INPUT);
		assert_noop!(challenge(0, 1), Error::<Test>::NotAGeneration);
		assert_accounting();
	});
}
