//! Small generated models with random (seeded) weights, for fast tests and benchmarks: a tiny
//! BERT (the real MiniLM graph at toy sizes), a gated MLP that uses the ops BERT does not
//! (RmsNorm, SiLU, ReLU, Mul, unmasked Softmax), and a tiny LLaMA (the real decoder graph at toy
//! sizes: rotary embedding, causal grouped-query attention, SiLU gating).

use arbiter_primitives::builder::GraphBuilder;
use candle_core::Device;

use crate::{
	bert::{bert_graph, BertConfig, BERT_INPUT_PADS},
	error::Result,
	llama::{llama_graph, rope_tables, LlamaConfig, ROPE_COS, ROPE_SIN},
	model::{Model, ModelInput},
};

/// A deterministic RNG (xorshift64*), so generated models are the same everywhere.
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
	pub fn below(&mut self, n: u64) -> u64 {
		self.next_u64() % n.max(1)
	}
}

/// The tiny BERT's config: 2 layers, hidden 16, 2 heads, vocabulary 50.
pub fn tiny_bert_config() -> BertConfig {
	BertConfig {
		vocab_size: 50,
		hidden_size: 16,
		num_hidden_layers: 2,
		num_attention_heads: 2,
		intermediate_size: 32,
		max_position_embeddings: 64,
		type_vocab_size: 2,
		layer_norm_eps: 1e-12,
		hidden_act: "gelu".into(),
		position_embedding_type: "absolute".into(),
		model_type: "bert".into(),
	}
}

fn random_weights(graph: &arbiter_primitives::Graph, rng: &mut Rng) -> Vec<Vec<f32>> {
	graph
		.weights
		.iter()
		.map(|w| {
			let name = String::from_utf8_lossy(&w.name);
			let n = w.shape.numel() as usize;
			if name.contains("LayerNorm.weight") || name.ends_with("norm.g") {
				(0..n).map(|_| 1.0 + 0.1 * rng.uniform()).collect()
			} else {
				(0..n).map(|_| 0.3 * rng.uniform()).collect()
			}
		})
		.collect()
}

/// A tiny BERT with random weights; inputs from [`tiny_bert_input`].
pub fn tiny_bert(seed: u64, device: &Device) -> Result<Model> {
	let graph = bert_graph(&tiny_bert_config(), "");
	let weights = random_weights(&graph, &mut Rng(seed | 1));
	Model::from_parts(
		"tiny-bert",
		graph,
		weights,
		[1u8; 32],
		Some(BERT_INPUT_PADS.to_vec()),
		device,
	)
}

/// Random token ids (`[CLS]`-like 1 first) of length `seq` for the tiny BERT.
pub fn tiny_bert_ids(seed: u64, seq: u32) -> Vec<u32> {
	let mut rng = Rng(seed | 1);
	(0..seq).map(|i| if i == 0 { 1 } else { 2 + rng.below(48) as u32 }).collect()
}

/// The tiny BERT's inputs for [`tiny_bert_ids`].
pub fn tiny_bert_input(seed: u64, seq: u32) -> ModelInput {
	let ids = tiny_bert_ids(seed, seq);
	let tensors = bert_graph(&tiny_bert_config(), "")
		.instantiate(seq)
		.input_values(&ids)
		.expect("one value per token");
	ModelInput { seq_len: seq, tensors }
}

/// Rows of the gated MLP's activation table (its vocabulary).
pub const GATED_MLP_VOCABULARY: u32 = 16;

/// A gated MLP over `[SEQ, 8]` activations (the rows of a random table its token ids pick):
/// RmsNorm → (SiLU(gate) * ReLU(up)) → down → softmax (no mask) over the features. No pad
/// values: lengths run in separate batches.
pub fn gated_mlp(seed: u64, device: &Device) -> Result<Model> {
	let graph = gated_mlp_graph();
	let weights = random_weights(&graph, &mut Rng(seed | 1));
	Model::from_parts("gated-mlp", graph, weights, [2u8; 32], None, device)
}

fn gated_mlp_graph() -> arbiter_primitives::Graph {
	let mut g = GraphBuilder::new();
	let table = g.weight("activations", &[GATED_MLP_VOCABULARY, 8]);
	let norm = g.weight("norm.g", &[8]);
	let gate = g.weight("gate.w", &[16, 8]);
	let up = g.weight("up.w", &[16, 8]);
	let up_b = g.weight("up.b", &[16]);
	let down = g.weight("down.w", &[8, 16]);
	let ids = g.token_ids();
	let x = g.embedding(ids, table);
	let n = g.rms_norm(x, norm, 1e-6);
	let gt = g.linear(n, gate, None);
	let gs = g.silu(gt);
	let u = g.linear(n, up, Some(up_b));
	let ur = g.relu(u);
	let h = g.mul(gs, ur);
	let d = g.linear(h, down, None);
	let r = g.add(d, x);
	g.softmax(r, None);
	g.build()
}

/// Random token ids for the gated MLP, and its inputs for them.
pub fn gated_mlp_input(seed: u64, seq: u32) -> ModelInput {
	let mut rng = Rng(seed | 1);
	let ids: Vec<u32> = (0..seq).map(|_| rng.below(GATED_MLP_VOCABULARY as u64) as u32).collect();
	let tensors = gated_mlp_graph()
		.instantiate(seq)
		.input_values(&ids)
		.expect("one value per token");
	ModelInput { seq_len: seq, tensors }
}

/// The tiny LLaMA's config: 2 layers, width 32, 2 query heads over 1 K/V head of width 16,
/// feed-forward 64, vocabulary 40.
pub fn tiny_llama_config() -> LlamaConfig {
	LlamaConfig {
		vocab_size: 40,
		hidden_size: 32,
		num_layers: 2,
		num_heads: 2,
		num_kv_heads: 1,
		ffn_size: 64,
		rope_base: 10_000.0,
		rms_eps: 1e-5,
		context: 64,
		eos_token: None,
	}
}

/// Positions (longest input) of the tiny LLaMA.
pub const TINY_LLAMA_POSITIONS: u32 = 64;

/// A tiny LLaMA with random weights and true rotary tables; inputs from [`tiny_llama_input`].
/// Its one input, the token ids, is padded with id 0 in batches.
pub fn tiny_llama(seed: u64, device: &Device) -> Result<Model> {
	let config = tiny_llama_config();
	let graph = llama_graph(&config, TINY_LLAMA_POSITIONS);
	let mut weights = random_weights(&graph, &mut Rng(seed | 1));
	let (cos, sin) = rope_tables(&config, TINY_LLAMA_POSITIONS);
	for (w, values) in graph.weights.iter().zip(weights.iter_mut()) {
		match w.name.as_slice() {
			n if n == ROPE_COS.as_bytes() => *values = cos.clone(),
			n if n == ROPE_SIN.as_bytes() => *values = sin.clone(),
			n if n.ends_with(b"norm.weight") => values.iter_mut().for_each(|v| *v += 1.0),
			_ => {},
		}
	}
	Model::from_parts("tiny-llama", graph, weights, [3u8; 32], Some(vec![0.0]), device)
}

/// Random token ids of length `seq` for the tiny LLaMA, and its inputs for them.
pub fn tiny_llama_input(seed: u64, seq: u32) -> ModelInput {
	let mut rng = Rng(seed | 1);
	let ids: Vec<u32> = (0..seq).map(|_| rng.below(40) as u32).collect();
	let tensors = llama_graph(&tiny_llama_config(), TINY_LLAMA_POSITIONS)
		.instantiate(seq)
		.input_values(&ids)
		.expect("one value per token");
	ModelInput { seq_len: seq, tensors }
}
