//! The job service a provider node runs: tasks are queued, run plain on the engine's own thread
//! (batched per model; nothing is traced or hashed), a replay record of each kept in the trace
//! store, their results polled. The provider commits the output alone; a challenge replays the
//! task traced (docs/protocol.md, "The trace root is fixed when first needed"). Nothing here
//! blocks the caller: the off-chain worker starts a job and polls it in later blocks.
//!
//! Generation tasks run the same way: batched per model and request (`decode::generate_batch`,
//! plain), a replay record of the prompt, the committed tokens and the sampling kept
//! (`TraceStore::put_generation`), the tokens reported; a challenge replays the decoding traced.
//!
//! After a restart, a task with a replay record is replayed from it (queued like a job, checked
//! against its recorded output) and reported done again with the same output, so the off-chain
//! worker never commits a task twice.

use std::{
	collections::{HashMap, VecDeque},
	sync::{
		atomic::{AtomicU64, Ordering},
		Arc, Condvar, Mutex,
	},
	time::{Duration, Instant},
};

use arbiter_primitives::{token_choice::TokenSampling, Hash, NodeId, Opening};

use crate::{
	decode::{self, Sampling},
	engine::{self, Mode},
	error::{EngineError, Result},
	model::Model,
	service_thread::{stop_and_wake, ServiceThread, Stop},
	trace::TraceRow,
	trace_store::TraceStore,
};

/// What a caller learns about a task's job.
#[derive(Clone, Debug, PartialEq)]
pub enum JobStatus {
	/// No such job (never started, or started on another node).
	Unknown,
	Queued,
	Running,
	/// The model output (row-major f32) to commit, and the trace root where it is committed
	/// with the output (`None`: the provider's first answer to a dispute fixes it).
	Done {
		output: Vec<f32>,
		trace_root: Option<Hash>,
	},
	/// A generation task's tokens to commit (the stop token last when one ended it).
	Generated {
		tokens: Vec<u32>,
	},
	/// The input could not be run (token ids the chain would refuse); the reason.
	Failed(String),
}

/// Counters for metrics (Prometheus in the node).
#[derive(Default, Debug)]
pub struct JobMetrics {
	pub queued: AtomicU64,
	pub running: AtomicU64,
	pub done: AtomicU64,
	pub failed: AtomicU64,
	/// Tasks replayed from their records after a restart (not counted in `done`).
	pub replayed: AtomicU64,
	/// Sum and count of job latencies (queued → done), in microseconds.
	pub latency_us_sum: AtomicU64,
	pub latency_count: AtomicU64,
}

/// A snapshot for `arbiter_engineStatus`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct EngineStatus {
	pub device: String,
	pub models: Vec<ModelStatus>,
	pub queued: u64,
	pub running: u64,
	pub done: u64,
	pub failed: u64,
	pub traces_stored: usize,
}

/// One loaded model.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ModelStatus {
	pub name: String,
	pub model_root: String,
}

/// Models are identified by their commitment (`model_root`), as the chain registers them.
pub type ModelKey = Hash;

struct Job {
	task: u64,
	model_id: ModelKey,
	/// The task's token ids (a generation's prompt).
	input: Vec<u32>,
	/// A generation task's request; `None` for a task run once over its input.
	generation: Option<GenerationRequest>,
	queued_at: Instant,
	/// Run before a restart: replayed from its record (the trace store checks the output).
	replay: bool,
}

/// What a generation task asks besides its prompt (the chain's task and model data).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GenerationRequest {
	/// Most tokens to generate.
	pub max_new_tokens: u32,
	/// The model's stop token (registered with it).
	pub stop_token: u32,
	pub sampling: TokenSampling,
}

#[derive(Default)]
struct State {
	queue: VecDeque<Job>,
	status: HashMap<u64, JobStatus>,
	stopping: bool,
}

struct Shared {
	models: HashMap<ModelKey, Arc<Model>>,
	store: TraceStore,
	state: Mutex<State>,
	wake: Condvar,
	metrics: JobMetrics,
	max_batch: usize,
	device: String,
}

/// The service; cheap to clone (shared state). Dropping the last handle stops the worker.
#[derive(Clone)]
pub struct JobService {
	shared: Arc<Shared>,
	_worker: Arc<ServiceThread>,
}

impl Stop for Shared {
	fn request_stop(&self) {
		stop_and_wake(&self.state, &self.wake, |s| s.stopping = true);
	}
}

impl JobService {
	/// Starts the service for `models` (each found by its `model_root`), keeping traces in
	/// `store`. Up to `max_batch` queued jobs of one model run together.
	pub fn start(models: Vec<Model>, store: TraceStore, max_batch: usize, device: &str) -> Self {
		let shared = Arc::new(Shared {
			models: models.into_iter().map(|m| (m.commitment.model_root, Arc::new(m))).collect(),
			store,
			state: Mutex::new(State::default()),
			wake: Condvar::new(),
			metrics: JobMetrics::default(),
			max_batch: max_batch.max(1),
			device: device.to_string(),
		});
		let thread = ServiceThread::spawn("arbiter-inference", shared.clone(), worker);
		Self { shared, _worker: Arc::new(thread) }
	}

	/// The model committed as `model_id` (its `model_root`), if loaded.
	pub fn model(&self, model_id: ModelKey) -> Option<Arc<Model>> {
		self.shared.models.get(&model_id).cloned()
	}

	/// Keeps the traces of `tasks` whatever the store's limits ([`TraceStore::retain`]).
	pub fn retain(&self, tasks: Vec<u64>) {
		self.shared.store.retain(tasks);
	}

	/// Queues `task` (idempotent: a known or stored task is not queued again).
	pub fn submit(&self, task: u64, model_id: ModelKey, input: Vec<u32>) -> Result<()> {
		self.enqueue(task, model_id, input, None)
	}

	/// Queues generation task `task`: `prompt` under `request` (idempotent, as
	/// [`JobService::submit`]). Reported [`JobStatus::Generated`] when done.
	pub fn submit_generation(
		&self,
		task: u64,
		model_id: ModelKey,
		prompt: Vec<u32>,
		request: GenerationRequest,
	) -> Result<()> {
		self.enqueue(task, model_id, prompt, Some(request))
	}

	fn enqueue(
		&self,
		task: u64,
		model_id: ModelKey,
		input: Vec<u32>,
		generation: Option<GenerationRequest>,
	) -> Result<()> {
		let model = self.model(model_id).ok_or_else(|| {
			EngineError::InvalidInput(format!("model 0x{} is not loaded", hex::encode(model_id)))
		})?;
		let state = self
			.shared
			.state
			.lock()
			.map_err(|_| EngineError::Store("job state poisoned".into()))?;
		if state.status.contains_key(&task) {
			return Ok(());
		}
		// Run before a restart: replayed from its record, which must give the same output. A
		// record of other ids (another chain's task of that id) is replaced.
		let replay = self.shared.store.record(task).is_ok_and(|r| {
			r.model_root == model.commitment.model_root &&
				match generation {
					None => r.generation.is_none() && r.ids == input,
					Some(_) => r.prompt_and_tokens().is_some_and(|(p, _)| p == input.as_slice()),
				}
		});
		let job = Job { task, model_id, input, generation, queued_at: Instant::now(), replay };
		self.queue(state, job);
		Ok(())
	}

	/// Queues `job` (its status `Queued`) and wakes the worker.
	fn queue(&self, mut state: std::sync::MutexGuard<'_, State>, job: Job) {
		state.status.insert(job.task, JobStatus::Queued);
		state.queue.push_back(job);
		self.shared.metrics.queued.fetch_add(1, Ordering::Relaxed);
		drop(state);
		self.shared.wake.notify_one();
	}

	/// The status of `task`'s job; a task run before a restart is replayed from its record
	/// (reported `Queued` until done).
	pub fn status(&self, task: u64, model_id: ModelKey) -> JobStatus {
		let Ok(state) = self.shared.state.lock() else {
			return JobStatus::Failed("job state poisoned".into());
		};
		if let Some(s) = state.status.get(&task) {
			return s.clone();
		}
		let Ok(record) = self.shared.store.record(task) else { return JobStatus::Unknown };
		if record.model_root != model_id || self.model(model_id).is_none() {
			return JobStatus::Unknown;
		}
		let job = Job {
			task,
			model_id,
			input: record.ids,
			generation: None,
			queued_at: Instant::now(),
			replay: true,
		};
		self.queue(state, job);
		JobStatus::Queued
	}

	/// Waits (blocking) until `task` is done or failed, up to `timeout`. For tests and tools.
	pub fn wait(&self, task: u64, model_id: ModelKey, timeout: Duration) -> JobStatus {
		let deadline = Instant::now() + timeout;
		loop {
			let s = self.status(task, model_id);
			if matches!(
				s,
				JobStatus::Done { .. } |
					JobStatus::Generated { .. } |
					JobStatus::Failed(_) |
					JobStatus::Unknown
			) || Instant::now() > deadline
			{
				return s;
			}
			std::thread::sleep(Duration::from_millis(5));
		}
	}

	/// Row `row` of node `node` of `task`'s trace, with its proof.
	pub fn trace_row(
		&self,
		task: u64,
		model_id: ModelKey,
		node: NodeId,
		row: u32,
	) -> Result<TraceRow> {
		let model = self.model(model_id).ok_or_else(|| {
			EngineError::InvalidInput(format!("model 0x{} is not loaded", hex::encode(model_id)))
		})?;
		self.shared.store.row(task, &model, node, row)
	}

	/// The opening of element `(node, row, col)` of `task`'s trace.
	pub fn opening(
		&self,
		task: u64,
		model_id: ModelKey,
		node: NodeId,
		row: u32,
		col: u32,
	) -> Result<Opening> {
		let model = self.model(model_id).ok_or_else(|| {
			EngineError::InvalidInput(format!("model 0x{} is not loaded", hex::encode(model_id)))
		})?;
		self.shared.store.opening(task, &model, node, row, col)
	}

	/// The answer to a token-choice dispute of generation task `task` at `step` against
	/// `rival`.
	pub fn token_choice_opening(
		&self,
		task: u64,
		model_id: ModelKey,
		step: u32,
		rival: u32,
	) -> Result<Opening> {
		let model = self.model(model_id).ok_or_else(|| {
			EngineError::InvalidInput(format!("model 0x{} is not loaded", hex::encode(model_id)))
		})?;
		self.shared.store.token_choice_opening(task, &model, step, rival)
	}

	/// The model of `task`'s stored trace.
	pub fn model_of_task(&self, task: u64) -> Result<Arc<Model>> {
		let root = self.shared.store.model_root_of(task)?;
		self.model(root).ok_or_else(|| {
			EngineError::InvalidInput(format!(
				"the trace of task {task} is of a model not loaded here"
			))
		})
	}

	/// The stored trace of `task` (whatever its model).
	pub fn trace(&self, task: u64) -> Result<(Arc<Model>, Arc<crate::trace::Trace>)> {
		let model = self.model_of_task(task)?;
		let trace = self.shared.store.get(task, &model)?;
		Ok((model, trace))
	}

	/// Counters (for Prometheus).
	pub fn metrics(&self) -> &JobMetrics {
		&self.shared.metrics
	}

	/// Jobs waiting for the engine.
	pub fn queued(&self) -> u64 {
		self.shared.state.lock().map(|s| s.queue.len() as u64).unwrap_or(0)
	}

	/// A snapshot of the service.
	pub fn engine_status(&self) -> EngineStatus {
		let m = &self.shared.metrics;
		let mut models: Vec<ModelStatus> = self
			.shared
			.models
			.values()
			.map(|model| ModelStatus {
				name: model.name.clone(),
				model_root: format!("0x{}", hex::encode(model.commitment.model_root)),
			})
			.collect();
		models.sort_by(|a, b| a.model_root.cmp(&b.model_root));
		let queued = self.queued();
		EngineStatus {
			device: self.shared.device.clone(),
			models,
			queued,
			running: m.running.load(Ordering::Relaxed),
			done: m.done.load(Ordering::Relaxed),
			failed: m.failed.load(Ordering::Relaxed),
			traces_stored: self.shared.store.tasks().map(|t| t.len()).unwrap_or(0),
		}
	}
}

fn worker(shared: Arc<Shared>) {
	loop {
		// The next batch: the oldest job and up to max_batch - 1 more of its model.
		let batch: Vec<Job> = {
			let Ok(mut state) = shared.state.lock() else { return };
			while state.queue.is_empty() && !state.stopping {
				state = match shared.wake.wait(state) {
					Ok(s) => s,
					Err(_) => return,
				};
			}
			if state.stopping {
				return;
			}
			let Some(first) = state.queue.pop_front() else { continue };
			let (model_id, generation) = (first.model_id, first.generation);
			// A replay runs as its record says (alone or in its recorded batch), never with
			// other jobs: where results depend on the batch that would give other bits.
			// Generations batch with generations of the same request.
			let room = if first.replay { 1 } else { shared.max_batch };
			let mut batch = Vec::from([first]);
			let mut rest = VecDeque::new();
			while let Some(job) = state.queue.pop_front() {
				if job.model_id == model_id &&
					job.generation == generation &&
					!job.replay && batch.len() < room
				{
					batch.push(job);
				} else {
					rest.push_back(job);
				}
			}
			state.queue = rest;
			for job in &batch {
				state.status.insert(job.task, JobStatus::Running);
			}
			batch
		};
		let n = batch.len() as u64;
		shared
			.metrics
			.queued
			.fetch_sub(n.min(shared.metrics.queued.load(Ordering::Relaxed)), Ordering::Relaxed);
		shared.metrics.running.fetch_add(n, Ordering::Relaxed);
		let results = run_batch(&shared, &batch);
		shared.metrics.running.fetch_sub(n, Ordering::Relaxed);
		if let Ok(mut state) = shared.state.lock() {
			for (job, result) in batch.iter().zip(results) {
				let status = match result {
					Ok(done) if job.replay => {
						shared.metrics.replayed.fetch_add(1, Ordering::Relaxed);
						done
					},
					Ok(done) => {
						shared.metrics.done.fetch_add(1, Ordering::Relaxed);
						let us = job.queued_at.elapsed().as_micros().min(u64::MAX as u128) as u64;
						shared.metrics.latency_us_sum.fetch_add(us, Ordering::Relaxed);
						shared.metrics.latency_count.fetch_add(1, Ordering::Relaxed);
						done
					},
					Err(e) => {
						shared.metrics.failed.fetch_add(1, Ordering::Relaxed);
						JobStatus::Failed(e.to_string())
					},
				};
				state.status.insert(job.task, status);
			}
		}
	}
}

/// Runs one batch (all of one model); each job's result, in order.
fn run_batch(shared: &Shared, batch: &[Job]) -> Vec<Result<JobStatus>> {
	let Some(model) = batch.first().and_then(|j| shared.models.get(&j.model_id)) else {
		return batch
			.iter()
			.map(|_| Err(EngineError::InvalidInput("model not loaded".into())))
			.collect();
	};
	if let [job @ Job { replay: true, .. }] = batch {
		return Vec::from([replay_job(shared, model, job)]);
	}
	if let Some(request) = batch.first().and_then(|j| j.generation) {
		return run_generations(shared, model, batch, request);
	}
	// Inputs that cannot be encoded fail alone; the rest run together.
	let encoded: Vec<Result<crate::model::ModelInput>> =
		batch.iter().map(|j| model.input_of_ids(&j.input)).collect();
	let inputs: Vec<crate::model::ModelInput> =
		encoded.iter().filter_map(|e| e.as_ref().ok().cloned()).collect();
	// The token ids of the inputs that run together, in order: what a replay runs again where
	// results depend on the batch.
	let ran: Vec<&[u32]> = batch
		.iter()
		.zip(&encoded)
		.filter(|(_, e)| e.is_ok())
		.map(|(job, _)| job.input.as_slice())
		.collect();
	let mut index = 0usize;
	let mut executions = if inputs.is_empty() {
		Vec::new().into_iter()
	} else {
		match engine::run(model, &inputs, Mode::Plain) {
			Ok(e) => e.into_iter(),
			Err(e) =>
				return batch.iter().map(|_| Err(EngineError::InvalidInput(e.to_string()))).collect(),
		}
	};
	batch
		.iter()
		.zip(encoded)
		.map(|(job, enc)| {
			enc?;
			let execution = executions
				.next()
				.ok_or_else(|| EngineError::Internal("fewer results than jobs".into()))?;
			shared.store.put_output(job.task, model, &execution.output, &ran, index)?;
			index += 1;
			Ok(JobStatus::Done {
				output: committed_output(model, execution.output),
				trace_root: None,
			})
		})
		.collect()
}

/// Generates for every job of `batch` (one model, one request) together, plain, and records
/// each one's prompt, tokens and sampling.
fn run_generations(
	shared: &Shared,
	model: &Model,
	batch: &[Job],
	request: GenerationRequest,
) -> Vec<Result<JobStatus>> {
	let prompts: Vec<Vec<u32>> = batch.iter().map(|j| j.input.clone()).collect();
	let generated = decode::generate_batch(
		model,
		&prompts,
		request.max_new_tokens,
		Sampling::from_chain(request.sampling),
		&[request.stop_token],
		Mode::Plain,
	);
	let generations = match generated {
		Ok(g) => g,
		// One request that cannot run (a prompt too long for the model, say) fails each job
		// alone, so the others still run.
		Err(_) if batch.len() > 1 =>
			return batch
				.iter()
				.flat_map(|job| run_generations(shared, model, std::slice::from_ref(job), request))
				.collect(),
		Err(e) => return Vec::from([Err(e)]),
	};
	batch
		.iter()
		.zip(generations)
		.map(|(job, g)| {
			shared
				.store
				.put_generation(job.task, model, &g.prompt, &g.tokens, request.sampling)?;
			Ok(JobStatus::Generated { tokens: g.tokens })
		})
		.collect()
}

/// A task run before a restart, replayed from its record (which the trace store checks the
/// replay against): the same output as then. The replay is traced and cached, as a task still
/// awaiting its commit after a restart is likely to be asked for its trace soon.
fn replay_job(shared: &Shared, model: &Model, job: &Job) -> Result<JobStatus> {
	let trace = shared.store.get(job.task, model)?;
	if let Some((_, tokens)) = shared.store.record(job.task)?.prompt_and_tokens() {
		return Ok(JobStatus::Generated { tokens: tokens.to_vec() });
	}
	Ok(JobStatus::Done { output: committed_output(model, trace.output()?), trace_root: None })
}

/// The output to commit: the model's, or with the test-only output fault applied.
fn committed_output(model: &Model, mut output: Vec<f32>) -> Vec<f32> {
	if model.output_fault() {
		if let Some(first) = output.first_mut() {
			*first += 0.5;
		}
	}
	output
}
