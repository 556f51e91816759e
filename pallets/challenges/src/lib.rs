//! # Challenges
//!
//! Element-level fraud proofs settled by the runtime (docs/protocol.md, docs/disputes.md).
//!
//! - `challenge(task, node, row, col)`: a bonded challenger names one output element of one node of
//!   a committed task's trace, inside its challenge window. The task is frozen until every dispute
//!   on it is resolved; up to `MaxOpenDisputesPerTask` are heard at once, so a decoy challenge of a
//!   correct element cannot shield a wrong one. The provider's stake cannot leave.
//! - `respond(dispute, graph, opening)`: the provider's operator — or anyone holding the data, once
//!   the task's trace root is fixed — answers within `ResponseWindow` with the opening of that
//!   element. A provider that committed its output alone fixes its trace root with its first answer
//!   on the task (docs/protocol.md, "The trace root is fixed when first needed"). The runtime
//!   checks every Merkle proof against the registered `model_root` and the `trace_root`, recomputes
//!   the element with the reference evaluator (`arbiter_primitives::verify_element`) and rules:
//!   within bound → provider wins (the challenger's bond goes to the provider and the treasury, the
//!   window resumes); outside bound → provider loses (`SlashFraction` of its stake to the
//!   challenger and the treasury, the task reassigned or refunded).
//! - No valid answer in time → provider loses (settled by the hook, or `settle` by anyone).
//! - When the provider loses one dispute, the task's other open disputes are dismissed: their bonds
//!   go back in full (the result they challenged is thrown out already).
//! - Rulings follow `arbiter_primitives::Verdict::ruling` (docs/protocol.md, "Rulings"): an element
//!   that does not exist is won by the provider, an output element whose committed trace value is
//!   not the committed output is lost by it.
//!
//! A response whose proofs do not verify against the commitments is refused without a ruling:
//! it proves nothing about the provider's committed trace, and otherwise a challenger could
//! answer its own challenge with garbage. Committed data that is itself invalid (a NaN in a
//! proven row, an impossible token id) loses the dispute for the provider.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;

mod dispute_impls;
pub mod weights;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;

#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_descent;
#[cfg(test)]
mod tests_token_choice;
#[cfg(test)]
mod tests_trace_root;

pub use arbiter_interface::{AuditHooks, ModelCommitment, ModelCommitments};
pub use weights::WeightInfo;

/// Deepest nesting `respond` decodes a graph or an opening to (theirs is at most 4).
const DECODE_DEPTH: u32 = 16;

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use arbiter_interface::{DisputeTracking, ElementRef, ProviderSlashing, TaskDisputes, TaskId};
	use arbiter_primitives::{descent::MAX_OPERAND_ROWS, Graph, Opening};
	use codec::DecodeLimit;
	use frame_support::{
		pallet_prelude::*,
		traits::fungible::{Inspect, InspectHold, Mutate, MutateHold},
	};
	use frame_system::pallet_prelude::*;
	use sp_runtime::Perbill;

	/// Balance type of the currency bonds are held in.
	pub type BalanceOf<T> =
		<<T as Config>::Currency as Inspect<<T as frame_system::Config>::AccountId>>::Balance;
	pub use arbiter_interface::DisputeId;

	/// Whose move it is in a dispute (docs/protocol.md, "Descent").
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
	pub enum Turn {
		/// The provider must open `element` by `deadline`; silence loses.
		Provider,
		/// The provider's last answer was within the bound: the challenger must name the next
		/// element, one of the operand rows that answer opened ([`OpenedOperands`]), by
		/// `deadline`; silence loses the bond.
		Challenger,
	}

	/// What a dispute says is wrong (docs/protocol.md, "Generation tasks").
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
	pub enum Claim {
		/// The disputed element of the trace is outside its bound.
		Element,
		/// The token a generation task committed at step `step` is one the provider's own
		/// hidden row does not allow against `rival`: the answer opens that hidden row and the
		/// two tokens' embedding rows, and the runtime compares the two exact logits (and the
		/// seed's noise) with the rounding band. After an answer within the band, the
		/// challenger may descend into the hidden row (an `Element` claim from then on).
		TokenChoice { step: u32, rival: u32 },
	}

	/// An operand row a provider's answer opened: its node, its row and the values (f32 bits).
	#[derive(
		frame_support::CloneNoBound,
		frame_support::PartialEqNoBound,
		frame_support::EqNoBound,
		frame_support::DebugNoBound,
		Encode,
		Decode,
		TypeInfo,
		MaxEncodedLen,
	)]
	#[scale_info(skip_type_params(MaxWidth))]
	pub struct OperandRow<MaxWidth: Get<u32>> {
		/// The node.
		pub node: u32,
		/// The row of its output.
		pub row: u32,
		/// The provider's values, as proven against its trace root.
		pub values: BoundedVec<u32, MaxWidth>,
	}

	/// An open dispute.
	#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo, MaxEncodedLen)]
	pub struct Dispute<AccountId, Balance, BlockNumber> {
		/// The disputed task.
		pub task: TaskId,
		/// Who challenged; its bond is held for the whole descent.
		pub challenger: AccountId,
		/// The provider whose result is disputed.
		pub provider: AccountId,
		/// The bond held.
		pub bond: Balance,
		/// The element now disputed (the challenged one, then each step's; unused while the claim
		/// is a token choice).
		pub element: ElementRef,
		/// What is disputed now.
		pub claim: Claim,
		/// Steps named after the challenge (0 while the challenged element is disputed).
		pub round: u32,
		/// Whose move it is.
		pub turn: Turn,
		/// Last block for the move.
		pub deadline: BlockNumber,
		/// The task's model.
		pub model: arbiter_interface::ModelId,
		/// The provider's operator when challenged: with the provider, the only ones who may
		/// answer while the task's trace root is not fixed (docs/protocol.md, "The trace root
		/// is fixed when first needed").
		pub operator: AccountId,
	}

	/// A stored dispute.
	pub type DisputeOf<T> =
		Dispute<<T as frame_system::Config>::AccountId, BalanceOf<T>, BlockNumberFor<T>>;

	#[pallet::pallet]
	pub struct Pallet<T>(_);

	#[pallet::config(with_default)]
	pub trait Config: frame_system::Config {
		/// The hold reason of this pallet, as the runtime aggregates it.
		#[pallet::no_default_bounds]
		type RuntimeHoldReason: From<HoldReason>;
		/// The currency bonds are held in.
		#[pallet::no_default]
		type Currency: Inspect<Self::AccountId>
			+ Mutate<Self::AccountId>
			+ InspectHold<Self::AccountId, Reason = Self::RuntimeHoldReason>
			+ MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>;
		/// Tasks: who committed what, freezing and resolving.
		#[pallet::no_default]
		type Tasks: TaskDisputes<Self::AccountId>;
		/// Providers: slashing and the dispute lock on their stake.
		#[pallet::no_default]
		type Providers: ProviderSlashing<Self::AccountId, BalanceOf<Self>>
			+ DisputeTracking<Self::AccountId>;
		/// Registered model commitments.
		#[pallet::no_default]
		type Models: ModelCommitments;
		/// Bond held from a challenger while its dispute is open (governable).
		#[pallet::no_default_bounds]
		type ChallengerBond: Get<BalanceOf<Self>>;
		/// Blocks the provider has to answer (governable).
		#[pallet::no_default_bounds]
		type ResponseWindow: Get<BlockNumberFor<Self>>;
		/// Share of a losing provider's stake that is slashed (governable).
		type SlashFraction: Get<Perbill>;
		/// The winner's share of what the loser forfeits (the rest goes to the treasury)
		/// (governable).
		type ChallengerRewardShare: Get<Perbill>;
		/// Receives the treasury's shares.
		#[pallet::no_default_bounds]
		type TreasuryAccount: Get<Self::AccountId>;
		/// Hears every dispute opened and every result proven wrong (the audits pallet; `()` for
		/// none).
		#[pallet::no_default_bounds]
		type Audits: AuditHooks<Self::AccountId, BalanceOf<Self>>;
		/// Most response deadlines queued for one block (bounds the hook's work).
		#[pallet::constant]
		type MaxDeadlinesPerBlock: Get<u32>;
		/// Widest operand row kept for a descent step (at least the registry's widest row).
		#[pallet::constant]
		type MaxOperandWidth: Get<u32>;
		/// Most disputes open on one task at once.
		#[pallet::constant]
		type MaxOpenDisputesPerTask: Get<u32>;
		/// Largest SCALE-encoded graph `respond` takes (checked before it is decoded; the
		/// weight grows with the bytes given).
		#[pallet::constant]
		type MaxGraphBytes: Get<u32>;
		/// Largest SCALE-encoded opening `respond` takes (checked before it is decoded; charged
		/// at this size: a valid opening of the widest row fits well within it).
		#[pallet::constant]
		type MaxOpeningBytes: Get<u32>;
		/// Weights of the calls.
		type WeightInfo: WeightInfo;
		/// Creates committed tasks for the benchmarks.
		#[cfg(feature = "runtime-benchmarks")]
		#[pallet::no_default]
		type BenchmarkHelper: BenchmarkHelper;
	}

	/// Sets up what the benchmarks need from other pallets.
	/// Config presets for `#[derive_impl]`.
	pub mod config_preludes {
		use super::*;
		use frame_support::{
			derive_impl,
			traits::{ConstU32, ConstU64},
		};

		/// Test runtimes (u64 accounts, balances and block numbers): account 99 is the
		/// treasury, a 4-block response window.
		pub struct TestDefaultConfig;

		#[derive_impl(frame_system::config_preludes::TestDefaultConfig, no_aggregated_types)]
		impl frame_system::DefaultConfig for TestDefaultConfig {}

		#[frame_support::register_default_impl(TestDefaultConfig)]
		impl DefaultConfig for TestDefaultConfig {
			#[inject_runtime_type]
			type RuntimeHoldReason = ();
			type ChallengerBond = ConstU64<300>;
			type ResponseWindow = ConstU64<4>;
			type SlashFraction = SlashFraction;
			type ChallengerRewardShare = ChallengerRewardShare;
			type TreasuryAccount = ConstU64<99>;
			type Audits = ();
			type MaxDeadlinesPerBlock = ConstU32<8>;
			type MaxOpenDisputesPerTask = ConstU32<3>;
			type MaxOperandWidth = ConstU32<4096>;
			type MaxGraphBytes = ConstU32<{ 64 * 1024 }>;
			type MaxOpeningBytes = ConstU32<{ 64 * 1024 }>;
			type WeightInfo = ();
		}

		frame_support::parameter_types! {
			pub const SlashFraction: Perbill = Perbill::from_percent(20);
			pub const ChallengerRewardShare: Perbill = Perbill::from_percent(50);
		}
	}

	#[cfg(feature = "runtime-benchmarks")]
	pub trait BenchmarkHelper {
		/// A committed task of a registered, approved model with these commitments and output.
		fn committed_task(
			descriptor_hash: [u8; 32],
			model_root: [u8; 32],
			max_row_width: u32,
			trace_root: Option<[u8; 32]>,
			input: alloc::vec::Vec<u32>,
			output: alloc::vec::Vec<u8>,
		) -> TaskId;
		/// The widest row models may register (the registry's bound).
		fn max_row_width() -> u32;
		/// A committed generation task of a registered, approved generation model: `tokens`
		/// generated from `prompt`.
		fn committed_generation(
			prompt: alloc::vec::Vec<u32>,
			tokens: alloc::vec::Vec<u32>,
		) -> TaskId;
		/// The most tokens a generation's output holds (the registry's `MaxOutputBytes` / 4).
		fn most_new_tokens() -> u32;
		/// Registers more providers of `task`'s model, up to the most a model can have, so
		/// that a reassignment selects among all of them (the worst case).
		fn fill_providers(task: TaskId);
	}

	/// Why this pallet holds funds.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// A challenger's bond.
		#[codec(index = 0)]
		ChallengerBond,
	}

	/// The id the next dispute gets.
	#[pallet::storage]
	pub type NextDisputeId<T: Config> = StorageValue<_, DisputeId, ValueQuery>;

	/// Open disputes.
	#[pallet::storage]
	pub type Disputes<T: Config> = StorageMap<_, Twox64Concat, DisputeId, DisputeOf<T>>;

	/// The open disputes of a task.
	#[pallet::storage]
	pub type OpenDisputes<T: Config> = StorageMap<
		_,
		Twox64Concat,
		TaskId,
		BoundedVec<DisputeId, T::MaxOpenDisputesPerTask>,
		ValueQuery,
	>;

	/// The operand rows the provider's last answer opened, with its values (f32 bits), while
	/// it is the challenger's turn: the next step names an element of one of them, and a
	/// watcher reads them to choose it.
	#[pallet::storage]
	pub type OpenedOperands<T: Config> = StorageMap<
		_,
		Twox64Concat,
		DisputeId,
		BoundedVec<OperandRow<T::MaxOperandWidth>, ConstU32<MAX_OPERAND_ROWS>>,
		OptionQuery,
	>;

	/// Disputes whose response deadline ends in a block.
	#[pallet::storage]
	pub type ResponseDeadlines<T: Config> = StorageMap<
		_,
		Twox64Concat,
		BlockNumberFor<T>,
		BoundedVec<DisputeId, T::MaxDeadlinesPerBlock>,
		ValueQuery,
	>;

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A challenge opened a dispute; the provider must respond by `deadline`.
		Challenged {
			/// The dispute.
			dispute: DisputeId,
			/// The task.
			task: TaskId,
			/// Who challenged (its bond is held).
			challenger: T::AccountId,
			/// The disputed element.
			element: ElementRef,
			/// Last block a response is accepted in.
			deadline: BlockNumberFor<T>,
		},
		/// A token-choice challenge opened a dispute: the provider must answer by `deadline`.
		TokenChoiceChallenged {
			/// The dispute.
			dispute: DisputeId,
			/// The generation task.
			task: TaskId,
			/// Who challenged (its bond is held).
			challenger: T::AccountId,
			/// The generation step whose committed token is disputed (0: the first new token).
			step: u32,
			/// The token the challenger says scores higher.
			rival: u32,
			/// Last block a response is accepted in.
			deadline: BlockNumberFor<T>,
		},
		/// The opening verified and the claim is within the bound: the provider won.
		ProviderWon {
			/// The dispute.
			dispute: DisputeId,
			/// The task.
			task: TaskId,
			/// The challenger's bond: the provider's share.
			bond_to_provider: BalanceOf<T>,
			/// The challenger's bond: the treasury's share.
			bond_to_treasury: BalanceOf<T>,
		},
		/// The provider lost (claim outside the bound, invalid committed data, an output its trace
		/// does not hold, or no answer): `slashed` of its stake went to the challenger and the
		/// treasury.
		ProviderLost {
			/// The dispute.
			dispute: DisputeId,
			/// The task.
			task: TaskId,
			/// Why it lost.
			reason: LossReason,
			/// Stake slashed, paid to the challenger and the treasury.
			slashed: BalanceOf<T>,
		},
		/// The provider's answer was within the bound and opened operand rows: the challenger
		/// names one of their elements next, by `deadline`, or loses its bond.
		Answered {
			/// The dispute.
			dispute: DisputeId,
			/// The task.
			task: TaskId,
			/// The round answered.
			round: u32,
			/// Last block the challenger may name the next element in.
			deadline: BlockNumberFor<T>,
		},
		/// The challenger named the next element; the provider must open it by `deadline`.
		Descended {
			/// The dispute.
			dispute: DisputeId,
			/// The task.
			task: TaskId,
			/// The new round.
			round: u32,
			/// The element now disputed.
			element: ElementRef,
			/// Last block a response is accepted in.
			deadline: BlockNumberFor<T>,
		},
		/// Another dispute on the task convicted the provider: this one is closed without a
		/// ruling and its whole bond went back to the challenger.
		DisputeDismissed {
			/// The dismissed dispute.
			dispute: DisputeId,
			/// Its task.
			task: TaskId,
			/// Who gets the bond back.
			challenger: T::AccountId,
			/// The bond released.
			bond: BalanceOf<T>,
		},
	}

	/// Why a provider lost.
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
	pub enum LossReason {
		/// The recomputed element is outside the bound.
		OutsideBound,
		/// The committed rows themselves are invalid (non-finite value, impossible token id).
		InvalidCommittedData,
		/// The committed output is not the committed trace's final node.
		OutputMismatch,
		/// The committed trace is not of the task's input (its length or an input row).
		InputMismatch,
		/// No valid response within the response window.
		NoResponse,
	}

	#[pallet::error]
	pub enum Error<T> {
		/// The task is not committed inside its challenge window.
		NotChallengeable,
		/// `MaxOpenDisputesPerTask` disputes are open on the task already.
		TooManyDisputes,
		/// The element does not exist or cannot be disputed (a model input).
		BadElement,
		/// The challenger cannot hold the bond.
		InsufficientBond,
		/// No open dispute with that id.
		UnknownDispute,
		/// The response window has closed.
		ResponseTooLate,
		/// The response window is still open.
		ResponseWindowOpen,
		/// The graph given does not hash to the model's registered descriptor.
		GraphMismatch,
		/// The graph bytes are not one SCALE-encoded graph.
		UndecodableGraph,
		/// The opening bytes are not one SCALE-encoded opening.
		UndecodableOpening,
		/// The opening's proofs do not verify against the commitments (nothing was ruled).
		InvalidOpening,
		/// The model is not registered.
		UnknownModel,
		/// Too many response deadlines in the coming blocks.
		DeadlineQueueFull,
		/// No more dispute ids.
		Overflow,
		/// It is not the provider's turn: the challenger names the next element first.
		NotProvidersTurn,
		/// It is not the challenger's turn: the provider has not answered the last step.
		NotChallengersTurn,
		/// Only the dispute's challenger names the next element.
		NotTheChallenger,
		/// The named row is not one the provider's last answer opened.
		NotAnOpenedRow,
		/// The step's deadline has passed.
		StepTooLate,
		/// The task's trace root is not fixed yet: only the provider or its operator may give
		/// the first answer, which fixes it.
		NotTheProvider,
		/// A token-choice challenge of a task that is not a generation.
		NotAGeneration,
		/// The generation committed no token at that step.
		NoSuchStep,
		/// The rival is the committed token itself, or not a token of the model's vocabulary.
		BadRival,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn on_initialize(now: BlockNumberFor<T>) -> Weight {
			Self::settle_expired(now)
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Disputes element `(node, row, col)` of a committed task's trace, holding
		/// `ChallengerBond`.
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::challenge().saturating_add(T::Audits::max_challenged_weight()))]
		pub fn challenge(
			origin: OriginFor<T>,
			task: TaskId,
			node: u32,
			row: u32,
			col: u32,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_challenge(who, task, node, row, col)
		}

		/// Answers a dispute with the graph and the opening of the disputed element, each
		/// SCALE-encoded (`arbiter_primitives::{Graph, Opening}`); the runtime verifies it and
		/// rules. Both are bounded before decoding; the weight grows with the graph's bytes.
		/// While the task's trace root is not fixed, only the provider or its operator may
		/// answer, and an answer that is ruled fixes the root it proves against.
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::respond(graph.len() as u32)
			.saturating_add(T::Audits::max_disproven_weight()))]
		pub fn respond(
			origin: OriginFor<T>,
			dispute: DisputeId,
			graph: BoundedVec<u8, T::MaxGraphBytes>,
			opening: BoundedVec<u8, T::MaxOpeningBytes>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let graph = Graph::decode_all_with_depth_limit(DECODE_DEPTH, &mut &graph[..])
				.map_err(|_| Error::<T>::UndecodableGraph)?;
			let opening = Opening::decode_all_with_depth_limit(DECODE_DEPTH, &mut &opening[..])
				.map_err(|_| Error::<T>::UndecodableOpening)?;
			Self::do_respond(who, dispute, graph, opening)
		}

		/// The challenger names the next element of a descent: `(node, row)` one of the operand
		/// rows the provider's last answer opened, `col` a column of it. The provider must open
		/// it within `ResponseWindow`.
		#[pallet::call_index(3)]
		#[pallet::weight(T::WeightInfo::descend())]
		pub fn descend(
			origin: OriginFor<T>,
			dispute: DisputeId,
			node: u32,
			row: u32,
			col: u32,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_descend(who, dispute, ElementRef::new(node, row, col))
		}

		/// Disputes the token a generation task committed at `step`: the challenger says `rival`
		/// scores higher under the task's sampling, beyond the rounding band. Holds
		/// `ChallengerBond`; the provider answers with `respond` (docs/protocol.md, "Generation
		/// tasks").
		#[pallet::call_index(4)]
		#[pallet::weight(T::WeightInfo::challenge_token_choice()
			.saturating_add(T::Audits::max_challenged_weight()))]
		pub fn challenge_token_choice(
			origin: OriginFor<T>,
			task: TaskId,
			step: u32,
			rival: u32,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_challenge_token_choice(who, task, step, rival)
		}

		/// Settles a dispute whose move is overdue: the provider loses when it did not answer,
		/// the challenger when it did not name the next step. Anyone may call it (the hook
		/// normally does).
		#[pallet::call_index(2)]
		#[pallet::weight(T::WeightInfo::settle().saturating_add(T::Audits::max_disproven_weight()))]
		pub fn settle(origin: OriginFor<T>, dispute: DisputeId) -> DispatchResult {
			ensure_signed(origin)?;
			Self::do_settle(dispute)
		}
	}
}
