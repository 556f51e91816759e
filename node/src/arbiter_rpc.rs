//! Arbiter's JSON-RPC methods, served by nodes that run the engine (`--provider`/`--watcher`):
//!
//! - `arbiter_traceRow(taskId, node, row)`: one row of a task's trace with its Merkle proof;
//! - `arbiter_opening(taskId, node, row, col)`: the SCALE-encoded `Opening` of one element (what
//!   `challenges.respond` takes);
//! - `arbiter_engineStatus()`: loaded models, job counters, device;
//! - `arbiter_tokenizer(modelRoot)`: the `tokenizer.json` of a loaded model, the file its
//!   registered `tokenizer_hash` commits (clients check the hash and tokenize with it: the web app
//!   does).
//!
//! Traces exist to be checked by anyone (watchers fetch them from providers), and the status and
//! the tokenizers are public model data, so the methods are safe to expose.

use arbiter_inference::jobs::{EngineStatus, JobService};
use codec::Encode;
use jsonrpsee::{
	core::RpcResult,
	proc_macros::rpc,
	types::{error::ErrorObjectOwned, ErrorObject},
};
use serde::Serialize;
use sp_core::H256;

/// A trace row and its proof.
#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TraceRowJson {
	pub task_id: u64,
	pub node: u32,
	pub row: u32,
	/// The row's values.
	pub values: Vec<f32>,
	/// The row's canonical bytes (f32 little-endian), as hashed into its leaf.
	pub values_hex: String,
	/// Position of the row's leaf and the number of leaves of the trace tree.
	pub leaf_index: u64,
	pub leaf_count: u64,
	/// Sibling hashes, bottom level first.
	pub proof: Vec<String>,
	pub seq_len: u32,
	pub trace_tree_root: String,
	/// `blake2("arbiter/trace/v1" ‖ seqLen ‖ traceTreeRoot)`: what the provider committed.
	pub trace_root: String,
}

/// `0x`-prefixed lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
	format!("0x{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

fn error(message: String) -> ErrorObjectOwned {
	ErrorObject::owned(9000, message, None::<()>)
}

#[rpc(server, namespace = "arbiter")]
pub trait ArbiterApi {
	/// One row of a task's trace with its Merkle proof.
	#[method(name = "traceRow")]
	fn trace_row(&self, task_id: u64, node: u32, row: u32) -> RpcResult<TraceRowJson>;

	/// The SCALE-encoded opening of element `(node, row, col)` of a task's trace.
	#[method(name = "opening")]
	fn opening(&self, task_id: u64, node: u32, row: u32, col: u32) -> RpcResult<String>;

	/// Loaded models, job counters and the device.
	#[method(name = "engineStatus")]
	fn engine_status(&self) -> RpcResult<EngineStatus>;

	/// The `tokenizer.json` text of the loaded model committed as `model_root`.
	#[method(name = "tokenizer")]
	fn tokenizer(&self, model_root: H256) -> RpcResult<String>;
}

/// The methods, over the node's engine (if it runs one).
pub struct Arbiter {
	engine: Option<JobService>,
}

impl Arbiter {
	pub fn new(engine: Option<JobService>) -> Self {
		Self { engine }
	}

	fn engine(&self) -> RpcResult<&JobService> {
		self.engine.as_ref().ok_or_else(|| {
			error(
				"this node runs no inference engine (start it with --provider or --watcher)".into(),
			)
		})
	}
}

impl ArbiterApiServer for Arbiter {
	fn trace_row(&self, task_id: u64, node: u32, row: u32) -> RpcResult<TraceRowJson> {
		let (model, trace) = self.engine()?.trace(task_id).map_err(|e| error(e.to_string()))?;
		let r = trace.row(&model.template, node, row).map_err(|e| error(e.to_string()))?;
		let bytes: Vec<u8> = r.values.iter().flat_map(|v| v.to_le_bytes()).collect();
		Ok(TraceRowJson {
			task_id,
			node,
			row,
			values_hex: hex(&bytes),
			values: r.values,
			leaf_index: r.leaf_index,
			leaf_count: r.leaf_count,
			proof: r.proof.siblings.iter().map(|h| hex(h)).collect(),
			seq_len: r.seq_len,
			trace_tree_root: hex(&r.trace_tree_root),
			trace_root: hex(&trace.root),
		})
	}

	fn opening(&self, task_id: u64, node: u32, row: u32, col: u32) -> RpcResult<String> {
		let (model, trace) = self.engine()?.trace(task_id).map_err(|e| error(e.to_string()))?;
		let opening = trace.opening(&model, node, row, col).map_err(|e| error(e.to_string()))?;
		Ok(hex(&opening.encode()))
	}

	fn engine_status(&self) -> RpcResult<EngineStatus> {
		Ok(self.engine()?.engine_status())
	}

	fn tokenizer(&self, model_root: H256) -> RpcResult<String> {
		let model = self
			.engine()?
			.model(model_root.0)
			.ok_or_else(|| error(format!("this node has not loaded model {model_root:?}")))?;
		let bytes = model
			.tokenizer_json
			.as_ref()
			.ok_or_else(|| error(format!("model {model_root:?} takes no text")))?;
		String::from_utf8(bytes.to_vec()).map_err(|e| error(format!("tokenizer.json: {e}")))
	}
}
