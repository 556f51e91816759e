//! How long a descent takes (docs/protocol.md, "Descent"): a MiniLM provider faulted at one node
//! withholds its trace; the watcher challenges the output element farthest from its own run and
//! names, at each step, the opened operand farthest from its own; the provider answers every
//! step with its own opening until the runtime rules one outside the bound. For faults in the
//! first, a middle and the last layer, prints the rounds and what each round puts on chain: the
//! provider's `respond` payload (the model's graph and one opening), the operand rows the
//! runtime keeps for the challenger, and the challenger's `descend` call.
//!
//!   cargo run --release -p arbiter-inference --example descent_rounds -- --model DIR [--fault
//! N]...

use std::sync::Arc;

use arbiter_inference::{engine, model::Model, watch::OwnExecution, Mode};
use arbiter_primitives::{
	descent::operand_rows, encoding::row_bytes, verify_element, NodeId, Op, RegisteredModel,
	Ruling, TaskCommitments,
};
use candle_core::Device;
use codec::Encode;

const TEXT: &str =
	"A provider that withholds its trace is convicted by a descent, one step at a time.";

/// The `descend` call's arguments: dispute id, node, row, column.
const DESCEND_ARGS_BYTES: usize = 8 + 4 + 4 + 4;

fn args(name: &str) -> Vec<String> {
	let args: Vec<String> = std::env::args().collect();
	args.windows(2).filter(|w| w[0] == name).map(|w| w[1].clone()).collect()
}

/// The `n`-th Linear node (MiniLM has six a layer: query, key, value, attention output,
/// intermediate, output).
fn nth_linear(model: &Model, n: usize) -> NodeId {
	model
		.template
		.nodes
		.iter()
		.enumerate()
		.filter(|(_, node)| matches!(node.op, Op::Linear { .. }))
		.nth(n)
		.map(|(id, _)| id as NodeId)
		.expect("MiniLM has that many Linear nodes")
}

fn main() {
	let dir = args("--model").pop().expect("--model DIR");
	let honest = Arc::new(Model::load(std::path::Path::new(&dir), &Device::Cpu).expect("loads"));
	let ids = honest.tokenize(TEXT).expect("tokenizes");
	let own = OwnExecution::run(honest.clone(), &ids).expect("runs");
	let graph_bytes = honest.template.encoded_size();
	let linears = honest
		.template
		.nodes
		.iter()
		.filter(|n| matches!(n.op, Op::Linear { .. }))
		.count();
	let faults: Vec<(String, NodeId)> = match args("--fault") {
		f if f.is_empty() => vec![
			("first layer (layer 0 query)".into(), nth_linear(&honest, 0)),
			("middle (layer 3 query)".into(), nth_linear(&honest, linears / 2)),
			("last layer (layer 5 output)".into(), nth_linear(&honest, linears - 1)),
		],
		f => f.iter().map(|n| (format!("node {n}"), n.parse().expect("--fault N"))).collect(),
	};
	println!(
		"MiniLM, {} tokens, {} nodes; graph {graph_bytes} bytes SCALE (carried by every respond)\n",
		ids.len(),
		honest.template.nodes.len()
	);
	println!(
		"| fault | node | rounds | respond payload bytes (mean / max) | kept operand bytes (mean / max) | bytes on chain, whole descent |"
	);
	println!("|---|---|---|---|---|---|");
	for (label, fault) in faults {
		let mut faulty = Model::load(std::path::Path::new(&dir), &Device::Cpu).expect("loads");
		faulty.inject_fault(fault).expect("a computed node");
		let input = faulty.input_of_ids(&ids).expect("ids run");
		let theirs = engine::run(&faulty, &[input], Mode::Traced)
			.expect("runs")
			.pop()
			.and_then(|e| e.trace)
			.expect("traced");
		let output = row_bytes(&theirs.output().expect("output"));
		let committed = theirs.output().expect("output");
		let registered = RegisteredModel {
			graph: &honest.template,
			model_root: &honest.commitment.model_root,
			slack: 0.0,
			max_row_width: honest.max_row_width(),
		};
		let task = TaskCommitments { trace_root: &theirs.root, output: &output, input: &ids };
		let mut element = own.first_element(0.0, &committed);
		let (mut respond, mut kept, mut rounds) = (Vec::new(), Vec::new(), 0u32);
		let ruled_at = loop {
			let opening = theirs.opening(&faulty, element.0, element.1, element.2).expect("opens");
			respond.push(graph_bytes + opening.encoded_size());
			match verify_element(&registered, &task, element, &opening).ruling() {
				Ruling::ProviderLoses(_) => break element.0,
				Ruling::ProviderWins => {},
				Ruling::Refused => panic!("the provider's own opening of {element:?} is refused"),
			}
			let opened: Vec<(NodeId, u32, Vec<f32>)> =
				operand_rows(own.graph(), element.0, element.1, element.2)
					.expect("a valid element")
					.into_iter()
					.map(|(n, r)| (n, r, theirs.row(&faulty.template, n, r).expect("a row").values))
					.collect();
			kept.push(opened.iter().map(|(_, _, v)| 8 + v.len() * 4).sum::<usize>());
			element = own.next_element(0.0, &opened).expect("an element to name");
			rounds += 1;
		};
		assert_eq!(ruled_at, fault, "the descent ends at the faulted node");
		let mean = |v: &[usize]| v.iter().sum::<usize>() / v.len().max(1);
		let max = |v: &[usize]| v.iter().copied().max().unwrap_or(0);
		let total = respond.iter().sum::<usize>() +
			kept.iter().sum::<usize>() +
			rounds as usize * DESCEND_ARGS_BYTES;
		println!(
			"| {label} | {fault} | {rounds} | {} / {} | {} / {} | {total} |",
			mean(&respond),
			max(&respond),
			mean(&kept),
			max(&kept)
		);
	}
}
