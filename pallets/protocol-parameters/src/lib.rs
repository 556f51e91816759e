//! # Protocol parameters: governed, within bounds
//!
//! `pallet-parameters` stores Arbiter's protocol parameters (docs/governance.md) but sets any value
//! its admin origin sends. This pallet is the way governance changes them: `set_parameter` checks
//! the origin for the parameter's key (the `protocol-parameters` referendum track), checks the
//! value against the parameter's documented bounds ([`ParameterBounds`], implemented by the
//! runtime) and only then stores it through [`ParameterStore`] (pallet-parameters, whose
//! `Updated` event records the change). A value outside its bounds is refused with
//! [`Error::BelowMinimum`] or [`Error::AboveMaximum`] and changes nothing.
//!
//! Removing a value (`None`) restores the genesis default, which is always within bounds.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod mock;
pub mod runtime_api;
#[cfg(test)]
mod tests;
pub mod weights;

pub use runtime_api::{ParameterInfo, ParameterUnit};
pub use weights::WeightInfo;

/// Why a value is refused.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum OutOfBounds {
	BelowMinimum,
	AboveMaximum,
}

/// The bounds of every parameter, as the runtime documents them.
pub trait ParameterBounds<KeyValue> {
	/// `Ok` when the value (or its removal) is allowed.
	fn check(key_value: &KeyValue) -> Result<(), OutOfBounds>;
}

/// Where parameters live (pallet-parameters in Arbiter's runtime).
pub trait ParameterStore<KeyValue> {
	fn store(key_value: KeyValue) -> frame_support::dispatch::DispatchResult;
}

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use frame_support::{
		pallet_prelude::*,
		traits::{dynamic_params::AggregatedKeyValue, EnsureOriginWithArg},
	};
	use frame_system::pallet_prelude::*;

	/// The key of a parameter.
	pub type KeyOf<T> = <<T as Config>::KeyValue as AggregatedKeyValue>::Key;

	#[pallet::pallet]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config: frame_system::Config {
		/// A parameter key with its new value (the runtime's `RuntimeParameters`).
		type KeyValue: AggregatedKeyValue + Parameter;
		/// Who may set the parameter with this key (a referendum track's origin).
		type GovernanceOrigin: EnsureOriginWithArg<Self::RuntimeOrigin, KeyOf<Self>>;
		/// The bounds every value is checked against.
		type Bounds: ParameterBounds<Self::KeyValue>;
		/// Stores an accepted value.
		type Store: ParameterStore<Self::KeyValue>;
		type WeightInfo: WeightInfo;
		/// A key-value within bounds, for the benchmark.
		#[cfg(feature = "runtime-benchmarks")]
		type BenchmarkValue: Get<Self::KeyValue>;
	}

	#[pallet::error]
	pub enum Error<T> {
		/// The value is below the parameter's minimum (see docs/governance.md for the bounds).
		BelowMinimum,
		/// The value is above the parameter's maximum (see docs/governance.md for the bounds).
		AboveMaximum,
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Sets a protocol parameter (or, with `None`, restores its default) if the origin may
		/// set this key and the value is within its bounds.
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::set_parameter())]
		pub fn set_parameter(origin: OriginFor<T>, key_value: T::KeyValue) -> DispatchResult {
			let (key, _) = key_value.clone().into_parts();
			T::GovernanceOrigin::ensure_origin(origin, &key)?;
			T::Bounds::check(&key_value).map_err(|e| match e {
				OutOfBounds::BelowMinimum => Error::<T>::BelowMinimum,
				OutOfBounds::AboveMaximum => Error::<T>::AboveMaximum,
			})?;
			T::Store::store(key_value)
		}
	}
}
