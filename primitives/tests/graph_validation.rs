//! Graph validation: every structural rule returns its own clear error.

use arbiter_primitives::{
	builder::GraphBuilder,
	encoding::descriptor_hash,
	ir::{Graph, GraphError, InputKind, Node, Op, Shape, WeightTensor, MAX_NODES},
};
use codec::{Decode, Encode};

fn node(op: Op, inputs: &[u32], dims: &[u32]) -> Node {
	Node { op, inputs: inputs.to_vec(), shape: Shape(dims.to_vec()) }
}

fn weight(dims: &[u32]) -> WeightTensor {
	WeightTensor { name: b"w".to_vec(), shape: Shape(dims.to_vec()) }
}

fn linear_graph() -> Graph {
	let mut g = GraphBuilder::new();
	let w = g.weight("w", &[3, 4]);
	let b = g.weight("b", &[3]);
	let x = g.input(InputKind::Constant { value_bits: 0 }, &[2, 4]);
	g.linear(x, w, Some(b));
	g.build()
}

#[test]
fn a_valid_graph_validates_and_round_trips() {
	let g = linear_graph();
	assert_eq!(g.validate(4096), Ok(()));
	let decoded = Graph::decode(&mut &g.encode()[..]).unwrap();
	assert_eq!(decoded, g);
	assert_eq!(descriptor_hash(&decoded), descriptor_hash(&g));
	assert_eq!(g.max_row_width(), 4);
	assert!(g.is_input(0));
	assert!(!g.is_input(1));
	assert!(!g.is_input(2));
}

#[test]
fn descriptor_hash_changes_with_any_field() {
	let g = linear_graph();
	let mut h = g.clone();
	h.weights[0].name = b"v".to_vec();
	assert_ne!(descriptor_hash(&g), descriptor_hash(&h));
	let mut h = g.clone();
	h.nodes[1].op = Op::Linear { weight: 0, bias: None };
	assert_ne!(descriptor_hash(&g), descriptor_hash(&h));
}

#[test]
fn each_rule_has_its_error() {
	let ok = linear_graph();
	let check = |g: &Graph| g.validate(4096);

	assert_eq!(check(&Graph::default()), Err(GraphError::Empty));

	let mut g = ok.clone();
	g.nodes[0] = node(Op::Relu, &[], &[2, 4]);
	assert_eq!(check(&g), Err(GraphError::FirstNodeNotInput));

	let mut g = ok.clone();
	g.nodes[1].inputs = vec![1];
	assert_eq!(check(&g), Err(GraphError::InputNotBefore { node: 1, input: 1 }));

	let mut g = ok.clone();
	g.nodes[1].inputs = vec![5];
	assert_eq!(check(&g), Err(GraphError::InputNotBefore { node: 1, input: 5 }));

	let mut g = ok.clone();
	g.nodes[1].inputs = vec![0, 0];
	assert_eq!(check(&g), Err(GraphError::Arity { node: 1, expected: 1, found: 2 }));

	let mut g = ok.clone();
	g.nodes[1].op = Op::Linear { weight: 9, bias: None };
	assert_eq!(check(&g), Err(GraphError::UnknownWeight { node: 1, weight: 9 }));

	let mut g = ok.clone();
	g.nodes[1].shape = Shape(vec![2, 5]);
	assert_eq!(check(&g), Err(GraphError::ShapeMismatch { node: 1 }));

	let mut g = ok.clone();
	g.nodes[1].shape = Shape(vec![2, 0]);
	assert_eq!(check(&g), Err(GraphError::BadShape { node: Some(1), weight: None }));

	let mut g = ok.clone();
	g.nodes[0].shape = Shape(vec![1, 1, 1, 1, 4]);
	assert_eq!(check(&g), Err(GraphError::BadShape { node: Some(0), weight: None }));

	let mut g = ok.clone();
	g.weights[0].shape = Shape(vec![3, 5000]);
	assert_eq!(check(&g), Err(GraphError::RowTooWide { node: None, weight: Some(0), width: 5000 }));
	assert_eq!(
		ok.validate(3),
		Err(GraphError::RowTooWide { node: None, weight: Some(0), width: 4 })
	);

	let mut g = ok.clone();
	g.weights[0].name = vec![b'n'; 200];
	assert_eq!(check(&g), Err(GraphError::NameTooLong { weight: 0 }));

	let mut g = ok.clone();
	g.nodes.push(node(Op::Scale { factor_bits: f32::NAN.to_bits() }, &[1], &[2, 3]));
	assert_eq!(check(&g), Err(GraphError::BadScalar { node: 2 }));

	let mut g = ok.clone();
	g.weights.push(weight(&[3]));
	g.nodes.push(node(
		Op::LayerNorm { gamma: 1, beta: 2, eps_bits: 0f32.to_bits() },
		&[1],
		&[2, 3],
	));
	assert_eq!(check(&g), Err(GraphError::BadScalar { node: 2 }));

	let mut g = ok.clone();
	g.weights[0].shape = Shape(vec![1 << 15, 1 << 14]);
	assert_eq!(check(&g), Err(GraphError::TooManyElements { node: None, weight: Some(0) }));

	let mut g = ok.clone();
	g.nodes = (0..=MAX_NODES)
		.map(|_| node(Op::Input { kind: InputKind::Constant { value_bits: 0 } }, &[], &[1]))
		.collect();
	assert_eq!(check(&g), Err(GraphError::TooLarge));
}

#[test]
fn id_and_position_inputs_are_one_row_and_constants_finite() {
	let graph = |kind: InputKind, dims: &[u32]| {
		let mut g = GraphBuilder::new();
		let x = g.input(kind, dims);
		g.relu(x);
		g.build()
	};
	assert_eq!(graph(InputKind::TokenIds, &[1, 5]).validate(64), Ok(()));
	assert_eq!(graph(InputKind::Positions, &[5]).validate(64), Ok(()));
	assert_eq!(
		graph(InputKind::TokenIds, &[2, 5]).validate(64),
		Err(GraphError::ShapeMismatch { node: 0 })
	);
	assert_eq!(
		graph(InputKind::Positions, &[5, 1]).validate(64),
		Err(GraphError::ShapeMismatch { node: 0 })
	);
	assert_eq!(
		graph(InputKind::Constant { value_bits: f32::NAN.to_bits() }, &[1, 5]).validate(64),
		Err(GraphError::BadScalar { node: 0 })
	);
	assert_eq!(
		graph(InputKind::Constant { value_bits: (-1e9f32).to_bits() }, &[3, 5]).validate(64),
		Ok(())
	);
}

#[test]
fn inputs_are_derived_from_the_task_ids_alone() {
	let mut g = GraphBuilder::new();
	let ids = g.token_ids();
	let positions = g.positions();
	let mask = g.constant_row(1.0);
	let e = g.add(ids, positions);
	g.mul(e, mask);
	let template = g.build();
	let graph = template.instantiate(3);
	assert_eq!(
		graph.input_values(&[101, 7, 102]),
		Some(vec![vec![101.0, 7.0, 102.0], vec![0.0, 1.0, 2.0], vec![1.0, 1.0, 1.0]])
	);
	assert_eq!(graph.input_row(1, 0, &[101, 7, 102]), Some(vec![0.0, 1.0, 2.0]));
	assert_eq!(graph.input_row(3, 0, &[101, 7, 102]), None, "not an input");
	assert_eq!(graph.input_row(0, 1, &[101, 7, 102]), None, "no such row");
	// A trace of another length than the ids has no input values.
	assert_eq!(graph.input_values(&[101, 102]), None);
	assert_eq!(graph.input_row(0, 0, &[101, 7, 8, 102]), None);
}

#[test]
fn op_specific_shape_rules() {
	let mut g = GraphBuilder::new();
	let a = g.input(InputKind::Constant { value_bits: 0 }, &[2, 3, 4]);
	let b = g.input(InputKind::Constant { value_bits: 0 }, &[2, 5, 4]);
	let m = g.matmul(a, b);
	let t = g.transpose(m, 1, 2);
	let r = g.reshape(t, &[10, 3]);
	let mask = g.input(InputKind::Constant { value_bits: 0 }, &[1, 5]);
	let s = g.softmax(m, Some(mask));
	let _ = (r, s);
	let ok = g.build();
	assert_eq!(ok.validate(4096), Ok(()));
	assert_eq!(ok.nodes[m as usize].shape, Shape(vec![2, 3, 5]));

	// MatMul with mismatched inner widths.
	let mut g = ok.clone();
	g.nodes[b as usize].shape = Shape(vec![2, 5, 3]);
	assert!(matches!(g.validate(4096), Err(GraphError::ShapeMismatch { .. })));
	// Transpose whose output is not the permuted input.
	let mut g = ok.clone();
	g.nodes[t as usize].shape = Shape(vec![2, 3, 5]);
	assert_eq!(g.validate(4096), Err(GraphError::ShapeMismatch { node: t }));
	// Reshape that changes the element count.
	let mut g = ok.clone();
	g.nodes[r as usize].shape = Shape(vec![10, 4]);
	assert_eq!(g.validate(4096), Err(GraphError::ShapeMismatch { node: r }));
	// A mask of the wrong width.
	let mut g = ok.clone();
	g.nodes[mask as usize].shape = Shape(vec![1, 4]);
	assert_eq!(g.validate(4096), Err(GraphError::ShapeMismatch { node: s }));
}
