//! Reading GGUF model files (issue: verified text generation): the tokenizer they carry, and the
//! check that their quantized weights dequantize to f32 exactly.
//!
//! **Tokenizer.** A `tokenizer.json` from the file's own vocabulary and merges. The GGUF holds a
//! GPT-2 byte-level BPE (`tokenizer.ggml.model = "gpt2"`) and names its pre-tokenizer
//! (`tokenizer.ggml.pre`); candle's GGUF tokenizer knows no `smollm` and falls back to plain GPT-2,
//! which does not split digits. This builds the Hugging Face tokenizer the model was trained with:
//! every digit its own piece, then GPT-2's byte-level split, then BPE; control and user-defined
//! tokens (`tokenizer.ggml.token_type` 3 and 4) are matched whole. The JSON is what the model's
//! commitments hash (`tokenizer_hash`), so it is built the same way byte for byte from the same
//! file.

use candle_core::{
	quantized::{
		gguf_file::{Content, Value},
		GgmlDType,
	},
	Device,
};
use serde_json::{json, Map};

use crate::error::{EngineError, Result};

/// Pre-tokenizers this builder knows, by `tokenizer.ggml.pre`.
const KNOWN_PRE: [&str; 1] = ["smollm"];

fn meta<'a>(content: &'a Content, key: &str) -> Result<&'a Value> {
	content
		.metadata
		.get(key)
		.ok_or_else(|| EngineError::InvalidInput(format!("the GGUF has no {key}")))
}

fn strings(content: &Content, key: &str) -> Result<Vec<String>> {
	let bad = |e: candle_core::Error| EngineError::InvalidInput(format!("{key}: {e}"));
	meta(content, key)?
		.to_vec()
		.map_err(bad)?
		.iter()
		.map(|v| v.to_string().cloned().map_err(bad))
		.collect()
}

/// The `tokenizer.json` of `content`'s tokenizer.
/// [`tokenizer_json`] of the GGUF file at `path`: the exact bytes a generation model's
/// `tokenizer_hash` commits, which clients tokenize with (`arbiter-infer tokenizer`).
pub fn tokenizer_json_of_file(path: &std::path::Path) -> Result<String> {
	let io = |e: std::io::Error| EngineError::InvalidInput(format!("{}: {e}", path.display()));
	let mut file = std::fs::File::open(path).map_err(io)?;
	let content = Content::read(&mut file)
		.map_err(|e| EngineError::InvalidInput(format!("{}: {e}", path.display())))?;
	tokenizer_json(&content)
}

pub fn tokenizer_json(content: &Content) -> Result<String> {
	let model = meta(content, "tokenizer.ggml.model")?.to_string().ok().cloned();
	if model.as_deref() != Some("gpt2") {
		return Err(EngineError::InvalidInput(format!(
			"tokenizer.ggml.model is {model:?}: only GPT-2 byte-level BPE is built"
		)));
	}
	let pre = meta(content, "tokenizer.ggml.pre")?
		.to_string()
		.ok()
		.cloned()
		.unwrap_or_default();
	if !KNOWN_PRE.contains(&pre.as_str()) {
		return Err(EngineError::InvalidInput(format!(
			"tokenizer.ggml.pre {pre:?} is not one of {KNOWN_PRE:?}"
		)));
	}
	let tokens = strings(content, "tokenizer.ggml.tokens")?;
	let merges = strings(content, "tokenizer.ggml.merges")?;
	let types: Vec<i32> = meta(content, "tokenizer.ggml.token_type")?
		.to_vec()
		.map_err(|e| EngineError::InvalidInput(format!("tokenizer.ggml.token_type: {e}")))?
		.iter()
		.map(|v| v.to_i32().unwrap_or(1))
		.collect();
	let mut vocab = Map::new();
	let mut added = Vec::new();
	for (id, token) in tokens.iter().enumerate() {
		vocab.insert(token.clone(), json!(id));
		// GGUF token types: 3 control, 4 user-defined.
		if matches!(types.get(id), Some(3 | 4)) {
			added.push(json!({
				"id": id, "content": token, "single_word": false, "lstrip": false,
				"rstrip": false, "normalized": false, "special": true,
			}));
		}
	}
	let merges: Vec<serde_json::Value> = merges
		.iter()
		.map(|m| match m.split_once(' ') {
			Some((a, b)) => Ok(json!([a, b])),
			None => Err(EngineError::InvalidInput(format!("a merge without a space: {m:?}"))),
		})
		.collect::<Result<_>>()?;
	let byte_level = json!({
		"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true,
	});
	let tokenizer = json!({
		"version": "1.0",
		"truncation": null,
		"padding": null,
		"added_tokens": added,
		"normalizer": null,
		"pre_tokenizer": {
			"type": "Sequence",
			"pretokenizers": [{ "type": "Digits", "individual_digits": true }, byte_level],
		},
		"post_processor": byte_level,
		"decoder": byte_level,
		"model": {
			"type": "BPE", "dropout": null, "unk_token": null,
			"continuing_subword_prefix": null, "end_of_word_suffix": null,
			"fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
			"vocab": vocab, "merges": merges,
		},
	});
	serde_json::to_string(&tokenizer).map_err(|e| EngineError::Internal(e.to_string()))
}

/// The IEEE half at `at` (little-endian), exactly, as f64.
fn f16_at(bytes: &[u8], at: usize) -> f64 {
	let bits = u16::from_le_bytes([bytes[at], bytes[at + 1]]);
	let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
	let exponent = ((bits >> 10) & 0x1f) as i32;
	let mantissa = (bits & 0x3ff) as f64;
	sign * match exponent {
		0 => mantissa * 2f64.powi(-24),
		31 if mantissa == 0.0 => f64::INFINITY,
		31 => f64::NAN,
		e => (1024.0 + mantissa) * 2f64.powi(e - 25),
	}
}

/// How many quantized values the file's Q4_1 and Q8_0 tensors hold, and how many of them
/// candle's f32 dequantization rounded: each is compared with its block's expression (`d·q + m`,
/// `d·q`) evaluated exactly in f64 from the raw fields. The runtime checks Linear ops against f32
/// weight rows, so these must be 0 for the committed rows to be the model's weights.
pub fn dequantization_roundings<R: std::io::Read + std::io::Seek>(
	content: &Content,
	reader: &mut R,
) -> Result<(u64, u64)> {
	let failed = |e: candle_core::Error| EngineError::InvalidInput(e.to_string());
	let (mut values, mut rounded) = (0u64, 0u64);
	let mut names: Vec<&String> = content.tensor_infos.keys().collect();
	names.sort();
	for name in names {
		let tensor = content.tensor(reader, name, &Device::Cpu).map_err(failed)?;
		let (block_bytes, per_block) = match tensor.dtype() {
			GgmlDType::Q4_1 => (20usize, 32usize),
			GgmlDType::Q8_0 => (34, 32),
			_ => continue,
		};
		let dequantized: Vec<f32> = tensor
			.dequantize(&Device::Cpu)
			.and_then(|t| t.flatten_all()?.to_vec1())
			.map_err(failed)?;
		let raw = tensor.data().map_err(failed)?;
		for (b, block) in raw.chunks_exact(block_bytes).enumerate() {
			let d = f16_at(block, 0);
			for j in 0..per_block {
				let exact = if tensor.dtype() == GgmlDType::Q4_1 {
					let byte = block[4 + j % 16];
					let q = if j < 16 { byte & 0x0F } else { byte >> 4 };
					d * q as f64 + f16_at(block, 2)
				} else {
					d * (block[2 + j] as i8) as f64
				};
				values += 1;
				if dequantized.get(b * per_block + j).map(|v| *v as f64) != Some(exact) {
					rounded += 1;
				}
			}
		}
	}
	Ok((values, rounded))
}
