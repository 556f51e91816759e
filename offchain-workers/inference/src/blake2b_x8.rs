//! BLAKE2b-256 of eight equal-length messages at once with AVX-512 (RFC 7693; one message per
//! 64-bit lane, so the rotations are single `vprorq` instructions). The trace tree hashes ~20k
//! rows per MiniLM sentence, and every row of one width has the same length, as has every inner
//! node: the case this covers. A message is a short prefix (a leaf's header, an inner node's
//! domain byte) and a body read where it lies (the row, the two child hashes). Without AVX-512,
//! `blake2b_simd` (AVX2, four at a time) hashes the tree; the tests compare with the reference
//! hash on every length up to a few blocks.

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

/// Whether this process runs the eight-way hash: its CPU path is AVX-512 ([`crate::cpu::path`]).
pub fn supported() -> bool {
	crate::cpu::path() == crate::cpu::CpuPath::Avx512
}

/// BLAKE2b-256 (no key) of the eight messages `buf[i·stride .. i·stride + len]`, `i` in 0..8.
/// `None` if the CPU lacks AVX-512F or `buf` is too short.
pub fn hash8(buf: &[u8], stride: usize, len: usize) -> Option<[Hash; 8]> {
	if stride < len || buf.len() < 7 * stride + len {
		return None;
	}
	let body = |i: usize| buf.get(i * stride..i * stride + len).unwrap_or_default();
	hash8_prefixed(
		&[&[]; 8],
		&[body(0), body(1), body(2), body(3), body(4), body(5), body(6), body(7)],
	)
}

/// Longest prefix [`hash8_prefixed`] takes: it must fit the first block.
pub const MAX_PREFIX: usize = BLOCK - 1;

/// BLAKE2b-256 (no key) of the eight messages `prefixes[i] ‖ bodies[i]`, read where they lie
/// (a tree leaf is a short header before a row of a node output: the row is not copied behind
/// its header first). All prefixes must have one length (at most [`MAX_PREFIX`]) and all bodies
/// one length. `None` if the CPU lacks AVX-512F or the lengths differ.
pub fn hash8_prefixed(prefixes: &[&[u8]; 8], bodies: &[&[u8]; 8]) -> Option<[Hash; 8]> {
	let (p, l) = (prefixes[0].len(), bodies[0].len());
	if !supported() ||
		p > MAX_PREFIX ||
		prefixes.iter().any(|x| x.len() != p) ||
		bodies.iter().any(|b| b.len() != l)
	{
		return None;
	}
	#[cfg(target_arch = "x86_64")]
	{
		// SAFETY: AVX-512F is present; every read stays inside the eight bodies (the first
		// block and the last are assembled in copies; the blocks between lie inside each body:
		// see `hash8_avx512`).
		Some(unsafe { hash8_avx512(prefixes, bodies) })
	}
	#[cfg(not(target_arch = "x86_64"))]
	None
}

/// Copies bytes `from..to` of the message `prefix ‖ body` to `dst`.
fn copy_message(prefix: &[u8], body: &[u8], from: usize, to: usize, dst: &mut [u8]) {
	let p = prefix.len();
	let head = prefix.get(from.min(p)..to.min(p)).unwrap_or_default();
	let tail = body.get(from.max(p) - p..to.max(p) - p).unwrap_or_default();
	let (dh, dt) = dst.split_at_mut(head.len());
	dh.copy_from_slice(head);
	if let Some(d) = dt.get_mut(..tail.len()) {
		d.copy_from_slice(tail);
	}
}

/// The eight hashes, one message per 64-bit lane.
///
/// # Safety
/// The CPU has AVX-512F; all prefixes have one length (at most [`MAX_PREFIX`]) and all bodies
/// one length (what [`hash8_prefixed`] checks).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn hash8_avx512(prefixes: &[&[u8]; 8], bodies: &[&[u8]; 8]) -> [Hash; 8] {
	let mut h = [_mm512_setzero_si512(); 8];
	for (i, hv) in h.iter_mut().enumerate() {
		let mut word = IV[i];
		if i == 0 {
			// Parameter block: digest length 32, no key, fanout 1, depth 1.
			word ^= 0x0101_0000 ^ 32;
		}
		*hv = _mm512_set1_epi64(word as i64);
	}
	let (p, l) = (prefixes[0].len(), bodies[0].len());
	let len = p + l;
	// Block b (b >= 1) of lane i is bytes `b·128 - p ..` of body i: gathered relative to body
	// 0, lane i at body i's distance from it.
	let base = bodies[0].as_ptr();
	let at = |i: usize| (bodies[i].as_ptr() as i64).wrapping_sub(base as i64);
	let lanes = _mm512_set_epi64(at(7), at(6), at(5), at(4), at(3), at(2), at(1), at(0));
	// Eight copied blocks, one 128-byte row per lane: the first (holding the prefix) and the
	// last (partial or empty, padded with zeros).
	let copied_lanes =
		_mm512_set_epi64(7 * 128, 6 * 128, 5 * 128, 4 * 128, 3 * 128, 2 * 128, 128, 0);
	let load_copied = |m: &mut [__m512i; 16], copy: &[u8; 8 * BLOCK]| {
		for (w, mv) in m.iter_mut().enumerate() {
			*mv = _mm512_i64gather_epi64::<1>(copied_lanes, copy.as_ptr().add(w * 8) as *const i64);
		}
	};
	// Every block but the last is read in place (but the first, when there is a prefix).
	let full_blocks = if len == 0 { 0 } else { (len - 1) / BLOCK };
	let mut m = [_mm512_setzero_si512(); 16];
	let mut copy = [0u8; 8 * BLOCK];
	for blk in 0..full_blocks {
		if blk == 0 && p > 0 {
			for lane in 0..8 {
				copy_message(
					prefixes[lane],
					bodies[lane],
					0,
					BLOCK,
					&mut copy[lane * BLOCK..(lane + 1) * BLOCK],
				);
			}
			load_copied(&mut m, &copy);
		} else {
			// blk·128 + 128 <= len - 1: the block lies inside each body.
			let start = base.add(blk * BLOCK - p);
			for (w, mv) in m.iter_mut().enumerate() {
				*mv = _mm512_i64gather_epi64::<1>(lanes, start.add(w * 8) as *const i64);
			}
		}
		compress(&mut h, &m, ((blk + 1) * BLOCK) as u64, false);
	}
	let tail_start = full_blocks * BLOCK;
	copy = [0u8; 8 * BLOCK];
	for lane in 0..8 {
		copy_message(
			prefixes[lane],
			bodies[lane],
			tail_start,
			len,
			&mut copy[lane * BLOCK..(lane + 1) * BLOCK],
		);
	}
	load_copied(&mut m, &copy);
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

/// BLAKE2b's mixing function G on every lane.
///
/// # Safety
/// The CPU has AVX-512F; `a`, `b`, `c`, `d` are below 16.
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
///
/// # Safety
/// The CPU has AVX-512F.
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
					assert_eq!(
						*hash,
						arbiter_primitives::encoding::hash(msg),
						"len {len} stride {stride} lane {lane}"
					);
				}
			}
		}
	}

	#[test]
	fn prefixed_messages_equal_blake2_256_of_prefix_then_body() {
		if !supported() {
			eprintln!("no AVX-512F: the eight-way hash is not used on this CPU");
			return;
		}
		for p in [0usize, 1, 10, 64, MAX_PREFIX] {
			for l in (0..=300).chain([1536, 6144]) {
				// Eight bodies in eight allocations, and prefixes that differ by lane.
				let prefixes: Vec<Vec<u8>> = (0..8)
					.map(|lane| (0..p).map(|i| (i * 7 + lane * 31) as u8).collect())
					.collect();
				let bodies: Vec<Vec<u8>> = (0..8)
					.map(|lane| (0..l).map(|i| (i * 131 % 251 + lane) as u8).collect())
					.collect();
				let pre: [&[u8]; 8] = core::array::from_fn(|i| prefixes[i].as_slice());
				let body: [&[u8]; 8] = core::array::from_fn(|i| bodies[i].as_slice());
				let got = hash8_prefixed(&pre, &body).expect("supported, equal lengths");
				for lane in 0..8 {
					let msg = [prefixes[lane].as_slice(), bodies[lane].as_slice()].concat();
					assert_eq!(
						got[lane],
						arbiter_primitives::encoding::hash(&msg),
						"prefix {p} body {l} lane {lane}"
					);
				}
			}
		}
	}

	#[test]
	fn prefixed_refuses_unequal_lengths() {
		let short = [0u8; 3];
		let long = [0u8; 4];
		let mut bodies: [&[u8]; 8] = [&long; 8];
		assert!(hash8_prefixed(&[&[]; 8], &bodies).is_some() || !supported());
		bodies[5] = &short;
		assert!(hash8_prefixed(&[&[]; 8], &bodies).is_none(), "bodies of two lengths");
		let mut prefixes: [&[u8]; 8] = [&short; 8];
		prefixes[2] = &long;
		assert!(hash8_prefixed(&prefixes, &[&long; 8]).is_none(), "prefixes of two lengths");
		assert!(
			hash8_prefixed(&[&[0u8; MAX_PREFIX + 1]; 8], &[&long; 8]).is_none(),
			"prefix longer than a block"
		);
	}

	#[test]
	fn refuses_short_buffers() {
		assert!(hash8(&[0u8; 10], 2, 2).is_none());
		assert!(hash8(&[0u8; 100], 2, 3).is_none(), "stride below the length");
	}
}
