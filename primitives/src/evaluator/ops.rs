//! Reference value and bound for one element of each op. Inputs are finite f32 (checked by the
//! caller); out-of-range columns give a failing check rather than a panic.

use super::{exact::dot_check, gamma, ElementCheck, FLOOR, SAFETY, TAU, U};

/// One correctly rounded f32 operation: `u`, widened by 2^-10 relative so that an exact tie
/// still passes when the f64 reference itself was rounded.
const ROUNDING: f64 = U * (1.0 + 1.0 / 1024.0);

fn check(reference: f64, claimed: f32, bound: f64) -> ElementCheck {
	ElementCheck { reference, deviation: (claimed as f64 - reference).abs(), bound }
}

/// A check that cannot pass (a column outside the row).
fn out_of_range() -> ElementCheck {
	ElementCheck { reference: 0.0, deviation: f64::MAX, bound: 0.0 }
}

/// `Linear`: `x · w_row + bias`, exact reference, bound `γ(n)·Σ|xᵢwᵢ|` (n counts the bias).
pub fn linear(x: &[f32], w_row: &[f32], bias: Option<f32>, claimed: f32) -> ElementCheck {
	if x.len() != w_row.len() {
		return out_of_range();
	}
	let d = dot_check(x, w_row, bias, claimed);
	ElementCheck {
		reference: d.reference,
		deviation: d.deviation,
		bound: gamma(d.terms) * d.abs_sum,
	}
}

/// `MatMul`: `a_row · b_row`.
pub fn matmul(a_row: &[f32], b_row: &[f32], claimed: f32) -> ElementCheck {
	linear(a_row, b_row, None, claimed)
}

/// `Add`: one rounding.
pub fn add(a: f32, b: f32, claimed: f32) -> ElementCheck {
	let r = a as f64 + b as f64;
	check(r, claimed, ROUNDING * r.abs() + FLOOR)
}

/// `Mul`: one rounding.
pub fn mul(a: f32, b: f32, claimed: f32) -> ElementCheck {
	let r = a as f64 * b as f64;
	check(r, claimed, ROUNDING * r.abs() + FLOOR)
}

/// `Scale`: one rounding.
pub fn scale(x: f32, factor: f32, claimed: f32) -> ElementCheck {
	mul(x, factor, claimed)
}

/// `Relu`: exact (up to flushing subnormals).
pub fn relu(x: f32, claimed: f32) -> ElementCheck {
	check((x as f64).max(0.0), claimed, FLOOR)
}

/// `Silu`: `x / (1 + e^-x)`; the exp's error carries over relatively, plus three roundings.
pub fn silu(x: f32, claimed: f32) -> ElementCheck {
	let x = x as f64;
	let r = x / (1.0 + libm::exp(-x));
	check(r, claimed, SAFETY * (TAU + 4.0 * U) * r.abs() + FLOOR)
}

/// `Gelu` (erf form): `0.5·x·(1 + erf(x/√2))`. The erf error is absolute inside `1 + erf`
/// (it cancels for very negative x), so the bound scales with `|x|`, not with the result.
pub fn gelu(x: f32, claimed: f32) -> ElementCheck {
	let x = x as f64;
	let z = x * core::f64::consts::FRAC_1_SQRT_2;
	let e = libm::erf(z);
	let r = 0.5 * x * (1.0 + e);
	// d erf(z)/dz = 2/√π·e^(−z²) <= 1.1284; the rounding of z moves erf by that times U|z|.
	let erf_slope = core::f64::consts::FRAC_2_SQRT_PI * libm::exp(-z * z);
	let inner = (1.0 + e.abs()) * (TAU + 2.0 * U) + erf_slope * z.abs() * U;
	check(r, claimed, SAFETY * (0.5 * x.abs() * inner + U * r.abs()) + FLOOR)
}

/// `Softmax` over a row of `x + mask`, element `col`.
///
/// With `aₖ = xₖ + mₖ`, an honest kernel's exponent argument for k is off by
/// `δₖ = U|aₖ| (if masked) + U|aₖ − max|`; `exp` adds `TAU`; the sum adds `γ(w)`; the division
/// one rounding. The result's relative error is `δⱼ + Σₖ yₖδₖ + 2·TAU + γ(w) + U`.
pub fn softmax(row: &[f32], mask: Option<&[f32]>, col: usize, claimed: f32) -> ElementCheck {
	if mask.is_some_and(|m| m.len() != row.len()) || col >= row.len() {
		return out_of_range();
	}
	let arg = |k: usize| -> f64 {
		let x = row.get(k).copied().unwrap_or(0.0) as f64;
		let m = mask.and_then(|m| m.get(k)).copied().unwrap_or(0.0) as f64;
		x + m
	};
	let w = row.len();
	let max = (0..w).map(arg).fold(f64::MIN, f64::max);
	let sum: f64 = (0..w).map(|k| libm::exp(arg(k) - max)).sum();
	// sum >= 1 (the max term is e^0), so the division is safe.
	let y = |k: usize| libm::exp(arg(k) - max) / sum;
	let delta = |k: usize| {
		let a = arg(k);
		let add_err = if mask.is_some() { U * a.abs() } else { 0.0 };
		add_err + U * (a - max).abs()
	};
	let weighted: f64 = (0..w).map(|k| y(k) * delta(k)).sum();
	let r = y(col);
	let rel = delta(col) + weighted + 2.0 * TAU + gamma(w as u32) + U;
	check(r, claimed, SAFETY * rel * r + FLOOR)
}

/// Mean and population variance of a row (two-pass, in f64).
fn moments(row: &[f32]) -> (f64, f64, f64, f64) {
	let w = row.len().max(1) as f64;
	let mean = row.iter().map(|v| *v as f64).sum::<f64>() / w;
	let var = row.iter().map(|v| (*v as f64 - mean) * (*v as f64 - mean)).sum::<f64>() / w;
	let mean_abs = row.iter().map(|v| (*v as f64).abs()).sum::<f64>() / w;
	let mean_sq = row.iter().map(|v| (*v as f64) * (*v as f64)).sum::<f64>() / w;
	(mean, var, mean_abs, mean_sq)
}

/// `LayerNorm` element `col`. The bound admits one-pass kernels (`E[x²] − μ²`, as candle's
/// CPU kernel computes it), whose variance error scales with `E[x²]` rather than with `var`.
pub fn layer_norm(
	row: &[f32],
	gamma_row: &[f32],
	beta_row: &[f32],
	eps: f32,
	col: usize,
	claimed: f32,
) -> ElementCheck {
	let (Some(x), Some(g), Some(b)) = (row.get(col), gamma_row.get(col), beta_row.get(col)) else {
		return out_of_range();
	};
	let (x, g, b, eps) = (*x as f64, *g as f64, *b as f64, eps as f64);
	let w = row.len() as u32;
	let (mean, var, mean_abs, mean_sq) = moments(row);
	let s = 1.0 / libm::sqrt(var + eps); // var >= 0, eps > 0
	let r = (x - mean) * s * g + b;
	let e_mean = gamma(w) * mean_abs + U * mean.abs();
	let e_var =
		(gamma(w) + 2.0 * U) * mean_sq + 2.0 * mean.abs() * e_mean + U * (mean * mean + var);
	// The honest kernel's scale lies between these two; not a linearisation, because with the
	// one-pass formula `e_var` can be as large as `var` itself (near-constant rows).
	let widen = TAU + 2.0 * U;
	let s_max = (1.0 + widen) / libm::sqrt((var - e_var).max(0.0) + eps);
	let s_min = (1.0 - widen) / libm::sqrt(var + e_var + eps);
	let ds = (s_max - s).max(s - s_min);
	let dev = (x - mean).abs();
	let bound =
		g.abs() * (dev * ds + dev * s_max * 3.0 * U + e_mean * s_max) + U * (r.abs() + b.abs());
	check(r, claimed, SAFETY * bound + FLOOR)
}

/// `RmsNorm` element `col`.
pub fn rms_norm(
	row: &[f32],
	gamma_row: &[f32],
	eps: f32,
	col: usize,
	claimed: f32,
) -> ElementCheck {
	let (Some(x), Some(g)) = (row.get(col), gamma_row.get(col)) else {
		return out_of_range();
	};
	let (x, g, eps) = (*x as f64, *g as f64, eps as f64);
	let (_, _, _, mean_sq) = moments(row);
	let s = 1.0 / libm::sqrt(mean_sq + eps);
	let r = x * s * g;
	let e_ms = (gamma(row.len() as u32) + U) * mean_sq;
	let s_rel = 0.5 * e_ms / (mean_sq + eps) + TAU + 2.0 * U;
	check(r, claimed, SAFETY * r.abs() * (s_rel + 2.0 * U) + FLOOR)
}

/// `L2Normalize` element `col`: `x / max(‖x‖, eps)`.
pub fn l2_normalize(row: &[f32], eps: f32, col: usize, claimed: f32) -> ElementCheck {
	let Some(x) = row.get(col) else {
		return out_of_range();
	};
	let norm = libm::sqrt(row.iter().map(|v| (*v as f64) * (*v as f64)).sum::<f64>());
	let d = norm.max(eps as f64);
	let r = *x as f64 / d;
	let n_rel = 0.5 * (gamma(row.len() as u32) + U) + U + TAU;
	check(r, claimed, SAFETY * r.abs() * (n_rel + U) + FLOOR)
}

/// Smallest denominator of a masked mean (as sentence-transformers clamps it).
pub const MEAN_POOL_MIN_COUNT: f64 = 1e-9;

/// `MeanPool`: `Σ mₖxₖ / max(Σ mₖ, 1e-9)` over one row.
pub fn mean_pool(row: &[f32], mask: &[f32], claimed: f32) -> ElementCheck {
	if row.len() != mask.len() {
		return out_of_range();
	}
	let d = dot_check(row, mask, None, 0.0);
	let count: f64 = mask.iter().map(|m| *m as f64).sum();
	let count_abs: f64 = mask.iter().map(|m| (*m as f64).abs()).sum();
	let denom = count.max(MEAN_POOL_MIN_COUNT);
	let r = d.reference / denom;
	let n = row.len() as u32;
	let e_num = gamma(n) * d.abs_sum;
	let e_den = gamma(n) * count_abs;
	check(r, claimed, SAFETY * (e_num / denom + r.abs() * (e_den / denom + U)) + FLOOR)
}

/// Pure index maps (`Embedding`, `Transpose`, `Reshape`): the claim must equal the source.
pub fn copy(source: f32, claimed: f32) -> ElementCheck {
	check(source as f64, claimed, 0.0)
}

/// `Rope` element `col` of a row at one position: the pair `(x₂ᵢ, x₂ᵢ₊₁)`, `i = col / 2`, times
/// `(cos, −sin)` (even column) or `(sin, cos)` (odd): a two-term dot product, so the bound is
/// `Linear`'s (`γ(2)·(|x₂ᵢ·c| + |x₂ᵢ₊₁·s|)`), with or without FMA.
pub fn rope(x: &[f32], cos_row: &[f32], sin_row: &[f32], col: usize, claimed: f32) -> ElementCheck {
	let i = col / 2;
	let (Some(a), Some(b), Some(c), Some(s)) =
		(x.get(2 * i), x.get(2 * i + 1), cos_row.get(i), sin_row.get(i))
	else {
		return out_of_range();
	};
	if x.len() != 2 * cos_row.len() || cos_row.len() != sin_row.len() {
		return out_of_range();
	}
	let coefficients = if col.is_multiple_of(2) { [*c, -*s] } else { [*s, *c] };
	let d = dot_check(&[*a, *b], &coefficients, None, claimed);
	ElementCheck {
		reference: d.reference,
		deviation: d.deviation,
		bound: gamma(2) * d.abs_sum + FLOOR,
	}
}

/// `CausalScores` element at or before the diagonal: `(q · k)·scale`, `scale` a power of two
/// (exact), so the bound is the dot product's, scaled.
pub fn causal_score(q_row: &[f32], k_row: &[f32], scale: f32, claimed: f32) -> ElementCheck {
	if q_row.len() != k_row.len() {
		return out_of_range();
	}
	let d = dot_check(q_row, k_row, None, 0.0);
	let scale = scale as f64;
	check(d.reference * scale, claimed, gamma(d.terms) * d.abs_sum * scale.abs() + FLOOR)
}

/// An element a causal op defines as exactly zero (after the diagonal).
pub fn masked(claimed: f32) -> ElementCheck {
	check(0.0, claimed, 0.0)
}

/// `CausalSoftmax` element `col` of the row at position `pos`: the softmax of `row[..=pos]`,
/// and exactly 0 after `pos`.
pub fn causal_softmax(row: &[f32], pos: usize, col: usize, claimed: f32) -> ElementCheck {
	if col >= row.len() || pos >= row.len() {
		return out_of_range();
	}
	match row.get(..=pos) {
		Some(prefix) if col <= pos => softmax(prefix, None, col, claimed),
		_ => masked(claimed),
	}
}
