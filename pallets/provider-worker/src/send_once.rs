//! Sending a signed transaction at most once per subject (a task's commit, a dispute's answer,
//! a task's challenge), across blocks, restarts and concurrent off-chain workers: the send is
//! recorded in persistent off-chain storage with an atomic compare-and-set.

use alloc::vec::Vec;
use codec::Encode;
use frame_system::{
	offchain::{AppCrypto, SendSignedTransaction, Signer},
	pallet_prelude::BlockNumberFor,
};
use sp_runtime::{
	offchain::storage::{MutateStorageError, StorageRetrievalError, StorageValueRef},
	traits::IdentifyAccount,
	RuntimeAppPublic, Saturating,
};

use crate::Config;

/// Offchain storage key of the record for `subject` under `prefix`.
pub(crate) fn key(prefix: &[u8], subject: impl Encode) -> Vec<u8> {
	let mut key = Vec::from(prefix);
	key.extend_from_slice(&subject.encode());
	key
}

/// What a send about a committed result is keyed by: the task and a hash of its output and
/// trace root (a reassigned task's new result, or a root fixed since, is another result).
pub(crate) fn result_key(request: &arbiter_inference_interface::WatchRequest) -> (u64, [u8; 32]) {
	let result = (&request.output, &request.trace_root);
	(request.task, sp_io::hashing::blake2_256(&result.encode()))
}

/// Claims the right to send now: `true` unless a send was recorded less than `again_after`
/// blocks ago (`None`: never again once sent).
pub(crate) fn claim<T: Config>(
	key: &[u8],
	now: BlockNumberFor<T>,
	again_after: Option<BlockNumberFor<T>>,
) -> bool {
	let record = StorageValueRef::persistent(key);
	let claimed =
		record.mutate(|sent: Result<Option<BlockNumberFor<T>>, StorageRetrievalError>| {
			match (sent, again_after) {
				(Ok(Some(_)), None) => Err(()),
				(Ok(Some(at)), Some(after)) if now < at.saturating_add(after) => Err(()),
				_ => Ok(now),
			}
		});
	match claimed {
		Ok(_) => true,
		Err(MutateStorageError::ValueFunctionFailed(())) |
		Err(MutateStorageError::ConcurrentModification(_)) => false,
	}
}

/// Sends `call` signed by `public`'s key; whether the pool took it.
pub(crate) fn send_signed<T: Config>(
	public: &T::Public,
	call: <T as frame_system::Config>::RuntimeCall,
) -> bool {
	let sent = Signer::<T, T::OperatorKey>::any_account()
		.with_filter(Vec::from([public.clone()]))
		.send_signed_transaction(|_| call.clone());
	matches!(sent, Some((_, Ok(()))))
}

/// This node's operator keys, each with its account.
pub(crate) fn operator_keys<T: Config>() -> Vec<(T::Public, T::AccountId)> {
	<<T::OperatorKey as AppCrypto<T::Public, T::Signature>>::RuntimeAppPublic as RuntimeAppPublic>::all()
		.into_iter()
		.map(|key| {
			let generic: <T::OperatorKey as AppCrypto<T::Public, T::Signature>>::GenericPublic = key.into();
			let public: T::Public = generic.into();
			let account = public.clone().into_account();
			(public, account)
		})
		.collect()
}
