//! Runs an IR graph with candle. One code path for both modes: `Plain` returns the model
//! output; `Traced` also keeps every node's output and commits to it (the trace root), with
//! the same numbers.
//!
//! Inputs of one model run as a batch: every tensor gets a leading batch dimension, sequences
//! are padded to the longest with the model's pad values, and each item's trace is its slice of
//! every node (symbolic dimensions narrowed to its own length), i.e. the trace of the graph
//! instantiated at that length. Padding is exact for BERT: padded keys get -1e9 before softmax
//! (exp underflows to 0) and weight 0 in pooling, so real rows only ever add exact zeros.

use std::sync::Arc;

use arbiter_primitives::{
	commitment::{trace_offsets, CommitError},
	encoding::trace_root_of,
	ir::f32_of,
	Graph, Hash, Node, NodeId, Op,
};
use candle_core::{DType, Device, Tensor, D};
use rayon::prelude::*;

use crate::{
	commit,
	cpu::{batched_matmul, Gelu, MatMulTransposed, PackedLinear, StridedCopy},
	error::{EngineError, Result},
	model::{Model, ModelInput},
	trace::{item_rows, BatchOutputs, Trace},
};

/// What the engine keeps of an execution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
	/// The output only.
	Plain,
	/// The output, every node's output and the trace commitment.
	Traced,
}

/// Where the engine runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceKind {
	Cpu,
	Cuda,
}

impl std::str::FromStr for DeviceKind {
	type Err = String;
	fn from_str(s: &str) -> std::result::Result<Self, String> {
		match s {
			"cpu" => Ok(Self::Cpu),
			"cuda" => Ok(Self::Cuda),
			other => Err(format!("unknown inference device {other:?} (cpu or cuda)")),
		}
	}
}

/// Opens the device. CUDA needs the `cuda` feature; TF32 matmuls are turned off so every
/// product is a true f32 product (the tolerance bounds assume f32 rounding).
pub fn open_device(kind: DeviceKind) -> Result<Device> {
	match kind {
		DeviceKind::Cpu => Ok(Device::Cpu),
		DeviceKind::Cuda => {
			// A no-op without the `cuda` feature (candle's dummy backend), so this compiles
			// everywhere.
			candle_core::cuda::set_gemm_reduced_precision_f32(false);
			let hint = if cfg!(feature = "cuda") { "" } else { " (build with --features cuda)" };
			Device::new_cuda(0).map_err(|e| EngineError::Device(format!("cuda: {e}{hint}")))
		},
	}
}

/// The CPU threads inference runs on: those of rayon's global pool, which starts (sized by
/// `RAYON_NUM_THREADS`, else one per core) on first use.
pub fn threads() -> usize {
	rayon::current_num_threads()
}

/// Whether an input's results on `device` are the same bits alone as inside any batch: on the
/// CPU's AVX-512 and AVX2 paths, whose kernels sum every element in one fixed order whatever the
/// matrix sizes (`tests/replay.rs`). Not on the portable path (candle's GEMM picks its blocking
/// by size) nor on CUDA (cuBLAS picks its algorithm by size): their replay records keep the
/// batch (docs/protocol.md, "Replay").
pub fn batch_independent(device: &Device) -> bool {
	device.is_cpu() && crate::cpu::path().packed_kernels()
}

/// The result of one input.
#[derive(Clone, Debug)]
pub struct Execution {
	/// The model output (the last node), row-major.
	pub output: Vec<f32>,
	/// The trace and its commitment (traced mode).
	pub trace: Option<Trace>,
}

/// Runs `model` on `inputs`, batched, and returns the results in input order.
///
/// Inputs of one length always share a batch. When the model declares pad values, inputs of
/// different lengths share one too, grouped so that little work is spent on padding
/// ([`length_groups`]); without pad values each length runs on its own.
pub fn run(model: &Model, inputs: &[ModelInput], mode: Mode) -> Result<Vec<Execution>> {
	if inputs.is_empty() {
		return Err(EngineError::EmptyBatch);
	}
	for input in inputs {
		check_input(&model.template, input)?;
	}
	// The whole pass runs on a worker of rayon's pool, not on the caller's thread: every op that
	// goes parallel then shares its work with the other workers directly, instead of the caller
	// handing each op to the pool and sleeping until it is done (two thread wake-ups per op,
	// ~100 µs each on a VM; a MiniLM batch has ~160 ops). `rayon::scope` runs inline when the
	// caller already is a worker.
	rayon::scope(|_| run_grouped(model, inputs, mode))
}

fn run_grouped(model: &Model, inputs: &[ModelInput], mode: Mode) -> Result<Vec<Execution>> {
	let lengths: Vec<u32> = inputs.iter().map(|i| i.seq_len).collect();
	let groups = length_groups(&lengths, model.input_pads.is_some().then_some(GROUP_OVERHEAD_ROWS));
	if groups.len() == 1 {
		return run_batch(model, inputs, mode);
	}
	let mut out: Vec<Option<Execution>> = vec![None; inputs.len()];
	for idx in groups {
		let group: Vec<ModelInput> = idx.iter().filter_map(|i| inputs.get(*i).cloned()).collect();
		for (i, e) in idx.into_iter().zip(run_batch(model, &group, mode)?) {
			if let Some(slot) = out.get_mut(i) {
				*slot = Some(e);
			}
		}
	}
	out.into_iter()
		.enumerate()
		.map(|(i, e)| e.ok_or_else(|| EngineError::Internal(format!("input {i} was in no batch"))))
		.collect()
}

/// What one more batch costs, in padded rows: the fixed cost of running the graph once
/// (about 160 candle ops) against the per-row cost, measured on MiniLM (`bench_engine`).
const GROUP_OVERHEAD_ROWS: u64 = 48;

/// Splits inputs (by their lengths) into batches, as input indices per batch, longest first.
/// Inputs of equal length always share a batch. Without padding (`overhead` `None`) that is
/// all: one batch per length. With padding, the split minimises the padded rows computed,
/// `Σ batch size × its longest length`, plus `overhead` rows per batch: inputs sorted by
/// length are cut into runs, the cuts chosen by dynamic programming.
fn length_groups(lengths: &[u32], overhead: Option<u64>) -> Vec<Vec<usize>> {
	let mut order: Vec<usize> = (0..lengths.len()).collect();
	order.sort_by_key(|i| core::cmp::Reverse(lengths.get(*i).copied().unwrap_or(0)));
	let sorted: Vec<u64> =
		order.iter().map(|i| lengths.get(*i).copied().unwrap_or(0) as u64).collect();
	let n = sorted.len();
	// best[i]: the cheapest split of the first i sorted inputs; from[i]: where its last batch
	// starts.
	let mut best = vec![u64::MAX; n + 1];
	let mut from = vec![0usize; n + 1];
	best[0] = 0;
	for i in 1..=n {
		for j in 0..i {
			// A batch may not split a run of equal lengths.
			if j > 0 && sorted[j - 1] == sorted[j] {
				continue;
			}
			let longest = sorted[j];
			// Without padding, a batch holds one length only.
			if overhead.is_none() && sorted[i - 1] != longest {
				continue;
			}
			let cost = best[j]
				.saturating_add((i - j) as u64 * longest)
				.saturating_add(overhead.unwrap_or(0));
			if (i == n || sorted[i - 1] != sorted[i]) && cost < best[i] {
				best[i] = cost;
				from[i] = j;
			}
		}
	}
	let mut groups = Vec::new();
	let mut i = n;
	while i > 0 {
		let j = from[i];
		groups.push(order[j..i].to_vec());
		i = j;
	}
	groups.reverse();
	groups
}

/// Checks an input against the graph instantiated at its length.
fn check_input(template: &Graph, input: &ModelInput) -> Result<()> {
	if input.seq_len == 0 {
		return Err(EngineError::InvalidInput("sequence length 0".into()));
	}
	let graph = template.instantiate(input.seq_len);
	let shapes: Vec<u64> = graph
		.nodes
		.iter()
		.filter(|n| n.op.is_input())
		.map(|n| n.shape.numel())
		.collect();
	if shapes.len() != input.tensors.len() {
		return Err(EngineError::InvalidInput(format!(
			"{} input tensors for {} model inputs",
			input.tensors.len(),
			shapes.len()
		)));
	}
	for (k, (t, n)) in input.tensors.iter().zip(&shapes).enumerate() {
		if t.len() as u64 != *n {
			return Err(EngineError::InvalidInput(format!(
				"input {k} has {} values, expected {n}",
				t.len()
			)));
		}
		if t.iter().any(|v| !v.is_finite()) {
			return Err(EngineError::InvalidInput(format!("input {k} holds a non-finite value")));
		}
	}
	// Embedding ids must be integers inside the table.
	for node in &graph.nodes {
		if let Op::Embedding { table } = node.op {
			let (Some(ids_node), Some(w)) = (node.inputs.first(), graph.weight(table)) else {
				continue
			};
			let Some(pos) = input_position(&graph, *ids_node) else { continue };
			let rows = w.shape.rows() as f32;
			if input
				.tensors
				.get(pos)
				.is_some_and(|t| t.iter().any(|v| *v < 0.0 || *v >= rows || v.fract() != 0.0))
			{
				return Err(EngineError::InvalidInput(format!(
					"input {pos} holds an id outside 0..{rows}"
				)));
			}
		}
	}
	Ok(())
}

/// Index among the `Input` nodes of node `id`, if it is one.
fn input_position(graph: &Graph, id: NodeId) -> Option<usize> {
	if !graph.node(id)?.op.is_input() {
		return None;
	}
	Some(graph.nodes.iter().take(id as usize).filter(|n| n.op.is_input()).count())
}

/// Dimensions of node `id` at length `seq`, as usize.
fn dims_at(template: &Graph, id: usize, seq: u32) -> Vec<usize> {
	template
		.nodes
		.get(id)
		.map(|n| {
			n.shape
				.dims()
				.iter()
				.map(|d| if *d == 0 { seq as usize } else { *d as usize })
				.collect()
		})
		.unwrap_or_default()
}

/// Copies `data` (shape `from`) into a buffer of shape `to` (each dimension ≥), filled with `pad`.
fn pad_into(data: &[f32], from: &[usize], to: &[usize], pad: f32) -> Vec<f32> {
	let total: usize = to.iter().product();
	let mut out = vec![pad; total];
	let mut idx = vec![0usize; from.len()];
	for v in data {
		let mut flat = 0usize;
		for (k, i) in idx.iter().enumerate() {
			flat = flat * to[k] + i;
		}
		if let Some(slot) = out.get_mut(flat) {
			*slot = *v;
		}
		// Next multi-index in `from`.
		for k in (0..from.len()).rev() {
			idx[k] += 1;
			if idx[k] < from[k] {
				break;
			}
			idx[k] = 0;
		}
	}
	out
}

fn run_batch(model: &Model, inputs: &[ModelInput], mode: Mode) -> Result<Vec<Execution>> {
	let values = BatchExecutor::new(model, inputs).run()?;
	extract(model, inputs, &values, mode)
}

/// One batch of one model through its graph, node by node, on the model's device. Each op
/// family has a method; every node's output stays in `values` (the trace reads them all).
struct BatchExecutor<'a> {
	model: &'a Model,
	inputs: &'a [ModelInput],
	/// Items in the batch.
	batch: usize,
	/// The batch's sequence length (the longest item's; shorter ones are padded).
	seq: u32,
	/// Outputs of the nodes run so far, `[batch] ++ node dims` each.
	values: Vec<Tensor>,
	/// The next model input to read from the items.
	next_input: usize,
	/// Per node, whether it is a linear layer computed together with the GELU after it.
	fuse_gelu: Vec<bool>,
	/// The GELU a fused linear layer computed, for the next node.
	fused_gelu: Option<Tensor>,
}

impl<'a> BatchExecutor<'a> {
	fn new(model: &'a Model, inputs: &'a [ModelInput]) -> Self {
		let template = &model.template;
		// A test fault perturbs one node's output; fused pairs would skip that, so none then.
		let fuse_gelu = if model.fault.is_none() { gelu_fusions(template) } else { Vec::new() };
		Self {
			model,
			inputs,
			batch: inputs.len(),
			seq: inputs.iter().map(|i| i.seq_len).max().unwrap_or(1),
			values: Vec::with_capacity(template.nodes.len()),
			next_input: 0,
			fuse_gelu,
			fused_gelu: None,
		}
	}

	/// Runs every node; returns their outputs.
	fn run(mut self) -> Result<Vec<Tensor>> {
		let model = self.model;
		for (id, node) in model.template.nodes.iter().enumerate() {
			let mut dims = Vec::from([self.batch]);
			dims.extend(dims_at(&model.template, id, self.seq));
			let out = self.node(id, node, &dims)?;
			if out.dims() != dims.as_slice() {
				return Err(EngineError::Internal(format!(
					"node {id}: computed shape {:?}, graph says {dims:?}",
					out.dims()
				)));
			}
			let out = if model.fault == Some(id as NodeId) { perturb(&out)? } else { out };
			self.values.push(out);
		}
		Ok(self.values)
	}

	/// Node `id`'s output, of shape `dims`.
	fn node(&mut self, id: usize, node: &Node, dims: &[usize]) -> Result<Tensor> {
		let cpu = self.model.device.is_cpu();
		match &node.op {
			Op::Input { .. } => self.input(id, dims),
			Op::Embedding { table } => {
				let ids = self.operand(id, node, 0)?.flatten_all()?.to_dtype(DType::U32)?;
				Ok(self.weight(id, *table)?.index_select(&ids, 0)?.reshape(dims)?)
			},
			Op::Linear { weight, bias } => self.linear(id, node, *weight, *bias, dims),
			Op::MatMul => self.matmul(id, node),
			Op::Add | Op::Mul => self.elementwise(id, node),
			Op::Scale { factor_bits } =>
				Ok((self.operand(id, node, 0)? * f32_of(*factor_bits) as f64)?),
			Op::LayerNorm { .. } | Op::RmsNorm { .. } => self.norm(id, node),
			Op::Softmax => self.softmax(id, node),
			Op::Gelu | Op::Silu | Op::Relu => self.activation(id, node),
			// On the CPU a transpose stays a view: the attention products read it in place, and
			// the ops that need rows in order copy it first (`contiguous`), as does the trace.
			Op::Transpose { dim0, dim1 } => {
				let t =
					self.operand(id, node, 0)?.transpose(*dim0 as usize + 1, *dim1 as usize + 1)?;
				Ok(if cpu { t } else { t.contiguous()? })
			},
			Op::Reshape => Ok(contiguous(&self.operand(id, node, 0)?)?.reshape(dims)?),
			Op::MeanPool | Op::L2Normalize { .. } => self.pool(id, node),
			Op::Rope { cos, sin } => self.rope(id, node, *cos, *sin),
			Op::CausalScores { group, scale_bits } =>
				self.causal_scores(id, node, *group, f32_of(*scale_bits)),
			Op::CausalSoftmax => self.causal_softmax(id, node),
			Op::GroupedMatMul { group } => self.grouped_matmul(id, node, *group),
		}
	}

	/// Operand `k` of node `id` (a cheap handle: tensors share their storage).
	fn operand(&self, id: usize, node: &Node, k: usize) -> Result<Tensor> {
		let i = *node
			.inputs
			.get(k)
			.ok_or_else(|| EngineError::Internal(format!("node {id}: operand {k} missing")))?;
		self.values
			.get(i as usize)
			.cloned()
			.ok_or_else(|| EngineError::Internal(format!("node {id}: operand {i} not computed")))
	}

	/// Weight `i` on the device.
	fn weight(&self, id: usize, i: u32) -> Result<&Tensor> {
		self.model
			.device_weights()?
			.get(i as usize)
			.ok_or_else(|| EngineError::Internal(format!("node {id}: weight {i} missing")))
	}

	/// The next model input of every item, padded to the batch's length.
	fn input(&mut self, id: usize, dims: &[usize]) -> Result<Tensor> {
		let template = &self.model.template;
		let pad = self
			.model
			.input_pads
			.as_ref()
			.and_then(|p| p.get(self.next_input).copied())
			.unwrap_or(0.0);
		let mut data = Vec::with_capacity(dims.iter().product());
		for input in self.inputs {
			let t = input
				.tensors
				.get(self.next_input)
				.ok_or_else(|| EngineError::InvalidInput("missing input".into()))?;
			let from = dims_at(template, id, input.seq_len);
			data.extend(pad_into(t, &from, dims.get(1..).unwrap_or(&[]), pad));
		}
		self.next_input += 1;
		Ok(Tensor::from_vec(data, dims, &self.model.device)?)
	}

	/// `x · weightᵀ + bias`: the packed kernel where the weight has one (with the GELU after it
	/// in the same pass where that is fused), candle's matmul otherwise.
	fn linear(
		&mut self,
		id: usize,
		node: &Node,
		weight: u32,
		bias: Option<u32>,
		dims: &[usize],
	) -> Result<Tensor> {
		let model = self.model;
		let x = self.operand(id, node, 0)?;
		let Some(Some(packed)) = model.packed.get(weight as usize) else {
			let k = x.dim(D::Minus1)?;
			let rows = x.elem_count() / k.max(1);
			let mut y = x.reshape((rows, k))?.matmul(&self.weight(id, weight)?.t()?)?;
			if let Some(b) = bias {
				y = y.broadcast_add(self.weight(id, b)?)?;
			}
			return Ok(y.reshape(dims)?);
		};
		let bias = match bias {
			Some(b) =>
				Some(model.weight_values(b).ok_or_else(|| {
					EngineError::Internal(format!("node {id}: weight {b} missing"))
				})?),
			None => None,
		};
		if !self.fuse_gelu.get(id).copied().unwrap_or(false) {
			return Ok(contiguous(&x)?.apply_op1_no_bwd(&PackedLinear { weight: packed, bias })?);
		}
		// This linear layer and the GELU after it in one pass (the same numbers).
		let (y, g) = with_host_values(&x, |xs| {
			packed.apply_gelu(xs, bias).ok_or_else(|| {
				EngineError::Internal(format!("node {id}: the linear kernel refused its input"))
			})
		})?;
		self.fused_gelu = Some(Tensor::from_vec(g, dims, &model.device)?);
		Ok(Tensor::from_vec(y, dims, &model.device)?)
	}

	/// `a · bᵀ` over the batch (and heads): the CPU kernel reads strided views in place;
	/// candle's matmul refuses most of them (the head-split views), so they are copied for it.
	fn matmul(&self, id: usize, node: &Node) -> Result<Tensor> {
		let (a, b) = (self.operand(id, node, 0)?, self.operand(id, node, 1)?);
		if self.model.device.is_cpu() && batched_matmul::supported(a.layout()) {
			return Ok(a.apply_op2_no_bwd(&b, &MatMulTransposed)?);
		}
		let b_t = contiguous(&b)?.transpose(D::Minus1, D::Minus2)?;
		Ok(contiguous(&a)?.matmul(&b_t)?)
	}

	/// `a + b` or `a ⊙ b`, `b` broadcast along rows when it is one row.
	fn elementwise(&self, id: usize, node: &Node) -> Result<Tensor> {
		let a = self.operand(id, node, 0)?;
		let b = broadcast_row(&self.operand(id, node, 1)?, &a)?;
		Ok(if node.op == Op::Add { a.broadcast_add(&b)? } else { a.broadcast_mul(&b)? })
	}

	/// Layer and RMS normalization over the last dimension.
	fn norm(&self, id: usize, node: &Node) -> Result<Tensor> {
		let x = contiguous(&self.operand(id, node, 0)?)?;
		Ok(match node.op {
			Op::LayerNorm { gamma, beta, eps_bits } => candle_nn::ops::layer_norm(
				&x,
				self.weight(id, gamma)?,
				self.weight(id, beta)?,
				f32_of(eps_bits),
			)?,
			Op::RmsNorm { gamma, eps_bits } =>
				candle_nn::ops::rms_norm(&x, self.weight(id, gamma)?, f32_of(eps_bits))?,
			_ => return Err(EngineError::Internal(format!("node {id}: not a normalization"))),
		})
	}

	/// Softmax over the last dimension, of `a` or of `a + mask` (the mask one row).
	fn softmax(&self, id: usize, node: &Node) -> Result<Tensor> {
		let a = self.operand(id, node, 0)?;
		let summed = match node.inputs.len() {
			2 => a.broadcast_add(&broadcast_row(&self.operand(id, node, 1)?, &a)?)?,
			_ => a,
		};
		Ok(candle_nn::ops::softmax_last_dim(&summed)?)
	}

	/// GELU (erf; computed already where fused with the linear layer before), SiLU, ReLU.
	fn activation(&mut self, id: usize, node: &Node) -> Result<Tensor> {
		if node.op == Op::Gelu {
			if let Some(fused) = self.fused_gelu.take() {
				return Ok(fused);
			}
		}
		let x = self.operand(id, node, 0)?;
		Ok(match node.op {
			Op::Gelu if self.model.device.is_cpu() => contiguous(&x)?.apply_op1_no_bwd(&Gelu)?,
			Op::Gelu => x.gelu_erf()?,
			Op::Silu => x.silu()?,
			Op::Relu => x.relu()?,
			_ => return Err(EngineError::Internal(format!("node {id}: not an activation"))),
		})
	}

	/// Rotary embedding of interleaved pairs (candle's `rope_i`), the tables' first `S` rows read
	/// by position.
	fn rope(&self, id: usize, node: &Node, cos: u32, sin: u32) -> Result<Tensor> {
		let x = contiguous(&self.operand(id, node, 0)?)?;
		let dims = x.dims().to_vec();
		let (seq, width) = (x.dim(D::Minus2)?, x.dim(D::Minus1)?);
		let lead = x.elem_count() / (seq * width).max(1);
		let cos = self.weight(id, cos)?.narrow(0, 0, seq)?;
		let sin = self.weight(id, sin)?.narrow(0, 0, seq)?;
		let out = candle_nn::rotary_emb::rope_i(&x.reshape((lead, 1, seq, width))?, &cos, &sin)?;
		Ok(out.reshape(dims)?)
	}

	/// `(q · kᵀ)·scale` with each K head serving `group` query heads, and exact zeros after the
	/// diagonal. Query heads of one group are adjacent, so the group's rows stack into one
	/// product against its K head.
	fn causal_scores(&self, id: usize, node: &Node, group: u32, scale: f32) -> Result<Tensor> {
		let (q, k) =
			(contiguous(&self.operand(id, node, 0)?)?, contiguous(&self.operand(id, node, 1)?)?);
		let (batch, heads, seq, d) = q.dims4()?;
		let kv = heads / (group as usize).max(1);
		let scores = q
			.reshape((batch, kv, heads / kv.max(1) * seq, d))?
			.matmul(&k.transpose(D::Minus1, D::Minus2)?)?
			.reshape((batch, heads, seq, seq))?;
		// Scaling by a power of two and multiplying by 1 are exact; 0 after the diagonal.
		let keep = causal_mask(seq, 1.0, 0.0, q.device())?;
		Ok((scores * scale as f64)?.broadcast_mul(&keep)?)
	}

	/// Softmax of each row's causal prefix: the columns after the diagonal get `-inf` before the
	/// softmax (only here, never in the trace), so they add exact zeros to its sum and come out
	/// exactly 0.
	fn causal_softmax(&self, id: usize, node: &Node) -> Result<Tensor> {
		let x = contiguous(&self.operand(id, node, 0)?)?;
		let seq = x.dim(D::Minus1)?;
		let mask = causal_mask(seq, 0.0, f32::NEG_INFINITY, x.device())?;
		Ok(candle_nn::ops::softmax_last_dim(&x.broadcast_add(&mask)?)?)
	}

	/// `a · bᵀ` with each head of `b` serving `group` heads of `a`.
	fn grouped_matmul(&self, id: usize, node: &Node, group: u32) -> Result<Tensor> {
		let (a, b) =
			(contiguous(&self.operand(id, node, 0)?)?, contiguous(&self.operand(id, node, 1)?)?);
		let (batch, heads, m, k) = a.dims4()?;
		let (_, kv, n, _) = b.dims4()?;
		if kv * (group as usize) != heads {
			return Err(EngineError::Internal(format!("node {id}: heads do not fit the groups")));
		}
		let out = a
			.reshape((batch, kv, heads / kv.max(1) * m, k))?
			.matmul(&contiguous(&b.transpose(D::Minus1, D::Minus2)?)?)?;
		Ok(out.reshape((batch, heads, m, n))?)
	}

	/// Mean pooling of rows under a mask, and L2 normalization of rows.
	fn pool(&self, id: usize, node: &Node) -> Result<Tensor> {
		let x = self.operand(id, node, 0)?;
		match node.op {
			Op::MeanPool => {
				let batch = self.batch;
				let k = x.dim(D::Minus1)?;
				let rows = x.elem_count() / (batch * k).max(1);
				if self.model.device.is_cpu() {
					return mean_pool_in_token_order(
						&x,
						&self.operand(id, node, 1)?,
						batch,
						rows,
						k,
					);
				}
				let xr = contiguous(&x)?.reshape((batch, rows, k))?;
				let mask = self.operand(id, node, 1)?.reshape((batch, k, 1))?;
				let sums = xr.matmul(&mask)?.reshape((batch, 1, rows))?;
				let count = mask.sum_keepdim(1)?.reshape((batch, 1, 1))?.maximum(1e-9f64)?;
				Ok(sums.broadcast_div(&count)?)
			},
			Op::L2Normalize { eps_bits } => {
				let norm =
					x.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?.maximum(f32_of(eps_bits) as f64)?;
				Ok(x.broadcast_div(&norm)?)
			},
			_ => Err(EngineError::Internal(format!("node {id}: not a pooling"))),
		}
	}
}

/// Masked mean pooling on the CPU: each of an item's `rows` rows of `k` values summed in token
/// order under its mask, over the mask's sum. An input alone gets the bits it gets inside a
/// padded batch (the padded tokens add zeros at the end), which a replay needs
/// (docs/protocol.md, "Replay"); candle's matmul, used on the GPU, changes its summation with
/// the padded length.
fn mean_pool_in_token_order(
	x: &Tensor,
	mask: &Tensor,
	batch: usize,
	rows: usize,
	k: usize,
) -> Result<Tensor> {
	let xs = contiguous(x)?.flatten_all()?.to_vec1::<f32>()?;
	let ms = contiguous(mask)?.flatten_all()?.to_vec1::<f32>()?;
	if xs.len() != batch * rows * k || ms.len() != batch * k {
		return Err(EngineError::Internal("mean pooling: operand sizes disagree".into()));
	}
	let mut out = Vec::with_capacity(batch * rows);
	for (item, mask) in xs.chunks_exact((rows * k).max(1)).zip(ms.chunks_exact(k.max(1))) {
		let count = mask.iter().sum::<f32>().max(1e-9);
		for row in item.chunks_exact(k.max(1)) {
			let sum = row.iter().zip(mask).fold(0f32, |acc, (v, m)| acc + v * m);
			out.push(sum / count);
		}
	}
	Ok(Tensor::from_vec(out, (batch, 1, rows), x.device())?)
}

/// For each node, whether it is a linear layer whose output only the next node, a GELU, reads:
/// the engine computes the two in one pass (`PackedWeight::apply_gelu`) where the packed kernel
/// runs.
fn gelu_fusions(template: &Graph) -> Vec<bool> {
	let nodes = &template.nodes;
	nodes
		.iter()
		.enumerate()
		.map(|(id, node)| {
			let this = id as NodeId;
			matches!(node.op, Op::Linear { .. }) &&
				nodes
					.get(id + 1)
					.is_some_and(|next| next.op == Op::Gelu && next.inputs == [this]) &&
				nodes.iter().enumerate().all(|(j, n)| j == id + 1 || !n.inputs.contains(&this))
		})
		.collect()
}

/// An `[S, S]` matrix holding `on` at and before the diagonal and `off` after it.
fn causal_mask(seq: usize, on: f32, off: f32, device: &Device) -> Result<Tensor> {
	let values: Vec<f32> =
		(0..seq * seq).map(|e| if e % seq <= e / seq { on } else { off }).collect();
	Ok(Tensor::from_vec(values, (seq, seq), device)?)
}

/// The test-only fault ([`Model::inject_fault`]): 1 to 7 (by row, cycling) added to the
/// first column of every row. Not a constant: a shift every row shares can vanish downstream
/// (keys shifted alike leave softmax unchanged); 7 is prime to every head count and width.
fn perturb(out: &Tensor) -> Result<Tensor> {
	let width = out.dim(D::Minus1)?.max(1);
	let delta: Vec<f32> = (0..out.elem_count())
		.map(|i| if i % width == 0 { 1.0 + ((i / width) % 7) as f32 } else { 0.0 })
		.collect();
	Ok((out + Tensor::from_vec(delta, out.dims(), out.device())?)?)
}

/// `t` with its elements in row-major order: itself when they are, else a copy (on the CPU with
/// [`StridedCopy`], in parallel; candle's own copy walks a strided view one element at a time).
fn contiguous(t: &Tensor) -> Result<Tensor> {
	Ok(match t.is_contiguous() {
		true => t.clone(),
		false if t.device().is_cpu() && t.dtype() == DType::F32 =>
			t.apply_op1_no_bwd(&StridedCopy)?,
		false => t.contiguous()?,
	})
}

/// `b` shaped to broadcast against `a`: same shape, or one row per batch item.
fn broadcast_row(b: &Tensor, a: &Tensor) -> Result<Tensor> {
	if b.dims() == a.dims() {
		return Ok(b.clone());
	}
	let batch = a.dim(0)?;
	let width = b.dim(D::Minus1)?;
	let mut shape = vec![1usize; a.rank()];
	shape[0] = batch;
	if let Some(last) = shape.last_mut() {
		*last = width;
	}
	Ok(b.reshape(shape)?)
}

/// Calls `f` with a node's batched output as row-major host values: borrowed from a contiguous
/// CPU tensor, copied once (one transfer) from any other.
fn with_host_values<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> Result<R>) -> Result<R> {
	if t.device().is_cpu() && t.dtype() == DType::F32 {
		// A view (a transpose) is copied in row-major order once.
		let t = contiguous(t)?;
		let (storage, layout) = t.storage_and_layout();
		if let (candle_core::Storage::Cpu(cpu), Some((start, end))) =
			(&*storage, layout.contiguous_offsets())
		{
			let all = cpu.as_slice::<f32>()?;
			let values = all.get(start..end).ok_or_else(|| {
				EngineError::InvalidInput("tensor layout outside its storage".into())
			})?;
			return f(values);
		}
	}
	let host = t.flatten_all()?.to_vec1::<f32>()?;
	f(&host)
}

/// Item `b`'s part of a batched node output (`values`, shape `[batch] ++ dims`) with the
/// dimensions in `seq_dims` cut to `seq_len`, row-major: the node's output for that item alone.
fn item_slice(
	values: &[f32],
	dims: &[usize],
	b: usize,
	seq_dims: &[usize],
	seq_len: usize,
) -> Result<Vec<f32>> {
	Ok(item_rows(values, dims, b, seq_dims, seq_len)?.concat())
}

fn extract(
	model: &Model,
	inputs: &[ModelInput],
	values: &[Tensor],
	mode: Mode,
) -> Result<Vec<Execution>> {
	let template = &model.template;
	let seq = inputs.iter().map(|i| i.seq_len).max().unwrap_or(1);
	match mode {
		Mode::Plain => {
			let no_output = || EngineError::Internal("the graph computed no output".into());
			let id = values.len().checked_sub(1).ok_or_else(no_output)?;
			let value = values.get(id).ok_or_else(no_output)?;
			let dims = dims_at(template, id, seq);
			let seq_dims = template.seq_dims(id as NodeId);
			with_host_values(value, |host| {
				inputs
					.par_iter()
					.enumerate()
					.map(|(b, input)| {
						Ok(Execution {
							output: item_slice(host, &dims, b, &seq_dims, input.seq_len as usize)?,
							trace: None,
						})
					})
					.collect()
			})
		},
		Mode::Traced => extract_traces(template, inputs, values, seq),
	}
}

/// Each item's trace, its rows read from the batch's node outputs where they lie: hashed from
/// there and kept there (the items' traces share the batch).
fn extract_traces(
	template: &Graph,
	inputs: &[ModelInput],
	values: &[Tensor],
	seq: u32,
) -> Result<Vec<Execution>> {
	let host = |t: &Tensor| -> Result<Tensor> {
		let t = if t.device().is_cpu() { t.clone() } else { t.to_device(&Device::Cpu)? };
		// A view (a transpose) is copied in row-major order once.
		contiguous(&t.to_dtype(DType::F32)?)
	};
	let nodes = values.iter().map(host).collect::<Result<Vec<_>>>()?;
	let dims = (0..nodes.len()).map(|id| dims_at(template, id, seq)).collect();
	let seq_dims = (0..nodes.len()).map(|id| template.seq_dims(id as NodeId)).collect();
	let batch = Arc::new(BatchOutputs::new(nodes, dims, seq_dims)?);
	// Leaf-hashing tasks of at most LEAF_TASK_ROWS rows of one node of one item, so that a batch
	// of one item uses every core too.
	let mut tasks = Vec::new();
	for (b, input) in inputs.iter().enumerate() {
		for id in 0..batch.len() {
			let rows = batch.row_count(id, input.seq_len);
			tasks.extend(
				(0..rows)
					.step_by(LEAF_TASK_ROWS)
					.map(|first| (b, id, first, LEAF_TASK_ROWS.min(rows - first))),
			);
		}
	}
	let hashed = tasks
		.par_iter()
		.map(|&(b, id, first, count)| {
			let seq_len = inputs.get(b).map_or(0, |i| i.seq_len);
			batch.with_rows(id, b, seq_len, |rows| {
				let rows = rows.get(first..first + count).unwrap_or_default();
				if !rows.iter().all(|r| commit::all_finite(r)) {
					return Err(EngineError::Commit(CommitError::NonFinite { index: id }));
				}
				Ok(commit::row_leaf_hashes(id as u32, first, rows))
			})?
		})
		.collect::<Result<Vec<_>>>()?;
	let mut leaves: Vec<Vec<Hash>> = vec![Vec::new(); inputs.len()];
	for (&(b, ..), hashes) in tasks.iter().zip(hashed) {
		if let Some(l) = leaves.get_mut(b) {
			l.extend(hashes);
		}
	}
	inputs
		.par_iter()
		.zip(leaves)
		.enumerate()
		.map(|(b, (input, leaves))| {
			// The leaf count the graph at this length has: a tree of the wrong shape is refused.
			let (_, expected) = trace_offsets(&template.instantiate(input.seq_len));
			if leaves.len() as u64 != expected {
				return Err(EngineError::InvalidInput(format!(
					"item {b}: {} trace rows, the graph has {expected}",
					leaves.len()
				)));
			}
			let tree = commit::tree_of_leaves(leaves);
			let root = trace_root_of(input.seq_len, &tree.root());
			let trace = Trace::of_batch_item(batch.clone(), b, input.seq_len, tree, root);
			Ok(Execution { output: trace.output()?, trace: Some(trace) })
		})
		.collect()
}

/// Rows per leaf-hashing task.
const LEAF_TASK_ROWS: usize = 256;

#[cfg(test)]
mod tests {
	use super::{item_slice, length_groups};
	use candle_core::{Device, Tensor};

	/// `item_slice` equals candle's own narrowing, for sequence dimensions anywhere.
	#[test]
	fn item_slices_equal_narrowed_tensors() {
		for (dims, seq_dims) in [
			(vec![6, 4], vec![0]),
			(vec![3, 6, 6], vec![1, 2]),
			(vec![6, 3, 5], vec![0]),
			(vec![4], vec![]),
			(vec![2, 6], vec![1]),
		] {
			let batch = 3;
			let n: usize = batch * dims.iter().product::<usize>();
			let values: Vec<f32> = (0..n).map(|i| i as f32).collect();
			let mut shape = vec![batch];
			shape.extend(&dims);
			let t = Tensor::from_vec(values.clone(), shape, &Device::Cpu).expect("tensor");
			for b in 0..batch {
				for len in [1, 2, 6] {
					let mut want = t.get(b).expect("item");
					for d in &seq_dims {
						want = want.narrow(*d, 0, len.min(dims[*d])).expect("narrow");
					}
					let want = want.flatten_all().expect("flat").to_vec1::<f32>().expect("values");
					assert_eq!(
						item_slice(&values, &dims, b, &seq_dims, len).expect("slice"),
						want,
						"dims {dims:?} seq {seq_dims:?} item {b} len {len}"
					);
				}
			}
		}
	}

	/// In a BERT graph the feed-forward up-projections, and only they, run fused with their GELU.
	#[test]
	fn gelu_fuses_with_each_feed_forward_up_projection() {
		let template = crate::bert::bert_graph(&crate::generated::tiny_bert_config(), "");
		let fused: Vec<usize> = super::gelu_fusions(&template)
			.iter()
			.enumerate()
			.filter(|(_, f)| **f)
			.map(|(id, _)| id)
			.collect();
		assert_eq!(fused.len(), 2, "one per layer");
		for id in fused {
			assert!(matches!(template.nodes[id].op, arbiter_primitives::Op::Linear { .. }));
			assert_eq!(template.nodes[id + 1].op, arbiter_primitives::Op::Gelu);
		}
		// A second reader of the linear output stops the fusion.
		let mut two_readers = template.clone();
		let up = super::gelu_fusions(&template).iter().position(|f| *f).expect("fused");
		if let Some(last) = two_readers.nodes.last_mut() {
			last.inputs.push(up as arbiter_primitives::NodeId);
		}
		assert!(!super::gelu_fusions(&two_readers)[up]);
	}

	fn lengths_of(groups: &[Vec<usize>], lengths: &[u32]) -> Vec<Vec<u32>> {
		groups.iter().map(|g| g.iter().map(|i| lengths[*i]).collect()).collect()
	}

	#[test]
	fn without_padding_one_batch_per_length() {
		let lengths = [5, 3, 5, 7, 3, 3];
		let groups = length_groups(&lengths, None);
		assert_eq!(lengths_of(&groups, &lengths), vec![vec![7], vec![5, 5], vec![3, 3, 3]]);
	}

	#[test]
	fn with_padding_cuts_where_padding_costs_more_than_a_batch() {
		// The bench sentences' first batch: 8 long ones, then 24 of 26 tokens or fewer.
		let lengths = [
			41, 40, 40, 40, 39, 39, 39, 37, 26, 26, 26, 24, 23, 23, 23, 22, 21, 21, 21, 21, 21, 20,
			20, 20, 20, 20, 19, 19, 19, 19, 19, 19,
		];
		let groups = length_groups(&lengths, Some(48));
		let by_len = lengths_of(&groups, &lengths);
		assert_eq!(by_len.first().map(|g| g.len()), Some(8), "{by_len:?}");
		let padded: u64 = by_len.iter().map(|g| g.len() as u64 * g[0] as u64).sum();
		let cost = padded + 48 * by_len.len() as u64;
		// One batch would pad to 32 × 41 = 1312 rows; the split costs less, overhead included.
		assert!(cost < 32 * 41 + 48, "{cost}");
		// Every input exactly once, and each batch sorted longest first.
		let mut all: Vec<usize> = groups.concat();
		all.sort_unstable();
		assert_eq!(all, (0..lengths.len()).collect::<Vec<_>>());
		// A huge overhead keeps one batch; equal lengths never split.
		assert_eq!(length_groups(&lengths, Some(1 << 40)).len(), 1);
		assert_eq!(length_groups(&[4, 4, 4, 4], Some(0)).len(), 1);
		assert_eq!(length_groups(&[9, 1, 1, 1], Some(0)).len(), 2);
		assert!(length_groups(&[], Some(1)).is_empty());
	}
}
