//! Weights for `pallet_challenges`.
//!
//! The trait, and conservative estimates for runtimes that have not benchmarked the pallet.
//! Arbiter's runtime uses weights measured by `scripts/benchmark-pallets.sh`:
//! `runtime/src/weights/pallet_challenges.rs`.
