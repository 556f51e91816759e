//! The origins of Arbiter's referendum tracks besides Root. A referendum on a track dispatches
//! its proposal with that track's origin.

#[frame_support::pallet]
pub mod pallet_custom_origins {
	use frame_support::pallet_prelude::*;

	#[pallet::config]
	pub trait Config: frame_system::Config {}

	#[pallet::pallet]
	pub struct Pallet<T>(_);

	#[derive(
		PartialEq, Eq, Clone, MaxEncodedLen, Encode, Decode, DecodeWithMemTracking, TypeInfo, Debug,
	)]
	#[pallet::origin]
	pub enum Origin {
		/// The `protocol-parameters` track: sets protocol parameters (within their bounds).
		ProtocolParameters,
		/// The `model-registry` track: approves and retires models.
		ModelRegistry,
	}

	macro_rules! decl_ensure {
		($name:ident, $variant:ident) => {
			/// Ensures the origin is the track's.
			pub struct $name;
			impl<O: OriginTrait + From<Origin>> EnsureOrigin<O> for $name
			where
				for<'a> &'a O::PalletsOrigin: TryInto<&'a Origin>,
			{
				type Success = ();
				fn try_origin(o: O) -> Result<Self::Success, O> {
					match o.caller().try_into() {
						Ok(Origin::$variant) => return Ok(()),
						_ => (),
					}
					Err(o)
				}
				#[cfg(feature = "runtime-benchmarks")]
				fn try_successful_origin() -> Result<O, ()> {
					Ok(O::from(Origin::$variant))
				}
			}
		};
	}
	decl_ensure!(ProtocolParameters, ProtocolParameters);
	decl_ensure!(ModelRegistry, ModelRegistry);
}
