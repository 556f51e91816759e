//! LLaMA-style decoders from GGUF files (SmolLM2-135M-Instruct): the IR template, the rotary
//! tables and the weights, as `bert.rs` does for BERT.
//!
//! The graph takes the task's token ids and ends at the final RMSNorm: one normalized hidden
//! row per position. The LM head (the tied token embedding) is not a node: a token choice is
//! checked from the final hidden row and two embedding rows (docs/protocol.md, "Generation"),
//! so no 49,152-wide logits row is ever committed.
//!
//! Per layer, in IR ops (docs/inference.md, "Decoder graph"):
//! `h = RmsNorm(x)`; Q, K, V = Linear(h), heads split by Reshape and Transpose; `Rope` on Q and
//! K (committed cos/sin tables, adjacent pairs as GGUF's LLaMA layout has them); `CausalScores`
//! (grouped K heads, scale 1/√head_dim, a power of two for head_dim 64); `CausalSoftmax`;
//! `GroupedMatMul` with V transposed; heads merged; output Linear; residual; `h = RmsNorm(x)`;
//! `Silu(Linear_gate(h)) * Linear_up(h)`; down Linear; residual.

use std::path::Path;

use arbiter_primitives::{builder::GraphBuilder, ir::SEQ_DIM, Graph};
use candle_core::{
	quantized::{gguf_file::Content, GgmlDType},
	Device,
};

use crate::{
	cpu::{linear_q4::Q8Rows, PackedQ4},
	error::{EngineError, Result},
	gguf,
	model::{CompactWeights, Model},
};

/// Weight names of the rotary tables (not in the GGUF: computed from its RoPE base and
/// committed with the other weights).
pub const ROPE_COS: &str = "rope.cos";
pub const ROPE_SIN: &str = "rope.sin";

/// Positions the rotary tables cover by default: the longest task (prompt and generated
/// tokens) a provider of the model runs. SmolLM2's context is 8192; 2048 keeps the tables at
/// 512 KiB and a dispute's widest row (a score or V row) at 2048 values.
pub const DEFAULT_POSITIONS: u32 = 2048;

/// What the graph needs of a LLaMA GGUF's metadata.
#[derive(Clone, Debug, PartialEq)]
pub struct LlamaConfig {
	pub vocab_size: u32,
	pub hidden_size: u32,
	pub num_layers: u32,
	pub num_heads: u32,
	pub num_kv_heads: u32,
	pub ffn_size: u32,
	pub rope_base: f32,
	pub rms_eps: f32,
	/// The model's trained context (`llama.context_length`).
	pub context: u32,
	/// The token that ends a generation (`tokenizer.ggml.eos_token_id`; `<|im_end|>` for
	/// SmolLM2-Instruct).
	pub eos_token: Option<u32>,
}

fn meta_u32(content: &Content, key: &str) -> Result<u32> {
	let value = content
		.metadata
		.get(key)
		.ok_or_else(|| EngineError::InvalidInput(format!("the GGUF has no {key}")))?;
	value.to_u32().map_err(|e| EngineError::InvalidInput(format!("{key}: {e}")))
}

fn meta_f32(content: &Content, key: &str) -> Result<f32> {
	let value = content
		.metadata
		.get(key)
		.ok_or_else(|| EngineError::InvalidInput(format!("the GGUF has no {key}")))?;
	value.to_f32().map_err(|e| EngineError::InvalidInput(format!("{key}: {e}")))
}

impl LlamaConfig {
	/// Reads the config of a `general.architecture = "llama"` file.
	pub fn from_gguf(content: &Content) -> Result<Self> {
		let arch = content.metadata.get("general.architecture").and_then(|v| v.to_string().ok());
		if arch.map(|s| s.as_str()) != Some("llama") {
			return Err(EngineError::InvalidInput(format!(
				"general.architecture is {arch:?}: only llama decoders are built"
			)));
		}
		let vocab_size = content
			.tensor_infos
			.get("token_embd.weight")
			.and_then(|t| t.shape.dims().first().copied())
			.ok_or_else(|| EngineError::InvalidInput("the GGUF has no token_embd.weight".into()))?;
		let config = Self {
			vocab_size: vocab_size as u32,
			hidden_size: meta_u32(content, "llama.embedding_length")?,
			num_layers: meta_u32(content, "llama.block_count")?,
			num_heads: meta_u32(content, "llama.attention.head_count")?,
			num_kv_heads: meta_u32(content, "llama.attention.head_count_kv")?,
			ffn_size: meta_u32(content, "llama.feed_forward_length")?,
			rope_base: meta_f32(content, "llama.rope.freq_base")?,
			rms_eps: meta_f32(content, "llama.attention.layer_norm_rms_epsilon")?,
			context: meta_u32(content, "llama.context_length")?,
			eos_token: meta_u32(content, "tokenizer.ggml.eos_token_id").ok(),
		};
		config.check()?;
		Ok(config)
	}

	/// Reads the config from a GGUF file's header.
	pub fn from_gguf_file(path: &Path) -> Result<Self> {
		let io = |e: std::io::Error| EngineError::InvalidInput(format!("{}: {e}", path.display()));
		let mut file = std::fs::File::open(path).map_err(io)?;
		let content = Content::read(&mut file)
			.map_err(|e| EngineError::InvalidInput(format!("{}: {e}", path.display())))?;
		Self::from_gguf(&content)
	}

	/// Width of one attention head.
	pub fn head_dim(&self) -> u32 {
		self.hidden_size / self.num_heads.max(1)
	}

	/// Query heads per K/V head.
	pub fn group(&self) -> u32 {
		self.num_heads / self.num_kv_heads.max(1)
	}

	/// `1/√head_dim`, which the IR requires to be an exact power of two.
	pub fn score_scale(&self) -> f32 {
		1.0 / (self.head_dim() as f32).sqrt()
	}

	fn check(&self) -> Result<()> {
		let bad = |what: &str| Err(EngineError::InvalidInput(format!("llama config: {what}")));
		if self.num_heads == 0 || self.num_kv_heads == 0 || self.num_layers == 0 {
			return bad("no heads or no layers");
		}
		if !self.hidden_size.is_multiple_of(self.num_heads) ||
			!self.num_heads.is_multiple_of(self.num_kv_heads)
		{
			return bad("heads do not divide the width, or K/V heads the heads");
		}
		if !self.head_dim().is_multiple_of(2) {
			return bad("odd head width (rotary pairs)");
		}
		if !arbiter_primitives::ir::is_power_of_two(self.score_scale()) ||
			self.score_scale() * self.score_scale() * self.head_dim() as f32 != 1.0
		{
			return bad("1/√head_dim is not a power of two (the score scale must be exact)");
		}
		if !(self.rope_base.is_finite() && self.rope_base > 1.0) {
			return bad("RoPE base");
		}
		if !(self.rms_eps.is_finite() && self.rms_eps > 0.0) {
			return bad("RMSNorm epsilon");
		}
		Ok(())
	}
}

/// One user message in SmolLM2's chat template (ChatML with the model's default system prompt,
/// as the GGUF's `tokenizer.chat_template` renders it), the assistant's turn opened.
pub fn chat_prompt(user: &str) -> String {
	format!(
		"<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging \
		 Face<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"
	)
}

/// The rotary tables for `positions` positions: `cos[p, i]`, `sin[p, i]` of the angle
/// `p · base^(−2i/head_dim)`, evaluated in f64 and rounded once to f32. Whatever they hold is
/// what the model root commits and every check reads; these are the correctly rounded values.
pub fn rope_tables(config: &LlamaConfig, positions: u32) -> (Vec<f32>, Vec<f32>) {
	let half = (config.head_dim() / 2) as usize;
	let d = config.head_dim() as f64;
	let base = config.rope_base as f64;
	let inv_freq: Vec<f64> = (0..half).map(|i| base.powf(-(2.0 * i as f64) / d)).collect();
	let angles = (0..positions as usize)
		.flat_map(|p| inv_freq.iter().map(move |f| p as f64 * f))
		.collect::<Vec<f64>>();
	(
		angles.iter().map(|a| a.cos() as f32).collect(),
		angles.iter().map(|a| a.sin() as f32).collect(),
	)
}

/// The decoder's IR template over `positions` rotary positions (its longest input).
pub fn llama_graph(config: &LlamaConfig, positions: u32) -> Graph {
	let (hidden, heads, kv_heads) = (config.hidden_size, config.num_heads, config.num_kv_heads);
	let head_dim = config.head_dim();
	let kv_width = kv_heads * head_dim;
	let (group, eps, scale) = (config.group(), config.rms_eps, config.score_scale());
	let mut g = GraphBuilder::new();
	let embed = g.weight("token_embd.weight", &[config.vocab_size, hidden]);
	let cos = g.weight(ROPE_COS, &[positions, head_dim / 2]);
	let sin = g.weight(ROPE_SIN, &[positions, head_dim / 2]);
	let ids = g.token_ids();
	let mut x = g.embedding(ids, embed);
	for layer in 0..config.num_layers {
		let name = |s: &str| format!("blk.{layer}.{s}.weight");
		let attn_norm = g.weight(&name("attn_norm"), &[hidden]);
		let wq = g.weight(&name("attn_q"), &[hidden, hidden]);
		let wk = g.weight(&name("attn_k"), &[kv_width, hidden]);
		let wv = g.weight(&name("attn_v"), &[kv_width, hidden]);
		let wo = g.weight(&name("attn_output"), &[hidden, hidden]);
		let ffn_norm = g.weight(&name("ffn_norm"), &[hidden]);
		let gate = g.weight(&name("ffn_gate"), &[config.ffn_size, hidden]);
		let up = g.weight(&name("ffn_up"), &[config.ffn_size, hidden]);
		let down = g.weight(&name("ffn_down"), &[hidden, config.ffn_size]);

		let h = g.rms_norm(x, attn_norm, eps);
		// [S, n·d] → [n, S, d]: one row per head and position.
		let heads_first = |g: &mut GraphBuilder, t, n: u32| {
			let split = g.reshape(t, &[SEQ_DIM, n, head_dim]);
			g.transpose(split, 0, 1)
		};
		let q = g.linear(h, wq, None);
		let q = heads_first(&mut g, q, heads);
		let q = g.rope(q, cos, sin);
		let k = g.linear(h, wk, None);
		let k = heads_first(&mut g, k, kv_heads);
		let k = g.rope(k, cos, sin);
		let v = g.linear(h, wv, None);
		let v = heads_first(&mut g, v, kv_heads);
		// [G, d, S]: a context element reads one V row.
		let v_t = g.transpose(v, 1, 2);
		let scores = g.causal_scores(q, k, group, scale);
		let probs = g.causal_softmax(scores);
		let context = g.grouped_matmul(probs, v_t, group);
		let context = g.transpose(context, 0, 1);
		let context = g.reshape(context, &[SEQ_DIM, hidden]);
		let attn = g.linear(context, wo, None);
		x = g.add(x, attn);

		let h = g.rms_norm(x, ffn_norm, eps);
		let gate = g.linear(h, gate, None);
		let gate = g.silu(gate);
		let up = g.linear(h, up, None);
		let gated = g.mul(gate, up);
		let down = g.linear(gated, down, None);
		x = g.add(x, down);
	}
	let output_norm = g.weight("output_norm.weight", &[hidden]);
	g.rms_norm(x, output_norm, eps);
	g.build()
}

/// Loads a LLaMA GGUF as a model of `positions` positions: its graph, its weights dequantized
/// to f32 (exact for Q4_1 and Q8_0: [`gguf::dequantization_roundings`]), the rotary tables, and
/// the tokenizer built from the file ([`gguf::tokenizer_json`]), whose JSON bytes the model
/// root commits.
pub fn load_gguf(path: &Path, positions: u32, device: &Device) -> Result<Model> {
	let io = |e: std::io::Error| EngineError::InvalidInput(format!("{}: {e}", path.display()));
	let mut file = std::fs::File::open(path).map_err(io)?;
	let bad = |e: candle_core::Error| EngineError::InvalidInput(format!("{}: {e}", path.display()));
	let content = Content::read(&mut file).map_err(bad)?;
	let config = LlamaConfig::from_gguf(&content)?;
	if positions == 0 || positions > config.context {
		return Err(EngineError::InvalidInput(format!(
			"{positions} positions: the model's context is 1 to {}",
			config.context
		)));
	}
	let template = llama_graph(&config, positions);
	let (cos, sin) = rope_tables(&config, positions);
	// The 4-bit kernel runs on the CPU's vector paths unless f32 weights are asked for; the
	// weights it runs are then kept only as blocks (`CompactWeights`), one tensor's f32 values
	// at a time in memory while loading.
	let compact_form = device.is_cpu() && std::env::var_os(F32_WEIGHTS_ENV).is_none();
	let mut weights = Vec::with_capacity(template.weights.len());
	let mut compact = CompactWeights::default();
	for (index, w) in template.weights.iter().enumerate() {
		let name = String::from_utf8_lossy(&w.name).to_string();
		compact.linear.push(None);
		let values = match name.as_str() {
			ROPE_COS => cos.clone(),
			ROPE_SIN => sin.clone(),
			_ => {
				let tensor = content.tensor(&mut file, &name, &Device::Cpu).map_err(bad)?;
				let (n, k) = (w.shape.rows() as usize, w.shape.width() as usize);
				if tensor.shape().elem_count() as u64 != w.shape.numel() {
					return Err(EngineError::InvalidInput(format!(
						"{name}: {} values, the graph expects {:?}",
						tensor.shape().elem_count(),
						w.shape.dims()
					)));
				}
				// Kept as blocks, the committed values are the blocks' exact dequantization
				// (`PackedQ4::dequantized_row`, `Q8Rows::dequantized_row`): candle's bits
				// (`tests/cli.rs`: the model root with `ARBITER_F32_WEIGHTS` is the same), never
				// all in f32 at once.
				// A linear layer's Q4_1 blocks, for the 4-bit kernel where it runs.
				if compact_form &&
					tensor.dtype() == GgmlDType::Q4_1 &&
					w.shape.rank() == 2 &&
					PackedQ4::supported()
				{
					if let Some(packed) = PackedQ4::from_q4_1(&tensor.data().map_err(bad)?, n, k) {
						compact.linear[index] = Some(packed);
						weights.push(Vec::new());
						continue;
					}
				}
				// The token embedding in 8 bits, for the logits (the tied LM head).
				if compact_form && tensor.dtype() == GgmlDType::Q8_0 && name == "token_embd.weight"
				{
					if let Some(q8) = Q8Rows::from_q8_0(&tensor.data().map_err(bad)?, n, k) {
						compact.embedding = Some((index as u32, q8));
						weights.push(Vec::new());
						continue;
					}
				}
				tensor
					.dequantize(&Device::Cpu)
					.and_then(|t| t.flatten_all()?.to_vec1())
					.map_err(bad)?
			},
		};
		weights.push(values);
	}
	let tokenizer_json = gguf::tokenizer_json(&content)?;
	let name = path
		.file_stem()
		.map(|n| n.to_string_lossy().to_string())
		.unwrap_or_else(|| "llama".into());
	Model::from_text_parts(
		&name,
		template,
		weights,
		tokenizer_json.as_bytes(),
		positions,
		device,
		compact,
	)
}

/// Set to run the decoder's linear layers on f32 weights even where the 4-bit kernel runs
/// (benchmarks and the test that both give the same trace).
pub const F32_WEIGHTS_ENV: &str = "ARBITER_F32_WEIGHTS";
