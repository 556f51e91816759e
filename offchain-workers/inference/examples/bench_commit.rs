//! What committing a MiniLM trace costs by itself, against the plain forward pass: the floor
//! under the traced mode's overhead that the trace commitment (docs/verification.md §2) sets,
//! whatever the engine does around it.
//!
//!   bench_commit --model DIR --sentences FILE [--batch N] [--repeat R]
//!
//! Runs the sentences once traced to have their node outputs in hand, then times, on the same
//! thread pool (`RAYON_NUM_THREADS`):
//! - `plain`: the plain forward pass (batches of N, as `bench_engine`);
//! - `commit`: the trace tree of every sentence from its outputs already in memory (every leaf and
//!   inner node hashed), the sentences in parallel;
//! - `hash`: the compressions alone: the same number of BLAKE2b blocks, eight messages at a time,
//!   over one buffer already laid out (no leaf headers, no tree).
//!
//! and prints the commitment's size (leaf bytes, compressions) and each cost per sentence.

use std::time::Instant;

#[global_allocator]
static GLOBAL: arbiter_inference::allocator::Allocator = arbiter_inference::allocator::Allocator;

use arbiter_inference::{commit, engine, model::Model, open_device, DeviceKind, Mode};
use rayon::prelude::*;

fn arg(name: &str) -> Option<String> {
	let args: Vec<String> = std::env::args().collect();
	args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

/// BLAKE2b compressions of a message of `len` bytes (128-byte blocks, at least one).
fn blocks(len: u64) -> u64 {
	len.div_ceil(128).max(1)
}

fn main() {
	arbiter_inference::process::configure();
	let model_dir = arg("--model").expect("--model DIR");
	let sentences = std::fs::read_to_string(arg("--sentences").expect("--sentences FILE"))
		.expect("sentences file");
	let batch: usize = arg("--batch").map(|b| b.parse().expect("--batch N")).unwrap_or(32);
	let repeat: usize = arg("--repeat").map(|r| r.parse().expect("--repeat R")).unwrap_or(3);
	let device = open_device(DeviceKind::Cpu).expect("device");
	let model = Model::load(std::path::Path::new(&model_dir), &device).expect("model");
	let mut inputs: Vec<_> = sentences
		.lines()
		.filter(|l| !l.trim().is_empty())
		.map(|t| model.encode_text(t).expect("text"))
		.collect();
	inputs.sort_by_key(|i| std::cmp::Reverse(i.seq_len));
	let n = inputs.len();

	let traces: Vec<_> = inputs
		.chunks(batch)
		.flat_map(|chunk| engine::run(&model, chunk, Mode::Traced).expect("traced run"))
		.map(|e| e.trace.expect("a traced run keeps the trace"))
		.collect();
	// Each trace's node outputs in vectors of its own, as `commit::trace_commitment` takes them.
	let outputs: Vec<Vec<Vec<f32>>> =
		traces.iter().map(|t| t.outputs().expect("outputs").into_owned()).collect();

	// The commitment's size: leaf messages (domain, tag, node, row, row bytes) and inner nodes.
	let (mut leaf_bytes, mut value_bytes, mut compressions, mut leaves) = (0u64, 0u64, 0u64, 0u64);
	for t in &traces {
		let graph = model.template.instantiate(t.seq_len);
		for node in &graph.nodes {
			let (rows, width) = (node.shape.rows(), node.shape.width() as u64);
			leaves += rows;
			value_bytes += rows * width * 4;
			leaf_bytes += rows * (10 + width * 4);
			compressions += rows * blocks(10 + width * 4);
		}
	}
	// A binary tree over L leaves has L - 1 inner nodes, each one 65-byte block.
	compressions += leaves - traces.len() as u64;

	let time = |f: &dyn Fn()| {
		f();
		let start = Instant::now();
		for _ in 0..repeat {
			f();
		}
		start.elapsed().as_secs_f64() / (repeat * n) as f64 * 1e3
	};
	let plain_ms = time(&|| {
		for chunk in inputs.chunks(batch) {
			engine::run(&model, chunk, Mode::Plain).expect("plain run");
		}
	});
	let commit_ms = time(&|| {
		let roots: Vec<_> = traces
			.par_iter()
			.zip(&outputs)
			.map(|(t, o)| {
				commit::trace_commitment(&model.template, t.seq_len, o).expect("commitment").1
			})
			.collect();
		assert!(
			roots.iter().zip(&traces).all(|(r, t)| *r == t.root),
			"same root as the traced run"
		);
	});
	// The same number of compressions over one laid-out buffer: eight one-block messages per
	// call, the sentences split over the pool.
	let per_sentence_blocks = compressions / n as u64;
	let buf: Vec<u8> = (0..8 * 128).map(|i| i as u8).collect();
	let hash_ms = time(&|| {
		(0..n).into_par_iter().for_each(|_| {
			for _ in 0..per_sentence_blocks / 8 {
				std::hint::black_box(arbiter_inference::blake2b_x8::hash8(
					std::hint::black_box(&buf),
					128,
					128,
				));
			}
		})
	});
	let mib = |b: u64| b as f64 / n as f64 / (1 << 20) as f64;
	println!(
		"{{\"sentences\":{n},\"batch\":{batch},\"threads\":\"{}\",\"value_mib_per_sentence\":{:.2},\"leaf_mib_per_sentence\":{:.2},\"compressions_per_sentence\":{},\"plain_ms\":{plain_ms:.3},\"commit_ms\":{commit_ms:.3},\"hash_only_ms\":{hash_ms:.3},\"commit_over_plain\":{:.3},\"hash_only_over_plain\":{:.3}}}",
		std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "all".into()),
		mib(value_bytes),
		mib(leaf_bytes),
		per_sentence_blocks,
		commit_ms / plain_ms,
		hash_ms / plain_ms,
	);
}
