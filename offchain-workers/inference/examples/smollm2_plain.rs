//! A plain f32 forward pass of a LLaMA-style GGUF (SmolLM2-135M-Instruct) in candle, greedy, with
//! a KV cache: the arithmetic the verified decoder will trace (issue: verified text generation),
//! checked token for token against `scripts/reference/smollm2_transformers.py`. It also prefills
//! the whole generated sequence at once and reports whether each decoding step's logits equal
//! the prefill's bit for bit (with candle's kernels they do not: ~5e-5 apart; the trace must be
//! decoding's own rows, or the kernels must sum in one fixed order whatever the matrix sizes).
//!
//!   smollm2_plain --model FILE.gguf --ids 1,9690,198,... [--max-new-tokens N]
//!
//! Weights are dequantized to f32 (exact: `gguf_probe`); activations stay f32. RoPE rotates
//! adjacent pairs (GGUF's LLaMA layout: the conversion permuted Q and K rows for it).

use candle_core::{quantized::gguf_file, Device, Tensor, D};

fn arg(name: &str) -> Option<String> {
	let args: Vec<String> = std::env::args().collect();
	args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

struct Layer {
	attn_norm: Tensor,
	q: Tensor,
	k: Tensor,
	v: Tensor,
	o: Tensor,
	ffn_norm: Tensor,
	gate: Tensor,
	up: Tensor,
	down: Tensor,
}

struct Model {
	embed: Tensor,
	layers: Vec<Layer>,
	norm: Tensor,
	heads: usize,
	kv_heads: usize,
	head_dim: usize,
	eps: f64,
	rope_base: f32,
}

fn rms_norm(x: &Tensor, w: &Tensor, eps: f64) -> candle_core::Result<Tensor> {
	let mean_sq = x.sqr()?.mean_keepdim(D::Minus1)?;
	x.broadcast_div(&(mean_sq + eps)?.sqrt()?)?.broadcast_mul(w)
}

fn linear(x: &Tensor, w: &Tensor) -> candle_core::Result<Tensor> {
	x.matmul(&w.t()?)
}

impl Model {
	fn load(path: &str) -> candle_core::Result<Self> {
		let mut file = std::fs::File::open(path)?;
		let content = gguf_file::Content::read(&mut file)?;
		let mut get = |name: &str| -> candle_core::Result<Tensor> {
			content.tensor(&mut file, name, &Device::Cpu)?.dequantize(&Device::Cpu)
		};
		let embed = get("token_embd.weight")?;
		let norm = get("output_norm.weight")?;
		let md = |k: &str| content.metadata.get(k).cloned();
		let u = |k: &str| md(k).and_then(|v| v.to_u32().ok()).unwrap_or(0) as usize;
		let blocks = u("llama.block_count");
		let mut layers = Vec::new();
		for i in 0..blocks {
			let p = |s: &str| format!("blk.{i}.{s}.weight");
			layers.push(Layer {
				attn_norm: get(&p("attn_norm"))?,
				q: get(&p("attn_q"))?,
				k: get(&p("attn_k"))?,
				v: get(&p("attn_v"))?,
				o: get(&p("attn_output"))?,
				ffn_norm: get(&p("ffn_norm"))?,
				gate: get(&p("ffn_gate"))?,
				up: get(&p("ffn_up"))?,
				down: get(&p("ffn_down"))?,
			});
		}
		let heads = u("llama.attention.head_count");
		Ok(Self {
			embed,
			layers,
			norm,
			heads,
			kv_heads: u("llama.attention.head_count_kv"),
			head_dim: u("llama.embedding_length") / heads,
			eps: md("llama.attention.layer_norm_rms_epsilon")
				.and_then(|v| v.to_f32().ok())
				.unwrap_or(1e-5) as f64,
			rope_base: md("llama.rope.freq_base").and_then(|v| v.to_f32().ok()).unwrap_or(1e4),
		})
	}

	/// cos and sin for positions `start..start + len`, [len, head_dim / 2].
	fn rope_tables(&self, start: usize, len: usize) -> candle_core::Result<(Tensor, Tensor)> {
		let half = self.head_dim / 2;
		let mut cos = Vec::with_capacity(len * half);
		let mut sin = Vec::with_capacity(len * half);
		for pos in start..start + len {
			for i in 0..half {
				let theta =
					1.0 / (self.rope_base as f64).powf(2.0 * i as f64 / self.head_dim as f64);
				let angle = pos as f64 * theta;
				cos.push(angle.cos() as f32);
				sin.push(angle.sin() as f32);
			}
		}
		Ok((
			Tensor::from_vec(cos, (len, half), &Device::Cpu)?,
			Tensor::from_vec(sin, (len, half), &Device::Cpu)?,
		))
	}

	/// Logits of every position of `ids`, which follow the `cache`d positions; the cache grows
	/// by them (per layer: keys and values, [kv_heads, positions, head_dim]).
	fn forward(
		&self,
		ids: &[u32],
		cache: &mut Vec<(Tensor, Tensor)>,
	) -> candle_core::Result<Tensor> {
		let len = ids.len();
		let start = cache.first().map_or(0, |(k, _)| k.dim(1).unwrap_or(0));
		let total = start + len;
		let (cos, sin) = self.rope_tables(start, len)?;
		let ids_t = Tensor::new(ids, &Device::Cpu)?;
		let mut x = self.embed.index_select(&ids_t, 0)?; // [len, dim]
		let mask: Vec<f32> = (0..len)
			.flat_map(|i| {
				(0..total).map(move |j| if j <= start + i { 0.0 } else { f32::NEG_INFINITY })
			})
			.collect();
		let mask = Tensor::from_vec(mask, (len, total), &Device::Cpu)?;
		let (h, kvh, hd) = (self.heads, self.kv_heads, self.head_dim);
		for (i, l) in self.layers.iter().enumerate() {
			let n = rms_norm(&x, &l.attn_norm, self.eps)?;
			let q = linear(&n, &l.q)?.reshape((len, h, hd))?.transpose(0, 1)?.contiguous()?;
			let k = linear(&n, &l.k)?.reshape((len, kvh, hd))?.transpose(0, 1)?.contiguous()?;
			let v = linear(&n, &l.v)?.reshape((len, kvh, hd))?.transpose(0, 1)?.contiguous()?;
			let q = candle_nn::rotary_emb::rope_i(&q.unsqueeze(0)?, &cos, &sin)?.squeeze(0)?;
			let k = candle_nn::rotary_emb::rope_i(&k.unsqueeze(0)?, &cos, &sin)?.squeeze(0)?;
			let (k, v) = match cache.get(i) {
				Some((ck, cv)) => (Tensor::cat(&[ck, &k], 1)?, Tensor::cat(&[cv, &v], 1)?),
				None => (k, v),
			};
			if i < cache.len() {
				cache[i] = (k.clone(), v.clone());
			} else {
				cache.push((k.clone(), v.clone()));
			}
			let group = h / kvh;
			let mut outs = Vec::with_capacity(h);
			for head in 0..h {
				let qh = q.get(head)?;
				let kh = k.get(head / group)?.contiguous()?;
				let vh = v.get(head / group)?.contiguous()?;
				let scores = (qh.matmul(&kh.t()?)? * (1.0 / (hd as f64).sqrt()))?;
				let scores = scores.broadcast_add(&mask)?;
				let p = candle_nn::ops::softmax_last_dim(&scores)?;
				outs.push(p.matmul(&vh)?);
			}
			let attn = Tensor::cat(&outs, 1)?; // [len, h * hd]
			x = (x + linear(&attn, &l.o)?)?;
			let n = rms_norm(&x, &l.ffn_norm, self.eps)?;
			let gate = candle_nn::ops::silu(&linear(&n, &l.gate)?)?;
			let up = linear(&n, &l.up)?;
			x = (x + linear(&(gate * up)?, &l.down)?)?;
		}
		linear(&rms_norm(&x, &self.norm, self.eps)?, &self.embed)
	}
}

fn argmax(logits: &Tensor) -> candle_core::Result<u32> {
	logits.argmax(0)?.to_scalar::<u32>()
}

fn main() -> candle_core::Result<()> {
	let path = arg("--model").expect("--model FILE.gguf");
	let prompt: Vec<u32> = arg("--ids")
		.expect("--ids 1,2,3")
		.split(',')
		.map(|s| s.trim().parse().expect("an id"))
		.collect();
	let max_new: usize = arg("--max-new-tokens").map(|n| n.parse().expect("N")).unwrap_or(20);
	let model = Model::load(&path)?;
	// Decoding with a KV cache: the prompt at once, then one token a step.
	let start = std::time::Instant::now();
	let mut cache = Vec::new();
	let mut logits = model.forward(&prompt, &mut cache)?;
	let mut step_logits = vec![logits.get(prompt.len() - 1)?];
	let mut generated = Vec::new();
	for _ in 0..max_new {
		let next = argmax(step_logits.last().expect("logits"))?;
		generated.push(next);
		if next == 2 || generated.len() == max_new {
			break;
		}
		logits = model.forward(&[next], &mut cache)?;
		step_logits.push(logits.get(0)?);
	}
	let decode_s = start.elapsed().as_secs_f64();
	// The same tokens prefilled at once: do the logits equal decoding's, bit for bit?
	let all: Vec<u32> = prompt.iter().chain(&generated).copied().collect();
	let prefill = model.forward(&all[..all.len() - 1], &mut Vec::new())?;
	let (mut equal, mut max_diff) = (0usize, 0f32);
	for (s, decoded) in step_logits.iter().enumerate() {
		let a: Vec<f32> = decoded.to_vec1()?;
		let b: Vec<f32> = prefill.get(prompt.len() - 1 + s)?.to_vec1()?;
		if a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()) {
			equal += 1;
		}
		max_diff = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(max_diff, f32::max);
	}
	println!(
		"{}",
		serde_json::json!({
			"generated": generated,
			"decode_seconds": decode_s,
			"steps": step_logits.len(),
			"steps_bit_equal_to_prefill": equal,
			"max_logit_difference": max_diff,
		})
	);
	Ok(())
}
