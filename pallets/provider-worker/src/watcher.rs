//! The watcher's block step (`--watcher`): ask the engine to check every committed result in
//! its challenge window that none of this node's operators committed, and challenge the element
//! it finds, signed by this node's first operator key (the bond is held from that account).
//! A finding is keyed by the task AND its committed result (output and trace root: after a
//! reassignment the new provider's result is checked afresh). A challenge is sent once while it
//! stands on chain; one that did not land (dropped, refused) is sent again after `ResubmitAfter`
//! blocks.
//!
//! When the provider's trace cannot be walked (its root is not fixed yet, or it withholds its
//! rows) the engine names an output element to challenge instead, and the worker then takes its
//! turns in the descent (docs/protocol.md, "Descent"): at each step it names the element the
//! engine picks among the rows the provider's last answer opened, once per step. Once the
//! provider's first answer has fixed its trace root, the engine walks the served rows against it;
//! an element they convict is challenged beside the descent (one answer ends both).

use alloc::vec::Vec;
use arbiter_inference_interface::{inference, DescentStep, InferenceError, WatchStatus};
use codec::Encode;
use frame_support::traits::Get;
use frame_system::pallet_prelude::BlockNumberFor;

use crate::{
	send_once::{claim, key, operator_keys, send_signed},
	Config, ElementRef, Pallet, WatchedTasks,
};

const LOG_TARGET: &str = "arbiter::watcher";
const SENT_PREFIX: &[u8] = b"arbiter/watcher/challenge-sent/";
const DESCEND_PREFIX: &[u8] = b"arbiter/watcher/descend-sent/";

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
			match inference::watch(&watched.request.encode()) {
				// No watcher on this node.
				Err(InferenceError::Unavailable) => return,
				Err(e) => log::debug!(target: LOG_TARGET, "task {task}: not checked: {e:?}"),
				Ok(
					status @ (WatchStatus::Fraud { node, row, col } |
					WatchStatus::Withheld { node, row, col }),
				) => {
					let ours = || watched.disputes.iter().filter(|(c, _)| c == challenger_account);
					let element = ElementRef::new(node, row, col);
					let pending = match status {
						// A descent of ours is under way: it needs no second challenge.
						WatchStatus::Withheld { .. } => ours().next().is_some(),
						// A provable element found once the root was fixed (by the answer to
						// our descent's first challenge) is challenged beside the descent: one
						// answer convicts, and the descent is dismissed with its bond back.
						_ => ours().any(|(_, e)| *e == element),
					};
					if pending {
						continue;
					}
					let result = (&watched.request.output, &watched.request.trace_root);
					let sent_key =
						key(SENT_PREFIX, (task, sp_io::hashing::blake2_256(&result.encode())));
					if !claim::<T>(&sent_key, now, Some(T::ResubmitAfter::get())) {
						continue;
					}
					if send_signed::<T>(challenger, T::Watched::challenge_call(task, element)) {
						log::info!(target: LOG_TARGET, "task {task}: challenged element ({node}, {row}, {col})");
					} else {
						log::warn!(target: LOG_TARGET, "task {task}: could not send the challenge");
					}
				},
				Ok(_) => {},
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
