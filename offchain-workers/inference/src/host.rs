//! The engine as the node registers it behind the inference host functions: the job service
//! (provider: run, poll, open) and, with `--watcher`, the watcher.

use arbiter_inference_interface::{
	DescentRequest, DescentStep, GenerationJob, InferenceError, InferenceHost,
	JobStatus as HostJobStatus, WatchRequest, WatchStatus,
};
use codec::Encode;

use crate::{
	jobs::{GenerationRequest, JobService, JobStatus},
	watch::Watcher,
};

/// What the node's off-chain workers reach through `arbiter_inference_interface::inference`.
#[derive(Clone)]
pub struct EngineHost {
	pub jobs: JobService,
	pub watcher: Option<Watcher>,
}

fn failed(e: impl ToString) -> InferenceError {
	InferenceError::Failed(e.to_string().into_bytes())
}

impl InferenceHost for EngineHost {
	fn start_job(&self, task: u64, model: [u8; 32], input: Vec<u32>) -> Result<(), InferenceError> {
		if self.jobs.model(model).is_none() {
			return Err(InferenceError::UnknownModel);
		}
		self.jobs.submit(task, model, input).map_err(failed)
	}

	fn retain(&self, tasks: Vec<u64>) {
		self.jobs.retain(tasks);
	}

	fn job_status(&self, task: u64, model: [u8; 32]) -> HostJobStatus {
		match self.jobs.status(task, model) {
			JobStatus::Unknown => HostJobStatus::Unknown,
			JobStatus::Queued => HostJobStatus::Queued,
			JobStatus::Running => HostJobStatus::Running,
			JobStatus::Done { output, trace_root } => HostJobStatus::Done {
				output: output.iter().flat_map(|v| v.to_le_bytes()).collect(),
				trace_root,
			},
			// A generation's committed output is its tokens, u32 little-endian each.
			JobStatus::Generated { tokens } => HostJobStatus::Done {
				output: arbiter_primitives::token_choice::output_of_tokens(&tokens),
				trace_root: None,
			},
			JobStatus::Failed(reason) => HostJobStatus::Failed(reason.into_bytes()),
		}
	}

	fn opening(
		&self,
		task: u64,
		model: [u8; 32],
		node: u32,
		row: u32,
		col: u32,
	) -> Result<Vec<u8>, InferenceError> {
		self.jobs
			.opening(task, model, node, row, col)
			.map(|o| o.encode())
			.map_err(failed)
	}

	fn start_generation(
		&self,
		task: u64,
		model: [u8; 32],
		prompt: Vec<u32>,
		job: GenerationJob,
	) -> Result<(), InferenceError> {
		if self.jobs.model(model).is_none() {
			return Err(InferenceError::UnknownModel);
		}
		let request = GenerationRequest {
			max_new_tokens: job.max_new_tokens,
			stop_token: job.stop_token,
			sampling: job.sampling,
		};
		self.jobs.submit_generation(task, model, prompt, request).map_err(failed)
	}

	fn token_choice_opening(
		&self,
		task: u64,
		model: [u8; 32],
		step: u32,
		rival: u32,
	) -> Result<Vec<u8>, InferenceError> {
		self.jobs
			.token_choice_opening(task, model, step, rival)
			.map(|o| o.encode())
			.map_err(failed)
	}

	fn graph(&self, model: [u8; 32]) -> Result<Vec<u8>, InferenceError> {
		self.jobs
			.model(model)
			.map(|m| m.template.encode())
			.ok_or(InferenceError::UnknownModel)
	}

	fn watch(&self, request: WatchRequest) -> Result<WatchStatus, InferenceError> {
		let watcher = self.watcher.as_ref().ok_or(InferenceError::Unavailable)?;
		watcher.watch(request).ok_or(InferenceError::UnknownModel)
	}

	fn descend(&self, request: DescentRequest) -> Result<DescentStep, InferenceError> {
		let watcher = self.watcher.as_ref().ok_or(InferenceError::Unavailable)?;
		watcher.descend(request).ok_or(InferenceError::UnknownModel)
	}
}
