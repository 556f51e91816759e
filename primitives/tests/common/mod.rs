//! Test helpers: a plain f32 executor for the IR (forward summation order, the way a simple
//! CPU kernel computes), generated models, and a deterministic RNG.
#![allow(dead_code)]

use arbiter_primitives::{
	builder::GraphBuilder,
	ir::{f32_of, Graph, InputKind, Op},
};

/// A small deterministic RNG (xorshift64*), so tests need no extra crates and repeat exactly.
pub struct Rng(pub u64);

impl Rng {
	pub fn next_u64(&mut self) -> u64 {
		self.0 ^= self.0 >> 12;
		self.0 ^= self.0 << 25;
		self.0 ^= self.0 >> 27;
		self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
	}
	/// Uniform in [-1, 1).
	pub fn uniform(&mut self) -> f32 {
		((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
	}
	pub fn vec(&mut self, n: usize, scale: f32) -> Vec<f32> {
		(0..n).map(|_| self.uniform() * scale).collect()
	}
	pub fn below(&mut self, n: u64) -> u64 {
		self.next_u64() % n.max(1)
	}
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
	a.iter().zip(b).fold(0.0f32, |acc, (x, y)| acc + x * y)
}

/// Runs `graph` on `inputs` (one tensor per `Input` node, in order) in plain f32.
pub fn run(graph: &Graph, weights: &[Vec<f32>], inputs: &[Vec<f32>]) -> Vec<Vec<f32>> {
	run_with_fault(graph, weights, inputs, None)
}

/// [`run`], with node `fault`'s output shifted (0.25 to 1.75 added to every element, cycling)
/// before the nodes after it read it: the trace a provider who computed one node wrong and
/// everything else right commits.
pub fn run_with_fault(
	graph: &Graph,
	weights: &[Vec<f32>],
	inputs: &[Vec<f32>],
	fault: Option<u32>,
) -> Vec<Vec<f32>> {
	let mut outs: Vec<Vec<f32>> = Vec::new();
	let mut next_input = inputs.iter();
	for node in &graph.nodes {
		let w = node.shape.width() as usize;
		let rows = node.shape.rows() as usize;
		let x = |k: usize| -> &Vec<f32> { &outs[node.inputs[k] as usize] };
		let x_width = |k: usize| graph.nodes[node.inputs[k] as usize].shape.width() as usize;
		let out: Vec<f32> = match &node.op {
			Op::Input { .. } => next_input.next().expect("an input per Input node").clone(),
			Op::Embedding { table } => {
				let t = &weights[*table as usize];
				x(0).iter()
					.flat_map(|id| t[*id as usize * w..(*id as usize + 1) * w].to_vec())
					.collect()
			},
			Op::Linear { weight, bias } => {
				let wt = &weights[*weight as usize];
				let k = x_width(0);
				let mut out = Vec::with_capacity(rows * w);
				for r in 0..rows {
					let xr = &x(0)[r * k..(r + 1) * k];
					for c in 0..w {
						let mut v = dot(xr, &wt[c * k..(c + 1) * k]);
						if let Some(b) = bias {
							v += weights[*b as usize][c];
						}
						out.push(v);
					}
				}
				out
			},
			Op::MatMul => {
				let dims = node.shape.dims();
				let m = dims[dims.len() - 2] as usize;
				let k = x_width(0);
				let b_shape = &graph.nodes[node.inputs[1] as usize].shape;
				let n_b = b_shape.dims()[b_shape.rank() - 2] as usize;
				let mut out = Vec::with_capacity(rows * w);
				for r in 0..rows {
					let batch = r / m;
					let ar = &x(0)[r * k..(r + 1) * k];
					for j in 0..w {
						let br = (batch * n_b + j) * k;
						out.push(dot(ar, &x(1)[br..br + k]));
					}
				}
				out
			},
			Op::Add | Op::Mul => {
				let (a, b) = (x(0), x(1));
				(0..rows * w)
					.map(|i| {
						let bv = if b.len() == a.len() { b[i] } else { b[i % w] };
						if node.op == Op::Add {
							a[i] + bv
						} else {
							a[i] * bv
						}
					})
					.collect()
			},
			Op::Scale { factor_bits } => x(0).iter().map(|v| v * f32_of(*factor_bits)).collect(),
			Op::LayerNorm { gamma, beta, eps_bits } => {
				let (g, b, eps) =
					(&weights[*gamma as usize], &weights[*beta as usize], f32_of(*eps_bits));
				x(0).chunks(w)
					.flat_map(|row| {
						let mean = row.iter().sum::<f32>() / w as f32;
						let var =
							row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / w as f32;
						let s = 1.0 / (var + eps).sqrt();
						row.iter()
							.enumerate()
							.map(move |(c, v)| (v - mean) * s * g[c] + b[c])
							.collect::<Vec<_>>()
					})
					.collect()
			},
			Op::RmsNorm { gamma, eps_bits } => {
				let (g, eps) = (&weights[*gamma as usize], f32_of(*eps_bits));
				x(0).chunks(w)
					.flat_map(|row| {
						let ms = row.iter().map(|v| v * v).sum::<f32>() / w as f32;
						let s = 1.0 / (ms + eps).sqrt();
						row.iter().enumerate().map(move |(c, v)| v * s * g[c]).collect::<Vec<_>>()
					})
					.collect()
			},
			Op::Softmax => {
				let mask = if node.inputs.len() == 2 { Some(x(1).clone()) } else { None };
				x(0).chunks(w)
					.enumerate()
					.flat_map(|(r, row)| {
						let a: Vec<f32> = row
							.iter()
							.enumerate()
							.map(|(c, v)| match &mask {
								Some(m) if m.len() == w => v + m[c],
								Some(m) => v + m[r * w + c],
								None => *v,
							})
							.collect();
						let max = a.iter().copied().fold(f32::MIN, f32::max);
						let e: Vec<f32> = a.iter().map(|v| (v - max).exp()).collect();
						let s: f32 = e.iter().sum();
						e.into_iter().map(|v| v / s).collect::<Vec<_>>()
					})
					.collect()
			},
			Op::Gelu => x(0)
				.iter()
				.map(|v| 0.5 * v * (1.0 + libm::erff(v / std::f32::consts::SQRT_2)))
				.collect(),
			Op::Silu => x(0).iter().map(|v| v / (1.0 + (-v).exp())).collect(),
			Op::Relu => x(0).iter().map(|v| v.max(0.0)).collect(),
			Op::Transpose { dim0, dim1 } => {
				let in_dims: Vec<usize> = graph.nodes[node.inputs[0] as usize]
					.shape
					.dims()
					.iter()
					.map(|d| *d as usize)
					.collect();
				let out_dims: Vec<usize> = node.shape.dims().iter().map(|d| *d as usize).collect();
				let total: usize = out_dims.iter().product();
				(0..total)
					.map(|flat| {
						let mut idx = vec![0usize; out_dims.len()];
						let mut rest = flat;
						for k in (0..out_dims.len()).rev() {
							idx[k] = rest % out_dims[k];
							rest /= out_dims[k];
						}
						idx.swap(*dim0 as usize, *dim1 as usize);
						let src = idx.iter().zip(&in_dims).fold(0, |acc, (i, d)| acc * d + i);
						x(0)[src]
					})
					.collect()
			},
			Op::Reshape => x(0).clone(),
			Op::MeanPool => {
				let mask = x(1);
				let k = x_width(0);
				let count = mask.iter().sum::<f32>().max(1e-9);
				x(0).chunks(k).map(|row| dot(row, mask) / count).collect()
			},
			Op::L2Normalize { eps_bits } => {
				let eps = f32_of(*eps_bits);
				x(0).chunks(w)
					.flat_map(|row| {
						let n = row.iter().map(|v| v * v).sum::<f32>().sqrt().max(eps);
						row.iter().map(move |v| v / n).collect::<Vec<_>>()
					})
					.collect()
			},
			Op::Rope { cos, sin } => {
				let (cos, sin) = (&weights[*cos as usize], &weights[*sin as usize]);
				let seq = seq_len(node);
				x(0).chunks(w)
					.enumerate()
					.flat_map(|(r, row)| {
						let p = (r % seq) * (w / 2);
						(0..w).map(move |c| {
							let (a, b) = (row[c & !1], row[c | 1]);
							let (cs, sn) = (cos[p + c / 2], sin[p + c / 2]);
							if c % 2 == 0 {
								a * cs - b * sn
							} else {
								a * sn + b * cs
							}
						})
					})
					.collect()
			},
			Op::CausalScores { group, scale_bits } => {
				let seq = seq_len(node);
				let d = x_width(0);
				let mut out = Vec::with_capacity(rows * w);
				for r in 0..rows {
					let (head, i) = (r / seq, r % seq);
					let kv = head / *group as usize;
					for j in 0..w {
						out.push(if j <= i {
							let k = &x(1)[(kv * seq + j) * d..(kv * seq + j + 1) * d];
							dot(&x(0)[r * d..(r + 1) * d], k) * f32_of(*scale_bits)
						} else {
							0.0
						});
					}
				}
				out
			},
			Op::CausalSoftmax => {
				let seq = seq_len(node);
				x(0).chunks(w)
					.enumerate()
					.flat_map(|(r, row)| {
						let i = r % seq;
						let max = row[..=i].iter().copied().fold(f32::MIN, f32::max);
						let e: Vec<f32> = row[..=i].iter().map(|v| (v - max).exp()).collect();
						let s: f32 = e.iter().sum();
						(0..w).map(move |c| if c <= i { e[c] / s } else { 0.0 })
					})
					.collect()
			},
			Op::GroupedMatMul { group } => {
				let m = seq_len(node);
				let k = x_width(0);
				let b_shape = &graph.nodes[node.inputs[1] as usize].shape;
				let n_b = b_shape.dims()[1] as usize;
				let mut out = Vec::with_capacity(rows * w);
				for r in 0..rows {
					let kv = r / m / *group as usize;
					for j in 0..w {
						let br = (kv * n_b + j) * k;
						out.push(dot(&x(0)[r * k..(r + 1) * k], &x(1)[br..br + k]));
					}
				}
				out
			},
		};
		assert_eq!(out.len(), rows * w, "node output size");
		let out = if fault == Some(outs.len() as u32) {
			out.iter().enumerate().map(|(i, v)| v + 0.25 * (1 + i % 7) as f32).collect()
		} else {
			out
		};
		outs.push(out);
	}
	outs
}

/// The length of a node's sequence dimension (the one before its rows).
fn seq_len(node: &arbiter_primitives::Node) -> usize {
	let dims = node.shape.dims();
	dims[dims.len() - 2] as usize
}

/// A tiny LLaMA-style decoder block: token embedding, RMSNorm, rotary Q/K over committed
/// tables, causal grouped-query attention (`heads` query heads over `kv_heads` K/V heads, head
/// dimension 4 so the score scale 1/√4 is a power of two), output projection, SiLU-gated
/// feed-forward, residuals and a final RMSNorm. `seq_dim` is `SEQ_DIM` for a template or
/// `seq`. Returns the graph, its weights (random, seeded; the rotary tables are true cosines
/// and sines for base 10000 over `positions` positions) and inputs `[ids]` for `seq` tokens.
pub fn tiny_decoder(
	seed: u64,
	seq_dim: u32,
	seq: u32,
	heads: u32,
	kv_heads: u32,
	positions: u32,
) -> (Graph, Vec<Vec<f32>>, Vec<Vec<f32>>) {
	let (head_dim, vocab) = (4u32, 13u32);
	let (hidden, kv_width, ffn) = (heads * head_dim, kv_heads * head_dim, 3 * heads * head_dim);
	let group = heads / kv_heads;
	let mut rng = Rng(seed | 1);
	let mut g = GraphBuilder::new();
	let w_emb = g.weight("emb", &[vocab, hidden]);
	let w_attn_norm = g.weight("attn_norm.g", &[hidden]);
	let w_q = g.weight("q.w", &[hidden, hidden]);
	let w_k = g.weight("k.w", &[kv_width, hidden]);
	let w_v = g.weight("v.w", &[kv_width, hidden]);
	let w_o = g.weight("o.w", &[hidden, hidden]);
	let w_ffn_norm = g.weight("ffn_norm.g", &[hidden]);
	let w_gate = g.weight("gate.w", &[ffn, hidden]);
	let w_up = g.weight("up.w", &[ffn, hidden]);
	let w_down = g.weight("down.w", &[hidden, ffn]);
	let w_out_norm = g.weight("out_norm.g", &[hidden]);
	let w_cos = g.weight("rope.cos", &[positions, head_dim / 2]);
	let w_sin = g.weight("rope.sin", &[positions, head_dim / 2]);

	let ids = g.input(InputKind::TokenIds, &[1, seq_dim]);
	let x = g.embedding(ids, w_emb);
	let h = g.rms_norm(x, w_attn_norm, 1e-5);
	let split = |g: &mut GraphBuilder, t, n: u32| {
		let r = g.reshape(t, &[seq_dim, n, head_dim]);
		g.transpose(r, 0, 1)
	};
	let q = g.linear(h, w_q, None);
	let q = split(&mut g, q, heads);
	let q = g.rope(q, w_cos, w_sin);
	let k = g.linear(h, w_k, None);
	let k = split(&mut g, k, kv_heads);
	let k = g.rope(k, w_cos, w_sin);
	let v = g.linear(h, w_v, None);
	let v = split(&mut g, v, kv_heads);
	let v_t = g.transpose(v, 1, 2);
	let scores = g.causal_scores(q, k, group, 0.5);
	let probs = g.causal_softmax(scores);
	let ctx = g.grouped_matmul(probs, v_t, group);
	let ctx = g.transpose(ctx, 0, 1);
	let ctx = g.reshape(ctx, &[seq_dim, hidden]);
	let attn = g.linear(ctx, w_o, None);
	let x = g.add(x, attn);
	let h = g.rms_norm(x, w_ffn_norm, 1e-5);
	let gate = g.linear(h, w_gate, None);
	let gate = g.silu(gate);
	let up = g.linear(h, w_up, None);
	let gated = g.mul(gate, up);
	let down = g.linear(gated, w_down, None);
	let x = g.add(x, down);
	g.rms_norm(x, w_out_norm, 1e-5);
	let graph = g.build();

	let half = (head_dim / 2) as usize;
	let angle = |p: usize, i: usize| p as f64 * 10000f64.powf(-(2.0 * i as f64) / head_dim as f64);
	let weights: Vec<Vec<f32>> = graph
		.weights
		.iter()
		.map(|w| {
			let name = String::from_utf8_lossy(&w.name).to_string();
			let n = w.shape.numel() as usize;
			match name.as_str() {
				"rope.cos" => (0..n).map(|k| angle(k / half, k % half).cos() as f32).collect(),
				"rope.sin" => (0..n).map(|k| angle(k / half, k % half).sin() as f32).collect(),
				_ if name.ends_with(".g") => (0..n).map(|_| 1.0 + 0.1 * rng.uniform()).collect(),
				_ => rng.vec(n, 0.7),
			}
		})
		.collect();
	let ids: Vec<u32> = (0..seq).map(|_| rng.below(vocab as u64) as u32).collect();
	let inputs = graph.instantiate(seq).input_values(&ids).expect("inputs fit the ids");
	(graph, weights, inputs)
}

/// A tiny encoder exercising every op: embeddings, layer norm, one attention head pair,
/// a GELU MLP, a gated SiLU/ReLU branch with RmsNorm, mean pooling and L2 normalisation.
/// Returns the graph, its weights (random, seeded) and inputs `[ids, mask]`.
pub fn tiny_encoder(
	seed: u64,
	seq: u32,
	hidden: u32,
	heads: u32,
	vocab: u32,
) -> (Graph, Vec<Vec<f32>>, Vec<Vec<f32>>) {
	encoder(seed, seq, seq, hidden, heads, vocab)
}

/// [`tiny_encoder`] as a template: the sequence dimension is symbolic (`SEQ_DIM`); the weights
/// and inputs are for `seq` tokens (instantiate the graph at `seq` to run it).
pub fn tiny_encoder_template(
	seed: u64,
	seq: u32,
	hidden: u32,
	heads: u32,
	vocab: u32,
) -> (Graph, Vec<Vec<f32>>, Vec<Vec<f32>>) {
	encoder(seed, arbiter_primitives::ir::SEQ_DIM, seq, hidden, heads, vocab)
}

fn encoder(
	seed: u64,
	seq_dim: u32,
	seq: u32,
	hidden: u32,
	heads: u32,
	vocab: u32,
) -> (Graph, Vec<Vec<f32>>, Vec<Vec<f32>>) {
	let mut rng = Rng(seed | 1);
	let head_dim = hidden / heads;
	let ffn = hidden * 2;
	let mut g = GraphBuilder::new();
	let w_emb = g.weight("emb", &[vocab, hidden]);
	let w_ln_g = g.weight("ln.g", &[hidden]);
	let w_ln_b = g.weight("ln.b", &[hidden]);
	let w_q = g.weight("q.w", &[hidden, hidden]);
	let w_qb = g.weight("q.b", &[hidden]);
	let w_k = g.weight("k.w", &[hidden, hidden]);
	let w_v = g.weight("v.w", &[hidden, hidden]);
	let w_up = g.weight("up.w", &[ffn, hidden]);
	let w_upb = g.weight("up.b", &[ffn]);
	let w_down = g.weight("down.w", &[hidden, ffn]);
	let w_gate = g.weight("gate.w", &[hidden, hidden]);
	let w_rms = g.weight("rms.g", &[hidden]);

	let ids = g.input(InputKind::TokenIds, &[1, seq_dim]);
	let mask_add = g.input(InputKind::Constant { value_bits: 0f32.to_bits() }, &[1, seq_dim]);
	let mask_keep = g.input(InputKind::Constant { value_bits: 1f32.to_bits() }, &[1, seq_dim]);
	let emb = g.embedding(ids, w_emb);
	let h = g.layer_norm(emb, w_ln_g, w_ln_b, 1e-12);
	let q = g.linear(h, w_q, Some(w_qb));
	let k = g.linear(h, w_k, None);
	let v = g.linear(h, w_v, None);
	let split = |g: &mut GraphBuilder, t| {
		let r = g.reshape(t, &[seq_dim, heads, head_dim]);
		g.transpose(r, 0, 1)
	};
	let (qh, kh, vh) = (split(&mut g, q), split(&mut g, k), split(&mut g, v));
	let scores = g.matmul(qh, kh);
	let scaled = g.scale(scores, 1.0 / (head_dim as f32).sqrt());
	let probs = g.softmax(scaled, Some(mask_add));
	let vt = g.transpose(vh, 1, 2);
	let ctx = g.matmul(probs, vt);
	let ctx_t = g.transpose(ctx, 0, 1);
	let ctx_flat = g.reshape(ctx_t, &[seq_dim, hidden]);
	let res = g.add(ctx_flat, h);
	let up = g.linear(res, w_up, Some(w_upb));
	let act = g.gelu(up);
	let down = g.linear(act, w_down, None);
	let gate = g.linear(down, w_gate, None);
	let gate_act = g.silu(gate);
	let relu = g.relu(down);
	let gated = g.mul(gate_act, relu);
	let normed = g.rms_norm(gated, w_rms, 1e-6);
	let out = g.add(normed, res);
	let out_t = g.transpose(out, 0, 1);
	let pooled = g.mean_pool(out_t, mask_keep);
	let _emb = g.l2_normalize(pooled, 1e-12);
	let graph = g.build();

	let weights: Vec<Vec<f32>> = graph
		.weights
		.iter()
		.map(|w| {
			let name = String::from_utf8_lossy(&w.name).to_string();
			let n = w.shape.numel() as usize;
			if name.ends_with(".g") {
				(0..n).map(|_| 1.0 + 0.1 * rng.uniform()).collect()
			} else {
				rng.vec(n, 0.5)
			}
		})
		.collect();
	// Every input is what the task's ids give (nothing else can be committed).
	let ids: Vec<u32> = (0..seq).map(|_| rng.below(vocab as u64) as u32).collect();
	let inputs = graph.instantiate(seq).input_values(&ids).expect("inputs fit the ids");
	(graph, weights, inputs)
}

/// The task's token ids behind inputs made by [`tiny_encoder`] (its first input).
pub fn task_ids(inputs: &[Vec<f32>]) -> Vec<u32> {
	inputs[0].iter().map(|v| *v as u32).collect()
}
