//! Benchmark of one dispute step: `verify_element` for MiniLM's widest ops (Linear 1536→384 and
//! 384→1536, plus a 128-wide softmax row and a 384-wide LayerNorm), natively and in wasm
//! (the `wasm32v1-none` build of the evaluator, run in the wasmi interpreter — an upper bound
//! on what the node's compiled wasmtime executor takes). Prints time per verification and the
//! SCALE-encoded opening size.
//!
//! `cargo run --release -p arbiter-primitives --example bench_verify`

#[path = "../tests/common/mod.rs"]
mod common;

use arbiter_primitives::{
	builder::GraphBuilder,
	commitment::{model_commitment, trace_tree, weights_tree},
	ir::{Graph, NodeId},
	opening::{verify_element, RegisteredModel, TaskCommitments, Verdict},
	prover::ProverData,
};
use codec::Encode;
use std::{path::PathBuf, process::Command, time::Instant};
use wasmi::{Engine, Linker, Module, Store};

fn build_probe() -> Vec<u8> {
	let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
	let target = std::env::var("CARGO_TARGET_DIR")
		.map(PathBuf::from)
		.unwrap_or_else(|_| dir.join("../target"))
		.join("wasm-probe");
	let ok = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
		.args(["build", "--release", "--target", "wasm32v1-none", "--manifest-path"])
		.arg(dir.join("wasm-probe/Cargo.toml"))
		.arg("--target-dir")
		.arg(&target)
		.env_remove("RUSTFLAGS")
		.status()
		.map(|s| s.success())
		.unwrap_or(false);
	assert!(ok, "building the wasm probe failed");
	std::fs::read(target.join("wasm32v1-none/release/arbiter_wasm_probe.wasm")).unwrap()
}

struct Case {
	name: &'static str,
	graph: Graph,
	/// Weights after the activation table (which [`activations`] puts first).
	weights: Vec<Vec<f32>>,
	/// The task's token ids: they pick the activations' rows.
	ids: Vec<u32>,
	node: u32,
}

/// Rows of random activations of shape `dims` (the benchmarked op's operand). Every input is
/// the task's (its ids, or constants), so activations come from an embedding of random ids
/// over a random 16-row table (weight 0), reshaped.
fn activations(
	g: &mut GraphBuilder,
	dims: &[u32],
	rng: &mut common::Rng,
) -> (NodeId, Vec<f32>, Vec<u32>) {
	let width = *dims.last().unwrap();
	let rows: u32 = dims[..dims.len() - 1].iter().product();
	let table = g.weight("activations", &[16, width]);
	assert_eq!(table, 0);
	let ids = g.input(arbiter_primitives::InputKind::TokenIds, &[1, rows]);
	let e = g.embedding(ids, table);
	let x = if dims.len() == 2 { e } else { g.reshape(e, dims) };
	(x, rng.vec(16 * width as usize, 1.0), (0..rows).map(|_| rng.below(16) as u32).collect())
}

fn linear_case(name: &'static str, d_in: u32, d_out: u32, rng: &mut common::Rng) -> Case {
	let mut g = GraphBuilder::new();
	let (x, table, ids) = activations(&mut g, &[4, d_in], rng);
	let w = g.weight("w", &[d_out, d_in]);
	let b = g.weight("b", &[d_out]);
	let node = g.linear(x, w, Some(b));
	let graph = g.build();
	let weights = vec![table, rng.vec((d_out * d_in) as usize, 0.05), rng.vec(d_out as usize, 0.1)];
	Case { name, graph, weights, ids, node }
}

fn main() {
	let mut rng = common::Rng(42);
	let mut cases = vec![
		linear_case("Linear 1536->384", 1536, 384, &mut rng),
		linear_case("Linear 384->1536", 384, 1536, &mut rng),
	];
	{
		let mut g = GraphBuilder::new();
		let (x, table, ids) = activations(&mut g, &[12, 128, 128], &mut rng);
		let mask = g.input(arbiter_primitives::InputKind::Constant { value_bits: 0 }, &[1, 128]);
		let node = g.softmax(x, Some(mask));
		let graph = g.build();
		cases.push(Case { name: "Softmax 128 (masked)", graph, weights: vec![table], ids, node });
	}
	{
		let mut g = GraphBuilder::new();
		let (x, table, ids) = activations(&mut g, &[128, 384], &mut rng);
		let gw = g.weight("g", &[384]);
		let bw = g.weight("b", &[384]);
		let node = g.layer_norm(x, gw, bw, 1e-12);
		let graph = g.build();
		cases.push(Case {
			name: "LayerNorm 384",
			graph,
			weights: vec![table, rng.vec(384, 1.0), rng.vec(384, 0.1)],
			ids,
			node,
		});
	}

	let wasm = build_probe();
	let engine = Engine::default();
	let module = Module::new(&engine, &wasm[..]).unwrap();
	println!("| op | opening bytes | native µs/verify | wasm (wasmi) µs/verify |");
	println!("|---|---|---|---|");
	for case in cases {
		let inputs = case.graph.input_values(&case.ids).expect("inputs fit the ids");
		let outputs = common::run(&case.graph, &case.weights, &inputs);
		let seq_len = case.ids.len() as u32;
		let tokenizer = [1u8; 32];
		let model_root =
			model_commitment(&case.graph, &case.weights, tokenizer).unwrap().model_root;
		let tt = trace_tree(&case.graph, &outputs).unwrap();
		let wt = weights_tree(&case.graph, &case.weights).unwrap();
		let prover = ProverData {
			graph: &case.graph,
			outputs: &outputs,
			trace_tree: &tt,
			weights: &case.weights,
			weights_tree: &wt,
			tokenizer_hash: tokenizer,
			seq_len,
		};
		let width = case.graph.nodes[case.node as usize].shape.width();
		let opening = prover.opening(case.node, 1, width - 1).unwrap();
		let element = (opening.node, opening.row, opening.col);
		let root = arbiter_primitives::encoding::trace_root_of(seq_len, &tt.root());
		let output: Vec<u8> = outputs
			.last()
			.map(|o| o.iter().flat_map(|v| v.to_le_bytes()).collect())
			.unwrap_or_default();
		assert_eq!(
			verify_element(
				&RegisteredModel {
					graph: &case.graph,
					model_root: &model_root,
					slack: 0.0,
					max_row_width: 4096
				},
				&TaskCommitments { trace_root: &root, output: &output, input: &case.ids },
				element,
				&opening
			),
			Verdict::WithinBound
		);

		let n = 200;
		let t = Instant::now();
		for _ in 0..n {
			std::hint::black_box(verify_element(
				&RegisteredModel {
					graph: &case.graph,
					model_root: &model_root,
					slack: 0.0,
					max_row_width: 4096,
				},
				&TaskCommitments { trace_root: &root, output: &output, input: &case.ids },
				element,
				&opening,
			));
		}
		let native_us = t.elapsed().as_secs_f64() * 1e6 / n as f64;

		let payload = (&case.graph, model_root, root, &opening, 0u32, &output, &case.ids).encode();
		let mut store = Store::new(&engine, ());
		let instance = Linker::<()>::new(&engine)
			.instantiate(&mut store, &module)
			.unwrap()
			.start(&mut store)
			.unwrap();
		let memory = instance.get_memory(&store, "memory").unwrap();
		let reserve = instance.get_typed_func::<i32, i32>(&store, "reserve").unwrap();
		let verify = instance.get_typed_func::<(i32, i32, i32), i32>(&store, "verify").unwrap();
		let ptr = reserve.call(&mut store, payload.len() as i32).unwrap();
		memory.write(&mut store, ptr as usize, &payload).unwrap();
		assert_eq!(
			verify.call(&mut store, (ptr, payload.len() as i32, 1)).unwrap(),
			0,
			"wasm verdict"
		);
		let reps = 5;
		let t = Instant::now();
		verify.call(&mut store, (ptr, payload.len() as i32, reps)).unwrap();
		let wasm_us = t.elapsed().as_secs_f64() * 1e6 / reps as f64;
		println!(
			"| {} | {} | {:.1} | {:.0} |",
			case.name,
			opening.encode().len(),
			native_us,
			wasm_us
		);
	}
}
