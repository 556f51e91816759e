//! Runtime API for clients: every protocol parameter with its current value and its bounds (the
//! web app's governance page shows them next to a proposal's form).

use alloc::vec::Vec;
use codec::{Decode, Encode};
use scale_info::TypeInfo;

/// How a parameter's number reads.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Encode, Decode, TypeInfo)]
pub enum ParameterUnit {
	/// An amount of the chain's token, in its smallest unit.
	Balance,
	/// A number of blocks.
	Blocks,
	/// A share, in parts per billion.
	Perbill,
	/// A count of things.
	Count,
	/// A size in bytes.
	Bytes,
	/// An `f32`, as its bit pattern.
	F32Bits,
}

/// One parameter: its name (the key's name in `pallet-parameters`), its current value and the
/// bounds `set_parameter` checks a new value against. Some parameters are also bounded by others
/// (a window by the unbonding period, say): `set_parameter` refuses those too, with the same
/// errors, and docs/governance.md lists them.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo)]
pub struct ParameterInfo {
	pub name: Vec<u8>,
	pub unit: ParameterUnit,
	pub value: u128,
	pub min: u128,
	pub max: u128,
}

sp_api::decl_runtime_apis! {
	/// Read access to the protocol parameters.
	pub trait ProtocolParametersApi {
		/// Every protocol parameter, in the order of their keys.
		fn parameters() -> Vec<ParameterInfo>;
	}
}
