//! A test runtime whose accounts are sr25519 keys, a task list, and a fake engine behind the
//! inference host functions (the real engine is tested in `offchain-workers/inference`).

use crate as pallet_provider_worker;
use crate::{AssignedTask, AssignedTasks};
use arbiter_inference_interface::{InferenceError, InferenceHost, JobStatus};
use codec::Encode;
use frame_support::{derive_impl, traits::ConstU64};
use sp_core::sr25519::{Public, Signature};
use sp_runtime::{generic::UncheckedExtrinsic, traits::IdentityLookup};
use std::{
	cell::RefCell,
	collections::HashMap,
	sync::{Arc, Mutex},
};

type Block = frame_system::mocking::MockBlock<Test>;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		ProviderWorker: pallet_provider_worker,
	}
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
	type AccountId = Public;
	type Lookup = IdentityLookup<Public>;
}

pub type Extrinsic = UncheckedExtrinsic<u64, RuntimeCall, (), ()>;

impl frame_system::offchain::SigningTypes for Test {
	type Public = Public;
	type Signature = Signature;
}

impl<LocalCall> frame_system::offchain::CreateTransactionBase<LocalCall> for Test
where
	RuntimeCall: From<LocalCall>,
{
	type RuntimeCall = RuntimeCall;
	type Extrinsic = Extrinsic;
}

impl<LocalCall> frame_system::offchain::CreateSignedTransaction<LocalCall> for Test
where
	RuntimeCall: From<LocalCall>,
{
	fn create_signed_transaction<C: frame_system::offchain::AppCrypto<Self::Public, Self::Signature>>(
		call: RuntimeCall,
		_public: Public,
		_account: Public,
		nonce: u32,
	) -> Option<Extrinsic> {
		Some(Extrinsic::new_signed(call, nonce as u64, (), ()))
	}
}

thread_local! {
	/// Tasks waiting for a result, per operator.
	pub static TASKS: RefCell<Vec<(Public, AssignedTask)>> = const { RefCell::new(Vec::new()) };
}

/// The commit "call" in this runtime: a remark carrying (task, output, trace root).
pub fn commit_remark(task: u64, output: Vec<u8>, trace_root: [u8; 32]) -> RuntimeCall {
	RuntimeCall::System(frame_system::Call::remark { remark: (task, output, trace_root).encode() })
}

pub struct Tasks;
impl AssignedTasks<Public, RuntimeCall> for Tasks {
	fn awaiting_result(operator: &Public) -> Vec<AssignedTask> {
		TASKS.with(|t| t.borrow().iter().filter(|(o, _)| o == operator).map(|(_, a)| a.clone()).collect())
	}
	fn commit_call(task: u64, output: Vec<u8>, trace_root: [u8; 32]) -> Option<RuntimeCall> {
		(output.len() <= 64).then(|| commit_remark(task, output, trace_root))
	}
}

impl pallet_provider_worker::Config for Test {
	type OperatorKey = crate::crypto::OperatorAuthId;
	type Tasks = Tasks;
	type ResubmitAfter = ConstU64<5>;
}

/// A fake engine: `start_job` queues; the test finishes jobs with `finish`.
#[derive(Default)]
pub struct FakeEngine {
	pub jobs: Mutex<HashMap<u64, JobStatus>>,
	pub started: Mutex<Vec<(u64, [u8; 32], Vec<u8>)>>,
}

impl FakeEngine {
	pub fn finish(&self, task: u64, status: JobStatus) {
		self.jobs.lock().unwrap().insert(task, status);
	}
}

impl InferenceHost for FakeEngine {
	fn start_job(&self, task: u64, model_root: [u8; 32], input: Vec<u8>) -> Result<(), InferenceError> {
		self.started.lock().unwrap().push((task, model_root, input));
		self.jobs.lock().unwrap().entry(task).or_insert(JobStatus::Queued);
		Ok(())
	}
	fn job_status(&self, task: u64, _: [u8; 32]) -> JobStatus {
		self.jobs.lock().unwrap().get(&task).cloned().unwrap_or(JobStatus::Unknown)
	}
	fn opening(&self, _: u64, _: [u8; 32], _: u32, _: u32, _: u32) -> Result<Vec<u8>, InferenceError> {
		Err(InferenceError::Unavailable)
	}
}

pub fn engine() -> Arc<FakeEngine> {
	Arc::new(FakeEngine::default())
}
