//! Text → token ids with the model's `tokenizer.json` (the `tokenizers` crate). Padding is
//! off (the engine pads batches itself) and truncation is set explicitly, whatever the file
//! says: all-MiniLM-L6-v2's file asks for 128 tokens padded, sentence-transformers uses 256.

use std::path::Path;

use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use crate::error::{EngineError, Result};

/// A tokenizer with fixed truncation and no padding.
pub struct TextTokenizer {
	inner: Tokenizer,
	max_tokens: usize,
}

impl TextTokenizer {
	/// Parses `tokenizer.json` bytes; `max_tokens` includes the special tokens.
	pub fn from_bytes(bytes: &[u8], path: &Path, max_tokens: usize) -> Result<Self> {
		let err = |reason: String| EngineError::Tokenizer { path: path.to_path_buf(), reason };
		let mut inner = Tokenizer::from_bytes(bytes).map_err(|e| err(e.to_string()))?;
		inner.with_padding(None);
		inner
			.with_truncation(Some(TruncationParams {
				max_length: max_tokens,
				strategy: TruncationStrategy::LongestFirst,
				stride: 0,
				direction: TruncationDirection::Right,
			}))
			.map_err(|e| err(e.to_string()))?;
		Ok(Self { inner, max_tokens })
	}

	/// Token ids of `text`, with the special tokens (`[CLS] … [SEP]` for BERT).
	pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
		let encoding = self.inner.encode(text, true).map_err(|e| EngineError::Tokenizer {
			path: "tokenizer.json".into(),
			reason: e.to_string(),
		})?;
		let ids = encoding.get_ids().to_vec();
		if ids.is_empty() {
			return Err(EngineError::EmptyText);
		}
		Ok(ids)
	}

	/// The text of token ids, special tokens included (a chat's `<|im_end|>` shows).
	pub fn decode(&self, ids: &[u32]) -> Result<String> {
		self.inner.decode(ids, false).map_err(|e| EngineError::Tokenizer {
			path: "tokenizer.json".into(),
			reason: e.to_string(),
		})
	}

	/// Longest sequence in tokens.
	pub fn max_tokens(&self) -> usize {
		self.max_tokens
	}
}
