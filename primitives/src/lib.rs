//! Arbiter's verification core.
//!
//! A model is a graph in a small tensor-op IR ([`ir`]) plus weights. Providers commit to the
//! weights and to every row of every node output with binary Merkle trees ([`merkle`],
//! [`commitment`]). A dispute names one output element; the provider answers with an
//! [`opening::Opening`] and [`opening::verify_element`] rules on it by recomputing that element
//! with the reference evaluator ([`evaluator`]) and applying the op's rounding-error bound.
//!
//! Everything here is `no_std` (with `alloc`) so that the runtime and the native off-chain code
//! run the same logic; building trees and proofs needs the `std` feature.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub mod builder;
pub mod commitment;
pub mod descent;
pub mod encoding;
pub mod evaluator;
pub mod ir;
pub mod known_models;
pub mod merkle;
pub mod opening;
pub mod prover;
pub mod sampling;
pub mod token_choice;

/// A 32-byte blake2-256 hash.
pub type Hash = [u8; 32];

/// Key type of a compute provider's operator key in the node keystore (sr25519): the key that
/// signs the provider node's off-chain transactions (`key insert --key-type arbi`).
pub const OPERATOR_KEY_TYPE: [u8; 4] = *b"arbi";

pub use ir::{Graph, GraphError, InputKind, Node, NodeId, Op, Shape, WeightId};
pub use opening::{
	verify_element, Fault, MalformedReason, Opening, RegisteredModel, Ruling, TaskCommitments,
	Verdict,
};
