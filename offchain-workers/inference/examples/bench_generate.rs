//! Text generation speed on a LLaMA GGUF (SmolLM2-135M-Instruct), one JSON line per run:
//! prompt processing and generation in tokens per second, separately, and for the engine the
//! cost of answering a challenge (replaying the generation step by step, traced, and its root).
//!
//!   bench_generate --model FILE.gguf [--engine arbiter|candle-quantized] [--prompt-tokens 128]
//!                  [--new-tokens 128] [--repeat 3] [--batch 1]
//!
//! `--batch B` (arbiter): B sequences generated together (`decode::step_batch`: each weight read
//! once per step for all of them); tokens per second count all B.
//!
//! `arbiter`: the verified engine (`decode::generate`; weights dequantized to f32, f32
//! activations). `candle-quantized`: candle-transformers' `quantized_llama` on the same file (its
//! CPU matmul quantizes activations to 8 bits: not verifiable, docs/inference.md), for comparison.
//! The prompt is the benchmark sentences' text tokenized and cut to `--prompt-tokens`; generation
//! is greedy for exactly `--new-tokens` (no stop token). Medians of `--repeat` runs.

use std::{path::PathBuf, time::Instant};

use arbiter_inference::{
	decode::{choose, generate, logits, logits_batch, step_batch, traced_ids, Decoder, Sampling},
	engine::Mode,
	llama,
};
use candle_core::{quantized::gguf_file, Device, Tensor};

#[global_allocator]
static GLOBAL: arbiter_inference::allocator::Allocator = arbiter_inference::allocator::Allocator;

fn arg(name: &str) -> Option<String> {
	let args: Vec<String> = std::env::args().collect();
	args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

fn median(mut v: Vec<f64>) -> f64 {
	v.sort_by(f64::total_cmp);
	v[v.len() / 2]
}

fn peak_rss_mib() -> u64 {
	status_mib("VmHWM:")
}

/// Resident memory now.
fn rss_mib() -> u64 {
	status_mib("VmRSS:")
}

fn status_mib(field: &str) -> u64 {
	std::fs::read_to_string("/proc/self/status")
		.ok()
		.and_then(|s| {
			s.lines()
				.find(|l| l.starts_with(field))
				.and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()))
		})
		.map(|kb| kb / 1024)
		.unwrap_or(0)
}

/// `batch` copies of `prompt` generated together, greedy: prompt and generation tokens per second
/// over all of them.
fn run_batch(
	model: &arbiter_inference::Model,
	prompt: &[u32],
	new_tokens: u32,
	batch: usize,
) -> (f64, f64) {
	let capacity = (prompt.len() + new_tokens as usize - 1) as u32;
	let mut decoders: Vec<Decoder> = (0..batch)
		.map(|_| Decoder::new(model, capacity, Mode::Plain).unwrap())
		.collect();
	let t = Instant::now();
	let mut hidden: Vec<Vec<f32>> = decoders
		.iter_mut()
		.map(|d| {
			let rows = d.step_block(prompt).unwrap();
			rows[rows.len() - rows.len() / prompt.len()..].to_vec()
		})
		.collect();
	let prompt_rate = (batch * prompt.len()) as f64 / t.elapsed().as_secs_f64();
	let t = Instant::now();
	for step in 0..new_tokens {
		let next: Vec<u32> = logits_batch(model, &hidden)
			.unwrap()
			.iter()
			.map(|l| choose(l, Sampling::Greedy, step))
			.collect();
		if step + 1 < new_tokens {
			hidden = step_batch(&mut decoders, &next).unwrap();
		}
	}
	(prompt_rate, (batch * new_tokens as usize) as f64 / t.elapsed().as_secs_f64())
}

fn main() {
	arbiter_inference::process::configure();
	let model_path = PathBuf::from(arg("--model").expect("--model FILE.gguf"));
	let engine = arg("--engine").unwrap_or_else(|| "arbiter".into());
	let prompt_tokens: usize = arg("--prompt-tokens").map(|v| v.parse().unwrap()).unwrap_or(128);
	let new_tokens: u32 = arg("--new-tokens").map(|v| v.parse().unwrap()).unwrap_or(128);
	let repeat: usize = arg("--repeat").map(|v| v.parse().unwrap()).unwrap_or(3);
	let batch: usize = arg("--batch").map(|v| v.parse().unwrap()).unwrap_or(1);
	let sentences = std::fs::read_to_string(
		PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/bench/sentences.txt"),
	)
	.unwrap();
	// Enough sentences for the prompt (the tokenizer takes at most 4,096 bytes of text).
	let text: String = sentences.lines().collect::<Vec<_>>().join(" ").chars().take(4000).collect();
	let positions = (prompt_tokens + new_tokens as usize).next_power_of_two().max(256) as u32;
	let threads = rayon::current_num_threads();
	let path = arbiter_inference::cpu::path();

	match engine.as_str() {
		"arbiter" => {
			let started = Instant::now();
			let model = llama::load_gguf(&model_path, positions, &Device::Cpu).unwrap();
			let load_s = started.elapsed().as_secs_f64();
			let (loaded_rss, load_peak) = (rss_mib(), peak_rss_mib());
			let mut prompt = model.tokenize(&text).unwrap();
			prompt.truncate(prompt_tokens);
			let (mut prefill, mut decode, mut replay) = (Vec::new(), Vec::new(), Vec::new());
			let mut tokens = Vec::new();
			let mut plain_peak = None;
			if batch > 1 {
				for _ in 0..repeat {
					let (p, g) = rayon::scope(|_| run_batch(&model, &prompt, new_tokens, batch));
					prefill.push(p);
					decode.push(g);
				}
				println!(
					"{}",
					serde_json::json!({
						"engine": format!("arbiter (f32 activations, {} path)", path.name()),
						"threads": threads,
						"batch": batch,
						"prompt_tokens": prompt.len(),
						"new_tokens": new_tokens,
						"prompt_tokens_per_s": (median(prefill) * 10.0).round() / 10.0,
						"generation_tokens_per_s": (median(decode) * 10.0).round() / 10.0,
						"rss_after_load_mib": loaded_rss,
						"load_peak_rss_mib": load_peak,
						"peak_rss_mib": peak_rss_mib(),
					})
				);
				return;
			}
			for _ in 0..repeat {
				// What `decode::generate` does, timed in its two phases: the prompt in one block,
				// then one position per new token (logits and choice included).
				let run = || -> (f64, f64, Vec<u32>) {
					let capacity = (prompt.len() + new_tokens as usize - 1) as u32;
					let mut decoder = Decoder::new(&model, capacity, Mode::Plain).unwrap();
					let t = Instant::now();
					let rows = decoder.step_block(&prompt).unwrap();
					let width = rows.len() / prompt.len();
					let mut hidden = rows[rows.len() - width..].to_vec();
					let prompt_s = t.elapsed().as_secs_f64();
					let t = Instant::now();
					let mut tokens = Vec::new();
					for step in 0..new_tokens {
						let next =
							choose(&logits(&model, &hidden).unwrap(), Sampling::Greedy, step);
						tokens.push(next);
						if step + 1 < new_tokens {
							hidden = decoder.step(next).unwrap();
						}
					}
					(prompt_s, t.elapsed().as_secs_f64(), tokens)
				};
				let (prompt_s, gen_s, generated) = rayon::scope(|_| run());
				prefill.push(prompt.len() as f64 / prompt_s);
				decode.push(generated.len() as f64 / gen_s);
				// The same tokens as `generate` chooses.
				let g = generate(&model, &prompt, new_tokens, Sampling::Greedy, &[], Mode::Plain)
					.unwrap();
				assert_eq!(g.tokens, generated);
				tokens = generated;
				// Peak memory of generating (before any replay has run).
				plain_peak.get_or_insert_with(peak_rss_mib);
				// A challenge's cost: replay every position traced (the prompt as one block, as
				// generated), and commit the trace.
				let ids = traced_ids(&prompt, &tokens);
				let t = Instant::now();
				let mut decoder = Decoder::new(&model, ids.len() as u32, Mode::Traced).unwrap();
				decoder.step_block(&ids[..prompt.len()]).unwrap();
				for id in &ids[prompt.len()..] {
					decoder.step(*id).unwrap();
				}
				let _root = decoder.trace().unwrap().root;
				replay.push(t.elapsed().as_secs_f64());
			}
			// What committing adds to a generation: the replay record of its prompt, tokens and
			// sampling, appended to the trace store (the provider's job service does this per
			// task).
			let dir = tempfile::tempdir().unwrap();
			let store = arbiter_inference::TraceStore::open(
				dir.path(),
				arbiter_inference::StoreLimits::default(),
			)
			.unwrap();
			let records = 1000u64;
			let t = Instant::now();
			for task in 0..records {
				store
					.put_generation(
						task,
						&model,
						&prompt,
						&tokens,
						arbiter_primitives::token_choice::TokenSampling::Greedy,
					)
					.unwrap();
			}
			let record_us = t.elapsed().as_secs_f64() * 1e6 / records as f64;
			let generation_s = prompt.len() as f64 / median(prefill.clone()) +
				tokens.len() as f64 / median(decode.clone());
			println!(
				"{}",
				serde_json::json!({
					"engine": format!("arbiter (f32 activations, {} path)", path.name()),
					"threads": threads,
					"record_us": (record_us * 10.0).round() / 10.0,
					"record_share_of_generation": format!("{:.5}%", record_us / 1e4 / generation_s),
					"prompt_tokens": prompt.len(),
					"new_tokens": tokens.len(),
					"prompt_tokens_per_s": (median(prefill) * 10.0).round() / 10.0,
					"generation_tokens_per_s": (median(decode) * 10.0).round() / 10.0,
					"replay_and_root_s": (median(replay) * 100.0).round() / 100.0,
					"load_s": (load_s * 10.0).round() / 10.0,
					"rss_after_load_mib": loaded_rss,
					"load_peak_rss_mib": load_peak,
					"generation_peak_rss_mib": plain_peak,
					"peak_rss_mib": peak_rss_mib(),
				})
			);
		},
		"candle-quantized" => {
			use candle_transformers::models::quantized_llama::ModelWeights;
			let mut file = std::fs::File::open(&model_path).unwrap();
			let content = gguf_file::Content::read(&mut file).unwrap();
			let started = Instant::now();
			let mut weights = ModelWeights::from_gguf(content, &mut file, &Device::Cpu).unwrap();
			let load_s = started.elapsed().as_secs_f64();
			let engine_model = llama::load_gguf(&model_path, 256, &Device::Cpu).unwrap();
			let mut prompt = engine_model.tokenize(&text).unwrap();
			drop(engine_model);
			prompt.truncate(prompt_tokens);
			let (mut prefill, mut decode) = (Vec::new(), Vec::new());
			for _ in 0..repeat {
				let t = Instant::now();
				let input =
					Tensor::new(prompt.as_slice(), &Device::Cpu).unwrap().unsqueeze(0).unwrap();
				let logits = weights.forward(&input, 0).unwrap();
				let mut next =
					logits.squeeze(0).unwrap().argmax(0).unwrap().to_scalar::<u32>().unwrap();
				prefill.push(prompt.len() as f64 / t.elapsed().as_secs_f64());
				let t = Instant::now();
				for step in 1..new_tokens as usize {
					let input = Tensor::new(&[next], &Device::Cpu).unwrap().unsqueeze(0).unwrap();
					let logits = weights.forward(&input, prompt.len() + step - 1).unwrap();
					next =
						logits.squeeze(0).unwrap().argmax(0).unwrap().to_scalar::<u32>().unwrap();
				}
				decode.push((new_tokens as f64 - 1.0) / t.elapsed().as_secs_f64());
			}
			println!(
				"{}",
				serde_json::json!({
					"engine": "candle-transformers 0.11 quantized_llama (8-bit activations)",
					"threads": threads,
					"prompt_tokens": prompt.len(),
					"new_tokens": new_tokens,
					"prompt_tokens_per_s": (median(prefill) * 10.0).round() / 10.0,
					"generation_tokens_per_s": (median(decode) * 10.0).round() / 10.0,
					"load_s": (load_s * 10.0).round() / 10.0,
					"peak_rss_mib": peak_rss_mib(),
				})
			);
		},
		other => panic!("--engine {other}: arbiter or candle-quantized"),
	}
}
