//! The descent inside one dispute, on generated models: against an honest trace every descent
//! path ends with the provider winning; against a trace with one wrong node (each op kind in
//! turn) the challenger's strategy, run on its own honest execution, ends at that node with an
//! answer ruled outside the bound.

mod common;

use arbiter_primitives::{
	commitment::{model_commitment, trace_tree, weights_tree},
	descent::{first_element, next_element, operand_rows, OwnRun},
	encoding::trace_root_of,
	ir::{Graph, NodeId, WeightId},
	merkle::MerkleTree,
	opening::{verify_element, Fault, Opening, RegisteredModel, Ruling, TaskCommitments},
	prover::ProverData,
	Hash,
};

const MAX_WIDTH: u32 = 4096;
const TOKENIZER: Hash = [7u8; 32];
const SEQ: u32 = 6;

/// A provider's committed trace of one task, able to answer every step.
struct Provider {
	graph: Graph,
	weights: Vec<Vec<f32>>,
	outputs: Vec<Vec<f32>>,
	trace_tree: MerkleTree,
	weights_tree: MerkleTree,
	model_root: Hash,
	trace_root: Hash,
	output: Vec<u8>,
	ids: Vec<u32>,
}

impl Provider {
	fn new(graph: &Graph, weights: &[Vec<f32>], outputs: Vec<Vec<f32>>, ids: &[u32]) -> Self {
		let trace_tree = trace_tree(graph, &outputs).unwrap();
		Provider {
			model_root: model_commitment(graph, weights, TOKENIZER).unwrap().model_root,
			trace_root: trace_root_of(SEQ, &trace_tree.root()),
			output: outputs.last().unwrap().iter().flat_map(|v| v.to_le_bytes()).collect(),
			weights_tree: weights_tree(graph, weights).unwrap(),
			trace_tree,
			graph: graph.clone(),
			weights: weights.to_vec(),
			outputs,
			ids: ids.to_vec(),
		}
	}

	fn answer(&self, (node, row, col): (NodeId, u32, u32)) -> Opening {
		ProverData {
			graph: &self.graph,
			outputs: &self.outputs,
			trace_tree: &self.trace_tree,
			weights: &self.weights,
			weights_tree: &self.weights_tree,
			tokenizer_hash: TOKENIZER,
			seq_len: SEQ,
		}
		.opening(node, row, col)
		.unwrap()
	}

	/// The runtime's ruling on an answer.
	fn rule(&self, element: (NodeId, u32, u32), opening: &Opening) -> Ruling {
		let model = RegisteredModel {
			graph: &self.graph,
			model_root: &self.model_root,
			slack: 0.0,
			max_row_width: MAX_WIDTH,
		};
		let task = TaskCommitments {
			trace_root: &self.trace_root,
			output: &self.output,
			input: &self.ids,
		};
		verify_element(&model, &task, element, opening).ruling()
	}
}

/// The operand rows an answer opened, with the provider's values: what the runtime keeps for
/// the challenger's next step.
fn opened_operands(
	graph: &Graph,
	element: (NodeId, u32, u32),
	opening: &Opening,
) -> Vec<(NodeId, u32, Vec<f32>)> {
	let (node, row, col) = element;
	operand_rows(graph, node, row, col)
		.unwrap()
		.into_iter()
		.map(|(n, r)| {
			let values = opening
				.trace_rows
				.iter()
				.filter(|o| o.id == n)
				.find_map(|o| o.rows.get(r.checked_sub(o.first_row)? as usize))
				.expect("an answer opens every operand row");
			(n, r, values.iter().map(|b| f32::from_bits(*b)).collect())
		})
		.collect()
}

/// The challenger's own execution.
struct Own<'a> {
	graph: &'a Graph,
	weights: &'a [Vec<f32>],
	outputs: &'a [Vec<f32>],
}

impl OwnRun for Own<'_> {
	fn trace_row(&self, node: NodeId, row: u32) -> Option<Vec<f32>> {
		let w = self.graph.node(node)?.shape.width() as usize;
		let out = self.outputs.get(node as usize)?;
		out.get(row as usize * w..(row as usize + 1) * w).map(|r| r.to_vec())
	}
	fn weight_row(&self, tensor: WeightId, row: u32) -> Option<Vec<f32>> {
		let w = self.graph.weight(tensor)?.shape.width() as usize;
		let t = self.weights.get(tensor as usize)?;
		t.get(row as usize * w..(row as usize + 1) * w).map(|r| r.to_vec())
	}
}

fn encoder(seed: u64) -> (Graph, Vec<Vec<f32>>, Vec<Vec<f32>>) {
	let (graph, weights, inputs) = common::tiny_encoder(seed, SEQ, 8, 2, 11);
	graph.validate(MAX_WIDTH).expect("generated graph is valid");
	(graph, weights, inputs)
}

#[test]
fn against_an_honest_trace_every_descent_path_ends_with_the_provider_winning() {
	for seed in 1..=4u64 {
		let (graph, weights, inputs) = encoder(seed);
		let outputs = common::run(&graph, &weights, &inputs);
		let provider = Provider::new(&graph, &weights, outputs, &common::task_ids(&inputs));
		let mut rng = common::Rng(seed * 7919 + 1);
		for _ in 0..40 {
			// Any element of any node to start with, then any operand element at each step.
			let node = rng.below(graph.nodes.len() as u64) as NodeId;
			let shape = &graph.nodes[node as usize].shape;
			let mut element =
				(node, rng.below(shape.rows()) as u32, rng.below(shape.width() as u64) as u32);
			let mut steps = 0;
			loop {
				let opening = provider.answer(element);
				assert_eq!(
					provider.rule(element, &opening),
					Ruling::ProviderWins,
					"seed {seed}: the honest answer at {element:?} wins"
				);
				let operands: Vec<_> = opened_operands(&graph, element, &opening)
					.into_iter()
					.filter(|(n, _, _)| !graph.is_input(*n))
					.collect();
				if operands.is_empty() {
					break; // Only inputs and weights are left: the challenger has lost.
				}
				let (n, r, values) = &operands[rng.below(operands.len() as u64) as usize];
				let next = (*n, *r, rng.below(values.len() as u64) as u32);
				assert!(next.0 < element.0, "each step names an earlier node");
				element = next;
				steps += 1;
			}
			assert!(steps < graph.nodes.len(), "a descent is bounded by the graph's depth");
		}
	}
}

/// A LLaMA-style block (rotary embedding, causal grouped-query attention, SiLU gating) at a
/// fixed length.
fn decoder(seed: u64) -> (Graph, Vec<Vec<f32>>, Vec<Vec<f32>>) {
	let (graph, weights, inputs) = common::tiny_decoder(seed, SEQ, SEQ, 4, 2, 8);
	graph.validate(MAX_WIDTH).expect("generated graph is valid");
	(graph, weights, inputs)
}

#[test]
fn against_an_honest_decoder_trace_every_descent_path_ends_with_the_provider_winning() {
	for seed in 1..=3u64 {
		let (graph, weights, inputs) = decoder(seed);
		let outputs = common::run(&graph, &weights, &inputs);
		let provider = Provider::new(&graph, &weights, outputs, &common::task_ids(&inputs));
		let mut rng = common::Rng(seed * 104_729 + 1);
		for _ in 0..40 {
			let node = rng.below(graph.nodes.len() as u64) as NodeId;
			let shape = &graph.nodes[node as usize].shape;
			let mut element =
				(node, rng.below(shape.rows()) as u32, rng.below(shape.width() as u64) as u32);
			loop {
				let opening = provider.answer(element);
				assert_eq!(provider.rule(element, &opening), Ruling::ProviderWins, "{element:?}");
				let operands: Vec<_> = opened_operands(&graph, element, &opening)
					.into_iter()
					.filter(|(n, _, _)| !graph.is_input(*n))
					.collect();
				let Some((n, r, values)) =
					operands.get(rng.below(operands.len().max(1) as u64) as usize)
				else {
					break;
				};
				element = (*n, *r, rng.below(values.len() as u64) as u32);
			}
		}
	}
}

#[test]
fn the_challengers_strategy_ends_at_the_one_wrong_node_of_a_decoder() {
	let kinds = strategy_convicts_every_wrong_node(decoder(5));
	for kind in ["Rope", "CausalScores", "CausalSoftmax", "GroupedMatMul", "RmsNorm", "Silu", "Mul"]
	{
		assert!(kinds.contains(kind), "{kind} faults were found: {kinds:?}");
	}
}

/// Makes each computed node of the model the one wrong node in turn and runs the challenger's
/// strategy against it; returns the op kinds convicted.
fn strategy_convicts_every_wrong_node(
	(graph, weights, inputs): (Graph, Vec<Vec<f32>>, Vec<Vec<f32>>),
) -> std::collections::BTreeSet<String> {
	let ids = common::task_ids(&inputs);
	let honest = common::run(&graph, &weights, &inputs);
	let own = Own { graph: &graph, weights: &weights, outputs: &honest };
	let mut kinds_convicted = std::collections::BTreeSet::new();
	for fault in 0..graph.nodes.len() as NodeId {
		if graph.is_input(fault) {
			continue;
		}
		let faulty = common::run_with_fault(&graph, &weights, &inputs, Some(fault));
		assert_ne!(faulty.last(), honest.last(), "node {fault}: the fault reaches the output");
		let provider = Provider::new(&graph, &weights, faulty.clone(), &ids);
		let mut element =
			first_element(&graph, &own, 0.0, faulty.last().unwrap()).expect("an output element");
		let mut rounds = 1;
		let convicted_at = loop {
			let opening = provider.answer(element);
			match provider.rule(element, &opening) {
				Ruling::ProviderLoses(Fault::OutsideBound) => break element.0,
				Ruling::ProviderWins => {},
				other => panic!("node {fault}: unexpected ruling {other:?} at {element:?}"),
			}
			element = next_element(&graph, &own, 0.0, &opened_operands(&graph, element, &opening))
				.unwrap_or_else(|| panic!("node {fault}: the descent ran out at {element:?}"));
			rounds += 1;
			assert!(rounds <= graph.nodes.len(), "node {fault}: bounded by the graph's depth");
		};
		assert_eq!(convicted_at, fault, "the descent convicts the wrong node");
		kinds_convicted.insert(
			format!("{:?}", graph.nodes[fault as usize].op)
				.split([' ', '{'])
				.next()
				.unwrap()
				.to_string(),
		);
	}
	kinds_convicted
}

#[test]
fn the_challengers_strategy_ends_at_the_one_wrong_node_for_every_op_kind() {
	let kinds_convicted = strategy_convicts_every_wrong_node(encoder(3));
	// Every op kind the model has (all but the inputs) was the faulty one once and was found.
	for kind in [
		"Embedding",
		"Linear",
		"MatMul",
		"Add",
		"Mul",
		"Scale",
		"LayerNorm",
		"RmsNorm",
		"Softmax",
		"Gelu",
		"Silu",
		"Relu",
		"Transpose",
		"Reshape",
		"MeanPool",
		"L2Normalize",
	] {
		assert!(kinds_convicted.contains(kind), "{kind} faults were found: {kinds_convicted:?}");
	}
}
