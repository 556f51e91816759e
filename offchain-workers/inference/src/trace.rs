//! A trace: every node's output for one input, the Merkle tree over its rows and the trace
//! root the provider commits (`blake2("arbiter/trace/v1" ‖ seq_len ‖ tree root)`).

use arbiter_primitives::{
	commitment::trace_offsets,
	merkle::{MerkleTree, RangeProof},
	prover::ProverData,
	Graph, Hash, NodeId, Opening,
};

use crate::{
	error::{EngineError, Result},
	model::Model,
};

/// One input's trace.
#[derive(Clone, Debug)]
pub struct Trace {
	/// The length the model's template was instantiated at.
	pub seq_len: u32,
	/// Node outputs, row-major, one per node.
	pub outputs: Vec<Vec<f32>>,
	pub tree: MerkleTree,
	/// What `commit_result` carries.
	pub root: Hash,
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
		let (tree, root) = crate::commit::trace_commitment(template, seq_len, &outputs).map_err(EngineError::Commit)?;
		Ok(Self { seq_len, outputs, tree, root })
	}

	/// Row `row` of node `node`, with its proof.
	pub fn row(&self, template: &Graph, node: NodeId, row: u32) -> Result<TraceRow> {
		let graph = template.instantiate(self.seq_len);
		let shape = &graph.node(node).ok_or_else(|| EngineError::InvalidInput(format!("no node {node}")))?.shape;
		if row as u64 >= shape.rows() {
			return Err(EngineError::InvalidInput(format!("node {node} has {} rows, asked for row {row}", shape.rows())));
		}
		let width = shape.width() as usize;
		let values = self
			.outputs
			.get(node as usize)
			.and_then(|o| o.get(row as usize * width..(row as usize + 1) * width))
			.ok_or_else(|| EngineError::Store(format!("trace is missing node {node} row {row}")))?
			.to_vec();
		let (offsets, leaf_count) = trace_offsets(&graph);
		let leaf_index = offsets.get(node as usize).copied().unwrap_or(0) + row as u64;
		let proof = self.tree.prove(leaf_index as usize).ok_or_else(|| EngineError::Store("no proof for the row".into()))?;
		Ok(TraceRow { node, row, values, leaf_index, leaf_count, proof, seq_len: self.seq_len, trace_tree_root: self.tree.root() })
	}

	/// The opening of element `(node, row, col)` for a challenge.
	pub fn opening(&self, model: &Model, node: NodeId, row: u32, col: u32) -> Result<Opening> {
		let graph = model.template.instantiate(self.seq_len);
		let weights = model.weight_slices();
		let prover = ProverData {
			graph: &graph,
			seq_len: self.seq_len,
			outputs: &self.outputs,
			trace_tree: &self.tree,
			weights: &weights,
			weights_tree: model.weights_tree(),
			tokenizer_hash: model.commitment.tokenizer_hash,
		};
		prover.opening(node, row, col).map_err(EngineError::Opening)
	}

	/// Bytes the node outputs take.
	pub fn size_bytes(&self) -> u64 {
		self.outputs.iter().map(|o| o.len() as u64 * 4).sum()
	}
}
