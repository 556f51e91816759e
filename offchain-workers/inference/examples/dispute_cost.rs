//! What one dispute costs for each kind of MiniLM op: the size of the `respond` call's payload
//! (the SCALE-encoded graph and the opening of one element) and the native time of the runtime's
//! check (`verify_element`: graph validation, descriptor hash, every Merkle proof, the element's
//! recomputation and bound). For each op kind the element is taken from its widest node in a
//! real traced run of one sentence, at the model's longest input (256 tokens) so attention rows
//! are as wide as they get.
//!
//!   cargo run --release -p arbiter-inference --example dispute_cost -- --model DIR [--repeat R]

use std::{collections::BTreeMap, time::Instant};

use arbiter_inference::{engine, model::Model, Mode};
use arbiter_primitives::{verify_element, Op, RegisteredModel, TaskCommitments, Verdict};
use candle_core::Device;
use codec::Encode;

fn arg(name: &str) -> Option<String> {
	let args: Vec<String> = std::env::args().collect();
	args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

fn op_kind(op: &Op) -> &'static str {
	match op {
		Op::Input { .. } => "Input",
		Op::Embedding { .. } => "Embedding",
		Op::Linear { .. } => "Linear",
		Op::MatMul => "MatMul",
		Op::Add => "Add",
		Op::Mul => "Mul",
		Op::Scale { .. } => "Scale",
		Op::LayerNorm { .. } => "LayerNorm",
		Op::RmsNorm { .. } => "RmsNorm",
		Op::Softmax => "Softmax",
		Op::Gelu => "Gelu",
		Op::Silu => "Silu",
		Op::Relu => "Relu",
		Op::Transpose { .. } => "Transpose",
		Op::Reshape => "Reshape",
		Op::MeanPool => "MeanPool",
		Op::L2Normalize { .. } => "L2Normalize",
		Op::Rope { .. } => "Rope",
		Op::CausalScores { .. } => "CausalScores",
		Op::CausalSoftmax => "CausalSoftmax",
		Op::GroupedMatMul { .. } => "GroupedMatMul",
	}
}

fn main() {
	let model =
		Model::load(std::path::Path::new(&arg("--model").expect("--model DIR")), &Device::Cpu)
			.expect("model loads");
	let repeat: u32 = arg("--repeat").map(|r| r.parse().expect("--repeat R")).unwrap_or(200);
	let text = "verifiable inference ".repeat(150);
	let ids = model.tokenize(&text).expect("text tokenizes");
	let input = model.input_of_ids(&ids).expect("ids run");
	let seq = input.seq_len;
	let trace = engine::run(&model, &[input], Mode::Traced)
		.expect("runs")
		.pop()
		.and_then(|e| e.trace)
		.expect("traced");
	let graph = model.template.instantiate(seq);
	let graph_bytes = model.template.encoded_size();
	// The widest node of each op kind (the first one when several are as wide).
	let mut widest: BTreeMap<&str, (u32, u32, u32)> = BTreeMap::new();
	for (id, node) in graph.nodes.iter().enumerate() {
		if node.op.is_input() {
			continue;
		}
		let (width, rows) = (node.shape.width(), node.shape.rows() as u32);
		let entry = widest.entry(op_kind(&node.op)).or_insert((id as u32, width, rows));
		if width > entry.1 {
			*entry = (id as u32, width, rows);
		}
	}
	println!(
		"MiniLM, {seq} tokens; graph {graph_bytes} bytes SCALE; {repeat} verifications each\n"
	);
	println!(
		"| op | node | row width | opening bytes | respond payload bytes | native µs/verify |"
	);
	println!("|---|---|---|---|---|---|");
	for (kind, (node, width, rows)) in widest {
		let (row, col) = (rows / 2, width / 2);
		let opening = trace.opening(&model, node, row, col).expect("opening");
		let check = || {
			verify_element(
				&RegisteredModel {
					graph: &model.template,
					model_root: &model.commitment.model_root,
					slack: 0.0,
					max_row_width: model.max_row_width(),
				},
				&TaskCommitments {
					trace_root: &trace.root,
					output: &arbiter_primitives::encoding::row_bytes(
						&trace.output().expect("output"),
					),
					input: &ids,
				},
				(node, row, col),
				&opening,
			)
		};
		assert_eq!(check(), Verdict::WithinBound, "{kind} node {node}");
		let start = Instant::now();
		for _ in 0..repeat {
			std::hint::black_box(check());
		}
		let us = start.elapsed().as_secs_f64() * 1e6 / repeat as f64;
		let size = opening.encoded_size();
		println!("| {kind} | {node} | {width} | {size} | {} | {us:.1} |", size + graph_bytes + 8);
	}
}
