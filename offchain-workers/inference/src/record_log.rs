//! Where the trace store keeps its replay records: an append-only log in segment files
//! (`records-<n>.log`), with an in-memory index from task to record. Each entry is the record's
//! length (u32 LE), the task id (u64 LE) and the record's bytes; a task recorded again is found
//! at its newest entry.
//!
//! One file per record cost more than the forward pass it recorded: creating a file took
//! 150 µs of CPU on an empty ext4 folder and 530 µs among 4,000 others, against 1 µs to append
//! (measured on this project's 2-core VM). A record is appended to the newest segment; a segment
//! holds 1/16 of the store's limits (256 records at the default 4,096), and eviction drops the
//! oldest segment whole, after appending again the records in it that must be kept. With small
//! limits a segment holds one record, so eviction is record by record.
//!
//! A crash can leave the last entry of the newest segment torn; opening the log cuts it off.

use std::{
	collections::{BTreeMap, HashMap, HashSet},
	fs::File,
	io::{Read, Seek, SeekFrom, Write},
	path::{Path, PathBuf},
};

use crate::error::{io_err, EngineError, Result};

/// Bytes before a record's own: its length (u32) and task (u64).
const ENTRY_HEADER: u64 = 12;
const PREFIX: &str = "records-";
const SUFFIX: &str = ".log";

/// Where a task's newest record is.
#[derive(Clone, Copy, Debug)]
struct Location {
	segment: u64,
	/// Offset of the record's bytes (after the entry header).
	offset: u64,
	len: u32,
}

/// The newest segment, open for appending.
struct Current {
	segment: u64,
	file: File,
	len: u64,
	entries: usize,
}

pub(crate) struct RecordLog {
	dir: PathBuf,
	segment_records: usize,
	segment_bytes: u64,
	/// Segments, oldest first, with the tasks appended to each (stale entries included).
	segments: BTreeMap<u64, Vec<u64>>,
	current: Option<Current>,
	index: HashMap<u64, Location>,
	/// Bytes of the records the index points at.
	bytes: u64,
}

fn segment_name(segment: u64) -> String {
	format!("{PREFIX}{segment:020}{SUFFIX}")
}

impl RecordLog {
	/// Opens the log in `dir` (which exists), for a store of at most `max_records` records and
	/// `max_bytes` bytes.
	pub(crate) fn open(dir: &Path, max_records: usize, max_bytes: u64) -> Result<Self> {
		let mut log = Self {
			dir: dir.to_path_buf(),
			segment_records: (max_records / 16).max(1),
			segment_bytes: (max_bytes / 16).max(1),
			segments: BTreeMap::new(),
			current: None,
			index: HashMap::new(),
			bytes: 0,
		};
		let mut found = Vec::new();
		for entry in std::fs::read_dir(dir).map_err(|e| io_err(dir, e))? {
			let name = entry.map_err(|e| io_err(dir, e))?.file_name();
			let name = name.to_string_lossy();
			if let Some(n) = name
				.strip_prefix(PREFIX)
				.and_then(|s| s.strip_suffix(SUFFIX))
				.and_then(|s| s.parse::<u64>().ok())
			{
				found.push(n);
			}
		}
		found.sort_unstable();
		let newest = found.last().copied();
		for segment in found {
			log.load(segment, Some(segment) == newest)?;
		}
		Ok(log)
	}

	fn path(&self, segment: u64) -> PathBuf {
		self.dir.join(segment_name(segment))
	}

	/// Indexes `segment`'s entries; a torn last entry of the newest segment is cut off.
	fn load(&mut self, segment: u64, newest: bool) -> Result<()> {
		let path = self.path(segment);
		let mut bytes = Vec::new();
		File::open(&path)
			.and_then(|mut f| f.read_to_end(&mut bytes))
			.map_err(|e| io_err(&path, e))?;
		let mut at = 0usize;
		let mut tasks = Vec::new();
		while let Some(header) = bytes.get(at..at + ENTRY_HEADER as usize) {
			let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
			let mut task = [0u8; 8];
			task.copy_from_slice(&header[4..12]);
			let task = u64::from_le_bytes(task);
			let end = at + ENTRY_HEADER as usize + len as usize;
			if end > bytes.len() {
				break;
			}
			self.point(task, Location { segment, offset: (at as u64) + ENTRY_HEADER, len });
			tasks.push(task);
			at = end;
		}
		if newest && at < bytes.len() {
			log::warn!(target: "arbiter-inference", "{}: cutting off a torn last record ({} bytes)", path.display(), bytes.len() - at);
			let file = std::fs::OpenOptions::new().write(true).open(&path);
			file.and_then(|f| f.set_len(at as u64)).map_err(|e| io_err(&path, e))?;
		}
		if newest && tasks.len() < self.segment_records && (at as u64) < self.segment_bytes {
			let file = std::fs::OpenOptions::new().append(true).open(&path);
			let file = file.map_err(|e| io_err(&path, e))?;
			self.current = Some(Current { segment, file, len: at as u64, entries: tasks.len() });
		}
		self.segments.insert(segment, tasks);
		Ok(())
	}

	/// Points `task` at `location`, replacing an older record of it.
	fn point(&mut self, task: u64, location: Location) {
		if let Some(old) = self.index.insert(task, location) {
			self.bytes = self.bytes.saturating_sub(old.len as u64);
		}
		self.bytes = self.bytes.saturating_add(location.len as u64);
	}

	/// Appends `record` as `task`'s newest.
	pub(crate) fn append(&mut self, task: u64, record: &[u8]) -> Result<()> {
		let len = u32::try_from(record.len())
			.map_err(|_| EngineError::Internal("a replay record over 4 GiB".into()))?;
		if self
			.current
			.as_ref()
			.is_some_and(|c| c.entries >= self.segment_records || c.len >= self.segment_bytes)
		{
			self.current = None;
		}
		if self.current.is_none() {
			let segment = self.segments.keys().next_back().map_or(0, |s| s + 1);
			let path = self.path(segment);
			let file = std::fs::OpenOptions::new()
				.create_new(true)
				.append(true)
				.open(&path)
				.map_err(|e| io_err(&path, e))?;
			self.segments.insert(segment, Vec::new());
			self.current = Some(Current { segment, file, len: 0, entries: 0 });
		}
		let Some(current) = self.current.as_mut() else {
			return Err(EngineError::Internal("no segment to append to".into()));
		};
		let mut entry = Vec::with_capacity(ENTRY_HEADER as usize + record.len());
		entry.extend_from_slice(&len.to_le_bytes());
		entry.extend_from_slice(&task.to_le_bytes());
		entry.extend_from_slice(record);
		// One write: a crash leaves at most this entry torn.
		let segment = current.segment;
		if let Err(e) = current.file.write_all(&entry) {
			// Where the write stopped is unknown: later entries go to a new segment.
			self.current = None;
			return Err(io_err(&self.path(segment), e));
		}
		let offset = current.len + ENTRY_HEADER;
		current.len += entry.len() as u64;
		current.entries += 1;
		if let Some(tasks) = self.segments.get_mut(&segment) {
			tasks.push(task);
		}
		self.point(task, Location { segment, offset, len });
		Ok(())
	}

	/// `task`'s newest record, if any.
	pub(crate) fn read(&self, task: u64) -> Result<Option<Vec<u8>>> {
		let Some(location) = self.index.get(&task) else { return Ok(None) };
		let path = self.path(location.segment);
		let mut bytes = vec![0u8; location.len as usize];
		File::open(&path)
			.and_then(|mut f| {
				f.seek(SeekFrom::Start(location.offset))?;
				f.read_exact(&mut bytes)
			})
			.map_err(|e| io_err(&path, e))?;
		Ok(Some(bytes))
	}

	/// The file, offset and length of `task`'s newest record (for tools and tests).
	pub(crate) fn location(&self, task: u64) -> Option<(PathBuf, u64, u32)> {
		self.index.get(&task).map(|l| (self.path(l.segment), l.offset, l.len))
	}

	/// Tasks with a record, oldest first.
	pub(crate) fn tasks(&self) -> Vec<u64> {
		let mut tasks: Vec<(u64, u64, u64)> =
			self.index.iter().map(|(t, l)| (l.segment, l.offset, *t)).collect();
		tasks.sort_unstable();
		tasks.into_iter().map(|(_, _, t)| t).collect()
	}

	pub(crate) fn contains(&self, task: u64) -> bool {
		self.index.contains_key(&task)
	}

	/// Drops the oldest records until at most `max_records` and `max_bytes` are kept, never
	/// those `keep` says: a segment holding any of them is dropped after they are appended again,
	/// and one holding nothing else is left alone. Returns the tasks dropped.
	pub(crate) fn evict(
		&mut self,
		keep: &dyn Fn(u64) -> bool,
		max_records: usize,
		max_bytes: u64,
	) -> Result<Vec<u64>> {
		let mut dropped = Vec::new();
		let mut skipped = HashSet::new();
		while self.index.len() > max_records || self.bytes > max_bytes {
			// The oldest segment with a record that may go.
			let Some((segment, live)) = self.segments.iter().find_map(|(segment, tasks)| {
				if skipped.contains(segment) {
					return None;
				}
				let live: Vec<u64> = tasks
					.iter()
					.copied()
					.filter(|t| self.index.get(t).is_some_and(|l| l.segment == *segment))
					.collect();
				Some((*segment, live))
			}) else {
				log::warn!(
					target: "arbiter-inference",
					"trace store over its limits ({} records, {} bytes): every record left belongs to a task a challenge may still ask for",
					self.index.len(),
					self.bytes
				);
				break;
			};
			if !live.is_empty() && live.iter().all(|t| keep(*t)) {
				skipped.insert(segment);
				continue;
			}
			if self.current.as_ref().is_some_and(|c| c.segment == segment) {
				self.current = None;
			}
			for task in live {
				if keep(task) {
					let record = self.read(task)?.unwrap_or_default();
					self.append(task, &record)?;
				} else if let Some(old) = self.index.remove(&task) {
					self.bytes = self.bytes.saturating_sub(old.len as u64);
					dropped.push(task);
				}
			}
			let path = self.path(segment);
			match std::fs::remove_file(&path) {
				Err(e) if e.kind() == std::io::ErrorKind::NotFound => {},
				r => r.map_err(|e| io_err(&path, e))?,
			}
			self.segments.remove(&segment);
		}
		Ok(dropped)
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	fn record(task: u64, len: usize) -> Vec<u8> {
		(0..len).map(|i| (task as usize + i) as u8).collect()
	}

	#[test]
	fn the_newest_record_of_a_task_is_read_again_after_a_reopen() {
		let dir = tempfile::tempdir().unwrap();
		let mut log = RecordLog::open(dir.path(), 64, 1 << 20).unwrap();
		for task in 0..10 {
			log.append(task, &record(task, 20)).unwrap();
		}
		log.append(3, &record(99, 30)).unwrap();
		assert_eq!(log.read(3).unwrap(), Some(record(99, 30)));
		assert_eq!(log.tasks(), vec![0, 1, 2, 4, 5, 6, 7, 8, 9, 3]);
		drop(log);
		let mut log = RecordLog::open(dir.path(), 64, 1 << 20).unwrap();
		assert_eq!(log.read(3).unwrap(), Some(record(99, 30)));
		assert_eq!(log.read(4).unwrap(), Some(record(4, 20)));
		assert_eq!(log.read(42).unwrap(), None);
		assert_eq!(log.tasks(), vec![0, 1, 2, 4, 5, 6, 7, 8, 9, 3]);
		// Segments of 4 records (64 / 16): the log went on in new segment files.
		log.append(10, &record(10, 20)).unwrap();
		assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3);
	}

	#[test]
	fn a_torn_last_entry_is_cut_off_and_the_log_goes_on() {
		let dir = tempfile::tempdir().unwrap();
		let mut log = RecordLog::open(dir.path(), 4096, 1 << 20).unwrap();
		log.append(1, &record(1, 50)).unwrap();
		log.append(2, &record(2, 50)).unwrap();
		let (path, _, _) = log.location(2).unwrap();
		drop(log);
		// A crash in the middle of the second entry.
		let bytes = std::fs::read(&path).unwrap();
		std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
		let mut log = RecordLog::open(dir.path(), 4096, 1 << 20).unwrap();
		assert_eq!(log.tasks(), vec![1]);
		assert_eq!(std::fs::metadata(&path).unwrap().len(), ENTRY_HEADER + 50);
		log.append(3, &record(3, 5)).unwrap();
		drop(log);
		let log = RecordLog::open(dir.path(), 4096, 1 << 20).unwrap();
		assert_eq!(log.tasks(), vec![1, 3]);
		assert_eq!(log.read(3).unwrap(), Some(record(3, 5)));
	}

	#[test]
	fn eviction_drops_whole_segments_but_keeps_what_must_stay() {
		let dir = tempfile::tempdir().unwrap();
		// Segments of 2 records; at most 32 kept.
		let mut log = RecordLog::open(dir.path(), 32, 1 << 20).unwrap();
		for task in 0..40 {
			log.append(task, &record(task, 10)).unwrap();
		}
		let keep: HashSet<u64> = [1, 4].into();
		let dropped = log.evict(&|t| keep.contains(&t), 32, 1 << 20).unwrap();
		// The oldest segments go ({0, 1}, {2, 3}, …) until 32 are left; 1 and 4 move to the end.
		assert_eq!(dropped, vec![0, 2, 3, 5, 6, 7, 8, 9]);
		let tasks = log.tasks();
		assert_eq!((tasks.len(), &tasks[..2], &tasks[30..]), (32, &[10, 11][..], &[1, 4][..]));
		assert_eq!(log.read(1).unwrap(), Some(record(1, 10)));
		drop(log);
		let mut log = RecordLog::open(dir.path(), 32, 1 << 20).unwrap();
		assert_eq!(log.tasks().len(), 32);
		assert_eq!(log.read(4).unwrap(), Some(record(4, 10)));
		// When every record left must stay, the limits give way.
		let all: HashSet<u64> = log.tasks().into_iter().collect();
		assert!(log.evict(&|t| all.contains(&t), 2, 1 << 20).unwrap().is_empty());
		assert_eq!(log.tasks().len(), 32);
		// The byte limit evicts too.
		let dropped = log.evict(&|_| false, 1_000, 100).unwrap();
		assert_eq!((dropped.len(), log.tasks().len()), (22, 10));
	}
}
