//! Canonical byte encodings of rows, Merkle leaves and the graph descriptor.
//!
//! A row is its f32 values as little-endian bytes, nothing else. Leaves carry a one-byte tag
//! (`W` for weights, `A` for activations) and the row's coordinates, so a leaf can never be
//! read as a different row or as a leaf of the other tree.

use alloc::vec::Vec;
use codec::Encode;

use crate::{ir::Graph, Hash};

/// Tag of a weight-row leaf.
pub const WEIGHT_LEAF_TAG: u8 = b'W';
/// Tag of an activation (trace) row leaf.
pub const ACTIVATION_LEAF_TAG: u8 = b'A';
/// Tag of the graph descriptor hash preimage.
pub const DESCRIPTOR_TAG: &[u8] = b"arbiter/graph/v1";
/// Tag of the model-root preimage.
pub const MODEL_ROOT_TAG: &[u8] = b"arbiter/model/v1";
/// Tag of the trace-root preimage.
pub const TRACE_ROOT_TAG: &[u8] = b"arbiter/trace/v1";

/// blake2-256.
pub fn hash(data: &[u8]) -> Hash {
	sp_crypto_hashing::blake2_256(data)
}

/// Canonical bytes of a row of f32 values: little-endian, no length prefix.
pub fn row_bytes(row: &[f32]) -> Vec<u8> {
	let mut out = Vec::with_capacity(row.len().saturating_mul(4));
	for v in row {
		out.extend_from_slice(&v.to_le_bytes());
	}
	out
}

/// Canonical bytes of a row given as f32 bit patterns.
pub fn row_bytes_of_bits(row: &[u32]) -> Vec<u8> {
	let mut out = Vec::with_capacity(row.len().saturating_mul(4));
	for v in row {
		out.extend_from_slice(&v.to_le_bytes());
	}
	out
}

/// Leaf data `tag ‖ id (u32 LE) ‖ row index (u32 LE) ‖ row bytes`; the Merkle tree hashes it
/// with its own leaf domain.
pub fn leaf_data(tag: u8, id: u32, row_index: u32, row_bits: &[u32]) -> Vec<u8> {
	let mut out = Vec::with_capacity(9usize.saturating_add(row_bits.len().saturating_mul(4)));
	out.push(tag);
	out.extend_from_slice(&id.to_le_bytes());
	out.extend_from_slice(&row_index.to_le_bytes());
	for v in row_bits {
		out.extend_from_slice(&v.to_le_bytes());
	}
	out
}

/// Canonical encoding of the graph descriptor: its SCALE encoding.
pub fn descriptor_bytes(graph: &Graph) -> Vec<u8> {
	graph.encode()
}

/// `descriptor_hash = blake2_256("arbiter/graph/v1" ‖ SCALE(graph))`.
pub fn descriptor_hash(graph: &Graph) -> Hash {
	let mut data = Vec::from(DESCRIPTOR_TAG);
	graph.encode_to(&mut data);
	hash(&data)
}

/// `model_root = blake2_256("arbiter/model/v1" ‖ weights_root ‖ descriptor_hash ‖ tokenizer_hash)`.
pub fn model_root_of(weights_root: &Hash, descriptor_hash: &Hash, tokenizer_hash: &Hash) -> Hash {
	let mut data = Vec::with_capacity(MODEL_ROOT_TAG.len() + 96);
	data.extend_from_slice(MODEL_ROOT_TAG);
	data.extend_from_slice(weights_root);
	data.extend_from_slice(descriptor_hash);
	data.extend_from_slice(tokenizer_hash);
	hash(&data)
}

/// `trace_root = blake2_256("arbiter/trace/v1" ‖ seq_len (u32 LE) ‖ trace_tree_root)`: the
/// committed trace is of the model's graph instantiated at `seq_len` tokens.
pub fn trace_root_of(seq_len: u32, trace_tree_root: &Hash) -> Hash {
	let mut data = Vec::with_capacity(TRACE_ROOT_TAG.len() + 36);
	data.extend_from_slice(TRACE_ROOT_TAG);
	data.extend_from_slice(&seq_len.to_le_bytes());
	data.extend_from_slice(trace_tree_root);
	hash(&data)
}

/// Bit patterns of a row of f32 values.
pub fn to_bits(row: &[f32]) -> Vec<u32> {
	row.iter().map(|v| v.to_bits()).collect()
}
