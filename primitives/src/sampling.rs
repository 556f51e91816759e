//! Seeded token sampling by the Gumbel-max trick: the token chosen at a step is the argmax over
//! the vocabulary of `logit / temperature + g`, where `g` is a Gumbel variate drawn from
//! `blake2(seed ‖ step ‖ token)`. The noise of any (step, token) is a function of public values
//! only, so the runtime recomputes it for the two tokens a token-choice dispute names, and it is
//! the same bits natively and in wasm (integer hashing, then `libm`'s `log` in f64).

use crate::encoding::hash;

/// The Gumbel variate for `token` at generation step `step` under the submitter's `seed`:
/// `−ln(−ln u)` with `u` in (0, 1) from the hash's first 53 bits (`u = (m + ½)/2⁵³`), so both
/// logarithms are of values strictly inside (0, 1) and the result is finite (|g| < 40).
pub fn gumbel_noise(seed: u64, step: u32, token: u32) -> f64 {
	let mut preimage = [0u8; 16];
	preimage[..8].copy_from_slice(&seed.to_le_bytes());
	preimage[8..12].copy_from_slice(&step.to_le_bytes());
	preimage[12..].copy_from_slice(&token.to_le_bytes());
	let digest = hash(&preimage);
	let mut first = [0u8; 8];
	first.copy_from_slice(&digest[..8]);
	let m = u64::from_le_bytes(first) >> 11;
	let u = (m as f64 + 0.5) / 9_007_199_254_740_992.0;
	-libm::log(-libm::log(u))
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn noise_is_finite_varies_and_repeats() {
		let a = gumbel_noise(7, 0, 1);
		assert_eq!(a.to_bits(), gumbel_noise(7, 0, 1).to_bits());
		assert_ne!(a, gumbel_noise(7, 0, 2));
		assert_ne!(a, gumbel_noise(7, 1, 1));
		assert_ne!(a, gumbel_noise(8, 0, 1));
		// The mean of a standard Gumbel is the Euler–Mascheroni constant, its variance π²/6.
		let n = 20_000u32;
		let samples: Vec<f64> = (0..n).map(|t| gumbel_noise(1, 3, t)).collect();
		assert!(samples.iter().all(|g| g.is_finite() && g.abs() < 40.0));
		let mean = samples.iter().sum::<f64>() / n as f64;
		let var = samples.iter().map(|g| (g - mean) * (g - mean)).sum::<f64>() / n as f64;
		assert!((mean - 0.5772).abs() < 0.03, "mean {mean}");
		assert!((var - 1.6449).abs() < 0.1, "variance {var}");
	}
}
