//! GELU (erf form) over a slice, written so the compiler vectorises it: no branches, no calls.
//!
//! candle's `gelu_erf` calls a scalar `erf` per element, a sixth of MiniLM's CPU time. Here
//! `erf(z) = 1 − t·P(t)·e^(−z²)` with `t = 1/(1 + p·|z|)` (Abramowitz & Stegun 7.1.26, absolute
//! error ≤ 1.5e-7) and `e^(−z²)` from a range-reduced polynomial. The runtime's bound allows an
//! absolute error of about 1e-6 in `erf` (it is `16 ulp` of `1 + erf`), so this is well inside
//! it; `tests` checks every result against the runtime's own `gelu` check.

use rayon::prelude::*;

use super::CpuPath;

/// Elements per parallel chunk.
const CHUNK: usize = 4096;

/// `out[i] = gelu(x[i])`, in parallel.
pub fn gelu(x: &[f32]) -> Vec<f32> {
	let mut out = vec![0f32; x.len()];
	out.par_chunks_mut(CHUNK)
		.zip(x.par_chunks(CHUNK))
		.for_each(|(o, i)| gelu_slice(i, o));
	out
}

/// One chunk, with the vectors of the process's path.
fn gelu_slice(x: &[f32], out: &mut [f32]) {
	gelu_on(super::path(), x, out)
}

/// `out[i] = gelu(x[i])` with the vectors of `path` (portable code where the CPU lacks them).
/// Every path gives the same bits: the code is the same, only its vector width differs, and
/// nothing in it is contracted into fused multiply-adds.
pub fn gelu_on(path: CpuPath, x: &[f32], out: &mut [f32]) {
	#[cfg(target_arch = "x86_64")]
	{
		let best = CpuPath::detect();
		if path == CpuPath::Avx512 && best >= CpuPath::Avx512 {
			// SAFETY: the CPU has AVX-512F (it runs the AVX-512 path).
			return unsafe { gelu_avx512(x, out) };
		}
		if path == CpuPath::Avx2Fma && best >= CpuPath::Avx2Fma {
			// SAFETY: the CPU has AVX2 and FMA (it runs the AVX2 path).
			return unsafe { gelu_avx2(x, out) };
		}
	}
	let _ = path;
	gelu_portable(x, out)
}

/// # Safety
/// The CPU has AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn gelu_avx512(x: &[f32], out: &mut [f32]) {
	gelu_portable(x, out)
}

/// # Safety
/// The CPU has AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn gelu_avx2(x: &[f32], out: &mut [f32]) {
	gelu_portable(x, out)
}

#[inline(always)]
fn gelu_portable(x: &[f32], out: &mut [f32]) {
	for (o, v) in out.iter_mut().zip(x) {
		*o = gelu_one(*v);
	}
}

/// `0.5·x·(1 + erf(x/√2))`.
#[inline(always)]
pub fn gelu_one(x: f32) -> f32 {
	0.5 * x * (1.0 + erf(x * core::f32::consts::FRAC_1_SQRT_2))
}

/// Abramowitz & Stegun 7.1.26.
#[inline(always)]
fn erf(z: f32) -> f32 {
	const P: f32 = 0.327_591_1;
	const A1: f32 = 0.254_829_6;
	const A2: f32 = -0.284_496_72;
	const A3: f32 = 1.421_413_8;
	const A4: f32 = -1.453_152_1;
	const A5: f32 = 1.061_405_4;
	let a = z.abs();
	let t = 1.0 / (1.0 + P * a);
	let poly = ((((A5 * t + A4) * t + A3) * t + A2) * t + A1) * t;
	let y = 1.0 - poly * exp_neg(a * a);
	y.copysign(z)
}

/// `e^(−v)` for `v ≥ 0` (to about 2 ulp; 0 past `v ≈ 87`): `e^(−v) = 2^n · e^r`, `|r| ≤ ln2/2`.
#[inline(always)]
fn exp_neg(v: f32) -> f32 {
	const LOG2E: f32 = core::f32::consts::LOG2_E;
	// ln 2 split in two so `n·LN2_HI` is exact for the n that occur.
	const LN2_HI: f32 = 0.693_145_75;
	const LN2_LO: f32 = 1.428_606_8e-6;
	// Past this, e^(−v) is below f32's normal range: the result is flushed to 0 below.
	// 1.5·2^23: adding it rounds to an integer (ties to even) and leaves that integer in the low
	// mantissa bits, so n and 2^n come without a float-to-int conversion (which would stop the
	// compiler from vectorising the loop).
	const ROUND: f32 = 12_582_912.0;
	let w = -(v.min(87.0));
	let shifted = w * LOG2E + ROUND;
	let n = shifted - ROUND;
	let r = (w - n * LN2_HI) - n * LN2_LO;
	// Taylor coefficients 1/k! to k = 6: relative error below 2e-8 on |r| ≤ 0.35.
	let p = 1.0 +
		r * (1.0 +
			r * (0.5 +
				r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
	// n is in -126..=0 here (its two's complement is the low bits of `shifted`), so the
	// exponent field n + 127 stays normal.
	let n_bits = shifted.to_bits().wrapping_sub(ROUND.to_bits());
	let scale = f32::from_bits(n_bits.wrapping_add(127) << 23);
	let e = p * scale;
	if v >= 87.0 {
		0.0
	} else {
		e
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use arbiter_primitives::evaluator::ops;

	/// Every f32 in [-12, 12] on a fine grid, and a sweep of magnitudes out to 1e30: each result
	/// passes the runtime's GELU check with no slack, and stays within 3e-7·|x| of the exact value.
	#[test]
	fn every_result_passes_the_runtime_check() {
		let mut xs: Vec<f32> = (-120_000..=120_000).map(|i| i as f32 * 1e-4).collect();
		let mut m = 1e-30f32;
		while m < 1e30 {
			xs.push(m);
			xs.push(-m);
			m *= 1.37;
		}
		xs.extend([
			0.0,
			-0.0,
			f32::MIN_POSITIVE,
			f32::MAX,
			f32::MIN,
			87.0 * core::f32::consts::SQRT_2,
		]);
		let got = gelu(&xs);
		for (x, g) in xs.iter().zip(&got) {
			let check = ops::gelu(*x, *g);
			assert!(
				check.passes(0.0),
				"gelu({x}) = {g}, reference {} (bound {})",
				check.reference,
				check.bound
			);
			if x.abs() < 1e6 {
				assert!(
					check.deviation <= 3e-7 * (x.abs() as f64) + 1e-37,
					"gelu({x}) = {g}, reference {}",
					check.reference
				);
			}
		}
	}

	#[test]
	fn same_results_on_every_code_path() {
		let xs: Vec<f32> = (-5000..5000).map(|i| i as f32 * 3.3e-3).collect();
		let mut portable = vec![0f32; xs.len()];
		gelu_portable(&xs, &mut portable);
		assert_eq!(gelu(&xs), portable);
		for path in CpuPath::available() {
			let mut out = vec![0f32; xs.len()];
			gelu_on(path, &xs, &mut out);
			assert_eq!(out, portable, "{path}");
		}
		assert_eq!(gelu(&[]), Vec::<f32>::new());
	}
}
