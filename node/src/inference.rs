//! The node's inference engine: `--provider` / `--watcher` load the models in `--models-dir`
//! and start the job service (and, with `--watcher`, the watcher); they are registered as the
//! inference host-function extension for off-chain workers only (block import never sees it).

use std::path::{Path, PathBuf};

use arbiter_inference::{
	host::EngineHost, jobs::JobService, open_device, trace_store::Fingerprint, watch::Watcher,
	DeviceKind, Model, StoreLimits, TraceStore,
};
use arbiter_primitives::NodeId;

/// Inference flags of `arbiter-node`.
#[derive(Debug, Clone, clap::Args)]
pub struct InferenceParams {
	/// Run the provider worker: execute tasks assigned to this node's operator key (`arbi` in the
	/// keystore) and commit their results.
	#[arg(long)]
	pub provider: bool,

	/// Run the watcher worker: re-execute finished tasks and challenge wrong results.
	#[arg(long)]
	pub watcher: bool,

	/// Share of finished tasks the watcher re-executes (0..=1).
	#[arg(long, default_value_t = 1.0, value_parser = parse_rate)]
	pub watch_sample_rate: f64,

	/// Folder of model folders (each with model.safetensors, config.json, tokenizer.json,
	/// SHA256SUMS), or one model folder. Default: where scripts/fetch-model.sh puts them.
	#[arg(long)]
	pub models_dir: Option<PathBuf>,

	/// A LLaMA-style GGUF model to serve for generation tasks (repeatable), e.g. SmolLM2 as
	/// `scripts/fetch-smollm2.sh` fetches it. Loaded with `--gguf-positions` positions, which
	/// its model root commits (the rotary tables' rows).
	#[arg(long, value_name = "FILE")]
	pub gguf: Vec<PathBuf>,

	/// Positions (context) the GGUF models are loaded with: part of their commitments, so the
	/// registered model's `max_context` must not exceed it.
	#[arg(long, default_value_t = arbiter_inference::llama::DEFAULT_POSITIONS)]
	pub gguf_positions: u32,

	/// Where inference runs.
	#[arg(long, default_value = "cpu")]
	pub inference_device: DeviceKind,

	/// CPU threads for inference (default: all cores).
	#[arg(long)]
	pub inference_threads: Option<usize>,

	/// TEST ONLY, development chains only: perturb this graph node's output (and so everything
	/// computed from it) beyond the tolerance bound, to exercise the fraud path end to end.
	#[arg(long, value_name = "NODE_ID")]
	pub provider_fault: Option<NodeId>,

	/// TEST ONLY, development chains only: commit a wrong output (its first value plus 0.5)
	/// with the honest trace, to exercise the output rule end to end.
	#[arg(long)]
	pub provider_output_fault: bool,

	/// TEST ONLY, development chains only: generation tasks commit, at this step, the token
	/// their sampling scores second (and decode on from it), to exercise token-choice disputes
	/// end to end.
	#[arg(long, value_name = "STEP")]
	pub provider_token_fault: Option<u32>,

	/// Replay records kept for challenges (oldest evicted first; never those of tasks still
	/// assigned, committed or disputed). A record is ~200 bytes (1,140 at 256 tokens).
	#[arg(long, default_value_t = 4096)]
	pub trace_store_max_traces: usize,

	/// Bytes of replay records kept for challenges.
	#[arg(long, default_value_t = 64 << 20)]
	pub trace_store_max_bytes: u64,
}

fn parse_rate(s: &str) -> Result<f64, String> {
	let r: f64 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
	if (0.0..=1.0).contains(&r) {
		Ok(r)
	} else {
		Err(format!("{r} is outside 0..=1"))
	}
}

impl InferenceParams {
	/// Whether the engine is needed.
	pub fn enabled(&self) -> bool {
		self.provider || self.watcher
	}

	/// `--models-dir`, or `$ARBITER_MODELS_DIR`, or `~/.cache/arbiter/models`.
	pub fn models_dir(&self) -> PathBuf {
		self.models_dir
			.clone()
			.unwrap_or_else(arbiter_inference::model::default_models_dir)
	}
}

/// The model folders under `dir` (or `dir` itself when it is one).
fn model_folders(dir: &Path) -> Result<Vec<PathBuf>, String> {
	if !dir.is_dir() {
		return Err(format!(
			"models folder {} does not exist (run scripts/fetch-model.sh)",
			dir.display()
		));
	}
	if dir.join(arbiter_inference::model::WEIGHTS_FILE).is_file() {
		return Ok(vec![dir.to_path_buf()]);
	}
	let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
		.map_err(|e| format!("cannot read {}: {e}", dir.display()))?
		.filter_map(|e| e.ok().map(|e| e.path()))
		.filter(|p| p.join(arbiter_inference::model::WEIGHTS_FILE).is_file())
		.collect();
	out.sort();
	if out.is_empty() {
		return Err(format!("no model folder in {} (run scripts/fetch-model.sh)", dir.display()));
	}
	Ok(out)
}

/// The chain id of the development chain, the only one `--provider-fault` runs on.
pub const DEV_CHAIN_ID: &str = "arbiter_dev";

/// Loads the models and starts the job service (and the watcher); traces go to
/// `<base path>/traces`. `chain_id` decides whether `--provider-fault` is allowed.
pub fn start(
	params: &InferenceParams,
	base_path: &Path,
	chain_id: &str,
) -> Result<EngineHost, String> {
	for (switch, set) in [
		("--provider-fault", params.provider_fault.is_some()),
		("--provider-output-fault", params.provider_output_fault),
		("--provider-token-fault", params.provider_token_fault.is_some()),
	] {
		if !set {
			continue;
		}
		if chain_id != DEV_CHAIN_ID {
			return Err(format!(
				"{switch} is a test switch for development chains only; this chain is {chain_id:?}"
			));
		}
		if !params.provider {
			return Err(format!("{switch} needs --provider (it perturbs this node's own results)"));
		}
	}
	if let Some(node) = params.provider_fault {
		log::warn!(target: "arbiter-inference", "TEST FAULT: node {node}'s output is perturbed; this provider's results are wrong on purpose");
	}
	if params.provider_output_fault {
		log::warn!(target: "arbiter-inference", "TEST FAULT: committed outputs differ from the traces; this provider's results are wrong on purpose");
	}
	if let Some(step) = params.provider_token_fault {
		log::warn!(target: "arbiter-inference", "TEST FAULT: generations commit the runner-up token at step {step}; this provider's results are wrong on purpose");
	}
	if let Some(n) = params.inference_threads {
		// Read by candle's CPU kernels when they size their thread pools.
		std::env::set_var("RAYON_NUM_THREADS", n.to_string());
	}
	if let Some(e) = arbiter_inference::cpu::path_request_error() {
		return Err(e);
	}
	let device = open_device(params.inference_device).map_err(|e| e.to_string())?;
	// The engine runs on rayon's global pool, sized when it first starts: say what it got, and
	// whether `--inference-threads` came too late (something in the process started it first).
	let threads = arbiter_inference::engine::threads();
	match params.inference_threads {
		Some(n) if n != threads => log::warn!(
			target: "arbiter-inference",
			"--inference-threads {n} not applied: the thread pool had already started with {threads} threads"
		),
		_ => log::info!(
			target: "arbiter-inference",
			"inference on {device_name}, CPU thread pool of {threads}, CPU kernels: {path} path",
			device_name = format!("{:?}", params.inference_device).to_lowercase(),
			path = arbiter_inference::cpu::path(),
		),
	}
	let mut models = Vec::new();
	for file in &params.gguf {
		let mut model = arbiter_inference::llama::load_gguf(file, params.gguf_positions, &device)
			.map_err(|e| format!("--gguf {}: {e}", file.display()))?;
		if let Some(step) = params.provider_token_fault {
			model.inject_token_choice_fault(step);
		}
		log::info!(
			target: "arbiter-inference",
			"loaded generation model {} (model root {}, {} positions) from {}",
			model.name,
			crate::arbiter_rpc::hex(&model.commitment.model_root),
			params.gguf_positions,
			file.display()
		);
		models.push(model);
	}
	for folder in model_folders(&params.models_dir())? {
		let mut model = Model::load(&folder, &device).map_err(|e| e.to_string())?;
		if let Some(node) = params.provider_fault {
			model.inject_fault(node).map_err(|e| format!("--provider-fault: {e}"))?;
		}
		if params.provider_output_fault {
			model.inject_output_fault();
		}
		log::info!(
			target: "arbiter-inference",
			"loaded model {} (model root {}) from {}",
			model.name,
			crate::arbiter_rpc::hex(&model.commitment.model_root),
			folder.display()
		);
		models.push(model);
	}
	let device_name = format!("{:?}", params.inference_device).to_lowercase();
	let store_dir = base_path.join("traces");
	let store = TraceStore::open_as(
		&store_dir,
		StoreLimits {
			max_traces: params.trace_store_max_traces,
			max_bytes: params.trace_store_max_bytes,
		},
		Fingerprint::current(&device_name),
	)
	.map_err(|e| e.to_string())?;
	// A challenge of a task recorded by another build, CPU path or device is answered by
	// replaying it here: refuse to start if any would not replay bit for bit
	// (docs/protocol.md, "Replay").
	let unreplayable = store
		.check_replays(&models.iter().collect::<Vec<_>>())
		.map_err(|e| e.to_string())?;
	if let Some((task, why)) = unreplayable.first() {
		return Err(format!(
			"this engine cannot replay {} task(s) recorded in {} bit for bit (task {task}: {why}); \
			 run the engine that recorded them until their challenge windows have closed, or delete \
			 the folder to give up answering challenges of every task recorded there",
			unreplayable.len(),
			store_dir.display()
		));
	}
	let jobs = JobService::start(models, store, 32, &device_name);
	// A provider's node checks the results it is drawn to audit (docs/protocol.md, "Audits")
	// with the watcher's check; `--watcher` adds a share of every other result.
	let watcher = (params.watcher || params.provider).then(|| {
		// Providers are reached over JSON-RPC from the watcher's thread, on the node's runtime.
		let runtime = tokio::runtime::Handle::current();
		let connect = move |endpoint: &str, task: u64| {
			crate::watcher_client::RpcTrace::connect(runtime.clone(), endpoint, task)
				.map(|t| Box::new(t) as Box<dyn arbiter_inference::watch::RemoteTrace>)
		};
		// A per-node salt: watchers sampling at the same rate check different tasks.
		let salt = std::time::SystemTime::now()
			.duration_since(std::time::UNIX_EPOCH)
			.map(|d| d.as_nanos() as u64)
			.unwrap_or(0);
		// An inconclusive check (the provider's node unreachable) is retried after a minute.
		Watcher::start(
			jobs.clone(),
			if params.watcher { params.watch_sample_rate } else { 0.0 },
			salt,
			std::time::Duration::from_secs(60),
			Box::new(connect),
		)
	});
	Ok(EngineHost { jobs, watcher })
}

/// The engine's counters as Prometheus metrics (read when scraped):
/// `arbiter_inference_jobs{state="queued|running|done|failed|replayed"}` (replayed: tasks run
/// again from their replay records after a restart),
/// `arbiter_inference_job_latency_microseconds_total` and `arbiter_inference_jobs_timed_total`
/// (queued → done; their ratio is the mean latency), `arbiter_inference_traces_stored` (replay
/// records kept).
pub fn register_metrics(
	engine: &JobService,
	registry: &substrate_prometheus_endpoint::Registry,
) -> Result<(), substrate_prometheus_endpoint::PrometheusError> {
	use std::sync::atomic::Ordering;
	use substrate_prometheus_endpoint::{
		register, MetricSource, Opts, SourcedCounter, SourcedGauge,
	};

	#[derive(Clone)]
	struct Jobs(JobService);
	impl MetricSource for Jobs {
		type N = u64;
		fn collect(&self, mut set: impl FnMut(&[&str], u64)) {
			// Counters only: the full status also lists the trace store on disk.
			let m = self.0.metrics();
			set(&["queued"], self.0.queued());
			set(&["running"], m.running.load(Ordering::Relaxed));
			set(&["done"], m.done.load(Ordering::Relaxed));
			set(&["failed"], m.failed.load(Ordering::Relaxed));
			set(&["replayed"], m.replayed.load(Ordering::Relaxed));
		}
	}
	#[derive(Clone)]
	struct Traces(JobService);
	impl MetricSource for Traces {
		type N = u64;
		fn collect(&self, mut set: impl FnMut(&[&str], u64)) {
			set(&[], self.0.engine_status().traces_stored as u64);
		}
	}
	#[derive(Clone)]
	struct Latency(JobService, bool);
	impl MetricSource for Latency {
		type N = u64;
		fn collect(&self, mut set: impl FnMut(&[&str], u64)) {
			let m = self.0.metrics();
			let v = if self.1 {
				m.latency_us_sum.load(Ordering::Relaxed)
			} else {
				m.latency_count.load(Ordering::Relaxed)
			};
			set(&[], v);
		}
	}
	register(
		SourcedGauge::new(
			&Opts::new("arbiter_inference_jobs", "Inference jobs by state").variable_label("state"),
			Jobs(engine.clone()),
		)?,
		registry,
	)?;
	register(
		SourcedGauge::new(
			&Opts::new("arbiter_inference_traces_stored", "Replay records kept for challenges"),
			Traces(engine.clone()),
		)?,
		registry,
	)?;
	register(
		SourcedCounter::new(
			&Opts::new(
				"arbiter_inference_job_latency_microseconds_total",
				"Summed job latency, queued to done",
			),
			Latency(engine.clone(), true),
		)?,
		registry,
	)?;
	register(
		SourcedCounter::new(
			&Opts::new("arbiter_inference_jobs_timed_total", "Jobs whose latency is summed"),
			Latency(engine.clone(), false),
		)?,
		registry,
	)?;
	Ok(())
}
