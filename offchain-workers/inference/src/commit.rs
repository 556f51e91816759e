//! The trace tree, fast: the same leaves and tree as `arbiter_primitives::commitment` (tested
//! equal), with the leaf and inner hashes computed on every core and eight at a time, read in
//! place ([`crate::blake2b_x8`], AVX-512), or else four at a time from a copy with the headers
//! (`blake2b_simd::many`, AVX2). A trace is ~20× the activations a plain run keeps, so hashing
//! it is most of what tracing costs (`examples/bench_commit.rs` measures it alone).

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

/// BLAKE2b-256 of each `stride`-byte message of `buf`, four at a time (`blake2b_simd`, AVX2):
/// the path for CPUs without AVX-512.
fn hash_all(buf: &[u8], stride: usize) -> Vec<Hash> {
	let params = params();
	let mut jobs: Vec<HashManyJob> =
		buf.chunks_exact(stride.max(1)).map(|m| HashManyJob::new(&params, m)).collect();
	blake2b_simd::many::hash_many(jobs.iter_mut());
	jobs.iter()
		.map(|j| {
			let mut h = [0u8; 32];
			h.copy_from_slice(j.to_hash().as_bytes());
			h
		})
		.collect()
}

/// The bytes of `values`: their little-endian encoding on a little-endian host.
#[cfg(target_endian = "little")]
fn as_le_bytes(values: &[f32]) -> &[u8] {
	// SAFETY: f32 has no padding and any alignment of u8 is valid; on a little-endian host its
	// in-memory bytes are its little-endian encoding.
	unsafe {
		std::slice::from_raw_parts(values.as_ptr() as *const u8, std::mem::size_of_val(values))
	}
}

/// The little-endian bytes of `values`: borrowed on a little-endian host, else a copy.
pub fn le_bytes(values: &[f32]) -> std::borrow::Cow<'_, [u8]> {
	#[cfg(target_endian = "little")]
	return std::borrow::Cow::Borrowed(as_le_bytes(values));
	#[cfg(not(target_endian = "little"))]
	std::borrow::Cow::Owned(values.iter().flat_map(|v| v.to_le_bytes()).collect())
}

/// Whether messages are hashed eight at a time in place ([`crate::blake2b_x8::hash8_prefixed`]).
fn eight_way() -> bool {
	cfg!(target_endian = "little") && crate::blake2b_x8::supported()
}

/// Hashes of the messages `prefix(i) ‖ bodies[i]` (all prefixes of one length, all bodies of
/// one length), eight at a time; the last eight filled up with copies of the last message,
/// whose extra hashes are dropped.
fn hash_prefixed<P: AsRef<[u8]>>(prefix: impl Fn(usize) -> P, bodies: &[&[u8]]) -> Vec<Hash> {
	let mut out = Vec::with_capacity(bodies.len());
	for (g, group) in bodies.chunks(8).enumerate() {
		// Lanes past the group's end repeat its last message.
		let lane_of = |lane: usize| lane.min(group.len() - 1);
		let prefixes: [P; 8] = core::array::from_fn(|lane| prefix(g * 8 + lane_of(lane)));
		let pre: [&[u8]; 8] = core::array::from_fn(|lane| prefixes[lane].as_ref());
		let body: [&[u8]; 8] = core::array::from_fn(|lane| group[lane_of(lane)]);
		match crate::blake2b_x8::hash8_prefixed(&pre, &body) {
			Some(hashes) => out.extend(hashes.into_iter().take(group.len())),
			None => out.extend(
				pre.iter()
					.zip(body)
					.take(group.len())
					.map(|(p, b)| arbiter_primitives::encoding::hash(&[*p, b].concat())),
			),
		}
	}
	out
}

/// Leaf hashes of the rows of node `node` (row width `width`) in `data`, the first being row
/// `first_row`: the leaves a trace tree has for them.
pub fn leaf_hashes(node: u32, width: usize, first_row: usize, data: &[f32]) -> Vec<Hash> {
	let rows: Vec<&[f32]> = data.chunks_exact(width.max(1)).collect();
	row_leaf_hashes(node, first_row, &rows)
}

/// Leaf hashes of rows `first_row..` of node `node`, each row (all of one width) read where it
/// lies: in a batch's output, an item's rows need not be copied out first.
pub fn row_leaf_hashes(node: u32, first_row: usize, rows: &[&[f32]]) -> Vec<Hash> {
	let header = |r: usize| {
		let mut h = [0u8; 10];
		h[0] = LEAF_DOMAIN;
		h[1] = ACTIVATION_LEAF_TAG;
		h[2..6].copy_from_slice(&node.to_le_bytes());
		h[6..10].copy_from_slice(&((first_row + r) as u32).to_le_bytes());
		h
	};
	#[cfg(target_endian = "little")]
	if eight_way() {
		let bodies: Vec<&[u8]> = rows.iter().map(|r| as_le_bytes(r)).collect();
		return hash_prefixed(header, &bodies);
	}
	let stride = 10 + rows.first().map_or(0, |r| r.len()) * 4;
	let mut buf = Vec::with_capacity(rows.len() * stride);
	for (r, row) in rows.iter().enumerate() {
		buf.extend_from_slice(&header(r));
		buf.extend_from_slice(&le_bytes(row));
	}
	hash_all(&buf, stride)
}

/// Inner hashes of a level's nodes two by two (an even count), on every core.
fn inner_level(pairs: &[Hash]) -> Vec<Hash> {
	pairs
		.par_chunks(2 * LEAVES_PER_TASK)
		.flat_map_iter(|chunk| {
			if eight_way() {
				let bodies: Vec<&[u8]> = chunk.chunks_exact(2).map(|p| p.as_flattened()).collect();
				return hash_prefixed(|_| [INNER_DOMAIN], &bodies);
			}
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

/// The tree over `leaves` (leaf hashes in leaf order), inner nodes hashed on every core.
pub fn tree_of_leaves(leaves: Vec<Hash>) -> MerkleTree {
	MerkleTree::from_leaf_hashes_with(leaves, inner_level)
}

/// Whether every value is finite. Without an early exit, so the compiler vectorises it (a
/// short-circuiting `any` ran one value at a time: 7 % of a traced batch).
pub fn all_finite(values: &[f32]) -> bool {
	values
		.chunks(4096)
		.all(|chunk| chunk.iter().fold(true, |ok, v| ok & v.is_finite()))
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
			let data = outputs
				.get(*index)
				.and_then(|o| o.get(first * width..(first + count) * width))
				.unwrap_or_default();
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
	Ok(tree_of_leaves(leaves))
}

/// The trace tree and `trace_root` of a trace of `template` at `seq_len`.
pub fn trace_commitment(
	template: &Graph,
	seq_len: u32,
	outputs: &[Vec<f32>],
) -> Result<(MerkleTree, Hash), CommitError> {
	let tree = trace_tree(&template.instantiate(seq_len), outputs)?;
	let root = trace_root_of(seq_len, &tree.root());
	Ok((tree, root))
}
