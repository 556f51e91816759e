//! Exact dot products.
//!
//! An f32 is `m · 2^e` with an integer `m < 2^24` and `e ∈ [-149, 104]`, so a product of two is
//! `m · 2^e` with `m < 2^48`, `e ∈ [-298, 208]`. [`ExactSum`] adds such terms into a 640-bit
//! fixed-point integer (32-bit chunks kept in `i64` limbs, so carries are deferred), which makes
//! the sum exact for any order and any length up to 2^31 terms. The result is read out once, as
//! an f64 with relative error below 2^-60: plain integer and IEEE operations only, so natively
//! and in wasm the bits are the same.

/// Bit position of `2^-298`, the smallest product exponent, in the accumulator.
const BIAS: i32 = 298;
const LIMBS: usize = 20;

/// A value `m · 2^e` split from an f32; `m` is signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Split {
	pub negative: bool,
	pub mantissa: u64,
	pub exponent: i32,
}

/// Splits a finite f32 into sign, integer mantissa and exponent.
pub fn split(v: f32) -> Split {
	let bits = v.to_bits();
	let negative = bits >> 31 == 1;
	let exp_field = ((bits >> 23) & 0xff) as i32;
	let frac = (bits & 0x7f_ffff) as u64;
	if exp_field == 0 {
		Split { negative, mantissa: frac, exponent: -149 }
	} else {
		Split { negative, mantissa: frac | (1 << 23), exponent: exp_field - 150 }
	}
}

/// An exact sum of f32 products and f32 values.
#[derive(Clone, Debug)]
pub struct ExactSum {
	limbs: [i64; LIMBS],
}

impl Default for ExactSum {
	fn default() -> Self {
		Self::new()
	}
}

impl ExactSum {
	/// Zero.
	pub fn new() -> Self {
		ExactSum { limbs: [0; LIMBS] }
	}

	fn add_scaled(&mut self, negative: bool, mantissa: u64, exponent: i32) {
		if mantissa == 0 {
			return;
		}
		// Finite f32 inputs keep `pos` in [0, 506]; clamp defensively instead of panicking.
		let pos = exponent.saturating_add(BIAS).clamp(0, 506) as u32;
		let (q, r) = ((pos / 32) as usize, pos % 32);
		let shifted = (mantissa as u128) << r;
		let chunks = [
			(shifted & 0xffff_ffff) as i64,
			((shifted >> 32) & 0xffff_ffff) as i64,
			((shifted >> 64) & 0xffff_ffff) as i64,
		];
		for (k, chunk) in chunks.iter().enumerate() {
			if let Some(limb) = self.limbs.get_mut(q + k) {
				*limb =
					if negative { limb.wrapping_sub(*chunk) } else { limb.wrapping_add(*chunk) };
			}
		}
	}

	/// Adds `a · b` exactly.
	pub fn add_product(&mut self, a: f32, b: f32) {
		let (x, y) = (split(a), split(b));
		self.add_scaled(x.negative != y.negative, x.mantissa * y.mantissa, x.exponent + y.exponent);
	}

	/// Adds `v` exactly.
	pub fn add(&mut self, v: f32) {
		let s = split(v);
		self.add_scaled(s.negative, s.mantissa, s.exponent);
	}

	/// Subtracts `v` exactly.
	pub fn sub(&mut self, v: f32) {
		let s = split(v);
		self.add_scaled(!s.negative, s.mantissa, s.exponent);
	}

	/// Propagates carries so every limb but the top one is in `[0, 2^32)`.
	fn normalize(limbs: &mut [i64; LIMBS]) {
		let mut carry = 0i64;
		for limb in limbs.iter_mut() {
			let v = limb.wrapping_add(carry);
			carry = v >> 32;
			*limb = v - (carry << 32);
		}
		// The value fits in 640 bits, so the final carry is the sign: fold it back on top.
		if let Some(top) = limbs.last_mut() {
			*top = top.wrapping_add(carry << 32);
		}
	}

	/// The sum as an f64 (relative error below 2^-60).
	pub fn to_f64(&self) -> f64 {
		let mut limbs = self.limbs;
		Self::normalize(&mut limbs);
		let negative = limbs.last().is_some_and(|top| *top < 0);
		if negative {
			// Negate every limb (the value is Σ limbᵢ·2^(32i)), then normalize again.
			for limb in limbs.iter_mut() {
				*limb = -*limb;
			}
			Self::normalize(&mut limbs);
		}
		let Some(top) = limbs.iter().rposition(|l| *l != 0) else {
			return 0.0;
		};
		// The top three chunks (96 bits) carry far more than f64's 53 bits of precision.
		let low = top.saturating_sub(2);
		let mantissa = limbs
			.get(low..=top)
			.unwrap_or(&[])
			.iter()
			.rev()
			.fold(0u128, |acc, l| (acc << 32) | (*l as u64 as u128));
		let scale_exp = 32 * low as i32 - BIAS;
		let magnitude = (mantissa as f64) * pow2(scale_exp);
		if negative {
			-magnitude
		} else {
			magnitude
		}
	}
}

/// `2^k` built from its bits (exact; `k` within the normal f64 range).
pub fn pow2(k: i32) -> f64 {
	let k = k.clamp(-1022, 1023);
	f64::from_bits(((k + 1023) as u64) << 52)
}

/// The result of checking a dot-product element: the exact reference, the exact deviation of
/// the claim from it, and `Σ|aᵢbᵢ|` (plus `|bias|`), with the number of terms.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DotCheck {
	pub reference: f64,
	pub deviation: f64,
	pub abs_sum: f64,
	pub terms: u32,
}

/// Checks `claimed` against `Σ aᵢ·bᵢ (+ bias)` computed exactly.
pub fn dot_check(a: &[f32], b: &[f32], bias: Option<f32>, claimed: f32) -> DotCheck {
	let mut sum = ExactSum::new();
	let mut abs_sum = 0.0f64;
	for (x, y) in a.iter().zip(b) {
		sum.add_product(*x, *y);
		// f32 x f32 is exact in f64.
		abs_sum += ((*x as f64) * (*y as f64)).abs();
	}
	let mut terms = a.len().min(b.len()) as u32;
	if let Some(bias) = bias {
		sum.add(bias);
		abs_sum += (bias as f64).abs();
		terms = terms.saturating_add(1);
	}
	let reference = sum.to_f64();
	sum.sub(claimed);
	let deviation = sum.to_f64().abs();
	// The f64 accumulation of |aᵢbᵢ| rounds n times: inflate so it stays an upper bound.
	let abs_sum = abs_sum * (1.0 + (terms as f64 + 1.0) * pow2(-52));
	DotCheck { reference, deviation, abs_sum, terms }
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn exact_sum_cancels_exactly() {
		let mut s = ExactSum::new();
		s.add(1.0e30);
		s.add(1.0);
		s.add(-1.0e30);
		assert_eq!(s.to_f64(), 1.0);
		let mut s = ExactSum::new();
		s.add_product(f32::MIN_POSITIVE, 1.0e-7);
		s.add_product(f32::MAX, 2.0);
		s.add_product(f32::MAX, -2.0);
		assert_eq!(s.to_f64(), (f32::MIN_POSITIVE as f64) * (1.0e-7f32 as f64));
	}

	#[test]
	fn subnormals_and_signs() {
		let tiny = f32::from_bits(1); // 2^-149
		let mut s = ExactSum::new();
		s.add_product(tiny, tiny);
		assert_eq!(s.to_f64(), pow2(-298));
		s.sub(1.5);
		assert_eq!(s.to_f64(), -1.5);
		let mut s = ExactSum::new();
		s.add(-3.25);
		s.add_product(-2.0, -0.125);
		assert_eq!(s.to_f64(), -3.0);
	}

	#[test]
	fn dot_matches_f64_on_small_integers() {
		let a: [f32; 4] = [1.0, -2.0, 3.0, 4.5];
		let b: [f32; 4] = [0.5, 0.25, -1.0, 2.0];
		let c = dot_check(&a, &b, Some(1.0), 7.0);
		assert_eq!(c.reference, 0.5 - 0.5 - 3.0 + 9.0 + 1.0);
		assert_eq!(c.deviation, 0.0);
		assert_eq!(c.terms, 5);
	}
}
