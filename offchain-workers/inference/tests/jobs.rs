//! The provider's job service on MiniLM (run `scripts/fetch-model.sh` first): jobs run off the
//! caller's thread, results equal a direct engine run, openings verify, a restarted service
//! finds finished tasks in the trace store and never runs a task twice.

mod common;

use common::model_dir;
use std::{sync::atomic::Ordering, time::Duration};

use arbiter_inference::{
	engine::{self, Mode},
	jobs::{JobService, JobStatus},
	model::Model,
	StoreLimits, TraceStore,
};
use arbiter_primitives::{
	encoding::row_bytes, verify_element, RegisteredModel, TaskCommitments, Verdict,
};
use candle_core::Device;

fn service(store: &std::path::Path) -> (JobService, [u8; 32]) {
	let model = Model::load(&model_dir(), &Device::Cpu).unwrap();
	let root = model.commitment.model_root;
	let store = TraceStore::open(store, StoreLimits::default()).unwrap();
	(JobService::start(vec![model], store, 8, "cpu"), root)
}

#[test]
fn jobs_run_in_the_background_and_survive_a_restart() {
	let dir = tempfile::tempdir().unwrap();
	let model = Model::load(&model_dir(), &Device::Cpu).unwrap();
	// Token ids as a client submits them; the middle one is out of the vocabulary (the chain
	// refuses it at submission; the engine fails it alone, the others of the batch run).
	let inputs = [
		model.tokenize("A man is eating food.").unwrap(),
		vec![101, 40_000, 102],
		model.tokenize("Verifiable inference.").unwrap(),
	];
	let (roots, outputs);
	{
		let (svc, m) = service(dir.path());
		for (k, ids) in inputs.iter().enumerate() {
			svc.submit(100 + k as u64, m, ids.clone()).unwrap();
		}
		// Submitting again changes nothing.
		svc.submit(100, m, inputs[0].clone()).unwrap();
		assert!(svc.submit(1, [99; 32], vec![101, 102]).is_err(), "unknown model");
		let statuses: Vec<JobStatus> =
			(0..3).map(|k| svc.wait(100 + k, m, Duration::from_secs(60))).collect();
		assert!(
			matches!(&statuses[1], JobStatus::Failed(reason) if reason.contains("vocabulary")),
			"{:?}",
			statuses[1]
		);

		// Results equal a direct engine run.
		let model = svc.model(m).unwrap();
		let direct = engine::run(
			&model,
			&[model.input_of_ids(&inputs[0]).unwrap(), model.input_of_ids(&inputs[2]).unwrap()],
			Mode::Traced,
		)
		.unwrap();
		let mut got = Vec::new();
		let mut committed_outputs = Vec::new();
		for (status, d) in [&statuses[0], &statuses[2]].into_iter().zip(&direct) {
			let JobStatus::Done { output, trace_root } = status else { panic!("{status:?}") };
			// Run plain, committed without a root: the traced run's output, bit for bit.
			assert_eq!(output, &d.output);
			assert_eq!(*trace_root, None);
			got.push(d.trace.as_ref().unwrap().root);
			committed_outputs.push(row_bytes(output));
		}
		// Openings served by the service (a replay) verify against the traced run's root.
		let node = (model.template.nodes.len() - 3) as u32;
		let o = svc.opening(100, m, node, 0, 5).unwrap();
		let v = verify_element(
			&RegisteredModel {
				graph: &model.template,
				model_root: &model.commitment.model_root,
				slack: 0.0,
				max_row_width: model.max_row_width(),
			},
			&TaskCommitments {
				trace_root: &got[0],
				output: &committed_outputs[0],
				input: &inputs[0],
			},
			(node, 0, 5),
			&o,
		);
		assert_eq!(v, Verdict::WithinBound);
		let row = svc.trace_row(102, m, node, 0).unwrap();
		assert_eq!(
			arbiter_primitives::encoding::trace_root_of(row.seq_len, &row.trace_tree_root),
			got[1]
		);

		let counters = svc.metrics();
		assert_eq!(
			(counters.done.load(Ordering::Relaxed), counters.failed.load(Ordering::Relaxed)),
			(2, 1)
		);
		let status = svc.engine_status();
		assert_eq!(status.models.len(), 1);
		assert_eq!(status.traces_stored, 2);
		assert_eq!(svc.status(555, m), JobStatus::Unknown);
		roots = got;
		outputs = committed_outputs;
	}
	// A restarted service replays the finished tasks from their records (bit for bit: the same
	// output, and the trace a challenge gets has the same root) and runs no new job.
	let (svc, m) = service(dir.path());
	assert_eq!(svc.status(100, m), JobStatus::Queued, "replaying");
	let JobStatus::Done { output, trace_root } = svc.wait(100, m, Duration::from_secs(60)) else {
		panic!("task 100 not recovered")
	};
	assert_eq!((row_bytes(&output), trace_root), (outputs[0].clone(), None));
	assert_eq!(svc.trace(100).unwrap().1.root, roots[0]);
	svc.submit(102, m, inputs[2].clone()).unwrap();
	let JobStatus::Done { output, .. } = svc.wait(102, m, Duration::from_secs(60)) else {
		panic!()
	};
	assert_eq!(row_bytes(&output), outputs[1]);
	assert_eq!(svc.trace(102).unwrap().1.root, roots[1]);
	assert_eq!(svc.metrics().done.load(Ordering::Relaxed), 0, "no task ran as a new job");
	assert_eq!(svc.metrics().replayed.load(Ordering::Relaxed), 2);
	// The store keeps a record of a few hundred bytes a task, not its trace.
	let store = TraceStore::open(dir.path(), StoreLimits::default()).unwrap();
	for task in [100u64, 102] {
		let bytes = store.record_location(task).unwrap().2;
		assert!(bytes < 256, "task {task}: {bytes} bytes");
	}
}
