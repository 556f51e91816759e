//! `y = x·Wᵀ + b` on CPUs with AVX-512 or AVX2+FMA, against weights packed once when the model
//! loads.
//!
//! Why not candle's matmul: its GEMM packs the weight matrix again on every call, which costs as
//! much as the product itself when a batch holds one short sentence (20 rows against a 384×1536
//! weight), and it adds the bias in a second pass over the output. Here each group of 32 output
//! columns is stored as one contiguous panel (for every k, the 32 weights side by side), so the
//! microkernel streams it straight from memory; it starts its accumulators at the bias.
//!
//! Every output element is one f32 dot product accumulated in k order with fused multiply-adds,
//! starting from the bias: inside the `γ(k + 1)·Σ|xᵢwᵢ|` bound the runtime allows any order, and
//! the same bits on both vector paths (an element's chain does not depend on the vector width).

#[cfg(target_arch = "x86_64")]
use core::arch::x86_64::*;

use rayon::prelude::*;

use super::CpuPath;

/// Output columns per packed panel (two AVX-512 vectors).
pub(crate) const NR: usize = 32;
/// Rows per microkernel call: 8 rows × 2 vectors = 16 accumulators, leaving registers for the
/// two weight vectors and the broadcast input.
pub(crate) const MR: usize = 8;
/// Rows per parallel task. Up to this many rows the threads split the output by columns, so each
/// core streams only its share of the weights from L3 (a 384×1536 matrix is more than an L2),
/// once per call; its rows' KC slice of x (up to 512 KiB) stays in L2. 128 was 20 % slower on
/// 300 rows (`bench_linear`).
const ROW_BLOCK: usize = 512;
/// Depth of one pass over a panel: a KC × NR slice of a panel is 32 KiB, inside L1.
const KC: usize = 256;

/// A weight matrix `W` (`n × k`, row-major) stored as panels of [`NR`] columns of `Wᵀ`: panel
/// `p` holds, for `kk` in `0..k`, the weights `W[p·NR + j][kk]` for `j` in `0..NR` (zero past `n`).
pub struct PackedWeight {
	n: usize,
	k: usize,
	panels: Vec<f32>,
}

impl PackedWeight {
	/// Whether this process runs the packed kernel ([`super::path`] is AVX-512 or AVX2+FMA);
	/// otherwise callers use candle's matmul.
	pub fn supported() -> bool {
		super::path().packed_kernels()
	}

	/// Packs `w` (`n × k`, row-major). `None` if the sizes do not match.
	pub fn pack(w: &[f32], n: usize, k: usize) -> Option<Self> {
		if n == 0 || k == 0 || w.len() != n.checked_mul(k)? {
			return None;
		}
		let panels_count = n.div_ceil(NR);
		let mut panels = vec![0f32; panels_count * NR * k];
		for (p, panel) in panels.chunks_exact_mut(NR * k).enumerate() {
			for (j, row) in w.chunks_exact(k).skip(p * NR).take(NR).enumerate() {
				for (kk, v) in row.iter().enumerate() {
					panel[kk * NR + j] = *v;
				}
			}
		}
		Some(Self { n, k, panels })
	}

	/// Output width.
	pub fn n(&self) -> usize {
		self.n
	}

	/// Input width.
	pub fn k(&self) -> usize {
		self.k
	}

	/// `out = x·Wᵀ + bias` for the `m = x.len() / k` rows of `x`, into a new `m × n` buffer.
	/// `None` if the sizes do not match or the process runs the portable path.
	pub fn apply(&self, x: &[f32], bias: Option<&[f32]>) -> Option<Vec<f32>> {
		self.apply_on(super::path(), x, bias)
	}

	/// [`Self::apply`] on a given path (`None` on the portable path or one this CPU lacks).
	pub fn apply_on(&self, path: CpuPath, x: &[f32], bias: Option<&[f32]>) -> Option<Vec<f32>> {
		self.apply_into(path, x, bias, false).map(|(out, _)| out)
	}

	/// [`Self::apply`] and GELU of its result ([`super::gelu`], the same numbers), the GELU
	/// taken block by block while the products are still in L1: a separate pass would read the
	/// output back from memory (MiniLM's feed-forward: 9 % of a batch of 32 as its own op).
	pub fn apply_gelu(&self, x: &[f32], bias: Option<&[f32]>) -> Option<(Vec<f32>, Vec<f32>)> {
		self.apply_gelu_on(super::path(), x, bias)
	}

	/// [`Self::apply_gelu`] on a given path.
	pub fn apply_gelu_on(
		&self,
		path: CpuPath,
		x: &[f32],
		bias: Option<&[f32]>,
	) -> Option<(Vec<f32>, Vec<f32>)> {
		self.apply_into(path, x, bias, true)
			.map(|(out, act)| (out, act.unwrap_or_default()))
	}

	fn apply_into(
		&self,
		path: CpuPath,
		x: &[f32],
		bias: Option<&[f32]>,
		gelu: bool,
	) -> Option<(Vec<f32>, Option<Vec<f32>>)> {
		if !path.packed_kernels() ||
			path > CpuPath::detect() ||
			!x.len().is_multiple_of(self.k) ||
			bias.is_some_and(|b| b.len() != self.n)
		{
			return None;
		}
		let m = x.len() / self.k;
		let len = m.checked_mul(self.n)?;
		// Not zeroed: the first pass over k stores every element (from the bias), see below, and
		// the last pass every GELU value.
		let mut out: Vec<f32> = Vec::with_capacity(len);
		let mut act: Option<Vec<f32>> = gelu.then(|| Vec::with_capacity(len));
		let mut bias_padded = vec![0f32; self.n.div_ceil(NR) * NR];
		if let Some(b) = bias {
			bias_padded[..self.n].copy_from_slice(b);
		}
		let tasks = self.tasks(m);
		let out_ptr = OutPtr(out.as_mut_ptr());
		let act_ptr = act.as_mut().map(|a| OutPtr(a.as_mut_ptr()));
		tasks.par_iter().for_each(|task| {
			// SAFETY: the CPU runs `path` (checked above against the detected path); every task
			// writes its own rows × columns rectangle of `out` and `act` (tasks never overlap, all
			// inside their m × n capacity) and reads rows of `x` below m, the panels and
			// `bias_padded`, whose sizes were checked against m, n and k.
			#[cfg(target_arch = "x86_64")]
			unsafe {
				self.run_task(path, x, &bias_padded, out_ptr, act_ptr, task)
			}
		});
		// SAFETY: the tasks cover all m rows × n columns, and a task's first pass over k writes
		// every element of its rectangle before any is read back; its last pass writes every
		// element of its rectangle of `act`.
		unsafe {
			out.set_len(len);
			if let Some(a) = act.as_mut() {
				a.set_len(len);
			}
		}
		Some((out, act))
	}

	/// Splits the `m × n` output into disjoint rectangles, enough of them to keep every thread
	/// busy: row blocks when there are many rows, groups of panels when there are few.
	fn tasks(&self, m: usize) -> Vec<Task> {
		let panels = self.n.div_ceil(NR);
		let row_blocks = m.div_ceil(ROW_BLOCK).max(1);
		let wanted = 2 * rayon::current_num_threads().max(1);
		let groups = wanted.div_ceil(row_blocks).clamp(1, panels);
		let per_group = panels.div_ceil(groups);
		let mut tasks = Vec::with_capacity(row_blocks * groups);
		for rb in 0..row_blocks {
			let rows = rb * ROW_BLOCK..((rb + 1) * ROW_BLOCK).min(m);
			let mut p = 0;
			while p < panels {
				tasks.push(Task { rows: rows.clone(), panels: p..(p + per_group).min(panels) });
				p += per_group;
			}
		}
		tasks
	}

	/// One task's rectangle of the output.
	///
	/// # Safety
	/// The CPU runs `path` (a vector path); `x` holds at least `task.rows.end` rows of k values,
	/// `bias` `n` rounded up to [`NR`] values; `out` (and `act`) point to m × n values of which
	/// this call alone writes the task's rectangle.
	#[cfg(target_arch = "x86_64")]
	unsafe fn run_task(
		&self,
		path: CpuPath,
		x: &[f32],
		bias: &[f32],
		out: OutPtr,
		act: Option<OutPtr>,
		task: &Task,
	) {
		let k = self.k;
		let groups = task.rows.len().div_ceil(MR);
		// Blocked over k (Goto's GEMM loop order): one KC slice of a panel (32 KiB) stays in L1
		// while every row group of the task passes, and the task's KC slice of x in L2 while
		// every panel passes. Each element still sums in k order: chunks after the first resume
		// from the partial sums stored in `out`.
		let mut k0 = 0;
		while k0 < k {
			let kc = (k - k0).min(KC);
			let first = k0 == 0;
			for p in task.panels.clone() {
				let panel = self.panels.as_ptr().add(p * NR * k + k0 * NR);
				let cols = (self.n - p * NR).min(NR);
				let b = bias.as_ptr().add(p * NR);
				for g in 0..groups {
					let r = task.rows.start + g * MR;
					let rows = (task.rows.end - r).min(MR);
					let xr = x.as_ptr().add(r * k + k0);
					let o = out.0.add(r * self.n + p * NR);
					let block = Block {
						x: xr,
						ldx: k,
						panel,
						ldp: NR,
						kc,
						bias: b,
						first,
						out: o,
						ldo: self.n,
						cols,
					};
					kernel_rows(path, rows, &block);
					if let (Some(a), true) = (act, k0 + kc == k) {
						for i in 0..rows {
							let at = (r + i) * self.n + p * NR;
							let done = core::slice::from_raw_parts(out.0.add(at), cols);
							super::gelu::gelu_on(
								path,
								done,
								core::slice::from_raw_parts_mut(a.0.add(at), cols),
							);
						}
					}
				}
			}
			k0 += kc;
		}
	}
}

/// A rectangle of the output: rows × panels.
struct Task {
	rows: core::ops::Range<usize>,
	panels: core::ops::Range<usize>,
}

/// The output buffer, shared by tasks that write disjoint parts of it.
#[derive(Clone, Copy)]
struct OutPtr(*mut f32);
// SAFETY: tasks write disjoint rectangles (see `PackedWeight::tasks`).
unsafe impl Send for OutPtr {}
unsafe impl Sync for OutPtr {}

/// One microkernel call: `R` rows of `x` (stride `ldx`) times `kc` rows of a panel (row `kk`
/// is [`NR`] values at `panel + kk·ldp`), into `cols ≤ NR` columns of `out` (stride `ldo`),
/// starting from the bias (`first`) or from the partial sums already in `out`.
#[derive(Clone, Copy)]
pub(crate) struct Block {
	pub x: *const f32,
	pub ldx: usize,
	pub panel: *const f32,
	pub ldp: usize,
	pub kc: usize,
	pub bias: *const f32,
	pub first: bool,
	pub out: *mut f32,
	pub ldo: usize,
	pub cols: usize,
}

/// The microkernel of `path` for `rows` (1 to [`MR`]) rows of a block.
///
/// # Safety
/// The CPU runs `path`, a vector path. `block.x` points to `rows` rows of `kc` values (stride
/// `ldx`); `block.panel` to `kc` rows of [`NR`] values (stride `ldp`); `block.bias` to [`NR`]
/// values; `block.out` to `rows` rows of `cols ≤ NR` values (stride `ldo`), which the call
/// reads (unless `first`) and writes, and nothing else does meanwhile.
#[cfg(target_arch = "x86_64")]
pub(crate) unsafe fn kernel_rows(path: CpuPath, rows: usize, block: &Block) {
	match path {
		CpuPath::Avx512 => kernel_rows_avx512(rows, block),
		CpuPath::Avx2Fma => kernel_rows_avx2(rows, block),
		// Callers never pass it (`apply_into` and `batched_matmul::supported` refuse it).
		CpuPath::Portable => {},
	}
}

/// # Safety
/// As [`kernel_rows`], on a CPU with AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn kernel_rows_avx512(rows: usize, block: &Block) {
	match rows {
		8 => kernel::<8>(block),
		7 => kernel::<7>(block),
		6 => kernel::<6>(block),
		5 => kernel::<5>(block),
		4 => kernel::<4>(block),
		3 => kernel::<3>(block),
		2 => kernel::<2>(block),
		_ => kernel::<1>(block),
	}
}

/// # Safety
/// As [`kernel_rows`] for `R` rows, on a CPU with AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn kernel<const R: usize>(b: &Block) {
	let m0: __mmask16 = if b.cols >= 16 { 0xffff } else { ((1u32 << b.cols) - 1) as __mmask16 };
	let m1: __mmask16 = if b.cols <= 16 { 0 } else { ((1u32 << (b.cols - 16)) - 1) as __mmask16 };
	let mut acc0 = [_mm512_setzero_ps(); R];
	let mut acc1 = [_mm512_setzero_ps(); R];
	if b.first {
		let b0 = _mm512_loadu_ps(b.bias);
		let b1 = _mm512_loadu_ps(b.bias.add(16));
		acc0 = [b0; R];
		acc1 = [b1; R];
	} else {
		for r in 0..R {
			acc0[r] = _mm512_maskz_loadu_ps(m0, b.out.add(r * b.ldo));
			acc1[r] = _mm512_maskz_loadu_ps(m1, b.out.add(r * b.ldo + 16));
		}
	}
	// Each row read in place: R streams of broadcasts, which the prefetchers follow; copying x
	// into an interleaved layout first cost 7 % of a MiniLM batch.
	let rows: [*const f32; R] = core::array::from_fn(|r| b.x.add(r * b.ldx));
	for kk in 0..b.kc {
		let w0 = _mm512_loadu_ps(b.panel.add(kk * b.ldp));
		let w1 = _mm512_loadu_ps(b.panel.add(kk * b.ldp + 16));
		for r in 0..R {
			let a = _mm512_set1_ps(*rows[r].add(kk));
			acc0[r] = _mm512_fmadd_ps(a, w0, acc0[r]);
			acc1[r] = _mm512_fmadd_ps(a, w1, acc1[r]);
		}
	}
	for r in 0..R {
		_mm512_mask_storeu_ps(b.out.add(r * b.ldo), m0, acc0[r]);
		_mm512_mask_storeu_ps(b.out.add(r * b.ldo + 16), m1, acc1[r]);
	}
}

/// Columns one AVX2 microkernel call covers: two 8-wide vectors.
#[cfg(target_arch = "x86_64")]
const NR_AVX2: usize = 16;
/// Rows one AVX2 microkernel call covers: 4 rows × 2 vectors = 8 accumulators, with the two
/// weight vectors and the broadcast inside AVX2's 16 registers (a 6-row kernel does the same
/// multiply-adds per load on the 8-row groups the callers hand out, split 6 + 2).
#[cfg(target_arch = "x86_64")]
const MR_AVX2: usize = 4;

/// The AVX2+FMA microkernel over a block: the panel's [`NR`] columns in halves of
/// [`NR_AVX2`], the rows in groups of [`MR_AVX2`]. Each element's chain of multiply-adds is the
/// AVX-512 kernel's, so the bits are the same.
///
/// # Safety
/// As [`kernel_rows`], on a CPU with AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn kernel_rows_avx2(rows: usize, block: &Block) {
	let mut half = 0;
	while half < block.cols {
		let mut r = 0;
		while r < rows {
			let take = (rows - r).min(MR_AVX2);
			let part = Block {
				x: block.x.add(r * block.ldx),
				panel: block.panel.add(half),
				bias: block.bias.add(half),
				out: block.out.add(r * block.ldo + half),
				cols: (block.cols - half).min(NR_AVX2),
				..*block
			};
			match take {
				4 => kernel_avx2::<4>(&part),
				3 => kernel_avx2::<3>(&part),
				2 => kernel_avx2::<2>(&part),
				_ => kernel_avx2::<1>(&part),
			}
			r += take;
		}
		half += NR_AVX2;
	}
}

/// `R` rows × up to [`NR_AVX2`] columns (`b.cols`); reads [`NR_AVX2`] panel and bias values.
///
/// # Safety
/// As [`kernel_rows`] for `R` rows and [`NR_AVX2`] columns, on a CPU with AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn kernel_avx2<const R: usize>(b: &Block) {
	// Lane i of m0 (m1) is on iff column i (8 + i) is one of the block's.
	let cols = _mm256_set1_epi32(b.cols as i32);
	let m0 = _mm256_cmpgt_epi32(cols, _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
	let m1 = _mm256_cmpgt_epi32(cols, _mm256_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15));
	let mut acc0 = [_mm256_setzero_ps(); R];
	let mut acc1 = [_mm256_setzero_ps(); R];
	if b.first {
		let b0 = _mm256_loadu_ps(b.bias);
		let b1 = _mm256_loadu_ps(b.bias.add(8));
		acc0 = [b0; R];
		acc1 = [b1; R];
	} else {
		for r in 0..R {
			acc0[r] = _mm256_maskload_ps(b.out.add(r * b.ldo), m0);
			acc1[r] = _mm256_maskload_ps(b.out.add(r * b.ldo + 8), m1);
		}
	}
	let rows: [*const f32; R] = core::array::from_fn(|r| b.x.add(r * b.ldx));
	for kk in 0..b.kc {
		let w0 = _mm256_loadu_ps(b.panel.add(kk * b.ldp));
		let w1 = _mm256_loadu_ps(b.panel.add(kk * b.ldp + 8));
		for r in 0..R {
			let a = _mm256_broadcast_ss(&*rows[r].add(kk));
			acc0[r] = _mm256_fmadd_ps(a, w0, acc0[r]);
			acc1[r] = _mm256_fmadd_ps(a, w1, acc1[r]);
		}
	}
	for r in 0..R {
		_mm256_maskstore_ps(b.out.add(r * b.ldo), m0, acc0[r]);
		_mm256_maskstore_ps(b.out.add(r * b.ldo + 8), m1, acc1[r]);
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	fn reference(x: &[f32], w: &[f32], b: Option<&[f32]>, n: usize, k: usize) -> Vec<f64> {
		let m = x.len() / k;
		let mut out = vec![0f64; m * n];
		for i in 0..m {
			for j in 0..n {
				let mut s = b.map(|b| b[j] as f64).unwrap_or(0.0);
				for kk in 0..k {
					s += x[i * k + kk] as f64 * w[j * k + kk] as f64;
				}
				out[i * n + j] = s;
			}
		}
		out
	}

	/// Deterministic values in [-1, 1).
	fn values(len: usize, seed: u64) -> Vec<f32> {
		let mut rng = crate::generated::Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
		(0..len).map(|_| rng.uniform()).collect()
	}

	/// The vector paths this CPU runs.
	fn vector_paths() -> Vec<CpuPath> {
		CpuPath::available().into_iter().filter(|p| p.packed_kernels()).collect()
	}

	#[test]
	fn matches_f64_reference_on_ragged_sizes_on_every_vector_path() {
		// Widths that leave partial panels (n % 32, n % 16) and partial row groups (m % 8, m % 4).
		for path in vector_paths() {
			for (m, n, k) in [
				(1, 1, 1),
				(3, 17, 5),
				(8, 32, 64),
				(21, 384, 384),
				(70, 45, 33),
				(130, 100, 7),
				(6, 20, 300),
			] {
				let x = values(m * k, 1 + m as u64);
				let w = values(n * k, 2 + n as u64);
				let b = values(n, 3);
				let packed = PackedWeight::pack(&w, n, k).expect("sizes match");
				for bias in [None, Some(b.as_slice())] {
					let got = packed.apply_on(path, &x, bias).expect("a vector path this CPU runs");
					let want = reference(&x, &w, bias, n, k);
					assert_eq!(got.len(), want.len());
					for (i, (g, r)) in got.iter().zip(&want).enumerate() {
						let row = i / n;
						let col = i % n;
						let mag: f64 =
							(0..k)
								.map(|kk| (x[row * k + kk] as f64 * w[col * k + kk] as f64).abs())
								.sum::<f64>() + bias.map(|b| b[col].abs() as f64).unwrap_or(0.0);
						let bound = (k as f64 + 1.0) * f64::from(f32::EPSILON) * mag + 1e-30;
						assert!(
							(*g as f64 - r).abs() <= bound,
							"{path} ({m},{n},{k}) element {i}: {g} vs {r}"
						);
					}
				}
			}
		}
	}

	#[test]
	fn the_vector_paths_give_the_same_bits() {
		let paths = vector_paths();
		for (m, n, k) in [(1, 1, 1), (9, 45, 300), (21, 1536, 384), (70, 100, 600), (5, 33, 257)] {
			let x = values(m * k, 11 + m as u64);
			let w = values(n * k, 12 + n as u64);
			let b = values(n, 13);
			let packed = PackedWeight::pack(&w, n, k).expect("sizes match");
			let outs: Vec<_> = paths
				.iter()
				.map(|p| packed.apply_gelu_on(*p, &x, Some(&b)).expect("runs"))
				.collect();
			for (p, o) in paths.iter().zip(&outs).skip(1) {
				assert!(o == &outs[0], "({m},{n},{k}): {p} differs from {}", paths[0]);
			}
		}
	}

	#[test]
	fn fused_gelu_equals_the_separate_op_bit_for_bit() {
		for path in vector_paths() {
			for (m, n, k) in [(1, 1, 1), (9, 45, 300), (21, 1536, 384), (70, 100, 600)] {
				let x = values(m * k, 5 + m as u64);
				let w = values(n * k, 6 + n as u64);
				let b = values(n, 7);
				let packed = PackedWeight::pack(&w, n, k).expect("sizes match");
				let (y, g) = packed.apply_gelu_on(path, &x, Some(&b)).expect("runs");
				assert_eq!(
					Some(y.clone()),
					packed.apply_on(path, &x, Some(&b)),
					"{path} ({m},{n},{k}) products"
				);
				let mut separate = vec![0f32; y.len()];
				crate::cpu::gelu::gelu_on(path, &y, &mut separate);
				assert_eq!(g, separate, "{path} ({m},{n},{k}) GELU");
			}
		}
	}

	#[test]
	fn refuses_mismatched_sizes_and_the_portable_path() {
		assert!(PackedWeight::pack(&[1.0; 6], 4, 2).is_none());
		assert!(PackedWeight::pack(&[], 0, 2).is_none());
		let packed = PackedWeight::pack(&[1.0; 6], 3, 2).expect("sizes match");
		assert!(
			packed.apply_on(CpuPath::Portable, &[1.0, 2.0], None).is_none(),
			"the portable path has no packed kernel"
		);
		for path in vector_paths() {
			assert!(packed.apply_on(path, &[1.0; 3], None).is_none(), "3 values are not rows of 2");
			assert!(
				packed.apply_on(path, &[1.0; 4], Some(&[0.0; 2])).is_none(),
				"bias of 2 for 3 outputs"
			);
			assert_eq!(
				packed.apply_on(path, &[1.0, 2.0], Some(&[0.5, 0.0, -3.0])),
				Some(vec![3.5, 3.0, 0.0])
			);
		}
	}
}
