//! The watcher's block step (`--watcher`): ask the engine to check every committed result in
//! its challenge window that none of this node's operators committed, and challenge the element
//! it finds, signed by this node's first operator key (the bond is held from that account).
//! A finding is keyed by the task AND its committed trace root (after a reassignment the new
//! provider's result is checked afresh). A challenge is sent once while it stands on chain;
//! one that did not land (dropped, refused) is sent again after `ResubmitAfter` blocks.

use alloc::vec::Vec;
use arbiter_inference_interface::{inference, InferenceError, WatchStatus};
use codec::Encode;
use frame_support::traits::Get;
use frame_system::pallet_prelude::BlockNumberFor;

use crate::{
	send_once::{claim, key, operator_keys, send_signed},
	Config, ElementRef, Pallet, WatchedTasks,
};

const LOG_TARGET: &str = "arbiter::watcher";
const SENT_PREFIX: &[u8] = b"arbiter/watcher/challenge-sent/";

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
				Ok(WatchStatus::Fraud { node, row, col }) => {
					if watched.challengers.contains(challenger_account) {
						continue;
					}
					let sent_key = key(SENT_PREFIX, (task, watched.request.trace_root));
					if !claim::<T>(&sent_key, now, Some(T::ResubmitAfter::get())) {
						continue;
					}
					if send_signed::<T>(
						challenger,
						T::Watched::challenge_call(task, ElementRef::new(node, row, col)),
					) {
						log::info!(target: LOG_TARGET, "task {task}: challenged element ({node}, {row}, {col})");
					} else {
						log::warn!(target: LOG_TARGET, "task {task}: could not send the challenge");
					}
				},
				Ok(_) => {},
			}
		}
	}
}
