//! The auditor's block step (docs/protocol.md, "Audits"): for every result one of this node's
//! operators' providers was drawn to audit, ask the engine to check it (the watcher's check,
//! whatever the sample rate) and attest a clean one, once per result, signed by that operator.
//! A result the check finds wrong is challenged by the watcher's step ([`crate::watcher`]),
//! which reads the same finding: the challenges pallet then records the audit as done.

use arbiter_inference_interface::{inference, InferenceError, WatchStatus};
use codec::Encode;
use frame_support::traits::Get;
use frame_system::pallet_prelude::BlockNumberFor;

use crate::{
	send_once::{claim, key, operator_keys, result_key, send_signed},
	AuditDuties, Config, Pallet,
};

const LOG_TARGET: &str = "arbiter::auditor";
const ATTESTED_PREFIX: &[u8] = b"arbiter/auditor/attest-sent/";

impl<T: Config> Pallet<T> {
	/// One block's work: check every open audit of this node's operators; attest clean results.
	pub(crate) fn run_audits(now: BlockNumberFor<T>) {
		for (public, operator) in operator_keys::<T>() {
			for request in T::Audits::audits_of(&operator) {
				let task = request.task;
				match inference::watch(&request.encode()) {
					// No engine (or no watcher) on this node.
					Err(InferenceError::Unavailable) => return,
					Err(e) => log::debug!(target: LOG_TARGET, "task {task}: not checked: {e:?}"),
					Ok(WatchStatus::Clean) => {
						let sent = key(ATTESTED_PREFIX, result_key(&request));
						// Sent again if it did not land (the audit still lists us as drawn).
						if !claim::<T>(&sent, now, Some(T::ResubmitAfter::get())) {
							continue;
						}
						if send_signed::<T>(&public, T::Audits::attest_call(task)) {
							log::info!(target: LOG_TARGET, "task {task}: attested");
						} else {
							log::warn!(target: LOG_TARGET, "task {task}: could not send the attestation");
						}
					},
					Ok(status) =>
						log::debug!(target: LOG_TARGET, "task {task}: audit check {status:?}"),
				}
			}
		}
	}
}
