//! How other pallets use compute providers, and what this pallet needs from the model registry:
//! the traits live in `arbiter_interface` (pallets talk through them, never through each other's
//! crates or storage); this pallet implements the provider side in `provider_impls.rs`.

pub use arbiter_interface::{
	CapacityAccounting, DisputeTracking, ModelCatalog, Outcome, ProviderRegistry,
	ProviderSelection, ProviderSlashing, ReputationRecorder, Selected,
};
