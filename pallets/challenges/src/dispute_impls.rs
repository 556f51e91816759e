//! Challenge, respond, settle.

use arbiter_interface::{
	DisputeSubject, DisputeTracking, ElementRef, ModelCommitments, ProviderSlashing, TaskDisputes,
	TaskId, TaskRequest,
};
use arbiter_primitives::{
	descent::{operand_rows, MAX_OPERAND_ROWS},
	encoding::{descriptor_hash, trace_root_of},
	token_choice::{
		tokens_of_output, verify_generation_element, verify_token_choice, GenerationCommitments,
	},
	verify_element, Fault, Graph, Opening, RegisteredModel, Ruling, TaskCommitments,
};
use frame_support::{
	ensure,
	pallet_prelude::*,
	storage::{with_transaction, TransactionOutcome},
	traits::{
		fungible::{Inspect, MutateHold},
		tokens::{Fortitude, Precision, Preservation, Restriction},
	},
};
use frame_system::pallet_prelude::BlockNumberFor;
use sp_runtime::{
	traits::{Saturating, UniqueSaturatedInto, Zero},
	Perbill,
};

use crate::{pallet::*, AuditHooks, WeightInfo};

/// The operand rows kept for a descent step.
type BoundedOperands<T> = BoundedVec<
	OperandRow<<T as Config>::MaxOperandWidth>,
	frame_support::traits::ConstU32<MAX_OPERAND_ROWS>,
>;

const QUEUE_SPILL: u32 = 8;

impl<T: Config> Pallet<T> {
	fn bond_reason() -> T::RuntimeHoldReason {
		HoldReason::ChallengerBond.into()
	}

	pub(crate) fn do_challenge(
		who: T::AccountId,
		task: TaskId,
		node: u32,
		row: u32,
		col: u32,
	) -> DispatchResult {
		let element = ElementRef::new(node, row, col);
		let subject = T::Tasks::subject(task).ok_or(Error::<T>::NotChallengeable)?;
		ensure!(T::Models::commitment(subject.model).is_some(), Error::<T>::UnknownModel);
		let (dispute, deadline) =
			Self::open_dispute(who.clone(), task, subject, element, Claim::Element)?;
		Self::deposit_event(Event::Challenged {
			dispute,
			task,
			challenger: who,
			element,
			deadline,
		});
		Ok(())
	}

	pub(crate) fn do_challenge_token_choice(
		who: T::AccountId,
		task: TaskId,
		step: u32,
		rival: u32,
	) -> DispatchResult {
		let subject = T::Tasks::subject(task).ok_or(Error::<T>::NotChallengeable)?;
		let model = T::Models::commitment(subject.model).ok_or(Error::<T>::UnknownModel)?;
		let committed = T::Tasks::committed_result(task).ok_or(Error::<T>::NotChallengeable)?;
		ensure!(
			matches!(committed.request, TaskRequest::Generation { .. }),
			Error::<T>::NotAGeneration
		);
		// The committed token at `step` (u32 little-endian in the output).
		let at = (step as usize).checked_mul(4).ok_or(Error::<T>::NoSuchStep)?;
		let chosen = committed
			.output
			.get(at..at.saturating_add(4))
			.and_then(|b| b.try_into().ok())
			.map(u32::from_le_bytes)
			.ok_or(Error::<T>::NoSuchStep)?;
		ensure!(rival != chosen && rival < model.vocabulary, Error::<T>::BadRival);
		let claim = Claim::TokenChoice { step, rival };
		let (dispute, deadline) =
			Self::open_dispute(who.clone(), task, subject, ElementRef::new(0, 0, 0), claim)?;
		Self::deposit_event(Event::TokenChoiceChallenged {
			dispute,
			task,
			challenger: who,
			step,
			rival,
			deadline,
		});
		Ok(())
	}

	/// Holds the bond, freezes the task and opens a dispute of `claim` (at `element`) on `task`,
	/// whose `subject` and model the caller has checked.
	fn open_dispute(
		who: T::AccountId,
		task: TaskId,
		subject: DisputeSubject<T::AccountId>,
		element: ElementRef,
		claim: Claim,
	) -> Result<(DisputeId, BlockNumberFor<T>), DispatchError> {
		let bond = T::ChallengerBond::get();
		let holdable =
			T::Currency::reducible_balance(&who, Preservation::Preserve, Fortitude::Polite);
		ensure!(holdable >= bond, Error::<T>::InsufficientBond);
		let id = NextDisputeId::<T>::get();
		let next = id.checked_add(1).ok_or(Error::<T>::Overflow)?;
		let now = frame_system::Pallet::<T>::block_number();
		let deadline = with_transaction(|| {
			let r = (|| -> Result<BlockNumberFor<T>, DispatchError> {
				OpenDisputes::<T>::try_mutate(task, |open| open.try_push(id))
					.map_err(|_| Error::<T>::TooManyDisputes)?;
				T::Currency::hold(&Self::bond_reason(), &who, bond)?;
				T::Tasks::freeze(task)?;
				T::Providers::dispute_opened(&subject.provider)?;
				Self::schedule(id, now)
			})();
			match r {
				Ok(d) => TransactionOutcome::Commit(Ok(d)),
				Err(e) => TransactionOutcome::Rollback(Err(e)),
			}
		})?;
		NextDisputeId::<T>::put(next);
		// A drawn auditor that challenges has done its audit (docs/protocol.md, "Audits").
		T::Audits::challenged(task, &who);
		Disputes::<T>::insert(
			id,
			Dispute {
				task,
				challenger: who,
				provider: subject.provider,
				bond,
				element,
				claim,
				round: 0,
				turn: Turn::Provider,
				deadline,
				model: subject.model,
				operator: subject.operator,
			},
		);
		Ok((id, deadline))
	}

	/// Queues dispute `id`'s next deadline: `ResponseWindow` blocks after `now` (later if
	/// that block's queue is full). Returns the last block the move is accepted in.
	fn schedule(id: DisputeId, now: BlockNumberFor<T>) -> Result<BlockNumberFor<T>, DispatchError> {
		// Settled one block after the last block the move is accepted in.
		let due = now.saturating_add(T::ResponseWindow::get()).saturating_add(1u32.into());
		let queued = Self::enqueue(id, due).ok_or(Error::<T>::DeadlineQueueFull)?;
		Ok(queued.saturating_sub(1u32.into()))
	}

	/// The deadline of a move in a descent: `ResponseWindow` blocks after `now`, queued for the
	/// hook where a queue has room. A move never fails for a full queue (a challenger could fill
	/// queues to make an honest answer fail): without an entry, `settle` ends it when overdue.
	fn schedule_move(id: DisputeId, now: BlockNumberFor<T>) -> BlockNumberFor<T> {
		let deadline = now.saturating_add(T::ResponseWindow::get());
		let _ = Self::enqueue(id, deadline.saturating_add(1u32.into()));
		deadline
	}

	/// Queues `id` for the hook in block `from`, or in one of the `QUEUE_SPILL` blocks after it
	/// when that one is full. Returns the block it went into; `None` when all were full.
	fn enqueue(id: DisputeId, from: BlockNumberFor<T>) -> Option<BlockNumberFor<T>> {
		let mut block = from;
		for _ in 0..=QUEUE_SPILL {
			if ResponseDeadlines::<T>::mutate(block, |q| q.try_push(id).is_ok()) {
				return Some(block);
			}
			block = block.saturating_add(1u32.into());
		}
		None
	}

	pub(crate) fn do_respond(
		who: T::AccountId,
		id: DisputeId,
		graph: Graph,
		opening: Opening,
	) -> DispatchResult {
		let dispute = Disputes::<T>::get(id).ok_or(Error::<T>::UnknownDispute)?;
		let now = frame_system::Pallet::<T>::block_number();
		ensure!(dispute.turn == Turn::Provider, Error::<T>::NotProvidersTurn);
		ensure!(now <= dispute.deadline, Error::<T>::ResponseTooLate);
		let model = T::Models::commitment(dispute.model).ok_or(Error::<T>::UnknownModel)?;
		ensure!(descriptor_hash(&graph) == model.descriptor_hash, Error::<T>::GraphMismatch);
		let committed =
			T::Tasks::committed_result(dispute.task).ok_or(Error::<T>::UnknownDispute)?;
		let registered = RegisteredModel {
			graph: &graph,
			model_root: &model.model_root,
			slack: f32::from_bits(model.slack_bits),
			max_row_width: model.max_row_width,
		};
		// A root not fixed yet is the one this answer proves against, and only the provider's
		// side may fix it: anyone else could fix a trace the provider cannot open
		// (docs/protocol.md, "The trace root is fixed when first needed").
		let (trace_root, fixes_root) = match committed.trace_root {
			Some(root) => (root.0, false),
			None => {
				ensure!(
					who == dispute.operator || who == dispute.provider,
					Error::<T>::NotTheProvider
				);
				(trace_root_of(opening.seq_len, &opening.trace_tree_root), true)
			},
		};
		let element = (dispute.element.node, dispute.element.row, dispute.element.col);
		// Rulings: docs/protocol.md, "Rulings"; a won step descends ("Descent").
		let verdict = match (dispute.claim, committed.request) {
			(Claim::Element, TaskRequest::Embedding) => {
				let task = TaskCommitments {
					trace_root: &trace_root,
					output: &committed.output,
					input: &committed.input,
				};
				verify_element(&registered, &task, element, &opening)
			},
			// A generation's output is its tokens (whole u32s: the registry checked them at
			// commit); its trace is of the prompt and the tokens (docs/protocol.md, "Generation
			// tasks").
			(claim, TaskRequest::Generation { sampling, .. }) => {
				let tokens = tokens_of_output(&committed.output).unwrap_or_default();
				let task = GenerationCommitments {
					trace_root: &trace_root,
					prompt: &committed.input,
					tokens: &tokens,
					sampling,
				};
				match claim {
					Claim::Element =>
						verify_generation_element(&registered, &task, element, &opening),
					Claim::TokenChoice { step, rival } =>
						verify_token_choice(&registered, &task, step, rival, &opening),
				}
			},
			// Opened only on generation tasks.
			(Claim::TokenChoice { .. }, TaskRequest::Embedding) =>
				return Err(Error::<T>::NotAGeneration.into()),
		};
		let ruling = verdict.ruling();
		if fixes_root && ruling != Ruling::Refused {
			T::Tasks::fix_trace_root(dispute.task, sp_core::H256(trace_root))?;
		}
		match ruling {
			Ruling::ProviderWins => {
				let operands = match dispute.claim {
					Claim::Element => Self::operands_opened(&graph, &opening),
					// The hidden row the logits were read from: a descent continues into it.
					Claim::TokenChoice { .. } => Self::hidden_row_opened(&opening),
				};
				if operands.is_empty() {
					// Only inputs and weights below: nothing left to name.
					return Self::provider_won(id, dispute);
				}
				Self::await_step(id, dispute, operands, now)
			},
			Ruling::ProviderLoses(Fault::OutsideBound) =>
				Self::provider_lost(id, dispute, LossReason::OutsideBound),
			Ruling::ProviderLoses(Fault::InvalidCommittedData) =>
				Self::provider_lost(id, dispute, LossReason::InvalidCommittedData),
			Ruling::ProviderLoses(Fault::OutputMismatch) =>
				Self::provider_lost(id, dispute, LossReason::OutputMismatch),
			Ruling::ProviderLoses(Fault::InputMismatch) =>
				Self::provider_lost(id, dispute, LossReason::InputMismatch),
			Ruling::Refused => Err(Error::<T>::InvalidOpening.into()),
		}
	}

	/// The operand rows of a verified answer that a descent may name next, with their values:
	/// the trace rows of computed nodes the element reads (inputs are the task's, weights the
	/// model's: neither can be wrong).
	fn operands_opened(graph: &Graph, opening: &Opening) -> BoundedOperands<T> {
		let graph = graph.instantiate(opening.seq_len);
		let rows = operand_rows(&graph, opening.node, opening.row, opening.col).unwrap_or_default();
		let mut out = BoundedOperands::<T>::default();
		for (node, row) in rows.into_iter().filter(|(node, _)| !graph.is_input(*node)) {
			let values = opening
				.trace_rows
				.iter()
				.filter(|o| o.id == node)
				.find_map(|o| o.rows.get(row.checked_sub(o.first_row)? as usize));
			// A verified answer opens every row it reads, each at most the registry's widest.
			let Some(values) = values.and_then(|v| BoundedVec::try_from(v.clone()).ok()) else {
				continue;
			};
			let _ = out.try_push(OperandRow { node, row, values });
		}
		out
	}

	/// The hidden row a token-choice answer within the band opened (its one trace row).
	fn hidden_row_opened(opening: &Opening) -> BoundedOperands<T> {
		let mut out = BoundedOperands::<T>::default();
		let hidden = opening
			.trace_rows
			.first()
			.and_then(|o| Some((o.id, o.first_row, o.rows.first()?)));
		if let Some((node, row, values)) = hidden {
			if let Ok(values) = BoundedVec::try_from(values.clone()) {
				let _ = out.try_push(OperandRow { node, row, values });
			}
		}
		out
	}

	/// The provider's answer was within the bound: the challenger's turn.
	fn await_step(
		id: DisputeId,
		mut dispute: DisputeOf<T>,
		operands: BoundedOperands<T>,
		now: BlockNumberFor<T>,
	) -> DispatchResult {
		let deadline = Self::schedule_move(id, now);
		dispute.turn = Turn::Challenger;
		dispute.deadline = deadline;
		OpenedOperands::<T>::insert(id, operands);
		Self::deposit_event(Event::Answered {
			dispute: id,
			task: dispute.task,
			round: dispute.round,
			deadline,
		});
		Disputes::<T>::insert(id, dispute);
		Ok(())
	}

	pub(crate) fn do_descend(who: T::AccountId, id: DisputeId, next: ElementRef) -> DispatchResult {
		let mut dispute = Disputes::<T>::get(id).ok_or(Error::<T>::UnknownDispute)?;
		ensure!(who == dispute.challenger, Error::<T>::NotTheChallenger);
		ensure!(dispute.turn == Turn::Challenger, Error::<T>::NotChallengersTurn);
		let now = frame_system::Pallet::<T>::block_number();
		ensure!(now <= dispute.deadline, Error::<T>::StepTooLate);
		let opened = OpenedOperands::<T>::get(id).unwrap_or_default();
		let row = opened
			.iter()
			.find(|o| o.node == next.node && o.row == next.row)
			.ok_or(Error::<T>::NotAnOpenedRow)?;
		ensure!((next.col as usize) < row.values.len(), Error::<T>::BadElement);
		let round = dispute.round.checked_add(1).ok_or(Error::<T>::Overflow)?;
		let deadline = Self::schedule_move(id, now);
		OpenedOperands::<T>::remove(id);
		dispute.element = next;
		// A descent from a token choice disputes an element of the hidden row from now on.
		dispute.claim = Claim::Element;
		dispute.round = round;
		dispute.turn = Turn::Provider;
		dispute.deadline = deadline;
		Self::deposit_event(Event::Descended {
			dispute: id,
			task: dispute.task,
			round,
			element: next,
			deadline,
		});
		Disputes::<T>::insert(id, dispute);
		Ok(())
	}

	pub(crate) fn do_settle(id: DisputeId) -> DispatchResult {
		let dispute = Disputes::<T>::get(id).ok_or(Error::<T>::UnknownDispute)?;
		let now = frame_system::Pallet::<T>::block_number();
		ensure!(now > dispute.deadline, Error::<T>::ResponseWindowOpen);
		Self::overdue(id, dispute)
	}

	/// Whoever's move is overdue loses.
	fn overdue(id: DisputeId, dispute: DisputeOf<T>) -> DispatchResult {
		match dispute.turn {
			Turn::Provider => Self::provider_lost(id, dispute, LossReason::NoResponse),
			Turn::Challenger => Self::provider_won(id, dispute),
		}
	}

	fn close(id: DisputeId, dispute: &DisputeOf<T>) {
		Disputes::<T>::remove(id);
		OpenedOperands::<T>::remove(id);
		OpenDisputes::<T>::mutate_exists(dispute.task, |open| {
			if let Some(list) = open {
				list.retain(|d| *d != id);
				if list.is_empty() {
					*open = None;
				}
			}
		});
		T::Providers::dispute_closed(&dispute.provider);
	}

	/// Closes the task's other open disputes without a ruling, their bonds back in full.
	fn dismiss_others(task: TaskId) -> DispatchResult {
		for other in OpenDisputes::<T>::take(task) {
			let Some(d) = Disputes::<T>::take(other) else { continue };
			OpenedOperands::<T>::remove(other);
			T::Currency::release(&Self::bond_reason(), &d.challenger, d.bond, Precision::Exact)?;
			T::Providers::dispute_closed(&d.provider);
			Self::deposit_event(Event::DisputeDismissed {
				dispute: other,
				task,
				challenger: d.challenger,
				bond: d.bond,
			});
		}
		Ok(())
	}

	fn provider_won(id: DisputeId, dispute: DisputeOf<T>) -> DispatchResult {
		let reason = Self::bond_reason();
		let to_provider = T::ChallengerRewardShare::get().mul_floor(dispute.bond);
		let to_treasury = dispute.bond.saturating_sub(to_provider);
		for (to, amount) in
			[(&dispute.provider, to_provider), (&T::TreasuryAccount::get(), to_treasury)]
		{
			if !amount.is_zero() {
				T::Currency::transfer_on_hold(
					&reason,
					&dispute.challenger,
					to,
					amount,
					Precision::Exact,
					Restriction::Free,
					Fortitude::Force,
				)?;
			}
		}
		Self::close(id, &dispute);
		let reopen_for: u32 = T::ResponseWindow::get().unique_saturated_into();
		T::Tasks::resolve(dispute.task, true, reopen_for)?;
		Self::deposit_event(Event::ProviderWon {
			dispute: id,
			task: dispute.task,
			bond_to_provider: to_provider,
			bond_to_treasury: to_treasury,
		});
		Ok(())
	}

	fn provider_lost(id: DisputeId, dispute: DisputeOf<T>, why: LossReason) -> DispatchResult {
		let share = T::ChallengerRewardShare::get();
		let rest = Perbill::one().saturating_sub(share);
		let beneficiaries =
			[(dispute.challenger.clone(), share), (T::TreasuryAccount::get(), rest)];
		let slashed =
			T::Providers::slash(&dispute.provider, T::SlashFraction::get(), &beneficiaries)?;
		T::Currency::release(
			&Self::bond_reason(),
			&dispute.challenger,
			dispute.bond,
			Precision::Exact,
		)?;
		Self::close(id, &dispute);
		Self::dismiss_others(dispute.task)?;
		// Auditors that attested the result answer for it (docs/protocol.md, "Audits").
		T::Audits::result_disproven(dispute.task, &dispute.challenger);
		T::Tasks::resolve(dispute.task, false, 0)?;
		Self::deposit_event(Event::ProviderLost {
			dispute: id,
			task: dispute.task,
			reason: why,
			slashed,
		});
		Ok(())
	}

	/// The hook: disputes whose response window ended without a valid answer.
	pub(crate) fn settle_expired(now: BlockNumberFor<T>) -> Weight {
		let due = ResponseDeadlines::<T>::take(now);
		let mut found = 0u32;
		for id in due.iter() {
			// A dispute whose move was made is queued again for its next deadline: only an
			// entry for its current deadline settles it.
			if let Some(dispute) = Disputes::<T>::get(id).filter(|d| d.deadline < now) {
				found = found.saturating_add(1);
				// All or nothing per dispute: one that cannot settle changes nothing.
				let _ = with_transaction(|| match Self::overdue(*id, dispute) {
					Ok(()) => TransactionOutcome::Commit(Ok::<(), DispatchError>(())),
					Err(e) => TransactionOutcome::Rollback(Err(e)),
				});
			}
		}
		// `on_initialize(d)` is measured with one dispute to settle among `d` entries (the worst
		// ruling: slash, dismissals, reassignment over the most providers); every further dispute
		// found costs a `settle`.
		let further = T::WeightInfo::settle().saturating_mul(found.saturating_sub(1) as u64);
		T::WeightInfo::on_initialize(due.len() as u32)
			.saturating_add(further)
			.saturating_add(T::Audits::max_disproven_weight().saturating_mul(found as u64))
	}

	/// Bonds held == open disputes' bonds, for every challenger (try-runtime and tests).
	pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
		use frame_support::traits::fungible::InspectHold;
		for (id, d) in Disputes::<T>::iter() {
			let expected = Disputes::<T>::iter_values()
				.filter(|x| x.challenger == d.challenger)
				.fold(BalanceOf::<T>::zero(), |acc, x| acc.saturating_add(x.bond));
			ensure!(
				T::Currency::balance_on_hold(&Self::bond_reason(), &d.challenger) == expected,
				"bonds differ from holds"
			);
			ensure!(OpenDisputes::<T>::get(d.task).contains(&id), "dispute index broken");
			ensure!(
				T::Tasks::committed_result(d.task).is_some(),
				"a disputed task is no longer committed"
			);
		}
		Ok(())
	}
}
