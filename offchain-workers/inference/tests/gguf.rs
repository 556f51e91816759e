//! GGUF model files (issue: verified text generation), on SmolLM2-135M-Instruct (run
//! `scripts/fetch-smollm2.sh` first): the tokenizer built from the file's own vocabulary and
//! merges tokenizes as Hugging Face `transformers` does (its ids recorded by
//! `scripts/reference/smollm2_transformers.py`), every quantized weight dequantizes to f32
//! without a rounding, and the decoder graph built from the file generates, greedily and step by
//! step with its KV cache, the tokens `transformers` generates, with a trace whose sampled
//! elements all verify and that a replay reproduces.

use std::path::PathBuf;

use arbiter_inference::{
	decode::{choose, generate, logits, traced_ids, Decoder, Sampling},
	engine::{self, Mode},
	gguf::{dequantization_roundings, tokenizer_json},
	llama::load_gguf,
	Model, Trace,
};
use arbiter_primitives::{
	encoding::row_bytes, verify_element, RegisteredModel, TaskCommitments, Verdict,
};
use candle_core::{
	quantized::gguf_file::{Content, Value},
	Device,
};

fn gguf_path() -> PathBuf {
	let path = std::env::var_os("ARBITER_SMOLLM2_GGUF").map(PathBuf::from).unwrap_or_else(|| {
		PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
			.join(".cache/arbiter/gguf/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf")
	});
	assert!(path.is_file(), "SmolLM2 is not at {} (run scripts/fetch-smollm2.sh)", path.display());
	path
}

fn content() -> (Content, std::fs::File) {
	let mut file = std::fs::File::open(gguf_path()).unwrap();
	(Content::read(&mut file).unwrap(), file)
}

/// The reference's records: each tokenized string, and each prompt with its ids.
fn expected() -> Vec<serde_json::Value> {
	records("smollm2_transformers.expected.jsonl")
}

/// The records of a reference script's output file in `scripts/reference`.
fn records(file: &str) -> Vec<serde_json::Value> {
	// The crate's folder when it runs (`cargo test` says; scripts/test.sh runs the binary from
	// it): a build cached from another clone still reads this clone's files.
	let crate_dir = std::env::var("CARGO_MANIFEST_DIR")
		.map(PathBuf::from)
		.or_else(|_| std::env::current_dir())
		.unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
	let path = crate_dir.join("../../scripts/reference").join(file);
	std::fs::read_to_string(path)
		.unwrap()
		.lines()
		.map(|l| serde_json::from_str(l).unwrap())
		.collect()
}

fn ids(v: &serde_json::Value) -> Vec<u32> {
	v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect()
}

/// SmolLM2's chat template (the GGUF's `tokenizer.chat_template`) for one user message, with the
/// assistant's turn opened.
fn chat(user: &str) -> String {
	format!(
		"<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging \
		 Face<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"
	)
}

#[test]
fn the_tokenizer_built_from_the_gguf_tokenizes_as_transformers_does() {
	let (content, _) = content();
	let json = tokenizer_json(&content).unwrap();
	assert_eq!(json, tokenizer_json(&content).unwrap(), "built the same way every time");
	let tokenizer: tokenizers::Tokenizer = json.parse().unwrap();
	let encode = |text: &str| tokenizer.encode(text, false).unwrap().get_ids().to_vec();
	let records = expected();
	let mut checked = 0;
	for r in &records {
		if let Some(text) = r["text"].as_str().filter(|_| r.get("ids").is_some()) {
			assert_eq!(encode(text), ids(&r["ids"]), "{text:?}");
			checked += 1;
		}
		if let Some(prompt) = r.get("prompt") {
			let text = prompt["text"].as_str().unwrap();
			let rendered =
				if prompt["chat"].as_bool().unwrap() { chat(text) } else { text.to_string() };
			assert_eq!(encode(&rendered), ids(&r["prompt_ids"]), "{rendered:?}");
			checked += 1;
		}
	}
	// Four strings (digits, Unicode, runs of spaces and tabs) and three prompts (the chat ones
	// need the special tokens matched whole). The digit split changes nothing on this vocabulary
	// (no token holds two ASCII digits or a space before one, checked with the `gguf` package):
	// it is built because it is the model's pre-tokenizer, not because a string here needs it.
	assert_eq!(checked, 7);
}

#[test]
fn the_tokenizer_built_from_the_gguf_tokenizes_as_llama_cpp_does() {
	// llama.cpp's own GGUF tokenizer (scripts/reference/smollm2_llama_cpp.py), on the same four
	// strings and three rendered prompts.
	let (content, _) = content();
	let tokenizer: tokenizers::Tokenizer = tokenizer_json(&content).unwrap().parse().unwrap();
	let encode = |text: &str| tokenizer.encode(text, false).unwrap().get_ids().to_vec();
	let mut checked = 0;
	for r in records("smollm2_llama_cpp.expected.jsonl") {
		if let (Some(text), Some(want)) = (r["text"].as_str(), r.get("ids")) {
			assert_eq!(encode(text), ids(want), "{text:?}");
			checked += 1;
		}
		if let Some(prompt) = r.get("prompt") {
			let text = prompt["text"].as_str().unwrap();
			let rendered =
				if prompt["chat"].as_bool().unwrap() { chat(text) } else { text.to_string() };
			assert_eq!(encode(&rendered), ids(&r["prompt_ids"]), "{rendered:?}");
			checked += 1;
		}
	}
	assert_eq!(checked, 7);
}

#[test]
fn a_tokenizer_this_builder_does_not_know_is_refused() {
	let (mut content, _) = content();
	content
		.metadata
		.insert("tokenizer.ggml.pre".into(), Value::String("llama-bpe".into()));
	let err = tokenizer_json(&content).unwrap_err().to_string();
	assert!(err.contains("llama-bpe"), "{err}");
}

#[test]
fn every_quantized_weight_dequantizes_to_f32_without_a_rounding() {
	let (content, mut file) = content();
	let (values, rounded) = dequantization_roundings(&content, &mut file).unwrap();
	// 210 Q4_1 tensors and the Q8_0 token embedding (tied to the LM head).
	assert_eq!((values, rounded), (134_479_872, 0));
}

/// The greedy next token after `ids` from a full prefill of the graph (the batched engine): the
/// argmax of the last position's final hidden row times each (tied) embedding row.
fn next_token_by_prefill(model: &Model, ids: &[u32]) -> u32 {
	let input = model.input_of_ids(ids).unwrap();
	let hidden = engine::run(model, &[input], Mode::Plain).unwrap().pop().unwrap().output;
	let width = model.output_width() as usize;
	choose(&logits(model, &hidden[hidden.len() - width..]).unwrap(), Sampling::Greedy, 0)
}

/// The three prompts of the reference, rendered, with their expected ids and generated tokens.
fn prompts() -> Vec<(String, Vec<u32>, Vec<u32>)> {
	expected()
		.iter()
		.filter(|r| r.get("prompt").is_some())
		.map(|r| {
			let text = r["prompt"]["text"].as_str().unwrap();
			let rendered =
				if r["prompt"]["chat"].as_bool().unwrap() { chat(text) } else { text.into() };
			(rendered, ids(&r["prompt_ids"]), ids(&r["generated"]))
		})
		.collect()
}

/// Verifies `samples` elements spread over every node of `trace` (the last one included).
fn verify_sampled(model: &Model, trace: &Trace, ids: &[u32], samples: u64) -> usize {
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
		let (numel, width) = (node.shape.numel(), node.shape.width() as u64);
		for k in 0..samples {
			let flat = (numel - 1) * k / (samples - 1).max(1);
			let (row, col) = ((flat / width) as u32, (flat % width) as u32);
			let opening = trace.opening(model, id as u32, row, col).unwrap();
			let verdict = verify_element(&registered, &task, (id as u32, row, col), &opening);
			assert_eq!(verdict, Verdict::WithinBound, "node {id} ({:?}) ({row}, {col})", node.op);
			checked += 1;
		}
	}
	checked
}

/// The batched engine's full prefill of the graph (how embedding models run; the tiny LLaMA's
/// prefill traces verify element by element in `generated_models.rs`).
#[test]
fn the_decoder_graph_prefilled_gives_transformers_first_tokens() {
	let model = load_gguf(&gguf_path(), 128, &Device::Cpu).unwrap();
	assert_eq!(model.template.nodes.len(), 2 + 30 * 27 + 1);
	assert_eq!(model.vocabulary(), 49_152);
	for (rendered, prompt, generated) in prompts() {
		assert_eq!(model.tokenize(&rendered).unwrap(), prompt, "the model's own tokenizer");
		assert_eq!(next_token_by_prefill(&model, &prompt), generated[0], "{rendered:?}");
	}
}

#[test]
fn decoding_generates_what_transformers_generates_and_its_trace_verifies() {
	let model = load_gguf(&gguf_path(), 128, &Device::Cpu).unwrap();
	let eos = 2; // <|im_end|>
	let mut last = None;
	for (rendered, prompt, want) in prompts() {
		let max = want.len() as u32;
		let g = generate(&model, &prompt, max, Sampling::Greedy, &[eos], Mode::Plain).unwrap();
		assert_eq!(g.tokens, want, "{rendered:?}");
		assert_eq!(g.stopped, want.last() == Some(&eos));
		last = Some((prompt, max));
	}
	// The trace of the last generation: its sampled elements verify, and a replay of its ids
	// gives its root.
	let (prompt, max) = last.unwrap();
	let g = generate(&model, &prompt, max, Sampling::Greedy, &[eos], Mode::Traced).unwrap();
	let trace = g.trace.unwrap();
	let ids = traced_ids(&prompt, &g.tokens);
	assert_eq!(verify_sampled(&model, &trace, &ids, 4), 4 * 813);
	let mut replay = Decoder::new(&model, ids.len() as u32, Mode::Traced).unwrap();
	for id in &ids {
		replay.step(*id).unwrap();
	}
	assert_eq!(replay.trace().unwrap().root, trace.root);
}

/// Generates `n` tokens with a traced decoder, committing at step `runner_up_at` the token the
/// sampling scores second (the fault a provider's `--provider-fault token-choice` injects).
/// Returns the tokens, the trace and each step's logits.
fn generate_committing(
	model: &Model,
	prompt: &[u32],
	n: u32,
	sampling: Sampling,
	runner_up_at: Option<u32>,
) -> (Vec<u32>, Trace, Vec<Vec<f32>>) {
	let mut decoder = Decoder::new(model, prompt.len() as u32 + n - 1, Mode::Traced).unwrap();
	let rows = decoder.step_block(prompt).unwrap();
	let mut hidden = rows[rows.len() - rows.len() / prompt.len()..].to_vec();
	let (mut tokens, mut all_logits) = (Vec::new(), Vec::new());
	for step in 0..n {
		let l = logits(model, &hidden).unwrap();
		let mut token = choose(&l, sampling, step);
		if runner_up_at == Some(step) {
			let score = |t: usize| sampling.on_chain().score(l[t], step, t as u32);
			token = (0..l.len())
				.filter(|t| *t as u32 != token)
				.max_by(|a, b| score(*a).total_cmp(&score(*b)))
				.unwrap() as u32;
		}
		tokens.push(token);
		all_logits.push(l);
		if step + 1 < n {
			hidden = decoder.step(token).unwrap();
		}
	}
	(tokens, decoder.trace().unwrap(), all_logits)
}

/// Token-choice disputes on real decoding (issue: verified text generation, 2 of 2): at every
/// step of a greedy and of a seeded sampled generation, the committed token survives a challenge
/// by each of its five strongest rivals (the engine's 8-bit-row logits are within the rounding
/// band of the exact ones); a provider that commits the runner-up where the best is clearly
/// ahead loses to a challenge naming the best.
#[test]
fn committed_tokens_survive_their_strongest_rivals_and_a_runner_up_commit_loses() {
	use arbiter_primitives::token_choice::{verify_token_choice, GenerationCommitments};
	let model = load_gguf(&gguf_path(), 64, &Device::Cpu).unwrap();
	let registered = RegisteredModel {
		graph: &model.template,
		model_root: &model.commitment.model_root,
		slack: 0.0,
		max_row_width: model.max_row_width(),
	};
	let prompt = model.tokenize(&chat("Name three colours.")).unwrap();
	for sampling in [Sampling::Greedy, Sampling::Gumbel { temperature: 0.7, seed: 11 }] {
		let (tokens, trace, step_logits) = generate_committing(&model, &prompt, 8, sampling, None);
		let task = GenerationCommitments {
			trace_root: &trace.root,
			prompt: &prompt,
			tokens: &tokens,
			sampling: sampling.on_chain(),
		};
		for (step, l) in step_logits.iter().enumerate() {
			let step = step as u32;
			let score = |t: usize| sampling.on_chain().score(l[t], step, t as u32);
			let mut rivals: Vec<usize> =
				(0..l.len()).filter(|t| *t as u32 != tokens[step as usize]).collect();
			rivals.sort_by(|a, b| score(*b).total_cmp(&score(*a)));
			for rival in rivals.into_iter().take(5) {
				let opening =
					trace.token_choice_opening(&model, &task, step, rival as u32).unwrap();
				let verdict = verify_token_choice(&registered, &task, step, rival as u32, &opening);
				assert_eq!(verdict, Verdict::WithinBound, "{sampling:?} step {step} rival {rival}");
			}
		}
	}
	// The runner-up committed at the first step where the best leads by more than 0.5.
	let (honest, _, step_logits) = generate_committing(&model, &prompt, 8, Sampling::Greedy, None);
	let step = step_logits
		.iter()
		.position(|l| {
			let mut sorted = l.clone();
			sorted.sort_by(|a, b| b.total_cmp(a));
			sorted[0] - sorted[1] > 0.5
		})
		.expect("a step with a clear best token") as u32;
	let (faulty, trace, _) = generate_committing(&model, &prompt, 8, Sampling::Greedy, Some(step));
	assert_ne!(faulty[step as usize], honest[step as usize]);
	let task = GenerationCommitments {
		trace_root: &trace.root,
		prompt: &prompt,
		tokens: &faulty,
		sampling: Sampling::Greedy.on_chain(),
	};
	let best = honest[step as usize];
	let opening = trace.token_choice_opening(&model, &task, step, best).unwrap();
	assert_eq!(
		verify_token_choice(&registered, &task, step, best, &opening),
		Verdict::OutsideBound
	);
}

/// The development chain registers SmolLM2 at genesis with pinned commitments
/// (`arbiter_primitives::known_models`); the engine, loading the checksum-verified GGUF at the
/// pinned positions, must compute exactly those, or the dev chain's provider could never answer
/// a dispute of a generation.
#[test]
fn the_pinned_genesis_commitments_are_what_the_engine_computes_from_the_gguf() {
	let pinned = arbiter_primitives::known_models::SMOLLM2_135M_INSTRUCT;
	let model = load_gguf(&gguf_path(), pinned.positions, &Device::Cpu).unwrap();
	let c = &model.commitment;
	let hex = |h: &[u8; 32]| h.iter().map(|b| format!("{b:02x}")).collect::<String>();
	assert_eq!(
		(hex(&c.descriptor_hash), hex(&c.weights_root), hex(&c.tokenizer_hash), hex(&c.model_root)),
		(
			hex(&pinned.descriptor_hash),
			hex(&pinned.weights_root),
			hex(&pinned.tokenizer_hash),
			hex(&pinned.model_root)
		)
	);
	assert_eq!(
		(model.vocabulary(), model.max_row_width(), model.template.nodes.len() as u32),
		(pinned.vocabulary, pinned.max_row_width, pinned.nodes)
	);
	assert_eq!(model.max_tokens(), pinned.positions);
	// The stop token is the model's own end of turn.
	assert_eq!(model.tokenize("<|im_end|>").unwrap(), vec![pinned.stop_token]);
}

/// The watcher on real decoding (issue: verified text generation, 2 of 2): an honest greedy
/// generation of the end-to-end test's chat prompt has no wrong token, and the runner-up
/// committed at any step is found at that step, with the best token as the rival, unless its
/// lead is inside the ruling's band plus the watcher's tolerance (a near tie, which an honest
/// provider may have chosen either way). Prints each step's lead over the runner-up in units of
/// the two logits' terms (`TokenChoiceGap::scale`), against `TOKEN_TOLERANCE`.
#[test]
fn the_watcher_finds_a_runner_up_token_in_a_real_generation_at_its_step() {
	use arbiter_inference::watch::{check_token_choices, TOKEN_TOLERANCE};
	use arbiter_primitives::token_choice::{lm_head, token_choice_gap};
	let model = load_gguf(&gguf_path(), 64, &Device::Cpu).unwrap();
	let prompt = model.tokenize(&chat("What is the capital of France?")).unwrap();
	let greedy = Sampling::Greedy.on_chain();
	let (honest, _, step_logits) = generate_committing(&model, &prompt, 12, Sampling::Greedy, None);
	let (finding, _) = check_token_choices(&model, &prompt, &honest, greedy, 0.0).unwrap();
	assert_eq!(finding.wrong, None);
	assert!(finding.near_ties.is_empty());
	let table = lm_head(&model.template).unwrap();
	let mut found = 0;
	for step in 0..honest.len() as u32 {
		let (faulty, trace, _) =
			generate_committing(&model, &prompt, 12, Sampling::Greedy, Some(step));
		let (best, runner_up) = (honest[step as usize], faulty[step as usize]);
		// The lead as the watcher measures it, from its own hidden row.
		let last = model.template.nodes.len() as u32 - 1;
		let hidden =
			trace.row(&model.template, last, prompt.len() as u32 - 1 + step).unwrap().values;
		let row = |t: u32| model.weight_row(table, t).unwrap();
		let gap = token_choice_gap(
			&hidden,
			(runner_up, &row(runner_up)),
			(best, &row(best)),
			greedy,
			step,
			0.0,
		);
		let lead = (gap.excess - gap.allowed) / gap.scale;
		let (finding, _) = check_token_choices(&model, &prompt, &faulty, greedy, 0.0).unwrap();
		let l = &step_logits[step as usize];
		eprintln!(
			"step {step}: best {best} ({:.6}) runner-up {runner_up} ({:.6}): lead beyond the band {lead:.2e} of the terms (scale {:.1}); found: {:?}",
			l[best as usize], l[runner_up as usize], gap.scale, finding.wrong
		);
		if lead > TOKEN_TOLERANCE {
			assert_eq!(finding.wrong, Some((step, best)), "step {step}");
			found += 1;
		} else {
			assert_eq!((finding.wrong, finding.near_ties.as_slice()), (None, &[step][..]));
		}
	}
	// The end-to-end test commits the runner-up at step 0 (scripts/js/test/13-token-choice-fault).
	let (faulty, _, _) = generate_committing(&model, &prompt, 12, Sampling::Greedy, Some(0));
	assert_eq!(
		check_token_choices(&model, &prompt, &faulty, greedy, 0.0).unwrap().0.wrong,
		Some((0, honest[0]))
	);
	// On this prompt every step's lead is beyond it (docs/protocol.md, "Watching generations").
	assert_eq!(found, honest.len());
}
