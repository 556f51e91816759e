//! Runtime API for the off-chain worker and clients: a task, the open tasks of an operator,
//! the tasks due in a range of blocks.

use alloc::vec::Vec;
use codec::Codec;

use crate::types::TaskId;

sp_api::decl_runtime_apis! {
	/// Read access to tasks.
	pub trait TaskRegistryApi<AccountId, BlockNumber, TaskRecord> where
		AccountId: Codec,
		BlockNumber: Codec,
		TaskRecord: Codec,
	{
		/// The task with id `task`, until pruned.
		fn task(task: TaskId) -> Option<TaskRecord>;
		/// Tasks assigned to or committed by `operator` that are still open.
		fn operator_tasks(operator: AccountId) -> Vec<TaskId>;
		/// Tasks with a deadline (timeout, window end, retry) in blocks `from..=to`
		/// (at most 1,024 blocks are scanned).
		fn tasks_due(from: BlockNumber, to: BlockNumber) -> Vec<TaskId>;
	}
}
