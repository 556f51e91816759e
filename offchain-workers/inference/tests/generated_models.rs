//! The engine on small generated models: traces verify element by element, plain and traced
//! agree, batching with padding gives each input the trace of its own length, the trace store
//! serves rows and openings, and bad input is refused.

use arbiter_inference::{
	engine::{self, Mode},
	generated::{
		gated_mlp, gated_mlp_input, tiny_bert, tiny_bert_input, tiny_llama, tiny_llama_input,
	},
	model::{Model, ModelInput},
	EngineError, StoreLimits, Trace, TraceStore,
};
use arbiter_primitives::{
	commitment::trace_leaf,
	encoding::{row_bytes, to_bits, trace_root_of},
	merkle::verify_range,
	verify_element, Op, RegisteredModel, TaskCommitments, Verdict,
};
use candle_core::Device;

const MAX_WIDTH: u32 = 4096;

/// The token ids an honest trace is of (both generated models read them as their first input).
fn ids_of(trace: &Trace) -> Vec<u32> {
	trace.outputs().unwrap()[0].iter().map(|v| *v as u32).collect()
}

/// Verifies every element of every node of `trace` (or `per_node` samples), inputs included.
fn verify_all(model: &Model, trace: &Trace, per_node: Option<u64>) -> u64 {
	let graph = model.template.instantiate(trace.seq_len);
	let ids = ids_of(trace);
	let mut checked = 0;
	for (id, node) in graph.nodes.iter().enumerate() {
		let numel = node.shape.numel();
		let width = node.shape.width() as u64;
		let step = per_node.map(|n| (numel / n.max(1)).max(1)).unwrap_or(1);
		let mut flat = 0;
		while flat < numel {
			let (row, col) = ((flat / width) as u32, (flat % width) as u32);
			let o = trace.opening(model, id as u32, row, col).unwrap();
			let v = verify_element(
				&RegisteredModel {
					graph: &model.template,
					model_root: &model.commitment.model_root,
					slack: 0.0,
					max_row_width: MAX_WIDTH,
				},
				&TaskCommitments {
					trace_root: &trace.root,
					output: &row_bytes(&trace.output().unwrap()),
					input: &ids,
				},
				(id as u32, row, col),
				&o,
			);
			assert_eq!(v, Verdict::WithinBound, "node {id} ({:?}) row {row} col {col}", node.op);
			checked += 1;
			flat += step;
		}
	}
	checked
}

fn traced(model: &Model, inputs: &[ModelInput]) -> Vec<(Vec<f32>, Trace)> {
	engine::run(model, inputs, Mode::Traced)
		.unwrap()
		.into_iter()
		.map(|e| (e.output, e.trace.unwrap()))
		.collect()
}

#[test]
fn every_element_of_a_tiny_bert_trace_verifies() {
	let model = tiny_bert(1, &Device::Cpu).unwrap();
	for seq in [1u32, 5, 9] {
		let (_, trace) = traced(&model, &[tiny_bert_input(seq as u64, seq)]).pop().unwrap();
		assert_eq!(trace.node_count(), model.template.nodes.len());
		assert_eq!(trace.outputs().unwrap().len(), model.template.nodes.len());
		assert!(verify_all(&model, &trace, None) > 100);
	}
}

#[test]
fn every_element_of_a_gated_mlp_trace_verifies() {
	let model = gated_mlp(2, &Device::Cpu).unwrap();
	let (_, trace) = traced(&model, &[gated_mlp_input(3, 4)]).pop().unwrap();
	assert!(verify_all(&model, &trace, None) > 100);
}

#[test]
fn every_element_of_a_tiny_llama_trace_verifies_alone_and_in_a_padded_batch() {
	let model = tiny_llama(7, &Device::Cpu).unwrap();
	for seq in [1u32, 6] {
		let (_, trace) = traced(&model, &[tiny_llama_input(seq as u64, seq)]).pop().unwrap();
		assert!(verify_all(&model, &trace, None) > 500);
	}
	// Lengths 9, 4 and 2 in one batch padded to 9: causal attention never reads the padding,
	// so each input's trace is of its own length and verifies.
	let inputs: Vec<ModelInput> =
		[9u32, 4, 2].iter().map(|s| tiny_llama_input(*s as u64 + 20, *s)).collect();
	for ((_, trace), input) in traced(&model, &inputs).iter().zip(&inputs) {
		assert_eq!(trace.seq_len, input.seq_len);
		assert!(verify_all(&model, trace, None) > 100);
	}
}

#[test]
fn a_tampered_trace_element_is_caught() {
	let model = tiny_bert(4, &Device::Cpu).unwrap();
	let (_, trace) = traced(&model, &[tiny_bert_input(4, 6)]).pop().unwrap();
	let node = model.template.nodes.iter().position(|n| matches!(n.op, Op::Gelu)).unwrap();
	let mut outputs = trace.outputs().unwrap().into_owned();
	outputs[node][3] += 0.05;
	let trace = Trace::commit(&model.template, trace.seq_len, outputs).unwrap();
	let o = trace.opening(&model, node as u32, 0, 3).unwrap();
	let v = verify_element(
		&RegisteredModel {
			graph: &model.template,
			model_root: &model.commitment.model_root,
			slack: 0.0,
			max_row_width: MAX_WIDTH,
		},
		&TaskCommitments {
			trace_root: &trace.root,
			output: &row_bytes(&trace.output().unwrap()),
			input: &ids_of(&trace),
		},
		(node as u32, 0, 3),
		&o,
	);
	assert_eq!(v, Verdict::OutsideBound);
}

#[test]
fn plain_and_traced_give_the_same_numbers_and_runs_repeat() {
	let model = tiny_bert(5, &Device::Cpu).unwrap();
	let inputs = [tiny_bert_input(1, 7), tiny_bert_input(2, 3)];
	let plain = engine::run(&model, &inputs, Mode::Plain).unwrap();
	let traced_a = traced(&model, &inputs);
	let traced_b = traced(&model, &inputs);
	for ((p, a), b) in plain.iter().zip(&traced_a).zip(&traced_b) {
		assert!(p.trace.is_none());
		assert_eq!(p.output, a.0, "plain and traced outputs are bit-identical");
		assert_eq!(a.1.root, b.1.root, "same input, same trace root");
		assert_eq!(a.0, *a.1.outputs().unwrap().last().unwrap(), "the output is the last node");
		assert_eq!(a.0, a.1.output().unwrap());
	}
	assert_eq!(model.output_width(), 16);
}

#[test]
fn batched_inputs_of_different_lengths_get_the_trace_of_their_own_length() {
	let model = tiny_bert(6, &Device::Cpu).unwrap();
	let inputs: Vec<ModelInput> =
		[3u32, 8, 1, 5].iter().map(|s| tiny_bert_input(*s as u64 + 10, *s)).collect();
	let batched = traced(&model, &inputs);
	for (input, (output, trace)) in inputs.iter().zip(&batched) {
		assert_eq!(trace.seq_len, input.seq_len);
		let (single_out, single) = traced(&model, std::slice::from_ref(input)).pop().unwrap();
		// The committed inputs are the unpadded ones.
		for (k, t) in input.tensors.iter().enumerate() {
			assert_eq!(&trace.outputs().unwrap()[k], t);
		}
		let diff = output
			.iter()
			.zip(&single_out)
			.map(|(a, b)| (a - b).abs())
			.fold(0.0f32, f32::max);
		assert!(diff <= 1e-5, "batched vs single output differ by {diff}");
		assert_eq!(
			trace.outputs().unwrap().iter().map(Vec::len).collect::<Vec<_>>(),
			single.outputs().unwrap().iter().map(Vec::len).collect::<Vec<_>>()
		);
		assert_eq!(trace.size_bytes(), single.size_bytes());
		verify_all(&model, trace, None);
	}
	// No pad values (gated MLP): lengths run in separate batches, results in input order.
	let mlp = gated_mlp(7, &Device::Cpu).unwrap();
	let inputs = [gated_mlp_input(1, 3), gated_mlp_input(2, 5), gated_mlp_input(3, 3)];
	let out = traced(&mlp, &inputs);
	for (input, (_, trace)) in inputs.iter().zip(&out) {
		assert_eq!(trace.seq_len, input.seq_len);
		assert_eq!(trace.outputs().unwrap()[0], input.tensors[0]);
		verify_all(&mlp, trace, Some(5));
	}
}

#[test]
fn bad_inputs_are_refused_with_clear_errors() {
	let model = tiny_bert(8, &Device::Cpu).unwrap();
	let good = tiny_bert_input(1, 4);
	let run = |i: ModelInput| engine::run(&model, &[i], Mode::Plain).unwrap_err().to_string();
	assert!(matches!(engine::run(&model, &[], Mode::Plain), Err(EngineError::EmptyBatch)));
	assert!(
		run(ModelInput { seq_len: 0, tensors: good.tensors.clone() }).contains("sequence length 0")
	);
	assert!(run(ModelInput { seq_len: 4, tensors: good.tensors[..4].to_vec() })
		.contains("4 input tensors for 5 model inputs"));
	assert!(run(ModelInput { seq_len: 5, tensors: good.tensors.clone() })
		.contains("has 4 values, expected 5"));
	let mut t = good.tensors.clone();
	t[0][1] = 50.0;
	assert!(run(ModelInput { seq_len: 4, tensors: t }).contains("id outside 0..50"));
	let mut t = good.tensors.clone();
	t[0][1] = 1.5;
	assert!(run(ModelInput { seq_len: 4, tensors: t }).contains("id outside"));
	let mut t = good.tensors.clone();
	t[3][0] = f32::NAN;
	assert!(run(ModelInput { seq_len: 4, tensors: t }).contains("non-finite"));
	// A text model API on a model without a tokenizer.
	assert!(model.encode_text("hello").unwrap_err().to_string().contains("takes token ids"));
}

#[test]
fn traces_of_a_padded_batch_store_and_serve_their_own_rows() {
	// Items of a batch share its padded node outputs; each trace reads only its own rows.
	let dir = tempfile::tempdir().unwrap();
	let model = tiny_bert(12, &Device::Cpu).unwrap();
	let inputs: Vec<ModelInput> = [(21u64, 9u32), (22, 2), (23, 6)]
		.iter()
		.map(|(s, q)| tiny_bert_input(*s, *q))
		.collect();
	let traces: Vec<Trace> = traced(&model, &inputs).into_iter().map(|(_, t)| t).collect();
	let store = TraceStore::open(dir.path(), StoreLimits::default()).unwrap();
	let softmax =
		model.template.nodes.iter().position(|n| matches!(n.op, Op::Softmax)).unwrap() as u32;
	for (k, (input, trace)) in inputs.iter().zip(&traces).enumerate() {
		let (single_output, single) = traced(&model, std::slice::from_ref(input)).pop().unwrap();
		assert_eq!(trace.size_bytes(), single.size_bytes(), "item {k}: its own length's rows only");
		let batch: Vec<Vec<u32>> = traces.iter().map(ids_of).collect();
		let batch: Vec<&[u32]> = batch.iter().map(|ids| ids.as_slice()).collect();
		store.put(30 + k as u64, &model, trace, &batch, k).unwrap();
		// Replayed from its record (alone, or in its batch on the portable path): bit for bit
		// the batched item's trace.
		let back = store.get(30 + k as u64, &model).unwrap();
		assert_eq!(back.root, trace.root, "item {k}: the replay hashes to the committed root");
		if engine::batch_independent(&Device::Cpu) {
			assert_eq!(
				back.root, single.root,
				"item {k}: a batch item's trace is its single run's"
			);
		}
		assert_eq!(back.output().unwrap(), trace.output().unwrap());
		let diff = single_output
			.iter()
			.zip(&trace.output().unwrap())
			.map(|(a, b)| (a - b).abs())
			.fold(0.0f32, f32::max);
		assert!(diff <= 1e-5, "item {k}: batched vs single output differ by {diff}");
		let last_row = input.seq_len - 1;
		assert_eq!(
			store.row(30 + k as u64, &model, softmax, last_row).unwrap(),
			trace.row(&model.template, softmax, last_row).unwrap()
		);
		assert!(
			trace.row(&model.template, softmax, input.seq_len * 4).is_err(),
			"no row beyond the item's own"
		);
	}
}

#[test]
fn the_trace_store_serves_rows_and_openings_and_evicts_the_oldest() {
	let dir = tempfile::tempdir().unwrap();
	let model = tiny_bert(9, &Device::Cpu).unwrap();
	let traces: Vec<Trace> = (0..4u32)
		.map(|k| traced(&model, &[tiny_bert_input(k as u64, 3 + k)]).pop().unwrap().1)
		.collect();
	// A replay record: 116 header bytes and 3 per token id (3 to 6 ids here).
	let per_record = 116 + 3 * 6;
	let put = |store: &TraceStore, task: u64, t: &Trace| {
		store.put(task, &model, t, &[&ids_of(t)], 0).unwrap();
	};
	let store =
		TraceStore::open(dir.path(), StoreLimits { max_traces: 3, max_bytes: 100 * per_record })
			.unwrap();
	for (k, t) in traces.iter().enumerate() {
		put(&store, 10 + k as u64, t);
		// Distinct modification times order the eviction.
		std::thread::sleep(std::time::Duration::from_millis(20));
	}
	assert_eq!(
		store.tasks().unwrap(),
		vec![11, 12, 13],
		"the oldest trace is evicted at the count limit"
	);
	assert!(matches!(store.get(10, &model), Err(EngineError::TraceNotFound(10))));

	// A reopened store (a restarted node) serves the same roots, rows and openings.
	drop(store);
	let store =
		TraceStore::open(dir.path(), StoreLimits { max_traces: 3, max_bytes: 100 * per_record })
			.unwrap();
	let t = store.get(12, &model).unwrap();
	assert_eq!(t.root, traces[2].root);
	let node =
		model.template.nodes.iter().position(|n| matches!(n.op, Op::Softmax)).unwrap() as u32;
	let row = store.row(12, &model, node, 2).unwrap();
	assert_eq!(trace_root_of(row.seq_len, &row.trace_tree_root), traces[2].root);
	let leaf = trace_leaf(node, 2, &to_bits(&row.values));
	verify_range(&row.trace_tree_root, row.leaf_count, row.leaf_index, &[leaf], &row.proof)
		.unwrap();
	let o = store.opening(12, &model, node, 2, 1).unwrap();
	let v = verify_element(
		&RegisteredModel {
			graph: &model.template,
			model_root: &model.commitment.model_root,
			slack: 0.0,
			max_row_width: MAX_WIDTH,
		},
		&TaskCommitments {
			trace_root: &traces[2].root,
			output: &row_bytes(&traces[2].output().unwrap()),
			input: &ids_of(&traces[2]),
		},
		(node, 2, 1),
		&o,
	);
	assert_eq!(v, Verdict::WithinBound);
	assert!(store.row(12, &model, node, 10_000).is_err());

	// Another model's store entry is refused; a damaged record is reported, not trusted.
	let other = tiny_bert(10, &Device::Cpu).unwrap();
	assert!(store.get(13, &other).unwrap_err().to_string().contains("another model"));
	let damage = |task: u64, at: usize, bytes: &[u8]| {
		let (path, offset, len) = store.record_location(task).unwrap();
		assert!(at + bytes.len() <= len as usize);
		let mut file = std::fs::read(&path).unwrap();
		let at = offset as usize + at;
		file[at..at + bytes.len()].copy_from_slice(bytes);
		std::fs::write(&path, &file).unwrap();
	};
	// An id count past the record's end.
	damage(11, 112, &u32::MAX.to_le_bytes());
	assert!(store.get(11, &model).unwrap_err().to_string().contains("truncated"));
	// A record of the previous format (it kept the trace root) is not read.
	damage(11, 0, b"ARBRPL01");
	assert!(store.get(11, &model).unwrap_err().to_string().contains("not a replay record"));
	// A record whose replay gives another output is refused, not served.
	damage(13, 72, &[store.record(13).unwrap().output_hash[0] ^ 1]);
	let reopened =
		TraceStore::open(dir.path(), StoreLimits { max_traces: 3, max_bytes: 100 * per_record })
			.unwrap();
	assert!(reopened.get(13, &model).unwrap_err().to_string().contains("cannot replay"));

	// The byte limit evicts too.
	let small = TraceStore::open(
		&dir.path().join("small"),
		StoreLimits { max_traces: 100, max_bytes: 2 * per_record },
	)
	.unwrap();
	for (k, t) in traces.iter().enumerate() {
		put(&small, 20 + k as u64, t);
		std::thread::sleep(std::time::Duration::from_millis(20));
	}
	assert_eq!(small.tasks().unwrap(), vec![22, 23]);

	// Traces of tasks a challenge may still ask for are never evicted: the limits give way.
	let kept = TraceStore::open(
		&dir.path().join("kept"),
		StoreLimits { max_traces: 2, max_bytes: 100 * per_record },
	)
	.unwrap();
	kept.retain(vec![40, 41]);
	for (k, t) in traces.iter().enumerate() {
		put(&kept, 40 + k as u64, t);
		std::thread::sleep(std::time::Duration::from_millis(20));
	}
	assert_eq!(
		kept.tasks().unwrap(),
		vec![40, 41, 43],
		"42 evicted; the retained two and the newest kept"
	);
	// Once those tasks end (the worker's next set), the store shrinks back to its limit.
	kept.retain(vec![43]);
	put(&kept, 44, &traces[0]);
	assert_eq!(kept.tasks().unwrap(), vec![43, 44]);
}

#[test]
fn the_parallel_trace_tree_equals_the_reference_one() {
	let model = tiny_bert(11, &Device::Cpu).unwrap();
	// One batch of mixed lengths: the engine hashes each item's rows where they lie in the batch.
	let inputs: Vec<ModelInput> = [(11u64, 1u32), (12, 7), (13, 40), (14, 9), (15, 8)]
		.iter()
		.map(|(s, q)| tiny_bert_input(*s, *q))
		.collect();
	for (input, (_, trace)) in inputs.iter().zip(traced(&model, &inputs)) {
		let seq = input.seq_len;
		let outputs = trace.outputs().unwrap();
		let (fast_tree, fast_root) =
			arbiter_inference::commit::trace_commitment(&model.template, seq, &outputs).unwrap();
		let (tree, root) =
			arbiter_primitives::commitment::trace_commitment(&model.template, seq, &outputs)
				.unwrap();
		assert_eq!(trace.root, root, "the engine's root, length {seq}");
		assert_eq!(trace.tree.root(), tree.root());
		assert_eq!(fast_root, root);
		assert_eq!(fast_tree.leaf_count(), tree.leaf_count());
		for i in [0, tree.leaf_count() / 2, tree.leaf_count() - 1] {
			assert_eq!(fast_tree.prove(i), tree.prove(i));
		}
		let mut bad = outputs.into_owned();
		bad[9][0] = f32::INFINITY;
		assert!(arbiter_inference::commit::trace_commitment(&model.template, seq, &bad).is_err());
	}
}

/// After a restart a task that ran in a batch is replayed as its record says: alone where the
/// engine's results do not depend on the batch, in its recorded batch elsewhere (the portable
/// path: the tiny model's linear layers go through candle's GEMM, which sums by matrix size).
/// Either way the job reports the recorded output, and a challenge gets the trace the batch
/// gave, never another.
#[test]
fn a_restarted_service_replays_a_batched_task_as_its_record_says() {
	let dir = tempfile::tempdir().unwrap();
	let model = tiny_bert(12, &Device::Cpu).unwrap();
	let root = model.commitment.model_root;
	let inputs: Vec<ModelInput> = [(21u64, 9u32), (22, 2), (23, 6)]
		.iter()
		.map(|(s, q)| tiny_bert_input(*s, *q))
		.collect();
	let ids: Vec<Vec<u32>> = [(21u64, 9u32), (22, 2), (23, 6)]
		.iter()
		.map(|(s, q)| arbiter_inference::generated::tiny_bert_ids(*s, *q))
		.collect();
	let batch: Vec<&[u32]> = ids.iter().map(|i| i.as_slice()).collect();
	let runs = traced(&model, &inputs);
	{
		// What the service wrote when the batch ran, before the restart.
		let store = TraceStore::open(dir.path(), StoreLimits::default()).unwrap();
		for (k, (_, trace)) in runs.iter().enumerate() {
			store.put(50 + k as u64, &model, trace, &batch, k).unwrap();
		}
	}
	let service = arbiter_inference::jobs::JobService::start(
		vec![tiny_bert(12, &Device::Cpu).unwrap()],
		TraceStore::open(dir.path(), StoreLimits::default()).unwrap(),
		8,
		"cpu",
	);
	// Asked for one at a time (the worker asks as it needs them): each is replayed.
	for (k, (output, trace)) in runs.iter().enumerate().rev() {
		let status = service.wait(50 + k as u64, root, std::time::Duration::from_secs(30));
		assert_eq!(
			status,
			arbiter_inference::jobs::JobStatus::Done { output: output.clone(), trace_root: None },
			"task {}",
			50 + k
		);
		// The trace a challenge gets is the one the batch gave, bit for bit.
		assert_eq!(service.trace(50 + k as u64).unwrap().1.root, trace.root, "task {}", 50 + k);
	}
}
