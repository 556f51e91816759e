//! The reference evaluator: one output element per op, with the op's rounding-error bound.
//!
//! References are computed from the exact f32 inputs in f64 (dot products exactly, see
//! [`exact`]) with pure-Rust `libm` for transcendental functions, so natively and in wasm the
//! results are bit-identical. Every input is checked finite first, and every domain is guarded
//! (no division by zero, no square root of a negative), so no NaN can arise.
//!
//! A claim `c` for an element passes iff `|c − reference| <= bound + slack`. The bounds, and
//! why every honest f32 implementation (CPU or GPU, any summation order, with or without FMA)
//! stays inside them, are derived in `docs/verification.md`.

pub mod exact;
pub mod ops;

/// Unit roundoff of f32 (round to nearest): 2^-24.
pub const U: f64 = 1.0 / 16_777_216.0;
/// Relative error allowed for an f32 transcendental function (exp, erf, sqrt, rsqrt): 16 ulp,
/// above every vendor library's documented maximum (glibc expf < 1 ulp, CUDA expf 2 ulp).
pub const TAU: f64 = 1.0 / 1_048_576.0;
/// Absolute error allowed everywhere: covers underflow to zero, subnormals flushed to zero
/// (GPU FTZ) and overflow of intermediate `exp` in honest kernels. 2^-100 ≈ 7.9e-31.
pub const FLOOR: f64 = 7.888_609_052_210_118e-31;
/// Factor on first-order error estimates of non-linear ops, covering the second-order terms
/// the derivations drop.
pub const SAFETY: f64 = 2.0;

/// `γ(n) = n·u / (1 − n·u)`: the classic bound on the relative error of any order of summing
/// `n` f32 terms (Higham, Accuracy and Stability of Numerical Algorithms, §3.1). Saturates to
/// a huge value when `n·u >= 1` (never for widths the registry allows).
pub fn gamma(n: u32) -> f64 {
	let nu = n as f64 * U;
	if nu >= 0.5 {
		return f64::MAX / 4.0;
	}
	nu / (1.0 - nu)
}

/// The outcome of checking one element.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ElementCheck {
	/// The reference value.
	pub reference: f64,
	/// `|claimed − reference|`.
	pub deviation: f64,
	/// The op's bound (without the model's slack).
	pub bound: f64,
}

impl ElementCheck {
	/// Whether the claim is within `bound + slack`.
	pub fn passes(&self, slack: f64) -> bool {
		self.deviation <= self.bound + slack
	}
}
