//! Binary Merkle tree over leaves, blake2-256, with domain-separated leaf and inner hashing.
//!
//! - leaf hash: `H(0x00 ‖ leaf data)`; inner hash: `H(0x01 ‖ left ‖ right)`.
//! - A level with an odd number of nodes promotes its last node unchanged to the next level (no
//!   duplication, so no second preimage by repeating a leaf).
//! - A proof opens a contiguous range of leaves `[start, start + count)` with the sibling hashes
//!   needed to rebuild the root, level by level (left sibling before right). A single leaf is a
//!   range of one; adjacent rows share one proof.
//! - Verification takes the leaf count: the positions, and so the shape of the tree, are fixed by
//!   the graph, so a leaf can only be opened at the one position it was committed at.

use alloc::vec::Vec;
use codec::{Decode, DecodeWithMemTracking, Encode};
use scale_info::TypeInfo;

use crate::{encoding::hash, Hash};

/// First byte of a leaf hash's preimage.
pub const LEAF_DOMAIN: u8 = 0x00;
/// First byte of an inner node hash's preimage.
pub const INNER_DOMAIN: u8 = 0x01;
/// Most levels a tree over `u32` leaves can have; bounds proof length.
pub const MAX_DEPTH: usize = 33;

/// Hash of a leaf's data.
pub fn leaf_hash(data: &[u8]) -> Hash {
	let mut buf = Vec::with_capacity(data.len().saturating_add(1));
	buf.push(LEAF_DOMAIN);
	buf.extend_from_slice(data);
	hash(&buf)
}

/// Hash of two children.
pub fn inner_hash(left: &Hash, right: &Hash) -> Hash {
	let mut buf = [0u8; 65];
	buf[0] = INNER_DOMAIN;
	buf[1..33].copy_from_slice(left);
	buf[33..65].copy_from_slice(right);
	hash(&buf)
}

/// Root of a tree with no leaves.
pub fn empty_root() -> Hash {
	hash(b"arbiter/merkle/empty")
}

/// A proof for a contiguous range of leaves.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo)]
pub struct RangeProof {
	/// Sibling hashes, bottom level first; within a level the left sibling comes first.
	pub siblings: Vec<Hash>,
}

/// Why a proof did not verify.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo)]
pub enum ProofError {
	/// The range is empty or lies outside the tree.
	BadRange,
	/// The number of leaf hashes given differs from the range length.
	LeafCountMismatch,
	/// The proof has too few sibling hashes.
	TooShort,
	/// The proof has sibling hashes left over.
	TooLong,
	/// The rebuilt root differs from the expected root.
	RootMismatch,
}

/// A Merkle tree with all its levels kept, for building proofs.
#[derive(Clone, Debug)]
pub struct MerkleTree {
	levels: Vec<Vec<Hash>>,
}

impl MerkleTree {
	/// Builds the tree over leaf hashes (see [`leaf_hash`]).
	pub fn from_leaf_hashes(leaves: Vec<Hash>) -> Self {
		Self::from_leaf_hashes_with(leaves, |pairs| {
			pairs
				.chunks(2)
				.filter_map(|p| match p {
					[l, r] => Some(inner_hash(l, r)),
					_ => None,
				})
				.collect()
		})
	}

	/// [`MerkleTree::from_leaf_hashes`] with the inner hashes of each level computed by
	/// `hash_pairs`, which gets the level's nodes two by two (an even count) and must return
	/// `inner_hash` of each pair, in order (a native caller hashes them in parallel).
	pub fn from_leaf_hashes_with(
		leaves: Vec<Hash>,
		hash_pairs: impl Fn(&[Hash]) -> Vec<Hash>,
	) -> Self {
		let mut levels = Vec::new();
		let mut current = leaves;
		while current.len() > 1 {
			let even = current.len() - current.len() % 2;
			let mut next = hash_pairs(current.get(..even).unwrap_or(&[]));
			// An odd last node is promoted unchanged.
			if let Some(last) = current.get(even) {
				next.push(*last);
			}
			levels.push(current);
			current = next;
		}
		levels.push(current);
		MerkleTree { levels }
	}

	/// Number of leaves.
	pub fn leaf_count(&self) -> usize {
		self.levels.first().map_or(0, |l| l.len())
	}

	/// The root.
	pub fn root(&self) -> Hash {
		match self.levels.last().and_then(|l| l.first()) {
			Some(root) if self.leaf_count() > 0 => *root,
			_ => empty_root(),
		}
	}

	/// A proof for leaves `[start, start + count)`, or `None` for an empty or out-of-range span.
	pub fn prove_range(&self, start: usize, count: usize) -> Option<RangeProof> {
		let n = self.leaf_count();
		let end = start.checked_add(count)?;
		if count == 0 || end > n {
			return None;
		}
		let mut siblings = Vec::new();
		let (mut s, mut e) = (start, end);
		for level in &self.levels {
			let width = level.len();
			if width <= 1 {
				break;
			}
			if s % 2 == 1 {
				siblings.push(*level.get(s - 1)?);
			}
			if e % 2 == 1 && e < width {
				siblings.push(*level.get(e)?);
			}
			s /= 2;
			e = e.div_ceil(2);
		}
		Some(RangeProof { siblings })
	}

	/// A proof for one leaf.
	pub fn prove(&self, index: usize) -> Option<RangeProof> {
		self.prove_range(index, 1)
	}
}

/// Checks that `leaf_hashes` are the leaves `[start, start + len)` of a tree of `leaf_count`
/// leaves with root `root`.
pub fn verify_range(
	root: &Hash,
	leaf_count: u64,
	start: u64,
	leaf_hashes: &[Hash],
	proof: &RangeProof,
) -> Result<(), ProofError> {
	let count = leaf_hashes.len() as u64;
	let end = start.checked_add(count).ok_or(ProofError::BadRange)?;
	if count == 0 || end > leaf_count {
		return Err(ProofError::BadRange);
	}
	if proof.siblings.len() > 2 * MAX_DEPTH {
		return Err(ProofError::TooLong);
	}
	let mut siblings = proof.siblings.iter();
	let mut current: Vec<Hash> = leaf_hashes.to_vec();
	let (mut s, mut e, mut width) = (start, end, leaf_count);
	while width > 1 {
		// Extend the known span to whole pairs using the siblings.
		let mut span: Vec<Hash> = Vec::with_capacity(current.len().saturating_add(2));
		if s % 2 == 1 {
			span.push(*siblings.next().ok_or(ProofError::TooShort)?);
		}
		span.extend_from_slice(&current);
		let right_sibling = e % 2 == 1 && e < width;
		if right_sibling {
			span.push(*siblings.next().ok_or(ProofError::TooShort)?);
		}
		current = span
			.chunks(2)
			.map(|pair| match pair {
				[l, r] => inner_hash(l, r),
				[single] => *single, // the promoted last node of an odd level
				_ => empty_root(),
			})
			.collect();
		s /= 2;
		e = e.div_ceil(2);
		width = width.div_ceil(2);
	}
	if siblings.next().is_some() {
		return Err(ProofError::TooLong);
	}
	match current.as_slice() {
		[computed] if computed == root => Ok(()),
		_ => Err(ProofError::RootMismatch),
	}
}

/// Checks one leaf at `index`.
pub fn verify(
	root: &Hash,
	leaf_count: u64,
	index: u64,
	leaf: Hash,
	proof: &RangeProof,
) -> Result<(), ProofError> {
	verify_range(root, leaf_count, index, &[leaf], proof)
}

#[cfg(test)]
mod tests {
	use super::*;

	fn leaves(n: usize) -> Vec<Hash> {
		(0..n).map(|i| leaf_hash(&(i as u64).to_le_bytes())).collect()
	}

	#[test]
	fn every_range_of_every_small_tree_verifies() {
		for n in 1..=17usize {
			let tree = MerkleTree::from_leaf_hashes(leaves(n));
			let root = tree.root();
			let l = leaves(n);
			for start in 0..n {
				for count in 1..=(n - start) {
					let proof = tree.prove_range(start, count).unwrap();
					let got = verify_range(
						&root,
						n as u64,
						start as u64,
						&l[start..start + count],
						&proof,
					);
					assert_eq!(got, Ok(()), "n={n} start={start} count={count}");
				}
			}
		}
	}

	#[test]
	fn proof_fails_at_another_position_or_count() {
		let l = leaves(10);
		let tree = MerkleTree::from_leaf_hashes(l.clone());
		let proof = tree.prove(3).unwrap();
		assert!(verify(&tree.root(), 10, 3, l[3], &proof).is_ok());
		assert!(verify(&tree.root(), 10, 2, l[3], &proof).is_err());
		// The leaf count fixes the tree's shape: a last leaf is promoted differently in a
		// tree of another size. (Counts come from the graph, never from the prover.)
		let last = tree.prove(9).unwrap();
		assert!(verify(&tree.root(), 10, 9, l[9], &last).is_ok());
		assert!(verify(&tree.root(), 11, 9, l[9], &last).is_err());
		assert!(verify(&tree.root(), 10, 3, l[4], &proof).is_err());
		assert_eq!(verify(&tree.root(), 10, 10, l[3], &proof), Err(ProofError::BadRange));
	}

	#[test]
	fn truncated_or_extended_proofs_fail() {
		let l = leaves(9);
		let tree = MerkleTree::from_leaf_hashes(l.clone());
		let mut proof = tree.prove(4).unwrap();
		proof.siblings.push([7u8; 32]);
		assert_eq!(verify(&tree.root(), 9, 4, l[4], &proof), Err(ProofError::TooLong));
		let mut proof = tree.prove(4).unwrap();
		proof.siblings.pop();
		assert!(verify(&tree.root(), 9, 4, l[4], &proof).is_err());
	}

	#[test]
	fn leaf_and_inner_domains_differ() {
		let a = leaf_hash(b"x");
		let b = leaf_hash(b"y");
		let mut concat = Vec::new();
		concat.extend_from_slice(&a);
		concat.extend_from_slice(&b);
		// An inner node is not the leaf hash of its children's concatenation.
		assert_ne!(inner_hash(&a, &b), leaf_hash(&concat));
	}
}
