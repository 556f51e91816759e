//! What a provider keeps to answer a challenge long after it ran a task (and after a restart):
//! not the trace, which is 5.7 MiB for a 21-token MiniLM task and 117 MiB at 256 tokens, but a
//! replay record of 179 bytes (884 at 256 tokens) from which the engine recomputes the
//! trace bit for bit: the model root, the engine's fingerprint, a hash of the output the run gave
//! and the task's token ids (docs/protocol.md, "Replay"). The provider commits the output alone
//! and fixes its trace root with its first answer to a dispute (docs/protocol.md, "The trace
//! root is fixed when first needed"), so a task is run plain, never traced, unless challenged. A
//! replay whose output is not, bit for bit, the recorded one is refused; the few most recently
//! used traces stay in memory (the replay cache).
//!
//! Records are bounded by count and bytes; the oldest are evicted first, except those of tasks
//! a challenge may still ask for ([`TraceStore::retain`]): the limits give way before an open
//! window does (docs/protocol.md, "Prices, jail and fees").
//!
//! Where the engine's results do not depend on the batch (the AVX-512 and AVX2 CPU paths:
//! `engine::batch_independent`) a task is replayed alone. Elsewhere (the portable path, whose
//! GEMM changes its summation with the matrix sizes, and CUDA) the record also lists the token
//! ids of every input of the task's batch, in order, and the replay runs that batch again.
//!
//! Record format: `"ARBRPL02"`, model root (32 bytes), engine fingerprint (32), the output's hash
//! ([`output_hash`], 32), seq_len (u32 LE), the number of inputs its batch had (u32 LE), token id
//! count (u32 LE), the ids (3 bytes LE each: ids are below 2^24), then — only where the batch is
//! replayed — the task's index in the batch (u32 LE) followed by each input's id count (u32 LE)
//! and ids. A generation task's record (`"ARBGEN01"`, the same header) holds the prompt and every
//! committed token as its ids, then the prompt's length (u32 LE) and the sampling (a kind byte,
//! 0 greedy or 1 Gumbel, the temperature's f32 bits as u32 LE, the seed as u64 LE); its output
//! hash is [`tokens_hash`] of the tokens, and it is replayed alone by decoding
//! (`decode::replay_generation`, whose results never depend on a batch). Records are appended to
//! a log of segment files (`record_log`), not written one file each: creating a file cost more
//! CPU than the forward pass it recorded.

use std::{
	collections::{HashSet, VecDeque},
	path::{Path, PathBuf},
	sync::{Arc, Mutex},
};

use arbiter_primitives::{
	token_choice::{GenerationCommitments, TokenSampling},
	Hash, NodeId, Opening,
};

use crate::{
	decode::{self, Sampling},
	engine::{self, Mode},
	error::{io_err, EngineError, Result},
	model::Model,
	record_log::RecordLog,
	trace::{Trace, TraceRow},
};

const MAGIC: &[u8; 8] = b"ARBRPL02";
const GENERATION_MAGIC: &[u8; 8] = b"ARBGEN01";
/// Bytes a generation record adds after the ids: prompt length, sampling kind, temperature
/// bits, seed.
const GENERATION_TAIL: usize = 4 + 1 + 4 + 8;
/// Bytes before the token ids.
const HEADER: usize = 8 + 32 + 32 + 32 + 4 + 4 + 4;
/// Bytes a token id takes: ids are below 2^24 (the registry's `MAX_VOCABULARY`), so a record
/// of MiniLM's longest input (256 ids) stays under 1 KiB (884 bytes).
const ID_BYTES: usize = 3;
/// Traces kept in memory (the replay cache): 4 × 5.7 MiB for 21-token MiniLM tasks, at most
/// 4 × 117 MiB at 256 tokens.
const CACHE_ENTRIES: usize = 4;

/// Limits of a [`TraceStore`].
#[derive(Clone, Copy, Debug)]
pub struct StoreLimits {
	/// Replay records kept.
	pub max_traces: usize,
	/// Bytes of replay records kept.
	pub max_bytes: u64,
}

impl Default for StoreLimits {
	fn default() -> Self {
		Self { max_traces: 4096, max_bytes: 64 << 20 }
	}
}

/// What the engine's results depend on besides the model and the input: its build, CPU code
/// path and device. A replay on another fingerprint may give other bits; the store replays
/// records of another fingerprint before trusting them ([`TraceStore::check_replays`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fingerprint(pub Hash);

impl Fingerprint {
	/// This process's: the engine's version, the running executable's bytes, the CPU path
	/// (`ARBITER_CPU_PATH` or detected) and `device` (`cpu`, `cuda`).
	pub fn current(device: &str) -> Self {
		let mut h = blake2b_simd::Params::new().hash_length(32).to_state();
		h.update(b"arbiter/engine-fingerprint/v1");
		h.update(env!("CARGO_PKG_VERSION").as_bytes());
		match std::env::current_exe().and_then(std::fs::read) {
			Ok(bytes) => h.update(blake2b_simd::blake2b(&bytes).as_bytes()),
			Err(_) => h.update(b"unknown executable"),
		};
		h.update(crate::cpu::path().name().as_bytes());
		h.update(device.as_bytes());
		let mut out = [0u8; 32];
		out.copy_from_slice(h.finalize().as_bytes());
		Self(out)
	}
}

/// A task's replay record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayRecord {
	pub model_root: Hash,
	pub fingerprint: Fingerprint,
	/// [`output_hash`] of the output the run gave (before any test fault is applied).
	pub output_hash: Hash,
	pub seq_len: u32,
	/// How many inputs the batch the task ran in had.
	pub batch_len: u32,
	/// The task's token ids.
	pub ids: Vec<u32>,
	/// Where results depend on the batch: the task's index in it and every input's token ids,
	/// in order (the replay runs them again). `None`: the task is replayed alone.
	pub batch: Option<(u32, Vec<Vec<u32>>)>,
	/// A generation task's: `ids` are the prompt then the committed tokens.
	pub generation: Option<GenerationRecord>,
}

/// What a generation task's record adds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GenerationRecord {
	/// The prompt's length: `ids[..prompt_len]` is the prompt, the rest the committed tokens.
	pub prompt_len: u32,
	/// How the tokens were chosen (the task's).
	pub sampling: TokenSampling,
}

impl ReplayRecord {
	/// A generation task's prompt and committed tokens.
	pub fn prompt_and_tokens(&self) -> Option<(&[u32], &[u32])> {
		let g = self.generation?;
		(g.prompt_len as usize <= self.ids.len()).then(|| self.ids.split_at(g.prompt_len as usize))
	}
}

impl ReplayRecord {
	/// The record's bytes; fails for a token id of 2^24 or more (no registered vocabulary has
	/// one: the registry's `MAX_VOCABULARY`).
	fn encode(&self) -> Result<Vec<u8>> {
		let mut out = Vec::with_capacity(HEADER + self.ids.len() * ID_BYTES);
		let push_ids = |out: &mut Vec<u8>, ids: &[u32]| -> Result<()> {
			for id in ids {
				if *id >= 1 << 24 {
					return Err(EngineError::InvalidInput(format!(
						"token id {id} is not below 2^24"
					)));
				}
				out.extend_from_slice(&id.to_le_bytes()[..ID_BYTES]);
			}
			Ok(())
		};
		out.extend_from_slice(if self.generation.is_some() { GENERATION_MAGIC } else { MAGIC });
		out.extend_from_slice(&self.model_root);
		out.extend_from_slice(&self.fingerprint.0);
		out.extend_from_slice(&self.output_hash);
		for n in [self.seq_len, self.batch_len, self.ids.len() as u32] {
			out.extend_from_slice(&n.to_le_bytes());
		}
		push_ids(&mut out, &self.ids)?;
		if let Some(g) = &self.generation {
			out.extend_from_slice(&g.prompt_len.to_le_bytes());
			let (kind, temperature_bits, seed) = match g.sampling {
				TokenSampling::Greedy => (0u8, 0u32, 0u64),
				TokenSampling::Gumbel { temperature_bits, seed } => (1, temperature_bits, seed),
			};
			out.push(kind);
			out.extend_from_slice(&temperature_bits.to_le_bytes());
			out.extend_from_slice(&seed.to_le_bytes());
		}
		if let Some((index, inputs)) = &self.batch {
			out.extend_from_slice(&index.to_le_bytes());
			for input in inputs {
				out.extend_from_slice(&(input.len() as u32).to_le_bytes());
				push_ids(&mut out, input)?;
			}
		}
		Ok(out)
	}

	fn decode(bytes: &[u8]) -> std::result::Result<Self, &'static str> {
		let hash = |at: usize| -> std::result::Result<Hash, &'static str> {
			bytes.get(at..at + 32).and_then(|b| b.try_into().ok()).ok_or("truncated")
		};
		let word = |at: usize| -> std::result::Result<u32, &'static str> {
			bytes
				.get(at..at + 4)
				.and_then(|b| b.try_into().ok())
				.map(u32::from_le_bytes)
				.ok_or("truncated")
		};
		let generation = match bytes.get(..8) {
			Some(m) if m == MAGIC.as_slice() => false,
			Some(m) if m == GENERATION_MAGIC.as_slice() => true,
			_ => return Err("not a replay record"),
		};
		let ids_at = |at: usize, count: usize| -> std::result::Result<Vec<u32>, &'static str> {
			let end =
				count.checked_mul(ID_BYTES).and_then(|n| n.checked_add(at)).ok_or("truncated")?;
			let bytes = bytes.get(at..end).ok_or("truncated")?;
			Ok(bytes
				.chunks_exact(ID_BYTES)
				.map(|b| u32::from_le_bytes([b[0], b[1], b[2], 0]))
				.collect())
		};
		let count = word(HEADER - 4)? as usize;
		let ids = ids_at(HEADER, count)?;
		let mut at = HEADER + count * ID_BYTES;
		let generation = if generation {
			let tail = bytes.get(at..at + GENERATION_TAIL).ok_or("truncated")?;
			at += GENERATION_TAIL;
			let prompt_len = word(at - GENERATION_TAIL)?;
			let temperature_bits = word(at - GENERATION_TAIL + 5)?;
			let mut seed = [0u8; 8];
			seed.copy_from_slice(&tail[9..]);
			let sampling = match tail[4] {
				0 => TokenSampling::Greedy,
				1 => TokenSampling::Gumbel { temperature_bits, seed: u64::from_le_bytes(seed) },
				_ => return Err("unknown sampling"),
			};
			if prompt_len == 0 || prompt_len as usize >= ids.len() {
				return Err("a generation record without prompt or tokens");
			}
			Some(GenerationRecord { prompt_len, sampling })
		} else {
			None
		};
		let batch = if at == bytes.len() {
			None
		} else {
			let index = word(at)?;
			at += 4;
			let mut inputs = Vec::new();
			while at < bytes.len() {
				let len = word(at)? as usize;
				inputs.push(ids_at(at + 4, len)?);
				at += 4 + len * ID_BYTES;
			}
			if inputs.get(index as usize) != Some(&ids) {
				return Err("the batch does not hold the task's ids at its index");
			}
			Some((index, inputs))
		};
		Ok(Self {
			model_root: hash(8)?,
			fingerprint: Fingerprint(hash(40)?),
			output_hash: hash(72)?,
			seq_len: word(104)?,
			batch_len: word(108)?,
			ids,
			batch,
			generation,
		})
	}
}

/// The store of replay records, with its replay cache.
pub struct TraceStore {
	dir: PathBuf,
	limits: StoreLimits,
	fingerprint: Fingerprint,
	/// The records, appended to segment files and indexed in memory.
	log: Mutex<RecordLog>,
	cache: Mutex<VecDeque<(u64, Arc<Trace>)>>,
	/// Tasks whose records are never evicted (still assigned, committed or disputed).
	retained: Mutex<HashSet<u64>>,
}

impl TraceStore {
	/// Opens (creating) the store in `dir`, recording this process's CPU fingerprint.
	pub fn open(dir: &Path, limits: StoreLimits) -> Result<Self> {
		Self::open_as(dir, limits, Fingerprint::current("cpu"))
	}

	/// Opens (creating) the store in `dir` for an engine of `fingerprint`.
	pub fn open_as(dir: &Path, limits: StoreLimits, fingerprint: Fingerprint) -> Result<Self> {
		std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
		// Earlier layouts, no longer read: whole traces (`task-<id>.trace`), then one replay
		// record per file (`task-<id>.replay`).
		let (mut traces, mut per_task) = (0usize, 0usize);
		for entry in std::fs::read_dir(dir).map_err(|e| io_err(dir, e))?.filter_map(|e| e.ok()) {
			let name = entry.file_name();
			let name = name.to_string_lossy();
			traces += usize::from(name.ends_with(".trace"));
			per_task += usize::from(name.ends_with(".replay"));
		}
		if traces + per_task > 0 {
			log::warn!(
				target: "arbiter-inference",
				"{traces} stored traces and {per_task} replay records of earlier layouts in {} are no longer read (challenges of their tasks cannot be answered); delete them",
				dir.display()
			);
		}
		let log = RecordLog::open(dir, limits.max_traces, limits.max_bytes)?;
		Ok(Self {
			dir: dir.to_path_buf(),
			limits,
			fingerprint,
			log: Mutex::new(log),
			cache: Mutex::new(VecDeque::new()),
			retained: Mutex::new(HashSet::new()),
		})
	}

	/// The fingerprint new records get.
	pub fn fingerprint(&self) -> Fingerprint {
		self.fingerprint
	}

	/// Never evicts the records of `tasks` (replacing the previous set): the provider's worker
	/// passes its tasks that are still assigned, committed or disputed every block.
	pub fn retain(&self, tasks: Vec<u64>) {
		if let Ok(mut retained) = self.retained.lock() {
			*retained = tasks.into_iter().collect();
		}
	}

	/// [`TraceStore::put_output`] for a traced run.
	pub fn put(
		&self,
		task: u64,
		model: &Model,
		trace: &Trace,
		batch: &[&[u32]],
		index: usize,
	) -> Result<()> {
		self.put_output(task, model, &trace.output()?, batch, index)
	}

	/// Records how to replay `task`, input `index` of `batch` (every input's token ids, in the
	/// order they ran), whose run gave `output`, then evicts the oldest records beyond the
	/// limits. Nothing of the run is kept but the output's hash: a replay recomputes the trace.
	pub fn put_output(
		&self,
		task: u64,
		model: &Model,
		output: &[f32],
		batch: &[&[u32]],
		index: usize,
	) -> Result<()> {
		let ids = batch
			.get(index)
			.ok_or_else(|| EngineError::Internal("a task outside its batch".into()))?;
		let replayed_alone = batch.len() == 1 || engine::batch_independent(&model.device);
		let record = ReplayRecord {
			model_root: model.commitment.model_root,
			fingerprint: self.fingerprint,
			output_hash: output_hash(output),
			seq_len: ids.len() as u32,
			batch_len: batch.len() as u32,
			ids: ids.to_vec(),
			batch: (!replayed_alone)
				.then(|| (index as u32, batch.iter().map(|ids| ids.to_vec()).collect())),
			generation: None,
		};
		self.write(task, &record)?;
		if let Ok(mut cache) = self.cache.lock() {
			cache.retain(|(t, _)| *t != task);
		}
		self.evict(task)
	}

	/// Records how to replay generation task `task`: its `prompt`, the `tokens` it committed and
	/// its `sampling`. A replay decodes them again and checks every choice
	/// (`decode::replay_generation`).
	pub fn put_generation(
		&self,
		task: u64,
		model: &Model,
		prompt: &[u32],
		tokens: &[u32],
		sampling: TokenSampling,
	) -> Result<()> {
		if prompt.is_empty() || tokens.is_empty() {
			return Err(EngineError::InvalidInput("a generation without prompt or tokens".into()));
		}
		let record = ReplayRecord {
			model_root: model.commitment.model_root,
			fingerprint: self.fingerprint,
			output_hash: tokens_hash(tokens),
			seq_len: (prompt.len() + tokens.len() - 1) as u32,
			batch_len: 1,
			ids: [prompt, tokens].concat(),
			batch: None,
			generation: Some(GenerationRecord { prompt_len: prompt.len() as u32, sampling }),
		};
		self.write(task, &record)?;
		if let Ok(mut cache) = self.cache.lock() {
			cache.retain(|(t, _)| *t != task);
		}
		self.evict(task)
	}

	fn log(&self) -> Result<std::sync::MutexGuard<'_, RecordLog>> {
		self.log
			.lock()
			.map_err(|_| EngineError::Store("trace store log poisoned".into()))
	}

	/// Appends `record` as `task`'s.
	fn write(&self, task: u64, record: &ReplayRecord) -> Result<()> {
		self.log()?.append(task, &record.encode()?)
	}

	fn cache_insert(&self, task: u64, trace: Arc<Trace>) {
		if let Ok(mut cache) = self.cache.lock() {
			cache.retain(|(t, _)| *t != task);
			cache.push_front((task, trace));
			cache.truncate(CACHE_ENTRIES);
		}
	}

	fn evict(&self, keep: u64) -> Result<()> {
		let retained = self
			.retained
			.lock()
			.map_err(|_| EngineError::Store("trace store retained set poisoned".into()))?;
		let keep = |t: u64| t == keep || retained.contains(&t);
		let dropped = self.log()?.evict(&keep, self.limits.max_traces, self.limits.max_bytes)?;
		drop(retained);
		if let Ok(mut cache) = self.cache.lock() {
			cache.retain(|(t, _)| !dropped.contains(t));
		}
		Ok(())
	}

	/// Task ids stored, oldest first.
	pub fn tasks(&self) -> Result<Vec<u64>> {
		Ok(self.log()?.tasks())
	}

	/// The file, byte offset and length of `task`'s record (for tools and tests).
	pub fn record_location(&self, task: u64) -> Result<(PathBuf, u64, u32)> {
		self.log()?.location(task).ok_or(EngineError::TraceNotFound(task))
	}

	/// Whether a record for `task` is stored.
	pub fn contains(&self, task: u64) -> bool {
		self.log().is_ok_and(|log| log.contains(task))
	}

	/// The replay record of `task`.
	pub fn record(&self, task: u64) -> Result<ReplayRecord> {
		let bytes = self.log()?.read(task)?.ok_or(EngineError::TraceNotFound(task))?;
		ReplayRecord::decode(&bytes).map_err(|why| {
			EngineError::Store(format!(
				"the record of task {task} in {}: {why}",
				self.dir.display()
			))
		})
	}

	/// The trace of `task`, checked to be of `model`: from the replay cache, or replayed from
	/// its record (one traced run of the task) and checked against the recorded output.
	pub fn get(&self, task: u64, model: &Model) -> Result<Arc<Trace>> {
		if let Ok(cache) = self.cache.lock() {
			if let Some((_, t)) = cache.iter().find(|(t, _)| *t == task) {
				return Ok(t.clone());
			}
		}
		let record = self.record(task)?;
		if record.model_root != model.commitment.model_root {
			return Err(EngineError::Store(format!(
				"the record of task {task} is of another model"
			)));
		}
		let trace = Arc::new(replay(model, &record)?);
		self.cache_insert(task, trace.clone());
		Ok(trace)
	}

	/// Replays every record made by an engine of another fingerprint (another build, CPU path
	/// or device) against the models loaded here: those that give their recorded output again,
	/// bit for bit, are re-recorded under this fingerprint; the tasks of those that do not (or
	/// whose model is not loaded) are returned, oldest first. A provider must not start with any:
	/// it could not answer a challenge of them (`arbiter-node` refuses to start).
	pub fn check_replays(&self, models: &[&Model]) -> Result<Vec<(u64, String)>> {
		let mut failed = Vec::new();
		for task in self.tasks()? {
			let record = match self.record(task) {
				Ok(r) => r,
				Err(e) => {
					failed.push((task, e.to_string()));
					continue;
				},
			};
			if record.fingerprint == self.fingerprint {
				continue;
			}
			let Some(model) = models.iter().find(|m| m.commitment.model_root == record.model_root)
			else {
				failed.push((task, "its model is not loaded".into()));
				continue;
			};
			match replay(model, &record) {
				Ok(trace) => {
					self.write(task, &ReplayRecord { fingerprint: self.fingerprint, ..record })?;
					self.cache_insert(task, Arc::new(trace));
				},
				Err(e) => failed.push((task, e.to_string())),
			}
		}
		Ok(failed)
	}

	/// The model root a record of `task` is of.
	pub fn model_root_of(&self, task: u64) -> Result<Hash> {
		Ok(self.record(task)?.model_root)
	}

	/// Row `row` of node `node` of `task`'s trace, with its proof.
	pub fn row(&self, task: u64, model: &Model, node: NodeId, row: u32) -> Result<TraceRow> {
		self.get(task, model)?.row(&model.template, node, row)
	}

	/// The opening of element `(node, row, col)` of `task`'s trace.
	pub fn opening(
		&self,
		task: u64,
		model: &Model,
		node: NodeId,
		row: u32,
		col: u32,
	) -> Result<Opening> {
		self.get(task, model)?.opening(model, node, row, col)
	}

	/// The answer to a token-choice dispute of generation task `task` at `step` against
	/// `rival`, from its replayed trace and its record's prompt, tokens and sampling.
	pub fn token_choice_opening(
		&self,
		task: u64,
		model: &Model,
		step: u32,
		rival: u32,
	) -> Result<Opening> {
		let record = self.record(task)?;
		let (Some(g), Some((prompt, tokens))) = (record.generation, record.prompt_and_tokens())
		else {
			return Err(EngineError::InvalidInput(format!("task {task} is not a generation")));
		};
		let trace = self.get(task, model)?;
		let commitments =
			GenerationCommitments { trace_root: &trace.root, prompt, tokens, sampling: g.sampling };
		trace.token_choice_opening(model, &commitments, step, rival)
	}
}

/// The hash a generation record keeps of the committed tokens (the output bytes they are
/// committed as).
pub fn tokens_hash(tokens: &[u32]) -> Hash {
	let bytes = arbiter_primitives::token_choice::output_of_tokens(tokens);
	let mut out = [0u8; 32];
	out.copy_from_slice(blake2b_simd::Params::new().hash_length(32).hash(&bytes).as_bytes());
	out
}

/// The hash a replay record keeps of a run's output (its f32 values, little-endian).
pub fn output_hash(output: &[f32]) -> Hash {
	let bytes: Vec<u8> = output.iter().flat_map(|v| v.to_le_bytes()).collect();
	let mut out = [0u8; 32];
	out.copy_from_slice(blake2b_simd::Params::new().hash_length(32).hash(&bytes).as_bytes());
	out
}

/// Runs `record`'s task again, traced (alone, or in its batch where the record lists it), and
/// checks its output is, bit for bit, the recorded one. The trace's root is then the one the
/// provider commits when challenged: every replay gives it, as the run is bit-exact.
pub fn replay(model: &Model, record: &ReplayRecord) -> Result<Trace> {
	if let (Some(g), Some((prompt, tokens))) = (record.generation, record.prompt_and_tokens()) {
		if tokens_hash(tokens) != record.output_hash {
			return Err(EngineError::Store(
				"a generation record whose tokens are not its hash's".into(),
			));
		}
		return decode::replay_generation(model, prompt, tokens, Sampling::from_chain(g.sampling));
	}
	let (index, inputs) = match &record.batch {
		Some((index, batch)) => (
			*index as usize,
			batch.iter().map(|ids| model.input_of_ids(ids)).collect::<Result<Vec<_>>>()?,
		),
		None => (0, Vec::from([model.input_of_ids(&record.ids)?])),
	};
	let trace = engine::run(model, &inputs, Mode::Traced)?
		.into_iter()
		.nth(index)
		.and_then(|e| e.trace)
		.ok_or_else(|| EngineError::Internal("a traced run without a trace".into()))?
		// Its own rows only: the batch's node outputs are dropped.
		.owned()?;
	let replayed = output_hash(&trace.output()?);
	if replayed != record.output_hash {
		return Err(EngineError::Store(format!(
			"the replay gives an output of hash 0x{}, not the recorded 0x{}: this engine cannot replay the task bit for bit",
			hex::encode(replayed),
			hex::encode(record.output_hash)
		)));
	}
	Ok(trace)
}
