//! A small builder for IR graphs: each method appends a node, derives its output shape from its
//! inputs and returns its id. Used to describe real models (MiniLM) and generated test models.

use alloc::vec::Vec;

use crate::ir::{Graph, InputKind, Node, NodeId, Op, Shape, WeightId, WeightTensor};

/// Builds a [`Graph`] node by node. Shape errors are caught by [`Graph::validate`].
#[derive(Default)]
pub struct GraphBuilder {
	graph: Graph,
}

impl GraphBuilder {
	/// An empty graph.
	pub fn new() -> Self {
		Self::default()
	}

	/// Declares a weight tensor.
	pub fn weight(&mut self, name: &str, dims: &[u32]) -> WeightId {
		self.graph
			.weights
			.push(WeightTensor { name: name.as_bytes().to_vec(), shape: Shape(dims.to_vec()) });
		(self.graph.weights.len() - 1) as WeightId
	}

	fn shape_of(&self, id: NodeId) -> Vec<u32> {
		self.graph.node(id).map(|n| n.shape.0.clone()).unwrap_or_default()
	}

	fn weight_dims(&self, id: WeightId) -> Vec<u32> {
		self.graph.weight(id).map(|w| w.shape.0.clone()).unwrap_or_default()
	}

	/// Appends a node with an explicit output shape.
	pub fn node(&mut self, op: Op, inputs: &[NodeId], dims: Vec<u32>) -> NodeId {
		self.graph.nodes.push(Node { op, inputs: inputs.to_vec(), shape: Shape(dims) });
		(self.graph.nodes.len() - 1) as NodeId
	}

	/// A model input of the given kind and shape.
	pub fn input(&mut self, kind: InputKind, dims: &[u32]) -> NodeId {
		self.node(Op::Input { kind }, &[], dims.to_vec())
	}

	/// The task's token ids, `[1, SEQ]`.
	pub fn token_ids(&mut self) -> NodeId {
		self.input(InputKind::TokenIds, &[1, crate::ir::SEQ_DIM])
	}

	/// Positions `0..SEQ`, `[1, SEQ]`.
	pub fn positions(&mut self) -> NodeId {
		self.input(InputKind::Positions, &[1, crate::ir::SEQ_DIM])
	}

	/// `value` at every one of `[1, SEQ]`.
	pub fn constant_row(&mut self, value: f32) -> NodeId {
		self.input(InputKind::Constant { value_bits: value.to_bits() }, &[1, crate::ir::SEQ_DIM])
	}

	/// One table row per id: output `[numel(ids), width]`.
	pub fn embedding(&mut self, ids: NodeId, table: WeightId) -> NodeId {
		let n: u32 = self.shape_of(ids).iter().product();
		let width = self.weight_dims(table).last().copied().unwrap_or(0);
		self.node(Op::Embedding { table }, &[ids], Vec::from([n, width]))
	}

	/// `x · weightᵀ + bias`.
	pub fn linear(&mut self, x: NodeId, weight: WeightId, bias: Option<WeightId>) -> NodeId {
		let mut dims = self.shape_of(x);
		let out = self.weight_dims(weight).first().copied().unwrap_or(0);
		if let Some(last) = dims.last_mut() {
			*last = out;
		}
		self.node(Op::Linear { weight, bias }, &[x], dims)
	}

	/// `a · bᵀ`, batched over leading dimensions.
	pub fn matmul(&mut self, a: NodeId, b: NodeId) -> NodeId {
		let mut dims = self.shape_of(a);
		let b_dims = self.shape_of(b);
		let n = b_dims.get(b_dims.len().saturating_sub(2)).copied().unwrap_or(0);
		if let Some(last) = dims.last_mut() {
			*last = n;
		}
		self.node(Op::MatMul, &[a, b], dims)
	}

	fn same(&mut self, op: Op, inputs: &[NodeId]) -> NodeId {
		let dims = inputs.first().map(|x| self.shape_of(*x)).unwrap_or_default();
		self.node(op, inputs, dims)
	}

	/// `a + b`.
	pub fn add(&mut self, a: NodeId, b: NodeId) -> NodeId {
		self.same(Op::Add, &[a, b])
	}
	/// `a * b`.
	pub fn mul(&mut self, a: NodeId, b: NodeId) -> NodeId {
		self.same(Op::Mul, &[a, b])
	}
	/// `x * factor`.
	pub fn scale(&mut self, x: NodeId, factor: f32) -> NodeId {
		self.same(Op::Scale { factor_bits: factor.to_bits() }, &[x])
	}
	/// Layer normalisation over rows.
	pub fn layer_norm(&mut self, x: NodeId, gamma: WeightId, beta: WeightId, eps: f32) -> NodeId {
		self.same(Op::LayerNorm { gamma, beta, eps_bits: eps.to_bits() }, &[x])
	}
	/// RMS normalisation over rows.
	pub fn rms_norm(&mut self, x: NodeId, gamma: WeightId, eps: f32) -> NodeId {
		self.same(Op::RmsNorm { gamma, eps_bits: eps.to_bits() }, &[x])
	}
	/// Softmax over rows, with an optional additive mask.
	pub fn softmax(&mut self, x: NodeId, mask: Option<NodeId>) -> NodeId {
		match mask {
			Some(m) => self.same(Op::Softmax, &[x, m]),
			None => self.same(Op::Softmax, &[x]),
		}
	}
	/// GELU (erf).
	pub fn gelu(&mut self, x: NodeId) -> NodeId {
		self.same(Op::Gelu, &[x])
	}
	/// SiLU.
	pub fn silu(&mut self, x: NodeId) -> NodeId {
		self.same(Op::Silu, &[x])
	}
	/// ReLU.
	pub fn relu(&mut self, x: NodeId) -> NodeId {
		self.same(Op::Relu, &[x])
	}
	/// Swaps two dimensions.
	pub fn transpose(&mut self, x: NodeId, dim0: u8, dim1: u8) -> NodeId {
		let mut dims = self.shape_of(x);
		if (dim0 as usize) < dims.len() && (dim1 as usize) < dims.len() {
			dims.swap(dim0 as usize, dim1 as usize);
		}
		self.node(Op::Transpose { dim0, dim1 }, &[x], dims)
	}
	/// Same elements, new shape.
	pub fn reshape(&mut self, x: NodeId, dims: &[u32]) -> NodeId {
		self.node(Op::Reshape, &[x], dims.to_vec())
	}
	/// Masked mean of each row of `x`: output one row of width `rows(x)`.
	pub fn mean_pool(&mut self, x: NodeId, mask: NodeId) -> NodeId {
		let dims = self.shape_of(x);
		let rows: u32 = dims.iter().take(dims.len().saturating_sub(1)).product();
		self.node(Op::MeanPool, &[x, mask], Vec::from([1, rows]))
	}
	/// Rows scaled to unit L2 norm.
	pub fn l2_normalize(&mut self, x: NodeId, eps: f32) -> NodeId {
		self.same(Op::L2Normalize { eps_bits: eps.to_bits() }, &[x])
	}
	/// Rotary position embedding of `x` `[.., S, D]` from committed `[positions, D/2]` tables.
	pub fn rope(&mut self, x: NodeId, cos: WeightId, sin: WeightId) -> NodeId {
		self.same(Op::Rope { cos, sin }, &[x])
	}
	/// Causal scores `[H, S, S]` of `q` `[H, S, D]` against `k` `[G, S, D]`, `H = G·group`.
	pub fn causal_scores(&mut self, q: NodeId, k: NodeId, group: u32, scale: f32) -> NodeId {
		let dims = self.shape_of(q);
		let (h, s) = (dims.first().copied().unwrap_or(0), dims.get(1).copied().unwrap_or(0));
		let op = Op::CausalScores { group, scale_bits: scale.to_bits() };
		self.node(op, &[q, k], Vec::from([h, s, s]))
	}
	/// Softmax over the causal prefix of each row.
	pub fn causal_softmax(&mut self, x: NodeId) -> NodeId {
		self.same(Op::CausalSoftmax, &[x])
	}
	/// `a` `[H, M, K]` times `b` `[G, N, K]` transposed, head `h` reading `b`'s head `h / group`.
	pub fn grouped_matmul(&mut self, a: NodeId, b: NodeId, group: u32) -> NodeId {
		let mut dims = self.shape_of(a);
		let n = self.shape_of(b).get(1).copied().unwrap_or(0);
		if let Some(last) = dims.last_mut() {
			*last = n;
		}
		self.node(Op::GroupedMatMul { group }, &[a, b], dims)
	}

	/// The graph built so far.
	pub fn build(self) -> Graph {
		self.graph
	}
}
