//! Replay is bit-exact or the provider loses (docs/protocol.md, "Replay"), on MiniLM (run
//! `scripts/fetch-model.sh` first): a provider keeps a replay record of each task, not its
//! trace, and answers a challenge from the trace the record replays to. Records written by
//! another process (`arbiter-infer`, batched, one thread) replay here (another binary, alone,
//! every thread of this process) to the same roots; a record whose replay gives another output
//! is reported and never served; a record stays under 1 KiB at the model's longest input.

mod common;

use std::process::Command;

use arbiter_inference::{
	engine::{self, Mode},
	model::Model,
	trace_store::{output_hash, Fingerprint, ReplayRecord},
	StoreLimits, TraceStore,
};
use candle_core::Device;

fn minilm() -> Model {
	Model::load(&common::model_dir(), &Device::Cpu).unwrap()
}

const TEXTS: [&str; 3] = [
	"A man is eating food.",
	"A much longer sentence, so that the batch is padded and the matmuls are larger.",
	"Replays are bit for bit.",
];

#[test]
fn records_written_by_another_process_replay_to_their_roots_bit_for_bit() {
	let dir = tempfile::tempdir().unwrap();
	let store_dir = dir.path().join("traces");
	let model_dir = common::model_dir();
	// One batch of three, on one thread, in another executable.
	let mut args = vec![
		"--threads".to_string(),
		"1".into(),
		"embed".into(),
		"--model".into(),
		model_dir.to_str().unwrap().into(),
		"--json".into(),
		"--trace-store".into(),
		store_dir.to_str().unwrap().into(),
	];
	for t in TEXTS {
		args.extend(["--text".to_string(), t.to_string()]);
	}
	let out = Command::new(env!("CARGO_BIN_EXE_arbiter-infer")).args(&args).output().unwrap();
	assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
	let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
	let roots: Vec<String> = v["trace_roots"]
		.as_array()
		.unwrap()
		.iter()
		.map(|r| r.as_str().unwrap().into())
		.collect();

	let model = minilm();
	let store = TraceStore::open(&store_dir, StoreLimits::default()).unwrap();
	assert_eq!(store.tasks().unwrap(), vec![0, 1, 2]);
	assert_ne!(store.record(0).unwrap().fingerprint, store.fingerprint(), "another binary's");
	// Replayed here, each task alone: the recorded roots, so they are re-recorded as this
	// engine's.
	let failed = store.check_replays(&[&model]).unwrap();
	assert!(failed.is_empty(), "{failed:?}");
	for (task, root) in roots.iter().enumerate() {
		let record = store.record(task as u64).unwrap();
		assert_eq!(record.fingerprint, store.fingerprint());
		assert_eq!(record.batch_len, 3);
		let trace = store.get(task as u64, &model).unwrap();
		assert_eq!(format!("0x{}", hex::encode(trace.root)), *root, "task {task}");
		// What the provider committed is the replayed trace's final node, bit for bit.
		let committed: Vec<u32> = v["embeddings"][task]
			.as_array()
			.unwrap()
			.iter()
			.map(|x| (x.as_f64().unwrap() as f32).to_bits())
			.collect();
		let replayed: Vec<u32> = trace.output().unwrap().iter().map(|x| x.to_bits()).collect();
		assert_eq!(replayed, committed, "task {task}");
		assert_eq!(record.output_hash, output_hash(&trace.output().unwrap()));
		let bytes = store.record_location(task as u64).unwrap().2 as u64;
		// Its header and ids; where results depend on the batch (the portable path), also the
		// batch's ids.
		let batch_bytes: u64 = record
			.batch
			.as_ref()
			.map(|(_, inputs)| 4 + inputs.iter().map(|i| 4 + 3 * i.len() as u64).sum::<u64>())
			.unwrap_or(0);
		assert_eq!(
			record.batch.is_none(),
			arbiter_inference::engine::batch_independent(&Device::Cpu)
		);
		assert_eq!(bytes, 116 + 3 * record.ids.len() as u64 + batch_bytes);
	}
}

#[test]
fn a_record_that_does_not_replay_is_reported_and_never_served() {
	let dir = tempfile::tempdir().unwrap();
	let honest = minilm();
	// An engine that computes differently (here: one faulted node) records task 7 ...
	let mut other = minilm();
	other.inject_fault(40).unwrap();
	let ids = honest.tokenize(TEXTS[2]).unwrap();
	let theirs = engine::run(&other, &[other.input_of_ids(&ids).unwrap()], Mode::Traced)
		.unwrap()
		.pop()
		.unwrap()
		.trace
		.unwrap();
	let recorded =
		TraceStore::open_as(dir.path(), StoreLimits::default(), Fingerprint([1; 32])).unwrap();
	recorded.put(7, &other, &theirs, &[&ids], 0).unwrap();
	// ... and task 8 of the honest engine.
	let ours = engine::run(&honest, &[honest.input_of_ids(&ids).unwrap()], Mode::Traced)
		.unwrap()
		.pop()
		.unwrap()
		.trace
		.unwrap();
	recorded.put(8, &honest, &ours, &[&ids], 0).unwrap();
	drop(recorded);

	// The honest engine, under another fingerprint, cannot replay task 7: reported (a node
	// refuses to start) and never served; task 8 replays and is kept.
	let store =
		TraceStore::open_as(dir.path(), StoreLimits::default(), Fingerprint([2; 32])).unwrap();
	let failed = store.check_replays(&[&honest]).unwrap();
	assert_eq!(failed.len(), 1);
	assert_eq!(failed[0].0, 7);
	assert!(failed[0].1.contains("cannot replay the task bit for bit"), "{}", failed[0].1);
	assert!(store.get(7, &honest).unwrap_err().to_string().contains("cannot replay"));
	assert_eq!(store.record(7).unwrap().fingerprint, Fingerprint([1; 32]), "left as it was");
	assert_eq!(store.record(8).unwrap().fingerprint, Fingerprint([2; 32]));
	assert_eq!(store.get(8, &honest).unwrap().root, ours.root);
	// A record of a model this node does not load is reported too.
	let foreign = ReplayRecord { model_root: [9; 32], ..store.record(8).unwrap() };
	let unknown = TraceStore::open_as(
		&dir.path().join("unknown"),
		StoreLimits::default(),
		Fingerprint([3; 32]),
	)
	.unwrap();
	unknown.put(1, &honest, &ours, &[&ids], 0).unwrap();
	drop(unknown);
	let unknown = TraceStore::open_as(
		&dir.path().join("unknown"),
		StoreLimits::default(),
		Fingerprint([4; 32]),
	)
	.unwrap();
	let mut other_model = minilm();
	other_model.commitment.model_root = foreign.model_root;
	assert_eq!(
		unknown.check_replays(&[&other_model]).unwrap(),
		vec![(1, "its model is not loaded".to_string())]
	);
}

#[test]
fn a_record_at_the_longest_input_stays_under_one_kilobyte() {
	let dir = tempfile::tempdir().unwrap();
	let model = minilm();
	let ids = model.tokenize(&"verifiable inference ".repeat(150)).unwrap();
	assert_eq!(ids.len(), 256);
	let trace = engine::run(&model, &[model.input_of_ids(&ids).unwrap()], Mode::Traced)
		.unwrap()
		.pop()
		.unwrap()
		.trace
		.unwrap();
	let store = TraceStore::open(dir.path(), StoreLimits::default()).unwrap();
	store.put(3, &model, &trace, &[&ids], 0).unwrap();
	let bytes = store.record_location(3).unwrap().2;
	assert_eq!(bytes, 884, "116 header bytes and 256 ids of 3 bytes: under 1 KiB");
	// On disk: the record and a 12-byte entry header (length and task) in the store's log.
	let (path, _, _) = store.record_location(3).unwrap();
	assert_eq!(std::fs::metadata(path).unwrap().len(), 896);
	assert!(trace.size_bytes() > 100 << 20, "the trace it replaces is over 100 MiB");
	assert_eq!(store.get(3, &model).unwrap().root, trace.root);
}
