//! Referendum tracks: `root` (anything), `protocol-parameters` (the protocol parameters of
//! docs/governance.md, within their bounds) and `model-registry` (approve / retire models).
//!
//! Periods are in blocks (6 s). Production values are days; with the `fast-runtime` feature
//! (dev and test builds) a referendum passes in about a minute. docs/governance.md lists both.

use alloc::borrow::Cow;

use pallet_referenda::{Curve, Track, TrackInfo};
use sp_runtime::str_array as s;

use super::origins::pallet_custom_origins;
use crate::{Balance, BlockNumber, OriginCaller, RuntimeOrigin, DAYS, HOURS, MINUTES, UNIT};

/// Chooses production or fast periods.
const fn period(production: BlockNumber, fast: BlockNumber) -> BlockNumber {
	if cfg!(feature = "fast-runtime") {
		fast
	} else {
		production
	}
}

const fn percent(x: u64) -> sp_runtime::FixedI64 {
	sp_runtime::FixedI64::from_rational(x as u128, 100)
}

// Approval: from 100 % down to 50 % over the decision period; support: from 50 % down to 0.5 %.
const APP_ROOT: Curve = Curve::make_reciprocal(4, 28, percent(80), percent(50), percent(100));
const SUP_ROOT: Curve = Curve::make_linear(28, 28, percent(0), percent(50));
// protocol-parameters and model-registry share periods and curves; only the deposit differs.
const APP_OPERATIONAL: Curve = Curve::make_linear(10, 28, percent(50), percent(100));
const SUP_OPERATIONAL: Curve = Curve::make_reciprocal(1, 28, percent(4), percent(0), percent(50));

/// Track ids.
pub const ROOT: u16 = 0;
pub const PROTOCOL_PARAMETERS: u16 = 1;
pub const MODEL_REGISTRY: u16 = 2;

/// A track deciding up to 10 referenda at once, 30 min / 7 days / 3 h / 1 h in production.
const fn operational_track(
	id: u16,
	name: &str,
	decision_deposit: Balance,
) -> Track<u16, Balance, BlockNumber> {
	Track {
		id,
		info: TrackInfo {
			name: s(name),
			max_deciding: 10,
			decision_deposit,
			prepare_period: period(30 * MINUTES, 2),
			decision_period: period(7 * DAYS, 20),
			confirm_period: period(3 * HOURS, 2),
			min_enactment_period: period(HOURS, 1),
			min_approval: APP_OPERATIONAL,
			min_support: SUP_OPERATIONAL,
		},
	}
}

const TRACKS: [Track<u16, Balance, BlockNumber>; 3] = [
	Track {
		id: ROOT,
		info: TrackInfo {
			name: s("root"),
			max_deciding: 1,
			decision_deposit: 10_000 * UNIT,
			prepare_period: period(2 * HOURS, 2),
			decision_period: period(14 * DAYS, 20),
			confirm_period: period(DAYS, 2),
			min_enactment_period: period(DAYS, 1),
			min_approval: APP_ROOT,
			min_support: SUP_ROOT,
		},
	},
	operational_track(PROTOCOL_PARAMETERS, "protocol-parameters", 1_000 * UNIT),
	operational_track(MODEL_REGISTRY, "model-registry", 500 * UNIT),
];

/// Arbiter's referendum tracks.
pub struct TracksInfo;
impl pallet_referenda::TracksInfo<Balance, BlockNumber> for TracksInfo {
	type Id = u16;
	type RuntimeOrigin = <RuntimeOrigin as frame_support::traits::OriginTrait>::PalletsOrigin;

	fn tracks() -> impl Iterator<Item = Cow<'static, Track<Self::Id, Balance, BlockNumber>>> {
		TRACKS.iter().map(Cow::Borrowed)
	}

	fn track_for(origin: &Self::RuntimeOrigin) -> Result<Self::Id, ()> {
		match origin {
			OriginCaller::system(frame_system::RawOrigin::Root) => Ok(ROOT),
			OriginCaller::Origins(pallet_custom_origins::Origin::ProtocolParameters) =>
				Ok(PROTOCOL_PARAMETERS),
			OriginCaller::Origins(pallet_custom_origins::Origin::ModelRegistry) =>
				Ok(MODEL_REGISTRY),
			_ => Err(()),
		}
	}
}
