//! Token-choice disputes and the stop rule on a generated LLaMA-style decoder (tied LM head):
//! an honest greedy or seeded-sampled choice survives every rival; a near tie inside the
//! rounding band survives either way; a clearly worse token loses; every malformed answer is
//! refused or ruled as the ruling table says. Element disputes on a generation trace bind it to
//! the prompt and the committed tokens.

mod common;

use arbiter_primitives::{
	commitment::{model_commitment, trace_commitment, weights_tree},
	ir::{Graph, SEQ_DIM},
	merkle::MerkleTree,
	opening::{MalformedReason, Opening, RegisteredModel, Ruling, Verdict},
	prover::ProverData,
	token_choice::{
		check_generated_tokens, generation_trace_input, lm_head, verify_generation_element,
		verify_token_choice, GenerationCommitments, TokenSampling, TokensError,
	},
	Hash,
};

const MAX_WIDTH: u32 = 4096;
const TOKENIZER: Hash = [5u8; 32];
const VOCAB: u32 = 13;

struct Model {
	template: Graph,
	weights: Vec<Vec<f32>>,
	weights_tree: MerkleTree,
	model_root: Hash,
}

fn model(seed: u64) -> Model {
	let (template, weights, _) = common::tiny_decoder(seed, SEQ_DIM, 4, 4, 2, 32);
	model_of(template, weights)
}

fn model_of(template: Graph, weights: Vec<Vec<f32>>) -> Model {
	let model_root = model_commitment(&template, &weights, TOKENIZER).unwrap().model_root;
	let weights_tree = weights_tree(&template, &weights).unwrap();
	Model { template, weights, weights_tree, model_root }
}

/// A generation as a provider commits it: the tokens, and the trace of the prompt and every
/// token but the last.
struct Generation {
	prompt: Vec<u32>,
	tokens: Vec<u32>,
	sampling: TokenSampling,
	outputs: Vec<Vec<f32>>,
	trace_tree: MerkleTree,
	trace_root: Hash,
}

/// The f32 logits a provider computes from a hidden row (its own summation order).
fn logits(m: &Model, hidden: &[f32]) -> Vec<f32> {
	let table = lm_head(&m.template).unwrap() as usize;
	m.weights[table]
		.chunks(hidden.len())
		.map(|row| row.iter().zip(hidden).map(|(a, b)| a * b).sum())
		.collect()
}

impl Model {
	fn run(&self, ids: &[u32]) -> Vec<Vec<f32>> {
		let graph = self.template.instantiate(ids.len() as u32);
		let inputs = graph.input_values(ids).unwrap();
		common::run(&graph, &self.weights, &inputs)
	}

	/// The hidden row position `p` of `ids` gives.
	fn hidden(&self, ids: &[u32], p: usize) -> Vec<f32> {
		let outputs = self.run(ids);
		let last = outputs.last().unwrap();
		let width = last.len() / ids.len();
		last[p * width..(p + 1) * width].to_vec()
	}

	/// Generates `n` tokens; `pick(step, logits, honest)` may replace the honest choice.
	fn generate(
		&self,
		prompt: &[u32],
		n: usize,
		sampling: TokenSampling,
		pick: impl Fn(u32, &[f32], u32) -> u32,
	) -> Generation {
		let mut ids = prompt.to_vec();
		let mut tokens = Vec::new();
		for step in 0..n as u32 {
			let l = logits(self, &self.hidden(&ids, ids.len() - 1));
			let honest = (0..VOCAB)
				.max_by(|a, b| {
					sampling
						.score(l[*a as usize], step, *a)
						.total_cmp(&sampling.score(l[*b as usize], step, *b))
						.then(b.cmp(a))
				})
				.unwrap();
			let token = pick(step, &l, honest);
			tokens.push(token);
			ids.push(token);
		}
		let traced = generation_trace_input(prompt, &tokens);
		let outputs = self.run(&traced);
		let (trace_tree, trace_root) =
			trace_commitment(&self.template, traced.len() as u32, &outputs).unwrap();
		Generation { prompt: prompt.to_vec(), tokens, sampling, outputs, trace_tree, trace_root }
	}

	fn registered(&self) -> RegisteredModel<'_> {
		RegisteredModel {
			graph: &self.template,
			model_root: &self.model_root,
			slack: 0.0,
			max_row_width: MAX_WIDTH,
		}
	}
}

impl Generation {
	fn commitments(&self) -> GenerationCommitments<'_> {
		GenerationCommitments {
			trace_root: &self.trace_root,
			prompt: &self.prompt,
			tokens: &self.tokens,
			sampling: self.sampling,
		}
	}

	fn open(&self, m: &Model, step: u32, rival: u32) -> Opening {
		let graph = m.template.instantiate(self.outputs_len());
		ProverData {
			graph: &graph,
			seq_len: self.outputs_len(),
			outputs: &self.outputs,
			trace_tree: &self.trace_tree,
			weights: &m.weights,
			weights_tree: &m.weights_tree,
			tokenizer_hash: TOKENIZER,
		}
		.token_choice_opening(&self.commitments(), step, rival)
		.unwrap()
	}

	fn outputs_len(&self) -> u32 {
		(self.prompt.len() + self.tokens.len() - 1) as u32
	}

	/// Rules on the provider's own answer to a challenge at `step` with `rival`.
	fn rule(&self, m: &Model, step: u32, rival: u32) -> Verdict {
		verify_token_choice(
			&m.registered(),
			&self.commitments(),
			step,
			rival,
			&self.open(m, step, rival),
		)
	}
}

const PROMPT: [u32; 3] = [3, 7, 1];

#[test]
fn an_honest_greedy_choice_survives_every_rival() {
	for seed in [1u64, 2, 3] {
		let m = model(seed);
		let g = m.generate(&PROMPT, 6, TokenSampling::Greedy, |_, _, honest| honest);
		// Decoding position by position gives the rows the final trace holds (causal).
		for step in 0..g.tokens.len() {
			let p = PROMPT.len() + step - 1;
			let row = m.hidden(&generation_trace_input(&PROMPT, &g.tokens), p);
			let l = logits(&m, &row);
			let best =
				(0..VOCAB).max_by(|a, b| l[*a as usize].total_cmp(&l[*b as usize]).then(b.cmp(a)));
			assert_eq!(best, Some(g.tokens[step]), "seed {seed} step {step}");
		}
		for step in 0..g.tokens.len() as u32 {
			for rival in (0..VOCAB).filter(|r| *r != g.tokens[step as usize]) {
				assert_eq!(
					g.rule(&m, step, rival),
					Verdict::WithinBound,
					"seed {seed} step {step} rival {rival}"
				);
			}
		}
	}
}

#[test]
fn a_clearly_worse_token_loses_and_only_at_its_step() {
	let m = model(4);
	// At step 2 the provider commits the lowest-scoring token, then decodes on honestly from it.
	let worst =
		|l: &[f32]| (0..VOCAB).min_by(|a, b| l[*a as usize].total_cmp(&l[*b as usize])).unwrap();
	let honest = m.generate(&PROMPT, 5, TokenSampling::Greedy, |_, _, h| h);
	let faulty =
		m.generate(
			&PROMPT,
			5,
			TokenSampling::Greedy,
			|step, l, h| if step == 2 { worst(l) } else { h },
		);
	assert_ne!(faulty.tokens[2], honest.tokens[2]);
	assert_eq!(faulty.tokens[..2], honest.tokens[..2]);
	let verdict = faulty.rule(&m, 2, honest.tokens[2]);
	assert_eq!(verdict, Verdict::OutsideBound);
	assert_eq!(
		verdict.ruling(),
		Ruling::ProviderLoses(arbiter_primitives::opening::Fault::OutsideBound)
	);
	// Its other steps were honest choices: challenging them loses.
	for step in [0u32, 1, 3, 4] {
		for rival in (0..VOCAB).filter(|r| *r != faulty.tokens[step as usize]) {
			assert_eq!(faulty.rule(&m, step, rival), Verdict::WithinBound, "step {step}");
		}
	}
}

#[test]
fn a_near_tie_inside_the_rounding_band_survives_either_way() {
	// Token 11's embedding row is token 10's with one value moved by one ulp: their logits differ
	// by far less than the band, so either choice is one an honest kernel could make.
	let (template, mut weights, _) = common::tiny_decoder(6, SEQ_DIM, 4, 4, 2, 32);
	let table = lm_head(&template).unwrap() as usize;
	let width = template.weight(table as u32).unwrap().shape.width() as usize;
	let row10: Vec<f32> = weights[table][10 * width..11 * width].to_vec();
	let mut row11 = row10.clone();
	row11[0] = f32::from_bits(row11[0].to_bits() + 1);
	weights[table][11 * width..12 * width].copy_from_slice(&row11);
	let m = model_of(template, weights);
	for (committed, rival) in [(10u32, 11u32), (11, 10)] {
		let g =
			m.generate(
				&PROMPT,
				3,
				TokenSampling::Greedy,
				|step, _, h| if step == 1 { committed } else { h },
			);
		assert_eq!(g.rule(&m, 1, rival), Verdict::WithinBound, "committed {committed}");
	}
}

#[test]
fn seeded_sampling_survives_and_a_token_that_ignores_the_seed_loses() {
	let m = model(7);
	let sampling = TokenSampling::Gumbel { temperature_bits: 0.8f32.to_bits(), seed: 42 };
	let sampled = m.generate(&PROMPT, 8, sampling, |_, _, h| h);
	for step in 0..sampled.tokens.len() as u32 {
		for rival in (0..VOCAB).filter(|r| *r != sampled.tokens[step as usize]) {
			assert_eq!(
				sampled.rule(&m, step, rival),
				Verdict::WithinBound,
				"step {step} rival {rival}"
			);
		}
	}
	// A provider that commits the greedy token where the seed picks another, by a clear margin,
	// loses at that step.
	let step = (0..8u32)
		.find(|s| {
			let g = m.generate(&PROMPT, *s as usize + 1, sampling, |_, _, h| h);
			let l = logits(
				&m,
				&m.hidden(
					&generation_trace_input(&PROMPT, &g.tokens),
					PROMPT.len() + *s as usize - 1,
				),
			);
			let greedy =
				(0..VOCAB).max_by(|a, b| l[*a as usize].total_cmp(&l[*b as usize])).unwrap();
			let (chosen, sampled) = (greedy, g.tokens[*s as usize]);
			chosen != sampled &&
				sampling.score(l[sampled as usize], *s, sampled) -
					sampling.score(l[chosen as usize], *s, chosen) >
					0.5
		})
		.expect("some step where the seed's choice is clearly not the greedy one");
	let greedy_at = |s: u32, l: &[f32], h: u32| {
		if s == step {
			(0..VOCAB).max_by(|a, b| l[*a as usize].total_cmp(&l[*b as usize])).unwrap()
		} else {
			h
		}
	};
	let ignoring = m.generate(&PROMPT, step as usize + 2, sampling, greedy_at);
	assert_eq!(ignoring.rule(&m, step, sampled.tokens[step as usize]), Verdict::OutsideBound);
}

#[test]
fn malformed_token_choice_answers_are_refused_or_ruled_as_the_table_says() {
	let m = model(8);
	let g = m.generate(&PROMPT, 4, TokenSampling::Greedy, |_, _, h| h);
	let (step, rival) = (1u32, (g.tokens[1] + 1) % VOCAB);
	let rule = |o: &Opening| verify_token_choice(&m.registered(), &g.commitments(), step, rival, o);
	let honest = g.open(&m, step, rival);
	assert_eq!(rule(&honest), Verdict::WithinBound);

	// Another position's hidden row: refused.
	let mut other = g.open(&m, 2, rival);
	other.weight_rows = honest.weight_rows.clone();
	assert_eq!(rule(&other), Verdict::Malformed(MalformedReason::WrongElement));
	// A tampered hidden value: the proof fails, refused.
	let mut tampered = honest.clone();
	tampered.trace_rows[0].rows[0][0] ^= 1;
	assert!(matches!(rule(&tampered), Verdict::Malformed(MalformedReason::BadProof { .. })));
	assert_eq!(rule(&tampered).ruling(), Ruling::Refused);
	// A missing or an extra row: refused.
	let mut missing = honest.clone();
	missing.weight_rows.pop();
	assert!(matches!(rule(&missing), Verdict::Malformed(MalformedReason::MissingRow { .. })));
	let mut extra = honest.clone();
	extra.weight_rows.push(honest.weight_rows[0].clone());
	assert!(matches!(rule(&extra), Verdict::Malformed(MalformedReason::UnexpectedRow { .. })));
	// Another token's embedding row in the rival's place: refused.
	let mut swapped = honest.clone();
	swapped.weight_rows[1] = g.open(&m, step, (rival + 1) % VOCAB).weight_rows[1].clone();
	if swapped.weight_rows[1] != honest.weight_rows[1] {
		assert!(matches!(
			rule(&swapped),
			Verdict::Malformed(MalformedReason::UnexpectedRow { .. })
		));
	}
	// A step past the tokens, a rival equal to the token or outside the vocabulary: no such
	// element, ruled for the provider (the pallet refuses these challenges first).
	for (s, r) in [(4u32, 0u32), (step, g.tokens[1]), (step, VOCAB)] {
		let o = g.open(&m, s, r);
		let v = verify_token_choice(&m.registered(), &g.commitments(), s, r, &o);
		assert_eq!(v.ruling(), Ruling::ProviderWins, "step {s} rival {r}");
	}
	// A trace of another length than the prompt and tokens give: the provider loses (its trace
	// is not of the task's input).
	let mut short_prompt = g.commitments();
	let short = [3u32, 7];
	short_prompt.prompt = &short;
	let v = verify_token_choice(&m.registered(), &short_prompt, step, rival, &honest);
	assert_eq!(v, Verdict::Malformed(MalformedReason::InputMismatch));
	assert!(matches!(v.ruling(), Ruling::ProviderLoses(_)));
	// An invalid temperature is no task the chain accepts: nothing is ruled.
	let mut hot = g.commitments();
	hot.sampling = TokenSampling::Gumbel { temperature_bits: 0f32.to_bits(), seed: 1 };
	assert_eq!(
		verify_token_choice(&m.registered(), &hot, step, rival, &honest).ruling(),
		Ruling::Refused
	);
}

#[test]
fn element_disputes_on_a_generation_trace_bind_the_prompt_and_tokens() {
	let m = model(9);
	let g = m.generate(&PROMPT, 4, TokenSampling::Greedy, |_, _, h| h);
	let seq = g.outputs_len();
	let graph = m.template.instantiate(seq);
	let prover = ProverData {
		graph: &graph,
		seq_len: seq,
		outputs: &g.outputs,
		trace_tree: &g.trace_tree,
		weights: &m.weights,
		weights_tree: &m.weights_tree,
		tokenizer_hash: TOKENIZER,
	};
	// Every element of every node (the final node's included: it is not the output) passes.
	for (id, node) in graph.nodes.iter().enumerate() {
		for row in 0..node.shape.rows() as u32 {
			let col = (row * 7) % node.shape.width();
			let o = prover.opening(id as u32, row, col).unwrap();
			assert_eq!(
				verify_generation_element(
					&m.registered(),
					&g.commitments(),
					(id as u32, row, col),
					&o
				),
				Verdict::WithinBound,
				"node {id} row {row}"
			);
		}
	}
	// The input node read against other committed tokens: the provider loses.
	let mut other = g.tokens.clone();
	other[1] = (other[1] + 1) % VOCAB;
	let lied = GenerationCommitments { tokens: &other, ..g.commitments() };
	let o = prover.opening(0, 0, PROMPT.len() as u32 + 1).unwrap();
	let v = verify_generation_element(&m.registered(), &lied, (0, 0, PROMPT.len() as u32 + 1), &o);
	assert_eq!(v, Verdict::Malformed(MalformedReason::InputMismatch));
}

#[test]
fn the_stop_rule_reads_only_on_chain_data() {
	let (eos, max, vocab) = (2u32, 4u32, VOCAB);
	assert_eq!(check_generated_tokens(&[5, 6, 7, 8], max, eos, vocab), Ok(()));
	assert_eq!(check_generated_tokens(&[5, 6, 2], max, eos, vocab), Ok(()));
	assert_eq!(check_generated_tokens(&[5, 6, 7, 2], max, eos, vocab), Ok(()));
	assert_eq!(check_generated_tokens(&[2], max, eos, vocab), Ok(()));
	assert_eq!(check_generated_tokens(&[], max, eos, vocab), Err(TokensError::Count));
	assert_eq!(check_generated_tokens(&[5, 6, 7, 8, 9], max, eos, vocab), Err(TokensError::Count));
	assert_eq!(
		check_generated_tokens(&[5, 13], max, eos, vocab),
		Err(TokensError::OutOfVocabulary)
	);
	assert_eq!(
		check_generated_tokens(&[5, 2, 7], max, eos, vocab),
		Err(TokensError::StopBeforeEnd)
	);
	assert_eq!(check_generated_tokens(&[5, 6], max, eos, vocab), Err(TokensError::EndedEarly));
}
