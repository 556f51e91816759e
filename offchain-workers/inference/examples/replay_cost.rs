//! What answering a challenge from a replay record costs (docs/protocol.md, "Replay"): the
//! replay of one MiniLM task (a traced run of it alone and its trace root, its output checked
//! against the recorded one: `trace_store::replay`) at a 21-token sentence and at the 256-token
//! limit, next to the plain run that committed it, and the record's size against the trace it
//! replaces.
//!
//!   cargo run --release -p arbiter-inference --example replay_cost -- --model DIR [--repeat R]

use std::time::Instant;

#[global_allocator]
static GLOBAL: arbiter_inference::allocator::Allocator = arbiter_inference::allocator::Allocator;

use arbiter_inference::{
	engine,
	model::Model,
	trace_store::{output_hash, replay, Fingerprint, ReplayRecord},
	Mode,
};
use candle_core::Device;

fn arg(name: &str) -> Option<String> {
	let args: Vec<String> = std::env::args().collect();
	args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

/// The median of `repeat` timings of `f`, in milliseconds.
fn median_ms(repeat: usize, mut f: impl FnMut()) -> f64 {
	let mut times: Vec<f64> = (0..repeat)
		.map(|_| {
			let start = Instant::now();
			f();
			start.elapsed().as_secs_f64() * 1e3
		})
		.collect();
	times.sort_by(|a, b| a.total_cmp(b));
	times[times.len() / 2]
}

fn main() {
	arbiter_inference::process::configure();
	let model =
		Model::load(std::path::Path::new(&arg("--model").expect("--model DIR")), &Device::Cpu)
			.expect("model loads");
	let repeat: usize = arg("--repeat").map(|r| r.parse().expect("--repeat R")).unwrap_or(11);
	println!(
		"CPU kernels: {} path, {} threads; median of {repeat}\n",
		arbiter_inference::cpu::path(),
		engine::threads()
	);
	println!(
		"| tokens | plain run ms | replay + root ms | replay / plain | record bytes | trace MiB |"
	);
	println!("|---|---|---|---|---|---|");
	for text in [
		"My neighbour's cat secretly recorded an unusual pattern in the data while everyone else was asleep."
			.to_string(),
		"verifiable inference ".repeat(150),
	] {
		let ids = model.tokenize(&text).expect("tokenizes");
		let input = model.input_of_ids(&ids).expect("ids run");
		let trace = engine::run(&model, std::slice::from_ref(&input), Mode::Traced)
			.expect("runs")
			.pop()
			.and_then(|e| e.trace)
			.expect("traced");
		let record = ReplayRecord {
			model_root: model.commitment.model_root,
			fingerprint: Fingerprint::current("cpu"),
			output_hash: output_hash(&trace.output().expect("an output")),
			seq_len: trace.seq_len,
			batch_len: 1,
			ids: ids.clone(),
			batch: None,
			generation: None,
		};
		let plain = median_ms(repeat, || {
			engine::run(&model, std::slice::from_ref(&input), Mode::Plain).expect("runs");
		});
		let replayed = median_ms(repeat, || {
			replay(&model, &record).expect("replays bit for bit");
		});
		println!(
			"| {} | {plain:.1} | {replayed:.1} | {:.2}x | {} | {:.1} |",
			ids.len(),
			replayed / plain,
			116 + 3 * ids.len(),
			trace.size_bytes() as f64 / (1 << 20) as f64
		);
	}
}
