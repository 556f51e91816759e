//! `x · yᵀ` over the last two dimensions, for every index of the leading (batch) dimensions,
//! reading `x` and `y` through any strides: the attention products `Q·Kᵀ` and `P·V` straight
//! from the projections' outputs, so the transposes that split the heads need not be copied
//! (on MiniLM those copies and candle's small-matrix GEMM were 15 % of a batch of 32).
//!
//! Each output element is one dot product accumulated in k order, whatever the strides and
//! whatever the sizes: the same numbers from a strided view as from a contiguous copy of it, and
//! for an input alone as inside a padded batch (a replay runs a task alone: docs/protocol.md,
//! "Replay"). On AVX-512 or AVX2+FMA with fused multiply-adds (the packed linear kernel,
//! [`super::linear`]); on the portable path with a multiply and an add, vectorized across output
//! columns. (candle's small-matrix GEMM, which the portable path used before, changes its
//! summation with the matrix sizes: a padded batch gave other bits than the input alone.)

use candle_core::Layout;
use rayon::prelude::*;

use super::CpuPath;

#[cfg(target_arch = "x86_64")]
use super::linear::{kernel_rows, Block, MR, NR};

/// A zero bias for the microkernel.
#[cfg(target_arch = "x86_64")]
static ZERO: [f32; 32] = [0.0; 32];

/// One operand: shape, element strides and first element, over its storage.
struct View<'a> {
	data: &'a [f32],
	dims: &'a [usize],
	strides: &'a [usize],
	start: usize,
}

impl View<'_> {
	/// The offsets of the `[.., rows, cols]` matrices, one per batch index in row-major order.
	fn batch_offsets(&self) -> Vec<usize> {
		let batch = self.dims.len().saturating_sub(2);
		let (dims, strides) =
			(self.dims.get(..batch).unwrap_or(&[]), self.strides.get(..batch).unwrap_or(&[]));
		let count: usize = dims.iter().product();
		let mut out = Vec::with_capacity(count);
		let mut idx = vec![0usize; batch];
		for _ in 0..count {
			out.push(self.start + idx.iter().zip(strides).map(|(i, s)| i * s).sum::<usize>());
			for (i, d) in idx.iter_mut().zip(dims).rev() {
				*i += 1;
				if *i < *d {
					break;
				}
				*i = 0;
			}
		}
		out
	}

	/// Whether every element the view reads lies inside its storage.
	fn inside(&self) -> bool {
		super::copy::view_inside(self.data.len(), self.start, self.dims, self.strides)
	}
}

/// Whether [`matmul_abt`] takes `x` with this layout in this process: a vector path, rank ≥ 2,
/// rows of `x` contiguous.
pub fn supported(x: &Layout) -> bool {
	supported_on(super::path(), x)
}

fn supported_on(path: CpuPath, x: &Layout) -> bool {
	(path == CpuPath::Portable || path.packed_kernels() && path <= CpuPath::detect()) &&
		x.dims().len() >= 2 &&
		x.stride().last() == Some(&1)
}

/// `out[.., i, j] = Σ_k x[.., i, k] · y[.., j, k]` for `x` `[.., m, k]` and `y` `[.., n, k]`
/// with equal batch dimensions; the output `[.., m, n]` row-major. `None` if the shapes do not
/// match, a view reaches outside its storage or the layout is not [`supported`].
pub fn matmul_abt(
	x: &[f32],
	xl: &Layout,
	y: &[f32],
	yl: &Layout,
) -> Option<(Vec<f32>, Vec<usize>)> {
	matmul_abt_on(super::path(), x, xl, y, yl)
}

/// [`matmul_abt`] on a given path (`None` on a vector path this CPU lacks).
pub fn matmul_abt_on(
	path: CpuPath,
	x: &[f32],
	xl: &Layout,
	y: &[f32],
	yl: &Layout,
) -> Option<(Vec<f32>, Vec<usize>)> {
	let (xd, yd) = (xl.dims(), yl.dims());
	let rank = xd.len();
	if !supported_on(path, xl) ||
		yd.len() != rank ||
		xd.get(..rank - 2) != yd.get(..rank - 2) ||
		xd.last() != yd.last()
	{
		return None;
	}
	let xv = View { data: x, dims: xd, strides: xl.stride(), start: xl.start_offset() };
	let yv = View { data: y, dims: yd, strides: yl.stride(), start: yl.start_offset() };
	if !xv.inside() || !yv.inside() {
		return None;
	}
	let (m, k, n) = (*xd.get(rank - 2)?, *xd.get(rank - 1)?, *yd.get(rank - 2)?);
	let (x_row, y_row, y_col) =
		(*xl.stride().get(rank - 2)?, *yl.stride().get(rank - 2)?, *yl.stride().get(rank - 1)?);
	let mut dims = xd.to_vec();
	*dims.last_mut()? = n;
	let x_offsets = xv.batch_offsets();
	let y_offsets = yv.batch_offsets();
	let per_batch = m.checked_mul(n)?;
	let len = per_batch.checked_mul(x_offsets.len())?;
	let mut out = vec![0f32; len];
	if per_batch == 0 {
		return Some((out, dims));
	}
	let shape = Shape { m, k, n, x_row, y_row, y_col };
	out.par_chunks_mut(per_batch)
		.zip(x_offsets.par_iter().zip(y_offsets.par_iter()))
		.for_each(|(o, (xo, yo))| {
			if path == CpuPath::Portable {
				return one_product_portable(x, *xo, y, *yo, &shape, o);
			}
			// SAFETY: the CPU runs `path`, a vector path (`supported_on`); both views lie inside
			// their storage (checked above), so every x row read (xo + i·x_row + 0..k) and every
			// y element (yo + j·y_row + kk·y_col) is inside; the panel a block reads is either
			// `y` itself (n a multiple of NR, columns contiguous) or a packed copy of NR-padded
			// rows; `o` holds m × n values.
			#[cfg(target_arch = "x86_64")]
			unsafe {
				one_product(path, x, *xo, y, *yo, &shape, o)
			}
		});
	Some((out, dims))
}

/// Sizes and strides of one `[m, k] · [n, k]ᵀ` product.
struct Shape {
	m: usize,
	k: usize,
	n: usize,
	x_row: usize,
	y_row: usize,
	y_col: usize,
}

/// One `[m, k] · [n, k]ᵀ` product into `out` on the portable path: `y` packed as `[k][n]`, then
/// each output row accumulated over k in order, a multiply and an add per element (the loop
/// over columns vectorizes; each element's sum keeps its order). Both views were checked to lie
/// inside their storage; an index outside (a bug) reads zero rather than panics.
fn one_product_portable(x: &[f32], xo: usize, y: &[f32], yo: usize, s: &Shape, out: &mut [f32]) {
	let mut panel = vec![0f32; s.k * s.n];
	for (kk, row) in panel.chunks_exact_mut(s.n.max(1)).enumerate() {
		for (j, v) in row.iter_mut().enumerate() {
			*v = y.get(yo + j * s.y_row + kk * s.y_col).copied().unwrap_or(0.0);
		}
	}
	for (i, out_row) in out.chunks_exact_mut(s.n.max(1)).enumerate().take(s.m) {
		out_row.fill(0.0);
		for (kk, panel_row) in panel.chunks_exact(s.n.max(1)).enumerate() {
			let xv = x.get(xo + i * s.x_row + kk).copied().unwrap_or(0.0);
			for (o, p) in out_row.iter_mut().zip(panel_row) {
				*o += xv * p;
			}
		}
	}
}

/// One `[m, k] · [n, k]ᵀ` product into `out`.
///
/// # Safety
/// The CPU runs `path`, a vector path; `x` holds row `i` of the product at `xo + i·x_row`
/// (`k` contiguous values) for every `i < m`, `y` element `(j, kk)` at `yo + j·y_row + kk·y_col`;
/// `out` holds `m × n` values.
#[cfg(target_arch = "x86_64")]
unsafe fn one_product(
	path: CpuPath,
	x: &[f32],
	xo: usize,
	y: &[f32],
	yo: usize,
	s: &Shape,
	out: &mut [f32],
) {
	// The microkernel reads y as panels: row kk holds NR consecutive columns j. `y` is read in
	// place when its rows (j) are contiguous and n fills whole panels (P·V: V's head columns);
	// otherwise (Q·Kᵀ: K's rows) it is packed, n padded with zeros to whole panels.
	let packed: Vec<f32>;
	let (panel, ldp) = if s.y_row == 1 && s.n.is_multiple_of(NR) {
		(y.as_ptr().add(yo), s.y_col)
	} else {
		let width = s.n.div_ceil(NR) * NR;
		let mut p = vec![0f32; s.k * width];
		for (kk, row) in p.chunks_exact_mut(width).enumerate() {
			for (j, v) in row.iter_mut().take(s.n).enumerate() {
				*v = *y.get_unchecked(yo + j * s.y_row + kk * s.y_col);
			}
		}
		packed = p;
		(packed.as_ptr(), width)
	};
	for p in 0..s.n.div_ceil(NR) {
		let cols = (s.n - p * NR).min(NR);
		let mut i = 0;
		while i < s.m {
			let rows = (s.m - i).min(MR);
			let block = Block {
				x: x.as_ptr().add(xo + i * s.x_row),
				ldx: s.x_row,
				panel: panel.add(p * NR),
				ldp,
				kc: s.k,
				bias: ZERO.as_ptr(),
				first: true,
				out: out.as_mut_ptr().add(i * s.n + p * NR),
				ldo: s.n,
				cols,
			};
			kernel_rows(path, rows, &block);
			i += rows;
		}
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use candle_core::{Device, Tensor};

	fn values(len: usize, seed: u64) -> Vec<f32> {
		let mut rng = crate::generated::Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
		(0..len).map(|_| rng.uniform()).collect()
	}

	fn host(t: &Tensor) -> Vec<f32> {
		t.flatten_all().and_then(|f| f.to_vec1()).expect("values")
	}

	/// The attention products as the engine forms them (head-split views of `[b, seq, h·d]`
	/// projections), on ragged sizes: equal to an f64 reference within the k-term rounding
	/// bound, and bit-equal to the product of contiguous copies of the same views.
	#[test]
	fn attention_products_from_views_match_the_reference_and_copies_on_every_path() {
		let mut by_vector_path = Vec::new();
		for path in CpuPath::available() {
			let products = attention_products(path);
			if path.packed_kernels() {
				by_vector_path.push(products);
			}
		}
		// The vector paths give the same bits (the portable path rounds each product apart).
		for other in by_vector_path.iter().skip(1) {
			assert!(other == &by_vector_path[0]);
		}
	}

	/// A replay runs a task alone; the batch it ran in padded its rows (m), the keys (n) and,
	/// for `P·V`, the summed keys (k, with zero probabilities). Every element the task owns
	/// comes out with the same bits either way, on every path.
	#[test]
	fn an_input_alone_gets_the_bits_it_gets_inside_a_padded_batch() {
		let (m, k, n, pad) = (9usize, 9usize, 9usize, 12usize);
		let (x, y) = (values(m * k, 5), values(n * k, 6));
		// Padded with zeros to (m + pad) × (k + pad) and (n + pad) × (k + pad).
		let padded = |v: &[f32], rows: usize| {
			let mut out = vec![0f32; (rows + pad) * (k + pad)];
			for r in 0..rows {
				out[r * (k + pad)..r * (k + pad) + k].copy_from_slice(&v[r * k..(r + 1) * k]);
			}
			out
		};
		let (xp, yp) = (padded(&x, m), padded(&y, n));
		for path in CpuPath::available() {
			let (alone, _) = matmul_abt_on(
				path,
				&x,
				&Layout::contiguous((1, m, k)),
				&y,
				&Layout::contiguous((1, n, k)),
			)
			.expect("supported");
			let (batched, _) = matmul_abt_on(
				path,
				&xp,
				&Layout::contiguous((1, m + pad, k + pad)),
				&yp,
				&Layout::contiguous((1, n + pad, k + pad)),
			)
			.expect("supported");
			for i in 0..m {
				for j in 0..n {
					assert_eq!(
						alone[i * n + j].to_bits(),
						batched[i * (n + pad) + j].to_bits(),
						"{path} ({i}, {j})"
					);
				}
			}
		}
	}

	/// Checks the products on `path`; returns them all.
	fn attention_products(path: CpuPath) -> Vec<Vec<f32>> {
		let mut all = Vec::new();
		let device = Device::Cpu;
		for (b, seq, heads, d) in [
			(1usize, 1usize, 1usize, 1usize),
			(2, 7, 3, 32),
			(3, 33, 2, 32),
			(1, 40, 12, 32),
			(2, 5, 2, 9),
		] {
			let proj = |seed| {
				Tensor::from_vec(values(b * seq * heads * d, seed), (b, seq, heads, d), &device)
					.expect("tensor")
			};
			// [b, heads, seq, d] views.
			let q = proj(1).transpose(1, 2).expect("view");
			let k = proj(2).transpose(1, 2).expect("view");
			let v = proj(3).transpose(1, 2).expect("view");
			let probs =
				Tensor::from_vec(values(b * heads * seq * seq, 4), (b, heads, seq, seq), &device)
					.expect("tensor");
			let v_t = v.transpose(2, 3).expect("view");
			for (x, y) in [(&q, &k), (&probs, &v_t)] {
				let (xs, xl) = x.storage_and_layout();
				let (ys, yl) = y.storage_and_layout();
				let (candle_core::Storage::Cpu(xs), candle_core::Storage::Cpu(ys)) = (&*xs, &*ys)
				else {
					panic!("cpu")
				};
				let (got, dims) = matmul_abt_on(
					path,
					xs.as_slice().expect("f32"),
					xl,
					ys.as_slice().expect("f32"),
					yl,
				)
				.expect("supported");
				// The same product of contiguous copies: the same bits.
				let (xc, yc) = (x.contiguous().expect("copy"), y.contiguous().expect("copy"));
				let (xcs, xcl) = xc.storage_and_layout();
				let (ycs, ycl) = yc.storage_and_layout();
				let (candle_core::Storage::Cpu(xcs), candle_core::Storage::Cpu(ycs)) =
					(&*xcs, &*ycs)
				else {
					panic!("cpu")
				};
				let (copied, _) = matmul_abt_on(
					path,
					xcs.as_slice().expect("f32"),
					xcl,
					ycs.as_slice().expect("f32"),
					ycl,
				)
				.expect("supported");
				assert_eq!(got, copied, "({b}, {seq}, {heads}, {d})");
				// Against f64.
				let (xh, yh) = (host(&xc), host(&yc));
				let (m, kk, n) = (x.dims()[2], x.dims()[3], y.dims()[2]);
				assert_eq!(dims, vec![b, heads, m, n]);
				for batch in 0..b * heads {
					for i in 0..m {
						for j in 0..n {
							let terms = (0..kk).map(|t| {
								xh[batch * m * kk + i * kk + t] as f64 *
									yh[batch * n * kk + j * kk + t] as f64
							});
							let (sum, mag) =
								terms.fold((0f64, 0f64), |(s, a), p| (s + p, a + p.abs()));
							let g = got[batch * m * n + i * n + j] as f64;
							assert!((g - sum).abs() <= (kk as f64 + 1.0) * f64::from(f32::EPSILON) * mag + 1e-30, "{path} ({b}, {seq}, {heads}, {d}) batch {batch} ({i}, {j}): {g} vs {sum}");
						}
					}
				}
				all.push(got);
			}
		}
		all
	}

	#[test]
	fn refuses_mismatched_or_outside_views() {
		if !supported(&Layout::contiguous((1, 1))) {
			assert!(matmul_abt(
				&[1f32; 24],
				&Layout::contiguous((2, 3, 4)),
				&[1f32; 24],
				&Layout::contiguous((2, 3, 4))
			)
			.is_none());
			return;
		}
		let data = [1f32; 24];
		let l = |dims: &[usize]| Layout::contiguous(dims);
		assert!(matmul_abt(&data, &l(&[2, 3, 4]), &data, &l(&[2, 3, 4])).is_some());
		assert!(
			matmul_abt(&data, &l(&[2, 3, 4]), &data, &l(&[3, 2, 4])).is_none(),
			"batch dims differ"
		);
		assert!(matmul_abt(&data, &l(&[2, 3, 4]), &data, &l(&[2, 4, 3])).is_none(), "k differs");
		assert!(
			matmul_abt(&data, &l(&[4, 3, 4]), &data, &l(&[4, 3, 4])).is_none(),
			"x reaches past its storage"
		);
		assert!(matmul_abt(&data, &l(&[24]), &data, &l(&[24])).is_none(), "rank 1");
		let (out, dims) = matmul_abt(&data, &l(&[2, 3, 4]), &data, &l(&[2, 3, 4])).expect("fits");
		assert_eq!((out, dims), (vec![4.0; 18], vec![2, 3, 3]));
	}
}
