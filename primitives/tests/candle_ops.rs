//! Candle's own CPU kernels, on random inputs, stay within every op's bound.

mod common;

use arbiter_primitives::evaluator::{ops, ElementCheck};
use candle_core::{Device, Tensor, D};

fn t(data: &[f32], shape: &[usize]) -> Tensor {
	Tensor::from_vec(data.to_vec(), shape, &Device::Cpu).unwrap()
}

fn flat(x: &Tensor) -> Vec<f32> {
	x.flatten_all().unwrap().to_vec1::<f32>().unwrap()
}

fn assert_all(label: &str, got: &[f32], check: impl Fn(usize, f32) -> ElementCheck) {
	let mut worst = 0.0f64;
	for (i, c) in got.iter().enumerate() {
		let r = check(i, *c);
		assert!(
			r.passes(0.0),
			"{label}: element {i}: candle {c} vs reference {} (bound {})",
			r.reference,
			r.bound
		);
		if r.bound > 0.0 {
			worst = worst.max(r.deviation / r.bound);
		}
	}
	eprintln!("{label}: {} elements, worst deviation/bound {:.3}", got.len(), worst);
}

#[test]
fn candle_matmul_and_linear() {
	let mut rng = common::Rng(11);
	for (m, k, n) in [(7usize, 384usize, 33usize), (3, 1536, 17), (5, 4096, 9)] {
		let a = rng.vec(m * k, 1.0);
		let b = rng.vec(n * k, 0.05);
		let bias = rng.vec(n, 0.1);
		let out = t(&a, &[m, k]).matmul(&t(&b, &[n, k]).t().unwrap()).unwrap();
		let out = flat(&out.broadcast_add(&t(&bias, &[n])).unwrap());
		assert_all("linear", &out, |i, c| {
			let (r, col) = (i / n, i % n);
			ops::linear(&a[r * k..(r + 1) * k], &b[col * k..(col + 1) * k], Some(bias[col]), c)
		});
	}
}

#[test]
fn candle_softmax_with_mask() {
	let mut rng = common::Rng(12);
	let (rows, w) = (24usize, 256usize);
	let x = rng.vec(rows * w, 8.0);
	let mask: Vec<f32> = (0..w).map(|k| if k < 200 { 0.0 } else { -1.0e9 }).collect();
	let summed = t(&x, &[rows, w]).broadcast_add(&t(&mask, &[1, w])).unwrap();
	let out = flat(&candle_nn::ops::softmax_last_dim(&summed).unwrap());
	assert_all("softmax", &out, |i, c| {
		ops::softmax(&x[(i / w) * w..(i / w + 1) * w], Some(&mask), i % w, c)
	});
}

#[test]
fn candle_norms() {
	let mut rng = common::Rng(13);
	let (rows, w) = (16usize, 384usize);
	let x: Vec<f32> = rng.vec(rows * w, 2.0).into_iter().map(|v| v + 0.7).collect();
	let g: Vec<f32> = rng.vec(w, 0.2).into_iter().map(|v| v + 1.0).collect();
	let b = rng.vec(w, 0.1);
	let ln = flat(
		&candle_nn::ops::layer_norm(&t(&x, &[rows, w]), &t(&g, &[w]), &t(&b, &[w]), 1e-12).unwrap(),
	);
	assert_all("layer_norm", &ln, |i, c| {
		ops::layer_norm(&x[(i / w) * w..(i / w + 1) * w], &g, &b, 1e-12, i % w, c)
	});
	let rms = flat(&candle_nn::ops::rms_norm(&t(&x, &[rows, w]), &t(&g, &[w]), 1e-6).unwrap());
	assert_all("rms_norm", &rms, |i, c| {
		ops::rms_norm(&x[(i / w) * w..(i / w + 1) * w], &g, 1e-6, i % w, c)
	});
	let xt = t(&x, &[rows, w]);
	let norm = xt
		.sqr()
		.unwrap()
		.sum_keepdim(D::Minus1)
		.unwrap()
		.sqrt()
		.unwrap()
		.clamp(1e-12f32, f32::MAX)
		.unwrap();
	let l2 = flat(&xt.broadcast_div(&norm).unwrap());
	assert_all("l2_normalize", &l2, |i, c| {
		ops::l2_normalize(&x[(i / w) * w..(i / w + 1) * w], 1e-12, i % w, c)
	});
}

#[test]
fn candle_elementwise_and_activations() {
	let mut rng = common::Rng(14);
	let n = 4096usize;
	let x = rng.vec(n, 12.0);
	let y = rng.vec(n, 3.0);
	let (xt, yt) = (t(&x, &[n]), t(&y, &[n]));
	assert_all("add", &flat(&(&xt + &yt).unwrap()), |i, c| ops::add(x[i], y[i], c));
	assert_all("mul", &flat(&(&xt * &yt).unwrap()), |i, c| ops::mul(x[i], y[i], c));
	assert_all("scale", &flat(&xt.affine(0.176_776_7, 0.0).unwrap()), |i, c| {
		ops::scale(x[i], 0.176_776_7, c)
	});
	assert_all("gelu_erf", &flat(&xt.gelu_erf().unwrap()), |i, c| ops::gelu(x[i], c));
	assert_all("silu", &flat(&xt.silu().unwrap()), |i, c| ops::silu(x[i], c));
	assert_all("relu", &flat(&xt.relu().unwrap()), |i, c| ops::relu(x[i], c));
}

#[test]
fn candle_mean_pool() {
	let mut rng = common::Rng(15);
	let (seq, w) = (40usize, 384usize);
	let x = rng.vec(seq * w, 1.5);
	let mask: Vec<f32> = (0..seq).map(|k| if k < 31 { 1.0 } else { 0.0 }).collect();
	// sentence-transformers' pooling: sum(x * mask) / clamp(sum(mask), 1e-9).
	let xt = t(&x, &[seq, w]);
	let mt = t(&mask, &[seq, 1]);
	let summed = xt.broadcast_mul(&mt).unwrap().sum(0).unwrap();
	let count = mt.sum_all().unwrap().clamp(1e-9f32, f32::MAX).unwrap();
	let pooled = flat(&summed.broadcast_div(&count).unwrap());
	// The verifier sees the transposed tensor: row c is column c of x.
	assert_all("mean_pool", &pooled, |c_idx, c| {
		let column: Vec<f32> = (0..seq).map(|r| x[r * w + c_idx]).collect();
		ops::mean_pool(&column, &mask, c)
	});
}

#[test]
fn candle_rope_and_causal_attention() {
	let mut rng = common::Rng(16);
	let (heads, seq, d) = (3usize, 9usize, 64usize);
	let x = rng.vec(heads * seq * d, 3.0);
	let angle = |p: usize, i: usize| p as f64 * 100_000f64.powf(-(2.0 * i as f64) / d as f64);
	let cos: Vec<f32> =
		(0..seq * d / 2).map(|k| angle(k / (d / 2), k % (d / 2)).cos() as f32).collect();
	let sin: Vec<f32> =
		(0..seq * d / 2).map(|k| angle(k / (d / 2), k % (d / 2)).sin() as f32).collect();
	let out = candle_nn::rotary_emb::rope_i(
		&t(&x, &[1, heads, seq, d]),
		&t(&cos, &[seq, d / 2]),
		&t(&sin, &[seq, d / 2]),
	)
	.unwrap();
	assert_all("rope_i", &flat(&out), |i, c| {
		let (r, col) = (i / d, i % d);
		let p = r % seq;
		let half = d / 2;
		ops::rope(
			&x[r * d..(r + 1) * d],
			&cos[p * half..(p + 1) * half],
			&sin[p * half..(p + 1) * half],
			col,
			c,
		)
	});

	// Scores of one head against itself, scaled by 1/8 (exact), then softmax over each
	// row's causal prefix as a decode step computes it: the prefix alone.
	let q = &x[..seq * d];
	let k = rng.vec(seq * d, 3.0);
	let scores = flat(
		&t(q, &[seq, d])
			.matmul(&t(&k, &[seq, d]).t().unwrap())
			.unwrap()
			.affine(0.125, 0.0)
			.unwrap(),
	);
	assert_all("causal scores", &scores, |e, c| {
		let (i, j) = (e / seq, e % seq);
		ops::causal_score(&q[i * d..(i + 1) * d], &k[j * d..(j + 1) * d], 0.125, c)
	});
	for i in 0..seq {
		let row = &scores[i * seq..(i + 1) * seq];
		let probs = flat(&candle_nn::ops::softmax_last_dim(&t(&row[..=i], &[1, i + 1])).unwrap());
		let padded: Vec<f32> = (0..seq).map(|j| probs.get(j).copied().unwrap_or(0.0)).collect();
		assert_all("causal softmax", &padded, |j, c| ops::causal_softmax(row, i, j, c));
	}
}
