//! Weights measured on the project's build machine by `scripts/benchmark-pallets.sh`
//! (frame-benchmarking-cli, steps 50, repeat 20, compiled wasm). Regenerate after changing a
//! pallet's calls.

pub mod pallet_audits;
pub mod pallet_challenges;
pub mod pallet_compute_staking;
pub mod pallet_protocol_parameters;
pub mod pallet_task_registry;
