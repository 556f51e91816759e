//! Openings and the one-step check a dispute ends in.
//!
//! A challenge names one element `(node, row, col)` of a committed trace. The provider answers
//! with an [`Opening`]: the claimed output row and every input row the element depends on (trace
//! proofs against `trace_root`), and the weight rows it reads (proofs against the weights root
//! behind `model_root`). [`verify_element`] checks every proof, recomputes the element with the
//! reference evaluator and applies the op's bound.

use alloc::vec::Vec;
use codec::{Decode, DecodeWithMemTracking, Encode};
use scale_info::TypeInfo;

use crate::{
	commitment::{trace_leaf, trace_offsets, weight_leaf, weight_offsets},
	encoding::{descriptor_hash, model_root_of, trace_root_of},
	evaluator::{ops, ElementCheck},
	ir::{f32_of, seq_of, Graph, GraphError, NodeId, Op, Shape, WeightId},
	merkle::{verify_range, ProofError, RangeProof},
	Hash,
};

/// Consecutive rows `[first_row, first_row + rows.len())` of one node (trace) or weight tensor,
/// values as f32 bit patterns, with one Merkle proof for the whole run.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo)]
pub struct RowsOpening {
	/// Node id (trace) or weight tensor id (weights).
	pub id: u32,
	pub first_row: u32,
	pub rows: Vec<Vec<u32>>,
	pub proof: RangeProof,
}

/// What a provider shows for one element.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo)]
pub struct Opening {
	pub node: NodeId,
	pub row: u32,
	pub col: u32,
	/// Trace rows: the output row of `node` and every input row the element reads.
	pub trace_rows: Vec<RowsOpening>,
	/// Weight rows the element reads.
	pub weight_rows: Vec<RowsOpening>,
	/// The weights root and tokenizer hash behind `model_root` (the descriptor hash is
	/// recomputed from the graph).
	pub weights_root: Hash,
	pub tokenizer_hash: Hash,
	/// The sequence length the trace is of, and the trace tree's root: together they hash to
	/// the committed `trace_root` ([`trace_root_of`]).
	pub seq_len: u32,
	pub trace_tree_root: Hash,
}

/// A row an element depends on.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo)]
pub enum RowRef {
	Trace { node: NodeId, row: u32 },
	Weight { tensor: WeightId, row: u32 },
}

/// Why an opening is malformed. A malformed answer loses the dispute like a wrong value.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo)]
pub enum MalformedReason {
	/// The graph itself is invalid.
	InvalidGraph(GraphError),
	/// The disputed node does not exist.
	NodeNotChallengeable,
	/// Row or column outside the node's output.
	ElementOutOfRange,
	/// The opening names another element than the one disputed.
	WrongElement,
	/// `weights_root`, the graph's descriptor hash and `tokenizer_hash` do not hash to
	/// `model_root`.
	ModelRootMismatch,
	/// `seq_len` and `trace_tree_root` do not hash to the committed `trace_root`.
	TraceRootMismatch,
	/// A row has the wrong width.
	RowWidth { row: RowRef },
	/// A row the element depends on is missing.
	MissingRow { row: RowRef },
	/// A row the element does not depend on was included.
	UnexpectedRow { row: RowRef },
	/// A row opening names a node or tensor outside the graph, or is empty.
	BadRowOpening,
	/// A Merkle proof did not verify.
	BadProof { row: RowRef, error: ProofError },
	/// An opened value is NaN or infinite (a trace with one is invalid).
	NonFinite { row: RowRef },
	/// An embedding id is not an integer in the table's range.
	InvalidTokenId,
	/// The disputed element belongs to the final node and its committed trace value differs
	/// (bitwise) from the committed output, or the committed output is not the final node's
	/// size: the provider committed an output its trace does not hold.
	OutputMismatch,
	/// The trace is not of the task's input: its committed length is not the number of token
	/// ids, or a committed input row differs (bitwise) from the values the task's ids give.
	InputMismatch,
}

/// The ruling on one element.
#[derive(Clone, PartialEq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo)]
pub enum Verdict {
	/// Every proof holds and the claim is within the bound: the provider wins.
	WithinBound,
	/// Every proof holds and the claim is outside the bound: the provider loses.
	OutsideBound,
	/// The opening is malformed; [`Verdict::ruling`] says for whom.
	Malformed(MalformedReason),
}

/// What a provider is convicted of.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Fault {
	/// The recomputed element is outside the bound.
	OutsideBound,
	/// Committed rows are themselves invalid (a non-finite value, an impossible token id).
	InvalidCommittedData,
	/// The committed output is not the committed trace's final node.
	OutputMismatch,
	/// The committed trace is not of the task's input.
	InputMismatch,
}

/// Whom a verdict rules for (docs/protocol.md, "Rulings").
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Ruling {
	/// The element is within its bound, or the challenge named an element that does not
	/// exist: the challenge was wrong.
	ProviderWins,
	/// The provider's commitments are at fault.
	ProviderLoses(Fault),
	/// The answer proves nothing about the committed trace (a bad proof, rows that do not fit,
	/// another element): refused without a ruling, so nobody can answer a challenge with garbage
	/// in order to settle it.
	Refused,
}

impl Verdict {
	/// The ruling this verdict makes.
	pub fn ruling(&self) -> Ruling {
		match self {
			Self::WithinBound => Ruling::ProviderWins,
			Self::OutsideBound => Ruling::ProviderLoses(Fault::OutsideBound),
			Self::Malformed(
				MalformedReason::NonFinite { .. } | MalformedReason::InvalidTokenId,
			) => Ruling::ProviderLoses(Fault::InvalidCommittedData),
			Self::Malformed(MalformedReason::OutputMismatch) =>
				Ruling::ProviderLoses(Fault::OutputMismatch),
			Self::Malformed(MalformedReason::InputMismatch) =>
				Ruling::ProviderLoses(Fault::InputMismatch),
			Self::Malformed(
				MalformedReason::ElementOutOfRange | MalformedReason::NodeNotChallengeable,
			) => Ruling::ProviderWins,
			Self::Malformed(_) => Ruling::Refused,
		}
	}
}

/// The registered model a dispute is checked against.
#[derive(Clone, Copy, Debug)]
pub struct RegisteredModel<'a> {
	/// The graph template (hashes to the registered descriptor hash).
	pub graph: &'a Graph,
	pub model_root: &'a Hash,
	/// The model's absolute tolerance slack.
	pub slack: f32,
	/// The registered widest row.
	pub max_row_width: u32,
}

impl RegisteredModel<'_> {
	/// The slack as a non-negative f64 (0 if not finite).
	pub fn slack(&self) -> f64 {
		if self.slack.is_finite() {
			(self.slack as f64).abs()
		} else {
			0.0
		}
	}
}

/// What the chain holds of the disputed task: the values the verifier does not recompute.
#[derive(Clone, Copy, Debug)]
pub struct TaskCommitments<'a> {
	/// The committed `trace_root`.
	pub trace_root: &'a Hash,
	/// The committed output: every element of the graph's final node, row-major, f32
	/// little-endian. An element of the final node is ruled against it as well as against its
	/// operands.
	pub output: &'a [u8],
	/// The task's input: its token ids. The trace must be of their number, and every input
	/// row the element reads must hold the values they give ([`crate::ir::InputKind`]).
	pub input: &'a [u32],
}

/// The rows element `(node, row, col)` reads besides weight rows chosen by data (an
/// embedding's table row depends on the token id, see [`embedding_table_row`]). The output row
/// `(node, row)` comes first.
pub fn required_rows(
	graph: &Graph,
	node: NodeId,
	row: u32,
	col: u32,
) -> Result<Vec<RowRef>, MalformedReason> {
	let n = graph.node(node).ok_or(MalformedReason::NodeNotChallengeable)?;
	if row as u64 >= n.shape.rows() || col >= n.shape.width() {
		return Err(MalformedReason::ElementOutOfRange);
	}
	let input = |k: usize| -> Result<(NodeId, &Shape), MalformedReason> {
		let id = *n.inputs.get(k).ok_or(MalformedReason::NodeNotChallengeable)?;
		let shape = &graph.node(id).ok_or(MalformedReason::NodeNotChallengeable)?.shape;
		Ok((id, shape))
	};
	let trace = |node: NodeId, row: u64| -> Result<RowRef, MalformedReason> {
		let row = u32::try_from(row).map_err(|_| MalformedReason::ElementOutOfRange)?;
		Ok(RowRef::Trace { node, row })
	};
	let mut rows = Vec::from([RowRef::Trace { node, row }]);
	let r = row as u64;
	match &n.op {
		// An input element is ruled against the task's input: the output row alone.
		Op::Input { .. } => {},
		Op::Embedding { .. } => {
			let (ids, shape) = input(0)?;
			rows.push(trace(ids, r / shape.width().max(1) as u64)?);
		},
		Op::Linear { weight, bias } => {
			rows.push(trace(input(0)?.0, r)?);
			rows.push(RowRef::Weight { tensor: *weight, row: col });
			if let Some(b) = bias {
				rows.push(RowRef::Weight { tensor: *b, row: 0 });
			}
		},
		Op::MatMul => {
			let (a, _) = input(0)?;
			let (b, b_shape) = input(1)?;
			let dims = n.shape.dims();
			let m = dims.get(dims.len().saturating_sub(2)).copied().unwrap_or(1).max(1) as u64;
			let b_rows_per_batch =
				b_shape.dims().get(b_shape.rank().saturating_sub(2)).copied().unwrap_or(1) as u64;
			rows.push(trace(a, r)?);
			rows.push(trace(b, (r / m) * b_rows_per_batch + col as u64)?);
		},
		Op::Add | Op::Mul => {
			let (a, _) = input(0)?;
			let (b, b_shape) = input(1)?;
			rows.push(trace(a, r)?);
			rows.push(trace(b, if b_shape.rows() == 1 { 0 } else { r })?);
		},
		Op::Scale { .. } | Op::Gelu | Op::Silu | Op::Relu | Op::L2Normalize { .. } => {
			rows.push(trace(input(0)?.0, r)?);
		},
		Op::LayerNorm { gamma, beta, .. } => {
			rows.push(trace(input(0)?.0, r)?);
			rows.push(RowRef::Weight { tensor: *gamma, row: 0 });
			rows.push(RowRef::Weight { tensor: *beta, row: 0 });
		},
		Op::RmsNorm { gamma, .. } => {
			rows.push(trace(input(0)?.0, r)?);
			rows.push(RowRef::Weight { tensor: *gamma, row: 0 });
		},
		Op::Softmax => {
			rows.push(trace(input(0)?.0, r)?);
			if n.inputs.len() == 2 {
				let (mask, mask_shape) = input(1)?;
				rows.push(trace(mask, if mask_shape.rows() == 1 { 0 } else { r })?);
			}
		},
		Op::Transpose { .. } | Op::Reshape => {
			let (x, x_shape) = input(0)?;
			let (src_row, _) = source_position(&n.op, &n.shape, x_shape, row, col)?;
			rows.push(trace(x, src_row)?);
		},
		Op::MeanPool => {
			rows.push(trace(input(0)?.0, col as u64)?);
			let (mask, _) = input(1)?;
			rows.push(trace(mask, 0)?);
		},
		Op::Rope { cos, sin } => {
			rows.push(trace(input(0)?.0, r)?);
			let position = position_of(&n.shape, row)?;
			rows.push(RowRef::Weight { tensor: *cos, row: position });
			rows.push(RowRef::Weight { tensor: *sin, row: position });
		},
		Op::CausalScores { group, .. } => {
			// After the diagonal the element is zero by definition: its own row is all it reads.
			let position = position_of(&n.shape, row)?;
			if col <= position {
				let seq = seq_of(&n.shape).unwrap_or(1).max(1) as u64;
				let head = r / seq;
				rows.push(trace(input(0)?.0, r)?);
				rows.push(trace(input(1)?.0, (head / (*group).max(1) as u64) * seq + col as u64)?);
			}
		},
		Op::CausalSoftmax => {
			rows.push(trace(input(0)?.0, r)?);
		},
		Op::GroupedMatMul { group } => {
			let m = seq_of(&n.shape).unwrap_or(1).max(1) as u64;
			let (b, b_shape) = input(1)?;
			let b_rows_per_head = seq_of(b_shape).unwrap_or(1) as u64;
			let head = r / m;
			rows.push(trace(input(0)?.0, r)?);
			rows.push(trace(b, (head / (*group).max(1) as u64) * b_rows_per_head + col as u64)?);
		},
	}
	Ok(rows)
}

/// The position of row `row` of a tensor of `shape` along its sequence dimension (the one
/// before the row): what `Rope` and the causal ops read their position from.
pub fn position_of(shape: &Shape, row: u32) -> Result<u32, MalformedReason> {
	let seq = seq_of(shape).ok_or(MalformedReason::NodeNotChallengeable)?;
	Ok(row % seq.max(1))
}

/// Where output element `(row, col)` of a `Transpose`/`Reshape` comes from in its input.
pub fn source_position(
	op: &Op,
	out: &Shape,
	input: &Shape,
	row: u32,
	col: u32,
) -> Result<(u64, u32), MalformedReason> {
	let flat_out = (row as u64) * out.width() as u64 + col as u64;
	let flat_in = match op {
		Op::Reshape => flat_out,
		Op::Transpose { dim0, dim1 } => {
			// Multi-index of the output element, then swap the two axes back.
			let dims = out.dims();
			let mut index = [0u64; crate::ir::MAX_DIMS];
			let mut rest = flat_out;
			for (k, d) in dims.iter().enumerate().rev() {
				let d = (*d).max(1) as u64;
				if let Some(slot) = index.get_mut(k) {
					*slot = rest % d;
				}
				rest /= d;
			}
			index.swap(*dim0 as usize % crate::ir::MAX_DIMS, *dim1 as usize % crate::ir::MAX_DIMS);
			let mut flat = 0u64;
			for (k, d) in input.dims().iter().enumerate() {
				flat = flat * (*d as u64) + index.get(k).copied().unwrap_or(0);
			}
			flat
		},
		_ => return Err(MalformedReason::NodeNotChallengeable),
	};
	let w = input.width().max(1) as u64;
	Ok((flat_in / w, (flat_in % w) as u32))
}

/// The table row an embedding output row reads: the token id at that position, checked to be
/// an integer in `[0, vocabulary)`.
pub fn embedding_table_row(
	ids_row: &[f32],
	ids_width: u32,
	out_row: u32,
	vocabulary: u64,
) -> Option<u32> {
	let pos = (out_row as u64 % ids_width.max(1) as u64) as usize;
	let id = *ids_row.get(pos)?;
	if id < 0.0 || libm::truncf(id) != id || (id as u64) >= vocabulary {
		return None;
	}
	Some(id as u32)
}

/// The committed output holds the final node's value at `(row, col)`, bit for bit, and is
/// exactly the final node's size.
fn check_output(
	shape: &Shape,
	row: u32,
	col: u32,
	claimed: f32,
	output: &[u8],
) -> Result<(), MalformedReason> {
	let size = shape.numel().checked_mul(4).ok_or(MalformedReason::OutputMismatch)?;
	if output.len() as u64 != size {
		return Err(MalformedReason::OutputMismatch);
	}
	let at = (row as u64 * shape.width() as u64 + col as u64) * 4;
	let bytes = usize::try_from(at)
		.ok()
		.and_then(|at| output.get(at..at.checked_add(4)?))
		.ok_or(MalformedReason::OutputMismatch)?;
	if bytes != claimed.to_le_bytes() {
		return Err(MalformedReason::OutputMismatch);
	}
	Ok(())
}

/// The rows an opening holds, expanded and checked against the commitments.
pub(crate) struct OpenedRows {
	pub(crate) trace: Vec<(NodeId, u32, Vec<f32>)>,
	pub(crate) weights: Vec<(WeightId, u32, Vec<f32>)>,
}

impl OpenedRows {
	fn trace(&self, node: NodeId, row: u32) -> Option<&[f32]> {
		self.trace
			.iter()
			.find(|(n, r, _)| *n == node && *r == row)
			.map(|(_, _, v)| v.as_slice())
	}
	fn weight(&self, tensor: WeightId, row: u32) -> Option<&[f32]> {
		self.weights
			.iter()
			.find(|(t, r, _)| *t == tensor && *r == row)
			.map(|(_, _, v)| v.as_slice())
	}
	pub(crate) fn get(&self, r: RowRef) -> Result<&[f32], MalformedReason> {
		match r {
			RowRef::Trace { node, row } => self.trace(node, row),
			RowRef::Weight { tensor, row } => self.weight(tensor, row),
		}
		.ok_or(MalformedReason::MissingRow { row: r })
	}
}

/// Checks the proofs of a list of row openings and expands them into rows.
/// Every row an opening holds, each proven against its root (trace rows against the trace
/// tree root, weight rows against the weights root) and checked finite.
pub(crate) fn open_all(graph: &Graph, opening: &Opening) -> Result<OpenedRows, MalformedReason> {
	let (t_offsets, t_count) = trace_offsets(graph);
	let (w_offsets, w_count) = weight_offsets(graph);
	let trace = open_rows(
		&opening.trace_rows,
		&opening.trace_tree_root,
		&t_offsets,
		t_count,
		|id| graph.node(id).map(|n| n.shape.clone()),
		trace_leaf,
		|node, row| RowRef::Trace { node, row },
	)?;
	let weights = open_rows(
		&opening.weight_rows,
		&opening.weights_root,
		&w_offsets,
		w_count,
		|id| graph.weight(id).map(|w| w.shape.clone()),
		weight_leaf,
		|tensor, row| RowRef::Weight { tensor, row },
	)?;
	Ok(OpenedRows { trace, weights })
}

fn open_rows(
	openings: &[RowsOpening],
	root: &Hash,
	offsets: &[u64],
	leaf_count: u64,
	shape_of: impl Fn(u32) -> Option<Shape>,
	leaf: impl Fn(u32, u32, &[u32]) -> Hash,
	to_ref: impl Fn(u32, u32) -> RowRef,
) -> Result<Vec<(u32, u32, Vec<f32>)>, MalformedReason> {
	let mut out = Vec::new();
	for o in openings {
		let shape = shape_of(o.id).ok_or(MalformedReason::BadRowOpening)?;
		let offset = *offsets.get(o.id as usize).ok_or(MalformedReason::BadRowOpening)?;
		if o.rows.is_empty() {
			return Err(MalformedReason::BadRowOpening);
		}
		let first = to_ref(o.id, o.first_row);
		let end = (o.first_row as u64).saturating_add(o.rows.len() as u64);
		if end > shape.rows() {
			return Err(MalformedReason::UnexpectedRow { row: first });
		}
		let mut leaves = Vec::with_capacity(o.rows.len());
		for (k, bits) in o.rows.iter().enumerate() {
			let row = o.first_row.saturating_add(k as u32);
			let r = to_ref(o.id, row);
			if bits.len() as u64 != shape.width() as u64 {
				return Err(MalformedReason::RowWidth { row: r });
			}
			leaves.push(leaf(o.id, row, bits));
		}
		verify_range(root, leaf_count, offset + o.first_row as u64, &leaves, &o.proof)
			.map_err(|error| MalformedReason::BadProof { row: first, error })?;
		for (k, bits) in o.rows.iter().enumerate() {
			let row = o.first_row.saturating_add(k as u32);
			let values: Vec<f32> = bits.iter().map(|b| f32_of(*b)).collect();
			if values.iter().any(|v| !v.is_finite()) {
				return Err(MalformedReason::NonFinite { row: to_ref(o.id, row) });
			}
			out.push((o.id, row, values));
		}
	}
	Ok(out)
}

/// Rules on an opening for element `(node, row, col)` of the task's committed trace, for the
/// registered model.
///
/// The caller passes the element the dispute names; an opening for any other element is
/// malformed.
pub fn verify_element(
	model: &RegisteredModel,
	task: &TaskCommitments,
	disputed: (NodeId, u32, u32),
	opening: &Opening,
) -> Verdict {
	verdict_of(model, check_opening(model, task, disputed, opening))
}

/// The verdict on a checked element, with the model's slack.
pub(crate) fn verdict_of(
	model: &RegisteredModel,
	check: Result<ElementCheck, MalformedReason>,
) -> Verdict {
	match check {
		Ok(check) if check.passes(model.slack()) => Verdict::WithinBound,
		Ok(_) => Verdict::OutsideBound,
		Err(reason) => Verdict::Malformed(reason),
	}
}

/// The opening's commitments: its weights root (with the graph's descriptor hash and its
/// tokenizer hash) must give the registered `model_root`, its length and trace tree root the
/// committed `trace_root`.
pub(crate) fn check_commitments(
	model: &RegisteredModel,
	trace_root: &Hash,
	opening: &Opening,
) -> Result<(), MalformedReason> {
	let expected_root = model_root_of(
		&opening.weights_root,
		&descriptor_hash(model.graph),
		&opening.tokenizer_hash,
	);
	if &expected_root != model.model_root {
		return Err(MalformedReason::ModelRootMismatch);
	}
	if &trace_root_of(opening.seq_len, &opening.trace_tree_root) != trace_root {
		return Err(MalformedReason::TraceRootMismatch);
	}
	Ok(())
}

/// Checks every proof of an opening and recomputes the element; the caller applies the slack.
pub fn check_opening(
	model: &RegisteredModel,
	task: &TaskCommitments,
	disputed: (NodeId, u32, u32),
	opening: &Opening,
) -> Result<ElementCheck, MalformedReason> {
	check_opening_with(model, task, disputed, opening, OutputRule::FinalNode)
}

/// Whether the final node is the committed output.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum OutputRule {
	/// It is (an embedding task): an element of it is compared with `task.output` first.
	FinalNode,
	/// It is not (a generation task, whose output is its tokens: they are the trace's input and
	/// token-choice disputes rule on them, `crate::token_choice`).
	None,
}

pub(crate) fn check_opening_with(
	model: &RegisteredModel,
	task: &TaskCommitments,
	disputed: (NodeId, u32, u32),
	opening: &Opening,
	output_rule: OutputRule,
) -> Result<ElementCheck, MalformedReason> {
	let (graph, max_row_width) = (model.graph, model.max_row_width);
	let (node, row, col) = disputed;
	if (opening.node, opening.row, opening.col) != disputed {
		return Err(MalformedReason::WrongElement);
	}
	check_commitments(model, task.trace_root, opening)?;
	// The provider committed to this length; a trace of any other than the task's is not of
	// the task's input, whatever element is named.
	if opening.seq_len as u64 != task.input.len() as u64 {
		return Err(MalformedReason::InputMismatch);
	}
	// The trace is of the registered template at the committed length.
	let graph = &graph.instantiate(opening.seq_len);
	graph.validate(max_row_width).map_err(MalformedReason::InvalidGraph)?;
	let mut required = required_rows(graph, node, row, col)?;
	let n = graph.node(node).ok_or(MalformedReason::NodeNotChallengeable)?;

	let opened = open_all(graph, opening)?;
	// Input rows are not the provider's to choose: each must be what the task's ids give.
	for (input, row, values) in opened.trace.iter().filter(|(id, _, _)| graph.is_input(*id)) {
		let expected = graph
			.input_row(*input, *row, task.input)
			.ok_or(MalformedReason::InvalidGraph(GraphError::ShapeMismatch { node: *input }))?;
		if !values.iter().zip(&expected).all(|(a, b)| a.to_bits() == b.to_bits()) {
			return Err(MalformedReason::InputMismatch);
		}
	}

	// An embedding's table row is chosen by the token id the trace holds.
	if let Op::Embedding { table } = &n.op {
		let ids_ref = *required.get(1).ok_or(MalformedReason::NodeNotChallengeable)?;
		let ids_row = opened.get(ids_ref)?;
		let ids_node = n
			.inputs
			.first()
			.and_then(|id| graph.node(*id))
			.ok_or(MalformedReason::NodeNotChallengeable)?;
		let vocabulary = graph.weight(*table).map(|w| w.shape.rows()).unwrap_or(0);
		let table_row = embedding_table_row(ids_row, ids_node.shape.width(), row, vocabulary)
			.ok_or(MalformedReason::InvalidTokenId)?;
		required.push(RowRef::Weight { tensor: *table, row: table_row });
	}

	// Exactly the required rows, nothing more.
	for (node, row, _) in &opened.trace {
		let r = RowRef::Trace { node: *node, row: *row };
		if !required.contains(&r) ||
			opened.trace.iter().filter(|(n, w, _)| n == node && w == row).count() > 1
		{
			return Err(MalformedReason::UnexpectedRow { row: r });
		}
	}
	for (tensor, row, _) in &opened.weights {
		let r = RowRef::Weight { tensor: *tensor, row: *row };
		if !required.contains(&r) ||
			opened.weights.iter().filter(|(t, w, _)| t == tensor && w == row).count() > 1
		{
			return Err(MalformedReason::UnexpectedRow { row: r });
		}
	}
	let rows: Vec<&[f32]> = required.iter().map(|r| opened.get(*r)).collect::<Result<_, _>>()?;
	let claimed = rows.first().and_then(|r| r.get(col as usize)).copied().unwrap_or(0.0);
	if node as usize + 1 == graph.nodes.len() && output_rule == OutputRule::FinalNode {
		check_output(&n.shape, row, col, claimed, task.output)?;
	}
	recompute_element(graph, node, row, col, &rows)
}

/// Recomputes element `(node, row, col)` of an instantiated `graph` from `rows`, the values of
/// [`required_rows`] in its order (an embedding's table row appended), and checks the claim,
/// `rows[0][col]`, against it. Proofs are the caller's: [`check_opening`] verifies them first;
/// a watcher passes its own trace here to learn an element's bound.
pub fn recompute_element(
	graph: &Graph,
	node: NodeId,
	row: u32,
	col: u32,
	rows: &[&[f32]],
) -> Result<ElementCheck, MalformedReason> {
	let n = graph.node(node).ok_or(MalformedReason::NodeNotChallengeable)?;
	let at = |k: usize| -> &[f32] { rows.get(k).copied().unwrap_or(&[]) };
	let elem = |k: usize, c: u32| -> f32 { at(k).get(c as usize).copied().unwrap_or(0.0) };
	let claimed = elem(0, col);
	let c = col as usize;
	let check = match &n.op {
		// check_opening compared the row with the task's input; a watcher's own rows are its own.
		Op::Input { .. } => ops::copy(claimed, claimed),
		Op::Embedding { .. } => ops::copy(elem(2, col), claimed),
		Op::Linear { bias, .. } => ops::linear(at(1), at(2), bias.map(|_| elem(3, col)), claimed),
		Op::MatMul => ops::matmul(at(1), at(2), claimed),
		Op::Add | Op::Mul => {
			let a = elem(1, col);
			let b = elem(2, col);
			if n.op == Op::Add {
				ops::add(a, b, claimed)
			} else {
				ops::mul(a, b, claimed)
			}
		},
		Op::Scale { factor_bits } => ops::scale(elem(1, col), f32_of(*factor_bits), claimed),
		Op::Gelu => ops::gelu(elem(1, col), claimed),
		Op::Silu => ops::silu(elem(1, col), claimed),
		Op::Relu => ops::relu(elem(1, col), claimed),
		Op::LayerNorm { eps_bits, .. } =>
			ops::layer_norm(at(1), at(2), at(3), f32_of(*eps_bits), c, claimed),
		Op::RmsNorm { eps_bits, .. } => ops::rms_norm(at(1), at(2), f32_of(*eps_bits), c, claimed),
		Op::Softmax => {
			let mask = if n.inputs.len() == 2 { Some(at(2)) } else { None };
			ops::softmax(at(1), mask, c, claimed)
		},
		Op::L2Normalize { eps_bits } => ops::l2_normalize(at(1), f32_of(*eps_bits), c, claimed),
		Op::Transpose { .. } | Op::Reshape => {
			let x_shape = n
				.inputs
				.first()
				.and_then(|id| graph.node(*id))
				.map(|x| &x.shape)
				.ok_or(MalformedReason::NodeNotChallengeable)?;
			let (_, src_col) = source_position(&n.op, &n.shape, x_shape, row, col)?;
			ops::copy(elem(1, src_col), claimed)
		},
		Op::MeanPool => ops::mean_pool(at(1), at(2), claimed),
		Op::Rope { .. } => ops::rope(at(1), at(2), at(3), c, claimed),
		Op::CausalScores { scale_bits, .. } =>
			if col > position_of(&n.shape, row)? {
				ops::masked(claimed)
			} else {
				ops::causal_score(at(1), at(2), f32_of(*scale_bits), claimed)
			},
		Op::CausalSoftmax => {
			let position = position_of(&n.shape, row)? as usize;
			ops::causal_softmax(at(1), position, c, claimed)
		},
		Op::GroupedMatMul { .. } => ops::matmul(at(1), at(2), claimed),
	};
	Ok(check)
}
