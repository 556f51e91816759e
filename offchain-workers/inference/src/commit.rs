//! The trace tree, fast: the same leaves and tree as `arbiter_primitives::commitment` (tested
//! equal), with the leaf and inner hashes computed on every core and eight at a time
//! ([`crate::blake2b_x8`], AVX-512) or four (`blake2b_simd::many`, AVX2). A trace is ~20× the activations a plain run keeps, so hashing it is
//! most of what tracing costs.

use arbiter_primitives::{
	commitment::CommitError,
	encoding::{trace_root_of, ACTIVATION_LEAF_TAG},
	merkle::{MerkleTree, INNER_DOMAIN, LEAF_DOMAIN},
	Graph, Hash,
};
use blake2b_simd::{many::HashManyJob, Params};
use rayon::prelude::*;

/// Leaves hashed per parallel task.
const LEAVES_PER_TASK: usize = 256;

fn params() -> Params {
	let mut p = Params::new();
	p.hash_length(32);
	p
}

/// BLAKE2b-256 of each `stride`-byte message of `buf`: eight at a time with AVX-512 where the
/// CPU has it, the rest four at a time (`blake2b_simd`).
fn hash_all(buf: &[u8], stride: usize) -> Vec<Hash> {
	let messages: Vec<&[u8]> = buf.chunks_exact(stride.max(1)).collect();
	let mut out = Vec::with_capacity(messages.len());
	let mut done = 0;
	if crate::blake2b_x8::supported() {
		while done + 8 <= messages.len() {
			let Some(hashes) = buf.get(done * stride..).and_then(|rest| crate::blake2b_x8::hash8(rest, stride, stride)) else { break };
			out.extend(hashes);
			done += 8;
		}
	}
	let params = params();
	let rest = messages.get(done..).unwrap_or_default();
	let mut jobs: Vec<HashManyJob> = rest.iter().map(|i| HashManyJob::new(&params, i)).collect();
	blake2b_simd::many::hash_many(jobs.iter_mut());
	out.extend(jobs.iter().map(|j| {
		let mut h = [0u8; 32];
		h.copy_from_slice(j.to_hash().as_bytes());
		h
	}));
	out
}

/// Appends the little-endian bytes of `values` (one copy on little-endian hosts).
fn extend_le_bytes(buf: &mut Vec<u8>, values: &[f32]) {
	#[cfg(target_endian = "little")]
	{
		// SAFETY: f32 has no padding and any alignment of u8 is valid; on a little-endian host
		// its in-memory bytes are its little-endian encoding.
		let bytes = unsafe { std::slice::from_raw_parts(values.as_ptr() as *const u8, std::mem::size_of_val(values)) };
		buf.extend_from_slice(bytes);
	}
	#[cfg(not(target_endian = "little"))]
	for v in values {
		buf.extend_from_slice(&v.to_le_bytes());
	}
}

/// Leaf hashes of rows `rows` of node `node` (row width `width`) of `data`.
fn leaf_hashes(node: u32, width: usize, first_row: usize, data: &[f32]) -> Vec<Hash> {
	let stride = 10 + width * 4;
	let mut buf = Vec::with_capacity(data.len() / width.max(1) * stride);
	for (r, row) in data.chunks_exact(width.max(1)).enumerate() {
		buf.push(LEAF_DOMAIN);
		buf.push(ACTIVATION_LEAF_TAG);
		buf.extend_from_slice(&node.to_le_bytes());
		buf.extend_from_slice(&((first_row + r) as u32).to_le_bytes());
		extend_le_bytes(&mut buf, row);
	}
	hash_all(&buf, stride)
}

fn inner_level(pairs: &[Hash]) -> Vec<Hash> {
	pairs
		.par_chunks(2 * LEAVES_PER_TASK)
		.flat_map_iter(|chunk| {
			let mut buf = Vec::with_capacity(chunk.len() / 2 * 65);
			for p in chunk.chunks_exact(2) {
				buf.push(INNER_DOMAIN);
				buf.extend_from_slice(&p[0]);
				buf.extend_from_slice(&p[1]);
			}
			hash_all(&buf, 65)
		})
		.collect()
}

/// Whether every value is finite. Without an early exit, so the compiler vectorises it (a
/// short-circuiting `any` ran one value at a time: 7 % of a traced batch).
fn all_finite(values: &[f32]) -> bool {
	values.chunks(4096).all(|chunk| chunk.iter().fold(true, |ok, v| ok & v.is_finite()))
}

/// The trace tree of `outputs` for the instantiated `graph` (one row-major tensor per node).
pub fn trace_tree(graph: &Graph, outputs: &[Vec<f32>]) -> Result<MerkleTree, CommitError> {
	if outputs.len() != graph.nodes.len() {
		return Err(CommitError::TensorCount { expected: graph.nodes.len(), found: outputs.len() });
	}
	// (node, width, first row, row count) tasks of at most LEAVES_PER_TASK rows.
	let mut tasks = Vec::new();
	for (index, (node, data)) in graph.nodes.iter().zip(outputs).enumerate() {
		let (rows, width) = (node.shape.rows(), node.shape.width() as usize);
		let expected = rows.saturating_mul(width as u64);
		if data.len() as u64 != expected {
			return Err(CommitError::TensorLength { index, expected, found: data.len() });
		}
		let mut first = 0usize;
		while first < rows as usize {
			let count = LEAVES_PER_TASK.min(rows as usize - first);
			tasks.push((index, width, first, count));
			first += count;
		}
	}
	let chunks: Vec<Result<Vec<Hash>, CommitError>> = tasks
		.par_iter()
		.map(|(index, width, first, count)| {
			let data = &outputs[*index][first * width..(first + count) * width];
			if !all_finite(data) {
				return Err(CommitError::NonFinite { index: *index });
			}
			Ok(leaf_hashes(*index as u32, *width, *first, data))
		})
		.collect();
	let mut leaves = Vec::new();
	for c in chunks {
		leaves.extend(c?);
	}
	Ok(MerkleTree::from_leaf_hashes_with(leaves, inner_level))
}

/// The trace tree and `trace_root` of a trace of `template` at `seq_len`.
pub fn trace_commitment(template: &Graph, seq_len: u32, outputs: &[Vec<f32>]) -> Result<(MerkleTree, Hash), CommitError> {
	let tree = trace_tree(&template.instantiate(seq_len), outputs)?;
	let root = trace_root_of(seq_len, &tree.root());
	Ok((tree, root))
}
