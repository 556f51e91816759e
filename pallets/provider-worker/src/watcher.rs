//! The watcher's block step (`--watcher`): ask the engine to check every committed result in
//! its challenge window that none of this node's operators committed, and challenge the element
//! it finds, signed by this node's first operator key (the bond is held from that account).
//! A finding is keyed by the task AND its committed result (output and trace root: after a
//! reassignment the new provider's result is checked afresh). A challenge is sent once while it
//! stands on chain; one that did not land (dropped, refused) is sent again after `ResubmitAfter`
//! blocks; one that landed is never sent again for the same result, whatever its ruling (a
//! dispute the provider won must not cost a second bond).
//!
//! A generation is checked by its token choices: the engine names a step whose committed token
//! its own hidden row beats by more than the ruling's band, and the worker challenges that
//! choice (docs/protocol.md, "Watching generations"); if the provider's answer stands, the
//! dispute descends into the hidden row it opened, as below.
//!
//! When the provider's trace cannot be walked (its root is not fixed yet, or it withholds its
//! rows) the engine names an output element to challenge instead, and the worker then takes its
//! turns in the descent (docs/protocol.md, "Descent"): at each step it names the element the
//! engine picks among the rows the provider's last answer opened, once per step. Once the
//! provider's first answer has fixed its trace root, the engine walks the served rows against it;
//! an element they convict is challenged beside the descent (one answer ends both).

use alloc::vec::Vec;
use arbiter_inference_interface::{inference, DescentStep, InferenceError, WatchStatus};
use codec::{Decode, Encode};
use frame_support::traits::Get;
use frame_system::pallet_prelude::BlockNumberFor;
use sp_runtime::offchain::storage::StorageValueRef;

use crate::{
	send_once::{claim, key, operator_keys, result_key, send_signed},
	Config, ElementRef, Pallet, WatchedTasks,
};

const LOG_TARGET: &str = "arbiter::watcher";
const SENT_PREFIX: &[u8] = b"arbiter/watcher/challenge-sent/";
const DESCEND_PREFIX: &[u8] = b"arbiter/watcher/descend-sent/";
const LAST_SENT_PREFIX: &[u8] = b"arbiter/watcher/challenge-last-sent/";
const LANDED_PREFIX: &[u8] = b"arbiter/watcher/challenge-landed/";

/// What a watcher's challenge of a result disputes.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Encode, Decode)]
enum Subject {
	Element(ElementRef),
	TokenChoice { step: u32, rival: u32 },
}

impl<T: Config> Pallet<T> {
	/// One block's work: start or poll the checks, challenge what they found.
	pub(crate) fn run_watcher(now: BlockNumberFor<T>) {
		let keys = operator_keys::<T>();
		let Some((challenger, challenger_account)) = keys.first() else { return };
		let ours: Vec<&T::AccountId> = keys.iter().map(|(_, account)| account).collect();
		for watched in T::Watched::challengeable() {
			if ours.contains(&&watched.operator) {
				continue;
			}
			let task = watched.request.task;
			let mine = || watched.disputes.iter().filter(|(c, _)| c == challenger_account);
			let result_key = result_key(&watched.request);
			// The challenge of ours on this result that landed is never sent again once its
			// dispute has ended: one the provider won must not cost a second bond.
			let last_sent = key(LAST_SENT_PREFIX, result_key);
			if let Ok(Some(subject)) = StorageValueRef::persistent(&last_sent).get::<Subject>() {
				let on_chain = match subject {
					Subject::Element(element) => mine().any(|(_, e)| *e == element),
					// Sent only while none of ours was open; its descent moves its element.
					Subject::TokenChoice { .. } => mine().next().is_some(),
				};
				if on_chain {
					StorageValueRef::persistent(&key(LANDED_PREFIX, (result_key, subject)))
						.set(&true);
				}
			}
			let call = match inference::watch(&watched.request.encode()) {
				// No watcher on this node.
				Err(InferenceError::Unavailable) => return,
				Err(e) => {
					log::debug!(target: LOG_TARGET, "task {task}: not checked: {e:?}");
					continue;
				},
				Ok(
					status @ (WatchStatus::Fraud { node, row, col } |
					WatchStatus::Withheld { node, row, col }),
				) => {
					let element = ElementRef::new(node, row, col);
					let pending = match status {
						// A descent of ours is under way: it needs no second challenge.
						WatchStatus::Withheld { .. } => mine().next().is_some(),
						// A provable element found once the root was fixed (by the answer to
						// our descent's first challenge) is challenged beside the descent: one
						// answer convicts, and the descent is dismissed with its bond back.
						_ => mine().any(|(_, e)| *e == element),
					};
					if pending {
						continue;
					}
					(
						T::Watched::challenge_call(task, element),
						Subject::Element(element),
						alloc::format!("element ({node}, {row}, {col})"),
					)
				},
				// One token-choice dispute of ours at a time; its descent continues it.
				Ok(WatchStatus::TokenChoice { step, rival }) => {
					if mine().next().is_some() {
						continue;
					}
					(
						T::Watched::token_choice_call(task, step, rival),
						Subject::TokenChoice { step, rival },
						alloc::format!("the token at step {step} (rival {rival})"),
					)
				},
				Ok(_) => continue,
			};
			let (call, subject, what) = call;
			let landed_key = key(LANDED_PREFIX, (result_key, subject));
			if matches!(StorageValueRef::persistent(&landed_key).get::<bool>(), Ok(Some(true))) {
				continue;
			}
			if !claim::<T>(&key(SENT_PREFIX, result_key), now, Some(T::ResubmitAfter::get())) {
				continue;
			}
			StorageValueRef::persistent(&last_sent).set(&subject);
			if send_signed::<T>(challenger, call) {
				log::info!(target: LOG_TARGET, "task {task}: challenged {what}");
			} else {
				log::warn!(target: LOG_TARGET, "task {task}: could not send the challenge");
			}
		}
		Self::run_descents(now, challenger, challenger_account);
	}

	/// Names the next element of every descent waiting for this watcher.
	fn run_descents(
		now: BlockNumberFor<T>,
		challenger: &T::Public,
		challenger_account: &T::AccountId,
	) {
		for turn in T::Watched::descents(challenger_account) {
			let dispute = turn.dispute;
			let ElementRef { node, row, col } = match inference::descend(&turn.request.encode()) {
				Err(InferenceError::Unavailable) => return,
				Err(e) => {
					log::warn!(target: LOG_TARGET, "dispute {dispute}: no descent step: {e:?}");
					continue;
				},
				Ok(DescentStep::Running) => continue,
				Ok(DescentStep::Nothing(why)) => {
					log::warn!(target: LOG_TARGET, "dispute {dispute}: nothing to name: {}", alloc::string::String::from_utf8_lossy(&why));
					continue;
				},
				Ok(DescentStep::Next { node, row, col }) => ElementRef::new(node, row, col),
			};
			if !claim::<T>(
				&key(DESCEND_PREFIX, (dispute, turn.round)),
				now,
				Some(T::ResubmitAfter::get()),
			) {
				continue;
			}
			if send_signed::<T>(
				challenger,
				T::Watched::descend_call(dispute, ElementRef::new(node, row, col)),
			) {
				log::info!(target: LOG_TARGET, "dispute {dispute}: step {} names ({node}, {row}, {col})", turn.round + 1);
			} else {
				log::warn!(target: LOG_TARGET, "dispute {dispute}: could not send the descent step");
			}
		}
	}
}
