//! What the model registry offers the others.

use crate::ModelId;

/// The model registry, as the staking pallet sees it.
pub trait ModelCatalog {
	/// Whether providers may declare they serve `model` (it exists and is approved).
	fn is_servable(model: ModelId) -> bool;
	/// Makes `model` servable, so benchmarks can declare it.
	#[cfg(feature = "runtime-benchmarks")]
	fn make_servable(model: ModelId);
}

/// What a dispute needs to know about a registered model.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ModelCommitment {
	/// Hash of the model's graph descriptor: a response's graph must hash to it.
	pub descriptor_hash: [u8; 32],
	/// Merkle root of the model's weights: every weight a response opens is proven against it.
	pub model_root: [u8; 32],
	/// The registered widest row (graphs wider than this are refused).
	pub max_row_width: u32,
	/// Absolute tolerance slack, as f32 bits.
	pub slack_bits: u32,
	/// Token ids are below it (a token-choice challenge's rival too).
	pub vocabulary: u32,
}

/// The model registry, as disputes see it.
pub trait ModelCommitments {
	/// The commitments of `model`, if it is registered (approved or retired: a task committed
	/// before a retirement can still be disputed).
	fn commitment(model: ModelId) -> Option<ModelCommitment>;
}
