//! The provider's block step: run assigned tasks on the engine, commit their results.

use alloc::vec::Vec;
use arbiter_inference_interface::{inference, InferenceError, JobStatus};
use codec::Encode;
use frame_support::traits::Get;
use frame_system::pallet_prelude::BlockNumberFor;

use crate::{
	send_once::{claim, key, operator_keys, send_signed},
	AssignedTasks, Config, Pallet, TaskId,
};

const LOG_TARGET: &str = "arbiter::provider";
const SENT_PREFIX: &[u8] = b"arbiter/provider/commit-sent/";

/// Key of the "commit sent at block" record of `task`.
pub(crate) fn sent_key(task: TaskId) -> Vec<u8> {
	key(SENT_PREFIX, task)
}

impl<T: Config> Pallet<T> {
	/// One block's work: start, poll and commit every task assigned to our operator keys, and
	/// keep the traces of every task still open.
	pub(crate) fn run_provider(now: BlockNumberFor<T>) {
		let keys = operator_keys::<T>();
		let open: Vec<TaskId> =
			keys.iter().flat_map(|(_, operator)| T::Tasks::open_tasks(operator)).collect();
		if inference::retain(&open) == Err(InferenceError::Unavailable) {
			return;
		}
		for (public, operator) in keys {
			for task in T::Tasks::awaiting_result(&operator) {
				match inference::job_status(task.task, task.model_root) {
					// No engine on this node: nothing to do, now or for other tasks.
					Err(InferenceError::Unavailable) => return,
					Err(e) => {
						log::warn!(target: LOG_TARGET, "task {}: engine error {:?}", task.task, e)
					},
					Ok(JobStatus::Unknown) => {
						let started = match &task.generation {
							Some(job) => inference::start_generation(
								task.task,
								task.model_root,
								&task.input,
								&job.encode(),
							),
							None => inference::start_job(task.task, task.model_root, &task.input),
						};
						match started {
							Ok(()) => {
								log::info!(target: LOG_TARGET, "task {}: job started", task.task)
							},
							Err(e) => {
								log::warn!(target: LOG_TARGET, "task {}: cannot start: {:?}", task.task, e)
							},
						}
					},
					Ok(JobStatus::Queued) | Ok(JobStatus::Running) => {},
					Ok(JobStatus::Done { output, trace_root }) =>
						Self::commit(now, &public, task.task, output, trace_root),
					Ok(JobStatus::Failed(reason)) => log::warn!(
						target: LOG_TARGET,
						"task {}: inference failed: {}; the task will time out and be reassigned",
						task.task,
						core::str::from_utf8(&reason).unwrap_or("?")
					),
				}
			}
		}
	}

	/// Sends `commit_result` signed by `public`, unless it was sent less than `ResubmitAfter`
	/// blocks ago.
	fn commit(
		now: BlockNumberFor<T>,
		public: &T::Public,
		task: TaskId,
		output: Vec<u8>,
		trace_root: Option<[u8; 32]>,
	) {
		let resubmit = T::ResubmitAfter::get();
		if !claim::<T>(&sent_key(task), now, Some(resubmit)) {
			return;
		}
		let Some(call) = T::Tasks::commit_call(task, output, trace_root) else {
			log::warn!(target: LOG_TARGET, "task {task}: the result does not fit a commit");
			return;
		};
		if send_signed::<T>(public, call) {
			match trace_root {
				Some(root) => {
					log::info!(target: LOG_TARGET, "task {task}: result committed (trace root 0x{})", hex32(&root))
				},
				None => {
					log::info!(target: LOG_TARGET, "task {task}: result committed (the trace root is fixed if challenged)")
				},
			}
		} else {
			log::warn!(target: LOG_TARGET, "task {task}: could not send the commit; retrying in {resubmit:?} blocks");
		}
	}
}

fn hex32(h: &[u8; 32]) -> alloc::string::String {
	use core::fmt::Write;
	let mut s = alloc::string::String::with_capacity(64);
	for b in h {
		let _ = write!(s, "{b:02x}");
	}
	s
}
