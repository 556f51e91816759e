//! The watcher's search for a provable fault: a provider running a faulted model (one node's
//! output perturbed, the rest of the trace consistent with it) is caught at exactly that node by
//! the runtime's own `verify_element`; an honest provider's trace yields nothing to challenge.
//! On MiniLM (run `scripts/fetch-model.sh` first), the whole watcher service: job service of a
//! faulty provider serving its trace, watcher re-executing and walking it.

mod common;

use std::time::Duration;

use arbiter_inference::{
	engine::{self, Mode},
	generated::{tiny_bert, tiny_bert_ids, tiny_bert_input},
	jobs::{JobService, JobStatus},
	model::Model,
	watch::{find_fault, outputs_agree, sampled, Finding, RemoteTrace, Watcher},
	StoreLimits, Trace, TraceStore,
};
use arbiter_inference_interface::{DescentRequest, DescentStep, WatchRequest, WatchStatus};
use arbiter_primitives::{
	descent::operand_rows, encoding::row_bytes, verify_element, Fault, NodeId, Op, Opening,
	RegisteredModel, Ruling, TaskCommitments, Verdict,
};
use candle_core::Device;

/// A provider's trace held in memory (its rows and real openings).
struct LocalTrace<'a> {
	model: &'a Model,
	trace: &'a Trace,
}

impl RemoteTrace for LocalTrace<'_> {
	fn row(&self, node: NodeId, row: u32) -> Result<Vec<f32>, String> {
		self.trace
			.row(&self.model.template, node, row)
			.map(|r| r.values)
			.map_err(|e| e.to_string())
	}
	fn opening(&self, node: NodeId, row: u32, col: u32) -> Result<Opening, String> {
		self.trace.opening(self.model, node, row, col).map_err(|e| e.to_string())
	}
}

fn traced(model: &Model, seq: u32) -> Trace {
	engine::run(model, &[tiny_bert_input(5, seq)], Mode::Traced)
		.unwrap()
		.pop()
		.unwrap()
		.trace
		.unwrap()
}

/// The task's token ids behind [`traced`].
fn ids(seq: u32) -> Vec<u32> {
	tiny_bert_ids(5, seq)
}

/// The `n`-th node of `op`'s kind.
fn nth_node(model: &Model, pred: impl Fn(&Op) -> bool, n: usize) -> NodeId {
	model
		.template
		.nodes
		.iter()
		.enumerate()
		.filter(|(_, node)| pred(&node.op))
		.nth(n)
		.unwrap()
		.0 as NodeId
}

#[test]
fn a_faulted_node_is_found_and_ruled_outside_the_bound() {
	let honest = tiny_bert(11, &Device::Cpu).unwrap();
	let own = traced(&honest, 6);
	let candidates = [
		nth_node(&honest, |op| matches!(op, Op::Linear { .. }), 2),
		nth_node(&honest, |op| matches!(op, Op::Softmax), 0),
		nth_node(&honest, |op| matches!(op, Op::LayerNorm { .. }), 1),
		(honest.template.nodes.len() - 1) as NodeId,
	];
	for fault in candidates {
		let mut faulty = tiny_bert(11, &Device::Cpu).unwrap();
		faulty.inject_fault(fault).unwrap();
		let theirs = traced(&faulty, 6);
		assert!(
			!outputs_agree(&own.output().unwrap(), &theirs.output().unwrap()),
			"fault at {fault} changes the output"
		);
		let remote = LocalTrace { model: &faulty, trace: &theirs };
		let finding = find_fault(
			&honest,
			&own,
			&TaskCommitments {
				trace_root: &theirs.root,
				output: &row_bytes(&theirs.output().unwrap()),
				input: &ids(6),
			},
			0.0,
			4096,
			&remote,
		);
		let Finding::Fraud { node, row, col } = finding else {
			panic!("fault at {fault}: {finding:?}")
		};
		assert_eq!((node, row, col), (fault, 0, 0), "the first element of the faulted node");
		// The provider's best answer — its own opening — loses on chain.
		let opening = theirs.opening(&faulty, node, row, col).unwrap();
		let v = verify_element(
			&RegisteredModel {
				graph: &honest.template,
				model_root: &honest.commitment.model_root,
				slack: 0.0,
				max_row_width: 4096,
			},
			&TaskCommitments {
				trace_root: &theirs.root,
				output: &row_bytes(&theirs.output().unwrap()),
				input: &ids(6),
			},
			(node, row, col),
			&opening,
		);
		assert_eq!(v, Verdict::OutsideBound);
	}
}

#[test]
fn an_honest_trace_gives_nothing_to_challenge() {
	let honest = tiny_bert(11, &Device::Cpu).unwrap();
	let own = traced(&honest, 5);
	let theirs = traced(&honest, 5);
	let remote = LocalTrace { model: &honest, trace: &theirs };
	let finding = find_fault(
		&honest,
		&own,
		&TaskCommitments {
			trace_root: &theirs.root,
			output: &row_bytes(&theirs.output().unwrap()),
			input: &ids(5),
		},
		0.0,
		4096,
		&remote,
	);
	assert!(
		matches!(&finding, Finding::NoneFound(why) if why.contains("consistent")),
		"{finding:?}"
	);
}

/// An operator that traces honestly and commits other output bytes: the walk finds the output
/// element its trace does not hold, and the provider's own opening of it loses on chain.
#[test]
fn an_output_that_is_not_the_traced_one_is_found_at_the_output() {
	let honest = tiny_bert(11, &Device::Cpu).unwrap();
	let own = traced(&honest, 5);
	let theirs = traced(&honest, 5);
	let last = (honest.template.nodes.len() - 1) as NodeId;
	let mut output = theirs.output().unwrap();
	output[2] = -output[2] + 0.25;
	let committed = row_bytes(&output);
	let task = TaskCommitments { trace_root: &theirs.root, output: &committed, input: &ids(5) };
	let remote = LocalTrace { model: &honest, trace: &theirs };
	let finding = find_fault(&honest, &own, &task, 0.0, 4096, &remote);
	assert_eq!(finding, Finding::Fraud { node: last, row: 0, col: 2 });
	let opening = theirs.opening(&honest, last, 0, 2).unwrap();
	let model = RegisteredModel {
		graph: &honest.template,
		model_root: &honest.commitment.model_root,
		slack: 0.0,
		max_row_width: 4096,
	};
	let v = verify_element(&model, &task, (last, 0, 2), &opening);
	assert_eq!(v.ruling(), Ruling::ProviderLoses(Fault::OutputMismatch));
}

/// A provider that runs another input than the task's (one trace reused for every task): its
/// trace is honest for that input, so every op's bound holds; the walk finds the first input
/// row that is not the task's, and the provider's own opening of it loses on chain.
#[test]
fn a_trace_of_another_input_is_found_at_its_token_ids() {
	let honest = tiny_bert(11, &Device::Cpu).unwrap();
	let task_ids = ids(6);
	let own = traced(&honest, 6);
	let other_ids: Vec<u32> = task_ids
		.iter()
		.map(|i| if *i == 1 { 1 } else { 2 + (i - 2 + 7) % 48 })
		.collect();
	assert_ne!(other_ids, task_ids);
	let theirs = engine::run(&honest, &[honest.input_of_ids(&other_ids).unwrap()], Mode::Traced)
		.unwrap()
		.pop()
		.unwrap()
		.trace
		.unwrap();
	let committed = row_bytes(&theirs.output().unwrap());
	let task = TaskCommitments { trace_root: &theirs.root, output: &committed, input: &task_ids };
	let finding =
		find_fault(&honest, &own, &task, 0.0, 4096, &LocalTrace { model: &honest, trace: &theirs });
	let Finding::Fraud { node, row, col } = finding else { panic!("{finding:?}") };
	assert_eq!((node, row), (0, 0), "the token-id input");
	assert_ne!(task_ids[col as usize], other_ids[col as usize]);
	let model = RegisteredModel {
		graph: &honest.template,
		model_root: &honest.commitment.model_root,
		slack: 0.0,
		max_row_width: 4096,
	};
	let v = verify_element(
		&model,
		&task,
		(node, row, col),
		&theirs.opening(&honest, node, row, col).unwrap(),
	);
	assert_eq!(v.ruling(), Ruling::ProviderLoses(Fault::InputMismatch));
	// A trace of a longer input loses at whatever element is named.
	let longer: Vec<u32> = task_ids.iter().copied().chain([3]).collect();
	let theirs = engine::run(&honest, &[honest.input_of_ids(&longer).unwrap()], Mode::Traced)
		.unwrap()
		.pop()
		.unwrap()
		.trace
		.unwrap();
	let task = TaskCommitments { trace_root: &theirs.root, output: &committed, input: &task_ids };
	let v = verify_element(&model, &task, (5, 0, 0), &theirs.opening(&honest, 5, 0, 0).unwrap());
	assert_eq!(v.ruling(), Ruling::ProviderLoses(Fault::InputMismatch));
}

/// Every token-id list the chain accepts runs; the engine refuses exactly what the chain
/// refuses (no ids, too many, an id outside the vocabulary).
#[test]
fn the_engine_runs_every_input_the_chain_accepts() {
	let model = tiny_bert(11, &Device::Cpu).unwrap();
	assert_eq!((model.vocabulary(), model.max_tokens()), (50, 64));
	for ids in [vec![0], vec![49; 64], (0..50).collect::<Vec<u32>>()] {
		let input = model.input_of_ids(&ids).unwrap();
		assert_eq!(input.seq_len as usize, ids.len());
		assert!(engine::run(&model, &[input], Mode::Traced).unwrap()[0]
			.output
			.iter()
			.all(|v| v.is_finite()));
	}
	assert!(model.input_of_ids(&[]).unwrap_err().to_string().contains("1 to 64"));
	assert!(model.input_of_ids(&[1; 65]).unwrap_err().to_string().contains("65 tokens"));
	assert!(model
		.input_of_ids(&[1, 50])
		.unwrap_err()
		.to_string()
		.contains("token id 50 at position 1"));
}

#[test]
fn faults_on_inputs_or_missing_nodes_are_refused() {
	let mut model = tiny_bert(11, &Device::Cpu).unwrap();
	assert!(model.inject_fault(0).unwrap_err().to_string().contains("input"));
	assert!(model.inject_fault(100_000).unwrap_err().to_string().contains("no node"));
	assert_eq!(model.fault(), None);
}

#[test]
fn sampling_takes_the_share_asked_for() {
	assert!((0..1000).all(|t| sampled(t, 7, 1.0)));
	assert!((0..1000).all(|t| !sampled(t, 7, 0.0)));
	let half = (0..2000).filter(|t| sampled(*t, 7, 0.5)).count();
	assert!((850..1150).contains(&half), "{half} of 2000 sampled at 0.5");
	// Another salt samples other tasks.
	assert!((0..200).any(|t| sampled(t, 7, 0.5) != sampled(t, 8, 0.5)));
}

/// A provider's job service as its node serves it.
struct ServedTrace {
	jobs: JobService,
	task: u64,
}

impl RemoteTrace for ServedTrace {
	fn row(&self, node: NodeId, row: u32) -> Result<Vec<f32>, String> {
		let (model, trace) = self.jobs.trace(self.task).map_err(|e| e.to_string())?;
		trace
			.row(&model.template, node, row)
			.map(|r| r.values)
			.map_err(|e| e.to_string())
	}
	fn opening(&self, node: NodeId, row: u32, col: u32) -> Result<Opening, String> {
		let (model, trace) = self.jobs.trace(self.task).map_err(|e| e.to_string())?;
		trace.opening(&model, node, row, col).map_err(|e| e.to_string())
	}
}

/// A MiniLM job service (faulted at `fault`) and the model root.
fn minilm_service(dir: &std::path::Path, fault: Option<NodeId>) -> (JobService, [u8; 32]) {
	let mut model = Model::load(&common::model_dir(), &Device::Cpu).unwrap();
	if let Some(node) = fault {
		model.inject_fault(node).unwrap();
	}
	let root = model.commitment.model_root;
	(
		JobService::start(
			vec![model],
			TraceStore::open(dir, StoreLimits::default()).unwrap(),
			4,
			"cpu",
		),
		root,
	)
}

#[test]
fn the_watcher_catches_a_faulty_minilm_provider() {
	let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
	const FAULT: NodeId = 40;
	let (provider, root) = minilm_service(a.path(), Some(FAULT));
	let (own, own_root) = minilm_service(b.path(), None);
	assert_eq!(root, own_root, "a fault changes results, not the model's commitment");
	let text = "The watcher re-runs every result.";
	let ids = own.model(root).unwrap().tokenize(text).unwrap();
	let mut requests = Vec::new();
	for task in [1u64, 2] {
		provider.submit(task, root, ids.clone()).unwrap();
		let JobStatus::Done { output, trace_root: None } =
			provider.wait(task, root, Duration::from_secs(60))
		else {
			panic!("job failed, or committed a root")
		};
		// The root the provider's first answer fixed (its replay's).
		let trace_root = Some(provider.trace(task).unwrap().1.root);
		requests.push(WatchRequest {
			task,
			model_root: root,
			input: ids.clone(),
			output: output.iter().flat_map(|v| v.to_le_bytes()).collect(),
			generation: None,
			trace_root,
			endpoint: b"in-process".to_vec(),
			slack_bits: 0,
			max_row_width: 1536,
			audit: false,
		});
	}
	// Task 2 claims the honest output (as a provider that fixed up only its final answer would):
	// the trace behind it is still the faulty one, and the watcher re-checks the output first.
	let honest_output = {
		let m = own.model(root).unwrap();
		engine::run(&m, &[m.encode_text(text).unwrap()], Mode::Plain)
			.unwrap()
			.pop()
			.unwrap()
			.output
	};
	requests[1].output = honest_output.iter().flat_map(|v| v.to_le_bytes()).collect();

	// Before any answer fixes the root: the same wrong output, nothing on chain to walk against.
	let unfixed = WatchRequest { task: 3, trace_root: None, ..requests[0].clone() };

	let served = provider.clone();
	let connections = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
	let counted = connections.clone();
	let watcher = Watcher::start(
		own.clone(),
		1.0,
		1,
		Duration::ZERO,
		Box::new(move |endpoint, task| {
			assert_eq!(endpoint, "in-process");
			counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
			Ok(Box::new(ServedTrace { jobs: served.clone(), task }) as Box<dyn RemoteTrace>)
		}),
	);
	let wait = |req: &WatchRequest| -> WatchStatus {
		for _ in 0..600 {
			match watcher.watch(req.clone()).unwrap() {
				WatchStatus::Running => std::thread::sleep(Duration::from_millis(50)),
				done => return done,
			}
		}
		panic!("the watcher did not finish");
	};
	// The provider's served rows are not bound to anything yet: the watcher descends from the
	// output element farthest from its own, without asking the provider.
	let last = (own.model(root).unwrap().template.nodes.len() - 1) as NodeId;
	let descend = wait(&unfixed);
	assert!(
		matches!(descend, WatchStatus::Withheld { node, row: 0, .. } if node == last),
		"{descend:?}"
	);
	assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 0);
	// Once the root is fixed, the served rows are walked to the provable element.
	let fraud = wait(&requests[0]);
	assert!(matches!(fraud, WatchStatus::Fraud { node: FAULT, row: 0, col: 0 }), "{fraud:?}");
	assert_eq!(wait(&requests[1]), WatchStatus::Clean, "an output that matches is not walked");
	// Unknown models are refused; results are remembered per task.
	assert!(watcher
		.watch(WatchRequest { model_root: [9; 32], ..requests[0].clone() })
		.is_none());
	assert_eq!(watcher.watch(requests[0].clone()), Some(fraud));
}

/// Polls `watcher` until the descent step is known.
fn next_step(watcher: &Watcher, request: &DescentRequest) -> DescentStep {
	for _ in 0..600 {
		match watcher.descend(request.clone()).unwrap() {
			DescentStep::Running => std::thread::sleep(Duration::from_millis(50)),
			step => return step,
		}
	}
	panic!("the watcher did not re-execute the task");
}

#[test]
fn a_provider_that_withholds_its_trace_is_descended_to_its_faulty_node() {
	let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
	// Layer 1's attention output: the descent crosses five layers to reach it.
	const FAULT: NodeId = 40;
	let (provider, root) = minilm_service(a.path(), Some(FAULT));
	let (own, _) = minilm_service(b.path(), None);
	let model = own.model(root).unwrap();
	let ids = model.tokenize("A provider that serves nothing is descended.").unwrap();
	provider.submit(7, root, ids.clone()).unwrap();
	let JobStatus::Done { output, trace_root: None } =
		provider.wait(7, root, Duration::from_secs(60))
	else {
		panic!("job failed, or committed a root")
	};
	let output: Vec<u8> = output.iter().flat_map(|v| v.to_le_bytes()).collect();
	// The root its first answer would fix; its endpoint is down all the same.
	let trace_root = provider.trace(7).unwrap().1.root;
	let request = WatchRequest {
		task: 7,
		model_root: root,
		input: ids.clone(),
		output: output.clone(),
		generation: None,
		trace_root: Some(trace_root),
		endpoint: b"ws://127.0.0.1:1".to_vec(),
		slack_bits: 0,
		max_row_width: 1536,
		audit: false,
	};
	let connections = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
	let counted = connections.clone();
	let watcher = Watcher::start(
		own.clone(),
		1.0,
		1,
		Duration::ZERO,
		Box::new(move |_, _| {
			counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
			Err("connection refused".into())
		}),
	);
	let mut status = WatchStatus::Running;
	for _ in 0..600 {
		status = watcher.watch(request.clone()).unwrap();
		if status != WatchStatus::Running {
			break;
		}
		std::thread::sleep(Duration::from_millis(50));
	}
	// The provider is reached once; its silence starts a descent at an output element.
	let WatchStatus::Withheld { node, row, col } = status else { panic!("{status:?}") };
	let last = (model.template.nodes.len() - 1) as NodeId;
	assert_eq!((node, row), (last, 0), "the descent starts at the committed output");
	for _ in 0..3 {
		assert_eq!(watcher.watch(request.clone()).unwrap(), status);
	}
	assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 1);

	// The chain's side: the provider answers each step with its own opening (as its worker
	// does), the runtime rules it and keeps the operand rows it opened; the watcher names the
	// next element from them.
	let (faulty, theirs) = provider.trace(7).unwrap();
	let graph = model.template.instantiate(theirs.seq_len);
	let registered = RegisteredModel {
		graph: &model.template,
		model_root: &root,
		slack: 0.0,
		max_row_width: 1536,
	};
	let task = TaskCommitments { trace_root: &trace_root, output: &output, input: &ids };
	let mut element = (node, row, col);
	let mut rounds = 0;
	let restarted =
		Watcher::start(own.clone(), 1.0, 1, Duration::ZERO, Box::new(|_, _| Err("unused".into())));
	loop {
		let opening = theirs.opening(&faulty, element.0, element.1, element.2).unwrap();
		match verify_element(&registered, &task, element, &opening).ruling() {
			Ruling::ProviderLoses(_) => break,
			Ruling::ProviderWins => {},
			Ruling::Refused => panic!("the provider's own opening of {element:?} is refused"),
		}
		rounds += 1;
		assert!(rounds < graph.nodes.len(), "the descent goes one node earlier each step");
		let opened = operand_rows(&graph, element.0, element.1, element.2)
			.unwrap()
			.into_iter()
			.map(|(n, r)| {
				let values = theirs.row(&faulty.template, n, r).unwrap().values;
				(n, r, values.iter().map(|v| v.to_bits()).collect())
			})
			.collect();
		let step = DescentRequest {
			task: 7,
			model_root: root,
			input: ids.clone(),
			tokens: None,
			slack_bits: 0,
			opened,
		};
		let DescentStep::Next { node, row, col } = next_step(&watcher, &step) else {
			panic!("nothing to name after {element:?}")
		};
		assert!(node < element.0, "each step names an earlier node");
		if rounds == 1 {
			// A watcher that kept nothing (restarted) re-executes and names the same element.
			assert_eq!(restarted.descend(step.clone()), Some(DescentStep::Running));
			assert_eq!(next_step(&restarted, &step), DescentStep::Next { node, row, col });
		}
		element = (node, row, col);
	}
	assert_eq!(element.0, FAULT, "the descent ends at the faulted node after {rounds} rounds");
	eprintln!("descent from the output to node {FAULT}: {rounds} rounds");
}
