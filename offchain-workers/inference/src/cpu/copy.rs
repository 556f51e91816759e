//! Row-major copy of a strided view (what a `Transpose` node materialises), in parallel.
//!
//! candle's CPU backend copies a rank-4 transposed view one element at a time through a
//! generic strided-index iterator on one thread: 10 % of a MiniLM batch (the attention heads
//! are split and merged by transposes). Here the output is cut into blocks of its last two
//! dimensions, each row of a block copied as one run (or gathered with its stride); large
//! copies run in parallel.

use rayon::prelude::*;

/// Output elements per parallel chunk (whole blocks of the last two dimensions).
const CHUNK: usize = 64 * 1024;
/// Below this many elements one thread copies: waking the pool costs more than it saves.
const PARALLEL_MIN: usize = 256 * 1024;

/// The view of `src` with shape `dims`, element strides `strides` and first element `start`,
/// as a new row-major buffer. `None` if the view reaches outside `src` or `strides` does not
/// match `dims`.
pub fn copy_strided(
	src: &[f32],
	start: usize,
	dims: &[usize],
	strides: &[usize],
) -> Option<Vec<f32>> {
	if dims.len() != strides.len() {
		return None;
	}
	let len = dims.iter().try_fold(1usize, |acc, d| acc.checked_mul(*d))?;
	if len == 0 {
		return Some(Vec::new());
	}
	if !view_inside(src.len(), start, dims, strides) {
		return None;
	}
	// The view as blocks of its last two dimensions (`rows` runs of `run` elements): the outer
	// index is walked once per block, and each run is one copy (or a gather with its stride).
	let rank = dims.len();
	let dim = |k: usize| if k < rank { dims.get(rank - 1 - k).copied().unwrap_or(1) } else { 1 };
	let stride =
		|k: usize| if k < rank { strides.get(rank - 1 - k).copied().unwrap_or(0) } else { 0 };
	let (run, run_stride, rows, row_stride) = (dim(0), stride(0), dim(1), stride(1));
	let outer = dims.get(..rank.saturating_sub(2)).unwrap_or(&[]);
	let outer_strides = strides.get(..outer.len()).unwrap_or(&[]);
	let block_len = run * rows;
	let blocks_per_chunk = CHUNK.div_ceil(block_len).max(1);
	let mut out = vec![0f32; len];
	let copy_block = |block_index: usize, block: &mut [f32]| {
		let mut rest = block_index;
		let mut base = start;
		for (d, s) in outer.iter().zip(outer_strides).rev() {
			base += (rest % d) * s;
			rest /= d;
		}
		for (i, row) in block.chunks_exact_mut(run).enumerate() {
			let offset = base + i * row_stride;
			if run_stride == 1 {
				if let Some(from) = src.get(offset..offset + run) {
					row.copy_from_slice(from);
				}
			} else {
				for (j, v) in row.iter_mut().enumerate() {
					if let Some(x) = src.get(offset + j * run_stride) {
						*v = *x;
					}
				}
			}
		}
	};
	let copy_chunk = |(chunk, blocks): (usize, &mut [f32])| {
		for (b, block) in blocks.chunks_exact_mut(block_len).enumerate() {
			copy_block(chunk * blocks_per_chunk + b, block);
		}
	};
	if len > PARALLEL_MIN {
		out.par_chunks_mut(blocks_per_chunk * block_len)
			.enumerate()
			.for_each(copy_chunk);
	} else {
		out.chunks_mut(blocks_per_chunk * block_len).enumerate().for_each(copy_chunk);
	}
	Some(out)
}

/// Whether every element of the view (shape `dims`, element strides `strides`, first element
/// `start`) lies below `len`: its last element does, then every other does too. An empty view
/// reads nothing.
pub fn view_inside(len: usize, start: usize, dims: &[usize], strides: &[usize]) -> bool {
	if dims.contains(&0) {
		return true;
	}
	let last = dims
		.iter()
		.zip(strides)
		.try_fold(start, |acc, (d, s)| acc.checked_add((d - 1).checked_mul(*s)?));
	last.is_some_and(|l| l < len)
}

#[cfg(test)]
mod tests {
	use super::*;
	use candle_core::{Device, Tensor};

	/// Every transpose of a few shapes, against candle's own copy.
	#[test]
	fn equals_candles_copy_of_every_transpose() {
		let device = Device::Cpu;
		for dims in [vec![3usize, 5], vec![2, 7, 3, 4], vec![1, 30, 12, 32], vec![4, 1, 5, 2, 3]] {
			let len: usize = dims.iter().product();
			let values: Vec<f32> = (0..len).map(|i| i as f32 * 0.5 - 7.0).collect();
			let t = Tensor::from_vec(values.clone(), dims.clone(), &device).expect("shape");
			for a in 0..dims.len() {
				for b in a + 1..dims.len() {
					let view = t.transpose(a, b).expect("dims");
					let want: Vec<f32> =
						view.flatten_all().and_then(|f| f.to_vec1()).expect("copy");
					let layout = view.layout();
					let got = copy_strided(
						&values,
						layout.start_offset(),
						layout.dims(),
						layout.stride(),
					)
					.expect("inside");
					assert_eq!(got, want, "{dims:?} transpose({a}, {b})");
				}
			}
			// A narrowed view starts past element 0.
			let narrowed = t
				.narrow(0, dims[0] - 1, 1)
				.and_then(|n| n.transpose(0, dims.len() - 1))
				.expect("dims");
			let want: Vec<f32> = narrowed.flatten_all().and_then(|f| f.to_vec1()).expect("copy");
			let layout = narrowed.layout();
			assert_eq!(
				copy_strided(&values, layout.start_offset(), layout.dims(), layout.stride()),
				Some(want)
			);
		}
	}

	#[test]
	fn refuses_views_outside_the_buffer() {
		let src = [0f32; 12];
		assert_eq!(copy_strided(&src, 0, &[3, 4], &[4, 1]).map(|v| v.len()), Some(12));
		assert_eq!(copy_strided(&src, 1, &[3, 4], &[4, 1]), None, "one past the end");
		assert_eq!(copy_strided(&src, 0, &[4, 3], &[1, 5]), None, "stride reaches element 14");
		assert_eq!(copy_strided(&src, 0, &[3, 4], &[4]), None, "strides of another rank");
		assert_eq!(copy_strided(&src, 0, &[0, 4], &[4, 1]), Some(Vec::new()));
		assert_eq!(copy_strided(&src, 0, &[usize::MAX, 4], &[4, 1]), None, "overflowing size");
	}
}
