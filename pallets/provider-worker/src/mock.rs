//! A test runtime whose accounts are sr25519 keys, a task list, and a fake engine behind the
//! inference host functions (the real engine is tested in `offchain-workers/inference`).

use crate as pallet_provider_worker;
use crate::{
	AssignedTask, AssignedTasks, DescentTurn, DisputeId, ElementRef, OpenDispute, ProviderDisputes,
	TaskId, WatchedTask, WatchedTasks,
};
use arbiter_inference_interface::{
	DescentRequest, DescentStep, InferenceError, InferenceHost, JobStatus, WatchRequest,
	WatchStatus,
};
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
	fn create_signed_transaction<
		C: frame_system::offchain::AppCrypto<Self::Public, Self::Signature>,
	>(
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
	/// Open disputes, per operator.
	pub static DISPUTES: RefCell<Vec<(Public, OpenDispute)>> = const { RefCell::new(Vec::new()) };
	/// Committed results in their window.
	pub static COMMITTED: RefCell<Vec<WatchedTask<Public>>> = const { RefCell::new(Vec::new()) };
	/// Descent steps waiting for a challenger.
	pub static DESCENTS: RefCell<Vec<(Public, DescentTurn)>> = const { RefCell::new(Vec::new()) };
	/// Results each operator was drawn to audit.
	pub static AUDITS: RefCell<Vec<(Public, arbiter_inference_interface::WatchRequest)>> = const { RefCell::new(Vec::new()) };
}

/// The descend "call": a remark carrying (dispute, node, row, col).
pub fn descend_remark(dispute: u64, node: u32, row: u32, col: u32) -> RuntimeCall {
	RuntimeCall::System(frame_system::Call::remark {
		remark: (b"descend", dispute, node, row, col).encode(),
	})
}

/// The respond "call" in this runtime: a remark carrying (dispute, graph, opening).
pub fn respond_remark(dispute: u64, graph: &[u8], opening: &[u8]) -> RuntimeCall {
	RuntimeCall::System(frame_system::Call::remark {
		remark: (b"respond", dispute, graph, opening).encode(),
	})
}

/// The challenge "call": a remark carrying (task, node, row, col).
pub fn challenge_remark(task: u64, node: u32, row: u32, col: u32) -> RuntimeCall {
	RuntimeCall::System(frame_system::Call::remark {
		remark: (b"challenge", task, node, row, col).encode(),
	})
}

/// The token-choice challenge "call" in this runtime: a remark carrying (task, step, rival).
pub fn token_choice_remark(task: u64, step: u32, rival: u32) -> RuntimeCall {
	RuntimeCall::System(frame_system::Call::remark {
		remark: (b"token-choice", task, step, rival).encode(),
	})
}

pub struct Disputes;
impl ProviderDisputes<Public, RuntimeCall> for Disputes {
	fn disputes_against(operator: &Public) -> Vec<OpenDispute> {
		DISPUTES.with(|d| {
			d.borrow()
				.iter()
				.filter(|(o, _)| o == operator)
				.map(|(_, d)| d.clone())
				.collect()
		})
	}
	fn respond_call(dispute: DisputeId, graph: &[u8], opening: &[u8]) -> Option<RuntimeCall> {
		(!graph.is_empty()).then(|| respond_remark(dispute, graph, opening))
	}
}

pub struct Watched;
impl WatchedTasks<Public, RuntimeCall> for Watched {
	fn challengeable() -> Vec<WatchedTask<Public>> {
		COMMITTED.with(|c| c.borrow().clone())
	}
	fn challenge_call(task: TaskId, element: ElementRef) -> RuntimeCall {
		challenge_remark(task, element.node, element.row, element.col)
	}
	fn token_choice_call(task: TaskId, step: u32, rival: u32) -> RuntimeCall {
		token_choice_remark(task, step, rival)
	}
	fn descents(challenger: &Public) -> Vec<DescentTurn> {
		DESCENTS.with(|d| {
			d.borrow()
				.iter()
				.filter(|(c, _)| c == challenger)
				.map(|(_, t)| t.clone())
				.collect()
		})
	}
	fn descend_call(dispute: DisputeId, element: ElementRef) -> RuntimeCall {
		descend_remark(dispute, element.node, element.row, element.col)
	}
}

/// The commit "call" in this runtime: a remark carrying (task, output, trace root).
pub fn commit_remark(task: u64, output: Vec<u8>, trace_root: Option<[u8; 32]>) -> RuntimeCall {
	RuntimeCall::System(frame_system::Call::remark { remark: (task, output, trace_root).encode() })
}

pub struct Tasks;
impl AssignedTasks<Public, RuntimeCall> for Tasks {
	fn awaiting_result(operator: &Public) -> Vec<AssignedTask> {
		TASKS.with(|t| {
			t.borrow()
				.iter()
				.filter(|(o, _)| o == operator)
				.map(|(_, a)| a.clone())
				.collect()
		})
	}
	fn commit_call(
		task: TaskId,
		output: Vec<u8>,
		trace_root: Option<[u8; 32]>,
	) -> Option<RuntimeCall> {
		(output.len() <= 64).then(|| commit_remark(task, output, trace_root))
	}
	fn open_tasks(operator: &Public) -> Vec<TaskId> {
		// Assigned tasks and those committed (still in the list, with a result): all of them.
		TASKS.with(|t| {
			t.borrow().iter().filter(|(o, _)| o == operator).map(|(_, a)| a.task).collect()
		})
	}
}

impl pallet_provider_worker::Config for Test {
	type OperatorKey = crate::crypto::OperatorAuthId;
	type Tasks = Tasks;
	type Disputes = Disputes;
	type Watched = Watched;
	type Audits = Audits;
	type ResubmitAfter = ConstU64<5>;
}

pub struct Audits;
impl crate::AuditDuties<Public, RuntimeCall> for Audits {
	fn audits_of(operator: &Public) -> Vec<arbiter_inference_interface::WatchRequest> {
		AUDITS.with(|a| {
			a.borrow()
				.iter()
				.filter(|(o, _)| o == operator)
				.map(|(_, r)| r.clone())
				.collect()
		})
	}
	fn attest_call(task: TaskId) -> RuntimeCall {
		attest_remark(task)
	}
}

/// The attest "call": a remark carrying the task.
pub fn attest_remark(task: u64) -> RuntimeCall {
	RuntimeCall::System(frame_system::Call::remark { remark: (b"attest", task).encode() })
}

/// A started job: task, model root, input.
pub type StartedJob = (TaskId, [u8; 32], Vec<u32>);

/// A fake engine: `start_job` queues; the test finishes jobs with `finish`. Openings of a
/// task exist once it is finished; watch results are set with `found`.
#[derive(Default)]
pub struct FakeEngine {
	pub jobs: Mutex<HashMap<u64, JobStatus>>,
	pub started: Mutex<Vec<StartedJob>>,
	pub watch_results: Mutex<HashMap<u64, WatchStatus>>,
	pub watched: Mutex<Vec<WatchRequest>>,
	/// Descent steps per task, and the requests the worker made.
	pub descent_steps: Mutex<HashMap<u64, DescentStep>>,
	pub descent_requests: Mutex<Vec<DescentRequest>>,
	/// The last set of tasks whose traces the worker asked to keep.
	pub retained: Mutex<Vec<u64>>,
	/// Whether this engine runs a watcher.
	pub watching: bool,
	/// Generation jobs started: task, prompt, request.
	pub generations: Mutex<Vec<(u64, Vec<u32>, arbiter_inference_interface::GenerationJob)>>,
}

impl FakeEngine {
	pub fn finish(&self, task: u64, status: JobStatus) {
		self.jobs.lock().unwrap().insert(task, status);
	}
}

impl InferenceHost for FakeEngine {
	fn start_job(
		&self,
		task: u64,
		model_root: [u8; 32],
		input: Vec<u32>,
	) -> Result<(), InferenceError> {
		self.started.lock().unwrap().push((task, model_root, input));
		self.jobs.lock().unwrap().entry(task).or_insert(JobStatus::Queued);
		Ok(())
	}
	fn job_status(&self, task: u64, _: [u8; 32]) -> JobStatus {
		self.jobs.lock().unwrap().get(&task).cloned().unwrap_or(JobStatus::Unknown)
	}
	fn opening(
		&self,
		task: u64,
		_: [u8; 32],
		node: u32,
		row: u32,
		col: u32,
	) -> Result<Vec<u8>, InferenceError> {
		match self.jobs.lock().unwrap().get(&task) {
			Some(JobStatus::Done { .. }) => Ok((task, node, row, col).encode()),
			_ => Err(InferenceError::Failed(b"no trace".to_vec())),
		}
	}
	fn graph(&self, model: [u8; 32]) -> Result<Vec<u8>, InferenceError> {
		Ok(model.to_vec())
	}
	fn start_generation(
		&self,
		task: u64,
		model_root: [u8; 32],
		prompt: Vec<u32>,
		job: arbiter_inference_interface::GenerationJob,
	) -> Result<(), InferenceError> {
		self.generations.lock().unwrap().push((task, prompt, job));
		self.jobs.lock().unwrap().entry(task).or_insert(JobStatus::Queued);
		let _ = model_root;
		Ok(())
	}
	fn token_choice_opening(
		&self,
		task: u64,
		_: [u8; 32],
		step: u32,
		rival: u32,
	) -> Result<Vec<u8>, InferenceError> {
		match self.jobs.lock().unwrap().get(&task) {
			Some(JobStatus::Done { .. }) => Ok((task, b"token", step, rival).encode()),
			_ => Err(InferenceError::Failed(b"no trace".to_vec())),
		}
	}
	fn retain(&self, tasks: Vec<u64>) {
		*self.retained.lock().unwrap() = tasks;
	}
	fn watch(&self, request: WatchRequest) -> Result<WatchStatus, InferenceError> {
		if !self.watching {
			return Err(InferenceError::Unavailable);
		}
		let task = request.task;
		self.watched.lock().unwrap().push(request);
		Ok(self
			.watch_results
			.lock()
			.unwrap()
			.get(&task)
			.cloned()
			.unwrap_or(WatchStatus::Running))
	}
	fn descend(&self, request: DescentRequest) -> Result<DescentStep, InferenceError> {
		if !self.watching {
			return Err(InferenceError::Unavailable);
		}
		let task = request.task;
		self.descent_requests.lock().unwrap().push(request);
		Ok(self
			.descent_steps
			.lock()
			.unwrap()
			.get(&task)
			.cloned()
			.unwrap_or(DescentStep::Running))
	}
}

impl FakeEngine {
	pub fn found(&self, task: u64, status: WatchStatus) {
		self.watch_results.lock().unwrap().insert(task, status);
	}
}

pub fn engine() -> Arc<FakeEngine> {
	Arc::new(FakeEngine::default())
}

pub fn watching_engine() -> Arc<FakeEngine> {
	Arc::new(FakeEngine { watching: true, ..Default::default() })
}
