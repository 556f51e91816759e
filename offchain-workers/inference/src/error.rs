//! Errors of the engine, the model loader and the trace store. Each names what was wrong and,
//! where there is one, the fix.

use std::path::PathBuf;

/// Why the engine refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
	#[error("model folder {0} does not exist (fetch the model with scripts/fetch-model.sh)")]
	ModelDirMissing(PathBuf),
	#[error("model file {0} is missing (fetch the model with scripts/fetch-model.sh)")]
	ModelFileMissing(PathBuf),
	#[error("checksum mismatch for {file}: expected sha256 {expected}, found {found} (delete the folder and fetch again)")]
	ChecksumMismatch { file: PathBuf, expected: String, found: String },
	#[error("cannot read {path}: {reason}")]
	Io { path: PathBuf, reason: String },
	#[error("invalid model config {path}: {reason}")]
	BadConfig { path: PathBuf, reason: String },
	#[error("unsupported model: {0}")]
	Unsupported(String),
	#[error("weights file {path}: {reason}")]
	BadWeights { path: PathBuf, reason: String },
	#[error("the model graph is invalid: {0:?}")]
	InvalidGraph(arbiter_primitives::GraphError),
	#[error("tokenizer {path}: {reason}")]
	Tokenizer { path: PathBuf, reason: String },
	#[error("input text is empty")]
	EmptyText,
	#[error("input text is {len} bytes, longer than the limit of {limit} bytes")]
	TextTooLong { len: usize, limit: usize },
	#[error("invalid model input: {0}")]
	InvalidInput(String),
	#[error("the input has {len} tokens; the model takes 1 to {max}")]
	BadTokenCount { len: usize, max: u32 },
	#[error("token id {id} at position {position} is not below the vocabulary size {vocabulary}")]
	TokenIdOutOfRange { id: u32, position: usize, vocabulary: u32 },
	#[error("the batch is empty")]
	EmptyBatch,
	#[error("device {0}")]
	Device(String),
	#[error("candle: {0}")]
	Candle(#[from] candle_core::Error),
	#[error("commitment: {0:?}")]
	Commit(arbiter_primitives::commitment::CommitError),
	#[error("trace store: {0}")]
	Store(String),
	#[error("no trace for task {0} in the trace store")]
	TraceNotFound(u64),
	#[error("cannot open element: {0:?}")]
	Opening(arbiter_primitives::prover::ProveError),
	/// An invariant of the engine broke (a bug, not bad input): please report it.
	#[error("internal engine error (a bug; please report it): {0}")]
	Internal(String),
}

/// Result with [`EngineError`].
pub type Result<T> = std::result::Result<T, EngineError>;

pub(crate) fn io_err(path: &std::path::Path, e: impl std::fmt::Display) -> EngineError {
	EngineError::Io { path: path.to_path_buf(), reason: e.to_string() }
}
