//! Soundness of the tolerance bounds, property-tested.
//!
//! For each op: values an honest f32 implementation computes, in any of several orders
//! (forward, reverse, pairwise, blocked, 8 lanes, with FMA, one- or two-pass statistics, online
//! softmax), always pass; the reference moved by a few times the bound always fails.

mod common;

use arbiter_primitives::evaluator::{ops, ElementCheck};
use proptest::prelude::*;

// ---- honest f32 summation orders -------------------------------------------------------------

fn forward(v: &[f32]) -> f32 {
	v.iter().fold(0.0, |a, b| a + b)
}
fn reverse(v: &[f32]) -> f32 {
	v.iter().rev().fold(0.0, |a, b| a + b)
}
fn pairwise(v: &[f32]) -> f32 {
	match v.len() {
		0 => 0.0,
		1 => v[0],
		n => pairwise(&v[..n / 2]) + pairwise(&v[n / 2..]),
	}
}
fn blocked(v: &[f32]) -> f32 {
	let partial: Vec<f32> = v.chunks(16).map(forward).collect();
	forward(&partial)
}
fn lanes(v: &[f32]) -> f32 {
	let mut acc = [0.0f32; 8];
	for (i, x) in v.iter().enumerate() {
		acc[i % 8] += x;
	}
	pairwise(&acc)
}

type Summer = fn(&[f32]) -> f32;
const SUMMERS: [Summer; 5] = [forward, reverse, pairwise, blocked, lanes];

/// Dot products in every order, plus an FMA chain.
fn dots(a: &[f32], b: &[f32]) -> Vec<f32> {
	let products: Vec<f32> = a.iter().zip(b).map(|(x, y)| x * y).collect();
	let mut out: Vec<f32> = SUMMERS.iter().map(|s| s(&products)).collect();
	out.push(a.iter().zip(b).fold(0.0f32, |acc, (x, y)| x.mul_add(*y, acc)));
	out.push(a.iter().zip(b).rev().fold(0.0f32, |acc, (x, y)| x.mul_add(*y, acc)));
	out
}

// ---- the perturbation side ---------------------------------------------------------------------

/// A claim a few bounds away from the reference (at least one f32 step).
fn cheat(check: &ElementCheck, factor: f64) -> f32 {
	let target = check.reference + factor * check.bound.max(f64::MIN_POSITIVE);
	let mut c = target as f32;
	while ((c as f64) - check.reference).abs() <= check.bound {
		c = f32::from_bits(if c >= 0.0 { c.to_bits() + 1 } else { c.to_bits() - 1 });
		if c == 0.0 {
			c = f32::from_bits(1);
		}
	}
	c
}

fn assert_sound(
	label: &str,
	honest: &[f32],
	eval: impl Fn(f32) -> ElementCheck,
) -> Result<(), TestCaseError> {
	for (i, c) in honest.iter().enumerate() {
		let check = eval(*c);
		prop_assert!(check.passes(0.0), "{label}: honest variant {i} = {c} fails: {check:?}");
	}
	let reference = eval(honest[0]);
	for factor in [3.0, -3.0, 10.0] {
		let bad = cheat(&reference, factor);
		let check = eval(bad);
		prop_assert!(
			!check.passes(0.0),
			"{label}: claim {bad} ({factor} bounds off) passes: {check:?}"
		);
	}
	Ok(())
}

// ---- value generation --------------------------------------------------------------------------

fn row(max_width: usize) -> impl Strategy<Value = Vec<f32>> {
	(1..=max_width, any::<u64>(), -4i32..=4).prop_map(|(w, seed, e)| {
		let mut rng = common::Rng(seed | 1);
		rng.vec(w, 10f32.powi(e))
	})
}

fn pair(max_width: usize) -> impl Strategy<Value = (Vec<f32>, Vec<f32>)> {
	(1..=max_width, any::<u64>(), -3i32..=3, -3i32..=3).prop_map(|(w, seed, e1, e2)| {
		let mut rng = common::Rng(seed | 1);
		(rng.vec(w, 10f32.powi(e1)), rng.vec(w, 10f32.powi(e2)))
	})
}

fn cases() -> u32 {
	std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(48)
}

proptest! {
	// 48 cases per run by default; PROPTEST_CASES=N for a longer hunt.
	#![proptest_config(ProptestConfig { cases: cases(), .. ProptestConfig::default() })]

	#[test]
	fn linear_and_matmul((a, b) in pair(4096), bias in -2.0f32..2.0) {
		assert_sound("matmul", &dots(&a, &b), |c| ops::matmul(&a, &b, c))?;
		let with_bias: Vec<f32> = dots(&a, &b).into_iter().map(|d| d + bias).collect();
		assert_sound("linear", &with_bias, |c| ops::linear(&a, &b, Some(bias), c))?;
	}

	#[test]
	fn elementwise(x in -1.0e4f32..1.0e4, y in -1.0e4f32..1.0e4) {
		assert_sound("add", &[x + y], |c| ops::add(x, y, c))?;
		assert_sound("mul", &[x * y], |c| ops::mul(x, y, c))?;
		assert_sound("scale", &[x * 0.125], |c| ops::scale(x, 0.125, c))?;
		assert_sound("relu", &[x.max(0.0)], |c| ops::relu(x, c))?;
	}

	#[test]
	fn activations(x in -30.0f32..30.0) {
		let silu = [x / (1.0 + (-x).exp()), x * (1.0 / (1.0 + libm::expf(-x))), (x as f64 / (1.0 + (-(x as f64)).exp())) as f32];
		assert_sound("silu", &silu, |c| ops::silu(x, c))?;
		let z = x / std::f32::consts::SQRT_2;
		let gelu = [
			0.5 * x * (1.0 + libm::erff(z)),
			x * 0.5 * (1.0 + libm::erff(x * std::f32::consts::FRAC_1_SQRT_2)),
			(0.5 * x as f64 * (1.0 + libm::erf(x as f64 / std::f64::consts::SQRT_2))) as f32,
		];
		assert_sound("gelu", &gelu, |c| ops::gelu(x, c))?;
	}

	#[test]
	fn softmax(x in row(1024), masked in 0usize..4, col_seed in any::<usize>()) {
		let w = x.len();
		let col = col_seed % w;
		let mask: Vec<f32> = (0..w).map(|k| if k + masked >= w && k > 0 { -1.0e9 } else { 0.0 }).collect();
		let a: Vec<f32> = x.iter().zip(&mask).map(|(v, m)| v + m).collect();
		let max = a.iter().copied().fold(f32::MIN, f32::max);
		let e: Vec<f32> = a.iter().map(|v| (v - max).exp()).collect();
		let mut honest: Vec<f32> = SUMMERS.iter().map(|s| e[col] / s(&e)).collect();
		// Online softmax (running max, rescaled sum), as fused GPU kernels compute it.
		let (mut m, mut s) = (f32::MIN, 0.0f32);
		for v in &a {
			let m2 = m.max(*v);
			s = s * (m - m2).exp() + (v - m2).exp();
			m = m2;
		}
		honest.push((a[col] - m).exp() / s);
		assert_sound("softmax", &honest, |c| ops::softmax(&x, Some(&mask), col, c))?;
		let e: Vec<f32> = x.iter().map(|v| (v - x.iter().copied().fold(f32::MIN, f32::max)).exp()).collect();
		let plain: Vec<f32> = SUMMERS.iter().map(|s| e[col] / s(&e)).collect();
		assert_sound("softmax (no mask)", &plain, |c| ops::softmax(&x, None, col, c))?;
	}

	#[test]
	fn norms(x in row(4096), shift in -3.0f32..3.0, col_seed in any::<usize>()) {
		let w = x.len();
		let col = col_seed % w;
		// A shifted row makes the one-pass variance formula cancel badly.
		let x: Vec<f32> = x.iter().map(|v| v + shift).collect();
		let g: Vec<f32> = (0..w).map(|k| 1.0 + (k % 7) as f32 * 0.01).collect();
		let b: Vec<f32> = (0..w).map(|k| (k % 5) as f32 * 0.1 - 0.2).collect();
		let eps = 1e-12f32;
		let wf = w as f32;
		let mut ln = Vec::new();
		for s in SUMMERS {
			let mean = s(&x) / wf;
			let dev: Vec<f32> = x.iter().map(|v| (v - mean) * (v - mean)).collect();
			let var = s(&dev) / wf;
			ln.push((x[col] - mean) / (var + eps).sqrt() * g[col] + b[col]);
			let sq: Vec<f32> = x.iter().map(|v| v * v).collect();
			let var1 = (s(&sq) / wf - mean * mean).max(0.0);
			ln.push((x[col] - mean) * (1.0 / (var1 + eps).sqrt()) * g[col] + b[col]);
		}
		assert_sound("layer_norm", &ln, |c| ops::layer_norm(&x, &g, &b, eps, col, c))?;
		let sq: Vec<f32> = x.iter().map(|v| v * v).collect();
		let rms: Vec<f32> = SUMMERS.iter().map(|s| x[col] / (s(&sq) / wf + 1e-6).sqrt() * g[col]).collect();
		assert_sound("rms_norm", &rms, |c| ops::rms_norm(&x, &g, 1e-6, col, c))?;
		let l2: Vec<f32> = SUMMERS.iter().map(|s| x[col] / s(&sq).sqrt().max(eps)).collect();
		assert_sound("l2_normalize", &l2, |c| ops::l2_normalize(&x, eps, col, c))?;
	}

	#[test]
	fn rope(x in -1.0e3f32..1.0e3, y in -1.0e3f32..1.0e3, angle in -100.0f32..100.0) {
		let (c, s) = (libm::cosf(angle), libm::sinf(angle));
		let row = [x, y];
		// Plain, FMA either way round, and candle's rope_i formula.
		let even = [x * c - y * s, x.mul_add(c, -(y * s)), (-y).mul_add(s, x * c)];
		let odd = [x * s + y * c, x.mul_add(s, y * c), y.mul_add(c, x * s)];
		assert_sound("rope (even)", &even, |claim| ops::rope(&row, &[c], &[s], 0, claim))?;
		assert_sound("rope (odd)", &odd, |claim| ops::rope(&row, &[c], &[s], 1, claim))?;
	}

	#[test]
	fn causal_scores((q, k) in pair(256), shift in -6i32..=0) {
		let scale = 2f32.powi(shift);
		// Scaled after the dot product, or q scaled first: the same bits for a power of two.
		let mut honest: Vec<f32> = dots(&q, &k).into_iter().map(|d| d * scale).collect();
		let q_scaled: Vec<f32> = q.iter().map(|v| v * scale).collect();
		honest.extend(dots(&q_scaled, &k));
		assert_sound("causal_score", &honest, |c| ops::causal_score(&q, &k, scale, c))?;
	}

	#[test]
	fn causal_softmax(x in row(1024), pos_seed in any::<usize>(), col_seed in any::<usize>()) {
		let w = x.len();
		let pos = pos_seed % w;
		let col = col_seed % (pos + 1);
		let prefix = &x[..=pos];
		let max = prefix.iter().copied().fold(f32::MIN, f32::max);
		let e: Vec<f32> = prefix.iter().map(|v| (v - max).exp()).collect();
		let mut honest: Vec<f32> = SUMMERS.iter().map(|s| e[col] / s(&e)).collect();
		let (mut m, mut s) = (f32::MIN, 0.0f32);
		for v in prefix {
			let m2 = m.max(*v);
			s = s * (m - m2).exp() + (v - m2).exp();
			m = m2;
		}
		honest.push((prefix[col] - m).exp() / s);
		assert_sound("causal_softmax", &honest, |c| ops::causal_softmax(&x, pos, col, c))?;
		// What the row holds after the diagonal is never read.
		let mut other = x.clone();
		for v in other.iter_mut().skip(pos + 1) {
			*v = 1.0e4;
		}
		let (a, b) = (ops::causal_softmax(&x, pos, col, honest[0]), ops::causal_softmax(&other, pos, col, honest[0]));
		prop_assert_eq!((a.reference, a.bound), (b.reference, b.bound));
	}

	#[test]
	fn mean_pool(x in row(512), valid_seed in any::<usize>()) {
		let w = x.len();
		let valid = 1 + valid_seed % w;
		let mask: Vec<f32> = (0..w).map(|k| if k < valid { 1.0 } else { 0.0 }).collect();
		let honest: Vec<f32> = dots(&x, &mask).into_iter().map(|d| d / forward(&mask).max(1e-9)).collect();
		assert_sound("mean_pool", &honest, |c| ops::mean_pool(&x, &mask, c))?;
	}
}

#[test]
fn after_the_diagonal_only_an_exact_zero_passes() {
	let row = [0.5f32, -1.0, 2.0, 3.0];
	for claim in [0.0f32, -0.0] {
		assert!(ops::causal_softmax(&row, 1, 2, claim).passes(0.0));
		assert!(ops::masked(claim).passes(0.0));
	}
	for claim in [f32::from_bits(1), 1.0e-30, 0.25] {
		assert!(!ops::causal_softmax(&row, 1, 2, claim).passes(0.0), "{claim}");
		assert!(!ops::masked(claim).passes(0.0), "{claim}");
	}
	// A position past the row, or a column past it, is not a check that can pass.
	assert!(!ops::causal_softmax(&row, 4, 0, 0.0).passes(0.0));
	assert!(!ops::causal_softmax(&row, 3, 4, 0.0).passes(0.0));
}

#[test]
fn rope_refuses_tables_of_another_width() {
	let x = [1.0f32, 2.0, 3.0, 4.0];
	assert!(ops::rope(&x, &[1.0, 1.0], &[0.0, 0.0], 3, 4.0).passes(0.0));
	assert!(!ops::rope(&x, &[1.0], &[0.0], 1, 2.0).passes(0.0));
	assert!(!ops::rope(&x, &[1.0, 1.0, 1.0], &[0.0, 0.0, 0.0], 1, 2.0).passes(0.0));
}

#[test]
fn copies_are_exact() {
	let check = ops::copy(1.5, 1.5);
	assert!(check.passes(0.0));
	assert!(!ops::copy(1.5, f32::from_bits(1.5f32.to_bits() + 1)).passes(0.0));
	assert!(ops::copy(0.0, -0.0).passes(0.0));
}
