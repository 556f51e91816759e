//! Weights for `pallet_task_registry`.
//!
//! The trait, and conservative estimates for runtimes that have not benchmarked the pallet.
//! Arbiter's runtime uses weights measured by `scripts/benchmark-pallets.sh`:
//! `runtime/src/weights/pallet_task_registry.rs`.
