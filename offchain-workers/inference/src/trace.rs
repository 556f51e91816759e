//! A trace: every node's output for one input, the Merkle tree over its rows and the trace
//! root the provider commits (`blake2("arbiter/trace/v1" ‖ seq_len ‖ tree root)`).
//!
//! The traces of one batch read their rows from the batch's node outputs ([`BatchOutputs`],
//! shared): copying each item's ~5.6 MB out of the batch cost a traced MiniLM batch more time
//! than it saved and held the trace twice in memory (docs/benchmarks.md).

use std::{borrow::Cow, sync::Arc};

use arbiter_primitives::{
	commitment::trace_offsets,
	merkle::{MerkleTree, RangeProof},
	prover::{ProveError, ProverData},
	token_choice::GenerationCommitments,
	Graph, Hash, NodeId, Opening,
};
use candle_core::{Storage, Tensor};

use crate::{
	error::{EngineError, Result},
	model::Model,
};

/// One input's trace.
#[derive(Clone, Debug)]
pub struct Trace {
	/// The length the model's template was instantiated at.
	pub seq_len: u32,
	values: TraceValues,
	pub tree: MerkleTree,
	/// What `commit_result` carries.
	pub root: Hash,
}

/// Where a trace's node outputs are.
#[derive(Clone, Debug)]
enum TraceValues {
	/// One row-major vector per node.
	Owned(Vec<Vec<f32>>),
	/// Item `item`'s part of a batch's node outputs.
	Batch { batch: Arc<BatchOutputs>, item: usize },
}

/// Every node's output of one batch on the host, row-major, batch dimension first, padded to
/// the batch's longest input: the traces of the batch's items read their rows from here.
#[derive(Clone, Debug)]
pub struct BatchOutputs {
	/// Contiguous f32 CPU tensors, one per node.
	nodes: Vec<Tensor>,
	/// Each node's dimensions without the batch one, at the padded length.
	dims: Vec<Vec<usize>>,
	/// Each node's symbolic (sequence) dimensions, cut to an item's own length.
	seq_dims: Vec<Vec<usize>>,
}

impl BatchOutputs {
	/// `nodes`: contiguous f32 CPU tensors `[batch] ++ dims[k]`.
	pub(crate) fn new(
		nodes: Vec<Tensor>,
		dims: Vec<Vec<usize>>,
		seq_dims: Vec<Vec<usize>>,
	) -> Result<Self> {
		if nodes.len() != dims.len() || nodes.len() != seq_dims.len() {
			return Err(EngineError::InvalidInput("batch outputs: one shape per node".into()));
		}
		for t in &nodes {
			if !t.device().is_cpu() || t.dtype() != candle_core::DType::F32 || !t.is_contiguous() {
				return Err(EngineError::InvalidInput(
					"batch outputs: contiguous f32 CPU tensors only".into(),
				));
			}
		}
		Ok(Self { nodes, dims, seq_dims })
	}

	/// Calls `f` with item `item`'s rows (at length `seq_len`) of node `node`, in row order.
	pub(crate) fn with_rows<R>(
		&self,
		node: usize,
		item: usize,
		seq_len: u32,
		f: impl FnOnce(&[&[f32]]) -> R,
	) -> Result<R> {
		let (Some(t), Some(dims), Some(seq_dims)) =
			(self.nodes.get(node), self.dims.get(node), self.seq_dims.get(node))
		else {
			return Err(EngineError::InvalidInput(format!("the batch has no node {node}")));
		};
		let (storage, layout) = t.storage_and_layout();
		let (Storage::Cpu(cpu), Some((start, end))) = (&*storage, layout.contiguous_offsets())
		else {
			return Err(EngineError::InvalidInput(
				"batch outputs: not a contiguous CPU tensor".into(),
			));
		};
		let values = cpu
			.as_slice::<f32>()?
			.get(start..end)
			.ok_or_else(|| EngineError::InvalidInput("tensor layout outside its storage".into()))?;
		let rows = item_rows(values, dims, item, seq_dims, seq_len as usize)?;
		Ok(f(&rows))
	}

	/// How many rows an item's output of node `node` has at length `seq_len` (none for an unknown
	/// node).
	pub(crate) fn row_count(&self, node: usize, seq_len: u32) -> usize {
		match (self.dims.get(node), self.seq_dims.get(node)) {
			(Some(dims), Some(seq_dims)) => kept_dims(dims, seq_dims, seq_len as usize)
				.split_last()
				.map_or(1, |(&run, lead)| if run == 0 { 0 } else { lead.iter().product() }),
			_ => 0,
		}
	}

	/// Node count.
	pub(crate) fn len(&self) -> usize {
		self.nodes.len()
	}
}

/// `dims` with the dimensions in `seq_dims` cut to `seq_len`: an item's own shape.
fn kept_dims(dims: &[usize], seq_dims: &[usize], seq_len: usize) -> Vec<usize> {
	dims.iter()
		.enumerate()
		.map(|(k, d)| if seq_dims.contains(&k) { seq_len.min(*d) } else { *d })
		.collect()
}

/// Item `b`'s part of a batched node output (`values`, shape `[batch] ++ dims`) with the
/// dimensions in `seq_dims` cut to `seq_len`, as rows (runs of the last dimension) in row-major
/// order, each where it lies: the rows of the node's output for that item alone.
pub(crate) fn item_rows<'a>(
	values: &'a [f32],
	dims: &[usize],
	b: usize,
	seq_dims: &[usize],
	seq_len: usize,
) -> Result<Vec<&'a [f32]>> {
	let item_len: usize = dims.iter().product();
	let item = values
		.get(b * item_len..(b + 1) * item_len)
		.ok_or_else(|| EngineError::InvalidInput("batch item outside the node output".into()))?;
	let kept = kept_dims(dims, seq_dims, seq_len);
	let Some((&run, lead)) = kept.split_last() else { return Ok(Vec::from([item])) };
	if lead.contains(&0) || run == 0 {
		return Ok(Vec::new());
	}
	let mut strides = vec![1usize; dims.len()];
	for k in (0..dims.len().saturating_sub(1)).rev() {
		strides[k] = strides[k + 1] * dims[k + 1];
	}
	let mut rows = Vec::with_capacity(lead.iter().product());
	// Walk the kept index space of the leading dimensions, last fastest.
	let mut idx = vec![0usize; lead.len()];
	loop {
		let offset: usize = idx.iter().zip(&strides).map(|(i, s)| i * s).sum();
		rows.push(
			item.get(offset..offset + run)
				.ok_or_else(|| EngineError::InvalidInput("row outside the node output".into()))?,
		);
		let mut k = lead.len();
		loop {
			if k == 0 {
				return Ok(rows);
			}
			k -= 1;
			idx[k] += 1;
			if idx[k] < lead[k] {
				break;
			}
			idx[k] = 0;
		}
	}
}

/// One row of a trace with its Merkle proof against the trace tree.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceRow {
	pub node: NodeId,
	pub row: u32,
	pub values: Vec<f32>,
	/// Leaf index of the row in the trace tree, and the tree's leaf count.
	pub leaf_index: u64,
	pub leaf_count: u64,
	pub proof: RangeProof,
	pub seq_len: u32,
	pub trace_tree_root: Hash,
}

impl Trace {
	/// Commits to `outputs` (one per node of `template` at `seq_len`).
	pub fn commit(template: &Graph, seq_len: u32, outputs: Vec<Vec<f32>>) -> Result<Self> {
		let (tree, root) = crate::commit::trace_commitment(template, seq_len, &outputs)
			.map_err(EngineError::Commit)?;
		Ok(Self { seq_len, values: TraceValues::Owned(outputs), tree, root })
	}

	/// The trace of item `item` of `batch`, whose tree the caller built from the same rows.
	pub(crate) fn of_batch_item(
		batch: Arc<BatchOutputs>,
		item: usize,
		seq_len: u32,
		tree: MerkleTree,
		root: Hash,
	) -> Self {
		Self { seq_len, values: TraceValues::Batch { batch, item }, tree, root }
	}

	/// This trace holding its own node outputs (a batch item's are copied out of the batch's,
	/// which can then be dropped).
	pub fn owned(self) -> Result<Self> {
		match self.values {
			TraceValues::Owned(_) => Ok(self),
			TraceValues::Batch { .. } => {
				let outputs = self.outputs()?.into_owned();
				Ok(Self {
					seq_len: self.seq_len,
					values: TraceValues::Owned(outputs),
					tree: self.tree,
					root: self.root,
				})
			},
		}
	}

	/// Node count.
	pub fn node_count(&self) -> usize {
		match &self.values {
			TraceValues::Owned(outputs) => outputs.len(),
			TraceValues::Batch { batch, .. } => batch.len(),
		}
	}

	/// The output of node `node`, row-major.
	pub fn node_output(&self, node: usize) -> Result<Cow<'_, [f32]>> {
		match &self.values {
			TraceValues::Owned(outputs) => outputs
				.get(node)
				.map(|o| Cow::Borrowed(o.as_slice()))
				.ok_or_else(|| EngineError::InvalidInput(format!("the trace has no node {node}"))),
			TraceValues::Batch { .. } =>
				Ok(Cow::Owned(self.with_node_rows(node, |rows| rows.concat())?)),
		}
	}

	/// Calls `f` with node `node`'s output as rows in row order (or as one run of them), read
	/// where they lie.
	pub fn with_node_rows<R>(&self, node: usize, f: impl FnOnce(&[&[f32]]) -> R) -> Result<R> {
		match &self.values {
			TraceValues::Owned(outputs) => {
				let values = outputs.get(node).ok_or_else(|| {
					EngineError::InvalidInput(format!("the trace has no node {node}"))
				})?;
				Ok(f(&[values.as_slice()]))
			},
			TraceValues::Batch { batch, item } => batch.with_rows(node, *item, self.seq_len, f),
		}
	}

	/// The model's output (the last node's).
	pub fn output(&self) -> Result<Vec<f32>> {
		let last = self
			.node_count()
			.checked_sub(1)
			.ok_or_else(|| EngineError::InvalidInput("the trace has no nodes".into()))?;
		Ok(self.node_output(last)?.into_owned())
	}

	/// Every node's output, row-major, one per node.
	pub fn outputs(&self) -> Result<Cow<'_, [Vec<f32>]>> {
		match &self.values {
			TraceValues::Owned(outputs) => Ok(Cow::Borrowed(outputs.as_slice())),
			TraceValues::Batch { .. } => Ok(Cow::Owned(
				(0..self.node_count())
					.map(|k| Ok(self.node_output(k)?.into_owned()))
					.collect::<Result<Vec<_>>>()?,
			)),
		}
	}

	/// Row `row` of node `node`, with its proof.
	pub fn row(&self, template: &Graph, node: NodeId, row: u32) -> Result<TraceRow> {
		let graph = template.instantiate(self.seq_len);
		let shape = &graph
			.node(node)
			.ok_or_else(|| EngineError::InvalidInput(format!("no node {node}")))?
			.shape;
		if row as u64 >= shape.rows() {
			return Err(EngineError::InvalidInput(format!(
				"node {node} has {} rows, asked for row {row}",
				shape.rows()
			)));
		}
		let width = shape.width() as usize;
		let missing = || EngineError::Store(format!("trace is missing node {node} row {row}"));
		let values = match &self.values {
			TraceValues::Owned(outputs) => outputs
				.get(node as usize)
				.and_then(|o| o.get(row as usize * width..(row as usize + 1) * width))
				.ok_or_else(missing)?
				.to_vec(),
			TraceValues::Batch { batch, item } => batch
				.with_rows(node as usize, *item, self.seq_len, |rows| {
					rows.get(row as usize).map(|r| r.to_vec())
				})?
				.ok_or_else(missing)?,
		};
		let (offsets, leaf_count) = trace_offsets(&graph);
		let leaf_index = offsets.get(node as usize).copied().unwrap_or(0) + row as u64;
		let proof = self
			.tree
			.prove(leaf_index as usize)
			.ok_or_else(|| EngineError::Store("no proof for the row".into()))?;
		Ok(TraceRow {
			node,
			row,
			values,
			leaf_index,
			leaf_count,
			proof,
			seq_len: self.seq_len,
			trace_tree_root: self.tree.root(),
		})
	}

	/// The opening of element `(node, row, col)` for a challenge.
	pub fn opening(&self, model: &Model, node: NodeId, row: u32, col: u32) -> Result<Opening> {
		self.prove(model, |prover| prover.opening(node, row, col))
	}

	/// The answer to a token-choice dispute on this generation trace (`task`'s, at `step`
	/// against `rival`; [`arbiter_primitives::token_choice::verify_token_choice`]).
	pub fn token_choice_opening(
		&self,
		model: &Model,
		task: &GenerationCommitments,
		step: u32,
		rival: u32,
	) -> Result<Opening> {
		self.prove(model, |prover| prover.token_choice_opening(task, step, rival))
	}

	fn prove(
		&self,
		model: &Model,
		open: impl FnOnce(&ProverData<'_, Vec<f32>, Model>) -> std::result::Result<Opening, ProveError>,
	) -> Result<Opening> {
		let graph = model.template.instantiate(self.seq_len);
		let outputs = self.outputs()?;
		let prover = ProverData {
			graph: &graph,
			seq_len: self.seq_len,
			outputs: &outputs,
			trace_tree: &self.tree,
			// Weight rows come from the model (a compact weight's row dequantized when asked).
			weights: model,
			weights_tree: model.weights_tree(),
			tokenizer_hash: model.commitment.tokenizer_hash,
		};
		open(&prover).map_err(EngineError::Opening)
	}

	/// Bytes the node outputs take.
	pub fn size_bytes(&self) -> u64 {
		(0..self.node_count())
			.filter_map(|k| {
				self.with_node_rows(k, |rows| rows.iter().map(|r| r.len() as u64 * 4).sum::<u64>())
					.ok()
			})
			.sum()
	}
}
