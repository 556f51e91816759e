//! BLAKE2b-256 of eight equal-length messages at once with AVX-512 (RFC 7693; one message per
//! 64-bit lane, so the rotations are single `vprorq` instructions). The trace tree hashes ~20k
//! rows per MiniLM sentence, and every row of one node has the same length, as has every inner
//! node: the case this covers. `blake2b_simd` (AVX2, four at a time) does the rest; the tests
//! compare the two on every length up to a few blocks.

#[cfg(target_arch = "x86_64")]
use core::arch::x86_64::*;

use arbiter_primitives::Hash;

const BLOCK: usize = 128;
const IV: [u64; 8] = [
	0x6a09_e667_f3bc_c908,
	0xbb67_ae85_84ca_a73b,
	0x3c6e_f372_fe94_f82b,
	0xa54f_f53a_5f1d_36f1,
	0x510e_527f_ade6_82d1,
	0x9b05_688c_2b3e_6c1f,
	0x1f83_d9ab_fb41_bd6b,
	0x5be0_cd19_137e_2179,
];
const SIGMA: [[usize; 16]; 12] = [
	[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
	[14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
	[11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
	[7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
	[9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
	[2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
	[12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
	[13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
	[6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
	[10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
	[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
	[14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
];

/// Whether this CPU runs the eight-way hash (AVX-512F).
pub fn supported() -> bool {
	#[cfg(target_arch = "x86_64")]
	{
		std::arch::is_x86_feature_detected!("avx512f")
	}
	#[cfg(not(target_arch = "x86_64"))]
	{
		false
	}
}

/// BLAKE2b-256 (no key) of the eight messages `buf[i·stride .. i·stride + len]`, `i` in 0..8.
/// `None` if the CPU lacks AVX-512F or `buf` is too short.
pub fn hash8(buf: &[u8], stride: usize, len: usize) -> Option<[Hash; 8]> {
	if !supported() || stride < len || buf.len() < 7 * stride + len {
		return None;
	}
	#[cfg(target_arch = "x86_64")]
	{
		// SAFETY: AVX-512F is present and every read stays inside `buf` (checked above: full
		// blocks are read only below `len` of each message, the tail through a copy).
		Some(unsafe { hash8_avx512(buf, stride, len) })
	}
	#[cfg(not(target_arch = "x86_64"))]
	None
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn hash8_avx512(buf: &[u8], stride: usize, len: usize) -> [Hash; 8] {
	let mut h = [_mm512_setzero_si512(); 8];
	for (i, hv) in h.iter_mut().enumerate() {
		let mut word = IV[i];
		if i == 0 {
			// Parameter block: digest length 32, no key, fanout 1, depth 1.
			word ^= 0x0101_0000 ^ 32;
		}
		*hv = _mm512_set1_epi64(word as i64);
	}
	// Lane i's message starts at i·stride: gather word w of a block from the eight messages.
	let lanes = _mm512_set_epi64(7 * stride as i64, 6 * stride as i64, 5 * stride as i64, 4 * stride as i64, 3 * stride as i64, 2 * stride as i64, stride as i64, 0);
	// Every block but the last is read in place; the last (partial or empty) is padded with
	// zeros in a copy, one 128-byte row per lane.
	let full_blocks = if len == 0 { 0 } else { (len - 1) / BLOCK };
	let mut m = [_mm512_setzero_si512(); 16];
	for blk in 0..full_blocks {
		let base = buf.as_ptr().add(blk * BLOCK);
		for (w, mv) in m.iter_mut().enumerate() {
			*mv = _mm512_i64gather_epi64::<1>(lanes, base.add(w * 8) as *const i64);
		}
		compress(&mut h, &m, ((blk + 1) * BLOCK) as u64, false);
	}
	let tail_start = full_blocks * BLOCK;
	let tail_len = len - tail_start;
	let mut tail = [0u8; 8 * BLOCK];
	for lane in 0..8 {
		let src = &buf[lane * stride + tail_start..lane * stride + len];
		tail[lane * BLOCK..lane * BLOCK + tail_len].copy_from_slice(src);
	}
	let tail_lanes = _mm512_set_epi64(7 * 128, 6 * 128, 5 * 128, 4 * 128, 3 * 128, 2 * 128, 128, 0);
	for (w, mv) in m.iter_mut().enumerate() {
		*mv = _mm512_i64gather_epi64::<1>(tail_lanes, tail.as_ptr().add(w * 8) as *const i64);
	}
	compress(&mut h, &m, len as u64, true);
	// The first four words of each lane, little-endian.
	let mut words = [[0u64; 8]; 4];
	for (i, row) in words.iter_mut().enumerate() {
		_mm512_storeu_si512(row.as_mut_ptr() as *mut __m512i, h[i]);
	}
	let mut out = [[0u8; 32]; 8];
	for (lane, hash) in out.iter_mut().enumerate() {
		for (i, row) in words.iter().enumerate() {
			hash[i * 8..i * 8 + 8].copy_from_slice(&row[lane].to_le_bytes());
		}
	}
	out
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn g(v: &mut [__m512i; 16], a: usize, b: usize, c: usize, d: usize, x: __m512i, y: __m512i) {
	v[a] = _mm512_add_epi64(_mm512_add_epi64(v[a], v[b]), x);
	v[d] = _mm512_ror_epi64::<32>(_mm512_xor_si512(v[d], v[a]));
	v[c] = _mm512_add_epi64(v[c], v[d]);
	v[b] = _mm512_ror_epi64::<24>(_mm512_xor_si512(v[b], v[c]));
	v[a] = _mm512_add_epi64(_mm512_add_epi64(v[a], v[b]), y);
	v[d] = _mm512_ror_epi64::<16>(_mm512_xor_si512(v[d], v[a]));
	v[c] = _mm512_add_epi64(v[c], v[d]);
	v[b] = _mm512_ror_epi64::<63>(_mm512_xor_si512(v[b], v[c]));
}

/// One compression of every lane; `count` is the bytes hashed so far including this block
/// (the same in every lane), `last` marks the final block.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn compress(h: &mut [__m512i; 8], m: &[__m512i; 16], count: u64, last: bool) {
	let mut v = [_mm512_setzero_si512(); 16];
	v[..8].copy_from_slice(h);
	for i in 0..8 {
		v[8 + i] = _mm512_set1_epi64(IV[i] as i64);
	}
	// Counts stay below 2^64 bytes: the high counter word is always 0.
	v[12] = _mm512_xor_si512(v[12], _mm512_set1_epi64(count as i64));
	if last {
		v[14] = _mm512_xor_si512(v[14], _mm512_set1_epi64(-1));
	}
	for s in &SIGMA {
		g(&mut v, 0, 4, 8, 12, m[s[0]], m[s[1]]);
		g(&mut v, 1, 5, 9, 13, m[s[2]], m[s[3]]);
		g(&mut v, 2, 6, 10, 14, m[s[4]], m[s[5]]);
		g(&mut v, 3, 7, 11, 15, m[s[6]], m[s[7]]);
		g(&mut v, 0, 5, 10, 15, m[s[8]], m[s[9]]);
		g(&mut v, 1, 6, 11, 12, m[s[10]], m[s[11]]);
		g(&mut v, 2, 7, 8, 13, m[s[12]], m[s[13]]);
		g(&mut v, 3, 4, 9, 14, m[s[14]], m[s[15]]);
	}
	for i in 0..8 {
		h[i] = _mm512_xor_si512(h[i], _mm512_xor_si512(v[i], v[i + 8]));
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn equals_blake2_256_on_every_length_and_stride() {
		if !supported() {
			eprintln!("no AVX-512F: the eight-way hash is not used on this CPU");
			return;
		}
		let data: Vec<u8> = (0..8 * 700).map(|i| (i * 131 % 251) as u8).collect();
		for len in (0..=520).chain([1540, 6154]) {
			for stride in [len, len + 3] {
				let need = 7 * stride + len;
				let buf: Vec<u8> = data.iter().cycle().take(need).copied().collect();
				let got = hash8(&buf, stride, len).expect("supported and long enough");
				for (lane, hash) in got.iter().enumerate() {
					let msg = &buf[lane * stride..lane * stride + len];
					assert_eq!(*hash, arbiter_primitives::encoding::hash(msg), "len {len} stride {stride} lane {lane}");
				}
			}
		}
	}

	#[test]
	fn refuses_short_buffers() {
		assert!(hash8(&[0u8; 10], 2, 2).is_none());
		assert!(hash8(&[0u8; 100], 2, 3).is_none(), "stride below the length");
	}
}
