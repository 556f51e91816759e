//! `arbiter-infer`: run a model from the command line the way a provider node does.
//!
//! - `tokenize --model DIR --text T [--text T ...] [--json]`: the token ids a client submits
//!   (`taskRegistry.submitTask` takes ids, not text);
//! - `embed --model DIR (--text T | --ids 101,7592,102) ... [--json]`: embeddings, trace roots,
//!   model root;
//! - `model-info --model DIR [--json]`: what `taskRegistry.registerModel` needs;
//! - `tokenizer --model FILE.gguf --out tokenizer.json`: a GGUF model's committed tokenizer, the
//!   file clients tokenize with (its blake2-256 is the model's `tokenizer_hash`);
//! - `check --model DIR --text T --samples N`: re-verifies sampled elements of every node of the
//!   trace with the on-chain check (`verify_element`) and reports how many passed;
//! - `generate --model FILE.gguf --prompt T [--chat] --max-new-tokens N [--temperature T --seed S]
//!   [--check N] [--json]`: text generation with a LLaMA-style GGUF (SmolLM2), step by step with
//!   its KV cache; prints the token ids, the text, the trace root and the model root, and with
//!   `--check` verifies sampled elements of the generation's trace.
//!
//! `ARBITER_CPU_PATH=portable|avx2|avx512` runs a slower CPU path than the CPU allows (tests run
//! every path on one machine); `model-info` prints the path that runs.

use std::{path::PathBuf, process::ExitCode};

use arbiter_inference::{
	decode::{generate, traced_ids, Sampling},
	engine,
	generated::Rng,
	llama::{self, LlamaConfig},
	model::Model,
	open_device,
	trace_store::Fingerprint,
	DeviceKind, EngineError, Mode, StoreLimits, Trace, TraceStore,
};
use arbiter_primitives::{
	encoding::descriptor_bytes, verify_element, RegisteredModel, TaskCommitments, Verdict,
};
use clap::{Parser, Subcommand};
use serde_json::json;

// The allocator inference wants (see `arbiter_inference::allocator`).
#[global_allocator]
static GLOBAL: arbiter_inference::allocator::Allocator = arbiter_inference::allocator::Allocator;

#[derive(Parser)]
#[command(
	name = "arbiter-infer",
	version,
	about = "Arbiter's inference engine on the command line"
)]
struct Cli {
	/// Where inference runs.
	#[arg(long, global = true, default_value = "cpu")]
	device: DeviceKind,
	/// CPU threads (sets RAYON_NUM_THREADS); default: all cores.
	#[arg(long, global = true)]
	threads: Option<usize>,
	#[command(subcommand)]
	command: Command,
}

#[derive(Subcommand)]
enum Command {
	/// Token ids of texts, as a client submits them (special tokens added, truncated to the
	/// model's limit).
	Tokenize {
		#[arg(long)]
		model: PathBuf,
		#[arg(long = "text", required = true)]
		texts: Vec<String>,
		/// Print JSON: {"ids": [[..]], "tokenizer_hash": "0x.."}.
		#[arg(long)]
		json: bool,
	},
	/// Embeds texts or token-id lists; prints embeddings, trace roots and the model root.
	Embed {
		#[arg(long)]
		model: PathBuf,
		#[arg(long = "text", required_unless_present = "ids")]
		texts: Vec<String>,
		/// Token ids, comma-separated (repeat for a batch), instead of text.
		#[arg(long = "ids", conflicts_with = "texts")]
		ids: Vec<String>,
		/// Print JSON: {"embeddings": [[..]], "trace_roots": ["0x.."], "model_root": "0x..",
		/// "ids": [[..]]}.
		#[arg(long)]
		json: bool,
		/// Also store the traces (task ids 0, 1, ... or from --first-task) in this trace store.
		#[arg(long)]
		trace_store: Option<PathBuf>,
		#[arg(long, default_value_t = 0)]
		first_task: u64,
	},
	/// Writes a GGUF model's tokenizer (built from the file: the bytes its `tokenizer_hash`
	/// commits) for clients, and prints its hash.
	Tokenizer {
		/// The GGUF file.
		#[arg(long)]
		model: PathBuf,
		#[arg(long)]
		out: PathBuf,
	},
	/// Prints the model's commitments and sizes (the arguments of `registerModel`).
	ModelInfo {
		#[arg(long)]
		model: PathBuf,
		#[arg(long)]
		json: bool,
	},
	/// Verifies sampled elements of every node of the text's trace with `verify_element`.
	Check {
		#[arg(long)]
		model: PathBuf,
		#[arg(long)]
		text: String,
		/// Elements per node (every element when the node has fewer).
		#[arg(long, default_value_t = 8)]
		samples: u64,
		#[arg(long, default_value_t = 1)]
		seed: u64,
	},
	/// Generates text with a LLaMA-style GGUF (SmolLM2-135M-Instruct), greedy or seeded
	/// (Gumbel-max), and prints the tokens, the text and the generation's trace root.
	Generate {
		/// The GGUF file.
		#[arg(long)]
		model: PathBuf,
		#[arg(long, required_unless_present = "ids")]
		prompt: Option<String>,
		/// Prompt token ids, comma-separated, instead of text.
		#[arg(long, conflicts_with = "prompt")]
		ids: Option<String>,
		/// Render the prompt as one user message in the model's chat template.
		#[arg(long)]
		chat: bool,
		#[arg(long, default_value_t = 32)]
		max_new_tokens: u32,
		/// Sample with this temperature (Gumbel-max, seeded by --seed); greedy without it.
		#[arg(long)]
		temperature: Option<f32>,
		#[arg(long, default_value_t = 0)]
		seed: u64,
		/// Positions the model's rotary tables cover (its longest prompt + generation).
		#[arg(long, default_value_t = llama::DEFAULT_POSITIONS)]
		positions: u32,
		/// Also verify this many sampled elements of every node of the generation's trace.
		#[arg(long)]
		check: Option<u64>,
		/// Print JSON: {"prompt_ids", "tokens", "text", "stopped", "trace_root", "model_root",
		/// "traced_positions"}.
		#[arg(long)]
		json: bool,
	},
}

/// Verifies `samples` randomly chosen elements of every node of `trace` (every element of the
/// smaller nodes) with the runtime's check; returns how many passed and failed.
fn verify_samples(
	model: &Model,
	trace: &Trace,
	ids: &[u32],
	samples: u64,
	seed: u64,
) -> Result<(u64, u64), EngineError> {
	let graph = model.template.instantiate(trace.seq_len);
	let output = arbiter_primitives::encoding::row_bytes(&trace.output()?);
	let registered = RegisteredModel {
		graph: &model.template,
		model_root: &model.commitment.model_root,
		slack: 0.0,
		max_row_width: model.max_row_width(),
	};
	let task = TaskCommitments { trace_root: &trace.root, output: &output, input: ids };
	let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
	let (mut passed, mut failed) = (0u64, 0u64);
	for (id, node) in graph.nodes.iter().enumerate() {
		let numel = node.shape.numel();
		let width = node.shape.width() as u64;
		let picks: Vec<u64> = if numel <= samples {
			(0..numel).collect()
		} else {
			(0..samples).map(|_| rng.below(numel)).collect()
		};
		for flat in picks {
			let (row, col) = ((flat / width) as u32, (flat % width) as u32);
			let opening = trace.opening(model, id as u32, row, col)?;
			let verdict = verify_element(&registered, &task, (id as u32, row, col), &opening);
			if verdict == Verdict::WithinBound {
				passed += 1;
			} else {
				failed += 1;
				eprintln!("node {id} ({:?}) row {row} col {col}: {verdict:?}", node.op);
			}
		}
	}
	Ok((passed, failed))
}

/// `--ids` values, one list per occurrence: `101,7592,102`.
fn parse_id_lists(values: &[String]) -> Result<Vec<Vec<u32>>, EngineError> {
	values
		.iter()
		.map(|v| {
			v.split(',')
				.map(|s| {
					s.trim().parse::<u32>().map_err(|_| {
						EngineError::InvalidInput(format!("--ids {v:?}: {s:?} is not a token id"))
					})
				})
				.collect()
		})
		.collect()
}

fn hex32(h: &[u8; 32]) -> String {
	format!("0x{}", hex::encode(h))
}

fn load(model: &std::path::Path, device: DeviceKind) -> Result<Model, EngineError> {
	Model::load(model, &open_device(device)?)
}

fn run(cli: Cli) -> Result<(), EngineError> {
	match cli.command {
		Command::Tokenizer { model, out } => {
			let json = arbiter_inference::gguf::tokenizer_json_of_file(&model)?;
			std::fs::write(&out, json.as_bytes())
				.map_err(|e| EngineError::InvalidInput(format!("{}: {e}", out.display())))?;
			let hash = arbiter_primitives::encoding::hash(json.as_bytes());
			println!("{}", json!({ "tokenizer_hash": hex32(&hash), "out": out }));
		},
		Command::Tokenize { model, texts, json } => {
			let model = load(&model, cli.device)?;
			let ids = texts.iter().map(|t| model.tokenize(t)).collect::<Result<Vec<_>, _>>()?;
			if json {
				println!(
					"{}",
					json!({ "ids": ids, "tokenizer_hash": hex32(&model.commitment.tokenizer_hash) })
				);
			} else {
				for (text, ids) in texts.iter().zip(&ids) {
					println!("{text:?}: {ids:?}");
				}
			}
		},
		Command::Embed { model, texts, ids, json, trace_store, first_task } => {
			let model = load(&model, cli.device)?;
			let id_lists: Vec<Vec<u32>> = if texts.is_empty() {
				parse_id_lists(&ids)?
			} else {
				texts.iter().map(|t| model.tokenize(t)).collect::<Result<Vec<_>, _>>()?
			};
			let labels: Vec<String> = if texts.is_empty() {
				id_lists.iter().map(|i| format!("{i:?}")).collect()
			} else {
				texts.iter().map(|t| format!("{t:?}")).collect()
			};
			let inputs =
				id_lists.iter().map(|i| model.input_of_ids(i)).collect::<Result<Vec<_>, _>>()?;
			let executions = engine::run(&model, &inputs, Mode::Traced)?;
			if let Some(dir) = trace_store {
				let device = format!("{:?}", cli.device).to_lowercase();
				let store = TraceStore::open_as(
					&dir,
					StoreLimits::default(),
					Fingerprint::current(&device),
				)?;
				let batch: Vec<&[u32]> = id_lists.iter().map(|ids| ids.as_slice()).collect();
				for (k, e) in executions.iter().enumerate() {
					if let Some(t) = &e.trace {
						store.put(first_task + k as u64, &model, t, &batch, k)?;
					}
				}
			}
			let roots: Vec<String> = executions
				.iter()
				.filter_map(|e| e.trace.as_ref())
				.map(|t| hex32(&t.root))
				.collect();
			if json {
				let embeddings: Vec<&Vec<f32>> = executions.iter().map(|e| &e.output).collect();
				let tokens: Vec<u32> = inputs.iter().map(|i| i.seq_len).collect();
				let out = json!({
					"embeddings": embeddings,
					"trace_roots": roots,
					"model_root": hex32(&model.commitment.model_root),
					"tokens": tokens,
					"ids": id_lists,
				});
				println!("{out}");
			} else {
				for ((label, e), root) in labels.iter().zip(&executions).zip(&roots) {
					let head: Vec<String> =
						e.output.iter().take(4).map(|v| format!("{v:.6}")).collect();
					println!(
						"{label}: [{} ...] ({} values) trace root {root}",
						head.join(", "),
						e.output.len()
					);
				}
			}
		},
		Command::ModelInfo { model, json } => {
			let model = load(&model, cli.device)?;
			let c = &model.commitment;
			let info = json!({
				"name": model.name,
				"descriptor_hash": hex32(&c.descriptor_hash),
				"model_root": hex32(&c.model_root),
				"weights_root": hex32(&c.weights_root),
				"tokenizer_hash": hex32(&c.tokenizer_hash),
				"io": { "input": { "TokenIds": { "vocabulary": model.vocabulary() } }, "max_input_tokens": model.max_tokens(), "output_width": model.output_width() },
				"max_row_width": model.max_row_width(),
				"nodes": model.template.nodes.len(),
				"weights": model.template.weights.len(),
				"parameters": model.template.weights.iter().map(|w| w.shape.numel()).sum::<u64>(),
				"graph": format!("0x{}", hex::encode(descriptor_bytes(&model.template))),
				"cpu_path": arbiter_inference::cpu::path().name(),
			});
			if json {
				println!("{info}");
			} else {
				for key in [
					"name",
					"descriptor_hash",
					"model_root",
					"weights_root",
					"tokenizer_hash",
					"io",
					"max_row_width",
					"nodes",
					"weights",
					"parameters",
					"cpu_path",
				] {
					println!("{key}: {}", info[key]);
				}
			}
		},
		Command::Check { model, text, samples, seed } => {
			let model = load(&model, cli.device)?;
			let ids = model.tokenize(&text)?;
			let input = model.input_of_ids(&ids)?;
			let execution = engine::run(&model, &[input], Mode::Traced)?
				.pop()
				.ok_or_else(|| EngineError::Internal("one input, no result".into()))?;
			let trace = execution
				.trace
				.ok_or_else(|| EngineError::Internal("a traced run without a trace".into()))?;
			let (passed, failed) = verify_samples(&model, &trace, &ids, samples, seed)?;
			println!(
				"{passed} of {} sampled elements passed ({} tokens, {} nodes, trace root {})",
				passed + failed,
				trace.seq_len,
				model.template.nodes.len(),
				hex32(&trace.root)
			);
			if failed > 0 {
				return Err(EngineError::InvalidInput(format!(
					"{failed} elements failed verification"
				)));
			}
		},
		Command::Generate {
			model: path,
			prompt,
			ids,
			chat,
			max_new_tokens,
			temperature,
			seed,
			positions,
			check,
			json,
		} => {
			let config = LlamaConfig::from_gguf_file(&path)?;
			let started = std::time::Instant::now();
			let model = llama::load_gguf(&path, positions, &open_device(cli.device)?)?;
			let loaded = started.elapsed();
			let prompt_ids = match (prompt, ids) {
				(_, Some(ids)) => parse_id_lists(&[ids])?.pop().unwrap_or_default(),
				(Some(text), None) if chat => model.tokenize(&llama::chat_prompt(&text))?,
				(Some(text), None) => model.tokenize(&text)?,
				(None, None) => return Err(EngineError::EmptyText),
			};
			let sampling = match temperature {
				Some(temperature) => Sampling::Gumbel { temperature, seed },
				None => Sampling::Greedy,
			};
			let stop: Vec<u32> = config.eos_token.into_iter().collect();
			let started = std::time::Instant::now();
			let generation =
				generate(&model, &prompt_ids, max_new_tokens, sampling, &stop, Mode::Traced)?;
			let took = started.elapsed();
			let trace = generation.trace.as_ref().ok_or_else(|| {
				EngineError::Internal("a traced generation without a trace".into())
			})?;
			let text = model.decode(&generation.tokens)?;
			eprintln!(
				"loaded in {:.1} s; {} prompt + {} new tokens in {:.2} s ({:.1} positions/s, trace included)",
				loaded.as_secs_f64(),
				prompt_ids.len(),
				generation.tokens.len(),
				took.as_secs_f64(),
				trace.seq_len as f64 / took.as_secs_f64().max(1e-9),
			);
			if let Some(samples) = check {
				let traced = traced_ids(&prompt_ids, &generation.tokens);
				let (passed, failed) = verify_samples(&model, trace, &traced, samples, seed)?;
				eprintln!("{passed} of {} sampled elements of the trace passed", passed + failed);
				if failed > 0 {
					return Err(EngineError::InvalidInput(format!(
						"{failed} elements failed verification"
					)));
				}
			}
			if json {
				println!(
					"{}",
					json!({
						"prompt_ids": prompt_ids,
						"tokens": generation.tokens,
						"text": text,
						"stopped": generation.stopped,
						"trace_root": hex32(&trace.root),
						"traced_positions": trace.seq_len,
						"model_root": hex32(&model.commitment.model_root),
					})
				);
			} else {
				println!("{text}");
			}
		},
	}
	Ok(())
}

fn main() -> ExitCode {
	arbiter_inference::process::configure();
	let cli = Cli::parse();
	if let Some(n) = cli.threads {
		// Read by candle's CPU kernels when they size their thread pools.
		std::env::set_var("RAYON_NUM_THREADS", n.to_string());
	}
	if let Some(e) = arbiter_inference::cpu::path_request_error() {
		eprintln!("error: {e}");
		return ExitCode::FAILURE;
	}
	match run(cli) {
		Ok(()) => ExitCode::SUCCESS,
		Err(e) => {
			eprintln!("error: {e}");
			ExitCode::FAILURE
		},
	}
}
