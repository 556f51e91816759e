//! OpenGov: referenda with conviction voting on three tracks (`tracks.rs`), each with its own
//! origin (`origins.rs`). The pallets are configured in `configs/governance.rs`.

pub mod origins;
pub mod tracks;

pub use origins::pallet_custom_origins;

#[cfg(test)]
mod tests;
