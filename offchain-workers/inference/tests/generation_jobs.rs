//! Generation tasks in the provider's job service (issue: verified text generation, 2 of 2), on
//! the generated tiny LLaMA: jobs generate plain, batched per request, and keep a replay record
//! of the prompt, tokens and sampling; a challenge's replay gives the trace of the rows decoding
//! computed, whose token-choice and element openings verify; a restarted service reports the same
//! tokens from the record; a record whose tokens this engine would not choose is refused; the
//! token-choice fault commits the runner-up, and its own answer convicts it.

use std::time::Duration;

use arbiter_inference::{
	decode::{generate, logits, traced_ids, Sampling},
	engine::Mode,
	generated::tiny_llama,
	jobs::{GenerationRequest, JobService, JobStatus},
	Model, StoreLimits, TraceStore,
};
use arbiter_primitives::{
	opening::RegisteredModel,
	token_choice::{
		verify_generation_element, verify_token_choice, GenerationCommitments, TokenSampling,
	},
	Verdict,
};
use candle_core::Device;

const STOP: u32 = 39;

fn service(store: &std::path::Path, model: Model) -> (JobService, [u8; 32]) {
	let root = model.commitment.model_root;
	let store = TraceStore::open(store, StoreLimits::default()).unwrap();
	(JobService::start(vec![model], store, 8, "cpu"), root)
}

fn generated(svc: &JobService, task: u64, root: [u8; 32]) -> Vec<u32> {
	match svc.wait(task, root, Duration::from_secs(60)) {
		JobStatus::Generated { tokens } => tokens,
		other => panic!("task {task}: {other:?}"),
	}
}

fn registered(model: &Model) -> RegisteredModel<'_> {
	RegisteredModel {
		graph: &model.template,
		model_root: &model.commitment.model_root,
		slack: 0.0,
		max_row_width: model.max_row_width(),
	}
}

const GREEDY: GenerationRequest =
	GenerationRequest { max_new_tokens: 6, stop_token: STOP, sampling: TokenSampling::Greedy };

#[test]
fn generation_jobs_commit_plain_tokens_whose_replayed_trace_verifies() {
	let dir = tempfile::tempdir().unwrap();
	let (svc, root) = service(dir.path(), tiny_llama(5, &Device::Cpu).unwrap());
	let sampled = GenerationRequest {
		sampling: TokenSampling::Gumbel { temperature_bits: 0.9f32.to_bits(), seed: 77 },
		..GREEDY
	};
	let prompts = [vec![1u32, 5, 9], vec![2, 4], vec![7, 7, 7, 7]];
	for (k, p) in prompts.iter().enumerate() {
		svc.submit_generation(10 + k as u64, root, p.clone(), GREEDY).unwrap();
	}
	svc.submit_generation(20, root, prompts[0].clone(), sampled).unwrap();
	let model = svc.model(root).unwrap();
	for (task, prompt, request) in [
		(10u64, &prompts[0], GREEDY),
		(11, &prompts[1], GREEDY),
		(12, &prompts[2], GREEDY),
		(20, &prompts[0], sampled),
	] {
		let tokens = generated(&svc, task, root);
		// The job's tokens are a direct generation's, and its trace the traced one's.
		let sampling = Sampling::from_chain(request.sampling);
		let direct =
			generate(&model, prompt, request.max_new_tokens, sampling, &[STOP], Mode::Traced)
				.unwrap();
		assert_eq!(tokens, direct.tokens, "task {task}");
		let trace = direct.trace.unwrap();
		let commitments = GenerationCommitments {
			trace_root: &trace.root,
			prompt,
			tokens: &tokens,
			sampling: request.sampling,
		};
		// Every step's choice survives every rival, answered by the service (from its record).
		for step in 0..tokens.len() as u32 {
			for rival in (0..model.vocabulary()).filter(|r| *r != tokens[step as usize]) {
				let o = svc.token_choice_opening(task, root, step, rival).unwrap();
				assert_eq!(
					verify_token_choice(&registered(&model), &commitments, step, rival, &o),
					Verdict::WithinBound,
					"task {task} step {step} rival {rival}"
				);
			}
		}
		// Elements of the replayed trace verify against the traced run's root and the tokens.
		let graph = model.template.instantiate(trace.seq_len);
		for (node, n) in graph.nodes.iter().enumerate().step_by(3) {
			let (row, col) = (n.shape.rows() as u32 - 1, n.shape.width() - 1);
			let o = svc.opening(task, root, node as u32, row, col).unwrap();
			let v = verify_generation_element(
				&registered(&model),
				&commitments,
				(node as u32, row, col),
				&o,
			);
			assert_eq!(v, Verdict::WithinBound, "task {task} node {node}");
		}
		assert_eq!(trace.seq_len as usize, traced_ids(prompt, &tokens).len());
	}
}

#[test]
fn a_restarted_service_reports_the_recorded_tokens_and_refuses_a_record_it_would_not_make() {
	let dir = tempfile::tempdir().unwrap();
	let prompt = vec![3u32, 1, 4, 1, 5];
	let tokens = {
		let (svc, root) = service(dir.path(), tiny_llama(6, &Device::Cpu).unwrap());
		svc.submit_generation(1, root, prompt.clone(), GREEDY).unwrap();
		generated(&svc, 1, root)
	};
	let (svc, root) = service(dir.path(), tiny_llama(6, &Device::Cpu).unwrap());
	// Asked again after the restart: replayed from the record (each choice checked), the same
	// tokens, never generated twice.
	svc.submit_generation(1, root, prompt.clone(), GREEDY).unwrap();
	assert_eq!(generated(&svc, 1, root), tokens);
	assert_eq!(svc.metrics().replayed.load(std::sync::atomic::Ordering::Relaxed), 1);
	assert_eq!(svc.metrics().done.load(std::sync::atomic::Ordering::Relaxed), 0);

	// A record of tokens this engine would not choose (the last one changed) cannot be
	// replayed: the provider could not answer for it, and says so instead of serving a trace.
	let store = TraceStore::open(&dir.path().join("other"), StoreLimits::default()).unwrap();
	let model = tiny_llama(6, &Device::Cpu).unwrap();
	let mut wrong = tokens.clone();
	let last = wrong.len() - 1;
	wrong[last] = (wrong[last] + 1) % model.vocabulary();
	store.put_generation(2, &model, &prompt, &wrong, TokenSampling::Greedy).unwrap();
	let err = store.get(2, &model).unwrap_err().to_string();
	assert!(err.contains("chooses token"), "{err}");
	// The honest record replays, and round-trips its sampling.
	let sampling = TokenSampling::Gumbel { temperature_bits: 1.5f32.to_bits(), seed: u64::MAX };
	let sampled =
		generate(&model, &prompt, 4, Sampling::from_chain(sampling), &[STOP], Mode::Plain).unwrap();
	store.put_generation(3, &model, &prompt, &sampled.tokens, sampling).unwrap();
	let record = store.record(3).unwrap();
	assert_eq!(record.generation.map(|g| g.sampling), Some(sampling));
	assert_eq!(record.prompt_and_tokens(), Some((prompt.as_slice(), sampled.tokens.as_slice())));
	assert!(store.get(3, &model).is_ok());
}

#[test]
fn the_token_choice_fault_commits_the_runner_up_and_its_own_answer_convicts_it() {
	let dir = tempfile::tempdir().unwrap();
	let prompt = vec![8u32, 2, 6];
	let honest_model = tiny_llama(7, &Device::Cpu).unwrap();
	let honest =
		generate(&honest_model, &prompt, 6, Sampling::Greedy, &[STOP], Mode::Plain).unwrap();
	// A step whose best token leads the runner-up clearly.
	let step = (0..honest.tokens.len())
		.find(|s| {
			let ids = traced_ids(&prompt, &honest.tokens[..=*s]);
			let hidden = {
				let mut d = arbiter_inference::decode::Decoder::new(
					&honest_model,
					ids.len() as u32,
					Mode::Plain,
				)
				.unwrap();
				let rows = d.step_block(&ids).unwrap();
				rows[rows.len() - 32..].to_vec()
			};
			let mut l = logits(&honest_model, &hidden).unwrap();
			l.sort_by(|a, b| b.total_cmp(a));
			l[0] - l[1] > 0.01
		})
		.expect("a clear step") as u32;
	let mut faulty_model = tiny_llama(7, &Device::Cpu).unwrap();
	faulty_model.inject_token_choice_fault(step);
	let (svc, root) = service(dir.path(), faulty_model);
	svc.submit_generation(1, root, prompt.clone(), GREEDY).unwrap();
	let tokens = generated(&svc, 1, root);
	assert_eq!(tokens[..step as usize], honest.tokens[..step as usize]);
	assert_ne!(tokens[step as usize], honest.tokens[step as usize]);
	// Its trace replays (the fault decodes on from its own token) and fixes the root.
	let model = svc.model(root).unwrap();
	let (_, trace) = svc.trace(1).unwrap();
	let commitments = GenerationCommitments {
		trace_root: &trace.root,
		prompt: &prompt,
		tokens: &tokens,
		sampling: TokenSampling::Greedy,
	};
	let best = honest.tokens[step as usize];
	let o = svc.token_choice_opening(1, root, step, best).unwrap();
	assert_eq!(
		verify_token_choice(&registered(&model), &commitments, step, best, &o),
		Verdict::OutsideBound
	);
}
