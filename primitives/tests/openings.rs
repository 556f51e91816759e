//! End to end on generated models: commit, open every element, verify; then every kind of
//! tampering must be caught.

mod common;

use arbiter_primitives::{
	commitment::{model_commitment, trace_tree, weights_tree},
	encoding::trace_root_of,
	evaluator::{gamma, U},
	ir::{Graph, Op},
	merkle::{MerkleTree, ProofError},
	opening::{verify_element, MalformedReason, Opening, Verdict},
	prover::ProverData,
	Hash,
};

const MAX_WIDTH: u32 = 4096;
const TOKENIZER: Hash = [7u8; 32];

struct Fixture {
	trees: std::cell::OnceCell<(MerkleTree, MerkleTree)>,
	graph: Graph,
	weights: Vec<Vec<f32>>,
	outputs: Vec<Vec<f32>>,
	model_root: Hash,
	trace_root: Hash,
}

fn fixture(seed: u64) -> Fixture {
	let (graph, weights, inputs) = common::tiny_encoder(seed, 6, 8, 2, 11);
	graph.validate(MAX_WIDTH).expect("generated graph is valid");
	let outputs = common::run(&graph, &weights, &inputs);
	let model_root = model_commitment(&graph, &weights, TOKENIZER).unwrap().model_root;
	let trace_root = trace_root_of(1, &trace_tree(&graph, &outputs).unwrap().root());
	Fixture { trees: Default::default(), graph, weights, outputs, model_root, trace_root }
}

impl Fixture {
	fn open(&self, node: u32, row: u32, col: u32) -> Opening {
		let (tt, wt) = self.trees.get_or_init(|| {
			(trace_tree(&self.graph, &self.outputs).unwrap(), weights_tree(&self.graph, &self.weights).unwrap())
		});
		let prover = ProverData {
			graph: &self.graph,
			outputs: &self.outputs,
			trace_tree: tt,
			weights: &self.weights,
			weights_tree: wt,
			tokenizer_hash: TOKENIZER,
			seq_len: 1,
		};
		prover.opening(node, row, col).unwrap()
	}

	fn verify(&self, o: &Opening) -> Verdict {
		verify_element(&self.graph, &self.model_root, &self.trace_root, (o.node, o.row, o.col), o, 0.0, MAX_WIDTH)
	}
}

#[test]
fn every_element_of_an_honest_trace_passes() {
	for seed in [1u64, 2, 3] {
		let f = fixture(seed);
		let mut checked = 0;
		for (id, node) in f.graph.nodes.iter().enumerate() {
			if node.op == Op::Input {
				continue;
			}
			for row in 0..node.shape.rows() as u32 {
				for col in 0..node.shape.width() {
					let o = f.open(id as u32, row, col);
					assert_eq!(f.verify(&o), Verdict::WithinBound, "seed {seed} node {id} ({:?}) row {row} col {col}", node.op);
					checked += 1;
				}
			}
		}
		assert!(checked > 1000, "checked {checked} elements");
	}
}

/// A node of each op kind, and an element of it.
fn sample_nodes(f: &Fixture) -> Vec<(u32, u32, u32)> {
	let mut seen: Vec<std::mem::Discriminant<Op>> = Vec::new();
	let mut out = Vec::new();
	for (id, node) in f.graph.nodes.iter().enumerate() {
		let d = std::mem::discriminant(&node.op);
		if node.op == Op::Input || seen.contains(&d) {
			continue;
		}
		seen.push(d);
		out.push((id as u32, node.shape.rows() as u32 - 1, node.shape.width() - 1));
	}
	assert!(out.len() >= 15, "every op kind is sampled: {}", out.len());
	out
}

#[test]
fn a_claim_off_by_a_few_bounds_fails_for_every_op() {
	let f = fixture(4);
	for (node, row, col) in sample_nodes(&f) {
		let mut o = f.open(node, row, col);
		let claimed = f32::from_bits(o.trace_rows[0].rows[0][col as usize]);
		// Move the claim well outside any bound the op could have for this element:
		// relative 1e-3 plus an absolute 1e-3.
		let cheat = claimed + claimed.abs() * 1e-3 + 1e-3;
		let mut f2 = fixture(4);
		let width = f2.graph.nodes[node as usize].shape.width() as usize;
		f2.outputs[node as usize][row as usize * width + col as usize] = cheat;
		f2.trace_root = trace_root_of(1, &trace_tree(&f2.graph, &f2.outputs).unwrap().root());
		o = f2.open(node, row, col);
		assert_eq!(f2.verify(&o), Verdict::OutsideBound, "node {node} op {:?}", f2.graph.nodes[node as usize].op);
	}
}

#[test]
fn tampered_openings_are_malformed() {
	let f = fixture(5);
	// A Linear node: output row, input row, weight row and bias row.
	let linear = f.graph.nodes.iter().position(|n| matches!(n.op, Op::Linear { bias: Some(_), .. })).unwrap() as u32;
	let good = f.open(linear, 1, 2);
	assert_eq!(f.verify(&good), Verdict::WithinBound);

	// A flipped bit in an input row value.
	let mut o = good.clone();
	o.trace_rows[1].rows[0][0] ^= 1;
	assert!(matches!(f.verify(&o), Verdict::Malformed(MalformedReason::BadProof { .. })));
	// A flipped byte in a proof hash.
	let mut o = good.clone();
	o.weight_rows[0].proof.siblings[0][5] ^= 0x40;
	assert!(matches!(f.verify(&o), Verdict::Malformed(MalformedReason::BadProof { .. })));
	// A truncated proof.
	let mut o = good.clone();
	o.trace_rows[0].proof.siblings.pop();
	assert!(matches!(f.verify(&o), Verdict::Malformed(MalformedReason::BadProof { .. })));
	// The right row presented as another row (wrong index).
	let mut o = good.clone();
	o.trace_rows[1].first_row = 0;
	assert!(matches!(f.verify(&o), Verdict::Malformed(_)));
	// Another model's weights (wrong weights root).
	let other = fixture(6);
	let mut o = good.clone();
	o.weights_root = weights_tree(&other.graph, &other.weights).unwrap().root();
	assert_eq!(f.verify(&o), Verdict::Malformed(MalformedReason::ModelRootMismatch));
	// The opening checked against another trace root.
	let v = verify_element(&f.graph, &f.model_root, &other.trace_root, (linear, 1, 2), &good, 0.0, MAX_WIDTH);
	assert_eq!(v, Verdict::Malformed(MalformedReason::TraceRootMismatch));
	// Another trace's tree root inside the opening.
	let mut o = good.clone();
	o.trace_tree_root = other.open(linear, 1, 2).trace_tree_root;
	assert_eq!(f.verify(&o), Verdict::Malformed(MalformedReason::TraceRootMismatch));
	// Another trace's rows (and proofs) under the committed tree root.
	let mut o = good.clone();
	o.trace_rows = other.open(linear, 1, 2).trace_rows;
	assert!(matches!(f.verify(&o), Verdict::Malformed(MalformedReason::BadProof { error: ProofError::RootMismatch, .. })));
	// Against another model root.
	let v = verify_element(&f.graph, &other.model_root, &f.trace_root, (linear, 1, 2), &good, 0.0, MAX_WIDTH);
	assert_eq!(v, Verdict::Malformed(MalformedReason::ModelRootMismatch));
	// A missing weight row.
	let mut o = good.clone();
	o.weight_rows.pop();
	assert!(matches!(f.verify(&o), Verdict::Malformed(MalformedReason::MissingRow { .. })));
	// An extra row the element does not read.
	let mut o = good.clone();
	o.trace_rows.push(f.open(linear, 0, 2).trace_rows[1].clone());
	assert!(matches!(f.verify(&o), Verdict::Malformed(MalformedReason::UnexpectedRow { .. })));
	// An opening for another element than the disputed one.
	let v = verify_element(&f.graph, &f.model_root, &f.trace_root, (linear, 1, 3), &good, 0.0, MAX_WIDTH);
	assert_eq!(v, Verdict::Malformed(MalformedReason::WrongElement));
	// A row of the wrong width.
	let mut o = good.clone();
	o.trace_rows[0].rows[0].pop();
	assert!(matches!(f.verify(&o), Verdict::Malformed(MalformedReason::RowWidth { .. })));
	// Inputs are not recomputed.
	let mut o = good.clone();
	(o.node, o.row, o.col) = (0, 0, 0);
	let v = verify_element(&f.graph, &f.model_root, &f.trace_root, (0, 0, 0), &o, 0.0, MAX_WIDTH);
	assert_eq!(v, Verdict::Malformed(MalformedReason::NodeNotChallengeable));
}

#[test]
fn a_non_finite_value_in_a_committed_row_is_malformed() {
	let f = fixture(8);
	let gelu = f.graph.nodes.iter().position(|n| n.op == Op::Gelu).unwrap() as u32;
	let input = f.graph.nodes[gelu as usize].inputs[0] as usize;
	let width = f.graph.nodes[input].shape.width() as usize;
	// The trace builder refuses NaN outright; build the tree by hand over the bad trace.
	let mut outputs = f.outputs.clone();
	outputs[input][width + 1] = f32::NAN;
	assert!(trace_tree(&f.graph, &outputs).is_err());
}

#[test]
fn slack_widens_the_bound() {
	let f = fixture(9);
	let node = f.graph.nodes.iter().position(|n| n.op == Op::MatMul).unwrap() as u32;
	let mut outputs = f.outputs.clone();
	let width = f.graph.nodes[node as usize].shape.width() as usize;
	outputs[node as usize][width] += 0.01;
	let trace_root = trace_root_of(1, &trace_tree(&f.graph, &outputs).unwrap().root());
	let f2 = Fixture { trees: Default::default(), outputs, trace_root, ..fixture(9) };
	let o = f2.open(node, 1, 0);
	let v = |slack| verify_element(&f2.graph, &f2.model_root, &f2.trace_root, (node, 1, 0), &o, slack, MAX_WIDTH);
	assert_eq!(v(0.0), Verdict::OutsideBound);
	assert_eq!(v(0.02), Verdict::WithinBound);
	// Sanity of the constants the bounds use.
	assert!(gamma(384) < 384.0 * U * 1.0001);
}

/// A template (symbolic sequence length) traced at two lengths: every element of both traces
/// verifies against the template's one `model_root`; an opening that lies about the length is
/// caught by the trace root, and one for another length's trace fails its proofs.
#[test]
fn templates_are_traced_at_the_input_length_and_the_length_is_committed() {
	use arbiter_primitives::commitment::trace_commitment;
	let mut roots = Vec::new();
	for seq in [3u32, 7] {
		let (template, weights, inputs) = common::tiny_encoder_template(21, seq, 8, 2, 11);
		assert!(template.is_template());
		assert_eq!(template.seq_dims(0), vec![1]);
		let graph = template.instantiate(seq);
		graph.validate(MAX_WIDTH).expect("instantiated graph is valid");
		assert!(!graph.is_template());
		let outputs = common::run(&graph, &weights, &inputs);
		let model_root = model_commitment(&template, &weights, TOKENIZER).unwrap().model_root;
		let (tt, trace_root) = trace_commitment(&template, seq, &outputs).unwrap();
		let wt = weights_tree(&template, &weights).unwrap();
		let prover = ProverData {
			graph: &graph,
			seq_len: seq,
			outputs: &outputs,
			trace_tree: &tt,
			weights: &weights,
			weights_tree: &wt,
			tokenizer_hash: TOKENIZER,
		};
		let mut checked = 0;
		for (id, node) in graph.nodes.iter().enumerate().filter(|(_, n)| n.op != Op::Input) {
			for row in 0..node.shape.rows() as u32 {
				for col in 0..node.shape.width() {
					let o = prover.opening(id as u32, row, col).unwrap();
					let v = verify_element(&template, &model_root, &trace_root, (id as u32, row, col), &o, 0.0, MAX_WIDTH);
					assert_eq!(v, Verdict::WithinBound, "seq {seq} node {id} row {row} col {col}");
					checked += 1;
				}
			}
		}
		assert!(checked > 200);
		// Claiming another length: the trace root no longer matches.
		let mut o = prover.opening(graph.nodes.len() as u32 - 1, 0, 0).unwrap();
		o.seq_len = seq + 1;
		let v = verify_element(&template, &model_root, &trace_root, (o.node, o.row, o.col), &o, 0.0, MAX_WIDTH);
		assert_eq!(v, Verdict::Malformed(MalformedReason::TraceRootMismatch));
		// The instantiated graph is not the registered descriptor.
		let o = prover.opening(graph.nodes.len() as u32 - 1, 0, 0).unwrap();
		let v = verify_element(&graph, &model_root, &trace_root, (o.node, o.row, o.col), &o, 0.0, MAX_WIDTH);
		assert_eq!(v, Verdict::Malformed(MalformedReason::ModelRootMismatch));
		roots.push((model_root, trace_root));
	}
	assert_eq!(roots[0].0, roots[1].0, "one model root for every length");
	assert_ne!(roots[0].1, roots[1].1);
	// Length 0 instantiates to an invalid graph.
	let (template, _, _) = common::tiny_encoder_template(21, 3, 8, 2, 11);
	assert!(template.instantiate(0).validate(MAX_WIDTH).is_err());
}
