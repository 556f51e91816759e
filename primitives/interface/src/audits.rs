//! What the audits pallet offers the task registry and the challenges pallet (docs/protocol.md,
//! "Audits"): it hears of every commit (to draw auditors from randomness that does not exist yet),
//! of every dispute opened (a drawn auditor that challenges has done its audit), of every
//! finalization (attestations are paid, silence is penalised) and of every lost dispute (an
//! attestation of a wrong result is slashed).

use sp_runtime::{DispatchResult, Weight};

use crate::TaskId;

/// The task registry's and the challenges pallet's calls into the audits pallet. `()` does
/// nothing: a runtime without audits.
pub trait AuditHooks<AccountId, Balance> {
	/// A result of `task` was committed in this block: it is drawn for audit (or not) at the
	/// start of the next one. Fails when this block's draws are full (the commit is refused: no
	/// result escapes the draw).
	fn result_committed(task: TaskId) -> DispatchResult;
	/// `who` opened a dispute on `task`.
	fn challenged(task: TaskId, who: &AccountId);
	/// `task`'s result is final and its provider was paid for `price`: attesting auditors are
	/// paid, silent ones penalised. Returns the weight used.
	fn result_finalized(task: TaskId, price: Balance) -> Weight;
	/// `task`'s result was proven wrong by `challenger`'s dispute: auditors that attested it are
	/// slashed, and the audit ends. Returns the weight used.
	fn result_disproven(task: TaskId, challenger: &AccountId) -> Weight;
	/// Upper bounds of the above, for the callers' declared weights.
	fn max_committed_weight() -> Weight;
	fn max_challenged_weight() -> Weight;
	fn max_finalized_weight() -> Weight;
	fn max_disproven_weight() -> Weight;
}

impl<AccountId, Balance> AuditHooks<AccountId, Balance> for () {
	fn result_committed(_: TaskId) -> DispatchResult {
		Ok(())
	}
	fn challenged(_: TaskId, _: &AccountId) {}
	fn result_finalized(_: TaskId, _: Balance) -> Weight {
		Weight::zero()
	}
	fn result_disproven(_: TaskId, _: &AccountId) -> Weight {
		Weight::zero()
	}
	fn max_committed_weight() -> Weight {
		Weight::zero()
	}
	fn max_challenged_weight() -> Weight {
		Weight::zero()
	}
	fn max_finalized_weight() -> Weight {
		Weight::zero()
	}
	fn max_disproven_weight() -> Weight {
		Weight::zero()
	}
}
