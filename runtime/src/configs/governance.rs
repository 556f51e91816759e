//! OpenGov: preimages, the scheduler, referenda on Arbiter's tracks with conviction voting, and
//! the treasury that receives protocol fees and slashes. Protocol parameters change only
//! through `pallet-protocol-parameters` (bounds checked); models are approved and retired by the
//! `model-registry` track.

use frame_support::{
	parameter_types,
	traits::{
		fungible::HoldConsideration,
		tokens::{pay::PayFromAccount, UnityAssetBalanceConversion},
		ConstU32, EitherOfDiverse, EqualPrivilegeOnly, LinearStoragePrice,
	},
	weights::Weight,
};
use frame_system::{EnsureRoot, EnsureRootWithSuccess, EnsureSigned};
use sp_runtime::traits::IdentityLookup;

use super::{parameters, RuntimeBlockWeights, TreasuryAccount, TREASURY_PALLET_ID};
use crate::{
	governance::{pallet_custom_origins, tracks::TracksInfo},
	AccountId, Balance, Balances, BlockNumber, OriginCaller, Preimage, Referenda, Runtime,
	RuntimeCall, RuntimeEvent, RuntimeHoldReason, RuntimeOrigin, Scheduler, System, Treasury, DAYS,
	MILLI_UNIT, UNIT,
};

parameter_types! {
	/// Scheduled calls may use 80 % of a block.
	pub MaximumSchedulerWeight: Weight = sp_runtime::Perbill::from_percent(80) * RuntimeBlockWeights::get().max_block;
	pub const PreimageHoldReason: RuntimeHoldReason = RuntimeHoldReason::Preimage(pallet_preimage::HoldReason::Preimage);
	pub const PreimageBaseDeposit: Balance = UNIT;
	pub const PreimageByteDeposit: Balance = MILLI_UNIT;
}

impl pallet_scheduler::Config for Runtime {
	type RuntimeOrigin = RuntimeOrigin;
	type RuntimeEvent = RuntimeEvent;
	type PalletsOrigin = OriginCaller;
	type RuntimeCall = RuntimeCall;
	type MaximumWeight = MaximumSchedulerWeight;
	// Referenda schedule through the pallet's trait, not this origin.
	type ScheduleOrigin = EnsureRoot<AccountId>;
	type OriginPrivilegeCmp = EqualPrivilegeOnly;
	type MaxScheduledPerBlock = ConstU32<50>;
	type WeightInfo = pallet_scheduler::weights::SubstrateWeight<Runtime>;
	type Preimages = Preimage;
	type BlockNumberProvider = System;
}

impl pallet_preimage::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type WeightInfo = pallet_preimage::weights::SubstrateWeight<Runtime>;
	type Currency = Balances;
	type ManagerOrigin = EnsureRoot<AccountId>;
	type Consideration = HoldConsideration<
		AccountId,
		Balances,
		PreimageHoldReason,
		LinearStoragePrice<PreimageBaseDeposit, PreimageByteDeposit, Balance>,
	>;
}

parameter_types! {
	/// Votes stay locked this long after a referendum ends (× conviction multiplier).
	pub const VoteLockingPeriod: BlockNumber = if cfg!(feature = "fast-runtime") { 10 } else { 7 * DAYS };
}

impl pallet_conviction_voting::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type WeightInfo = pallet_conviction_voting::weights::SubstrateWeight<Runtime>;
	type Currency = Balances;
	type Polls = Referenda;
	type MaxTurnout =
		frame_support::traits::tokens::currency::ActiveIssuanceOf<Balances, AccountId>;
	type MaxVotes = ConstU32<512>;
	type VoteLockingPeriod = VoteLockingPeriod;
	type BlockNumberProvider = System;
	type VotingHooks = ();
}

parameter_types! {
	pub const SubmissionDeposit: Balance = 10 * UNIT;
	pub const AlarmInterval: BlockNumber = 1;
	pub const UndecidingTimeout: BlockNumber = if cfg!(feature = "fast-runtime") { 50 } else { 14 * DAYS };
}

impl pallet_referenda::Config for Runtime {
	type RuntimeCall = RuntimeCall;
	type RuntimeEvent = RuntimeEvent;
	type WeightInfo = pallet_referenda::weights::SubstrateWeight<Runtime>;
	type Scheduler = Scheduler;
	type Currency = Balances;
	type SubmitOrigin = EnsureSigned<AccountId>;
	type CancelOrigin = EnsureRoot<AccountId>;
	type KillOrigin = EnsureRoot<AccountId>;
	// Slashed deposits go to the treasury.
	type Slash = Treasury;
	type Votes = Balance;
	type Tally = pallet_conviction_voting::TallyOf<Runtime>;
	type SubmissionDeposit = SubmissionDeposit;
	type MaxQueued = ConstU32<100>;
	type UndecidingTimeout = UndecidingTimeout;
	type AlarmInterval = AlarmInterval;
	type Tracks = TracksInfo;
	type Preimages = Preimage;
	type BlockNumberProvider = System;
}

impl pallet_custom_origins::Config for Runtime {}

parameter_types! {
	pub const TreasuryPalletId: frame_support::PalletId = TREASURY_PALLET_ID;
	pub const SpendPeriod: BlockNumber = if cfg!(feature = "fast-runtime") { 10 } else { 6 * DAYS };
	pub const PayoutPeriod: BlockNumber = if cfg!(feature = "fast-runtime") { 20 } else { 30 * DAYS };
	/// Root (a `root`-track referendum) may spend up to this much at once.
	pub const MaxTreasurySpend: Balance = 1_000_000 * UNIT;
}

impl pallet_treasury::Config for Runtime {
	type Currency = Balances;
	type RejectOrigin = EnsureRoot<AccountId>;
	type RuntimeEvent = RuntimeEvent;
	type SpendPeriod = SpendPeriod;
	// Nothing is burnt: fees and slashes accumulate for `root`-track spends.
	type Burn = ();
	type PalletId = TreasuryPalletId;
	type BurnDestination = ();
	type WeightInfo = pallet_treasury::weights::SubstrateWeight<Runtime>;
	type SpendFunds = ();
	type MaxApprovals = ConstU32<64>;
	type SpendOrigin = EnsureRootWithSuccess<AccountId, MaxTreasurySpend>;
	type AssetKind = ();
	type Beneficiary = AccountId;
	type BeneficiaryLookup = IdentityLookup<AccountId>;
	type Paymaster = PayFromAccount<Balances, TreasuryAccount>;
	type BalanceConverter = UnityAssetBalanceConversion;
	type PayoutPeriod = PayoutPeriod;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = ();
	type BlockNumberProvider = System;
}

/// Stores accepted protocol parameters in pallet-parameters (whose admin origin is Root only,
/// so every other path goes through the bounds check).
pub struct ParametersStore;
impl pallet_protocol_parameters::ParameterStore<parameters::RuntimeParameters> for ParametersStore {
	fn store(key_value: parameters::RuntimeParameters) -> frame_support::dispatch::DispatchResult {
		pallet_parameters::Pallet::<Runtime>::set_parameter(RuntimeOrigin::root(), key_value)
	}
}

#[cfg(feature = "runtime-benchmarks")]
parameter_types! {
	pub BenchmarkParameter: parameters::RuntimeParameters = parameters::RuntimeParameters::default();
}

impl pallet_protocol_parameters::Config for Runtime {
	type KeyValue = parameters::RuntimeParameters;
	// The `protocol-parameters` track for every protocol parameter; Root too.
	type GovernanceOrigin = frame_support::traits::AsEnsureOriginWithArg<
		EitherOfDiverse<EnsureRoot<AccountId>, pallet_custom_origins::ProtocolParameters>,
	>;
	type Bounds = parameters::ProtocolBounds;
	type Store = ParametersStore;
	type WeightInfo = crate::weights::pallet_protocol_parameters::WeightInfo<Runtime>;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkValue = BenchmarkParameter;
}

/// Who approves and retires models: Root or the `model-registry` track.
pub type ModelGovernanceOrigin =
	EitherOfDiverse<EnsureRoot<AccountId>, pallet_custom_origins::ModelRegistry>;
