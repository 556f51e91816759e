//! Generation on a generated tiny LLaMA: decoding step by step gives a trace of the rows it
//! computed, every element of which verifies; a replay, one position at a time or in blocks of
//! any sizes, gives the same root; plain and traced
//! decoding choose the same tokens; decoding agrees with a full prefill up to rounding;
//! seeded sampling repeats and depends on the seed; bad requests are refused.

use arbiter_inference::{
	decode::{
		choose, generate, generate_batch, logits, logits_batch, step_batch, traced_ids, Decoder,
		Sampling,
	},
	engine::{self, Mode},
	generated::{tiny_llama, tiny_llama_input},
	EngineError, Model, Trace,
};
use arbiter_primitives::{
	encoding::row_bytes, sampling::gumbel_noise, verify_element, RegisteredModel, TaskCommitments,
	Verdict,
};
use candle_core::Device;

fn verify_every_element(model: &Model, trace: &Trace, ids: &[u32]) -> u64 {
	let graph = model.template.instantiate(trace.seq_len);
	let registered = RegisteredModel {
		graph: &model.template,
		model_root: &model.commitment.model_root,
		slack: 0.0,
		max_row_width: model.max_row_width(),
	};
	let output = row_bytes(&trace.output().unwrap());
	let task = TaskCommitments { trace_root: &trace.root, output: &output, input: ids };
	let mut checked = 0;
	for (id, node) in graph.nodes.iter().enumerate() {
		for row in 0..node.shape.rows() as u32 {
			for col in 0..node.shape.width() {
				let opening = trace.opening(model, id as u32, row, col).unwrap();
				let verdict = verify_element(&registered, &task, (id as u32, row, col), &opening);
				assert_eq!(
					verdict,
					Verdict::WithinBound,
					"node {id} ({:?}) ({row}, {col})",
					node.op
				);
				checked += 1;
			}
		}
	}
	checked
}

fn prompt(seed: u64, len: u32) -> Vec<u32> {
	tiny_llama_input(seed, len).tensors[0].iter().map(|v| *v as u32).collect()
}

#[test]
fn every_element_of_a_generations_trace_verifies_and_a_replay_gives_its_root() {
	let model = tiny_llama(11, &Device::Cpu).unwrap();
	let prompt = prompt(1, 5);
	let traced = generate(&model, &prompt, 8, Sampling::Greedy, &[], Mode::Traced).unwrap();
	assert_eq!(traced.tokens.len(), 8);
	assert!(!traced.stopped);
	let trace = traced.trace.as_ref().unwrap();
	let ids = traced_ids(&prompt, &traced.tokens);
	assert_eq!(trace.seq_len as usize, ids.len());
	assert_eq!(ids.len(), 5 + 7, "the last token's row is never run");
	assert!(verify_every_element(&model, trace, &ids) > 5_000);

	// Plain decoding chooses the same tokens; a replay of the ids gives the same root.
	let plain = generate(&model, &prompt, 8, Sampling::Greedy, &[], Mode::Plain).unwrap();
	assert_eq!(plain.tokens, traced.tokens);
	assert!(plain.trace.is_none());
	let mut replay = Decoder::new(&model, ids.len() as u32, Mode::Traced).unwrap();
	for id in &ids {
		replay.step(*id).unwrap();
	}
	assert_eq!(replay.trace().unwrap().root, trace.root);
	// A decoder with room to spare gives the trace of the positions run, the same; so do blocks
	// of positions of any sizes (the generation itself ran the prompt as one block).
	for blocks in [vec![12usize], vec![3, 1, 4, 1, 3], vec![1, 11]] {
		let mut roomy = Decoder::new(&model, 40, Mode::Traced).unwrap();
		let mut at = 0;
		for n in blocks {
			roomy.step_block(&ids[at..at + n]).unwrap();
			at += n;
		}
		assert_eq!(roomy.trace().unwrap().root, trace.root);
	}
}

#[test]
fn a_batched_generation_is_each_generation_alone_bit_for_bit() {
	let model = tiny_llama(16, &Device::Cpu).unwrap();
	let prompts = vec![prompt(5, 6), prompt(6, 2), prompt(7, 9)];
	// A stop token the second prompt's generation meets early, so the batch shrinks mid-way.
	let alone_free = generate(&model, &prompts[1], 7, Sampling::Greedy, &[], Mode::Plain).unwrap();
	let stop = [alone_free.tokens[2]];
	for sampling in [Sampling::Greedy, Sampling::Gumbel { temperature: 0.8, seed: 3 }] {
		let batch = generate_batch(&model, &prompts, 7, sampling, &stop, Mode::Traced).unwrap();
		assert_eq!(batch.len(), 3);
		for (p, g) in prompts.iter().zip(&batch) {
			let alone = generate(&model, p, 7, sampling, &stop, Mode::Traced).unwrap();
			assert_eq!(g.tokens, alone.tokens);
			assert_eq!(g.stopped, alone.stopped);
			assert_eq!(g.trace.as_ref().unwrap().root, alone.trace.as_ref().unwrap().root);
		}
		assert!(batch.iter().any(|g| g.stopped) || sampling != Sampling::Greedy);
	}
	// Batched logits are each row's logits, bit for bit.
	let rows: Vec<Vec<f32>> = (0..3u32)
		.map(|k| {
			let mut d = Decoder::new(&model, 4, Mode::Plain).unwrap();
			d.step(k + 1).unwrap()
		})
		.collect();
	let batched = logits_batch(&model, &rows).unwrap();
	for (row, l) in rows.iter().zip(&batched) {
		let alone = logits(&model, row).unwrap();
		assert!(l.iter().zip(&alone).all(|(a, b)| a.to_bits() == b.to_bits()));
	}
	// A batch step takes one token per decoder.
	let mut decoders = vec![
		Decoder::new(&model, 4, Mode::Plain).unwrap(),
		Decoder::new(&model, 4, Mode::Plain).unwrap(),
	];
	assert!(step_batch(&mut decoders, &[1]).is_err());
	assert_eq!(step_batch(&mut decoders, &[1, 2]).unwrap().len(), 2);
	assert!(decoders.iter().all(|d| d.len() == 1));
}

#[test]
fn decoding_agrees_with_a_full_prefill_up_to_rounding() {
	// Not bit for bit (the prefill's products sum in other orders), but to rounding.
	let model = tiny_llama(12, &Device::Cpu).unwrap();
	let ids = prompt(2, 9);
	let mut decoder = Decoder::new(&model, 9, Mode::Traced).unwrap();
	let mut last = Vec::new();
	for id in &ids {
		last = decoder.step(*id).unwrap();
	}
	let input = model.input_of_ids(&ids).unwrap();
	let prefill = engine::run(&model, &[input], Mode::Plain).unwrap().pop().unwrap().output;
	let width = last.len();
	let prefill_last = &prefill[prefill.len() - width..];
	let worst = last.iter().zip(prefill_last).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
	assert!(worst < 1e-4, "final hidden rows differ by {worst}");
	assert_eq!(
		decoder.trace().unwrap().output().unwrap().len(),
		prefill.len(),
		"the same output shape"
	);
}

#[test]
fn a_stop_token_ends_the_generation_and_is_kept() {
	let model = tiny_llama(13, &Device::Cpu).unwrap();
	let prompt = prompt(3, 4);
	let free = generate(&model, &prompt, 6, Sampling::Greedy, &[], Mode::Plain).unwrap();
	let stop = free.tokens[2];
	let first = free.tokens.iter().position(|t| *t == stop).unwrap();
	let stopped = generate(&model, &prompt, 6, Sampling::Greedy, &[stop], Mode::Traced).unwrap();
	assert!(stopped.stopped);
	assert_eq!(stopped.tokens, free.tokens[..=first].to_vec());
	let trace = stopped.trace.unwrap();
	assert_eq!(trace.seq_len as usize, prompt.len() + first);
}

#[test]
fn seeded_sampling_repeats_and_follows_the_seed() {
	let model = tiny_llama(14, &Device::Cpu).unwrap();
	let prompt = prompt(4, 3);
	let sample = |seed| {
		generate(&model, &prompt, 12, Sampling::Gumbel { temperature: 1.5, seed }, &[], Mode::Plain)
			.unwrap()
			.tokens
	};
	assert_eq!(sample(1), sample(1));
	assert_ne!(sample(1), sample(2));
	// Each choice is the argmax of logit / T + noise, recomputed here from the logits.
	let traced = generate(
		&model,
		&prompt,
		5,
		Sampling::Gumbel { temperature: 0.7, seed: 9 },
		&[],
		Mode::Plain,
	)
	.unwrap();
	let mut decoder = Decoder::new(&model, 7, Mode::Plain).unwrap();
	let mut hidden = Vec::new();
	for id in &prompt {
		hidden = decoder.step(*id).unwrap();
	}
	for (step, token) in traced.tokens.iter().enumerate() {
		let l = logits(&model, &hidden).unwrap();
		let score = |t: usize| l[t] as f64 / 0.7 + gumbel_noise(9, step as u32, t as u32);
		let best = (0..l.len()).max_by(|a, b| score(*a).total_cmp(&score(*b))).unwrap();
		assert_eq!(*token as usize, best, "step {step}");
		assert_eq!(choose(&l, Sampling::Gumbel { temperature: 0.7, seed: 9 }, step as u32), *token);
		if step + 1 < traced.tokens.len() {
			hidden = decoder.step(*token).unwrap();
		}
	}
}

#[test]
fn bad_generation_requests_are_refused() {
	let model = tiny_llama(15, &Device::Cpu).unwrap();
	let greedy = Sampling::Greedy;
	assert!(matches!(
		generate(&model, &[], 4, greedy, &[], Mode::Plain),
		Err(EngineError::BadTokenCount { .. })
	));
	assert!(matches!(
		generate(&model, &[1, 2], 0, greedy, &[], Mode::Plain),
		Err(EngineError::BadTokenCount { .. })
	));
	// 64 positions: a 60-token prompt leaves room for 5 new tokens, not 6.
	let long = vec![1u32; 60];
	assert!(generate(&model, &long, 5, greedy, &[], Mode::Plain).is_ok());
	assert!(matches!(
		generate(&model, &long, 6, greedy, &[], Mode::Plain),
		Err(EngineError::BadTokenCount { .. })
	));
	assert!(matches!(
		generate(&model, &[1, 40], 2, greedy, &[], Mode::Plain),
		Err(EngineError::TokenIdOutOfRange { id: 40, .. })
	));
	for temperature in [0.0f32, -1.0, f32::NAN] {
		let sampling = Sampling::Gumbel { temperature, seed: 1 };
		assert!(generate(&model, &[1], 2, sampling, &[], Mode::Plain).is_err(), "{temperature}");
	}
	// A model that is not a causal decoder is refused by name.
	let bert = arbiter_inference::generated::tiny_bert(1, &Device::Cpu).unwrap();
	let err = Decoder::new(&bert, 4, Mode::Plain).err().unwrap().to_string();
	assert!(err.contains("not a causal decoder"), "{err}");
}
