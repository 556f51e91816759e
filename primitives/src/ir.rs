//! The tensor-op IR: a model is a list of weight tensors and a list of nodes in execution order.
//!
//! Tensors are f32, row-major; a *row* is the last dimension. Node `i` may only read nodes
//! `< i`, so a valid graph is acyclic by construction. Every op is defined so that one output
//! element depends on a handful of rows (never a column), which keeps a dispute step O(row width).

use alloc::vec::Vec;
use codec::{Decode, DecodeWithMemTracking, Encode};
use scale_info::TypeInfo;

/// Index of a node in [`Graph::nodes`]. Node 0 is a model input.
pub type NodeId = u32;
/// Index of a weight tensor in [`Graph::weights`].
pub type WeightId = u32;

/// Most dimensions a tensor may have.
pub const MAX_DIMS: usize = 4;
/// Most nodes a graph may have.
pub const MAX_NODES: usize = 4096;
/// Most weight tensors a graph may have.
pub const MAX_WEIGHTS: usize = 4096;
/// Longest weight-tensor name, in bytes.
pub const MAX_NAME_LEN: usize = 128;
/// Most elements one tensor may have (2^28): keeps every index computation far from overflow.
pub const MAX_ELEMENTS: u64 = 1 << 28;
/// Most Merkle leaves (rows) one commitment may have.
pub const MAX_ROWS_TOTAL: u64 = u32::MAX as u64;
/// In a graph *template*, a node dimension written as `SEQ_DIM` stands for the sequence length
/// (the number of tokens of one input). A model registers its template; each trace is of the
/// template instantiated at the input's length ([`Graph::instantiate`]), and the trace root
/// commits to that length. Weight shapes never use it. A zero dimension is otherwise invalid.
pub const SEQ_DIM: u32 = 0;

/// A tensor shape: 1 to [`MAX_DIMS`] dimensions, each at least 1.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo)]
pub struct Shape(pub Vec<u32>);

impl Shape {
	/// The dimensions.
	pub fn dims(&self) -> &[u32] {
		&self.0
	}
	/// Width of a row (the last dimension); 0 for an (invalid) empty shape.
	pub fn width(&self) -> u32 {
		self.0.last().copied().unwrap_or(0)
	}
	/// Number of rows: the product of all dimensions but the last (1 for a vector).
	pub fn rows(&self) -> u64 {
		let n = self.0.len().saturating_sub(1);
		self.0.iter().take(n).fold(1u64, |acc, d| acc.saturating_mul(*d as u64))
	}
	/// Number of elements.
	pub fn numel(&self) -> u64 {
		self.0.iter().fold(1u64, |acc, d| acc.saturating_mul(*d as u64))
	}
	/// The rank (number of dimensions).
	pub fn rank(&self) -> usize {
		self.0.len()
	}
}

/// A weight tensor the graph reads: a name (for binding to a weights file) and a shape.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo)]
pub struct WeightTensor {
	/// Name in the weights file (e.g. a safetensors key), UTF-8.
	pub name: Vec<u8>,
	/// Shape: `[width]` (one row) or `[rows, width]`.
	pub shape: Shape,
}

/// What a model input holds. Every input is a function of the task's token ids and their
/// number, so nothing a provider chooses enters a trace unchecked (docs/protocol.md, "Inputs
/// are the task's"): a dispute compares the committed input rows with these values.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo)]
pub enum InputKind {
	/// The task's token ids, as f32 (exact below 2^24). Shape `[1, SEQ]`.
	TokenIds,
	/// Position `p` holds `p`. Shape `[1, SEQ]`.
	Positions,
	/// Every element is this f32 (bits): token types 0, an additive attention mask of 0 (one
	/// sequence, nothing masked), a pooling mask of 1.
	Constant { value_bits: u32 },
}

impl InputKind {
	/// Element `index` (row-major) of an input of this kind for `ids`; `None` past the ids.
	pub fn value(&self, ids: &[u32], index: u64) -> Option<f32> {
		match self {
			Self::TokenIds => ids.get(usize::try_from(index).ok()?).map(|id| *id as f32),
			Self::Positions => (index < ids.len() as u64).then_some(index as f32),
			Self::Constant { value_bits } => Some(f32_of(*value_bits)),
		}
	}
}

/// The operations of IR v1. Scalars are carried as f32 bit patterns so that the descriptor
/// encoding is exact.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo)]
pub enum Op {
	/// A model input, derived from the task's token ids ([`InputKind`]). Committed in the
	/// trace; a dispute checks it against the task's input.
	Input { kind: InputKind },
	/// `out[r, :] = table[ids[r], :]`; `ids` (the one input) holds one id per output row.
	Embedding { table: WeightId },
	/// `out[.., c] = x[.., :] · weight[c, :] + bias[c]`; `weight` is `[out, in]`.
	Linear { weight: WeightId, bias: Option<WeightId> },
	/// `out[.., i, j] = a[.., i, :] · b[.., j, :]` (a times b transposed), batched over the
	/// leading dimensions.
	MatMul,
	/// Element-wise `a + b`; `b` has `a`'s shape or is one row broadcast to every row.
	Add,
	/// Element-wise `a * b`; `b` has `a`'s shape or is one row broadcast to every row.
	Mul,
	/// `x * factor`.
	Scale { factor_bits: u32 },
	/// `(x - mean) / sqrt(var + eps) * gamma + beta` over each row.
	LayerNorm { gamma: WeightId, beta: WeightId, eps_bits: u32 },
	/// `x / sqrt(mean(x^2) + eps) * gamma` over each row.
	RmsNorm { gamma: WeightId, eps_bits: u32 },
	/// Softmax over each row of `x + mask`; the optional second input `mask` is one row
	/// broadcast to every row or has `x`'s shape (additive, finite: e.g. -1e9 for "masked").
	Softmax,
	/// `0.5 x (1 + erf(x / sqrt 2))`.
	Gelu,
	/// `x / (1 + exp(-x))`.
	Silu,
	/// `max(x, 0)`.
	Relu,
	/// Swaps two dimensions (a pure index map).
	Transpose { dim0: u8, dim1: u8 },
	/// Same elements, new shape (a pure index map).
	Reshape,
	/// Masked mean of each row: inputs `x` `[R, k]` and `mask` (one row of width `k`); output
	/// one row of width `R`: `out[0, r] = sum_k mask[k] x[r, k] / max(sum_k mask[k], 1e-9)`.
	/// (Pooling over tokens is a `Transpose` followed by this, so each element needs one row.)
	MeanPool,
	/// `x / max(||x_row||_2, eps)`.
	L2Normalize { eps_bits: u32 },
	/// Rotary position embedding of interleaved pairs (LLaMA as GGUF stores it): `x` is
	/// `[.., S, D]` (D even) and its row at position `p` (the index along `S`) has each pair
	/// `(x₂ᵢ, x₂ᵢ₊₁)` turned by the angle whose cosine and sine are `cos[p, i]` and `sin[p, i]`:
	/// `out₂ᵢ = x₂ᵢ·cos − x₂ᵢ₊₁·sin`, `out₂ᵢ₊₁ = x₂ᵢ·sin + x₂ᵢ₊₁·cos`. The tables are weights
	/// `[positions, D/2]` committed with the model, so the runtime evaluates no trigonometry.
	Rope { cos: WeightId, sin: WeightId },
	/// Causal attention scores with grouped K/V heads: `q` `[H, S, D]`, `k` `[G, S, D]` with
	/// `H = G·group`; `out[h, i, j] = (q[h, i, :] · k[h / group, j, :])·scale` for `j <= i` and
	/// exactly 0 for `j > i`. The mask is structural (no `-inf` anywhere) and `scale` is a power
	/// of two, so scaling is exact.
	CausalScores { group: u32, scale_bits: u32 },
	/// Softmax over the causal prefix of each row of `x` `[.., S, S]`: row `i` (the index along
	/// the second-to-last dimension) is the softmax of `x[i, 0..=i]` in columns `0..=i` and
	/// exactly 0 after; what `x` holds after column `i` is never read.
	CausalSoftmax,
	/// `out[h, m, n] = a[h, m, :] · b[h / group, n, :]`: `a` `[H, M, K]`, `b` `[G, N, K]`,
	/// `H = G·group` (attention's context product over grouped V heads, `b` being V transposed).
	GroupedMatMul { group: u32 },
}

/// One node: an op, the nodes it reads, and the shape of its output.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo)]
pub struct Node {
	pub op: Op,
	pub inputs: Vec<NodeId>,
	pub shape: Shape,
}

/// A model graph: weight tensors and nodes in execution order.
#[derive(Clone, PartialEq, Eq, Debug, Default, Encode, Decode, DecodeWithMemTracking, TypeInfo)]
pub struct Graph {
	pub weights: Vec<WeightTensor>,
	pub nodes: Vec<Node>,
}

/// Why a graph is invalid. `node`/`weight` name the offending index.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo)]
pub enum GraphError {
	/// The graph has no nodes.
	Empty,
	/// More than [`MAX_NODES`] nodes or [`MAX_WEIGHTS`] weights.
	TooLarge,
	/// A shape has no dimensions, too many, or a zero dimension.
	BadShape { node: Option<NodeId>, weight: Option<WeightId> },
	/// A tensor has more than [`MAX_ELEMENTS`] elements.
	TooManyElements { node: Option<NodeId>, weight: Option<WeightId> },
	/// A row is wider than the allowed maximum.
	RowTooWide { node: Option<NodeId>, weight: Option<WeightId>, width: u32 },
	/// A weight name is longer than [`MAX_NAME_LEN`].
	NameTooLong { weight: WeightId },
	/// Node 0 must be an `Input`.
	FirstNodeNotInput,
	/// The op has the wrong number of inputs.
	Arity { node: NodeId, expected: u8, found: u32 },
	/// An input refers to this node or a later one (which also rules out cycles).
	InputNotBefore { node: NodeId, input: NodeId },
	/// A weight id is out of range.
	UnknownWeight { node: NodeId, weight: WeightId },
	/// Input, weight and output shapes do not fit the op.
	ShapeMismatch { node: NodeId },
	/// A scalar parameter is not finite (or, for eps, not positive).
	BadScalar { node: NodeId },
	/// The trace or the weights would have more than [`MAX_ROWS_TOTAL`] rows.
	TooManyRows,
}

impl Op {
	/// Whether this is a model input.
	pub fn is_input(&self) -> bool {
		matches!(self, Op::Input { .. })
	}
}

/// An id or position input holds one value per token.
fn kind_fits(kind: InputKind, numel: u64, ids: &[u32]) -> bool {
	matches!(kind, InputKind::Constant { .. }) || numel == ids.len() as u64
}

fn input_tensor(kind: InputKind, numel: u64, ids: &[u32]) -> Option<Vec<f32>> {
	if !kind_fits(kind, numel, ids) {
		return None;
	}
	(0..numel).map(|i| kind.value(ids, i)).collect()
}

/// An f32 from its bit pattern.
pub fn f32_of(bits: u32) -> f32 {
	f32::from_bits(bits)
}

impl Graph {
	/// The node with id `id`.
	pub fn node(&self, id: NodeId) -> Option<&Node> {
		self.nodes.get(id as usize)
	}

	/// The weight tensor with id `id`.
	pub fn weight(&self, id: WeightId) -> Option<&WeightTensor> {
		self.weights.get(id as usize)
	}

	/// Whether any node shape uses the symbolic sequence dimension [`SEQ_DIM`].
	pub fn is_template(&self) -> bool {
		self.nodes.iter().any(|n| n.shape.dims().contains(&SEQ_DIM))
	}

	/// The graph for inputs of `seq_len` tokens: every [`SEQ_DIM`] in a node shape becomes
	/// `seq_len`. A graph without symbolic dimensions is returned unchanged. `seq_len` 0 leaves
	/// zero dimensions, which [`Graph::validate`] refuses.
	pub fn instantiate(&self, seq_len: u32) -> Graph {
		let mut graph = self.clone();
		for node in &mut graph.nodes {
			for d in &mut node.shape.0 {
				if *d == SEQ_DIM {
					*d = seq_len;
				}
			}
		}
		graph
	}

	/// Positions of the symbolic dimensions in node `id`'s template shape.
	pub fn seq_dims(&self, id: NodeId) -> Vec<usize> {
		self.node(id)
			.map(|n| {
				n.shape
					.dims()
					.iter()
					.enumerate()
					.filter(|(_, d)| **d == SEQ_DIM)
					.map(|(i, _)| i)
					.collect()
			})
			.unwrap_or_default()
	}

	/// Widest row of any node or weight: the cost driver of one dispute step.
	pub fn max_row_width(&self) -> u32 {
		let n = self.nodes.iter().map(|n| n.shape.width());
		let w = self.weights.iter().map(|w| w.shape.width());
		n.chain(w).max().unwrap_or(0)
	}

	/// Whether node `id` is a model input.
	pub fn is_input(&self, id: NodeId) -> bool {
		self.node(id).is_some_and(|n| n.op.is_input())
	}

	/// The value of every input node for token ids `ids`, row-major, in node order; `None`
	/// when `self` (instantiated at `ids.len()`) has an id or position input of another size.
	pub fn input_values(&self, ids: &[u32]) -> Option<Vec<Vec<f32>>> {
		self.nodes
			.iter()
			.filter_map(|n| match n.op {
				Op::Input { kind } => Some((kind, n.shape.numel())),
				_ => None,
			})
			.map(|(kind, numel)| input_tensor(kind, numel, ids))
			.collect()
	}

	/// Row `row` of input node `id` for token ids `ids` (see [`Graph::input_values`]).
	pub fn input_row(&self, id: NodeId, row: u32, ids: &[u32]) -> Option<Vec<f32>> {
		let node = self.node(id)?;
		let Op::Input { kind } = node.op else { return None };
		if !kind_fits(kind, node.shape.numel(), ids) || row as u64 >= node.shape.rows() {
			return None;
		}
		let width = node.shape.width() as u64;
		(0..width).map(|c| kind.value(ids, row as u64 * width + c)).collect()
	}

	/// Checks every structural rule; `max_row_width` bounds every node and weight row.
	pub fn validate(&self, max_row_width: u32) -> Result<(), GraphError> {
		if self.nodes.is_empty() {
			return Err(GraphError::Empty);
		}
		if self.nodes.len() > MAX_NODES || self.weights.len() > MAX_WEIGHTS {
			return Err(GraphError::TooLarge);
		}
		let mut weight_rows = 0u64;
		for (i, w) in self.weights.iter().enumerate() {
			let id = i as WeightId;
			if w.name.len() > MAX_NAME_LEN {
				return Err(GraphError::NameTooLong { weight: id });
			}
			check_shape(&w.shape, max_row_width, None, Some(id))?;
			if w.shape.rank() > 2 {
				return Err(GraphError::BadShape { node: None, weight: Some(id) });
			}
			weight_rows = weight_rows.saturating_add(w.shape.rows());
		}
		let mut trace_rows = 0u64;
		for (i, node) in self.nodes.iter().enumerate() {
			let id = i as NodeId;
			check_shape(&node.shape, max_row_width, Some(id), None)?;
			for input in &node.inputs {
				if *input >= id {
					return Err(GraphError::InputNotBefore { node: id, input: *input });
				}
			}
			if i == 0 && !node.op.is_input() {
				return Err(GraphError::FirstNodeNotInput);
			}
			self.check_op(id, node)?;
			trace_rows = trace_rows.saturating_add(node.shape.rows());
		}
		if weight_rows > MAX_ROWS_TOTAL || trace_rows > MAX_ROWS_TOTAL {
			return Err(GraphError::TooManyRows);
		}
		Ok(())
	}

	fn input_shape(&self, node: &Node, k: usize) -> Option<&Shape> {
		let id = *node.inputs.get(k)?;
		self.node(id).map(|n| &n.shape)
	}

	fn weight_shape(&self, id: NodeId, w: WeightId) -> Result<&Shape, GraphError> {
		self.weight(w)
			.map(|t| &t.shape)
			.ok_or(GraphError::UnknownWeight { node: id, weight: w })
	}

	fn check_op(&self, id: NodeId, node: &Node) -> Result<(), GraphError> {
		let arity = |lo: u8, hi: u8| -> Result<(), GraphError> {
			let n = node.inputs.len() as u32;
			if n < lo as u32 || n > hi as u32 {
				return Err(GraphError::Arity { node: id, expected: lo, found: n });
			}
			Ok(())
		};
		let mismatch = GraphError::ShapeMismatch { node: id };
		let out = &node.shape;
		match &node.op {
			Op::Input { kind } => {
				arity(0, 0)?;
				match kind {
					// One row of one value per token.
					InputKind::TokenIds | InputKind::Positions if out.rows() != 1 => Err(mismatch),
					InputKind::Constant { value_bits } if !f32_of(*value_bits).is_finite() =>
						Err(GraphError::BadScalar { node: id }),
					_ => Ok(()),
				}
			},
			Op::Embedding { table } => {
				arity(1, 1)?;
				let ids = self.input_shape(node, 0).ok_or(mismatch.clone())?;
				let t = self.weight_shape(id, *table)?;
				if t.rank() != 2 || out.width() != t.width() || out.rows() != ids.numel() {
					return Err(mismatch);
				}
				Ok(())
			},
			Op::Linear { weight, bias } => {
				arity(1, 1)?;
				let x = self.input_shape(node, 0).ok_or(mismatch.clone())?;
				let w = self.weight_shape(id, *weight)?;
				if w.rank() != 2 || x.width() != w.width() || out.rank() != x.rank() {
					return Err(mismatch);
				}
				let lead_ok =
					out.dims().iter().zip(x.dims()).take(x.rank() - 1).all(|(a, b)| a == b);
				let rows_out = w.rows();
				if !lead_ok || out.width() as u64 != rows_out {
					return Err(mismatch);
				}
				if let Some(b) = bias {
					let b = self.weight_shape(id, *b)?;
					if b.rank() != 1 || b.width() != out.width() {
						return Err(mismatch);
					}
				}
				Ok(())
			},
			Op::MatMul => {
				arity(2, 2)?;
				let a = self.input_shape(node, 0).ok_or(mismatch.clone())?;
				let b = self.input_shape(node, 1).ok_or(mismatch.clone())?;
				let r = a.rank();
				if r < 2 || b.rank() != r || out.rank() != r || a.width() != b.width() {
					return Err(mismatch);
				}
				let (ad, bd, od) = (a.dims(), b.dims(), out.dims());
				let lead = r - 2;
				let lead_ok = (0..lead).all(|k| ad.get(k) == bd.get(k) && ad.get(k) == od.get(k));
				if !lead_ok || od.get(lead) != ad.get(lead) || od.get(r - 1) != bd.get(lead) {
					return Err(mismatch);
				}
				Ok(())
			},
			Op::Add | Op::Mul => {
				arity(2, 2)?;
				let a = self.input_shape(node, 0).ok_or(mismatch.clone())?;
				let b = self.input_shape(node, 1).ok_or(mismatch.clone())?;
				let b_ok = b == a || (b.rows() == 1 && b.width() == a.width());
				if a != out || !b_ok {
					return Err(mismatch);
				}
				Ok(())
			},
			Op::Scale { factor_bits } => {
				arity(1, 1)?;
				if !f32_of(*factor_bits).is_finite() {
					return Err(GraphError::BadScalar { node: id });
				}
				self.same_shape(node, id)
			},
			Op::LayerNorm { gamma, beta, eps_bits } => {
				arity(1, 1)?;
				self.check_eps(id, *eps_bits)?;
				self.check_row_param(id, *gamma, out.width())?;
				self.check_row_param(id, *beta, out.width())?;
				self.same_shape(node, id)
			},
			Op::RmsNorm { gamma, eps_bits } => {
				arity(1, 1)?;
				self.check_eps(id, *eps_bits)?;
				self.check_row_param(id, *gamma, out.width())?;
				self.same_shape(node, id)
			},
			Op::Softmax => {
				arity(1, 2)?;
				self.same_shape(node, id)?;
				if let Some(mask) = self.input_shape(node, 1) {
					let ok = mask == out || (mask.rows() == 1 && mask.width() == out.width());
					if !ok {
						return Err(mismatch);
					}
				}
				Ok(())
			},
			Op::Gelu | Op::Silu | Op::Relu => {
				arity(1, 1)?;
				self.same_shape(node, id)
			},
			Op::Transpose { dim0, dim1 } => {
				arity(1, 1)?;
				let x = self.input_shape(node, 0).ok_or(mismatch.clone())?;
				let (d0, d1) = (*dim0 as usize, *dim1 as usize);
				if d0 == d1 || d0 >= x.rank() || d1 >= x.rank() || out.rank() != x.rank() {
					return Err(mismatch);
				}
				let mut permuted = x.0.clone();
				permuted.swap(d0, d1);
				if permuted != out.0 {
					return Err(mismatch);
				}
				Ok(())
			},
			Op::Reshape => {
				arity(1, 1)?;
				let x = self.input_shape(node, 0).ok_or(mismatch.clone())?;
				if x.numel() != out.numel() {
					return Err(mismatch);
				}
				Ok(())
			},
			Op::MeanPool => {
				arity(2, 2)?;
				let x = self.input_shape(node, 0).ok_or(mismatch.clone())?;
				let mask = self.input_shape(node, 1).ok_or(mismatch.clone())?;
				if mask.rows() != 1 || mask.width() != x.width() {
					return Err(mismatch);
				}
				if out.rows() != 1 || out.width() as u64 != x.rows() {
					return Err(mismatch);
				}
				Ok(())
			},
			Op::L2Normalize { eps_bits } => {
				arity(1, 1)?;
				self.check_eps(id, *eps_bits)?;
				self.same_shape(node, id)
			},
			Op::Rope { cos, sin } => {
				arity(1, 1)?;
				self.same_shape(node, id)?;
				let (width, positions) = (out.width(), seq_of(out).ok_or(mismatch.clone())?);
				if width % 2 != 0 {
					return Err(mismatch);
				}
				for table in [cos, sin] {
					let t = self.weight_shape(id, *table)?;
					if t.rank() != 2 || t.width() != width / 2 || t.rows() < positions as u64 {
						return Err(mismatch);
					}
				}
				Ok(())
			},
			Op::CausalScores { group, scale_bits } => {
				arity(2, 2)?;
				if !is_power_of_two(f32_of(*scale_bits)) {
					return Err(GraphError::BadScalar { node: id });
				}
				let q = self.input_shape(node, 0).ok_or(mismatch.clone())?;
				let k = self.input_shape(node, 1).ok_or(mismatch.clone())?;
				let [h, s, d] = dims3(q).ok_or(mismatch.clone())?;
				let [g, ks, kd] = dims3(k).ok_or(mismatch.clone())?;
				if !groups_fit(h, g, *group) || ks != s || kd != d || out.dims() != [h, s, s] {
					return Err(mismatch);
				}
				Ok(())
			},
			Op::CausalSoftmax => {
				arity(1, 1)?;
				self.same_shape(node, id)?;
				if seq_of(out) != Some(out.width()) {
					return Err(mismatch);
				}
				Ok(())
			},
			Op::GroupedMatMul { group } => {
				arity(2, 2)?;
				let a = self.input_shape(node, 0).ok_or(mismatch.clone())?;
				let b = self.input_shape(node, 1).ok_or(mismatch.clone())?;
				let [h, m, k] = dims3(a).ok_or(mismatch.clone())?;
				let [g, n, bk] = dims3(b).ok_or(mismatch.clone())?;
				if !groups_fit(h, g, *group) || bk != k || out.dims() != [h, m, n] {
					return Err(mismatch);
				}
				Ok(())
			},
		}
	}

	fn same_shape(&self, node: &Node, id: NodeId) -> Result<(), GraphError> {
		match self.input_shape(node, 0) {
			Some(x) if *x == node.shape => Ok(()),
			_ => Err(GraphError::ShapeMismatch { node: id }),
		}
	}

	fn check_eps(&self, id: NodeId, bits: u32) -> Result<(), GraphError> {
		let eps = f32_of(bits);
		if !eps.is_finite() || eps <= 0.0 {
			return Err(GraphError::BadScalar { node: id });
		}
		Ok(())
	}

	fn check_row_param(&self, id: NodeId, w: WeightId, width: u32) -> Result<(), GraphError> {
		let s = self.weight_shape(id, w)?;
		if s.rank() != 1 || s.width() != width {
			return Err(GraphError::ShapeMismatch { node: id });
		}
		Ok(())
	}
}

/// The length of the dimension before the row (a sequence's positions); `None` for a vector.
pub fn seq_of(shape: &Shape) -> Option<u32> {
	let dims = shape.dims();
	dims.len().checked_sub(2).and_then(|k| dims.get(k)).copied()
}

/// The three dimensions of a rank-3 shape.
fn dims3(shape: &Shape) -> Option<[u32; 3]> {
	match shape.dims() {
		[a, b, c] => Some([*a, *b, *c]),
		_ => None,
	}
}

/// `heads` query heads share `kv_heads` K/V heads in groups of `group`.
fn groups_fit(heads: u32, kv_heads: u32, group: u32) -> bool {
	group >= 1 && (kv_heads as u64) * (group as u64) == heads as u64
}

/// A positive normal power of two: multiplying by it is exact (barring underflow).
pub fn is_power_of_two(x: f32) -> bool {
	let bits = x.to_bits();
	let exponent = (bits >> 23) & 0xff;
	x > 0.0 && bits & 0x7f_ffff == 0 && exponent != 0 && exponent != 0xff
}

fn check_shape(
	shape: &Shape,
	max_row_width: u32,
	node: Option<NodeId>,
	weight: Option<WeightId>,
) -> Result<(), GraphError> {
	if shape.rank() == 0 || shape.rank() > MAX_DIMS || shape.dims().contains(&0) {
		return Err(GraphError::BadShape { node, weight });
	}
	if shape.numel() > MAX_ELEMENTS {
		return Err(GraphError::TooManyElements { node, weight });
	}
	if shape.width() > max_row_width {
		return Err(GraphError::RowTooWide { node, weight, width: shape.width() });
	}
	Ok(())
}
