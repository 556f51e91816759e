//! A stable-Rust fuzz harness (no nightly `cargo fuzz` needed) for graph decoding/validation and
//! `verify_element`: mutates valid encodings (bit flips, byte overwrites, truncation, splices,
//! inserted bytes) and random bytes, and fails on the first panic.
//!
//! `cargo run --release -p arbiter-primitives --example fuzz -- [SECONDS] [SEED]`
//! prints executions per target; `scripts/bench.sh` runs it and docs/benchmarks.md records it.

#[path = "../tests/common/mod.rs"]
mod common;

use arbiter_primitives::{
	commitment::{model_commitment, trace_tree, weights_tree},
	ir::Graph,
	opening::{verify_element, Opening, RegisteredModel, TaskCommitments},
	prover::ProverData,
};
use codec::{Decode, Encode};
use std::time::{Duration, Instant};

fn mutate(rng: &mut common::Rng, data: &[u8], pool: &[u8]) -> Vec<u8> {
	let mut out = data.to_vec();
	for _ in 0..1 + rng.below(4) {
		match rng.below(6) {
			0 if !out.is_empty() => {
				let i = rng.below(out.len() as u64) as usize;
				out[i] ^= 1 << rng.below(8);
			},
			1 if !out.is_empty() => {
				let i = rng.below(out.len() as u64) as usize;
				out[i] = [0u8, 0xff, 0x7f, 0x80, 1][rng.below(5) as usize];
			},
			2 => out.truncate(rng.below(out.len() as u64 + 1) as usize),
			3 if !pool.is_empty() => {
				let start = rng.below(pool.len() as u64) as usize;
				let len = rng.below(64).min((pool.len() - start) as u64) as usize;
				let at = rng.below(out.len() as u64 + 1) as usize;
				out.splice(at..at, pool[start..start + len].iter().copied());
			},
			4 => {
				let at = rng.below(out.len() as u64 + 1) as usize;
				out.insert(at, rng.next_u64() as u8);
			},
			_ => out = (0..rng.below(256)).map(|_| rng.next_u64() as u8).collect(),
		}
	}
	out
}

fn main() {
	let args: Vec<String> = std::env::args().collect();
	let seconds: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10);
	let seed: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(0x5eed);
	let mut rng = common::Rng(seed | 1);

	let (graph, weights, inputs) = common::tiny_encoder(seed, 5, 8, 2, 11);
	let outputs = common::run(&graph, &weights, &inputs);
	let ids = common::task_ids(&inputs);
	let tokenizer = [3u8; 32];
	let model_root = model_commitment(&graph, &weights, tokenizer).unwrap().model_root;
	let tt = trace_tree(&graph, &outputs).unwrap();
	let output: Vec<u8> = outputs
		.last()
		.map(|o| o.iter().flat_map(|v| v.to_le_bytes()).collect())
		.unwrap_or_default();
	let wt = weights_tree(&graph, &weights).unwrap();
	let prover = ProverData {
		graph: &graph,
		outputs: &outputs,
		trace_tree: &tt,
		weights: &weights,
		weights_tree: &wt,
		tokenizer_hash: tokenizer,
		seq_len: 5,
	};
	let graph_bytes = graph.encode();
	let openings: Vec<Vec<u8>> = (3..graph.nodes.len() as u32)
		.filter_map(|n| prover.opening(n, 0, 0).ok())
		.map(|o| o.encode())
		.collect();
	let budget = Duration::from_secs(seconds) / 2;

	// Target 1: decode + validate graphs.
	let start = Instant::now();
	let mut graph_execs = 0u64;
	let mut valid = 0u64;
	while start.elapsed() < budget {
		let input = mutate(&mut rng, &graph_bytes, &graph_bytes);
		if let Ok(g) = Graph::decode(&mut &input[..]) {
			if g.validate(4096).is_ok() {
				valid += 1;
			}
			let _ = g.max_row_width();
		}
		graph_execs += 1;
	}
	println!("graph_decode_validate: {graph_execs} executions in {seconds_half:.1} s ({valid} still valid)", seconds_half = budget.as_secs_f64());

	// Target 2: decode + verify openings.
	let start = Instant::now();
	let mut verify_execs = 0u64;
	let mut decoded = 0u64;
	while start.elapsed() < budget {
		let base = &openings[rng.below(openings.len() as u64) as usize];
		let input = mutate(&mut rng, base, base);
		if let Ok(o) = Opening::decode(&mut &input[..]) {
			decoded += 1;
			let _ = verify_element(
				&RegisteredModel {
					graph: &graph,
					model_root: &model_root,
					slack: 0.0,
					max_row_width: 4096,
				},
				&TaskCommitments {
					trace_root: &arbiter_primitives::encoding::trace_root_of(5, &tt.root()),
					output: &output,
					input: &ids,
				},
				(o.node, o.row, o.col),
				&o,
			);
		}
		verify_execs += 1;
	}
	println!(
		"verify_element: {verify_execs} executions in {:.1} s ({decoded} decoded)",
		budget.as_secs_f64()
	);
}
