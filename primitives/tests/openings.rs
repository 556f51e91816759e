//! End to end on generated models: commit, open every element, verify; then every kind of
//! tampering must be caught.

mod common;

use arbiter_primitives::{
	commitment::{model_commitment, trace_tree, weights_tree},
	encoding::trace_root_of,
	evaluator::{gamma, U},
	ir::{Graph, Op},
	merkle::{MerkleTree, ProofError},
	opening::{
		verify_element, Fault, MalformedReason, Opening, RegisteredModel, Ruling, TaskCommitments,
		Verdict,
	},
	prover::ProverData,
	Hash,
};

const MAX_WIDTH: u32 = 4096;

/// The output a provider commits for these node outputs: the final node, f32 little-endian.
fn output_of(outputs: &[Vec<f32>]) -> Vec<u8> {
	outputs
		.last()
		.map(|o| o.iter().flat_map(|v| v.to_le_bytes()).collect())
		.unwrap_or_default()
}
const TOKENIZER: Hash = [7u8; 32];
/// The fixture's input length (its graph has fixed shapes for this many tokens).
const SEQ: u32 = 6;

struct Fixture {
	trees: std::cell::OnceCell<(MerkleTree, MerkleTree)>,
	graph: Graph,
	weights: Vec<Vec<f32>>,
	outputs: Vec<Vec<f32>>,
	model_root: Hash,
	trace_root: Hash,
	/// The task's token ids.
	ids: Vec<u32>,
}

fn fixture(seed: u64) -> Fixture {
	let (graph, weights, inputs) = common::tiny_encoder(seed, SEQ, 8, 2, 11);
	graph.validate(MAX_WIDTH).expect("generated graph is valid");
	let outputs = common::run(&graph, &weights, &inputs);
	let model_root = model_commitment(&graph, &weights, TOKENIZER).unwrap().model_root;
	let trace_root = trace_root_of(SEQ, &trace_tree(&graph, &outputs).unwrap().root());
	Fixture {
		trees: Default::default(),
		graph,
		weights,
		outputs,
		model_root,
		trace_root,
		ids: common::task_ids(&inputs),
	}
}

impl Fixture {
	fn open(&self, node: u32, row: u32, col: u32) -> Opening {
		let (tt, wt) = self.trees.get_or_init(|| {
			(
				trace_tree(&self.graph, &self.outputs).unwrap(),
				weights_tree(&self.graph, &self.weights).unwrap(),
			)
		});
		let prover = ProverData {
			graph: &self.graph,
			outputs: &self.outputs,
			trace_tree: tt,
			weights: &self.weights,
			weights_tree: wt,
			tokenizer_hash: TOKENIZER,
			seq_len: SEQ,
		};
		prover.opening(node, row, col).unwrap()
	}

	fn verify(&self, o: &Opening) -> Verdict {
		self.verify_for(&self.ids, o)
	}

	/// Rules on `o` as if the task's input were `ids`.
	fn verify_for(&self, ids: &[u32], o: &Opening) -> Verdict {
		verify_element(
			&self.model(),
			&TaskCommitments {
				trace_root: &self.trace_root,
				output: &output_of(&self.outputs),
				input: ids,
			},
			(o.node, o.row, o.col),
			o,
		)
	}

	fn model(&self) -> RegisteredModel<'_> {
		RegisteredModel {
			graph: &self.graph,
			model_root: &self.model_root,
			slack: 0.0,
			max_row_width: MAX_WIDTH,
		}
	}
}

#[test]
fn every_element_of_an_honest_trace_passes() {
	for seed in [1u64, 2, 3] {
		let f = fixture(seed);
		let mut checked = 0;
		for (id, node) in f.graph.nodes.iter().enumerate() {
			for row in 0..node.shape.rows() as u32 {
				for col in 0..node.shape.width() {
					let o = f.open(id as u32, row, col);
					assert_eq!(
						f.verify(&o),
						Verdict::WithinBound,
						"seed {seed} node {id} ({:?}) row {row} col {col}",
						node.op
					);
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
		if node.op.is_input() || seen.contains(&d) {
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
		f2.trace_root = trace_root_of(SEQ, &trace_tree(&f2.graph, &f2.outputs).unwrap().root());
		o = f2.open(node, row, col);
		assert_eq!(
			f2.verify(&o),
			Verdict::OutsideBound,
			"node {node} op {:?}",
			f2.graph.nodes[node as usize].op
		);
	}
}

#[test]
fn tampered_openings_are_malformed() {
	let f = fixture(5);
	// A Linear node: output row, input row, weight row and bias row.
	let linear = f
		.graph
		.nodes
		.iter()
		.position(|n| matches!(n.op, Op::Linear { bias: Some(_), .. }))
		.unwrap() as u32;
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
	let v = verify_element(
		&RegisteredModel {
			graph: &f.graph,
			model_root: &f.model_root,
			slack: 0.0,
			max_row_width: MAX_WIDTH,
		},
		&TaskCommitments {
			trace_root: &other.trace_root,
			output: &output_of(&f.outputs),
			input: &f.ids,
		},
		(linear, 1, 2),
		&good,
	);
	assert_eq!(v, Verdict::Malformed(MalformedReason::TraceRootMismatch));
	// Another trace's tree root inside the opening.
	let mut o = good.clone();
	o.trace_tree_root = other.open(linear, 1, 2).trace_tree_root;
	assert_eq!(f.verify(&o), Verdict::Malformed(MalformedReason::TraceRootMismatch));
	// Another trace's rows (and proofs) under the committed tree root.
	let mut o = good.clone();
	o.trace_rows = other.open(linear, 1, 2).trace_rows;
	assert!(matches!(
		f.verify(&o),
		Verdict::Malformed(MalformedReason::BadProof { error: ProofError::RootMismatch, .. })
	));
	// Against another model root.
	let v = verify_element(
		&RegisteredModel {
			graph: &f.graph,
			model_root: &other.model_root,
			slack: 0.0,
			max_row_width: MAX_WIDTH,
		},
		&TaskCommitments {
			trace_root: &f.trace_root,
			output: &output_of(&f.outputs),
			input: &f.ids,
		},
		(linear, 1, 2),
		&good,
	);
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
	let v = verify_element(
		&RegisteredModel {
			graph: &f.graph,
			model_root: &f.model_root,
			slack: 0.0,
			max_row_width: MAX_WIDTH,
		},
		&TaskCommitments {
			trace_root: &f.trace_root,
			output: &output_of(&f.outputs),
			input: &f.ids,
		},
		(linear, 1, 3),
		&good,
	);
	assert_eq!(v, Verdict::Malformed(MalformedReason::WrongElement));
	// A row of the wrong width.
	let mut o = good.clone();
	o.trace_rows[0].rows[0].pop();
	assert!(matches!(f.verify(&o), Verdict::Malformed(MalformedReason::RowWidth { .. })));
	// Another element's opening presented for an input element.
	let mut o = good.clone();
	(o.node, o.row, o.col) = (0, 0, 0);
	assert!(matches!(f.verify(&o), Verdict::Malformed(MalformedReason::UnexpectedRow { .. })));
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
	let trace_root = trace_root_of(SEQ, &trace_tree(&f.graph, &outputs).unwrap().root());
	let f2 = Fixture { trees: Default::default(), outputs, trace_root, ..fixture(9) };
	let o = f2.open(node, 1, 0);
	let v = |slack| {
		verify_element(
			&RegisteredModel {
				graph: &f2.graph,
				model_root: &f2.model_root,
				slack,
				max_row_width: MAX_WIDTH,
			},
			&TaskCommitments {
				trace_root: &f2.trace_root,
				output: &output_of(&f2.outputs),
				input: &f2.ids,
			},
			(node, 1, 0),
			&o,
		)
	};
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
		let ids = common::task_ids(&inputs);
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
		for (id, node) in graph.nodes.iter().enumerate() {
			for row in 0..node.shape.rows() as u32 {
				for col in 0..node.shape.width() {
					let o = prover.opening(id as u32, row, col).unwrap();
					let v = verify_element(
						&RegisteredModel {
							graph: &template,
							model_root: &model_root,
							slack: 0.0,
							max_row_width: MAX_WIDTH,
						},
						&TaskCommitments {
							trace_root: &trace_root,
							output: &output_of(&outputs),
							input: &ids,
						},
						(id as u32, row, col),
						&o,
					);
					assert_eq!(v, Verdict::WithinBound, "seq {seq} node {id} row {row} col {col}");
					checked += 1;
				}
			}
		}
		assert!(checked > 200);
		// Claiming another length: the trace root no longer matches.
		let mut o = prover.opening(graph.nodes.len() as u32 - 1, 0, 0).unwrap();
		o.seq_len = seq + 1;
		let v = verify_element(
			&RegisteredModel {
				graph: &template,
				model_root: &model_root,
				slack: 0.0,
				max_row_width: MAX_WIDTH,
			},
			&TaskCommitments { trace_root: &trace_root, output: &output_of(&outputs), input: &ids },
			(o.node, o.row, o.col),
			&o,
		);
		assert_eq!(v, Verdict::Malformed(MalformedReason::TraceRootMismatch));
		// The instantiated graph is not the registered descriptor.
		let o = prover.opening(graph.nodes.len() as u32 - 1, 0, 0).unwrap();
		let v = verify_element(
			&RegisteredModel {
				graph: &graph,
				model_root: &model_root,
				slack: 0.0,
				max_row_width: MAX_WIDTH,
			},
			&TaskCommitments { trace_root: &trace_root, output: &output_of(&outputs), input: &ids },
			(o.node, o.row, o.col),
			&o,
		);
		assert_eq!(v, Verdict::Malformed(MalformedReason::ModelRootMismatch));
		roots.push((model_root, trace_root));
	}
	assert_eq!(roots[0].0, roots[1].0, "one model root for every length");
	assert_ne!(roots[0].1, roots[1].1);
	// Length 0 instantiates to an invalid graph.
	let (template, _, _) = common::tiny_encoder_template(21, 3, 8, 2, 11);
	assert!(template.instantiate(0).validate(MAX_WIDTH).is_err());
}

/// The committed output must be the trace's final node: an operator that traces honestly and
/// commits other output bytes loses a challenge of any output element that differs; one whose
/// output has the wrong size loses a challenge of any output element.
#[test]
fn an_output_that_is_not_the_final_node_loses_any_challenge_of_an_output_element() {
	let f = fixture(12);
	let last = f.graph.nodes.len() as u32 - 1;
	let shape = f.graph.nodes[last as usize].shape.clone();
	let honest = output_of(&f.outputs);
	let model = RegisteredModel {
		graph: &f.graph,
		model_root: &f.model_root,
		slack: 0.0,
		max_row_width: MAX_WIDTH,
	};
	let verdict = |output: &[u8], row: u32, col: u32| {
		let o = f.open(last, row, col);
		verify_element(
			&model,
			&TaskCommitments { trace_root: &f.trace_root, output, input: &f.ids },
			(last, row, col),
			&o,
		)
	};
	assert_eq!(verdict(&honest, 0, 0), Verdict::WithinBound);
	// One element changed by one ulp: that element loses, the others still verify.
	let mut wrong = honest.clone();
	let (row, col) = (shape.rows() as u32 - 1, shape.width() - 1);
	let at = ((row * shape.width() + col) * 4) as usize;
	let bumped = f32::from_le_bytes(wrong[at..at + 4].try_into().unwrap()).to_bits() ^ 1;
	wrong[at..at + 4].copy_from_slice(&bumped.to_le_bytes());
	assert_eq!(verdict(&wrong, row, col), Verdict::Malformed(MalformedReason::OutputMismatch));
	assert_eq!(verdict(&wrong, row, col).ruling(), Ruling::ProviderLoses(Fault::OutputMismatch));
	assert_eq!(verdict(&wrong, 0, 0), Verdict::WithinBound);
	// Any other output bytes: the element that differs loses.
	let zeros = vec![0u8; honest.len()];
	assert_eq!(verdict(&zeros, 0, 0).ruling(), Ruling::ProviderLoses(Fault::OutputMismatch));
	// An output of the wrong size loses at every output element.
	for short in [&honest[..honest.len() - 4], &[][..]] {
		assert_eq!(verdict(short, 0, 0).ruling(), Ruling::ProviderLoses(Fault::OutputMismatch));
	}
	let mut long = honest.clone();
	long.extend([0u8; 4]);
	assert_eq!(verdict(&long, 0, 0).ruling(), Ruling::ProviderLoses(Fault::OutputMismatch));
	// Elements of other nodes are ruled on their operands alone.
	let gelu = f.graph.nodes.iter().position(|n| n.op == Op::Gelu).unwrap() as u32;
	let o = f.open(gelu, 1, 1);
	assert_eq!(
		verify_element(
			&model,
			&TaskCommitments { trace_root: &f.trace_root, output: &zeros, input: &f.ids },
			(gelu, 1, 1),
			&o
		),
		Verdict::WithinBound
	);
}

/// Property: any challenge of an honest trace — an element of any node kind, an input, a row
/// or column past the node, a node past the graph — is answered by the provider's prover, and
/// the answer is ruled for the provider.
#[test]
fn every_challenge_of_an_honest_trace_is_answered_and_won() {
	let mut rng = common::Rng(0x5eed_1234_9876_abcd);
	for seed in [31u64, 32] {
		let f = fixture(seed);
		let model = RegisteredModel {
			graph: &f.graph,
			model_root: &f.model_root,
			slack: 0.0,
			max_row_width: MAX_WIDTH,
		};
		let output = output_of(&f.outputs);
		let task = TaskCommitments { trace_root: &f.trace_root, output: &output, input: &f.ids };
		let nodes = f.graph.nodes.len() as u64;
		let mut kinds = std::collections::BTreeSet::new();
		for _ in 0..600 {
			// A third of the picks fall outside the graph, the node's rows or its columns.
			let node = rng.below(nodes + 2) as u32;
			let (rows, width) = f
				.graph
				.node(node)
				.map(|n| (n.shape.rows(), n.shape.width() as u64))
				.unwrap_or((4, 4));
			let row = rng.below(rows + rows / 2 + 1) as u32;
			let col = rng.below(width + width / 2 + 1) as u32;
			let o = f.open(node, row, col);
			let v = verify_element(&model, &task, (node, row, col), &o);
			assert_eq!(v.ruling(), Ruling::ProviderWins, "({node}, {row}, {col}): {v:?}");
			if let Some(n) = f.graph.node(node) {
				kinds.insert(format!("{:?}", core::mem::discriminant(&n.op)));
			}
		}
		assert!(kinds.len() >= 8, "the picks reached {} node kinds", kinds.len());
	}
}

/// A trace with input rows of the provider's choosing: another task's ids (one trace reused for
/// every task), or masks that widen the bounds (an attention mask of 1e20, a pooling mask of
/// [1, -1, ..]). Each is consistent downstream, so every op's bound holds; what catches it is
/// that input rows must be what the task's ids give. Fails on the old code, which ruled such a
/// trace for the provider at every element.
#[test]
fn a_trace_whose_inputs_are_not_the_tasks_loses() {
	let honest = fixture(41);
	let input_nodes: Vec<u32> = (0..honest.graph.nodes.len() as u32)
		.filter(|n| honest.graph.is_input(*n))
		.collect();
	assert_eq!(input_nodes.len(), 3, "ids, additive mask, pooling mask");
	let tampered_inputs = [
		// Another task's ids.
		vec![
			honest.ids.iter().map(|id| ((id + 1) % 11) as f32).collect(),
			vec![0.0; SEQ as usize],
			vec![1.0; SEQ as usize],
		],
		// An attention mask that makes the softmax bound useless.
		vec![honest.outputs[0].clone(), vec![1e20; SEQ as usize], vec![1.0; SEQ as usize]],
		// A pooling mask that cancels tokens out.
		vec![
			honest.outputs[0].clone(),
			vec![0.0; SEQ as usize],
			(0..SEQ).map(|i| if i % 2 == 0 { 1.0 } else { -1.0 }).collect(),
		],
	];
	for (case, inputs) in tampered_inputs.iter().enumerate() {
		let outputs = common::run(&honest.graph, &honest.weights, inputs);
		let trace_root = trace_root_of(SEQ, &trace_tree(&honest.graph, &outputs).unwrap().root());
		let f = Fixture { trees: Default::default(), outputs, trace_root, ..fixture(41) };
		// The tampered input node, and every node reading it, loses for the task's input...
		let tampered = input_nodes[if case == 0 { 0 } else { case }];
		let readers: Vec<u32> = (0..f.graph.nodes.len() as u32)
			.filter(|n| f.graph.nodes[*n as usize].inputs.contains(&tampered))
			.collect();
		assert!(!readers.is_empty());
		for node in std::iter::once(tampered).chain(readers) {
			let o = f.open(node, 0, 0);
			assert_eq!(
				f.verify(&o),
				Verdict::Malformed(MalformedReason::InputMismatch),
				"case {case} node {node}"
			);
			assert_eq!(f.verify(&o).ruling(), Ruling::ProviderLoses(Fault::InputMismatch));
		}
		// ...and every element of that trace is within its op's bound: nothing else would catch it.
		let last = f.graph.nodes.len() as u32 - 1;
		assert_eq!(f.verify(&f.open(last, 0, 1)), Verdict::WithinBound, "case {case}");
	}
	// The honest trace's input elements are ruled for the provider.
	for node in input_nodes {
		assert_eq!(honest.verify(&honest.open(node, 0, SEQ - 1)), Verdict::WithinBound);
	}
}

/// A trace of another length than the task's ids loses at any element, even one that exists
/// only at the committed length, and even one that exists at neither.
#[test]
fn a_trace_of_another_length_than_the_input_loses() {
	let f = fixture(43);
	let last = f.graph.nodes.len() as u32 - 1;
	let shorter = &f.ids[..SEQ as usize - 1];
	let longer: Vec<u32> = f.ids.iter().copied().chain([3]).collect();
	for ids in [shorter, &longer[..]] {
		for (node, row, col) in
			[(last, 0, 0), (1, 0, 0), (2, SEQ - 1, 3), (last, 9, 0), (999, 0, 0)]
		{
			let o = f.open(node, row, col);
			assert_eq!(
				f.verify_for(ids, &o),
				Verdict::Malformed(MalformedReason::InputMismatch),
				"({node}, {row}, {col})"
			);
		}
	}
	assert_eq!(f.verify(&f.open(last, 0, 0)), Verdict::WithinBound);
}

/// Weights read one row at a time (a loader keeping 4-bit blocks) commit to the same tree as the
/// tensors, and a short or non-finite row is refused as a short or non-finite tensor is.
#[test]
fn a_weights_tree_built_row_by_row_is_the_tensors_tree() {
	use arbiter_primitives::commitment::{weights_tree_with, CommitError};
	let f = fixture(4);
	let row = |t: u32, r: u32| -> Option<Vec<f32>> {
		let width = f.graph.weight(t)?.shape.width() as usize;
		f.weights
			.get(t as usize)?
			.get(r as usize * width..(r as usize + 1) * width)
			.map(<[f32]>::to_vec)
	};
	let by_rows = weights_tree_with(&f.graph, row).unwrap();
	assert_eq!(by_rows.root(), weights_tree(&f.graph, &f.weights).unwrap().root());
	// A row one value short, and a row holding a NaN.
	let short = weights_tree_with(&f.graph, |t, r| {
		row(t, r).map(|mut v| {
			if t == 1 && r == 0 {
				v.pop();
			}
			v
		})
	});
	assert!(matches!(short, Err(CommitError::TensorLength { index: 1, .. })));
	let nan = weights_tree_with(&f.graph, |t, r| {
		row(t, r).map(|mut v| {
			if t == 0 {
				v[0] = f32::NAN;
			}
			v
		})
	});
	assert_eq!(nan.unwrap_err(), CommitError::NonFinite { index: 0 });
}

/// A prover that reads weight rows through its own `WeightRows` (dequantizing compact weights
/// on demand) builds the same openings as one holding the tensors.
#[test]
fn openings_from_weight_rows_on_demand_are_the_tensors_openings() {
	use arbiter_primitives::{ir::WeightId, prover::WeightRows};
	struct OnDemand<'a>(&'a Fixture, std::cell::Cell<u32>);
	impl WeightRows for OnDemand<'_> {
		fn weight_row(&self, tensor: WeightId, row: u32, width: u32) -> Option<Vec<f32>> {
			self.1.set(self.1.get() + 1);
			let w = width as usize;
			let start = row as usize * w;
			self.0.weights.get(tensor as usize)?.get(start..start + w).map(<[f32]>::to_vec)
		}
	}
	let f = fixture(5);
	let (tt, wt) =
		(trace_tree(&f.graph, &f.outputs).unwrap(), weights_tree(&f.graph, &f.weights).unwrap());
	let rows = OnDemand(&f, Default::default());
	let prover = ProverData {
		graph: &f.graph,
		outputs: &f.outputs,
		trace_tree: &tt,
		weights: &rows,
		weights_tree: &wt,
		tokenizer_hash: TOKENIZER,
		seq_len: SEQ,
	};
	for (id, node) in f.graph.nodes.iter().enumerate() {
		let o = prover.opening(id as u32, 0, node.shape.width() - 1).unwrap();
		assert_eq!(o, f.open(id as u32, 0, node.shape.width() - 1));
		assert_eq!(f.verify(&o), Verdict::WithinBound);
	}
	assert!(rows.1.get() > 0, "the weight rows were read through the trait");
}
