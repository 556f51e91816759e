//! Building openings (native side): what a provider's trace store does when challenged.

use alloc::vec::Vec;

use crate::{
	commitment::{trace_offsets, weight_offsets},
	encoding::to_bits,
	ir::{Graph, NodeId, Op, WeightId},
	merkle::MerkleTree,
	opening::{embedding_table_row, required_rows, MalformedReason, Opening, RowRef, RowsOpening},
	token_choice::{token_choice_element, token_choice_rows, GenerationCommitments},
	Hash,
};

/// Where a prover reads weight rows: a slice of row-major tensors, or a model that keeps some
/// weights in a compact form and dequantizes a row when asked (the engine's 4-bit layers).
pub trait WeightRows {
	/// Row `row` of weight tensor `tensor` (`width` values), `None` if it has no such row.
	fn weight_row(&self, tensor: WeightId, row: u32, width: u32) -> Option<Vec<f32>>;
}

impl<W: AsRef<[f32]>> WeightRows for [W] {
	fn weight_row(&self, tensor: WeightId, row: u32, width: u32) -> Option<Vec<f32>> {
		row_of(self, tensor, row, width)
	}
}

impl<W: AsRef<[f32]>> WeightRows for Vec<W> {
	fn weight_row(&self, tensor: WeightId, row: u32, width: u32) -> Option<Vec<f32>> {
		row_of(self, tensor, row, width)
	}
}

/// Everything a provider keeps to answer challenges on one trace.
pub struct ProverData<'a, T: AsRef<[f32]>, W: WeightRows + ?Sized> {
	/// The graph as traced: the model's template instantiated at `seq_len`.
	pub graph: &'a Graph,
	/// The sequence length the trace is of (committed in `trace_root`).
	pub seq_len: u32,
	/// Node outputs, row-major, one per node.
	pub outputs: &'a [T],
	pub trace_tree: &'a MerkleTree,
	/// The weight rows (tensors row-major, one per graph weight).
	pub weights: &'a W,
	pub weights_tree: &'a MerkleTree,
	pub tokenizer_hash: Hash,
}

/// Why an opening could not be built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProveError {
	/// The element cannot be disputed or lies outside the node.
	Element(MalformedReason),
	/// The stored trace or weights do not match the graph.
	Inconsistent,
}

fn row_of<T: AsRef<[f32]>>(tensors: &[T], id: u32, row: u32, width: u32) -> Option<Vec<f32>> {
	let data = tensors.get(id as usize)?.as_ref();
	let start = (row as usize).checked_mul(width as usize)?;
	data.get(start..start.checked_add(width as usize)?).map(|s| s.to_vec())
}

impl<T: AsRef<[f32]>, W: WeightRows + ?Sized> ProverData<'_, T, W> {
	fn trace_row(&self, node: NodeId, row: u32) -> Result<RowsOpening, ProveError> {
		let width = self.graph.node(node).ok_or(ProveError::Inconsistent)?.shape.width();
		let values = row_of(self.outputs, node, row, width).ok_or(ProveError::Inconsistent)?;
		let (offsets, _) = trace_offsets(self.graph);
		let index = offsets.get(node as usize).ok_or(ProveError::Inconsistent)? + row as u64;
		let proof = self.trace_tree.prove(index as usize).ok_or(ProveError::Inconsistent)?;
		Ok(RowsOpening { id: node, first_row: row, rows: Vec::from([to_bits(&values)]), proof })
	}

	fn weight_row(&self, tensor: u32, row: u32) -> Result<RowsOpening, ProveError> {
		let width = self.graph.weight(tensor).ok_or(ProveError::Inconsistent)?.shape.width();
		let values = self.weights.weight_row(tensor, row, width).ok_or(ProveError::Inconsistent)?;
		let (offsets, _) = weight_offsets(self.graph);
		let index = offsets.get(tensor as usize).ok_or(ProveError::Inconsistent)? + row as u64;
		let proof = self.weights_tree.prove(index as usize).ok_or(ProveError::Inconsistent)?;
		Ok(RowsOpening { id: tensor, first_row: row, rows: Vec::from([to_bits(&values)]), proof })
	}

	/// The opening of element `(node, row, col)`. For an element that does not exist (a row or
	/// column outside its node, a node outside the graph), it is the commitments alone, no rows:
	/// the runtime rules such a challenge for the provider ([`crate::opening::Verdict::ruling`]),
	/// so an honest provider answers every challenge.
	pub fn opening(&self, node: NodeId, row: u32, col: u32) -> Result<Opening, ProveError> {
		let mut required = match required_rows(self.graph, node, row, col) {
			Ok(rows) => rows,
			Err(MalformedReason::ElementOutOfRange | MalformedReason::NodeNotChallengeable) =>
				Vec::new(),
			Err(e) => return Err(ProveError::Element(e)),
		};
		let embedding = self.graph.node(node).map(|n| &n.op).filter(|_| !required.is_empty());
		if let Some(Op::Embedding { table }) = embedding {
			let ids_ref = *required.get(1).ok_or(ProveError::Inconsistent)?;
			let RowRef::Trace { node: ids, row: ids_row } = ids_ref else {
				return Err(ProveError::Inconsistent);
			};
			let ids_width = self.graph.node(ids).ok_or(ProveError::Inconsistent)?.shape.width();
			let values =
				row_of(self.outputs, ids, ids_row, ids_width).ok_or(ProveError::Inconsistent)?;
			let vocabulary = self.graph.weight(*table).map(|w| w.shape.rows()).unwrap_or(0);
			let table_row = embedding_table_row(&values, ids_width, row, vocabulary)
				.ok_or(ProveError::Element(MalformedReason::InvalidTokenId))?;
			required.push(RowRef::Weight { tensor: *table, row: table_row });
		}
		let mut trace_rows = Vec::new();
		let mut weight_rows = Vec::new();
		for r in required {
			match r {
				RowRef::Trace { node, row } => {
					if !trace_rows.iter().any(|o: &RowsOpening| o.id == node && o.first_row == row)
					{
						trace_rows.push(self.trace_row(node, row)?);
					}
				},
				RowRef::Weight { tensor, row } => {
					if !weight_rows
						.iter()
						.any(|o: &RowsOpening| o.id == tensor && o.first_row == row)
					{
						weight_rows.push(self.weight_row(tensor, row)?);
					}
				},
			}
		}
		Ok(self.with_rows((node, row, col), trace_rows, weight_rows))
	}

	/// The answer to a token-choice dispute ([`crate::token_choice::verify_token_choice`]) at
	/// `step` against `rival`: the hidden row that chose the committed token and the two
	/// tokens' embedding rows. For a step or rival that does not exist, the commitments alone
	/// (ruled for the provider, as for an element that does not exist).
	pub fn token_choice_opening(
		&self,
		task: &GenerationCommitments,
		step: u32,
		rival: u32,
	) -> Result<Opening, ProveError> {
		let rows = match token_choice_rows(self.graph, task, step, rival) {
			Ok(rows) => rows,
			Err(MalformedReason::ElementOutOfRange | MalformedReason::NodeNotChallengeable) => {
				let element = token_choice_element(self.graph, task, step).unwrap_or((0, 0, 0));
				return Ok(self.with_rows(element, Vec::new(), Vec::new()));
			},
			Err(e) => return Err(ProveError::Element(e)),
		};
		let [RowRef::Trace { node, row }, RowRef::Weight { tensor, row: chosen }, RowRef::Weight { row: rival, .. }] =
			rows
		else {
			return Err(ProveError::Inconsistent);
		};
		let trace_rows = Vec::from([self.trace_row(node, row)?]);
		let weight_rows =
			Vec::from([self.weight_row(tensor, chosen)?, self.weight_row(tensor, rival)?]);
		Ok(self.with_rows((node, row, 0), trace_rows, weight_rows))
	}

	fn with_rows(
		&self,
		(node, row, col): (NodeId, u32, u32),
		trace_rows: Vec<RowsOpening>,
		weight_rows: Vec<RowsOpening>,
	) -> Opening {
		Opening {
			node,
			row,
			col,
			trace_rows,
			weight_rows,
			weights_root: self.weights_tree.root(),
			tokenizer_hash: self.tokenizer_hash,
			seq_len: self.seq_len,
			trace_tree_root: self.trace_tree.root(),
		}
	}
}
