//! The decoder ops (rotary embedding, causal grouped-query scores, causal softmax, the grouped
//! context product) end to end on a generated LLaMA-style block: every element of an honest
//! trace is proven and passes; each way of computing attention wrong that a provider could try
//! (another position's rotation, another K/V head, weight after the diagonal, a non-zero masked
//! element) is ruled outside the bound; shapes that do not fit are refused with their error.

mod common;

use arbiter_primitives::{
	builder::GraphBuilder,
	commitment::{model_commitment, trace_commitment, weights_tree},
	ir::{Graph, GraphError, InputKind, Op, SEQ_DIM},
	opening::{verify_element, RegisteredModel, TaskCommitments, Verdict},
	prover::ProverData,
	Hash,
};

const MAX_WIDTH: u32 = 4096;
const TOKENIZER: Hash = [9u8; 32];

/// A decoder template, its weights, a task's ids and the trace of the template at their length.
struct Fixture {
	template: Graph,
	graph: Graph,
	weights: Vec<Vec<f32>>,
	ids: Vec<u32>,
	inputs: Vec<Vec<f32>>,
	model_root: Hash,
}

fn fixture(seed: u64, seq: u32, heads: u32, kv_heads: u32) -> Fixture {
	let (template, weights, inputs) = common::tiny_decoder(seed, SEQ_DIM, seq, heads, kv_heads, 16);
	let graph = template.instantiate(seq);
	graph.validate(MAX_WIDTH).expect("the decoder block is a valid graph");
	let model_root = model_commitment(&template, &weights, TOKENIZER).unwrap().model_root;
	let ids = common::task_ids(&inputs);
	Fixture { template, graph, weights, ids, inputs, model_root }
}

fn output_of(outputs: &[Vec<f32>]) -> Vec<u8> {
	outputs.last().unwrap().iter().flat_map(|v| v.to_le_bytes()).collect()
}

impl Fixture {
	fn honest(&self) -> Vec<Vec<f32>> {
		common::run(&self.graph, &self.weights, &self.inputs)
	}

	/// Opens element `(node, row, col)` of the trace `outputs` and rules on it.
	fn rule(&self, outputs: &[Vec<f32>], node: u32, row: u32, col: u32) -> Verdict {
		let seq = self.ids.len() as u32;
		let (tt, trace_root) = trace_commitment(&self.template, seq, outputs).unwrap();
		let wt = weights_tree(&self.template, &self.weights).unwrap();
		let prover = ProverData {
			graph: &self.graph,
			seq_len: seq,
			outputs,
			trace_tree: &tt,
			weights: &self.weights,
			weights_tree: &wt,
			tokenizer_hash: TOKENIZER,
		};
		let opening = prover.opening(node, row, col).unwrap();
		verify_element(
			&RegisteredModel {
				graph: &self.template,
				model_root: &self.model_root,
				slack: 0.0,
				max_row_width: MAX_WIDTH,
			},
			&TaskCommitments {
				trace_root: &trace_root,
				output: &output_of(outputs),
				input: &self.ids,
			},
			(node, row, col),
			&opening,
		)
	}

	fn node_of(&self, pick: impl Fn(&Op) -> bool) -> u32 {
		self.graph.nodes.iter().position(|n| pick(&n.op)).expect("the block has the op") as u32
	}

	/// The honest trace with node `node`'s output replaced by `wrong`: a provider who computed
	/// that one op its own way (the element ruled on reads honest operands).
	fn with_node(&self, node: u32, wrong: Vec<f32>) -> Vec<Vec<f32>> {
		let mut outputs = self.honest();
		outputs[node as usize] = wrong;
		outputs
	}
}

#[test]
fn every_element_of_an_honest_decoder_trace_passes() {
	for (seed, seq, heads, kv_heads) in [(1u64, 5u32, 4u32, 2u32), (2, 7, 2, 2), (3, 3, 6, 2)] {
		let f = fixture(seed, seq, heads, kv_heads);
		let outputs = f.honest();
		let mut checked = 0;
		for (id, node) in f.graph.nodes.iter().enumerate() {
			for row in 0..node.shape.rows() as u32 {
				for col in 0..node.shape.width() {
					assert_eq!(
						f.rule(&outputs, id as u32, row, col),
						Verdict::WithinBound,
						"seed {seed} node {id} ({:?}) row {row} col {col}",
						node.op
					);
					checked += 1;
				}
			}
		}
		assert!(checked > 500, "checked {checked}");
	}
}

#[test]
fn a_rotation_by_another_positions_angle_is_outside_the_bound() {
	let f = fixture(4, 6, 4, 2);
	let rope = f.node_of(|op| matches!(op, Op::Rope { .. }));
	let outputs = f.honest();
	let x = &outputs[f.graph.nodes[rope as usize].inputs[0] as usize];
	let (cos, sin) = (&f.weights[11], &f.weights[12]);
	let (seq, width) = (6usize, 4usize);
	// Each row turned by the angle of the position after its own.
	let shifted: Vec<f32> = x
		.chunks(width)
		.enumerate()
		.flat_map(|(r, row)| {
			let p = (r % seq + 1) * width / 2;
			(0..width).map(move |c| {
				let (a, b, cs, sn) = (row[c & !1], row[c | 1], cos[p + c / 2], sin[p + c / 2]);
				if c % 2 == 0 {
					a * cs - b * sn
				} else {
					a * sn + b * cs
				}
			})
		})
		.collect();
	let trace = f.with_node(rope, shifted);
	// Position 0 is row 0: turned by position 1's angle instead of not at all.
	assert_eq!(f.rule(&trace, rope, 0, 0), Verdict::OutsideBound);
	assert_eq!(f.rule(&f.honest(), rope, 0, 0), Verdict::WithinBound);
}

#[test]
fn scores_against_another_kv_head_are_outside_the_bound() {
	// Four query heads over two K/V heads: heads 0 and 1 read K/V head 0, heads 2 and 3 head 1.
	let f = fixture(5, 5, 4, 2);
	let scores = f.node_of(|op| matches!(op, Op::CausalScores { .. }));
	let node = &f.graph.nodes[scores as usize];
	let outputs = f.honest();
	let (q, k) = (&outputs[node.inputs[0] as usize], &outputs[node.inputs[1] as usize]);
	let (seq, d) = (5usize, 4usize);
	// Interleaved instead of grouped: head h reads K/V head h % 2.
	let wrong: Vec<f32> = (0..4 * seq * seq)
		.map(|e| {
			let (r, j) = (e / seq, e % seq);
			let (h, i) = (r / seq, r % seq);
			if j > i {
				return 0.0;
			}
			let kr = ((h % 2) * seq + j) * d;
			q[r * d..(r + 1) * d]
				.iter()
				.zip(&k[kr..kr + d])
				.map(|(a, b)| a * b)
				.sum::<f32>() *
				0.5
		})
		.collect();
	let trace = f.with_node(scores, wrong);
	// Head 1, position 4, column 2: K/V head 1 instead of 0.
	let row = (seq + 4) as u32;
	assert_eq!(f.rule(&trace, scores, row, 2), Verdict::OutsideBound);
	// Head 0 reads K/V head 0 either way: still within the bound.
	assert_eq!(f.rule(&trace, scores, 4, 2), Verdict::WithinBound);
}

#[test]
fn weight_after_the_diagonal_is_outside_the_bound() {
	let f = fixture(6, 5, 2, 2);
	let probs = f.node_of(|op| *op == Op::CausalSoftmax);
	let scores = f.graph.nodes[probs as usize].inputs[0];
	let outputs = f.honest();
	let seq = 5usize;
	// A full (non-causal) softmax over every column: what an unmasked kernel gives.
	let full: Vec<f32> = outputs[scores as usize]
		.chunks(seq)
		.flat_map(|row| {
			let max = row.iter().copied().fold(f32::MIN, f32::max);
			let e: Vec<f32> = row.iter().map(|v| (v - max).exp()).collect();
			let s: f32 = e.iter().sum();
			e.into_iter().map(move |v| v / s)
		})
		.collect();
	let trace = f.with_node(probs, full);
	// Row 1 (position 1), column 0: the weights are spread over masked columns too.
	assert_eq!(f.rule(&trace, probs, 1, 0), Verdict::OutsideBound);
	// Row 1, column 3 (after the diagonal): must be exactly zero.
	assert_eq!(f.rule(&trace, probs, 1, 3), Verdict::OutsideBound);
	// The last position sees every column: there both agree.
	assert_eq!(f.rule(&trace, probs, seq as u32 - 1, 0), Verdict::WithinBound);
}

#[test]
fn a_masked_score_that_is_not_zero_is_outside_the_bound() {
	let f = fixture(7, 4, 2, 1);
	let scores = f.node_of(|op| matches!(op, Op::CausalScores { .. }));
	let mut trace = f.honest();
	// Row 0 (head 0, position 0), column 3: after the diagonal.
	trace[scores as usize][3] = 1.0e-30;
	assert_eq!(f.rule(&trace, scores, 0, 3), Verdict::OutsideBound);
	assert_eq!(f.rule(&f.honest(), scores, 0, 3), Verdict::WithinBound);
}

#[test]
fn a_context_row_of_another_value_head_is_outside_the_bound() {
	let f = fixture(8, 4, 4, 2);
	let ctx = f.node_of(|op| matches!(op, Op::GroupedMatMul { .. }));
	let node = &f.graph.nodes[ctx as usize];
	let outputs = f.honest();
	let (p, vt) = (&outputs[node.inputs[0] as usize], &outputs[node.inputs[1] as usize]);
	let (seq, d) = (4usize, 4usize);
	// Head h reading V head h % 2 instead of h / 2.
	let wrong: Vec<f32> = (0..4 * seq * d)
		.map(|e| {
			let (r, c) = (e / d, e % d);
			let h = r / seq;
			let vr = ((h % 2) * d + c) * seq;
			p[r * seq..(r + 1) * seq]
				.iter()
				.zip(&vt[vr..vr + seq])
				.map(|(a, b)| a * b)
				.sum()
		})
		.collect();
	let trace = f.with_node(ctx, wrong);
	assert_eq!(f.rule(&trace, ctx, (seq + 3) as u32, 1), Verdict::OutsideBound);
}

#[test]
fn decoder_shapes_that_do_not_fit_are_refused() {
	let f = fixture(9, 5, 4, 2);
	let check = |g: &Graph| g.validate(MAX_WIDTH);
	let find = |pick: &dyn Fn(&Op) -> bool| f.node_of(pick) as usize;
	let rope = find(&|op| matches!(op, Op::Rope { .. }));
	let scores = find(&|op| matches!(op, Op::CausalScores { .. }));
	let probs = find(&|op| *op == Op::CausalSoftmax);
	let ctx = find(&|op| matches!(op, Op::GroupedMatMul { .. }));

	// Rotary tables shorter than the sequence: the template cannot be traced at that length.
	assert_eq!(f.template.instantiate(16).validate(MAX_WIDTH), Ok(()));
	assert_eq!(
		f.template.instantiate(17).validate(MAX_WIDTH),
		Err(GraphError::ShapeMismatch { node: rope as u32 })
	);
	// A table of the wrong width.
	let mut g = f.graph.clone();
	g.weights[11].shape.0 = vec![16, 3];
	assert_eq!(check(&g), Err(GraphError::ShapeMismatch { node: rope as u32 }));

	// A score scale that is not a power of two (not exact), or not positive.
	for bad in [0.3f32, -0.5, 0.0, f32::INFINITY, f32::from_bits(1)] {
		let mut g = f.graph.clone();
		g.nodes[scores].op = Op::CausalScores { group: 2, scale_bits: bad.to_bits() };
		assert_eq!(check(&g), Err(GraphError::BadScalar { node: scores as u32 }), "{bad}");
	}
	// Groups that do not divide the heads as declared.
	for group in [0u32, 1, 3] {
		let mut g = f.graph.clone();
		g.nodes[scores].op = Op::CausalScores { group, scale_bits: 0.5f32.to_bits() };
		assert_eq!(check(&g), Err(GraphError::ShapeMismatch { node: scores as u32 }), "{group}");
		let mut g = f.graph.clone();
		g.nodes[ctx].op = Op::GroupedMatMul { group };
		assert_eq!(check(&g), Err(GraphError::ShapeMismatch { node: ctx as u32 }), "{group}");
	}

	// A causal softmax over rows that are not a square of positions.
	let mut b = GraphBuilder::new();
	let x = b.input(InputKind::Constant { value_bits: 0 }, &[2, 3, 4]);
	b.causal_softmax(x);
	assert_eq!(b.build().validate(MAX_WIDTH), Err(GraphError::ShapeMismatch { node: 1 }));
	let mut g = f.graph.clone();
	g.nodes[probs].inputs = vec![0];
	assert_eq!(check(&g), Err(GraphError::ShapeMismatch { node: probs as u32 }));
}
