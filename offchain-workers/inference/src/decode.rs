//! Generation: a causal decoder graph run one position at a time with a KV cache, whose trace
//! is the rows decoding computed (docs/inference.md, "Generation").
//!
//! A decoding step computes, for every node, only the part of its output that belongs to the new
//! position `p`: its *fragment*, the elements whose index along the node's first sequence
//! dimension is `p` (and `≤ p` along any other: a score row). An `[S, W]` node's fragment is row
//! `p`; a heads-first `[H, S, d]` node's is row `p` of every head; V transposed (`[G, d, S]`) has
//! column `p` of every row; the scores `[H, S, S]` have row `p` of every head, `p + 1` wide. The
//! ops that read other positions, `CausalScores` (every K row up to `p`) and `GroupedMatMul`
//! (every V column up to `p`), read them from their operand's buffer: the K/V cache *is* those
//! nodes' outputs. Each fragment is written into its node's buffer, zeros elsewhere, so after
//! the last step the buffers, cut to the length run, are the node outputs of the graph at that
//! length: what [`Trace::commit`] commits. Elements after the diagonal stay 0, which is what the
//! causal ops define them to be.
//!
//! Why not trace a prefill of the whole sequence: with candle's kernels a decoding step's values
//! are not the bits a prefill gives for the same position (~5e-5 apart, `examples/smollm2_plain`),
//! and a challenged provider must answer with the rows its committed tokens came from. Here every
//! element is one fixed-order computation whatever the step, so a replay (the same tokens, step by
//! step) gives the same bits and the same root.
//!
//! Plain mode keeps only the buffers later steps read (the K and V nodes); traced mode keeps all.

use arbiter_primitives::{
	ir::{f32_of, SEQ_DIM},
	token_choice::TokenSampling,
	Graph, Node, Op,
};
use rayon::prelude::*;

use crate::{
	engine::Mode,
	error::{EngineError, Result},
	model::Model,
	trace::Trace,
};

/// How the next token is chosen from the logits.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Sampling {
	/// The highest logit (the lowest id among equal ones).
	Greedy,
	/// Gumbel-max: the highest `logit / temperature + gumbel_noise(seed, step, token)`.
	Gumbel { temperature: f32, seed: u64 },
}

impl Sampling {
	/// The engine's sampling for a task's, as the chain stores it.
	pub fn from_chain(sampling: TokenSampling) -> Self {
		match sampling {
			TokenSampling::Greedy => Sampling::Greedy,
			TokenSampling::Gumbel { temperature_bits, seed } =>
				Sampling::Gumbel { temperature: f32_of(temperature_bits), seed },
		}
	}

	/// The task's sampling as the chain stores it and rules with
	/// ([`arbiter_primitives::token_choice::TokenSampling`]).
	pub fn on_chain(&self) -> TokenSampling {
		match *self {
			Sampling::Greedy => TokenSampling::Greedy,
			Sampling::Gumbel { temperature, seed } =>
				TokenSampling::Gumbel { temperature_bits: temperature.to_bits(), seed },
		}
	}
}

/// A finished generation.
#[derive(Clone, Debug)]
pub struct Generation {
	/// The prompt's ids.
	pub prompt: Vec<u32>,
	/// The generated ids, the stop token included when one ended it.
	pub tokens: Vec<u32>,
	/// Whether a stop token ended it (else `max_new_tokens` did).
	pub stopped: bool,
	/// The trace (traced mode) of the positions run: the prompt and every generated token but the
	/// last, whose hidden row no step needs ([`traced_ids`]).
	pub trace: Option<Trace>,
}

/// The ids a generation's trace is of: the prompt, then every generated token but the last.
pub fn traced_ids(prompt: &[u32], tokens: &[u32]) -> Vec<u32> {
	let mut ids = prompt.to_vec();
	ids.extend(tokens.iter().take(tokens.len().saturating_sub(1)));
	ids
}

/// Where a node's sequence dimensions are, and what a fragment of it is.
#[derive(Clone, Debug)]
struct Layout {
	/// The node's dimensions at the decoder's capacity.
	dims: Vec<usize>,
	/// Positions of the sequence dimensions in `dims` (the first one decides the position).
	seq: Vec<usize>,
}

impl Layout {
	/// The extents of the fragment of positions `p0..p1` along each dimension: `p1 − p0` along
	/// the first sequence dimension, `p1` along any other (a score row's columns: those after
	/// its own position are 0), the whole of the rest.
	fn extents(&self, p0: usize, p1: usize) -> Vec<usize> {
		self.dims
			.iter()
			.enumerate()
			.map(|(k, d)| match self.seq.iter().position(|s| *s == k) {
				Some(0) => p1 - p0,
				Some(_) => p1,
				None => *d,
			})
			.collect()
	}

	/// Elements of the fragment of positions `p0..p1`.
	fn fragment_len(&self, p0: usize, p1: usize) -> usize {
		self.extents(p0, p1).iter().product()
	}

	/// Calls `f(buffer index, fragment index)` for every element of the fragment of positions
	/// `p0..p1`, in the fragment's row-major order; runs of consecutive elements along the last
	/// dimension are handed over whole: `f(buffer start, fragment start, length)`.
	fn for_each_run(&self, p0: usize, p1: usize, mut f: impl FnMut(usize, usize, usize)) {
		let extents = self.extents(p0, p1);
		let Some((&run, outer)) = extents.split_last() else { return };
		let total: usize = outer.iter().product();
		let mut index = vec![0usize; outer.len()];
		let last = self.dims.len() - 1;
		let shift_last = if self.seq.first() == Some(&last) { p0 } else { 0 };
		for i in 0..total {
			let mut flat = 0usize;
			for (k, d) in self.dims.iter().enumerate().take(last) {
				let at = if self.seq.first() == Some(&k) { p0 + index[k] } else { index[k] };
				flat = flat * d + at;
			}
			flat = flat * self.dims[last] + shift_last;
			f(flat, i * run, run);
			advance(&mut index, outer);
		}
	}

	/// The buffer cut to `len` positions along every sequence dimension, row-major.
	fn narrow(&self, buffer: &[f32], len: usize) -> Vec<f32> {
		let kept: Vec<usize> = self
			.dims
			.iter()
			.enumerate()
			.map(|(k, d)| if self.seq.contains(&k) { len } else { *d })
			.collect();
		let total: usize = kept.iter().product();
		let mut out = Vec::with_capacity(total);
		let mut index = vec![0usize; kept.len()];
		for _ in 0..total {
			let flat = index.iter().zip(&self.dims).fold(0usize, |acc, (i, d)| acc * d + i);
			out.push(buffer.get(flat).copied().unwrap_or(0.0));
			advance(&mut index, &kept);
		}
		out
	}
}

/// A causal decoder graph run position by position.
pub struct Decoder<'m> {
	model: &'m Model,
	/// The template instantiated at the capacity.
	graph: Graph,
	layouts: Vec<Layout>,
	/// Full-size node outputs, for the nodes kept (all of them in traced mode).
	buffers: Vec<Option<Vec<f32>>>,
	/// Per node, the last node that reads it as an operand (itself if none): a block's fragment
	/// is dropped once read for the last time, so a 128-token prompt holds a few nodes' rows at
	/// once, not the whole graph's (345 MiB for SmolLM2; docs/benchmarks.md, "Generation").
	last_reader: Vec<usize>,
	/// Positions run so far.
	len: usize,
	capacity: usize,
	/// The ids fed so far.
	ids: Vec<u32>,
}

impl<'m> Decoder<'m> {
	/// A decoder for up to `capacity` positions. Refuses graphs that are not causal decoders: one
	/// token-id input, every node's first sequence dimension its position, ops this runner
	/// knows (the LLaMA graph's).
	pub fn new(model: &'m Model, capacity: u32, mode: Mode) -> Result<Self> {
		let not_decoder = |why: String| {
			EngineError::InvalidInput(format!("{} is not a causal decoder: {why}", model.name))
		};
		if capacity == 0 || capacity > model.max_tokens() {
			return Err(EngineError::BadTokenCount {
				len: capacity as usize,
				max: model.max_tokens(),
			});
		}
		let template = &model.template;
		let graph = template.instantiate(capacity);
		let mut layouts = Vec::with_capacity(graph.nodes.len());
		let mut read_across = vec![false; graph.nodes.len()];
		for (id, node) in graph.nodes.iter().enumerate() {
			let seq = template.seq_dims(id as u32);
			if seq.is_empty() {
				return Err(not_decoder(format!("node {id} has no sequence dimension")));
			}
			match &node.op {
				Op::Input { kind: arbiter_primitives::InputKind::TokenIds } |
				Op::Embedding { .. } |
				Op::Linear { .. } |
				Op::Add |
				Op::Mul |
				Op::Scale { .. } |
				Op::RmsNorm { .. } |
				Op::Silu |
				Op::Relu |
				Op::Rope { .. } |
				Op::CausalSoftmax => {},
				// A fragment keeps its values' order through an index map when the dimensions other
				// than the sequence's keep theirs: a transpose of the sequence dimension with a
				// neighbour, a reshape with only dimensions of 1 before the sequence dimension.
				Op::Transpose { dim0, dim1 } => {
					let input = template.seq_dims(node.inputs[0]);
					let swaps_seq = input.len() == 1 &&
						seq.len() == 1 && (input[0] == *dim0 as usize ||
						input[0] == *dim1 as usize);
					if !swaps_seq || dim0.abs_diff(*dim1) != 1 {
						return Err(not_decoder(format!(
							"node {id}: a transpose that reorders a position's values"
						)));
					}
				},
				Op::Reshape => {
					let leading_ones = |n: u32| {
						let dims =
							template.node(n).map(|n| n.shape.dims().to_vec()).unwrap_or_default();
						let seq = template.seq_dims(n);
						seq.len() == 1 && dims.iter().take(seq[0]).all(|d| *d == 1)
					};
					if !leading_ones(id as u32) || !leading_ones(node.inputs[0]) {
						return Err(not_decoder(format!(
							"node {id}: a reshape that reorders a position's values"
						)));
					}
				},
				Op::CausalScores { .. } | Op::GroupedMatMul { .. } => {
					if let Some(b) = node.inputs.get(1) {
						read_across[*b as usize] = true;
					}
				},
				other =>
					return Err(not_decoder(format!("node {id}: {other:?} is not run step by step"))),
			}
			layouts.push(Layout {
				dims: node.shape.dims().iter().map(|d| *d as usize).collect(),
				seq,
			});
		}
		let inputs = graph.nodes.iter().filter(|n| n.op.is_input()).count();
		if inputs != 1 || template.nodes.first().is_none_or(|n| n.shape.dims() != [1, SEQ_DIM]) {
			return Err(not_decoder("its one input must be the token ids".into()));
		}
		let buffers = layouts
			.iter()
			.enumerate()
			.map(|(id, l)| {
				(mode == Mode::Traced || read_across[id])
					.then(|| vec![0f32; l.dims.iter().product()])
			})
			.collect();
		let mut last_reader: Vec<usize> = (0..graph.nodes.len()).collect();
		for (id, node) in graph.nodes.iter().enumerate() {
			for input in &node.inputs {
				if let Some(last) = last_reader.get_mut(*input as usize) {
					*last = id;
				}
			}
		}
		Ok(Self {
			model,
			graph,
			layouts,
			buffers,
			last_reader,
			len: 0,
			capacity: capacity as usize,
			ids: Vec::new(),
		})
	}

	/// Positions run so far.
	pub fn len(&self) -> usize {
		self.len
	}

	/// Whether no position has run.
	pub fn is_empty(&self) -> bool {
		self.len == 0
	}

	/// Runs the next position with token `id` and returns the last node's fragment (the final
	/// hidden row).
	pub fn step(&mut self, id: u32) -> Result<Vec<f32>> {
		self.step_block(&[id])
	}

	/// Runs the next `ids.len()` positions at once (a prompt) and returns the last node's
	/// fragment: one final hidden row per position. Every element is computed as a step of its
	/// own position would compute it (the linear kernels' elements do not depend on the number
	/// of rows, attention reads only positions up to its own), so the trace is the same bits
	/// however the positions were grouped (`tests/generation.rs`).
	pub fn step_block(&mut self, ids: &[u32]) -> Result<Vec<f32>> {
		// On a worker of rayon's pool, so the kernels' parallel loops start without waking the
		// caller's thread each time (~210 of them a token; `engine::run` does the same).
		rayon::scope(|_| self.run_block(ids))
	}

	fn run_block(&mut self, ids: &[u32]) -> Result<Vec<f32>> {
		self.check_block(ids)?;
		let mut fragments: Vec<Vec<f32>> = Vec::with_capacity(self.graph.nodes.len());
		for (index, node) in self.graph.nodes.iter().enumerate() {
			let (p0, p1) = (self.len, self.len + ids.len());
			let fragment = self.fragment(index, node, p0, p1, ids, &fragments)?;
			keep(&self.layouts[index], &mut self.buffers[index], index, p0, p1, &fragment)?;
			fragments.push(fragment);
			for input in &node.inputs {
				if self.last_reader.get(*input as usize) == Some(&index) {
					if let Some(done) = fragments.get_mut(*input as usize) {
						*done = Vec::new();
					}
				}
			}
		}
		self.finish_block(ids);
		fragments.pop().ok_or(EngineError::EmptyBatch)
	}

	/// Refuses a block past the capacity or with an id outside the vocabulary.
	fn check_block(&self, ids: &[u32]) -> Result<()> {
		let (p0, p1) = (self.len, self.len + ids.len());
		if ids.is_empty() || p1 > self.capacity {
			return Err(EngineError::BadTokenCount { len: p1, max: self.capacity as u32 });
		}
		let vocabulary = self.model.vocabulary();
		if let Some((k, id)) = ids.iter().enumerate().find(|(_, id)| **id >= vocabulary) {
			return Err(EngineError::TokenIdOutOfRange { id: *id, position: p0 + k, vocabulary });
		}
		Ok(())
	}

	fn finish_block(&mut self, ids: &[u32]) {
		self.len += ids.len();
		self.ids.extend_from_slice(ids);
	}

	/// The trace of the positions run (traced mode).
	pub fn trace(&self) -> Result<Trace> {
		if self.is_empty() {
			return Err(EngineError::EmptyBatch);
		}
		let outputs = self
			.buffers
			.iter()
			.zip(&self.layouts)
			.map(|(buffer, layout)| {
				buffer.as_ref().map(|b| layout.narrow(b, self.len)).ok_or_else(|| {
					EngineError::InvalidInput("a plain decoder keeps no trace".into())
				})
			})
			.collect::<Result<Vec<_>>>()?;
		Trace::commit(&self.model.template, self.len as u32, outputs)
	}

	fn weight(&self, index: u32) -> Result<&[f32]> {
		self.model
			.weight_values(index)
			.ok_or_else(|| EngineError::Internal(format!("weight {index} missing")))
	}

	fn width_of(&self, node: u32) -> usize {
		self.graph.node(node).map(|n| n.shape.width() as usize).unwrap_or(0)
	}

	/// Node `index`'s fragment of positions `p0..p1` (tokens `ids`), from its operands'
	/// fragments (and the K/V buffers).
	fn fragment(
		&self,
		index: usize,
		node: &Node,
		p0: usize,
		p1: usize,
		ids: &[u32],
		fragments: &[Vec<f32>],
	) -> Result<Vec<f32>> {
		let operand = |k: usize| -> Result<&Vec<f32>> {
			node.inputs
				.get(k)
				.and_then(|i| fragments.get(*i as usize))
				.ok_or_else(|| EngineError::Internal(format!("node {index}: operand {k} missing")))
		};
		let width = node.shape.width() as usize;
		let block = p1 - p0;
		let internal = |what: &str| EngineError::Internal(format!("node {index}: {what}"));
		Ok(match &node.op {
			Op::Input { .. } => ids.iter().map(|id| *id as f32).collect(),
			Op::Embedding { table } => {
				let mut out = Vec::with_capacity(block * width);
				for id in ids {
					let row = self.model.weight_row(*table, *id);
					out.extend_from_slice(&row.ok_or_else(|| internal("no such table row"))?);
				}
				out
			},
			Op::Linear { weight, bias } => {
				let x = operand(0)?;
				let bias = bias.map(|b| self.weight(b)).transpose()?;
				linear(self.model, *weight, x, width, bias)?
			},
			Op::Add | Op::Mul => {
				let (a, b) = (operand(0)?, operand(1)?);
				let b_of = |i: usize| if b.len() == a.len() { b[i] } else { b[i % width.max(1)] };
				(0..a.len())
					.map(|i| if node.op == Op::Add { a[i] + b_of(i) } else { a[i] * b_of(i) })
					.collect()
			},
			Op::Scale { factor_bits } =>
				operand(0)?.iter().map(|v| v * f32_of(*factor_bits)).collect(),
			Op::RmsNorm { gamma, eps_bits } => {
				let gamma = self.weight(*gamma)?;
				let eps = f32_of(*eps_bits);
				operand(0)?
					.chunks(width)
					.flat_map(|row| {
						let mean_sq = row.iter().map(|v| v * v).sum::<f32>() / width as f32;
						let scale = 1.0 / (mean_sq + eps).sqrt();
						row.iter().zip(gamma).map(move |(v, g)| v * scale * g)
					})
					.collect()
			},
			Op::Silu => operand(0)?.iter().map(|v| v / (1.0 + (-v).exp())).collect(),
			Op::Relu => operand(0)?.iter().map(|v| v.max(0.0)).collect(),
			Op::Rope { cos, sin } => {
				// Rows are `[.., block, width]`: row `r` is at position `p0 + r % block`.
				let half = width / 2;
				let (cos, sin) = (self.weight(*cos)?, self.weight(*sin)?);
				if cos.len() < p1 * half || sin.len() < p1 * half {
					return Err(internal("the rotary tables are shorter than the positions"));
				}
				operand(0)?
					.chunks(width)
					.enumerate()
					.flat_map(|(r, row)| {
						let p = p0 + r % block;
						let (cos, sin) =
							(&cos[p * half..(p + 1) * half], &sin[p * half..(p + 1) * half]);
						(0..width).map(move |c| {
							let (a, b) = (row[c & !1], row[c | 1]);
							let (cs, sn) = (cos[c / 2], sin[c / 2]);
							if c % 2 == 0 {
								a * cs - b * sn
							} else {
								a * sn + b * cs
							}
						})
					})
					.collect()
			},
			// A reshape with only 1s before the sequence dimension keeps the fragment's order.
			Op::Reshape => operand(0)?.clone(),
			Op::Transpose { dim0, dim1 } => {
				let x = operand(0)?;
				if block == 1 {
					// One position: the values keep their order (checked at `new`).
					x.clone()
				} else {
					let input = &self.layouts[node.inputs[0] as usize];
					transpose(x, &input.extents(p0, p1), *dim0 as usize, *dim1 as usize)
				}
			},
			Op::CausalScores { group, scale_bits } => {
				// q rows are `[H, block, d]`; the output `[H, block, p1]`, 0 after each row's
				// own position.
				let q = operand(0)?;
				let k_node = node.inputs[1];
				let k = self.kept(k_node)?;
				let d = self.width_of(k_node);
				let scale = f32_of(*scale_bits);
				let (cap, group) = (self.capacity, (*group as usize).max(1));
				q.chunks(d)
					.enumerate()
					.flat_map(|(r, qr)| {
						let (h, p) = (r / block, p0 + r % block);
						let kv = h / group;
						(0..p1).map(move |j| {
							if j > p {
								return 0.0;
							}
							let at = (kv * cap + j) * d;
							dot_lanes(qr, &k[at..at + d]) * scale
						})
					})
					.collect()
			},
			Op::CausalSoftmax => operand(0)?
				.chunks(p1)
				.enumerate()
				.flat_map(|(r, row)| {
					let p = p0 + r % block;
					let prefix = &row[..=p];
					let max = prefix.iter().copied().fold(f32::MIN, f32::max);
					let e: Vec<f32> = prefix.iter().map(|v| (v - max).exp()).collect();
					let sum: f32 = e.iter().sum();
					e.into_iter().map(move |v| v / sum).chain(std::iter::repeat_n(0.0, p1 - p - 1))
				})
				.collect(),
			Op::GroupedMatMul { group } => {
				// Probability rows `[H, block, p1]` times V transposed `[G, d, cap]`, each row
				// over its own prefix.
				let probs = operand(0)?;
				let v_node = node.inputs[1];
				let v_t = self.kept(v_node)?;
				let d = width;
				let (cap, group) = (self.capacity, (*group as usize).max(1));
				probs
					.chunks(p1)
					.enumerate()
					.flat_map(|(r, row)| {
						let (h, p) = (r / block, p0 + r % block);
						let kv = h / group;
						(0..d).map(move |c| {
							let at = (kv * d + c) * cap;
							dot_lanes(&row[..=p], &v_t[at..at + p + 1])
						})
					})
					.collect()
			},
			other => return Err(internal(&format!("{other:?} is not run step by step"))),
		})
	}

	fn kept(&self, node: u32) -> Result<&[f32]> {
		self.buffers
			.get(node as usize)
			.and_then(|b| b.as_deref())
			.ok_or_else(|| EngineError::Internal(format!("node {node}'s buffer is not kept")))
	}
}

/// Checks node `index`'s fragment of positions `p0..p1` against its layout and writes it into
/// the node's buffer, if kept.
fn keep(
	layout: &Layout,
	buffer: &mut Option<Vec<f32>>,
	index: usize,
	p0: usize,
	p1: usize,
	fragment: &[f32],
) -> Result<()> {
	if fragment.len() != layout.fragment_len(p0, p1) {
		return Err(EngineError::Internal(format!(
			"node {index}: fragment of {} values, expected {}",
			fragment.len(),
			layout.fragment_len(p0, p1)
		)));
	}
	if let Some(buffer) = buffer.as_mut() {
		layout.for_each_run(p0, p1, |at, i, n| {
			buffer[at..at + n].copy_from_slice(&fragment[i..i + n])
		});
	}
	Ok(())
}

/// The next multi-index in row-major order within `extents` (wrapping to all zeros at the end).
fn advance(index: &mut [usize], extents: &[usize]) {
	for (i, e) in index.iter_mut().zip(extents).rev() {
		*i += 1;
		if *i < *e {
			return;
		}
		*i = 0;
	}
}

/// `x` (row-major, `extents`) with dimensions `dim0` and `dim1` swapped.
fn transpose(x: &[f32], extents: &[usize], dim0: usize, dim1: usize) -> Vec<f32> {
	let mut out_extents = extents.to_vec();
	out_extents.swap(dim0, dim1);
	let mut strides = vec![1usize; extents.len()];
	for k in (0..extents.len().saturating_sub(1)).rev() {
		strides[k] = strides[k + 1] * extents[k + 1];
	}
	strides.swap(dim0, dim1);
	let mut out = Vec::with_capacity(x.len());
	let mut index = vec![0usize; out_extents.len()];
	for _ in 0..x.len() {
		let at: usize = index.iter().zip(&strides).map(|(i, s)| i * s).sum();
		out.push(x[at]);
		advance(&mut index, &out_extents);
	}
	out
}

/// `x · Wᵀ + bias` for the rows of `x`: the 4-bit kernel where the model keeps this weight's
/// blocks (AVX-512, AVX2), else the packed f32 kernel (the same k-order FMA chains, the same bits),
/// else (the portable path) [`dot_lanes`] per element; either way each element's order is fixed.
fn linear(
	model: &Model,
	weight_index: u32,
	x: &[f32],
	out_width: usize,
	bias: Option<&[f32]>,
) -> Result<Vec<f32>> {
	let refused = || EngineError::Internal("the linear kernel refused its input".into());
	// The 4-bit kernel gives the f32 packed kernel's bits (`cpu::linear_q4`); its weights have
	// no f32 copy to fall back on.
	if let Some(Some(quantized)) = model.compact.linear.get(weight_index as usize) {
		return quantized.apply(x, bias).ok_or_else(refused);
	}
	if let Some(Some(packed)) = model.packed.get(weight_index as usize) {
		return packed.apply(x, bias).ok_or_else(refused);
	}
	let weight = model
		.weight_values(weight_index)
		.ok_or_else(|| EngineError::Internal(format!("weight {weight_index} missing")))?;
	let k = weight.len() / out_width.max(1);
	let rows = x.len() / k.max(1);
	let mut out = vec![0f32; rows * out_width];
	out.par_chunks_mut(out_width).enumerate().for_each(|(r, out_row)| {
		let xr = &x[r * k..(r + 1) * k];
		for (c, o) in out_row.iter_mut().enumerate() {
			let b = bias.and_then(|b| b.get(c)).copied().unwrap_or(0.0);
			*o = dot_lanes(xr, &weight[c * k..(c + 1) * k]) + b;
		}
	});
	Ok(out)
}

/// The logits of a final hidden row: its product with every row of the model's token
/// embedding (tied LM head), each by [`dot_lanes`].
pub fn logits(model: &Model, hidden: &[f32]) -> Result<Vec<f32>> {
	let table = model
		.template
		.nodes
		.iter()
		.find_map(|n| match n.op {
			Op::Embedding { table } => Some(table),
			_ => None,
		})
		.ok_or_else(|| EngineError::InvalidInput("the model embeds no tokens".into()))?;
	let width = hidden.len();
	if let Some(q8) =
		model.compact.embedding.as_ref().map(|(_, q)| q).filter(|q| q.width() == width)
	{
		// The 8-bit table: a quarter of the bytes, the same bits (`Q8Rows::dot_row`).
		return Ok((0..q8.rows())
			.into_par_iter()
			.with_min_len(64)
			.map(|r| q8.dot_row(r, hidden))
			.collect());
	}
	let table = model
		.weight_values(table)
		.ok_or_else(|| EngineError::Internal("the embedding table is missing".into()))?;
	// Many rows to a task: one row is 576 products, too little work to hand to a thread alone.
	Ok(table
		.par_chunks(width.max(1) * 64)
		.flat_map_iter(|rows| rows.chunks(width.max(1)).map(|row| dot_lanes(row, hidden)))
		.collect())
}

/// `a · b` in 16 interleaved partial sums (lane `i` sums the products `i, i + 16, …`), added up
/// in a fixed order at the end: vectorized by the compiler, and the same bits on every run and
/// every CPU path (attention's products and the logits).
pub(crate) fn dot_lanes(a: &[f32], b: &[f32]) -> f32 {
	let mut lanes = [0f32; 16];
	let (a16, b16) = (a.chunks_exact(16), b.chunks_exact(16));
	let tail: f32 = a16.remainder().iter().zip(b16.remainder()).map(|(x, y)| x * y).sum();
	for (x, y) in a16.zip(b16) {
		for (lane, (x, y)) in lanes.iter_mut().zip(x.iter().zip(y)) {
			*lane += x * y;
		}
	}
	lanes.iter().sum::<f32>() + tail
}

/// Runs the next position of several sequences of one model at once, token `ids[i]` for
/// `decoders[i]`, and returns each one's final hidden row. The linear layers run as one product
/// over the sequences' rows, so each weight is read once for all of them (batched generation);
/// every element is still the one computation a sequence alone would do (the kernels' elements do
/// not depend on the rows), so each sequence's trace is the same bits as alone
/// (`tests/generation.rs`).
pub fn step_batch(decoders: &mut [Decoder<'_>], ids: &[u32]) -> Result<Vec<Vec<f32>>> {
	rayon::scope(|_| step_batch_on_worker(decoders, ids))
}

fn step_batch_on_worker(decoders: &mut [Decoder<'_>], ids: &[u32]) -> Result<Vec<Vec<f32>>> {
	let Some(model) = decoders.first().map(|d| d.model) else { return Ok(Vec::new()) };
	if ids.len() != decoders.len() || decoders.iter().any(|d| !std::ptr::eq(d.model, model)) {
		return Err(EngineError::InvalidInput(
			"a batch step takes one token for each decoder, all of one model".into(),
		));
	}
	for (decoder, id) in decoders.iter().zip(ids) {
		decoder.check_block(std::slice::from_ref(id))?;
	}
	let weight = |i: u32| {
		model
			.weight_values(i)
			.ok_or_else(|| EngineError::Internal(format!("weight {i} missing")))
	};
	// The template's nodes: a linear layer's widths do not depend on the length.
	let nodes = &model.template.nodes;
	let mut fragments: Vec<Vec<Vec<f32>>> =
		decoders.iter().map(|_| Vec::with_capacity(nodes.len())).collect();
	for (index, node) in nodes.iter().enumerate() {
		let outputs: Vec<Vec<f32>> = match &node.op {
			Op::Linear { weight: w, bias } => {
				// One product over every sequence's row.
				let input = node.inputs[0] as usize;
				let x: Vec<f32> = fragments.iter().flat_map(|f| f[input].iter().copied()).collect();
				let width = node.shape.width() as usize;
				let bias = bias.map(weight).transpose()?;
				let y = linear(model, *w, &x, width, bias)?;
				y.chunks(width.max(1)).map(|row| row.to_vec()).collect()
			},
			_ => decoders
				.iter()
				.zip(&fragments)
				.zip(ids)
				.map(|((d, f), id)| {
					let node = &d.graph.nodes[index];
					d.fragment(index, node, d.len, d.len + 1, std::slice::from_ref(id), f)
				})
				.collect::<Result<_>>()?,
		};
		if outputs.len() != decoders.len() {
			return Err(EngineError::Internal(format!("node {index}: one row per sequence")));
		}
		for ((d, f), out) in decoders.iter_mut().zip(fragments.iter_mut()).zip(outputs) {
			keep(&d.layouts[index], &mut d.buffers[index], index, d.len, d.len + 1, &out)?;
			f.push(out);
		}
	}
	for (decoder, id) in decoders.iter_mut().zip(ids) {
		decoder.finish_block(std::slice::from_ref(id));
	}
	fragments
		.into_iter()
		.map(|mut f| f.pop().ok_or(EngineError::EmptyBatch))
		.collect()
}

/// Generates for several prompts of one model at once ([`generate`] for each): each prompt is
/// processed as a block of its own, then the sequences still generating take their steps
/// together ([`step_batch`]). Each generation is the one [`generate`] gives alone, tokens and
/// trace.
pub fn generate_batch(
	model: &Model,
	prompts: &[Vec<u32>],
	max_new_tokens: u32,
	sampling: Sampling,
	stop: &[u32],
	mode: Mode,
) -> Result<Vec<Generation>> {
	rayon::scope(|_| generate_batch_on_worker(model, prompts, max_new_tokens, sampling, stop, mode))
}

fn generate_batch_on_worker(
	model: &Model,
	prompts: &[Vec<u32>],
	max_new_tokens: u32,
	sampling: Sampling,
	stop: &[u32],
	mode: Mode,
) -> Result<Vec<Generation>> {
	check_request(
		model,
		prompts.iter().map(|p| p.len()).max().unwrap_or(0),
		max_new_tokens,
		sampling,
	)?;
	let mut decoders = Vec::with_capacity(prompts.len());
	let mut hidden = Vec::with_capacity(prompts.len());
	for prompt in prompts {
		check_request(model, prompt.len(), max_new_tokens, sampling)?;
		let capacity = (prompt.len() + max_new_tokens as usize - 1) as u32;
		let mut decoder = Decoder::new(model, capacity, mode)?;
		let rows = decoder.step_block(prompt)?;
		let width = rows.len() / prompt.len();
		hidden.push(rows[rows.len() - width..].to_vec());
		decoders.push(decoder);
	}
	let mut tokens: Vec<Vec<u32>> = prompts.iter().map(|_| Vec::new()).collect();
	let mut stopped = vec![false; prompts.len()];
	for step in 0..max_new_tokens {
		// Every sequence still generating chooses its next token; those that continue step.
		let mut active = Vec::new();
		let choosing: Vec<usize> = (0..hidden.len())
			.filter(|i| !stopped[*i] && tokens[*i].len() as u32 <= step)
			.collect();
		let rows: Vec<Vec<f32>> = choosing.iter().map(|i| hidden[*i].clone()).collect();
		for (i, l) in choosing.iter().zip(logits_batch(model, &rows)?) {
			let i = *i;
			let next = committed_choice(model, &l, sampling, step);
			tokens[i].push(next);
			if stop.contains(&next) {
				stopped[i] = true;
			} else if step + 1 < max_new_tokens {
				active.push(i);
			}
		}
		if active.is_empty() {
			break;
		}
		let ids: Vec<u32> = active.iter().map(|i| *tokens[*i].last().unwrap_or(&0)).collect();
		// The active decoders, moved out for the step and back after it.
		let mut batch: Vec<Decoder> = Vec::with_capacity(active.len());
		let mut slots: Vec<Option<Decoder>> = decoders.into_iter().map(Some).collect();
		for i in &active {
			batch.push(slots[*i].take().ok_or(EngineError::EmptyBatch)?);
		}
		let rows = step_batch(&mut batch, &ids)?;
		for ((i, decoder), row) in active.iter().zip(batch).zip(rows) {
			slots[*i] = Some(decoder);
			hidden[*i] = row;
		}
		decoders = slots.into_iter().collect::<Option<Vec<_>>>().ok_or(EngineError::EmptyBatch)?;
	}
	decoders
		.into_iter()
		.zip(prompts)
		.zip(tokens)
		.zip(stopped)
		.map(|(((decoder, prompt), tokens), stopped)| {
			let trace = match mode {
				Mode::Traced => Some(decoder.trace()?),
				Mode::Plain => None,
			};
			Ok(Generation { prompt: prompt.clone(), tokens, stopped, trace })
		})
		.collect()
}

/// Refuses a temperature that is not positive, an empty prompt, no new tokens, or more positions
/// than the model has.
fn check_request(
	model: &Model,
	prompt_len: usize,
	max_new_tokens: u32,
	sampling: Sampling,
) -> Result<()> {
	if let Sampling::Gumbel { temperature, .. } = sampling {
		if !(temperature.is_finite() && temperature > 0.0) {
			return Err(EngineError::InvalidInput(format!("temperature {temperature}")));
		}
	}
	if prompt_len == 0 || max_new_tokens == 0 {
		return Err(EngineError::BadTokenCount { len: prompt_len, max: model.max_tokens() });
	}
	// The positions run: the prompt and every generated token but the last.
	let capacity = prompt_len as u64 + max_new_tokens as u64 - 1;
	if capacity > model.max_tokens() as u64 {
		return Err(EngineError::BadTokenCount { len: capacity as usize, max: model.max_tokens() });
	}
	Ok(())
}

/// The logits of several final hidden rows at once ([`logits`] of each, the same bits): each
/// embedding row is read once for all of them (batched generation).
pub fn logits_batch(model: &Model, hidden: &[Vec<f32>]) -> Result<Vec<Vec<f32>>> {
	let Some(width) = hidden.first().map(|h| h.len()) else { return Ok(Vec::new()) };
	let q8 = model.compact.embedding.as_ref().map(|(_, q)| q).filter(|q| q.width() == width);
	let (Some(q8), true) = (q8, hidden.iter().all(|h| h.len() == width)) else {
		return hidden.iter().map(|h| logits(model, h)).collect();
	};
	// Row-major [vocabulary × sequences], then split per sequence.
	let per_row: Vec<Vec<f32>> = (0..q8.rows())
		.into_par_iter()
		.with_min_len(64)
		.map(|r| hidden.iter().map(|h| q8.dot_row(r, h)).collect())
		.collect();
	Ok((0..hidden.len()).map(|s| per_row.iter().map(|row| row[s]).collect()).collect())
}

/// The token a provider commits at `step`: `sampling`'s choice, or, on a model with the
/// test-only token-choice fault at this step ([`Model::inject_token_choice_fault`]), the token
/// it scores second.
fn committed_choice(model: &Model, logits: &[f32], sampling: Sampling, step: u32) -> u32 {
	let best = choose(logits, sampling, step);
	if model.token_choice_fault() != Some(step) {
		return best;
	}
	let score = |t: usize| sampling.on_chain().score(logits[t], step, t as u32);
	(0..logits.len())
		.filter(|t| *t as u32 != best)
		.max_by(|a, b| score(*a).total_cmp(&score(*b)).then(b.cmp(a)))
		.map_or(best, |t| t as u32)
}

/// Replays a committed generation (a challenged task): decodes `prompt` and every token but
/// the last, traced, as generation did (the prompt as one block, then a position per token),
/// and checks that every committed token is the one this engine chooses there (its own choice,
/// the test-only fault included). A generation this engine would not have made is refused: its
/// trace is not what the provider's node computed.
pub fn replay_generation(
	model: &Model,
	prompt: &[u32],
	tokens: &[u32],
	sampling: Sampling,
) -> Result<Trace> {
	let max_new = u32::try_from(tokens.len())
		.map_err(|_| EngineError::InvalidInput("too many tokens".into()))?;
	check_request(model, prompt.len(), max_new, sampling)?;
	teacher_forced(model, prompt, tokens, |step, hidden| {
		let token = tokens[step as usize];
		let chosen = committed_choice(model, &logits(model, hidden)?, sampling, step);
		if chosen != token {
			return Err(EngineError::InvalidInput(format!(
				"step {step}: this engine chooses token {chosen}, not the committed {token}"
			)));
		}
		Ok(())
	})
}

/// Decodes `prompt` and every token of `tokens` but the last, traced, as generation does (the
/// prompt as one block, then a position per token), whatever this engine would have chosen:
/// `at_step(step, hidden)` sees the final hidden row each step's token was chosen from. The
/// trace is of [`traced_ids`]. A watcher checks a committed generation this way (every step
/// against the provider's own context), and a provider replays its own.
pub fn teacher_forced(
	model: &Model,
	prompt: &[u32],
	tokens: &[u32],
	mut at_step: impl FnMut(u32, &[f32]) -> Result<()> + Send,
) -> Result<Trace> {
	rayon::scope(|_| {
		if prompt.is_empty() || tokens.is_empty() {
			return Err(EngineError::InvalidInput("a generation without prompt or tokens".into()));
		}
		let positions = u32::try_from(prompt.len() + tokens.len() - 1)
			.map_err(|_| EngineError::InvalidInput("too many positions".into()))?;
		let mut decoder = Decoder::new(model, positions, Mode::Traced)?;
		let rows = decoder.run_block(prompt)?;
		let mut hidden = rows[rows.len() - rows.len() / prompt.len()..].to_vec();
		for (step, token) in tokens.iter().enumerate() {
			at_step(step as u32, &hidden)?;
			if step + 1 < tokens.len() {
				hidden = decoder.run_block(std::slice::from_ref(token))?;
			}
		}
		decoder.trace()
	})
}

/// The token `sampling` picks at generation step `step` from `logits`.
pub fn choose(logits: &[f32], sampling: Sampling, step: u32) -> u32 {
	// The runtime's own score, so a token-choice ruling reads what was chosen.
	let sampling = sampling.on_chain();
	let score = |t: usize| -> f64 { sampling.score(logits[t], step, t as u32) };
	let scores: Vec<f64> = (0..logits.len()).into_par_iter().map(score).collect();
	let mut best = 0usize;
	for (t, s) in scores.iter().enumerate() {
		if *s > scores[best] {
			best = t;
		}
	}
	best as u32
}

/// Generates up to `max_new_tokens` tokens after `prompt`, stopping after a token in `stop`.
/// Traced mode also returns the trace of the positions run ([`traced_ids`]).
pub fn generate(
	model: &Model,
	prompt: &[u32],
	max_new_tokens: u32,
	sampling: Sampling,
	stop: &[u32],
	mode: Mode,
) -> Result<Generation> {
	// The whole generation on one worker of rayon's pool (see `Decoder::step_block`).
	rayon::scope(|_| generate_on_worker(model, prompt, max_new_tokens, sampling, stop, mode))
}

fn generate_on_worker(
	model: &Model,
	prompt: &[u32],
	max_new_tokens: u32,
	sampling: Sampling,
	stop: &[u32],
	mode: Mode,
) -> Result<Generation> {
	// A batch of one: the same steps (the prompt as one block, then a position per token).
	generate_batch_on_worker(model, &[prompt.to_vec()], max_new_tokens, sampling, stop, mode)?
		.pop()
		.ok_or(EngineError::EmptyBatch)
}
