//! # Task registry: models and tasks
//!
//! **Models.** A model is registered with the commitments the off-chain engine computes for it
//! (`descriptor_hash`, `model_root`, `tokenizer_hash`), its input/output spec, its widest row
//! (which bounds a dispute step) and its tolerance slack, against a deposit. Governance approves
//! it before tasks or providers may use it, and may retire it. The staking pallet sees approved
//! models through [`ModelCatalog`].
//!
//! **Tasks.** `submit_task` holds `max_fee` from the submitter and assigns a provider through the
//! staking pallet's selection (stake × reputation weighted) from on-chain randomness; the
//! provider's operator commits its output (and optionally its trace root, else fixed by its
//! first answer to a dispute) before `AssignmentTimeout`; the result is
//! final after `ChallengeWindow` blocks unless a dispute is open. Missed deadlines are slashed
//! and the task reassigned (at most `MaxReassignments` times), then refunded. Deadlines are
//! processed in `on_initialize` from a per-block queue (bounded work); `finalize` is a
//! permissionless fallback. Finished tasks are pruned after `RetentionPeriod`.
//!
//! **Randomness.** The assignment seed is `blake2_256(parent block hash ‖ task id ‖ attempt)`.
//! Aura has no VRF: the author of the block that includes a task knows the parent hash, so it
//! can predict the assignment and could withhold its block (losing its slot's reward and fees)
//! to re-roll it once per slot it owns. Bias is therefore bounded by an author's share of slots;
//! providers gain nothing from it unless they also author blocks.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;

#[cfg(feature = "runtime-benchmarks")]
mod benchmark_impls;
mod dispatchable_impls;
mod interface_impls;
pub mod runtime_api;
mod tick_impls;
pub mod types;
mod utility_impls;
pub mod weights;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_generation;
#[cfg(test)]
mod tests_tasks;

pub use arbiter_interface::{
	AuditHooks, CapacityAccounting, CommittedResult, DisputeSubject, ModelCatalog, ModelCommitment,
	ModelCommitments, Outcome, ProviderRegistry, ProviderSelection, ProviderSlashing,
	ReputationRecorder, TaskDisputes,
};
pub use types::*;
pub use weights::WeightInfo;

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use frame_support::{
		pallet_prelude::*,
		traits::fungible::{Inspect, InspectHold, Mutate, MutateHold},
	};
	use frame_system::pallet_prelude::*;
	use sp_core::H256;
	use sp_runtime::Perbill;

	/// Balance type of the currency deposits are held in.
	pub type BalanceOf<T> =
		<<T as Config>::Currency as Inspect<<T as frame_system::Config>::AccountId>>::Balance;
	/// A stored model.
	pub type ModelOf<T> = ModelInfo<
		<T as frame_system::Config>::AccountId,
		BalanceOf<T>,
		<T as Config>::MaxMetadataLen,
	>;
	/// A model to register.
	pub type ModelRegistrationOf<T> = ModelRegistration<<T as Config>::MaxMetadataLen>;
	/// A stored task.
	pub type TaskOf<T> = TaskInfo<
		<T as frame_system::Config>::AccountId,
		BalanceOf<T>,
		BlockNumberFor<T>,
		<T as Config>::MaxInputTokens,
		<T as Config>::MaxOutputLen,
	>;
	/// A task's status.
	pub type TaskStatusOf<T> = TaskStatus<
		<T as frame_system::Config>::AccountId,
		BalanceOf<T>,
		BlockNumberFor<T>,
		<T as Config>::MaxOutputLen,
	>;

	#[pallet::pallet]
	pub struct Pallet<T>(_);

	#[pallet::config(with_default)]
	pub trait Config: frame_system::Config {
		/// The hold reasons of this pallet, as the runtime aggregates them.
		#[pallet::no_default_bounds]
		type RuntimeHoldReason: From<HoldReason>;
		/// The currency deposits are held in.
		#[pallet::no_default]
		type Currency: Inspect<Self::AccountId>
			+ Mutate<Self::AccountId>
			+ InspectHold<Self::AccountId, Reason = Self::RuntimeHoldReason>
			+ MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>;
		/// Who approves and retires models (Root until the governance tracks land).
		#[pallet::no_default_bounds]
		type GovernanceOrigin: EnsureOrigin<Self::RuntimeOrigin>;
		/// Deposit held for a registered model.
		#[pallet::constant]
		#[pallet::no_default_bounds]
		type ModelDeposit: Get<BalanceOf<Self>>;
		/// Widest row a model may have (governable): a dispute step must fit a block.
		type MaxModelRowWidth: Get<u32>;
		/// Largest tolerance slack a model may register, as f32 bits (governable).
		type MaxToleranceSlackBits: Get<u32>;
		/// Longest metadata, in bytes.
		#[pallet::constant]
		type MaxMetadataLen: Get<u32>;
		/// The compute providers (the staking pallet): selection, capacity, reputation, slashing.
		#[pallet::no_default]
		type Providers: ProviderSelection<Self::AccountId, BalanceOf<Self>>
			+ CapacityAccounting<Self::AccountId>
			+ ReputationRecorder<Self::AccountId>
			+ ProviderSlashing<Self::AccountId, BalanceOf<Self>>
			+ ProviderRegistry<Self::AccountId>;
		/// Largest task output, in bytes (governable, at most `MaxOutputLen`).
		type MaxOutputBytes: Get<u32>;
		/// Most token ids a task input may have (the storage bound); a model's
		/// `max_input_tokens` is at most this.
		#[pallet::constant]
		type MaxInputTokens: Get<u32>;
		/// Storage bound on outputs.
		#[pallet::constant]
		type MaxOutputLen: Get<u32>;
		/// Blocks after a commitment during which a result can be challenged (governable).
		#[pallet::no_default_bounds]
		type ChallengeWindow: Get<BlockNumberFor<Self>>;
		/// Blocks an assigned provider has to commit (governable).
		#[pallet::no_default_bounds]
		type AssignmentTimeout: Get<BlockNumberFor<Self>>;
		/// Assignments after the first before a task is refunded (governable).
		type MaxReassignments: Get<u32>;
		/// Share of the price that goes to the treasury (governable).
		type ProtocolFee: Get<Perbill>;
		/// Share of a provider's stake slashed for a missed deadline.
		type MissedDeadlineSlash: Get<Perbill>;
		/// Receives protocol fees and deadline slashes.
		#[pallet::no_default_bounds]
		type TreasuryAccount: Get<Self::AccountId>;
		/// Hears every commit and finalization (the audits pallet; `()` for none).
		#[pallet::no_default_bounds]
		type Audits: AuditHooks<Self::AccountId, BalanceOf<Self>>;
		/// Blocks a finished task stays readable before it is pruned.
		#[pallet::constant]
		#[pallet::no_default_bounds]
		type RetentionPeriod: Get<BlockNumberFor<Self>>;
		/// Most deadlines queued for one block (bounds the hook's work).
		#[pallet::constant]
		type MaxDeadlinesPerBlock: Get<u32>;
		/// Weights of the calls.
		type WeightInfo: WeightInfo;
		/// Creates providers for the task benchmarks.
		#[cfg(feature = "runtime-benchmarks")]
		#[pallet::no_default]
		type BenchmarkHelper: BenchmarkHelper<Self::AccountId, BalanceOf<Self>>;
	}

	/// Config presets for `#[derive_impl]`.
	pub mod config_preludes {
		use super::*;
		use frame_support::{
			derive_impl,
			traits::{ConstU32, ConstU64},
		};

		/// Test runtimes (u64 accounts, balances and block numbers): Root governs, account 99
		/// is the treasury, short windows, small bounds.
		pub struct TestDefaultConfig;

		#[derive_impl(frame_system::config_preludes::TestDefaultConfig, no_aggregated_types)]
		impl frame_system::DefaultConfig for TestDefaultConfig {}

		#[frame_support::register_default_impl(TestDefaultConfig)]
		impl DefaultConfig for TestDefaultConfig {
			#[inject_runtime_type]
			type RuntimeHoldReason = ();
			type GovernanceOrigin = frame_system::EnsureRoot<u64>;
			type ModelDeposit = ConstU64<0>;
			type MaxModelRowWidth = ConstU32<4096>;
			/// 1e-5 as f32 bits.
			type MaxToleranceSlackBits = ConstU32<0x3727_c5ac>;
			type MaxMetadataLen = ConstU32<64>;
			type MaxOutputBytes = ConstU32<128>;
			type MaxInputTokens = ConstU32<64>;
			type MaxOutputLen = ConstU32<128>;
			type ChallengeWindow = ConstU64<10>;
			type AssignmentTimeout = ConstU64<5>;
			type MaxReassignments = ConstU32<0>;
			type ProtocolFee = ProtocolFee;
			type MissedDeadlineSlash = MissedDeadlineSlash;
			type TreasuryAccount = ConstU64<99>;
			type Audits = ();
			type RetentionPeriod = ConstU64<100>;
			type MaxDeadlinesPerBlock = ConstU32<8>;
			type WeightInfo = ();
		}

		frame_support::parameter_types! {
			pub const ProtocolFee: Perbill = Perbill::from_percent(10);
			pub const MissedDeadlineSlash: Perbill = Perbill::from_percent(1);
		}
	}

	/// Sets up what the task benchmarks need from other pallets.
	#[cfg(feature = "runtime-benchmarks")]
	pub trait BenchmarkHelper<AccountId, Balance> {
		/// A registered, active provider serving `model` at `price`; returns (provider, operator).
		fn provider(model: ModelId, index: u32, price: Balance) -> (AccountId, AccountId);
	}

	/// Why this pallet holds funds.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// Deposit for a registered model.
		#[codec(index = 0)]
		ModelDeposit,
		/// A task's `max_fee`, held until the task ends.
		#[codec(index = 1)]
		TaskEscrow,
	}

	/// The id the next registered model gets.
	#[pallet::storage]
	pub type NextModelId<T: Config> = StorageValue<_, ModelId, ValueQuery>;

	/// Registered models.
	#[pallet::storage]
	pub type Models<T: Config> = StorageMap<_, Twox64Concat, ModelId, ModelOf<T>>;

	/// The id the next task gets.
	#[pallet::storage]
	pub type NextTaskId<T: Config> = StorageValue<_, TaskId, ValueQuery>;

	/// Tasks, until pruned.
	#[pallet::storage]
	pub type Tasks<T: Config> = StorageMap<_, Twox64Concat, TaskId, TaskOf<T>>;

	/// Tasks whose deadline (assignment timeout, window end, retry) falls in a block.
	#[pallet::storage]
	pub type Deadlines<T: Config> = StorageMap<
		_,
		Twox64Concat,
		BlockNumberFor<T>,
		BoundedVec<TaskId, T::MaxDeadlinesPerBlock>,
		ValueQuery,
	>;

	/// Finished tasks to prune in a block.
	#[pallet::storage]
	pub type PruneQueue<T: Config> = StorageMap<
		_,
		Twox64Concat,
		BlockNumberFor<T>,
		BoundedVec<TaskId, T::MaxDeadlinesPerBlock>,
		ValueQuery,
	>;

	/// Open tasks of an operator (assigned or committed), for its off-chain worker.
	#[pallet::storage]
	pub type OperatorTasks<T: Config> =
		StorageDoubleMap<_, Blake2_128Concat, T::AccountId, Twox64Concat, TaskId, ()>;

	#[pallet::genesis_config]
	#[derive(frame_support::DefaultNoBound)]
	pub struct GenesisConfig<T: Config> {
		/// Models registered and approved at genesis, in id order from 0.
		pub models: alloc::vec::Vec<GenesisModel<T::AccountId>>,
	}

	#[pallet::genesis_build]
	impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
		fn build(&self) {
			for m in &self.models {
				// Same checks and deposit as `register_model`; a chain spec that breaks them must
				// not start (genesis panics are the chain-spec author's error, not an input's).
				let metadata = BoundedVec::try_from(m.metadata.clone())
					.expect("genesis model metadata exceeds MaxMetadataLen");
				let id = NextModelId::<T>::get();
				let io = IoSpec {
					input: InputKind::TokenIds { vocabulary: m.vocabulary },
					max_input_tokens: m.max_input_tokens,
					kind: m.kind,
				};
				let registration = ModelRegistration {
					descriptor_hash: m.descriptor_hash,
					model_root: m.model_root,
					tokenizer_hash: m.tokenizer_hash,
					io,
					max_row_width: m.max_row_width,
					slack_bits: m.slack_bits,
					metadata,
				};
				Pallet::<T>::do_register_model(m.owner.clone(), registration)
					.expect("genesis model refused by register_model's checks");
				Pallet::<T>::do_approve_model(id)
					.expect("a model registered at genesis is proposed");
			}
		}
	}

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A model was registered; it waits for approval.
		ModelRegistered {
			/// The model.
			model: ModelId,
			/// Who registered it (its deposit is held).
			owner: T::AccountId,
			/// Merkle root of the model's weights.
			model_root: H256,
		},
		/// Governance approved a model: tasks and providers may use it.
		ModelApproved {
			/// The model.
			model: ModelId,
		},
		/// Governance retired a model; its deposit went back to the owner.
		ModelRetired {
			/// The model.
			model: ModelId,
		},
		/// A task was submitted; `max_fee` is held.
		TaskSubmitted {
			/// The task.
			task: TaskId,
			/// Who submitted it.
			submitter: T::AccountId,
			/// The model.
			model: ModelId,
			/// The most it pays, held until the task ends.
			max_fee: BalanceOf<T>,
		},
		/// A provider was assigned; it must commit by `deadline`.
		TaskAssigned {
			/// The task.
			task: TaskId,
			/// The provider (its stake-holding account).
			provider: T::AccountId,
			/// Its operator key.
			operator: T::AccountId,
			/// The provider's price for it.
			price: BalanceOf<T>,
			/// Its price per generated token, on top (0 for a task that generates none).
			price_per_token: BalanceOf<T>,
			/// Last block a result is accepted in.
			deadline: BlockNumberFor<T>,
		},
		/// No provider could take the task now; assignment is retried at `retry_at`.
		TaskUnassigned {
			/// The task.
			task: TaskId,
			/// Block of the next assignment attempt.
			retry_at: BlockNumberFor<T>,
		},
		/// A result was committed; final after `window_end` unless challenged.
		ResultCommitted {
			/// The task.
			task: TaskId,
			/// The provider (its stake-holding account).
			provider: T::AccountId,
			/// The trace root, when the provider committed one with the output; otherwise its
			/// first answer to a dispute fixes it (`TraceRootFixed`).
			trace_root: Option<H256>,
			/// Last block a challenge is accepted in.
			window_end: BlockNumberFor<T>,
		},
		/// The provider's first answer to a dispute of the task fixed its trace root: every
		/// later answer is ruled against it.
		TraceRootFixed {
			/// The task.
			task: TaskId,
			/// The trace root.
			trace_root: H256,
		},
		/// The provider missed its deadline and was slashed `slashed`.
		DeadlineMissed {
			/// The task.
			task: TaskId,
			/// The provider (its stake-holding account).
			provider: T::AccountId,
			/// Stake slashed to the treasury.
			slashed: BalanceOf<T>,
		},
		/// The result is final: the provider got `paid`, the treasury `fee`, the submitter the
		/// rest back.
		TaskFinalized {
			/// The task.
			task: TaskId,
			/// The provider (its stake-holding account).
			provider: T::AccountId,
			/// Paid to the provider.
			paid: BalanceOf<T>,
			/// Paid to the treasury.
			fee: BalanceOf<T>,
			/// Returned to the submitter.
			refunded: BalanceOf<T>,
		},
		/// The task ended without a result; the escrow went back to the submitter.
		TaskRefunded {
			/// The task.
			task: TaskId,
			/// Who gets the escrow back.
			submitter: T::AccountId,
			/// The escrow returned.
			amount: BalanceOf<T>,
		},
		/// The submitter cancelled the task before assignment.
		TaskCancelled {
			/// The task.
			task: TaskId,
		},
		/// A dispute froze the task: it cannot finalize until every dispute on it is resolved.
		TaskFrozen {
			/// The task.
			task: TaskId,
		},
		/// The task's last open dispute ended in the provider's favour; challenges are accepted
		/// until `window_end`.
		TaskUnfrozen {
			/// The task.
			task: TaskId,
			/// Last block a challenge is accepted in.
			window_end: BlockNumberFor<T>,
		},
		/// A finished task was removed from storage.
		TaskPruned {
			/// The task.
			task: TaskId,
		},
	}

	#[pallet::error]
	pub enum Error<T> {
		/// No model with that id.
		UnknownModel,
		/// The model is not waiting for approval.
		NotProposed,
		/// The model is already retired.
		AlreadyRetired,
		/// The widest row exceeds `MaxModelRowWidth`, or is zero.
		RowWidthOutOfBounds,
		/// The slack is not a finite non-negative f32 at most `MaxToleranceSlackBits`.
		SlackOutOfBounds,
		/// The io spec has a zero width, vocabulary or token limit, a token limit above
		/// `MaxInputTokens`, or a vocabulary above 2^24 (`MAX_VOCABULARY`); or, for a
		/// generation model, no new token allowed, a token output larger than `MaxOutputBytes`,
		/// a context shorter than the longest prompt, or a stop token outside the vocabulary.
		BadIoSpec,
		/// The owner cannot hold the deposit.
		InsufficientBalance,
		/// No more ids, or an arithmetic overflow.
		Overflow,
		/// The model is not approved.
		ModelNotApproved,
		/// The input has no token ids or more than the model's `max_input_tokens`.
		BadInputLength,
		/// A token id is not below the model's vocabulary size.
		TokenIdOutOfRange,
		/// The output is empty or longer than `MaxOutputBytes`.
		BadOutputLength,
		/// The submitter cannot hold `max_fee`.
		CannotPayFee,
		/// No task with that id.
		UnknownTask,
		/// Only the submitter may do this.
		NotSubmitter,
		/// The task is already assigned (or past that): it can no longer be cancelled.
		AlreadyAssigned,
		/// The caller is not the operator assigned to the task.
		NotAssignedOperator,
		/// The task is not waiting for a result (already committed, or not assigned).
		NotAwaitingResult,
		/// The assignment deadline has passed.
		DeadlinePassed,
		/// The task is not committed with an elapsed window and no dispute.
		NotFinalizable,
		/// The task is not committed inside its challenge window.
		NotChallengeable,
		/// The task is not under dispute.
		NotDisputed,
		/// The task's trace root is already fixed.
		TraceRootFixed,
		/// Too many deadlines queued for the coming blocks.
		DeadlineQueueFull,
		/// The model does not take this kind of task (`submit_task` is for embedding models,
		/// `submit_generation` for generation models).
		WrongModelKind,
		/// No new token asked, more than the model's `max_new_tokens`, or the prompt and the
		/// new tokens past its `max_context`.
		BadNewTokens,
		/// The sampling temperature is not a finite positive f32.
		BadSampling,
		/// The committed tokens break the stop rule: none, more than asked, one outside the
		/// vocabulary, the stop token before the last, or fewer than asked without it last
		/// (or the output is not whole u32s).
		BadGeneratedTokens,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn on_initialize(now: BlockNumberFor<T>) -> Weight {
			Self::process_deadlines(now)
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Registers a model with its commitments, holding `ModelDeposit` from the caller.
		#[allow(clippy::too_many_arguments)]
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::register_model(metadata.len() as u32))]
		pub fn register_model(
			origin: OriginFor<T>,
			descriptor_hash: H256,
			model_root: H256,
			tokenizer_hash: H256,
			io: IoSpec,
			max_row_width: u32,
			slack_bits: u32,
			metadata: BoundedVec<u8, T::MaxMetadataLen>,
		) -> DispatchResult {
			let owner = ensure_signed(origin)?;
			let registration = ModelRegistration {
				descriptor_hash,
				model_root,
				tokenizer_hash,
				io,
				max_row_width,
				slack_bits,
				metadata,
			};
			Self::do_register_model(owner, registration)
		}

		/// Approves a proposed model (governance).
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::approve_model())]
		pub fn approve_model(origin: OriginFor<T>, model: ModelId) -> DispatchResult {
			T::GovernanceOrigin::ensure_origin(origin)?;
			Self::do_approve_model(model)
		}

		/// Retires a model (governance) and returns its deposit.
		#[pallet::call_index(2)]
		#[pallet::weight(T::WeightInfo::retire_model())]
		pub fn retire_model(origin: OriginFor<T>, model: ModelId) -> DispatchResult {
			T::GovernanceOrigin::ensure_origin(origin)?;
			Self::do_retire_model(model)
		}

		/// Submits the token ids `input` for `model`, holding `max_fee`; a provider is assigned
		/// at once if one is free. The ids must fit the model's io spec (1 to
		/// `max_input_tokens` ids, each below `vocabulary`): every accepted input runs.
		#[pallet::call_index(3)]
		#[pallet::weight(T::WeightInfo::submit_task(input.len() as u32))]
		pub fn submit_task(
			origin: OriginFor<T>,
			model: ModelId,
			input: BoundedVec<u32, T::MaxInputTokens>,
			max_fee: BalanceOf<T>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_submit_task(who, model, input, max_fee)
		}

		/// Submits a generation task: `prompt` (token ids) for generation model `model`, at most
		/// `max_new_tokens` new tokens chosen by `sampling` (greedy, or Gumbel-max with the
		/// submitter's seed and temperature), holding `max_fee` (it must cover a provider's
		/// price plus `max_new_tokens` at its price per token; the tokens committed are paid).
		#[pallet::call_index(7)]
		#[pallet::weight(T::WeightInfo::submit_generation(prompt.len() as u32))]
		pub fn submit_generation(
			origin: OriginFor<T>,
			model: ModelId,
			prompt: BoundedVec<u32, T::MaxInputTokens>,
			max_new_tokens: u32,
			sampling: TokenSampling,
			max_fee: BalanceOf<T>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_submit_generation(who, model, prompt, max_new_tokens, sampling, max_fee)
		}

		/// Cancels a task no provider has taken yet; the whole escrow goes back.
		#[pallet::call_index(4)]
		#[pallet::weight(T::WeightInfo::cancel_task())]
		pub fn cancel_task(origin: OriginFor<T>, task: TaskId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_cancel_task(who, task)
		}

		/// The assigned provider's operator commits the output and, optionally, the trace root.
		/// Without one, the provider's first answer to a dispute fixes it (docs/protocol.md,
		/// "The trace root is fixed when first needed"): a provider need not trace a run
		/// nobody challenges.
		#[pallet::call_index(5)]
		#[pallet::weight(T::WeightInfo::commit_result(output.len() as u32)
			.saturating_add(T::Audits::max_committed_weight()))]
		pub fn commit_result(
			origin: OriginFor<T>,
			task: TaskId,
			output: BoundedVec<u8, T::MaxOutputLen>,
			trace_root: Option<H256>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_commit_result(who, task, output, trace_root)
		}

		/// Finalizes a task whose window has passed without a dispute (anyone may call; the
		/// hook normally does it).
		#[pallet::call_index(6)]
		#[pallet::weight(T::WeightInfo::finalize().saturating_add(T::Audits::max_finalized_weight()))]
		pub fn finalize(origin: OriginFor<T>, task: TaskId) -> DispatchResult {
			ensure_signed(origin)?;
			Self::do_finalize_checked(task)
		}
	}
}
