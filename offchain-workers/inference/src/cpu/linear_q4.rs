//! `y = x·Wᵀ + bias` with `W` kept as GGUF's 4-bit Q4_1 blocks and `x` in f32, on AVX-512 and
//! AVX2+FMA.
//!
//! Why: a decoding step reads every weight once, so its speed is the weights' bytes over the
//! memory bandwidth. SmolLM2's linear layers are 106 M weights: 424 MB a token as f32 against
//! 66 MB here (a nibble per weight and each block's two f16 scales). llama.cpp gets there by
//! quantizing the activations to 8 bits too, which the runtime's bound does not allow
//! (docs/inference.md); here only the weights are 4-bit, and each one is dequantized in a
//! register as `d·q + m` with one fused multiply-add — exact, because every Q4_1 value of the
//! file is representable in f32 (`gguf::dequantization_roundings`), so it is bit for bit the f32
//! weight the model root commits.
//!
//! Every output element is then the same chain as [`super::PackedWeight`]'s: starting from the
//! bias, one fused multiply-add per k in k order. So this kernel gives the f32 packed kernel's
//! bits exactly (`tests` below, on every vector path), a trace does not depend on which of the two
//! ran, and a provider on an AVX2 machine replays an AVX-512 provider's trace bit for bit.
//!
//! Layout: panels of [`NR`] output columns; per panel and per block of 32 k's, the 32 columns'
//! `d` and `m` (64 f16, converted exactly in the kernel), then for each of the 32 k's 16 bytes
//! holding column `i`'s 4-bit value in the low nibble of byte `i` and column `i + 16`'s in its high
//! nibble.

#[cfg(target_arch = "x86_64")]
use core::arch::x86_64::*;

use rayon::prelude::*;

use super::{linear::NR, CpuPath};

/// Values per Q4_1 block (along k).
pub const QK: usize = 32;
/// Bytes of one Q4_1 block in a GGUF file: `d` and `m` as f16, then 16 bytes of nibbles.
pub const BLOCK_BYTES: usize = 20;

/// A Q4_1 weight matrix (`n × k`) packed for [`PackedQ4::apply`].
pub struct PackedQ4 {
	n: usize,
	k: usize,
	/// Per panel and k-block: `d` for the 32 columns, then `m`, as f16 bits.
	scales: Vec<u16>,
	/// Per panel, k-block and k: 16 bytes of two nibbles.
	quants: Vec<u8>,
}

fn f16_to_f32(bits: u16) -> f32 {
	let sign = if bits & 0x8000 != 0 { -1.0f32 } else { 1.0 };
	let exponent = ((bits >> 10) & 0x1f) as i32;
	let mantissa = (bits & 0x3ff) as f32;
	sign * match exponent {
		0 => mantissa * (2f32).powi(-24),
		31 if mantissa == 0.0 => f32::INFINITY,
		31 => f32::NAN,
		e => (1024.0 + mantissa) * (2f32).powi(e - 25),
	}
}

impl PackedQ4 {
	/// Whether this process runs this kernel: the AVX-512 path, or the AVX2+FMA path on a CPU
	/// with F16C (every AVX2 CPU made has it; the scales are f16).
	pub fn supported() -> bool {
		match super::path() {
			CpuPath::Avx512 => true,
			#[cfg(target_arch = "x86_64")]
			CpuPath::Avx2Fma => std::arch::is_x86_feature_detected!("f16c"),
			_ => false,
		}
	}

	/// Packs `n` rows of `k / 32` Q4_1 blocks (a GGUF tensor's raw data). `None` if the sizes
	/// do not match or a scale is not finite.
	pub fn from_q4_1(raw: &[u8], n: usize, k: usize) -> Option<Self> {
		if n == 0 || k == 0 || !k.is_multiple_of(QK) {
			return None;
		}
		let blocks = k / QK;
		if raw.len() != n.checked_mul(blocks)?.checked_mul(BLOCK_BYTES)? {
			return None;
		}
		let panels = n.div_ceil(NR);
		let mut scales = vec![0u16; panels * blocks * 2 * NR];
		let mut quants = vec![0u8; panels * blocks * QK * 16];
		for (row, row_blocks) in raw.chunks_exact(blocks * BLOCK_BYTES).enumerate() {
			let (p, col) = (row / NR, row % NR);
			for (b, block) in row_blocks.chunks_exact(BLOCK_BYTES).enumerate() {
				let d = u16::from_le_bytes([block[0], block[1]]);
				let m = u16::from_le_bytes([block[2], block[3]]);
				if !f16_to_f32(d).is_finite() || !f16_to_f32(m).is_finite() {
					return None;
				}
				let s = (p * blocks + b) * 2 * NR;
				scales[s + col] = d;
				scales[s + NR + col] = m;
				for j in 0..QK {
					let byte = block[4 + j % 16];
					let q = if j < 16 { byte & 0x0f } else { byte >> 4 };
					let at = ((p * blocks + b) * QK + j) * 16 + col % 16;
					quants[at] |= if col < 16 { q } else { q << 4 };
				}
			}
		}
		Some(Self { n, k, scales, quants })
	}

	/// Output width.
	pub fn n(&self) -> usize {
		self.n
	}

	/// Input width.
	pub fn k(&self) -> usize {
		self.k
	}

	/// Row `row` dequantized (`k` values: what the model commits); `None` past the last row.
	pub fn dequantized_row(&self, row: usize) -> Option<Vec<f32>> {
		if row >= self.n {
			return None;
		}
		let blocks = self.k / QK;
		let (p, col) = (row / NR, row % NR);
		let mut w = Vec::with_capacity(self.k);
		for b in 0..blocks {
			let s = (p * blocks + b) * 2 * NR;
			let (d, m) = (f16_to_f32(self.scales[s + col]), f16_to_f32(self.scales[s + NR + col]));
			for j in 0..QK {
				let byte = self.quants[((p * blocks + b) * QK + j) * 16 + col % 16];
				let q = if col < 16 { byte & 0x0f } else { byte >> 4 };
				w.push((q as f32).mul_add(d, m));
			}
		}
		Some(w)
	}

	/// The dequantized weights, row-major `n × k` (what the model commits).
	pub fn dequantized(&self) -> Vec<f32> {
		(0..self.n)
			.flat_map(|row| self.dequantized_row(row).unwrap_or_default())
			.collect()
	}

	/// `out = x·Wᵀ + bias` for the `x.len() / k` rows of `x`. `None` if the sizes do not match
	/// or the process runs the portable path.
	pub fn apply(&self, x: &[f32], bias: Option<&[f32]>) -> Option<Vec<f32>> {
		if !Self::supported() ||
			!x.len().is_multiple_of(self.k) ||
			bias.is_some_and(|b| b.len() != self.n)
		{
			return None;
		}
		let m = x.len() / self.k;
		let mut bias_padded = vec![0f32; self.n.div_ceil(NR) * NR];
		if let Some(b) = bias {
			bias_padded[..self.n].copy_from_slice(b);
		}
		let mut out = vec![0f32; m * self.n];
		let panels = self.n.div_ceil(NR);
		// Units: a panel and a group of up to 8 rows, each its own rectangle of the output. A
		// task takes a run of units: about two tasks a thread, since a decoding step's products
		// are small (one row; 6 to 48 panels) and handing a thread one costs about what a panel
		// does (210 products a token).
		let groups = m.div_ceil(8);
		let units = panels * groups;
		let per_task = units.div_ceil(2 * rayon::current_num_threads().max(1)).max(1);
		let out_ptr = OutPtr(out.as_mut_ptr());
		(0..units.div_ceil(per_task)).into_par_iter().for_each(|task| {
			for unit in task * per_task..((task + 1) * per_task).min(units) {
				let (p, g) = (unit % panels, unit / panels);
				let rows = (m - g * 8).min(8);
				// SAFETY: the CPU runs AVX-512, or AVX2+FMA with F16C (`supported`, and the path is
				// never above the detected one); rows `g·8 .. g·8 + rows` of `x` hold k values each
				// (x.len() = m·k); panel `p`'s scales and quants are inside the packed buffers;
				// the unit writes only columns `p·NR .. p·NR + cols` of its rows of `out` (m × n),
				// which no other unit writes.
				#[cfg(target_arch = "x86_64")]
				unsafe {
					if super::path() == CpuPath::Avx512 {
						self.run(p, g * 8, rows, x, &bias_padded, out_ptr)
					} else {
						self.run_avx2(p, g * 8, rows, x, &bias_padded, out_ptr)
					}
				}
			}
		});
		Some(out)
	}

	/// # Safety
	/// The CPU runs AVX-512F; `x` holds at least `row + rows` rows of `k`; `out` points to an
	/// `m × n` buffer of which this call alone writes rows `row .. row + rows`, columns of panel
	/// `p`.
	#[cfg(target_arch = "x86_64")]
	#[target_feature(enable = "avx512f")]
	unsafe fn run(&self, p: usize, row: usize, rows: usize, x: &[f32], bias: &[f32], out: OutPtr) {
		let cols = (self.n - p * NR).min(NR);
		let blocks = self.k / QK;
		let call = Call {
			x: x.as_ptr().add(row * self.k),
			k: self.k,
			scales: self.scales.as_ptr().add(p * blocks * 2 * NR),
			quants: self.quants.as_ptr().add(p * blocks * QK * 16),
			bias: bias.as_ptr().add(p * NR),
			out: out.0.add(row * self.n + p * NR),
			ldo: self.n,
			cols,
		};
		match rows {
			8 => kernel::<8>(&call),
			7 => kernel::<7>(&call),
			6 => kernel::<6>(&call),
			5 => kernel::<5>(&call),
			4 => kernel::<4>(&call),
			3 => kernel::<3>(&call),
			2 => kernel::<2>(&call),
			_ => kernel::<1>(&call),
		}
	}
}

/// A Q8_0 matrix (GGUF: per 32 values an f16 scale `d`, then 32 signed bytes), row by row:
/// SmolLM2's token embedding, which is also its LM head. `d·q` is exact in f32 (an 11-bit
/// mantissa times an 8-bit integer), so a row's values are the committed f32 row's.
pub struct Q8Rows {
	rows: usize,
	width: usize,
	scales: Vec<f32>,
	quants: Vec<i8>,
}

/// Bytes of one Q8_0 block.
pub const Q8_BLOCK_BYTES: usize = 34;

impl Q8Rows {
	/// `rows` rows of `width / 32` Q8_0 blocks (a GGUF tensor's raw data). `None` if the sizes
	/// do not match or a scale is not finite.
	pub fn from_q8_0(raw: &[u8], rows: usize, width: usize) -> Option<Self> {
		if rows == 0 || width == 0 || !width.is_multiple_of(QK) {
			return None;
		}
		let blocks = rows.checked_mul(width / QK)?;
		if raw.len() != blocks.checked_mul(Q8_BLOCK_BYTES)? {
			return None;
		}
		let mut scales = Vec::with_capacity(blocks);
		let mut quants = Vec::with_capacity(rows * width);
		for block in raw.chunks_exact(Q8_BLOCK_BYTES) {
			let d = f16_to_f32(u16::from_le_bytes([block[0], block[1]]));
			if !d.is_finite() {
				return None;
			}
			scales.push(d);
			quants.extend(block[2..].iter().map(|b| *b as i8));
		}
		Some(Self { rows, width, scales, quants })
	}

	/// Rows.
	pub fn rows(&self) -> usize {
		self.rows
	}

	/// Values per row.
	pub fn width(&self) -> usize {
		self.width
	}

	/// Row `r`'s values, `d·q` each.
	pub fn dequantized_row(&self, r: usize) -> Vec<f32> {
		let blocks = self.width / QK;
		(0..self.width)
			.map(|c| self.scales[r * blocks + c / QK] * self.quants[r * self.width + c] as f32)
			.collect()
	}

	/// Row `r` times `x` (`width` values) in 16 interleaved partial sums, the order of
	/// `decode::dot_lanes` over the dequantized row: the same bits, reading a quarter of the
	/// bytes.
	pub fn dot_row(&self, r: usize, x: &[f32]) -> f32 {
		let blocks = self.width / QK;
		let q = &self.quants[r * self.width..(r + 1) * self.width];
		let scales = &self.scales[r * blocks..(r + 1) * blocks];
		#[cfg(target_arch = "x86_64")]
		if x.len() == self.width {
			// SAFETY: the CPU runs the path (never above the detected one); `q` and `x` hold
			// `width` values and `scales` one per block of 32 of them.
			match super::path() {
				CpuPath::Avx512 => return unsafe { dot_row_avx512(q, scales, x) },
				CpuPath::Avx2Fma => return unsafe { dot_row_avx2(q, scales, x) },
				CpuPath::Portable => {},
			}
		}
		let mut lanes = [0f32; 16];
		let mut w = [0f32; QK];
		for (b, (qb, xb)) in q.chunks_exact(QK).zip(x.chunks_exact(QK)).enumerate() {
			let d = scales[b];
			// Written as fixed-size loops so the compiler vectorizes them (the same operations,
			// the same order: `d·q` exact, then product and sum per lane).
			for (w, q) in w.iter_mut().zip(qb) {
				*w = d * *q as f32;
			}
			for half in 0..2 {
				let (w16, x16) = (&w[half * 16..half * 16 + 16], &xb[half * 16..half * 16 + 16]);
				for i in 0..16 {
					lanes[i] += x16[i] * w16[i];
				}
			}
		}
		lanes.iter().sum::<f32>()
	}
}

/// [`Q8Rows::dot_row`] on 16-wide vectors: lane `i` of the accumulator is the scalar code's
/// `lanes[i]`, each step the same multiply (no fused multiply-add) and add, the final sum in lane
/// order, so the bits are the same.
///
/// # Safety
/// The CPU runs AVX-512F; `q` and `x` hold `32·scales.len()` values.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn dot_row_avx512(q: &[i8], scales: &[f32], x: &[f32]) -> f32 {
	let mut lanes = _mm512_setzero_ps();
	for (b, d) in scales.iter().enumerate() {
		let d = _mm512_set1_ps(*d);
		for half in 0..2 {
			let at = b * QK + half * 16;
			let bytes = _mm_loadu_si128(q.as_ptr().add(at) as *const __m128i);
			let w = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(bytes)));
			lanes = _mm512_add_ps(lanes, _mm512_mul_ps(_mm512_loadu_ps(x.as_ptr().add(at)), w));
		}
	}
	let mut out = [0f32; 16];
	_mm512_storeu_ps(out.as_mut_ptr(), lanes);
	out.iter().sum::<f32>()
}

impl PackedQ4 {
	/// [`PackedQ4::run`] on AVX2+FMA: two rows at a time (the accumulators of 32 columns for two
	/// rows, the four weight vectors and the input fill AVX2's 16 registers), each element the
	/// same chain as on AVX-512.
	///
	/// # Safety
	/// As [`PackedQ4::run`], on a CPU with AVX2, FMA and F16C.
	#[cfg(target_arch = "x86_64")]
	#[target_feature(enable = "avx2,fma,f16c")]
	unsafe fn run_avx2(
		&self,
		p: usize,
		row: usize,
		rows: usize,
		x: &[f32],
		bias: &[f32],
		out: OutPtr,
	) {
		let cols = (self.n - p * NR).min(NR);
		let blocks = self.k / QK;
		let mut r = 0;
		while r < rows {
			let call = Call {
				x: x.as_ptr().add((row + r) * self.k),
				k: self.k,
				scales: self.scales.as_ptr().add(p * blocks * 2 * NR),
				quants: self.quants.as_ptr().add(p * blocks * QK * 16),
				bias: bias.as_ptr().add(p * NR),
				out: out.0.add((row + r) * self.n + p * NR),
				ldo: self.n,
				cols,
			};
			if rows - r >= 2 {
				kernel_avx2::<2>(&call);
				r += 2;
			} else {
				kernel_avx2::<1>(&call);
				r += 1;
			}
		}
	}
}

/// [`kernel`] on 8-wide vectors: columns `8v .. 8v + 8` in accumulator `v` of each row.
///
/// # Safety
/// As [`kernel`], on a CPU with AVX2, FMA and F16C.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
unsafe fn kernel_avx2<const R: usize>(c: &Call) {
	let mut acc = [[_mm256_setzero_ps(); 4]; R];
	for row in acc.iter_mut() {
		for (v, a) in row.iter_mut().enumerate() {
			*a = _mm256_loadu_ps(c.bias.add(8 * v));
		}
	}
	let low = _mm256_set1_epi32(0x0f);
	let rows: [*const f32; R] = core::array::from_fn(|r| c.x.add(r * c.k));
	let mut scales = [0f32; 2 * NR];
	for b in 0..c.k / QK {
		// The block's 64 scales in f32 (exact), read from L1 by the loop below.
		let s = c.scales.add(b * 2 * NR);
		for v in 0..2 * NR / 8 {
			let halfs = _mm_loadu_si128(s.add(8 * v) as *const __m128i);
			_mm256_storeu_ps(scales.as_mut_ptr().add(8 * v), _mm256_cvtph_ps(halfs));
		}
		let s = scales.as_ptr();
		for j in 0..QK {
			let q = c.quants.add((b * QK + j) * 16);
			// Bytes 0..8 hold columns 0..8 (low nibbles) and 16..24 (high), bytes 8..16 columns
			// 8..16 and 24..32.
			let v0 = _mm256_cvtepu8_epi32(_mm_loadl_epi64(q as *const __m128i));
			let v1 = _mm256_cvtepu8_epi32(_mm_loadl_epi64(q.add(8) as *const __m128i));
			let quads = [
				_mm256_and_si256(v0, low),
				_mm256_and_si256(v1, low),
				_mm256_srli_epi32::<4>(v0),
				_mm256_srli_epi32::<4>(v1),
			];
			let kk = b * QK + j;
			let mut w = [_mm256_setzero_ps(); 4];
			for v in 0..4 {
				let d = _mm256_loadu_ps(s.add(8 * v));
				let m = _mm256_loadu_ps(s.add(NR + 8 * v));
				w[v] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(quads[v]), d, m);
			}
			for r in 0..R {
				let a = _mm256_broadcast_ss(&*rows[r].add(kk));
				for v in 0..4 {
					acc[r][v] = _mm256_fmadd_ps(a, w[v], acc[r][v]);
				}
			}
		}
	}
	for (r, row) in acc.iter().enumerate() {
		let mut all = [0f32; NR];
		for (v, a) in row.iter().enumerate() {
			_mm256_storeu_ps(all.as_mut_ptr().add(8 * v), *a);
		}
		core::ptr::copy_nonoverlapping(all.as_ptr(), c.out.add(r * c.ldo), c.cols);
	}
}

/// [`Q8Rows::dot_row`] on 8-wide vectors: lanes 0..8 and 8..16 in two accumulators.
///
/// # Safety
/// The CPU runs AVX2; `q` and `x` hold `32·scales.len()` values.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn dot_row_avx2(q: &[i8], scales: &[f32], x: &[f32]) -> f32 {
	let mut lanes = [_mm256_setzero_ps(); 2];
	for (b, d) in scales.iter().enumerate() {
		let d = _mm256_set1_ps(*d);
		for half in 0..2 {
			for (l, lane) in lanes.iter_mut().enumerate() {
				let at = b * QK + half * 16 + l * 8;
				let bytes = _mm_loadl_epi64(q.as_ptr().add(at) as *const __m128i);
				let w = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(bytes)));
				*lane = _mm256_add_ps(*lane, _mm256_mul_ps(_mm256_loadu_ps(x.as_ptr().add(at)), w));
			}
		}
	}
	let mut out = [0f32; 16];
	_mm256_storeu_ps(out.as_mut_ptr(), lanes[0]);
	_mm256_storeu_ps(out.as_mut_ptr().add(8), lanes[1]);
	out.iter().sum::<f32>()
}

#[derive(Clone, Copy)]
struct OutPtr(*mut f32);
// SAFETY: tasks write disjoint rectangles of the output (see `PackedQ4::apply`).
unsafe impl Send for OutPtr {}
unsafe impl Sync for OutPtr {}

/// One kernel call: `R` rows of `x` (stride `k`) against one panel, into `cols` columns.
struct Call {
	x: *const f32,
	k: usize,
	scales: *const u16,
	quants: *const u8,
	bias: *const f32,
	out: *mut f32,
	ldo: usize,
	cols: usize,
}

/// # Safety
/// The CPU runs AVX-512F; the pointers of `c` cover `R` rows of `k` values of `x`, the panel's
/// `k / 32` blocks of scales (64 f16) and quants (512 bytes), [`NR`] bias values and `R` rows of
/// `cols` output values (stride `ldo`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn kernel<const R: usize>(c: &Call) {
	let m0: __mmask16 = if c.cols >= 16 { 0xffff } else { ((1u32 << c.cols) - 1) as __mmask16 };
	let m1: __mmask16 = if c.cols <= 16 { 0 } else { ((1u32 << (c.cols - 16)) - 1) as __mmask16 };
	let mut acc0 = [_mm512_loadu_ps(c.bias); R];
	let mut acc1 = [_mm512_loadu_ps(c.bias.add(16)); R];
	let low = _mm512_set1_epi32(0x0f);
	let rows: [*const f32; R] = core::array::from_fn(|r| c.x.add(r * c.k));
	for b in 0..c.k / QK {
		let s = c.scales.add(b * 2 * NR);
		let half = |at: usize| _mm512_cvtph_ps(_mm256_loadu_si256(s.add(at) as *const __m256i));
		let (d0, d1, mn0, mn1) = (half(0), half(16), half(NR), half(NR + 16));
		for j in 0..QK {
			let bytes = _mm_loadu_si128(c.quants.add((b * QK + j) * 16) as *const __m128i);
			let v = _mm512_cvtepu8_epi32(bytes);
			let q0 = _mm512_cvtepi32_ps(_mm512_and_si512(v, low));
			let q1 = _mm512_cvtepi32_ps(_mm512_srli_epi32::<4>(v));
			// d·q + m: exact (see the module note), the committed weight.
			let w0 = _mm512_fmadd_ps(q0, d0, mn0);
			let w1 = _mm512_fmadd_ps(q1, d1, mn1);
			let kk = b * QK + j;
			for r in 0..R {
				let a = _mm512_set1_ps(*rows[r].add(kk));
				acc0[r] = _mm512_fmadd_ps(a, w0, acc0[r]);
				acc1[r] = _mm512_fmadd_ps(a, w1, acc1[r]);
			}
		}
	}
	for r in 0..R {
		_mm512_mask_storeu_ps(c.out.add(r * c.ldo), m0, acc0[r]);
		_mm512_mask_storeu_ps(c.out.add(r * c.ldo + 16), m1, acc1[r]);
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::{cpu::PackedWeight, generated::Rng};

	/// Random Q4_1 blocks with f16 scales like a real file's (small positive `d`, negative `m`).
	fn random_q4_1(n: usize, k: usize, seed: u64) -> Vec<u8> {
		let mut rng = Rng(seed | 1);
		let mut raw = Vec::with_capacity(n * k / QK * BLOCK_BYTES);
		for _ in 0..n * k / QK {
			// f16 of 2^-7·(1 + f) and −2^-4·(1 + f): exponents 8 and 11, random mantissas.
			let d: u16 = (8 << 10) | (rng.next_u64() as u16 & 0x3ff);
			let m: u16 = 0x8000 | (11 << 10) | (rng.next_u64() as u16 & 0x3ff);
			raw.extend_from_slice(&d.to_le_bytes());
			raw.extend_from_slice(&m.to_le_bytes());
			for _ in 0..16 {
				raw.push(rng.next_u64() as u8);
			}
		}
		raw
	}

	#[test]
	fn gives_the_f32_packed_kernels_bits_for_any_row_count() {
		if !PackedQ4::supported() {
			eprintln!("skipped: the portable path has no 4-bit kernel");
			return;
		}
		for (n, k) in [(576usize, 576usize), (40, 64), (1536, 576), (33, 1536)] {
			let q = PackedQ4::from_q4_1(&random_q4_1(n, k, n as u64), n, k).unwrap();
			let w = q.dequantized();
			let f32_kernel = PackedWeight::pack(&w, n, k).unwrap();
			let mut rng = Rng(k as u64);
			for rows in [1usize, 3, 8, 9, 20] {
				let x: Vec<f32> = (0..rows * k).map(|_| rng.uniform()).collect();
				let bias: Vec<f32> = (0..n).map(|_| rng.uniform()).collect();
				for b in [None, Some(bias.as_slice())] {
					let got = q.apply(&x, b).unwrap();
					let want = f32_kernel.apply(&x, b).unwrap();
					assert!(
						got.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits()),
						"{n}×{k}, {rows} rows, bias {}",
						b.is_some()
					);
				}
			}
		}
	}

	#[test]
	fn q8_rows_give_the_f32_rows_dot_bits() {
		let (rows, width) = (7usize, 576usize);
		let mut rng = Rng(5);
		let mut raw = Vec::new();
		for _ in 0..rows * width / QK {
			let d: u16 = (9 << 10) | (rng.next_u64() as u16 & 0x3ff);
			raw.extend_from_slice(&d.to_le_bytes());
			raw.extend((0..QK).map(|_| rng.next_u64() as u8));
		}
		let q8 = Q8Rows::from_q8_0(&raw, rows, width).unwrap();
		let x: Vec<f32> = (0..width).map(|_| rng.uniform()).collect();
		for r in 0..rows {
			let row = q8.dequantized_row(r);
			let want = crate::decode::dot_lanes(&row, &x);
			assert_eq!(q8.dot_row(r, &x).to_bits(), want.to_bits(), "row {r}");
		}
		assert!(Q8Rows::from_q8_0(&raw, rows + 1, width).is_none());
		assert!(Q8Rows::from_q8_0(&raw, rows, width + 1).is_none());
	}

	#[test]
	fn refuses_sizes_that_do_not_match() {
		let raw = random_q4_1(4, 64, 1);
		assert!(PackedQ4::from_q4_1(&raw, 4, 64).is_some());
		assert!(PackedQ4::from_q4_1(&raw, 5, 64).is_none());
		assert!(PackedQ4::from_q4_1(&raw, 4, 48).is_none());
		assert!(PackedQ4::from_q4_1(&raw[..raw.len() - 1], 4, 64).is_none());
	}
}
