//! The watcher on generation tasks (issue: verified text generation, 2 of 2), on the generated
//! tiny LLaMA: an honest generation is clean, greedy or sampled; a provider that commits the
//! runner-up at one step is caught at exactly that step with the honest token as the rival, and
//! its own answer to that challenge loses; a hidden row the provider fabricates to win the token
//! choice is descended into at the column it moved, also by a watcher that kept nothing.

use std::time::Duration;

use arbiter_inference::{
	decode::{generate, Sampling},
	engine::Mode,
	generated::tiny_llama,
	jobs::{GenerationRequest, JobService, JobStatus},
	watch::{check_token_choices, Watcher},
	Model, StoreLimits, TraceStore,
};
use arbiter_inference_interface::{
	DescentRequest, DescentStep, GenerationJob, WatchRequest, WatchStatus,
};
use arbiter_primitives::{
	opening::RegisteredModel,
	token_choice::{output_of_tokens, verify_token_choice, GenerationCommitments, TokenSampling},
	Verdict,
};
use candle_core::Device;

const STOP: u32 = 39;
const PROMPT: [u32; 3] = [8, 2, 6];
const SAMPLED: TokenSampling =
	TokenSampling::Gumbel { temperature_bits: 0x3f66_6666 /* 0.9 */, seed: 77 };

fn service(model: Model) -> (JobService, [u8; 32], tempfile::TempDir) {
	let dir = tempfile::tempdir().unwrap();
	let root = model.commitment.model_root;
	let store = TraceStore::open(dir.path(), StoreLimits::default()).unwrap();
	(JobService::start(vec![model], store, 8, "cpu"), root, dir)
}

fn generated(svc: &JobService, task: u64, root: [u8; 32]) -> Vec<u32> {
	match svc.wait(task, root, Duration::from_secs(60)) {
		JobStatus::Generated { tokens } => tokens,
		other => panic!("task {task}: {other:?}"),
	}
}

fn request(sampling: TokenSampling) -> GenerationRequest {
	GenerationRequest { max_new_tokens: 6, stop_token: STOP, sampling }
}

/// A provider whose model commits the runner-up at `step`: its tokens and job service.
fn faulty_provider(step: u32, sampling: TokenSampling) -> (Vec<u32>, JobService, [u8; 32]) {
	let mut model = tiny_llama(7, &Device::Cpu).unwrap();
	model.inject_token_choice_fault(step);
	let (svc, root, dir) = service(model);
	svc.submit_generation(1, root, PROMPT.to_vec(), request(sampling)).unwrap();
	let tokens = generated(&svc, 1, root);
	std::mem::forget(dir);
	(tokens, svc, root)
}

fn honest(sampling: TokenSampling) -> Vec<u32> {
	let model = tiny_llama(7, &Device::Cpu).unwrap();
	generate(&model, &PROMPT, 6, Sampling::from_chain(sampling), &[STOP], Mode::Plain)
		.unwrap()
		.tokens
}

#[test]
fn an_honest_generation_has_no_wrong_token_greedy_or_sampled() {
	let model = tiny_llama(7, &Device::Cpu).unwrap();
	for sampling in [TokenSampling::Greedy, SAMPLED] {
		let tokens = honest(sampling);
		let (finding, trace) =
			check_token_choices(&model, &PROMPT, &tokens, sampling, 0.0).unwrap();
		assert_eq!(finding.wrong, None, "{sampling:?}");
		assert!(finding.near_ties.is_empty(), "{sampling:?}");
		assert_eq!(trace.seq_len as usize, PROMPT.len() + tokens.len() - 1);
	}
}

#[test]
fn the_runner_up_committed_at_a_step_is_found_there_and_its_own_answer_loses() {
	let model = tiny_llama(7, &Device::Cpu).unwrap();
	for sampling in [TokenSampling::Greedy, SAMPLED] {
		let honest = honest(sampling);
		for step in 0..3u32 {
			let (tokens, svc, root) = faulty_provider(step, sampling);
			assert_eq!(tokens[..step as usize], honest[..step as usize]);
			let (finding, _) =
				check_token_choices(&model, &PROMPT, &tokens, sampling, 0.0).unwrap();
			let expected = honest[step as usize];
			assert_eq!(finding.wrong, Some((step, expected)), "{sampling:?} step {step}");
			// The runtime rules the provider's own answer to that challenge against it.
			let provider_model = svc.model(root).unwrap();
			let (_, trace) = svc.trace(1).unwrap();
			let registered = RegisteredModel {
				graph: &provider_model.template,
				model_root: &root,
				slack: 0.0,
				max_row_width: provider_model.max_row_width(),
			};
			let task = GenerationCommitments {
				trace_root: &trace.root,
				prompt: &PROMPT,
				tokens: &tokens,
				sampling,
			};
			let opening = svc.token_choice_opening(1, root, step, expected).unwrap();
			assert_eq!(
				verify_token_choice(&registered, &task, step, expected, &opening),
				Verdict::OutsideBound,
				"{sampling:?} step {step}"
			);
		}
	}
}

fn watch_request(tokens: &[u32], root: [u8; 32], sampling: TokenSampling) -> WatchRequest {
	WatchRequest {
		task: 1,
		model_root: root,
		input: PROMPT.to_vec(),
		output: output_of_tokens(tokens),
		generation: Some(GenerationJob { max_new_tokens: 6, stop_token: STOP, sampling }),
		trace_root: None,
		endpoint: b"unused".to_vec(),
		slack_bits: 0,
		max_row_width: 64,
		audit: false,
	}
}

fn watched(watcher: &Watcher, request: &WatchRequest) -> WatchStatus {
	for _ in 0..600 {
		match watcher.watch(request.clone()).unwrap() {
			WatchStatus::Running => std::thread::sleep(Duration::from_millis(20)),
			status => return status,
		}
	}
	panic!("the check did not finish");
}

fn next_step(watcher: &Watcher, request: &DescentRequest) -> DescentStep {
	for _ in 0..600 {
		match watcher.descend(request.clone()).unwrap() {
			DescentStep::Running => std::thread::sleep(Duration::from_millis(20)),
			step => return step,
		}
	}
	panic!("the watcher did not re-execute the task");
}

#[test]
fn the_watcher_service_names_the_token_choice_then_descends_into_a_fabricated_hidden_row() {
	let (own, root, _dir) = service(tiny_llama(7, &Device::Cpu).unwrap());
	let start = || {
		Watcher::start(own.clone(), 1.0, 1, Duration::ZERO, Box::new(|_, _| Err("unused".into())))
	};
	let watcher = start();
	let clean = watch_request(&honest(TokenSampling::Greedy), root, TokenSampling::Greedy);
	assert_eq!(watched(&watcher, &clean), WatchStatus::Clean);

	let step = 2;
	let (tokens, ..) = faulty_provider(step, TokenSampling::Greedy);
	let rival = honest(TokenSampling::Greedy)[step as usize];
	let request = WatchRequest { task: 2, ..watch_request(&tokens, root, TokenSampling::Greedy) };
	assert_eq!(watched(&watcher, &request), WatchStatus::TokenChoice { step, rival });

	// The provider answered with a hidden row that makes its token win: this node's own row
	// with one column moved. The descent names that column of that row.
	let model = own.model(root).unwrap();
	let (finding, trace) =
		check_token_choices(&model, &PROMPT, &tokens, TokenSampling::Greedy, 0.0).unwrap();
	assert_eq!(finding.wrong, Some((step, rival)));
	let final_node = model.template.nodes.len() as u32 - 1;
	let row = PROMPT.len() as u32 - 1 + step;
	let mut fabricated = trace.row(&model.template, final_node, row).unwrap().values;
	fabricated[5] += 1.0;
	let descent = DescentRequest {
		task: 2,
		model_root: root,
		input: PROMPT.to_vec(),
		tokens: Some(tokens.clone()),
		slack_bits: 0,
		opened: vec![(final_node, row, fabricated.iter().map(|v| v.to_bits()).collect())],
	};
	let expected = DescentStep::Next { node: final_node, row, col: 5 };
	assert_eq!(next_step(&watcher, &descent), expected);
	// A watcher that kept nothing (restarted) re-executes the generation and names the same.
	let restarted = start();
	assert_eq!(restarted.descend(descent.clone()), Some(DescentStep::Running));
	assert_eq!(next_step(&restarted, &descent), expected);
}
