//! What an audit is: the drawn auditors of one committed result and where each stands.

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use frame_support::{
	pallet_prelude::Get, BoundedVec, CloneNoBound, DebugNoBound, EqNoBound, PartialEqNoBound,
};
use scale_info::TypeInfo;

/// Where a drawn auditor stands.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum AuditorStatus {
	/// Drawn; neither attested nor challenged yet. Still so at finalization: penalised.
	Drawn,
	/// Attested that the result matched its re-execution: paid at finalization, slashed if the
	/// result is proven wrong.
	Attested,
	/// Opened a dispute on the result: its audit is done (the dispute pays or costs it).
	Challenged,
}

/// The audit of one committed result.
#[derive(
	CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound, Encode, Decode, TypeInfo, MaxEncodedLen,
)]
#[scale_info(skip_type_params(MaxAuditors))]
#[codec(mel_bound(AccountId: MaxEncodedLen))]
pub struct Audit<AccountId: Clone + PartialEq + Eq + core::fmt::Debug, MaxAuditors: Get<u32>> {
	/// The provider whose result is audited (its stake answers for it).
	pub provider: AccountId,
	/// Each drawn auditor (a provider account) and where it stands.
	pub auditors: BoundedVec<(AccountId, AuditorStatus), MaxAuditors>,
}
