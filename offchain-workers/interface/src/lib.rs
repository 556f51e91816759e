//! The inference host functions (docs/providers.md: inference never runs in block execution).
//!
//! The runtime's off-chain worker calls [`inference::start_job`] (a generation task:
//! [`inference::start_generation`]), polls [`inference::job_status`] in later blocks, and answers
//! challenges with [`inference::graph`] and [`inference::opening`] (a token choice:
//! [`inference::token_choice_opening`]);
//! a watcher's worker asks [`inference::watch`] whether a committed result holds up, and
//! [`inference::descend`] which element to name next in a descent it is in. On the native
//! side each call looks for the [`InferenceExt`] externalities extension, which the node registers
//! only for off-chain workers and only with `--provider` / `--watcher`: during block import, in RPC
//! calls, on nodes without the engine, every function returns [`InferenceError::Unavailable`], so
//! every node executes blocks identically. Jobs run on the engine's own threads; a call never
//! waits for inference.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

use alloc::vec::Vec;
use codec::{Decode, Encode};
use scale_info::TypeInfo;
#[cfg(feature = "std")]
use sp_externalities::ExternalitiesExt;
use sp_runtime_interface::{
	pass_by::{
		AllocateAndReturnByCodec, PassFatPointerAndDecodeSlice, PassFatPointerAndRead,
		PassPointerAndReadCopy,
	},
	runtime_interface,
};

/// A job's state as the off-chain worker sees it.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo)]
pub enum JobStatus {
	/// Not known to this node's engine.
	Unknown,
	Queued,
	Running,
	/// The output bytes (f32 little-endian values) to commit, and the trace root where the
	/// engine commits it with the output (`None`: fixed by the first answer to a dispute,
	/// docs/protocol.md "The trace root is fixed when first needed").
	Done {
		output: Vec<u8>,
		trace_root: Option<[u8; 32]>,
	},
	/// The input could not be run; the reason (UTF-8).
	Failed(Vec<u8>),
}

/// What a generation task asks besides its prompt (SCALE-encoded through
/// [`inference::start_generation`]): the task's limit and sampling and the model's stop token.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Encode, Decode, TypeInfo)]
pub struct GenerationJob {
	pub max_new_tokens: u32,
	pub stop_token: u32,
	pub sampling: arbiter_primitives::token_choice::TokenSampling,
}

/// Why a host call did nothing.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo)]
pub enum InferenceError {
	/// No engine here: not an off-chain worker, or the node runs without `--provider`/`--watcher`.
	Unavailable,
	/// The engine has not loaded this model.
	UnknownModel,
	/// The request failed; the reason (UTF-8).
	Failed(Vec<u8>),
}

/// A committed result a watcher checks (SCALE-encoded through [`inference::watch`]).
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo)]
pub struct WatchRequest {
	pub task: u64,
	pub model_root: [u8; 32],
	/// The task's token ids (a generation's prompt).
	pub input: Vec<u32>,
	/// The committed output bytes (f32 little-endian; a generation's tokens, u32
	/// little-endian).
	pub output: Vec<u8>,
	/// What a generation task asks besides its prompt; `None` for an embedding task. A
	/// generation is checked by its token choices (docs/protocol.md, "Watching generations").
	pub generation: Option<GenerationJob>,
	/// The task's trace root, once fixed (at commit, or by the provider's first answer to a
	/// dispute). Until then the provider's served rows prove nothing: the watcher descends
	/// from the output instead of walking them.
	pub trace_root: Option<[u8; 32]>,
	/// The provider's RPC endpoint, which serves its trace (`arbiter_traceRow`,
	/// `arbiter_opening`).
	pub endpoint: Vec<u8>,
	/// The model's registered tolerance slack (f32 bits) and widest row, as the runtime rules.
	pub slack_bits: u32,
	pub max_row_width: u32,
	/// This node was drawn to audit the result (docs/protocol.md, "Audits"): checked whatever
	/// the sample rate.
	pub audit: bool,
}

/// What a watcher found about a committed result.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo)]
pub enum WatchStatus {
	/// Not sampled (`--watch-sample-rate`): not checked.
	Skipped,
	/// Queued or being checked.
	Running,
	/// The output matches this node's re-execution.
	Clean,
	/// The provider's own trace breaks the bound at this element: `(node, row, col)` is what to
	/// challenge (checked here with the runtime's own `verify_element`).
	Fraud { node: u32, row: u32, col: u32 },
	/// The output differs but no provable element was found; the reason (UTF-8). Nothing to
	/// challenge.
	Inconclusive(Vec<u8>),
	/// The output differs and the provider's trace cannot be walked (its trace root is not
	/// fixed yet, or its endpoint is down, refuses or times out): challenge this output
	/// element, the one farthest from this node's own relative to its bound, and descend
	/// (docs/protocol.md, "Descent").
	Withheld { node: u32, row: u32, col: u32 },
	/// A generation's token at `step` is beaten by `rival` under this node's own hidden row,
	/// by more than the ruling's band and the watcher's tolerance for another honest hidden
	/// row: challenge that choice, and descend into the hidden row if the provider's answer
	/// stands (docs/protocol.md, "Watching generations").
	TokenChoice { step: u32, rival: u32 },
}

/// A descent step it is a watcher's turn to name (SCALE-encoded through
/// [`inference::descend`]).
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo)]
pub struct DescentRequest {
	pub task: u64,
	pub model_root: [u8; 32],
	/// The task's token ids (what the watcher re-executes; kept per task and model): a
	/// generation's prompt.
	pub input: Vec<u32>,
	/// A generation's committed tokens (its trace is of the prompt and these, teacher-forced);
	/// `None` for an embedding task.
	pub tokens: Option<Vec<u32>>,
	/// The model's registered tolerance slack (f32 bits).
	pub slack_bits: u32,
	/// The trace rows the provider's last answer opened, as the runtime keeps them: node, row
	/// and the provider's values (f32 bits).
	pub opened: Vec<(u32, u32, Vec<u32>)>,
}

/// What to do at a descent step.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo)]
pub enum DescentStep {
	/// This node is re-executing the task; ask again.
	Running,
	/// Name this element.
	Next { node: u32, row: u32, col: u32 },
	/// Nothing to name (every opened row is an input); the reason (UTF-8).
	Nothing(Vec<u8>),
}

/// What the node's engine provides to the host functions.
#[cfg(feature = "std")]
pub trait InferenceHost: Send + Sync {
	/// Queues `task` of the model committed as `model_root` with its token ids `input`
	/// (idempotent).
	fn start_job(
		&self,
		task: u64,
		model_root: [u8; 32],
		input: Vec<u32>,
	) -> Result<(), InferenceError>;
	/// The job's state.
	fn job_status(&self, task: u64, model_root: [u8; 32]) -> JobStatus;
	/// The SCALE-encoded `arbiter_primitives::Opening` of element `(node, row, col)`.
	fn opening(
		&self,
		task: u64,
		model_root: [u8; 32],
		node: u32,
		row: u32,
		col: u32,
	) -> Result<Vec<u8>, InferenceError>;
	/// The SCALE-encoded graph (template) of the model committed as `model_root`: what
	/// `challenges.respond` carries next to the opening.
	fn graph(&self, model_root: [u8; 32]) -> Result<Vec<u8>, InferenceError>;
	/// Queues generation task `task` of the model committed as `model_root`: `prompt` under
	/// `job` (idempotent). Its [`JobStatus::Done`] output is the tokens, u32 little-endian each.
	/// Engines that generate nothing answer `UnknownModel`.
	fn start_generation(
		&self,
		task: u64,
		model_root: [u8; 32],
		prompt: Vec<u32>,
		job: GenerationJob,
	) -> Result<(), InferenceError> {
		let _ = (task, model_root, prompt, job);
		Err(InferenceError::UnknownModel)
	}
	/// The SCALE-encoded answer to a token-choice dispute of generation task `task` at `step`
	/// against `rival`.
	fn token_choice_opening(
		&self,
		task: u64,
		model_root: [u8; 32],
		step: u32,
		rival: u32,
	) -> Result<Vec<u8>, InferenceError> {
		let _ = (task, model_root, step, rival);
		Err(InferenceError::UnknownModel)
	}
	/// Keeps the traces of `tasks` (the operators' tasks still assigned, committed or disputed)
	/// whatever the trace store's limits: a challenge may still ask for them. Replaces the
	/// previous set. Engines without a trace store ignore it.
	fn retain(&self, tasks: Vec<u64>) {
		let _ = tasks;
	}
	/// Starts checking `request` (idempotent per task) or reports how the check went.
	/// Engines that run no watcher answer `Unavailable`.
	fn watch(&self, request: WatchRequest) -> Result<WatchStatus, InferenceError> {
		let _ = request;
		Err(InferenceError::Unavailable)
	}
	/// The element to name at a descent step (never waits: re-execution, when needed, runs on
	/// the watcher's thread and `Running` is answered meanwhile). Engines that run no watcher
	/// answer `Unavailable`.
	fn descend(&self, request: DescentRequest) -> Result<DescentStep, InferenceError> {
		let _ = request;
		Err(InferenceError::Unavailable)
	}
}

#[cfg(feature = "std")]
sp_externalities::decl_extension! {
	/// The engine, registered by the node for off-chain workers only.
	pub struct InferenceExt(std::sync::Arc<dyn InferenceHost>);
}

#[cfg(feature = "std")]
impl InferenceExt {
	/// Wraps an engine.
	pub fn new(host: std::sync::Arc<dyn InferenceHost>) -> Self {
		Self(host)
	}
}

/// The host functions (`arbiter_inference_interface::inference::*` in the runtime).
#[runtime_interface]
pub trait Inference {
	/// Queues a job for the model committed as `model_root` on the task's token ids; returns
	/// at once.
	fn start_job(
		&mut self,
		task: u64,
		model_root: PassPointerAndReadCopy<[u8; 32], 32>,
		input: PassFatPointerAndDecodeSlice<&[u32]>,
	) -> AllocateAndReturnByCodec<Result<(), InferenceError>> {
		match self.extension::<InferenceExt>() {
			Some(ext) => ext.0.start_job(task, model_root, input.to_vec()),
			None => Err(InferenceError::Unavailable),
		}
	}

	/// The state of `task`'s job (`Unknown` where no engine is registered).
	fn job_status(
		&mut self,
		task: u64,
		model_root: PassPointerAndReadCopy<[u8; 32], 32>,
	) -> AllocateAndReturnByCodec<Result<JobStatus, InferenceError>> {
		match self.extension::<InferenceExt>() {
			Some(ext) => Ok(ext.0.job_status(task, model_root)),
			None => Err(InferenceError::Unavailable),
		}
	}

	/// The SCALE-encoded opening of element `(node, row, col)` of `task`'s trace.
	fn opening(
		&mut self,
		task: u64,
		model_root: PassPointerAndReadCopy<[u8; 32], 32>,
		node: u32,
		row: u32,
		col: u32,
	) -> AllocateAndReturnByCodec<Result<Vec<u8>, InferenceError>> {
		match self.extension::<InferenceExt>() {
			Some(ext) => ext.0.opening(task, model_root, node, row, col),
			None => Err(InferenceError::Unavailable),
		}
	}

	/// Queues a generation job (a SCALE-encoded [`GenerationJob`]) for the model committed as
	/// `model_root` on the task's prompt; returns at once.
	fn start_generation(
		&mut self,
		task: u64,
		model_root: PassPointerAndReadCopy<[u8; 32], 32>,
		prompt: PassFatPointerAndDecodeSlice<&[u32]>,
		job: PassFatPointerAndRead<&[u8]>,
	) -> AllocateAndReturnByCodec<Result<(), InferenceError>> {
		let Ok(job) = GenerationJob::decode(&mut &job[..]) else {
			return Err(InferenceError::Failed(b"undecodable generation job".to_vec()));
		};
		match self.extension::<InferenceExt>() {
			Some(ext) => ext.0.start_generation(task, model_root, prompt.to_vec(), job),
			None => Err(InferenceError::Unavailable),
		}
	}

	/// The SCALE-encoded answer to a token-choice dispute of generation task `task`.
	fn token_choice_opening(
		&mut self,
		task: u64,
		model_root: PassPointerAndReadCopy<[u8; 32], 32>,
		step: u32,
		rival: u32,
	) -> AllocateAndReturnByCodec<Result<Vec<u8>, InferenceError>> {
		match self.extension::<InferenceExt>() {
			Some(ext) => ext.0.token_choice_opening(task, model_root, step, rival),
			None => Err(InferenceError::Unavailable),
		}
	}

	/// Keeps the traces of `tasks` whatever the trace store's limits (see
	/// [`InferenceHost::retain`]).
	fn retain(
		&mut self,
		tasks: PassFatPointerAndDecodeSlice<&[u64]>,
	) -> AllocateAndReturnByCodec<Result<(), InferenceError>> {
		match self.extension::<InferenceExt>() {
			Some(ext) => {
				ext.0.retain(tasks.to_vec());
				Ok(())
			},
			None => Err(InferenceError::Unavailable),
		}
	}

	/// The SCALE-encoded graph of the model committed as `model_root`.
	fn graph(
		&mut self,
		model_root: PassPointerAndReadCopy<[u8; 32], 32>,
	) -> AllocateAndReturnByCodec<Result<Vec<u8>, InferenceError>> {
		match self.extension::<InferenceExt>() {
			Some(ext) => ext.0.graph(model_root),
			None => Err(InferenceError::Unavailable),
		}
	}

	/// Checks a committed result (a SCALE-encoded [`WatchRequest`]): starts the check on the
	/// first call, reports its state on later ones.
	fn watch(
		&mut self,
		request: PassFatPointerAndRead<&[u8]>,
	) -> AllocateAndReturnByCodec<Result<WatchStatus, InferenceError>> {
		let Ok(request) = WatchRequest::decode(&mut &request[..]) else {
			return Err(InferenceError::Failed(b"undecodable watch request".to_vec()));
		};
		match self.extension::<InferenceExt>() {
			Some(ext) => ext.0.watch(request),
			None => Err(InferenceError::Unavailable),
		}
	}

	/// The element to name at a descent step (a SCALE-encoded [`DescentRequest`]).
	fn descend(
		&mut self,
		request: PassFatPointerAndRead<&[u8]>,
	) -> AllocateAndReturnByCodec<Result<DescentStep, InferenceError>> {
		let Ok(request) = DescentRequest::decode(&mut &request[..]) else {
			return Err(InferenceError::Failed(b"undecodable descent request".to_vec()));
		};
		match self.extension::<InferenceExt>() {
			Some(ext) => ext.0.descend(request),
			None => Err(InferenceError::Unavailable),
		}
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use std::sync::{Arc, Mutex};

	/// A started job: task, model root, input.
	type StartedJob = (u64, [u8; 32], Vec<u32>);

	/// An engine that records calls.
	#[derive(Default)]
	struct Recorder(Mutex<Vec<StartedJob>>);
	const MODEL: [u8; 32] = [7; 32];
	impl InferenceHost for Recorder {
		fn start_job(
			&self,
			task: u64,
			model: [u8; 32],
			input: Vec<u32>,
		) -> Result<(), InferenceError> {
			if model != MODEL {
				return Err(InferenceError::UnknownModel);
			}
			self.0.lock().unwrap().push((task, model, input));
			Ok(())
		}
		fn job_status(&self, task: u64, _: [u8; 32]) -> JobStatus {
			if self.0.lock().unwrap().iter().any(|(t, _, _)| *t == task) {
				JobStatus::Done { output: vec![1, 2, 3, 4], trace_root: Some([9; 32]) }
			} else {
				JobStatus::Unknown
			}
		}
		fn opening(
			&self,
			_: u64,
			_: [u8; 32],
			node: u32,
			_: u32,
			_: u32,
		) -> Result<Vec<u8>, InferenceError> {
			Ok(node.encode())
		}
		fn graph(&self, model: [u8; 32]) -> Result<Vec<u8>, InferenceError> {
			(model == MODEL).then(|| b"graph".to_vec()).ok_or(InferenceError::UnknownModel)
		}
		fn start_generation(
			&self,
			task: u64,
			model: [u8; 32],
			prompt: Vec<u32>,
			job: GenerationJob,
		) -> Result<(), InferenceError> {
			// The request arrives whole: its limit as the job's first input value.
			self.0
				.lock()
				.unwrap()
				.push((task, model, [vec![job.max_new_tokens], prompt].concat()));
			Ok(())
		}
		fn token_choice_opening(
			&self,
			_: u64,
			_: [u8; 32],
			step: u32,
			rival: u32,
		) -> Result<Vec<u8>, InferenceError> {
			Ok((step, rival).encode())
		}
	}

	fn request() -> WatchRequest {
		WatchRequest {
			task: 1,
			model_root: MODEL,
			input: vec![101, 7592, 102],
			output: vec![0; 8],
			generation: None,
			trace_root: None,
			endpoint: b"ws://127.0.0.1:9944".to_vec(),
			slack_bits: 0,
			max_row_width: 16,
			audit: false,
		}
	}

	#[test]
	fn without_the_extension_every_call_is_unavailable() {
		sp_io::TestExternalities::default().execute_with(|| {
			assert_eq!(
				inference::start_job(1, MODEL, &[101, 102]),
				Err(InferenceError::Unavailable)
			);
			assert_eq!(inference::job_status(1, MODEL), Err(InferenceError::Unavailable));
			assert_eq!(inference::opening(1, MODEL, 1, 2, 3), Err(InferenceError::Unavailable));
			assert_eq!(inference::graph(MODEL), Err(InferenceError::Unavailable));
			assert_eq!(inference::retain(&[1, 2]), Err(InferenceError::Unavailable));
			assert_eq!(inference::watch(&request().encode()), Err(InferenceError::Unavailable));
			assert_eq!(
				inference::descend(&descent_request().encode()),
				Err(InferenceError::Unavailable)
			);
			let job = GenerationJob {
				max_new_tokens: 4,
				stop_token: 2,
				sampling: arbiter_primitives::token_choice::TokenSampling::Greedy,
			};
			assert_eq!(
				inference::start_generation(1, MODEL, &[5], &job.encode()),
				Err(InferenceError::Unavailable)
			);
			assert_eq!(
				inference::token_choice_opening(1, MODEL, 0, 1),
				Err(InferenceError::Unavailable)
			);
		});
	}

	fn descent_request() -> DescentRequest {
		DescentRequest {
			task: 1,
			model_root: MODEL,
			input: vec![101, 102],
			tokens: Some(vec![7, 2]),
			slack_bits: 0,
			opened: vec![(3, 0, vec![0x3f80_0000])],
		}
	}

	#[test]
	fn with_the_extension_calls_reach_the_engine() {
		let recorder = Arc::new(Recorder::default());
		let mut ext = sp_io::TestExternalities::default();
		ext.register_extension(InferenceExt::new(recorder.clone()));
		ext.execute_with(|| {
			assert_eq!(inference::job_status(5, MODEL), Ok(JobStatus::Unknown));
			assert_eq!(inference::start_job(5, MODEL, &[101, 7592, 102]), Ok(()));
			assert_eq!(
				inference::start_job(5, [3; 32], &[101, 7592, 102]),
				Err(InferenceError::UnknownModel)
			);
			assert_eq!(
				inference::job_status(5, MODEL),
				Ok(JobStatus::Done { output: vec![1, 2, 3, 4], trace_root: Some([9; 32]) })
			);
			assert_eq!(inference::opening(5, MODEL, 42, 0, 0), Ok(42u32.encode()));
			assert_eq!(inference::graph(MODEL), Ok(b"graph".to_vec()));
			assert_eq!(inference::graph([3; 32]), Err(InferenceError::UnknownModel));
			// An engine without a watcher says so; garbage never reaches the engine.
			assert_eq!(inference::watch(&request().encode()), Err(InferenceError::Unavailable));
			assert!(matches!(inference::watch(b"\x01"), Err(InferenceError::Failed(_))));
			assert_eq!(
				inference::descend(&descent_request().encode()),
				Err(InferenceError::Unavailable)
			);
			assert!(matches!(inference::descend(b"\x01"), Err(InferenceError::Failed(_))));
			// Generation: the job's request decodes on the native side; garbage fails there.
			let job = GenerationJob {
				max_new_tokens: 32,
				stop_token: 2,
				sampling: arbiter_primitives::token_choice::TokenSampling::Greedy,
			};
			assert_eq!(inference::start_generation(6, MODEL, &[1, 9, 9], &job.encode()), Ok(()));
			assert!(matches!(
				inference::start_generation(6, MODEL, &[1], b"\x07"),
				Err(InferenceError::Failed(_))
			));
			assert_eq!(
				inference::token_choice_opening(6, MODEL, 3, 17),
				Ok((3u32, 17u32).encode())
			);
		});
		assert_eq!(
			recorder.0.lock().unwrap().as_slice(),
			&[(5, MODEL, vec![101, 7592, 102]), (6, MODEL, vec![32, 1, 9, 9])]
		);
	}
}
