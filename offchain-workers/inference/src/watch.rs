//! The watcher (`arbiter-node --watcher`): re-executes committed results and, when one is off,
//! finds an element of the provider's *own* trace that the runtime will rule outside the bound.
//!
//! A wrong output alone proves nothing on chain: the runtime recomputes one element of one node
//! from the provider's committed rows. So the watcher walks the provider's trace (served by the
//! provider's node, `arbiter_traceRow` / `arbiter_opening`) in graph order, compares each row
//! with its own execution, and for the columns that differ fetches the opening and runs the
//! runtime's `verify_element` on it. The first element ruled outside the bound (or whose
//! committed rows are invalid) is the one to challenge: its inputs are the provider's own rows,
//! so the provider cannot answer it. Rows fetched only to compare are hints; nothing is
//! challenged unless the opening itself verifies against the committed roots.
//!
//! That walk is the fast path. When the provider does not serve its trace (its node is down,
//! refuses or times out), the watcher descends instead (docs/protocol.md, "Descent"): it
//! challenges the output element farthest from its own, relative to that element's bound, and at
//! each later step names the opened operand farthest from its own re-execution
//! ([`Watcher::descend`]), which it keeps for the task while the dispute runs.

use std::{
	collections::{HashMap, VecDeque},
	sync::{Arc, Condvar, Mutex},
};

use arbiter_inference_interface::{
	DescentRequest, DescentStep, GenerationJob, WatchRequest, WatchStatus,
};
use arbiter_primitives::{
	descent::{first_element, next_element, OwnRun},
	token_choice::{lm_head, token_choice_gap, tokens_of_output, TokenSampling},
	verify_element, Graph, NodeId, Opening, RegisteredModel, Ruling, TaskCommitments, WeightId,
};

use crate::{
	decode::{self, Sampling},
	engine::{self, Mode},
	error::EngineError,
	jobs::JobService,
	model::Model,
	service_thread::{stop_and_wake, ServiceThread, Stop},
	trace::Trace,
};

/// A generation's committed token is challenged when this node's own choice beats it by more
/// than the ruling's band plus this share of the two logits' terms (`TokenChoiceGap::scale`):
/// the ruling reads the *provider's* hidden row, which another honest f32 engine computes with
/// other roundings, so the watcher spends its bond only on a gap no honest hidden row explains.
/// Measured on SmolLM2 (12 greedy steps of the end-to-end prompt), transformers' f32 prefill and
/// this engine's decoding put the gap between the best and the runner-up within 2.8e-7 of the
/// terms of each other; this is 36× that (docs/protocol.md, "Watching generations").
pub const TOKEN_TOLERANCE: f64 = 1e-5;

/// Largest difference between a committed output and this node's, per element, still taken as
/// honest (outputs of honest CPU and GPU runs differ by ~1e-6; MiniLM embeddings are unit-norm).
/// Above it the watcher looks for a provable element; the ruling itself is `verify_element`'s.
pub const OUTPUT_TOLERANCE: f32 = 1e-4;

/// Differences below `ROW_TOLERANCE · (1 + |value|)` are rounding and not opened.
const ROW_TOLERANCE: f32 = 1e-5;

/// Columns opened per differing row (largest differences first).
const COLUMNS_PER_ROW: usize = 3;

/// Openings that verify within the bound before the walk gives up (an honest provider on other
/// hardware differs everywhere, within the bound).
const MAX_HONEST_OPENINGS: usize = 64;

/// Results kept for the off-chain worker to poll.
const MAX_RESULTS: usize = 4096;

/// Own executions kept for descents in progress (a 21-token MiniLM task's is 5.7 MiB; one that
/// was evicted is re-executed when the next step asks for it).
const MAX_DESCENT_RUNS: usize = 8;

/// Checks of one task at most: an inconclusive check (the provider's node unreachable, say) is
/// run again, after the watcher's retry interval, up to this many times in all.
pub const MAX_ATTEMPTS: u32 = 3;

/// A provider's trace of one task, as its node serves it.
pub trait RemoteTrace {
	/// Row `row` of node `node` (values only; a hint, not trusted).
	fn row(&self, node: NodeId, row: u32) -> Result<Vec<f32>, String>;
	/// The opening of element `(node, row, col)`.
	fn opening(&self, node: NodeId, row: u32, col: u32) -> Result<Opening, String>;
}

/// Connects to a provider's endpoint for one task (the node implements it over JSON-RPC).
pub type Connect = dyn Fn(&str, u64) -> Result<Box<dyn RemoteTrace>, String> + Send + Sync;

/// Whether `committed` is `own` up to [`OUTPUT_TOLERANCE`] (same length, every element).
pub fn outputs_agree(own: &[f32], committed: &[f32]) -> bool {
	own.len() == committed.len() &&
		own.iter().zip(committed).all(|(a, b)| (a - b).abs() <= OUTPUT_TOLERANCE)
}

/// The committed output bytes (f32 little-endian) as values; `None` if not a whole number of f32.
pub fn output_values(bytes: &[u8]) -> Option<Vec<f32>> {
	bytes.len().is_multiple_of(4).then(|| {
		bytes
			.chunks_exact(4)
			.map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
			.collect()
	})
}

/// What the walk over a provider's trace found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
	/// This element is ruled against the provider by `verify_element`.
	Fraud { node: NodeId, row: u32, col: u32 },
	/// The provider did not serve a row or an opening the walk needed; why.
	Withheld(String),
	/// No provable element; why.
	NoneFound(String),
}

/// This node's own execution of a task, as the descent strategy reads it.
pub struct OwnExecution {
	model: Arc<Model>,
	/// The model's graph at the task's length.
	graph: Graph,
	/// Every node's output, row-major.
	outputs: Vec<Vec<f32>>,
}

impl OwnExecution {
	/// Keeps `trace` (this node's execution of a task of `model`) for a descent.
	pub fn new(model: Arc<Model>, trace: &Trace) -> Result<Self, String> {
		let outputs = trace.outputs().map_err(|e| e.to_string())?.into_owned();
		let graph = model.template.instantiate(trace.seq_len);
		Ok(Self { model, graph, outputs })
	}

	/// Re-executes `input` (token ids) on `model`.
	pub fn run(model: Arc<Model>, input: &[u32]) -> Result<Self, String> {
		let input = model.input_of_ids(input).map_err(|e| e.to_string())?;
		let trace = engine::run(&model, &[input], Mode::Traced)
			.map_err(|e| e.to_string())?
			.pop()
			.and_then(|e| e.trace)
			.ok_or("the engine returned no trace")?;
		Self::new(model, &trace)
	}

	/// Re-executes a committed generation: `prompt` and `tokens` teacher-forced (its trace).
	pub fn run_generation(
		model: Arc<Model>,
		prompt: &[u32],
		tokens: &[u32],
	) -> Result<Self, String> {
		let trace = decode::teacher_forced(&model, prompt, tokens, |_, _| Ok(()))
			.map_err(|e| e.to_string())?;
		Self::new(model, &trace)
	}

	/// The graph the task ran (the model's at its length).
	pub fn graph(&self) -> &Graph {
		&self.graph
	}

	/// Where to start a descent against `committed_output`: the output element farthest from
	/// this execution's relative to its bound; the final node's first element when the output
	/// does not even have the final node's size (it loses there on its own).
	pub fn first_element(&self, slack: f32, committed_output: &[f32]) -> (NodeId, u32, u32) {
		first_element(&self.graph, self, slack, committed_output).unwrap_or((
			self.graph.nodes.len().saturating_sub(1) as NodeId,
			0,
			0,
		))
	}

	/// The element to name among the rows the provider's last answer `opened`.
	pub fn next_element(
		&self,
		slack: f32,
		opened: &[(NodeId, u32, Vec<f32>)],
	) -> Option<(NodeId, u32, u32)> {
		next_element(&self.graph, self, slack, opened)
	}
}

impl OwnRun for OwnExecution {
	fn trace_row(&self, node: NodeId, row: u32) -> Option<Vec<f32>> {
		let width = self.graph.node(node)?.shape.width() as usize;
		let start = row as usize * width;
		self.outputs.get(node as usize)?.get(start..start + width).map(<[f32]>::to_vec)
	}

	fn weight_row(&self, tensor: WeightId, row: u32) -> Option<Vec<f32>> {
		self.model.weight_row(tensor, row).map(|r| r.into_owned())
	}
}

/// Walks the provider's trace (`remote`) against this node's own `trace` of the same input and
/// returns the first element the runtime would rule against the provider, with the model's
/// registered `slack` and `max_row_width`.
///
/// First the final node against the committed output: an element whose committed trace value
/// is not the committed output loses on its own (docs/protocol.md, "The output is the trace's
/// final node"). Then every node in graph order against this node's own execution.
pub fn find_fault(
	model: &Model,
	own: &Trace,
	task: &TaskCommitments,
	slack: f32,
	max_row_width: u32,
	remote: &dyn RemoteTrace,
) -> Finding {
	let graph = model.template.instantiate(own.seq_len);
	let registered = RegisteredModel {
		graph: &model.template,
		model_root: &model.commitment.model_root,
		slack,
		max_row_width,
	};
	let mut honest = 0usize;
	let mut unverifiable = 0usize;
	let mut judge = |id: NodeId, row: u32, col: u32| -> Option<Finding> {
		let opening = match remote.opening(id, row, col) {
			Ok(o) => o,
			Err(e) =>
				return Some(Finding::Withheld(format!(
					"the provider does not open ({id}, {row}, {col}): {e}"
				))),
		};
		match verify_element(&registered, task, (id, row, col), &opening).ruling() {
			Ruling::ProviderLoses(_) => return Some(Finding::Fraud { node: id, row, col }),
			Ruling::ProviderWins => honest += 1,
			Ruling::Refused => unverifiable += 1,
		}
		(honest + unverifiable >= MAX_HONEST_OPENINGS).then(|| {
			Finding::NoneFound(format!(
				"{honest} differing elements verify within the bound and {unverifiable} openings do not verify; giving up"
			))
		})
	};
	let committed = output_values(task.output).unwrap_or_default();
	if let Some(last) = graph.nodes.len().checked_sub(1) {
		let width = graph.nodes[last].shape.width() as usize;
		for row in 0..graph.nodes[last].shape.rows() as u32 {
			let theirs = match remote.row(last as NodeId, row) {
				Ok(v) => v,
				Err(e) =>
					return Finding::Withheld(format!(
						"the provider does not serve its output row {row}: {e}"
					)),
			};
			let start = row as usize * width;
			let committed_row = committed.get(start..start + width).unwrap_or_default();
			for col in columns_not_committed(&theirs, committed_row) {
				if let Some(found) = judge(last as NodeId, row, col) {
					return found;
				}
			}
		}
	}
	// Inputs included: a trace of another input breaks first at an input node.
	for (id, node) in graph.nodes.iter().enumerate() {
		let id = id as NodeId;
		let width = node.shape.width() as usize;
		let Ok(mine) = own.node_output(id as usize) else { break };
		for row in 0..node.shape.rows() as u32 {
			let start = row as usize * width;
			let Some(mine) = mine.get(start..start + width) else { break };
			let theirs = match remote.row(id, row) {
				Ok(v) => v,
				Err(e) =>
					return Finding::Withheld(format!(
						"the provider does not serve node {id} row {row}: {e}"
					)),
			};
			for col in differing_columns(mine, &theirs) {
				if let Some(found) = judge(id, row, col) {
					return found;
				}
			}
		}
	}
	Finding::NoneFound(format!(
		"every element is consistent with the provider's own inputs ({honest} differing elements within the bound, {unverifiable} openings that do not verify)"
	))
}

/// Columns of the provider's final row whose bits are not the committed output's (the first
/// few); a row of another width than the committed one yields its first column.
fn columns_not_committed(theirs: &[f32], committed: &[f32]) -> Vec<u32> {
	if theirs.len() != committed.len() {
		return Vec::from([0]);
	}
	theirs
		.iter()
		.zip(committed)
		.enumerate()
		.filter(|(_, (a, b))| a.to_bits() != b.to_bits())
		.map(|(c, _)| c as u32)
		.take(COLUMNS_PER_ROW)
		.collect()
}

/// Columns of a row worth opening: those differing beyond rounding (or whose value is not
/// finite), largest difference first; a row of the wrong width yields its first column.
fn differing_columns(mine: &[f32], theirs: &[f32]) -> Vec<u32> {
	if mine.len() != theirs.len() {
		return Vec::from([0]);
	}
	let mut cols: Vec<(f32, u32)> = mine
		.iter()
		.zip(theirs)
		.enumerate()
		.filter_map(|(c, (a, b))| {
			let diff = (a - b).abs();
			let differs = !b.is_finite() || diff > ROW_TOLERANCE * (1.0 + a.abs());
			differs.then_some((if diff.is_nan() { f32::INFINITY } else { diff }, c as u32))
		})
		.collect();
	cols.sort_by(|x, y| y.0.total_cmp(&x.0));
	cols.into_iter().take(COLUMNS_PER_ROW).map(|(_, c)| c).collect()
}

/// What one check found, with the execution a descent needs when the provider withholds.
pub struct Checked {
	pub status: WatchStatus,
	/// This node's own execution, kept when `status` is [`WatchStatus::Withheld`].
	pub own: Option<Arc<OwnExecution>>,
}

/// Checks one committed result: re-execute, compare, walk the provider's trace if needed, and
/// when the provider does not serve it, name the output element to start a descent at.
pub fn check(model: &Arc<Model>, request: &WatchRequest, connect: &Connect) -> Checked {
	if let Some(job) = request.generation {
		return check_generation(model, request, job);
	}
	let status = |status| Checked { status, own: None };
	let inconclusive = |why: String| status(WatchStatus::Inconclusive(why.into_bytes()));
	let input = match model.input_of_ids(&request.input) {
		Ok(i) => i,
		Err(e) => return inconclusive(format!("the input cannot be run here: {e}")),
	};
	let own = match engine::run(model, &[input], Mode::Traced)
		.map(|mut e| e.pop().and_then(|e| e.trace))
	{
		Ok(Some(trace)) => trace,
		Ok(None) => return inconclusive("the engine returned no trace".into()),
		Err(e) => return inconclusive(format!("re-execution failed: {e}")),
	};
	let own_output = own.output().unwrap_or_default();
	let committed = output_values(&request.output);
	match &committed {
		Some(committed) if outputs_agree(&own_output, committed) =>
			return status(WatchStatus::Clean),
		_ => {},
	}
	let slack = f32::from_bits(request.slack_bits);
	let descend = |why: String| -> Checked {
		let own = match OwnExecution::new(model.clone(), &own) {
			Ok(own) => Arc::new(own),
			Err(e) => return inconclusive(format!("{why}; the own execution is unreadable: {e}")),
		};
		let (node, row, col) = own.first_element(slack, committed.as_deref().unwrap_or_default());
		log::info!(target: "arbiter::watcher", "task {}: {why}", request.task);
		Checked { status: WatchStatus::Withheld { node, row, col }, own: Some(own) }
	};
	// Until the provider's first answer fixes its trace root, the rows it serves prove
	// nothing: it could serve one trace and open another on chain. Descend from the output.
	let Some(trace_root) = request.trace_root else {
		return descend("the output differs and the trace root is not fixed yet".into());
	};
	let endpoint = String::from_utf8_lossy(&request.endpoint).to_string();
	let remote = match connect(&endpoint, request.task) {
		Ok(r) => r,
		Err(e) => return descend(format!("cannot reach the provider at {endpoint}: {e}")),
	};
	let task =
		TaskCommitments { trace_root: &trace_root, output: &request.output, input: &request.input };
	match find_fault(model, &own, &task, slack, request.max_row_width, remote.as_ref()) {
		Finding::Fraud { node, row, col } => status(WatchStatus::Fraud { node, row, col }),
		Finding::Withheld(why) => descend(why),
		Finding::NoneFound(why) => inconclusive(format!("the output differs, but {why}")),
	}
}

/// What checking a generation's token choices found.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenFinding {
	/// The first step whose committed token this node's own choice beats by more than the band
	/// and [`TOKEN_TOLERANCE`], with that choice (the rival to name).
	pub wrong: Option<(u32, u32)>,
	/// Steps whose committed token is not this node's choice but within that margin: near ties
	/// an honest provider may have chosen otherwise, not challenged.
	pub near_ties: Vec<u32>,
}

/// Checks every token choice of a committed generation (`prompt`, `tokens`) against this node's
/// own hidden rows, decoding teacher-forced: each step's row is computed from the provider's own
/// earlier tokens, so one near tie does not hide a later wrong choice. `slack` is the model's
/// registered slack. Returns the finding and this node's trace of the generation (what a
/// descent into the provider's hidden rows compares with).
pub fn check_token_choices(
	model: &Model,
	prompt: &[u32],
	tokens: &[u32],
	sampling: TokenSampling,
	slack: f32,
) -> Result<(TokenFinding, Trace), String> {
	let table = lm_head(&model.template).ok_or("the model has no tied LM head")?;
	let slack = if slack.is_finite() { (slack as f64).abs() } else { 0.0 };
	let mut finding = TokenFinding { wrong: None, near_ties: Vec::new() };
	let trace = decode::teacher_forced(model, prompt, tokens, |step, hidden| {
		if finding.wrong.is_some() {
			return Ok(());
		}
		let logits = decode::logits(model, hidden)?;
		let own = decode::choose(&logits, Sampling::from_chain(sampling), step);
		let committed = tokens[step as usize];
		if own == committed {
			return Ok(());
		}
		let row = |token: u32| {
			model.weight_row(table, token).ok_or_else(|| {
				EngineError::InvalidInput(format!("token {token} is not in the vocabulary"))
			})
		};
		let (committed_row, own_row) = (row(committed)?, row(own)?);
		let gap = token_choice_gap(
			hidden,
			(committed, &committed_row),
			(own, &own_row),
			sampling,
			step,
			slack,
		);
		if gap.excess > gap.allowed + TOKEN_TOLERANCE * gap.scale {
			finding.wrong = Some((step, own));
		} else {
			finding.near_ties.push(step);
		}
		Ok(())
	})
	.map_err(|e| e.to_string())?;
	Ok((finding, trace))
}

/// Checks a committed generation by its token choices ([`check_token_choices`]); a wrong one is
/// challenged as a token choice, and this node's execution kept for the descent that follows if
/// the provider's answer stands.
fn check_generation(model: &Arc<Model>, request: &WatchRequest, job: GenerationJob) -> Checked {
	let inconclusive =
		|why: String| Checked { status: WatchStatus::Inconclusive(why.into_bytes()), own: None };
	let Some(tokens) = tokens_of_output(&request.output) else {
		return inconclusive("the committed output is not whole tokens".into());
	};
	let slack = f32::from_bits(request.slack_bits);
	let (finding, trace) =
		match check_token_choices(model, &request.input, &tokens, job.sampling, slack) {
			Ok(checked) => checked,
			Err(e) => return inconclusive(format!("re-execution failed: {e}")),
		};
	if !finding.near_ties.is_empty() {
		log::info!(target: "arbiter::watcher", "task {}: near ties not challenged at steps {:?}", request.task, finding.near_ties);
	}
	let Some((step, rival)) = finding.wrong else {
		return Checked { status: WatchStatus::Clean, own: None };
	};
	match OwnExecution::new(model.clone(), &trace) {
		Ok(own) =>
			Checked { status: WatchStatus::TokenChoice { step, rival }, own: Some(Arc::new(own)) },
		Err(e) => inconclusive(format!("the own execution is unreadable: {e}")),
	}
}

/// The element to name at a descent step, from `own` (this node's execution of the task).
pub fn descent_step(own: &OwnExecution, request: &DescentRequest) -> DescentStep {
	let opened: Vec<(NodeId, u32, Vec<f32>)> = request
		.opened
		.iter()
		.map(|(node, row, bits)| (*node, *row, bits.iter().map(|b| f32::from_bits(*b)).collect()))
		.collect();
	match own.next_element(f32::from_bits(request.slack_bits), &opened) {
		Some((node, row, col)) => DescentStep::Next { node, row, col },
		None => DescentStep::Nothing(b"no computed element among the opened rows".to_vec()),
	}
}

/// Whether `task` is in the sample: a hash of the task id and this node's salt, below `rate`.
pub fn sampled(task: u64, salt: u64, rate: f64) -> bool {
	if rate >= 1.0 {
		return true;
	}
	let mut h = blake2b_simd::Params::new().hash_length(8).to_state();
	h.update(&salt.to_le_bytes()).update(&task.to_le_bytes());
	let bytes = h.finalize();
	let mut x = [0u8; 8];
	x.copy_from_slice(bytes.as_bytes().get(..8).unwrap_or(&[0; 8]));
	(u64::from_le_bytes(x) as f64 / u64::MAX as f64) < rate
}

/// A task's check: its latest status, when that was set, and how many checks ran.
struct CheckRecord {
	status: WatchStatus,
	at: std::time::Instant,
	attempts: u32,
}

/// Work for the watcher's thread.
enum Work {
	/// Check a committed result.
	Check(Arc<Model>, WatchRequest),
	/// Re-execute a task a descent needs (its execution was evicted, or the node restarted):
	/// its input, and a generation's committed tokens.
	Reexecute(Arc<Model>, DescentKey, Vec<u32>, Option<Vec<u32>>),
}

/// A check's key: the task and [`result_key`] of its committed result (a reassigned task's new
/// result is checked afresh, never judged by a finding against the previous provider; a result
/// whose trace root was fixed since is checked again, now against that root).
type CheckKey = (u64, [u8; 32]);

/// An own execution's key: the task and its model's root (the execution depends on nothing
/// else: it serves every result committed for the task).
type DescentKey = (u64, [u8; 32]);

/// What a check is keyed by besides the task: a hash of the committed output and trace root.
pub fn result_key(request: &WatchRequest) -> [u8; 32] {
	let mut h = blake2b_simd::Params::new().hash_length(32).to_state();
	h.update(b"arbiter/watched-result/v1");
	h.update(&(request.output.len() as u64).to_le_bytes());
	h.update(&request.output);
	match &request.trace_root {
		Some(root) => h.update(&[1]).update(root),
		None => h.update(&[0]),
	};
	let mut out = [0u8; 32];
	out.copy_from_slice(h.finalize().as_bytes());
	out
}

#[derive(Default)]
struct State {
	queue: VecDeque<Work>,
	results: HashMap<CheckKey, CheckRecord>,
	/// Keys in `results`, oldest first (for eviction).
	order: VecDeque<CheckKey>,
	/// Own executions of tasks in a descent (`None`: being re-executed), and their keys, oldest
	/// first.
	descents: HashMap<DescentKey, Option<Arc<OwnExecution>>>,
	descent_order: VecDeque<DescentKey>,
	stopping: bool,
}

struct Shared {
	state: Mutex<State>,
	wake: Condvar,
	connect: Box<Connect>,
	sample_rate: f64,
	salt: u64,
	retry_after: std::time::Duration,
}

/// The watcher service: checks run on their own thread; the off-chain worker polls.
#[derive(Clone)]
pub struct Watcher {
	shared: Arc<Shared>,
	jobs: JobService,
	_thread: Arc<ServiceThread>,
}

impl Stop for Shared {
	fn request_stop(&self) {
		stop_and_wake(&self.state, &self.wake, |s| s.stopping = true);
	}
}

impl Watcher {
	/// A watcher over the models of `jobs`, checking a `sample_rate` share of tasks (chosen by a
	/// hash with `salt`, so different watchers check different tasks), reaching providers with
	/// `connect`; an inconclusive check is retried after `retry_after` (at most
	/// [`MAX_ATTEMPTS`] checks per task).
	pub fn start(
		jobs: JobService,
		sample_rate: f64,
		salt: u64,
		retry_after: std::time::Duration,
		connect: Box<Connect>,
	) -> Self {
		let shared = Arc::new(Shared {
			state: Mutex::new(State::default()),
			wake: Condvar::new(),
			connect,
			sample_rate,
			salt,
			retry_after,
		});
		let thread = ServiceThread::spawn("arbiter-watcher", shared.clone(), run);
		Self { shared, jobs, _thread: Arc::new(thread) }
	}

	/// Starts checking `request` (once per task and committed result (output and trace root), again
	/// if inconclusive: see [`Watcher::start`]; a result this node audits whatever the sample
	/// rate), or reports the check's state. `None`: the model is not loaded here.
	pub fn watch(&self, request: WatchRequest) -> Option<WatchStatus> {
		let model = self.jobs.model(request.model_root)?;
		let Ok(mut state) = self.shared.state.lock() else {
			return Some(WatchStatus::Inconclusive(b"watcher state poisoned".to_vec()));
		};
		let check_key = (request.task, result_key(&request));
		let attempts = match state.results.get(&check_key) {
			Some(c)
				if matches!(c.status, WatchStatus::Inconclusive(_)) &&
					c.attempts < MAX_ATTEMPTS &&
					c.at.elapsed() >= self.shared.retry_after =>
				c.attempts,
			// Drawn to audit a result the sample skipped: checked now.
			Some(c) if request.audit && c.status == WatchStatus::Skipped => c.attempts,
			Some(c) => return Some(c.status.clone()),
			None => 0,
		};
		let status =
			if request.audit || sampled(request.task, self.shared.salt, self.shared.sample_rate) {
				WatchStatus::Running
			} else {
				WatchStatus::Skipped
			};
		remember(
			&mut state,
			check_key,
			status.clone(),
			attempts + u32::from(status == WatchStatus::Running),
		);
		if status == WatchStatus::Running {
			state.queue.push_back(Work::Check(model, request));
			drop(state);
			self.shared.wake.notify_one();
		}
		Some(status)
	}

	/// The element to name at a descent step of `request`'s task, from this node's own
	/// execution of it (re-executed on the watcher's thread when not kept: `Running` until
	/// then). `None`: the model is not loaded here.
	pub fn descend(&self, request: DescentRequest) -> Option<DescentStep> {
		let model = self.jobs.model(request.model_root)?;
		let key = (request.task, request.model_root);
		let own = {
			let Ok(mut state) = self.shared.state.lock() else {
				return Some(DescentStep::Nothing(b"watcher state poisoned".to_vec()));
			};
			match state.descents.get(&key) {
				Some(Some(own)) => own.clone(),
				Some(None) => return Some(DescentStep::Running),
				None => {
					keep_descent(&mut state, key, None);
					state.queue.push_back(Work::Reexecute(
						model,
						key,
						request.input.clone(),
						request.tokens.clone(),
					));
					drop(state);
					self.shared.wake.notify_one();
					return Some(DescentStep::Running);
				},
			}
		};
		Some(descent_step(&own, &request))
	}
}

fn keep_descent(state: &mut State, key: DescentKey, own: Option<Arc<OwnExecution>>) {
	if state.descents.insert(key, own).is_none() {
		state.descent_order.push_back(key);
	}
	while state.descent_order.len() > MAX_DESCENT_RUNS {
		if let Some(old) = state.descent_order.pop_front() {
			state.descents.remove(&old);
		}
	}
}

fn remember(state: &mut State, key: CheckKey, status: WatchStatus, attempts: u32) {
	let checked = CheckRecord { status, at: std::time::Instant::now(), attempts };
	if state.results.insert(key, checked).is_none() {
		state.order.push_back(key);
	}
	while state.order.len() > MAX_RESULTS {
		if let Some(old) = state.order.pop_front() {
			state.results.remove(&old);
		}
	}
}

fn run(shared: Arc<Shared>) {
	loop {
		let work = {
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
			let Some(next) = state.queue.pop_front() else { continue };
			next
		};
		match work {
			Work::Check(model, request) => run_check(&shared, &model, &request),
			Work::Reexecute(model, key, input, tokens) => {
				let run = match &tokens {
					Some(tokens) => OwnExecution::run_generation(model, &input, tokens),
					None => OwnExecution::run(model, &input),
				};
				let own = match run {
					Ok(own) => Some(Arc::new(own)),
					Err(e) => {
						log::warn!(target: "arbiter::watcher", "task {}: re-execution for the descent failed: {e}", key.0);
						None
					},
				};
				if let Ok(mut state) = shared.state.lock() {
					match own {
						Some(own) => keep_descent(&mut state, key, Some(own)),
						// Asked again at the next step.
						None => {
							state.descents.remove(&key);
						},
					}
				}
			},
		}
	}
}

fn run_check(shared: &Shared, model: &Arc<Model>, request: &WatchRequest) {
	let Checked { status, own } = check(model, request, shared.connect.as_ref());
	match &status {
		WatchStatus::Fraud { node, row, col } => {
			log::warn!(target: "arbiter::watcher", "task {}: fraud at element ({node}, {row}, {col})", request.task)
		},
		WatchStatus::Withheld { node, row, col } => {
			log::warn!(target: "arbiter::watcher", "task {}: the output differs and the provider withholds its trace; descending from ({node}, {row}, {col})", request.task)
		},
		WatchStatus::TokenChoice { step, rival } => {
			log::warn!(target: "arbiter::watcher", "task {}: token {step} is beaten by token {rival} beyond the band", request.task)
		},
		WatchStatus::Inconclusive(why) => {
			log::warn!(target: "arbiter::watcher", "task {}: {}", request.task, String::from_utf8_lossy(why))
		},
		_ => log::debug!(target: "arbiter::watcher", "task {}: {status:?}", request.task),
	}
	if let Ok(mut state) = shared.state.lock() {
		let key = (request.task, result_key(request));
		let attempts = state.results.get(&key).map(|c| c.attempts).unwrap_or(1);
		remember(&mut state, key, status, attempts);
		if let Some(own) = own {
			keep_descent(&mut state, (request.task, request.model_root), Some(own));
		}
	}
}
