//! Throughput of the engine on MiniLM: sentences per second for one batch size and mode, and
//! the process's peak memory. One configuration per process (so peak memory is its own);
//! `scripts/bench-inference.sh` runs every configuration and the PyTorch baseline side by side.
//!
//!   bench_engine --model DIR --sentences FILE --batch N --mode plain|committed|traced
//! [--repeat R] [--device cpu|cuda]
//!
//! Modes: `plain`, the forward pass alone; `committed`, what a provider's job service does for
//! each task it commits (docs/protocol.md, "The trace root is fixed when first needed"): the
//! plain pass, the output's bytes, and a replay record written to a trace store (in a temporary
//! folder holding up to its default 4,096 records, as a busy provider's does); `traced`, the pass
//! with every node output kept and committed (what a provider did before, and what a replay does
//! when challenged).
//!
//! Like sentence-transformers' `encode`, inputs are sorted by length before batching.

use std::time::Instant;

// The allocator inference wants (see `arbiter_inference::allocator`).
#[global_allocator]
static GLOBAL: arbiter_inference::allocator::Allocator = arbiter_inference::allocator::Allocator;

use arbiter_inference::{
	engine, model::Model, open_device, DeviceKind, Mode, StoreLimits, TraceStore,
};

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
	let mode_name = arg("--mode").unwrap_or_else(|| "plain".into());
	let (mode, committed) = match mode_name.as_str() {
		"traced" => (Mode::Traced, false),
		"committed" => (Mode::Plain, true),
		"plain" => (Mode::Plain, false),
		other => panic!("--mode plain|committed|traced, not {other}"),
	};
	let repeat: usize = arg("--repeat").map(|r| r.parse().expect("--repeat R")).unwrap_or(3);
	let device_kind: DeviceKind = arg("--device")
		.map(|d| d.parse().expect("--device cpu|cuda"))
		.unwrap_or(DeviceKind::Cpu);
	let device = open_device(device_kind).expect("device");
	let model = Model::load(std::path::Path::new(&model_dir), &device).expect("model");
	let mut ids: Vec<Vec<u32>> = sentences
		.lines()
		.filter(|l| !l.trim().is_empty())
		.map(|t| model.tokenize(t).expect("text"))
		.collect();
	ids.sort_by_key(|i| std::cmp::Reverse(i.len()));
	let inputs: Vec<_> = ids.iter().map(|i| model.input_of_ids(i).expect("ids")).collect();
	let tokens: u64 = inputs.iter().map(|i| i.seq_len as u64).sum();
	let store_dir =
		std::env::temp_dir().join(format!("arbiter-bench-store-{}", std::process::id()));
	let store = committed
		.then(|| TraceStore::open(&store_dir, StoreLimits::default()).expect("a trace store"));
	let mut task = 0u64;
	// Time spent recording (the committed mode's work beyond the plain pass).
	let mut recording = std::time::Duration::ZERO;
	let mut pass = |checksum: &mut f64, recording: &mut std::time::Duration| {
		for (chunk, chunk_ids) in inputs.chunks(batch).zip(ids.chunks(batch)) {
			let batch_ids: Vec<&[u32]> = chunk_ids.iter().map(|i| i.as_slice()).collect();
			for (k, e) in engine::run(&model, chunk, mode).expect("run").into_iter().enumerate() {
				*checksum += e.output.first().copied().unwrap_or(0.0) as f64;
				if let Some(t) = &e.trace {
					*checksum += t.root[0] as f64;
				}
				if let Some(store) = &store {
					// What the job service does before reporting a task done.
					let at = Instant::now();
					store.put_output(task, &model, &e.output, &batch_ids, k).expect("a record");
					let bytes: Vec<u8> = e.output.iter().flat_map(|v| v.to_le_bytes()).collect();
					*recording += at.elapsed();
					*checksum += bytes.len() as f64;
					task += 1;
				}
			}
		}
	};
	let mut checksum = 0.0f64;
	// Warm-up pass.
	pass(&mut checksum, &mut std::time::Duration::default());
	let start = Instant::now();
	for _ in 0..repeat {
		pass(&mut checksum, &mut recording);
	}
	let secs = start.elapsed().as_secs_f64();
	let _ = std::fs::remove_dir_all(&store_dir);
	let n = (inputs.len() * repeat) as f64;
	println!(
		"{{\"engine\":\"arbiter (candle{}, {} path)\",\"mode\":\"{}\",\"batch\":{batch},\"sentences\":{},\"mean_tokens\":{:.1},\"sentences_per_s\":{:.2},\"record_us_per_sentence\":{:.1},\"peak_rss_mib\":{:.0},\"threads\":\"{}\",\"checksum\":{checksum:.3}}}",
		if device_kind == DeviceKind::Cuda { ", cuda" } else { "" },
		arbiter_inference::cpu::path(),
		mode_name,
		inputs.len(),
		tokens as f64 / inputs.len() as f64,
		n / secs,
		recording.as_secs_f64() * 1e6 / n,
		peak_rss_mib(),
		std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "all".into()),
	);
}
