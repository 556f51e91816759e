//! Off-chain workers: how they sign transactions (operator keys, `arbi`) and the provider
//! worker, which runs assigned tasks on the node's engine and commits their results.

use alloc::vec::Vec;
use codec::Encode;
use frame_support::parameter_types;

use super::BlockHashCount;
use sp_runtime::{generic::Era, traits::Verify, SaturatedConversion};

use crate::{
	AccountId, Nonce, Runtime, RuntimeCall, Signature, SignedPayload, System, TaskRegistry,
	TxExtension, UncheckedExtrinsic,
};

impl frame_system::offchain::SigningTypes for Runtime {
	type Public = <Signature as Verify>::Signer;
	type Signature = Signature;
}

impl<LocalCall> frame_system::offchain::CreateTransactionBase<LocalCall> for Runtime
where
	RuntimeCall: From<LocalCall>,
{
	type RuntimeCall = RuntimeCall;
	type Extrinsic = UncheckedExtrinsic;
}

impl<LocalCall> frame_system::offchain::CreateSignedTransaction<LocalCall> for Runtime
where
	RuntimeCall: From<LocalCall>,
{
	fn create_signed_transaction<C: frame_system::offchain::AppCrypto<Self::Public, Self::Signature>>(
		call: RuntimeCall,
		public: <Signature as Verify>::Signer,
		account: AccountId,
		nonce: Nonce,
	) -> Option<UncheckedExtrinsic> {
		// Valid for the next BlockHashCount blocks (rounded to a power of two by Era).
		let period = BlockHashCount::get() as u64;
		let current = System::block_number().saturated_into::<u64>().saturating_sub(1);
		let extension: TxExtension = (
			frame_system::CheckNonZeroSender::<Runtime>::new(),
			frame_system::CheckSpecVersion::<Runtime>::new(),
			frame_system::CheckTxVersion::<Runtime>::new(),
			frame_system::CheckGenesis::<Runtime>::new(),
			frame_system::CheckEra::<Runtime>::from(Era::mortal(period, current)),
			frame_system::CheckNonce::<Runtime>::from(nonce),
			frame_system::CheckWeight::<Runtime>::new(),
			pallet_transaction_payment::ChargeTransactionPayment::<Runtime>::from(0),
			frame_metadata_hash_extension::CheckMetadataHash::<Runtime>::new(false),
		);
		let payload = SignedPayload::new(call, extension).ok()?;
		let signature = payload.using_encoded(|bytes| C::sign(bytes, public))?;
		let (call, extension, _) = payload.deconstruct();
		Some(UncheckedExtrinsic::new_signed(call, sp_runtime::MultiAddress::Id(account), signature, extension))
	}
}

/// Tasks assigned to an operator that still wait for its result, from the task registry.
pub struct RegistryTasks;
impl pallet_provider_worker::AssignedTasks<AccountId, RuntimeCall> for RegistryTasks {
	fn awaiting_result(operator: &AccountId) -> Vec<pallet_provider_worker::AssignedTask> {
		TaskRegistry::operator_tasks(operator)
			.into_iter()
			.filter_map(|id| {
				let task = pallet_task_registry::Tasks::<Runtime>::get(id)?;
				match &task.status {
					pallet_task_registry::TaskStatus::Assigned { operator: o, .. } if o == operator => {},
					_ => return None,
				}
				let model = TaskRegistry::model(task.model)?;
				Some(pallet_provider_worker::AssignedTask {
					task: id,
					model_root: model.model_root.0,
					input: task.input.into_inner(),
				})
			})
			.collect()
	}

	fn commit_call(task: u64, output: Vec<u8>, trace_root: [u8; 32]) -> Option<RuntimeCall> {
		Some(RuntimeCall::TaskRegistry(pallet_task_registry::Call::commit_result {
			task,
			output: output.try_into().ok()?,
			trace_root: trace_root.into(),
		}))
	}
}

parameter_types! {
	/// A commit not in a block after this many blocks is sent again.
	pub const ResubmitAfter: crate::BlockNumber = 5;
}

impl pallet_provider_worker::Config for Runtime {
	type OperatorKey = pallet_provider_worker::crypto::OperatorAuthId;
	type Tasks = RegistryTasks;
	type ResubmitAfter = ResubmitAfter;
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::{RuntimeOrigin, UNIT};
	use frame_support::{assert_ok, BoundedVec};
	use sp_runtime::traits::Dispatchable;
	use pallet_provider_worker::AssignedTasks;
	use sp_keyring::Sr25519Keyring;

	#[test]
	fn the_worker_sees_exactly_the_tasks_assigned_to_its_operator() {
		crate::tests::ext_from_preset("development").execute_with(|| {
			System::set_block_number(1);
			let (alice, ferdie) = (Sr25519Keyring::Alice.to_account_id(), Sr25519Keyring::Ferdie.to_account_id());
			crate::tests::approved_model_with_provider([4; 32], RuntimeOrigin::root());
			assert!(RegistryTasks::awaiting_result(&ferdie).is_empty());
			assert_ok!(TaskRegistry::submit_task(
				RuntimeOrigin::signed(alice.clone()),
				0,
				BoundedVec::try_from(b"hello".to_vec()).unwrap(),
				10 * UNIT,
			));
			let tasks = RegistryTasks::awaiting_result(&ferdie);
			assert_eq!(tasks, vec![pallet_provider_worker::AssignedTask { task: 0, model_root: [4; 32], input: b"hello".to_vec() }]);
			assert!(RegistryTasks::awaiting_result(&alice).is_empty());
			// The commit the worker sends is the operator's commit_result; once committed the
			// task no longer waits.
			let call = RegistryTasks::commit_call(0, vec![0u8; 1536], [7; 32]).unwrap();
			assert_ok!(call.dispatch(RuntimeOrigin::signed(ferdie.clone())));
			assert!(RegistryTasks::awaiting_result(&ferdie).is_empty());
			// An output over the storage bound cannot become a call.
			assert!(RegistryTasks::commit_call(0, vec![0u8; 64 * 1024 + 1], [7; 32]).is_none());
		});
	}
}
