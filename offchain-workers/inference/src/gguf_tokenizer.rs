//! A `tokenizer.json` from a GGUF file's own vocabulary and merges (issue: verified text
//! generation). The GGUF holds a GPT-2 byte-level BPE (`tokenizer.ggml.model = "gpt2"`) and names
//! its pre-tokenizer (`tokenizer.ggml.pre`); candle's GGUF tokenizer knows no `smollm` and falls
//! back to plain GPT-2, which does not split digits. This builds the Hugging Face tokenizer the
//! model was trained with: every digit its own piece, then GPT-2's byte-level split, then BPE;
//! control and user-defined tokens (`tokenizer.ggml.token_type` 3 and 4) are matched whole.
//! The JSON is what the model's commitments hash (`tokenizer_hash`), so it is built the same way
//! byte for byte from the same file.

use candle_core::quantized::gguf_file::{Content, Value};
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
