//! The reference evaluator gives bit-identical results natively and compiled to wasm.
//!
//! Builds `primitives/wasm-probe` for `wasm32v1-none` (the runtime's target), runs it in the
//! wasmi interpreter and compares reference, deviation and bound bit for bit with the native
//! results on random inputs for every numeric op.

mod common;

use arbiter_primitives::evaluator::{ops, ElementCheck};
use std::{path::PathBuf, process::Command};
use wasmi::{Engine, Linker, Memory, Module, Store, TypedFunc};

fn build_probe() -> Vec<u8> {
	// `cargo test` sets the crate's folder at run time too: a test binary built in another
	// clone (one target directory serves several) still finds this clone's probe.
	let crate_dir = std::env::var("CARGO_MANIFEST_DIR")
		.map(PathBuf::from)
		.unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
	let manifest = crate_dir.join("wasm-probe/Cargo.toml");
	let target_dir = std::env::var("CARGO_TARGET_DIR")
		.map(PathBuf::from)
		.unwrap_or_else(|_| crate_dir.join("../target"))
		.join("wasm-probe");
	let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
	let status = Command::new(cargo)
		.args(["build", "--release", "--target", "wasm32v1-none", "--manifest-path"])
		.arg(&manifest)
		.arg("--target-dir")
		.arg(&target_dir)
		// The outer test build's flags (e.g. coverage) must not leak into the wasm build.
		.env_remove("RUSTFLAGS")
		.env_remove("CARGO_ENCODED_RUSTFLAGS")
		.status()
		.expect("cargo runs");
	assert!(status.success(), "building the wasm probe failed");
	std::fs::read(target_dir.join("wasm32v1-none/release/arbiter_wasm_probe.wasm"))
		.expect("probe built")
}

/// The probe's `eval` export: op, the three operand pointers and lengths, column, claimed, out.
type EvalArgs = (i32, i32, i32, i32, i32, i32, i32, i32, f32, i32);
/// One case: op code, the native check, its three operands.
type Case = (i32, ElementCheck, Vec<f32>, Vec<f32>, Vec<f32>);

struct Probe {
	store: Store<()>,
	memory: Memory,
	reserve: TypedFunc<i32, i32>,
	eval: TypedFunc<EvalArgs, ()>,
}

impl Probe {
	fn new(wasm: &[u8]) -> Self {
		let engine = Engine::default();
		let module = Module::new(&engine, wasm).unwrap();
		let mut store = Store::new(&engine, ());
		let instance = Linker::<()>::new(&engine)
			.instantiate(&mut store, &module)
			.unwrap()
			.start(&mut store)
			.unwrap();
		let memory = instance.get_memory(&store, "memory").unwrap();
		let reserve = instance.get_typed_func(&store, "reserve").unwrap();
		let eval = instance.get_typed_func(&store, "eval").unwrap();
		Probe { store, memory, reserve, eval }
	}

	fn put(&mut self, v: &[f32]) -> i32 {
		let ptr = self.reserve.call(&mut self.store, (v.len() * 4) as i32).unwrap();
		let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
		self.memory.write(&mut self.store, ptr as usize, &bytes).unwrap();
		ptr
	}

	fn eval(
		&mut self,
		op: i32,
		a: &[f32],
		b: &[f32],
		c: &[f32],
		col: usize,
		claimed: f32,
	) -> [u64; 3] {
		let (pa, pb, pc) = (self.put(a), self.put(b), self.put(c));
		let out = self.reserve.call(&mut self.store, 24).unwrap();
		let args = (
			op,
			pa,
			a.len() as i32,
			pb,
			b.len() as i32,
			pc,
			c.len() as i32,
			col as i32,
			claimed,
			out,
		);
		self.eval.call(&mut self.store, args).unwrap();
		let mut buf = [0u8; 24];
		self.memory.read(&self.store, out as usize, &mut buf).unwrap();
		let word = |k: usize| u64::from_le_bytes(buf[k * 8..k * 8 + 8].try_into().unwrap());
		[word(0), word(1), word(2)]
	}
}

/// The Gumbel noise as the probe returns it (in the reference slot).
fn noise(seed: u64, step: u32, token: u32) -> ElementCheck {
	let noise = arbiter_primitives::sampling::gumbel_noise(seed, step, token);
	ElementCheck { reference: noise, deviation: 0.0, bound: 0.0 }
}

fn bits(c: ElementCheck) -> [u64; 3] {
	[c.reference.to_bits(), c.deviation.to_bits(), c.bound.to_bits()]
}

#[test]
fn evaluator_is_bit_identical_in_wasm() {
	let wasm = build_probe();
	let mut rng = common::Rng(0xdead_beef);
	let mut compared = 0;
	for case in 0..40 {
		// A fresh instance per case keeps the bump allocator small.
		let mut probe = Probe::new(&wasm);
		let w = 1 + rng.below(if case % 2 == 0 { 64 } else { 1536 }) as usize;
		let scale = 10f32.powi(rng.below(7) as i32 - 3);
		let a = rng.vec(w, scale);
		let b = rng.vec(w, 0.5);
		let g: Vec<f32> = rng.vec(w, 0.1).iter().map(|v| v + 1.0).collect();
		let col = rng.below(w as u64) as usize;
		let claimed = rng.uniform() * scale;
		let mask: Vec<f32> = (0..w).map(|k| if k % 5 == 4 { -1.0e9 } else { 0.0 }).collect();
		// Rotary pairs: an even-width row and its half-width cosine and sine rows.
		let pairs: Vec<f32> = a.iter().copied().chain(a.iter().copied()).collect();
		let cos: Vec<f32> = b.iter().map(|v| libm::cosf(*v * 6.0)).collect();
		let sin: Vec<f32> = b.iter().map(|v| libm::sinf(*v * 6.0)).collect();
		let pos = rng.below(w as u64) as usize;
		let (seed, step, token) =
			(rng.next_u64(), rng.below(4096) as u32, rng.below(49_152) as u32);
		let keep: Vec<f32> = (0..w).map(|k| if k % 3 == 0 { 0.0 } else { 1.0 }).collect();
		let cases: Vec<Case> = vec![
			(0, ops::linear(&a, &b, Some(0.25), claimed), a.clone(), b.clone(), vec![0.25]),
			(1, ops::softmax(&a, Some(&mask), col, claimed), a.clone(), mask.clone(), vec![]),
			(2, ops::layer_norm(&a, &g, &b, 1e-12, col, claimed), a.clone(), g.clone(), b.clone()),
			(3, ops::rms_norm(&a, &g, 1e-6, col, claimed), a.clone(), g.clone(), vec![]),
			(4, ops::l2_normalize(&a, 1e-12, col, claimed), a.clone(), vec![], vec![]),
			(5, ops::mean_pool(&a, &keep, claimed), a.clone(), keep.clone(), vec![]),
			(6, ops::gelu(a[col], claimed), vec![a[col]], vec![], vec![]),
			(7, ops::silu(a[col], claimed), vec![a[col]], vec![], vec![]),
			(8, ops::add(a[col], b[col], claimed), vec![a[col]], vec![b[col]], vec![]),
			(9, ops::mul(a[col], b[col], claimed), vec![a[col]], vec![b[col]], vec![]),
			(
				10,
				ops::rope(&pairs, &cos, &sin, col % pairs.len(), claimed),
				pairs.clone(),
				cos.clone(),
				sin.clone(),
			),
			(11, ops::causal_score(&a, &b, 0.125, claimed), a.clone(), b.clone(), vec![0.125]),
			(12, ops::causal_softmax(&a, pos, col, claimed), a.clone(), vec![pos as f32], vec![]),
			(
				13,
				noise(seed, step, token),
				vec![f32::from_bits(seed as u32), f32::from_bits((seed >> 32) as u32)],
				vec![f32::from_bits(step)],
				vec![f32::from_bits(token)],
			),
		];
		for (op, native, x, y, z) in cases {
			let in_wasm = probe.eval(op, &x, &y, &z, col, claimed);
			assert_eq!(in_wasm, bits(native), "op {op}, width {w}: wasm and native differ");
			compared += 1;
		}
	}
	assert_eq!(compared, 560);
}
