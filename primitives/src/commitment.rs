//! Commitments: the weights tree behind `model_root` and the trace tree (`trace_root`).
//!
//! Leaf positions are fixed by the graph: weight tensor `t`, row `r` sits at
//! `weight_offsets[t] + r`; node `n`, row `r` of a trace at `trace_offsets[n] + r`.

use alloc::vec::Vec;

use crate::{
	encoding::{
		descriptor_hash, leaf_data, model_root_of, to_bits, trace_root_of, ACTIVATION_LEAF_TAG,
		WEIGHT_LEAF_TAG,
	},
	ir::{Graph, NodeId, WeightId},
	merkle::{leaf_hash, MerkleTree},
	Hash,
};

/// First leaf index of every weight tensor, and the total leaf count.
pub fn weight_offsets(graph: &Graph) -> (Vec<u64>, u64) {
	offsets(graph.weights.iter().map(|w| w.shape.rows()))
}

/// First leaf index of every node's rows in a trace, and the total leaf count.
pub fn trace_offsets(graph: &Graph) -> (Vec<u64>, u64) {
	offsets(graph.nodes.iter().map(|n| n.shape.rows()))
}

fn offsets(rows: impl Iterator<Item = u64>) -> (Vec<u64>, u64) {
	let mut out = Vec::new();
	let mut total = 0u64;
	for r in rows {
		out.push(total);
		total = total.saturating_add(r);
	}
	(out, total)
}

/// Leaf hash of weight tensor `tensor`, row `row`.
pub fn weight_leaf(tensor: WeightId, row: u32, values_bits: &[u32]) -> Hash {
	leaf_hash(&leaf_data(WEIGHT_LEAF_TAG, tensor, row, values_bits))
}

/// Leaf hash of node `node`, row `row` of a trace.
pub fn trace_leaf(node: NodeId, row: u32, values_bits: &[u32]) -> Hash {
	leaf_hash(&leaf_data(ACTIVATION_LEAF_TAG, node, row, values_bits))
}

/// Why tensors could not be committed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommitError {
	/// The number of tensors differs from the graph's.
	TensorCount { expected: usize, found: usize },
	/// A tensor's length differs from its shape.
	TensorLength { index: usize, expected: u64, found: usize },
	/// A tensor holds a NaN or an infinity (an invalid trace or model).
	NonFinite { index: usize },
}

/// Builds a tree whose leaves are the rows of `tensors` (one per graph entry, row-major),
/// hashed with `leaf`.
fn build_tree<T: AsRef<[f32]>>(
	tensors: &[T],
	shapes: impl Iterator<Item = (u64, u32)>,
	leaf: impl Fn(u32, u32, &[u32]) -> Hash,
) -> Result<MerkleTree, CommitError> {
	let shapes: Vec<(u64, u32)> = shapes.collect();
	if shapes.len() != tensors.len() {
		return Err(CommitError::TensorCount { expected: shapes.len(), found: tensors.len() });
	}
	let mut leaves = Vec::new();
	for (index, (tensor, (rows, width))) in tensors.iter().zip(shapes).enumerate() {
		let data = tensor.as_ref();
		let expected = rows.saturating_mul(width as u64);
		if data.len() as u64 != expected {
			return Err(CommitError::TensorLength { index, expected, found: data.len() });
		}
		if data.iter().any(|v| !v.is_finite()) {
			return Err(CommitError::NonFinite { index });
		}
		for (r, row) in data.chunks(width.max(1) as usize).enumerate() {
			leaves.push(leaf(index as u32, r as u32, &to_bits(row)));
		}
	}
	Ok(MerkleTree::from_leaf_hashes(leaves))
}

/// The weights tree: `weights[t]` holds tensor `t` of the graph, row-major.
pub fn weights_tree<T: AsRef<[f32]>>(
	graph: &Graph,
	weights: &[T],
) -> Result<MerkleTree, CommitError> {
	build_tree(
		weights,
		graph.weights.iter().map(|w| (w.shape.rows(), w.shape.width())),
		weight_leaf,
	)
}

/// The weights tree with row `r` of tensor `t` read by `row(t, r)`, one row at a time: a loader
/// that keeps weights in a compact form (4-bit blocks) dequantizes each row as it is hashed,
/// never holding a tensor's f32 values. `None` ends the tensor early (`TensorLength`).
pub fn weights_tree_with<R: AsRef<[f32]>>(
	graph: &Graph,
	mut row: impl FnMut(WeightId, u32) -> Option<R>,
) -> Result<MerkleTree, CommitError> {
	let mut leaves = Vec::new();
	for (index, w) in graph.weights.iter().enumerate() {
		let (rows, width) = (w.shape.rows(), w.shape.width());
		let expected = rows.saturating_mul(width as u64);
		for r in 0..rows {
			let Some(values) = row(index as WeightId, r as u32) else {
				let found = (r * width as u64) as usize;
				return Err(CommitError::TensorLength { index, expected, found });
			};
			let values = values.as_ref();
			if values.len() != width as usize {
				let found = (r * width as u64) as usize + values.len();
				return Err(CommitError::TensorLength { index, expected, found });
			}
			if values.iter().any(|v| !v.is_finite()) {
				return Err(CommitError::NonFinite { index });
			}
			leaves.push(weight_leaf(index as WeightId, r as u32, &to_bits(values)));
		}
	}
	Ok(MerkleTree::from_leaf_hashes(leaves))
}

/// The trace tree: `outputs[n]` holds node `n`'s output, row-major; `graph` is the instantiated
/// graph (see [`Graph::instantiate`]).
pub fn trace_tree<T: AsRef<[f32]>>(
	graph: &Graph,
	outputs: &[T],
) -> Result<MerkleTree, CommitError> {
	build_tree(outputs, graph.nodes.iter().map(|n| (n.shape.rows(), n.shape.width())), trace_leaf)
}

/// The parts of a model commitment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelCommitment {
	pub weights_root: Hash,
	pub descriptor_hash: Hash,
	pub tokenizer_hash: Hash,
	pub model_root: Hash,
}

/// `model_root` of a graph, its weights and the hash of its tokenizer file.
pub fn model_commitment<T: AsRef<[f32]>>(
	graph: &Graph,
	weights: &[T],
	tokenizer_hash: Hash,
) -> Result<ModelCommitment, CommitError> {
	Ok(ModelCommitment::of(graph, weights_tree(graph, weights)?.root(), tokenizer_hash))
}

impl ModelCommitment {
	/// The commitment of `graph` with the weights tree rooted at `weights_root`.
	pub fn of(graph: &Graph, weights_root: Hash, tokenizer_hash: Hash) -> Self {
		let descriptor_hash = descriptor_hash(graph);
		let model_root = model_root_of(&weights_root, &descriptor_hash, &tokenizer_hash);
		Self { weights_root, descriptor_hash, tokenizer_hash, model_root }
	}
}

/// The trace tree and `trace_root` of a full trace of `template` at `seq_len` tokens.
pub fn trace_commitment<T: AsRef<[f32]>>(
	template: &Graph,
	seq_len: u32,
	outputs: &[T],
) -> Result<(MerkleTree, Hash), CommitError> {
	let tree = trace_tree(&template.instantiate(seq_len), outputs)?;
	let root = trace_root_of(seq_len, &tree.root());
	Ok((tree, root))
}
