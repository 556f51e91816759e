//! Traces of recent tasks on disk, so a provider can answer a challenge long after it ran the
//! task (and after a restart). Bounded by count and bytes; the oldest traces are evicted first,
//! except those of tasks a challenge may still ask for ([`TraceStore::retain`]): the limits give
//! way before an open window does (docs/protocol.md, "Prices, jail and fees").
//! A trace is stored as its node outputs and rebuilt (hashed again) when read; the few most
//! recently read stay in memory.
//!
//! File format (`task-<id>.trace`): `"ARBTRC01"`, model root (32 bytes), seq_len (u32 LE), node
//! count (u32 LE), then per node its value count (u64 LE) and values (f32 LE). Written to a
//! temporary file and renamed, so a crash never leaves a half trace under a task's name.

use std::{
	collections::{HashSet, VecDeque},
	io::{Read, Write},
	path::{Path, PathBuf},
	sync::{Arc, Mutex},
};

use arbiter_primitives::{NodeId, Opening};

use crate::{
	error::{io_err, EngineError, Result},
	model::Model,
	trace::{Trace, TraceRow},
};

const MAGIC: &[u8; 8] = b"ARBTRC01";
/// Traces kept decoded in memory.
const CACHE_ENTRIES: usize = 4;

/// Limits of a [`TraceStore`].
#[derive(Clone, Copy, Debug)]
pub struct StoreLimits {
	pub max_traces: usize,
	pub max_bytes: u64,
}

impl Default for StoreLimits {
	fn default() -> Self {
		Self { max_traces: 1024, max_bytes: 4 << 30 }
	}
}

/// The on-disk trace store.
pub struct TraceStore {
	dir: PathBuf,
	limits: StoreLimits,
	cache: Mutex<VecDeque<(u64, Arc<Trace>)>>,
	/// Tasks whose traces are never evicted (still assigned, committed or disputed).
	retained: Mutex<HashSet<u64>>,
}

fn file_name(task: u64) -> String {
	format!("task-{task:020}.trace")
}

impl TraceStore {
	/// Opens (creating) the store in `dir`.
	pub fn open(dir: &Path, limits: StoreLimits) -> Result<Self> {
		std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
		Ok(Self {
			dir: dir.to_path_buf(),
			limits,
			cache: Mutex::new(VecDeque::new()),
			retained: Mutex::new(HashSet::new()),
		})
	}

	/// Never evicts the traces of `tasks` (replacing the previous set): the provider's worker
	/// passes its tasks that are still assigned, committed or disputed every block.
	pub fn retain(&self, tasks: Vec<u64>) {
		if let Ok(mut retained) = self.retained.lock() {
			*retained = tasks.into_iter().collect();
		}
	}

	fn path(&self, task: u64) -> PathBuf {
		self.dir.join(file_name(task))
	}

	/// Stores the trace of `task` (replacing any), then evicts the oldest beyond the limits.
	pub fn put(&self, task: u64, model: &Model, trace: &Trace) -> Result<()> {
		let path = self.path(task);
		let tmp = self.dir.join(format!(".{}.tmp", file_name(task)));
		{
			let file = std::fs::File::create(&tmp).map_err(|e| io_err(&tmp, e))?;
			let mut w = std::io::BufWriter::new(file);
			let mut write = |bytes: &[u8]| w.write_all(bytes).map_err(|e| io_err(&tmp, e));
			write(MAGIC)?;
			write(&model.commitment.model_root)?;
			write(&trace.seq_len.to_le_bytes())?;
			write(&(trace.node_count() as u32).to_le_bytes())?;
			for k in 0..trace.node_count() {
				trace.with_node_rows(k, |rows| {
					let len: usize = rows.iter().map(|r| r.len()).sum();
					write(&(len as u64).to_le_bytes())?;
					rows.iter().try_for_each(|row| write(&crate::commit::le_bytes(row)))
				})??;
			}
			w.flush().map_err(|e| io_err(&tmp, e))?;
		}
		std::fs::rename(&tmp, &path).map_err(|e| io_err(&path, e))?;
		if let Ok(mut cache) = self.cache.lock() {
			cache.retain(|(t, _)| *t != task);
		}
		self.evict(task)
	}

	/// Stored task ids with size and modification time, oldest first.
	fn entries(&self) -> Result<Vec<(u64, u64, std::time::SystemTime)>> {
		let mut out = Vec::new();
		for entry in std::fs::read_dir(&self.dir).map_err(|e| io_err(&self.dir, e))? {
			let entry = entry.map_err(|e| io_err(&self.dir, e))?;
			let name = entry.file_name().to_string_lossy().to_string();
			let Some(id) = name
				.strip_prefix("task-")
				.and_then(|s| s.strip_suffix(".trace"))
				.and_then(|s| s.parse::<u64>().ok())
			else {
				continue;
			};
			let meta = entry.metadata().map_err(|e| io_err(&entry.path(), e))?;
			out.push((id, meta.len(), meta.modified().unwrap_or(std::time::UNIX_EPOCH)));
		}
		out.sort_by_key(|(id, _, modified)| (*modified, *id));
		Ok(out)
	}

	fn evict(&self, keep: u64) -> Result<()> {
		let mut entries = self.entries()?;
		let mut bytes: u64 = entries.iter().map(|e| e.1).sum();
		let retained = self.retained.lock().map(|r| r.clone()).unwrap_or_default();
		while entries.len() > self.limits.max_traces || bytes > self.limits.max_bytes {
			let Some(pos) = entries.iter().position(|e| e.0 != keep && !retained.contains(&e.0))
			else {
				log::warn!(
					target: "arbiter-inference",
					"trace store over its limits ({} traces, {bytes} bytes): every trace left belongs to a task a challenge may still ask for",
					entries.len()
				);
				break;
			};
			let (id, size, _) = entries.remove(pos);
			let path = self.path(id);
			std::fs::remove_file(&path).map_err(|e| io_err(&path, e))?;
			bytes = bytes.saturating_sub(size);
			if let Ok(mut cache) = self.cache.lock() {
				cache.retain(|(t, _)| *t != id);
			}
		}
		Ok(())
	}

	/// Task ids stored, oldest first.
	pub fn tasks(&self) -> Result<Vec<u64>> {
		Ok(self.entries()?.into_iter().map(|e| e.0).collect())
	}

	/// Whether a trace for `task` is stored.
	pub fn contains(&self, task: u64) -> bool {
		self.path(task).is_file()
	}

	/// The trace of `task`, checked to be of `model`.
	pub fn get(&self, task: u64, model: &Model) -> Result<Arc<Trace>> {
		if let Ok(cache) = self.cache.lock() {
			if let Some((_, t)) = cache.iter().find(|(t, _)| *t == task) {
				return Ok(t.clone());
			}
		}
		let path = self.path(task);
		if !path.is_file() {
			return Err(EngineError::TraceNotFound(task));
		}
		let mut bytes = Vec::new();
		std::fs::File::open(&path)
			.and_then(|mut f| f.read_to_end(&mut bytes))
			.map_err(|e| io_err(&path, e))?;
		let corrupt = |why: &str| EngineError::Store(format!("{}: {why}", path.display()));
		let mut cursor = bytes.as_slice();
		let mut take = |n: usize| -> Result<&[u8]> {
			if cursor.len() < n {
				return Err(corrupt("truncated"));
			}
			let (head, rest) = cursor.split_at(n);
			cursor = rest;
			Ok(head)
		};
		if take(8)? != MAGIC {
			return Err(corrupt("not a trace file"));
		}
		if take(32)? != model.commitment.model_root {
			return Err(corrupt("the trace is of another model"));
		}
		let u32_of = |b: &[u8]| u32::from_le_bytes(b.try_into().unwrap_or([0; 4]));
		let seq_len = u32_of(take(4)?);
		let nodes = u32_of(take(4)?) as usize;
		if nodes != model.template.nodes.len() {
			return Err(corrupt("node count differs from the model's"));
		}
		let mut outputs = Vec::with_capacity(nodes);
		for _ in 0..nodes {
			let len = u64::from_le_bytes(take(8)?.try_into().unwrap_or([0; 8])) as usize;
			let data = take(len.checked_mul(4).ok_or_else(|| corrupt("length overflow"))?)?;
			outputs.push(
				data.chunks_exact(4)
					.map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
					.collect::<Vec<f32>>(),
			);
		}
		let trace = Arc::new(Trace::commit(&model.template, seq_len, outputs)?);
		if let Ok(mut cache) = self.cache.lock() {
			cache.push_front((task, trace.clone()));
			cache.truncate(CACHE_ENTRIES);
		}
		Ok(trace)
	}

	/// The model root a stored trace of `task` is of (read from the file header).
	pub fn model_root_of(&self, task: u64) -> Result<arbiter_primitives::Hash> {
		let path = self.path(task);
		let mut header = [0u8; 40];
		let mut file = std::fs::File::open(&path).map_err(|_| EngineError::TraceNotFound(task))?;
		file.read_exact(&mut header)
			.map_err(|e| EngineError::Store(format!("{}: {e}", path.display())))?;
		if header.get(..8) != Some(MAGIC.as_slice()) {
			return Err(EngineError::Store(format!("{}: not a trace file", path.display())));
		}
		let mut root = [0u8; 32];
		root.copy_from_slice(header.get(8..40).unwrap_or(&[0; 32]));
		Ok(root)
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
}
