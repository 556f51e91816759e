//! Benchmarks: `attest` by an operator key of the last of `MaxAuditors` auditors; the draw of
//! `n` results of a model served by many providers, every one audited; finalization and a lost
//! dispute with `a` auditors (paid or slashed); a commit and a challenge heard.

use super::*;
use alloc::vec::Vec;
use frame_benchmarking::v2::*;
use frame_support::{traits::Get, BoundedVec};
use frame_system::RawOrigin;

use crate::pallet::{OpenAudits, PendingDraws};

/// Providers serving the benchmarks' model besides the committing one (the draw selects among
/// them by stake × reputation: its work grows with them).
const PROVIDERS: u32 = 64;

/// An open audit of a committed task by `a` of the extra providers, each with `status`; the
/// auditors with their operators.
fn audit_of<T: Config>(
	a: u32,
	status: AuditorStatus,
) -> (TaskId, Vec<(T::AccountId, T::AccountId)>) {
	let (tasks, providers) = T::BenchmarkHelper::committed_tasks(1, a.max(1));
	let task = tasks[0];
	let auditors: Vec<_> = providers.into_iter().take(a as usize).collect();
	let provider = T::Tasks::subject(task).map(|s| s.provider).expect("committed");
	OpenAudits::<T>::insert(
		task,
		Audit {
			provider,
			auditors: BoundedVec::truncate_from(
				auditors.iter().map(|(p, _)| (p.clone(), status)).collect::<Vec<_>>(),
			),
		},
	);
	(task, auditors)
}

use arbiter_interface::TaskDisputes;

#[benchmarks]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn attest() {
		let (task, auditors) = audit_of::<T>(T::MaxAuditors::get(), AuditorStatus::Drawn);
		let (auditor, operator) = auditors.last().cloned().expect("auditors");
		#[extrinsic_call]
		_(RawOrigin::Signed(operator), task);
		let audit = OpenAudits::<T>::get(task).expect("open");
		assert!(audit
			.auditors
			.iter()
			.any(|(a, s)| *a == auditor && *s == AuditorStatus::Attested));
	}

	#[benchmark]
	fn draw(n: Linear<0, { T::MaxDrawsPerBlock::get() }>) {
		T::BenchmarkHelper::audit_everything();
		let (tasks, _) = T::BenchmarkHelper::committed_tasks(n, PROVIDERS);
		assert_eq!(PendingDraws::<T>::get().len() as u32, n);
		#[block]
		{
			Pallet::<T>::draw_pending();
		}
		for task in tasks {
			assert!(OpenAudits::<T>::contains_key(task), "every result audited");
		}
	}

	#[benchmark]
	fn result_committed() {
		let (tasks, _) = T::BenchmarkHelper::committed_tasks(1, 1);
		// The queue one short of full.
		let mut pending = PendingDraws::<T>::get();
		while (pending.len() as u32) + 1 < T::MaxDrawsPerBlock::get() {
			let _ = pending.try_push(tasks[0]);
		}
		PendingDraws::<T>::put(pending);
		#[block]
		{
			<Pallet<T> as AuditHooks<_, _>>::result_committed(tasks[0]).expect("room");
		}
		assert_eq!(PendingDraws::<T>::get().len() as u32, T::MaxDrawsPerBlock::get());
	}

	#[benchmark]
	fn challenged() {
		let (task, auditors) = audit_of::<T>(T::MaxAuditors::get(), AuditorStatus::Drawn);
		let (auditor, operator) = auditors.last().cloned().expect("auditors");
		#[block]
		{
			<Pallet<T> as AuditHooks<_, _>>::challenged(task, &operator);
		}
		let audit = OpenAudits::<T>::get(task).expect("open");
		assert!(audit
			.auditors
			.iter()
			.any(|(a, s)| *a == auditor && *s == AuditorStatus::Challenged));
	}

	/// One auditor attested (paid), the others silent (slashed and jailed).
	#[benchmark]
	fn result_finalized(a: Linear<1, { T::MaxAuditors::get() }>) {
		let (task, _) = audit_of::<T>(a, AuditorStatus::Drawn);
		OpenAudits::<T>::mutate(task, |audit| {
			if let Some((_, s)) = audit.as_mut().and_then(|x| x.auditors.get_mut(0)) {
				*s = AuditorStatus::Attested;
			}
		});
		let price: BalanceOf<T> = 1_000_000u32.into();
		#[block]
		{
			<Pallet<T> as AuditHooks<_, _>>::result_finalized(task, price);
		}
		assert!(!OpenAudits::<T>::contains_key(task));
	}

	/// Every auditor attested: each is slashed.
	#[benchmark]
	fn result_disproven(a: Linear<1, { T::MaxAuditors::get() }>) {
		let (task, _) = audit_of::<T>(a, AuditorStatus::Attested);
		let challenger: T::AccountId = account("challenger", 0, 0);
		#[block]
		{
			<Pallet<T> as AuditHooks<_, _>>::result_disproven(task, &challenger);
		}
		assert!(!OpenAudits::<T>::contains_key(task));
	}

	impl_benchmark_test_suite!(
		Pallet,
		crate::mock::ExtBuilder::default().build(),
		crate::mock::Test
	);
}
