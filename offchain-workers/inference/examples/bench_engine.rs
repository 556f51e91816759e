//! Throughput of the engine on MiniLM: sentences per second for one batch size and mode, and
//! the process's peak memory. One configuration per process (so peak memory is its own);
//! `scripts/bench-inference.sh` runs every configuration and the PyTorch baseline side by side.
//!
//!   bench_engine --model DIR --sentences FILE --batch N --mode plain|traced [--repeat R] [--device
//! cpu|cuda]
//!
//! Like sentence-transformers' `encode`, inputs are sorted by length before batching.

use std::time::Instant;

// The allocator inference wants (see `arbiter_inference::allocator`).
#[global_allocator]
static GLOBAL: arbiter_inference::allocator::Allocator = arbiter_inference::allocator::Allocator;

use arbiter_inference::{engine, model::Model, open_device, DeviceKind, Mode};

fn arg(name: &str) -> Option<String> {
	let args: Vec<String> = std::env::args().collect();
	args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

fn peak_rss_mib() -> f64 {
	std::fs::read_to_string("/proc/self/status")
		.ok()
		.and_then(|s| {
			s.lines()
				.find(|l| l.starts_with("VmHWM:"))
				.and_then(|l| l.split_whitespace().nth(1))
				.and_then(|v| v.parse::<f64>().ok())
		})
		.map(|kib| kib / 1024.0)
		.unwrap_or(0.0)
}

fn main() {
	arbiter_inference::process::configure();
	if let Some(e) = arbiter_inference::cpu::path_request_error() {
		eprintln!("error: {e}");
		std::process::exit(2);
	}
	let model_dir = arg("--model").expect("--model DIR");
	let sentences = std::fs::read_to_string(arg("--sentences").expect("--sentences FILE"))
		.expect("sentences file");
	let batch: usize = arg("--batch").map(|b| b.parse().expect("--batch N")).unwrap_or(1);
	let mode = match arg("--mode").as_deref() {
		Some("traced") => Mode::Traced,
		_ => Mode::Plain,
	};
	let repeat: usize = arg("--repeat").map(|r| r.parse().expect("--repeat R")).unwrap_or(3);
	let device_kind: DeviceKind = arg("--device")
		.map(|d| d.parse().expect("--device cpu|cuda"))
		.unwrap_or(DeviceKind::Cpu);
	let device = open_device(device_kind).expect("device");
	let model = Model::load(std::path::Path::new(&model_dir), &device).expect("model");
	let mut inputs: Vec<_> = sentences
		.lines()
		.filter(|l| !l.trim().is_empty())
		.map(|t| model.encode_text(t).expect("text"))
		.collect();
	inputs.sort_by_key(|i| std::cmp::Reverse(i.seq_len));
	let tokens: u64 = inputs.iter().map(|i| i.seq_len as u64).sum();
	// Warm-up pass.
	for chunk in inputs.chunks(batch) {
		engine::run(&model, chunk, mode).expect("run");
	}
	let start = Instant::now();
	let mut checksum = 0.0f64;
	for _ in 0..repeat {
		for chunk in inputs.chunks(batch) {
			for e in engine::run(&model, chunk, mode).expect("run") {
				checksum += e.output.first().copied().unwrap_or(0.0) as f64;
				if let Some(t) = &e.trace {
					checksum += t.root[0] as f64;
				}
			}
		}
	}
	let secs = start.elapsed().as_secs_f64();
	let n = (inputs.len() * repeat) as f64;
	println!(
		"{{\"engine\":\"arbiter (candle{}, {} path)\",\"mode\":\"{}\",\"batch\":{batch},\"sentences\":{},\"mean_tokens\":{:.1},\"sentences_per_s\":{:.2},\"peak_rss_mib\":{:.0},\"threads\":\"{}\",\"checksum\":{checksum:.3}}}",
		if device_kind == DeviceKind::Cuda { ", cuda" } else { "" },
		arbiter_inference::cpu::path(),
		if mode == Mode::Traced { "traced" } else { "plain" },
		inputs.len(),
		tokens as f64 / inputs.len() as f64,
		n / secs,
		peak_rss_mib(),
		std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "all".into()),
	);
}
