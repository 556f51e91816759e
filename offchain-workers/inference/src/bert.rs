//! BERT sentence encoders (all-MiniLM-L6-v2 and its family) as IR graph templates:
//! embeddings → N × (self-attention, feed-forward, post-LayerNorm) → masked mean pooling → L2
//! normalisation, exactly sentence-transformers' `Transformer → Pooling(mean) → Normalize`.
//!
//! The sequence dimension is symbolic ([`SEQ_DIM`]): one registered graph serves every input
//! length, and each trace is of the graph at its input's token count.

use std::path::Path;

use arbiter_primitives::{builder::GraphBuilder, ir::SEQ_DIM, Graph, NodeId};
use serde::Deserialize;

use crate::error::{EngineError, Result};

/// The fields of a Hugging Face `config.json` that the graph depends on.
#[derive(Clone, Debug, Deserialize)]
pub struct BertConfig {
	pub vocab_size: u32,
	pub hidden_size: u32,
	pub num_hidden_layers: u32,
	pub num_attention_heads: u32,
	pub intermediate_size: u32,
	pub max_position_embeddings: u32,
	pub type_vocab_size: u32,
	pub layer_norm_eps: f64,
	#[serde(default = "default_act")]
	pub hidden_act: String,
	#[serde(default = "default_position")]
	pub position_embedding_type: String,
	#[serde(default)]
	pub model_type: String,
}

fn default_act() -> String {
	"gelu".into()
}
fn default_position() -> String {
	"absolute".into()
}

impl BertConfig {
	/// Reads and checks `config.json`.
	pub fn from_file(path: &Path) -> Result<Self> {
		let bad = |reason: String| EngineError::BadConfig { path: path.to_path_buf(), reason };
		let text = std::fs::read_to_string(path).map_err(|e| crate::error::io_err(path, e))?;
		let config: BertConfig = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
		if !config.model_type.is_empty() && config.model_type != "bert" {
			return Err(EngineError::Unsupported(format!(
				"model_type {:?} (only \"bert\")",
				config.model_type
			)));
		}
		if config.hidden_act != "gelu" {
			return Err(EngineError::Unsupported(format!(
				"hidden_act {:?} (only \"gelu\", erf form)",
				config.hidden_act
			)));
		}
		if config.position_embedding_type != "absolute" {
			return Err(EngineError::Unsupported(format!(
				"position_embedding_type {:?}",
				config.position_embedding_type
			)));
		}
		let dims = [
			config.vocab_size,
			config.hidden_size,
			config.num_hidden_layers,
			config.num_attention_heads,
		];
		if dims.contains(&0) ||
			config.intermediate_size == 0 ||
			config.max_position_embeddings == 0 ||
			config.type_vocab_size == 0
		{
			return Err(bad("a size is zero".into()));
		}
		if !config.hidden_size.is_multiple_of(config.num_attention_heads) {
			return Err(bad("hidden_size is not a multiple of num_attention_heads".into()));
		}
		if !(config.layer_norm_eps > 0.0 && config.layer_norm_eps.is_finite()) {
			return Err(bad("layer_norm_eps must be positive".into()));
		}
		Ok(config)
	}

	/// Width of one attention head.
	pub fn head_dim(&self) -> u32 {
		self.hidden_size / self.num_attention_heads
	}
}

/// The model inputs of a BERT template, in node order (nodes 0..5): token ids, position ids,
/// token-type ids (0), the additive attention mask (0) and the pooling mask (1), each
/// `[1, SEQ]` and each derived from the task's token ids ([`arbiter_primitives::InputKind`]):
/// one sequence, no padding, so nothing is masked.
pub const BERT_INPUTS: usize = 5;
/// Value a padded position takes in each input when sequences of different lengths share a
/// batch: padded keys are masked out of attention (exp underflows to exactly 0) and out of
/// pooling, so the rows of the real tokens are those of the unpadded graph.
pub const BERT_INPUT_PADS: [f32; BERT_INPUTS] = [0.0, 0.0, 0.0, -1.0e9, 0.0];

/// Builds the graph template; `prefix` is prepended to every weight name (`""` or `"bert."`).
pub fn bert_graph(config: &BertConfig, prefix: &str) -> Graph {
	let (h, ffn, heads, hd) = (
		config.hidden_size,
		config.intermediate_size,
		config.num_attention_heads,
		config.head_dim(),
	);
	let eps = config.layer_norm_eps as f32;
	let mut g = GraphBuilder::new();
	let name = |s: &str| format!("{prefix}{s}");
	let word = g.weight(&name("embeddings.word_embeddings.weight"), &[config.vocab_size, h]);
	let position = g.weight(
		&name("embeddings.position_embeddings.weight"),
		&[config.max_position_embeddings, h],
	);
	let token_type =
		g.weight(&name("embeddings.token_type_embeddings.weight"), &[config.type_vocab_size, h]);
	let emb_ln_g = g.weight(&name("embeddings.LayerNorm.weight"), &[h]);
	let emb_ln_b = g.weight(&name("embeddings.LayerNorm.bias"), &[h]);

	let ids = g.token_ids();
	let positions = g.positions();
	let types = g.constant_row(0.0);
	let attention_mask = g.constant_row(0.0);
	let pooling_mask = g.constant_row(1.0);

	let e_word = g.embedding(ids, word);
	let e_pos = g.embedding(positions, position);
	let e_type = g.embedding(types, token_type);
	let e_sum = g.add(e_word, e_pos);
	let e_sum = g.add(e_sum, e_type);
	let mut x: NodeId = g.layer_norm(e_sum, emb_ln_g, emb_ln_b, eps);

	for l in 0..config.num_hidden_layers {
		let w = |g: &mut GraphBuilder, s: &str, dims: &[u32]| {
			g.weight(&name(&format!("encoder.layer.{l}.{s}")), dims)
		};
		let q_w = w(&mut g, "attention.self.query.weight", &[h, h]);
		let q_b = w(&mut g, "attention.self.query.bias", &[h]);
		let k_w = w(&mut g, "attention.self.key.weight", &[h, h]);
		let k_b = w(&mut g, "attention.self.key.bias", &[h]);
		let v_w = w(&mut g, "attention.self.value.weight", &[h, h]);
		let v_b = w(&mut g, "attention.self.value.bias", &[h]);
		let o_w = w(&mut g, "attention.output.dense.weight", &[h, h]);
		let o_b = w(&mut g, "attention.output.dense.bias", &[h]);
		let ln1_g = w(&mut g, "attention.output.LayerNorm.weight", &[h]);
		let ln1_b = w(&mut g, "attention.output.LayerNorm.bias", &[h]);
		let up_w = w(&mut g, "intermediate.dense.weight", &[ffn, h]);
		let up_b = w(&mut g, "intermediate.dense.bias", &[ffn]);
		let down_w = w(&mut g, "output.dense.weight", &[h, ffn]);
		let down_b = w(&mut g, "output.dense.bias", &[h]);
		let ln2_g = w(&mut g, "output.LayerNorm.weight", &[h]);
		let ln2_b = w(&mut g, "output.LayerNorm.bias", &[h]);

		// Self-attention: heads split as [heads, SEQ, head_dim].
		let q = g.linear(x, q_w, Some(q_b));
		let k = g.linear(x, k_w, Some(k_b));
		let v = g.linear(x, v_w, Some(v_b));
		let heads_of = |g: &mut GraphBuilder, t: NodeId| {
			let r = g.reshape(t, &[SEQ_DIM, heads, hd]);
			g.transpose(r, 0, 1)
		};
		let (qh, kh, vh) = (heads_of(&mut g, q), heads_of(&mut g, k), heads_of(&mut g, v));
		let scores = g.matmul(qh, kh);
		let scaled = g.scale(scores, 1.0 / (hd as f32).sqrt());
		let probs = g.softmax(scaled, Some(attention_mask));
		let v_t = g.transpose(vh, 1, 2);
		let context = g.matmul(probs, v_t);
		let context = g.transpose(context, 0, 1);
		let context = g.reshape(context, &[SEQ_DIM, h]);
		let attended = g.linear(context, o_w, Some(o_b));
		let residual = g.add(attended, x);
		let x1 = g.layer_norm(residual, ln1_g, ln1_b, eps);

		// Feed-forward.
		let up = g.linear(x1, up_w, Some(up_b));
		let act = g.gelu(up);
		let down = g.linear(act, down_w, Some(down_b));
		let residual = g.add(down, x1);
		x = g.layer_norm(residual, ln2_g, ln2_b, eps);
	}

	// Mean over the real tokens, then unit length (sentence-transformers' Pooling + Normalize).
	let by_feature = g.transpose(x, 0, 1);
	let pooled = g.mean_pool(by_feature, pooling_mask);
	// torch.nn.functional.normalize's eps.
	g.l2_normalize(pooled, 1e-12);
	g.build()
}
