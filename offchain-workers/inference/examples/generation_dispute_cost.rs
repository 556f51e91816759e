//! What a dispute of a generation costs, on SmolLM2-135M-Instruct: for each op kind of the
//! decoder graph, the `respond` payload (the SCALE-encoded graph and the opening of one element
//! of its widest node) and the native time of the runtime's check
//! (`verify_generation_element`); and the same for a token-choice dispute
//! (`verify_token_choice`: the hidden row and two embedding rows). The generation is a chat
//! prompt and `--new-tokens` greedy tokens, traced as a challenge replays it; the model is loaded
//! at the registered 2,048 positions, as the dev chain's provider loads it.
//!
//!   cargo run --release -p arbiter-inference --example generation_dispute_cost -- \
//!       --model FILE.gguf [--new-tokens 32] [--repeat 20]

use std::{collections::BTreeMap, time::Instant};

use arbiter_inference::{
	decode::{generate, traced_ids, Sampling},
	engine::Mode,
	llama,
};
use arbiter_primitives::{
	known_models::SMOLLM2_135M_INSTRUCT,
	token_choice::{
		verify_generation_element, verify_token_choice, GenerationCommitments, TokenSampling,
	},
	RegisteredModel, Verdict,
};
use candle_core::Device;
use codec::Encode;

fn arg(name: &str) -> Option<String> {
	let args: Vec<String> = std::env::args().collect();
	args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

fn median_us(repeat: usize, mut f: impl FnMut()) -> f64 {
	let mut t: Vec<f64> = (0..repeat)
		.map(|_| {
			let s = Instant::now();
			f();
			s.elapsed().as_secs_f64() * 1e6
		})
		.collect();
	t.sort_by(f64::total_cmp);
	t[t.len() / 2]
}

fn main() {
	arbiter_inference::process::configure();
	let path = arg("--model").expect("--model FILE.gguf");
	let new_tokens: u32 = arg("--new-tokens").map(|v| v.parse().unwrap()).unwrap_or(32);
	let repeat: usize = arg("--repeat").map(|v| v.parse().unwrap()).unwrap_or(20);
	let positions = SMOLLM2_135M_INSTRUCT.positions;
	let model = llama::load_gguf(std::path::Path::new(&path), positions, &Device::Cpu).unwrap();
	let prompt = model
		.tokenize(&llama::chat_prompt("Write a haiku about verifiable computation."))
		.unwrap();
	let g = generate(&model, &prompt, new_tokens, Sampling::Greedy, &[], Mode::Traced).unwrap();
	let trace = g.trace.unwrap();
	let graph_bytes = model.template.encode().len();
	let registered = RegisteredModel {
		graph: &model.template,
		model_root: &model.commitment.model_root,
		slack: 0.0,
		max_row_width: model.max_row_width(),
	};
	let task = GenerationCommitments {
		trace_root: &trace.root,
		prompt: &prompt,
		tokens: &g.tokens,
		sampling: TokenSampling::Greedy,
	};
	let graph = model.template.instantiate(trace.seq_len);
	assert_eq!(trace.seq_len as usize, traced_ids(&prompt, &g.tokens).len());
	// The widest node of each op kind, its last row (the longest attention prefix).
	let mut widest: BTreeMap<String, (u32, u64)> = BTreeMap::new();
	for (id, node) in graph.nodes.iter().enumerate() {
		let kind = format!("{:?}", node.op).split([' ', '{']).next().unwrap_or("?").to_string();
		let width = node.shape.width() as u64;
		if widest.get(&kind).is_none_or(|(_, w)| *w < width) {
			widest.insert(kind, (id as u32, width));
		}
	}
	let mut rows = Vec::new();
	for (kind, (node, width)) in &widest {
		let n = graph.node(*node).unwrap();
		let (row, col) = (n.shape.rows() as u32 - 1, (*width as u32).saturating_sub(1));
		let opening = trace.opening(&model, *node, row, col).unwrap();
		let verdict = verify_generation_element(&registered, &task, (*node, row, col), &opening);
		assert_eq!(verdict, Verdict::WithinBound, "{kind}");
		let us = median_us(repeat, || {
			verify_generation_element(&registered, &task, (*node, row, col), &opening);
		});
		rows.push(serde_json::json!({
			"dispute": kind, "node": node, "row_width": width,
			"opening_bytes": opening.encode().len(), "respond_bytes": graph_bytes + opening.encode().len(),
			"verify_us": (us * 10.0).round() / 10.0,
		}));
	}
	// A token choice at the last step against the runner-up.
	let step = g.tokens.len() as u32 - 1;
	let rival = (g.tokens[step as usize] + 1) % model.vocabulary();
	let opening = trace.token_choice_opening(&model, &task, step, rival).unwrap();
	assert_eq!(
		verify_token_choice(&registered, &task, step, rival, &opening),
		Verdict::WithinBound
	);
	let us = median_us(repeat, || {
		verify_token_choice(&registered, &task, step, rival, &opening);
	});
	rows.push(serde_json::json!({
		"dispute": "TokenChoice", "row_width": 576,
		"opening_bytes": opening.encode().len(), "respond_bytes": graph_bytes + opening.encode().len(),
		"verify_us": (us * 10.0).round() / 10.0,
	}));
	println!(
		"{}",
		serde_json::json!({
			"model": model.name, "positions": positions, "prompt_tokens": prompt.len(),
			"new_tokens": g.tokens.len(), "graph_bytes": graph_bytes, "disputes": rows,
		})
	);
}
