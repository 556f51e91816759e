//! CPU kernels for the ops where candle's CPU backend leaves the most time on the table
//! (MiniLM profile: the linear layers, GELU, the attention products and the transposes that
//! split the heads), plugged in as candle custom ops. Other devices keep candle's own kernels.

pub mod batched_matmul;
pub mod copy;
pub mod gelu;
pub mod linear;

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Shape};

pub use linear::PackedWeight;

/// The contiguous f32 values of a CPU tensor.
fn contiguous_f32<'a>(storage: &'a CpuStorage, layout: &Layout) -> candle_core::Result<&'a [f32]> {
	let (start, end) = layout.contiguous_offsets().ok_or_else(|| candle_core::Error::Msg("input is not contiguous".into()))?;
	storage.as_slice::<f32>()?.get(start..end).ok_or_else(|| candle_core::Error::Msg("layout outside its storage".into()))
}

/// `x·Wᵀ + b` over the last dimension of `x`, with a packed `W`.
pub struct PackedLinear<'a> {
	pub weight: &'a PackedWeight,
	pub bias: Option<&'a [f32]>,
}

impl CustomOp1 for PackedLinear<'_> {
	fn name(&self) -> &'static str {
		"arbiter-packed-linear"
	}

	fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
		let x = contiguous_f32(storage, layout)?;
		let mut dims = layout.dims().to_vec();
		match dims.last_mut() {
			Some(last) if *last == self.weight.k() => *last = self.weight.n(),
			_ => return Err(candle_core::Error::Msg(format!("linear: input {:?}, weight takes {}", layout.dims(), self.weight.k()))),
		}
		let out = self
			.weight
			.apply(x, self.bias)
			.ok_or_else(|| candle_core::Error::Msg("linear: packed kernel refused the sizes or this CPU".into()))?;
		Ok((CpuStorage::F32(out), Shape::from(dims)))
	}
}

/// `x · yᵀ` over the last two dimensions, per batch index, from views with any strides.
pub struct MatMulTransposed;

impl CustomOp2 for MatMulTransposed {
	fn name(&self) -> &'static str {
		"arbiter-matmul-abt"
	}

	fn cpu_fwd(&self, xs: &CpuStorage, xl: &Layout, ys: &CpuStorage, yl: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
		let (out, dims) = batched_matmul::matmul_abt(xs.as_slice::<f32>()?, xl, ys.as_slice::<f32>()?, yl)
			.ok_or_else(|| candle_core::Error::Msg(format!("matmul: shapes {:?} and {:?} or their layouts not supported", xl.dims(), yl.dims())))?;
		Ok((CpuStorage::F32(out), Shape::from(dims)))
	}
}

/// A strided view (a transpose) copied to row-major order, in parallel.
pub struct StridedCopy;

impl CustomOp1 for StridedCopy {
	fn name(&self) -> &'static str {
		"arbiter-strided-copy"
	}

	fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
		let out = copy::copy_strided(storage.as_slice::<f32>()?, layout.start_offset(), layout.dims(), layout.stride())
			.ok_or_else(|| candle_core::Error::Msg("strided copy: view outside its storage".into()))?;
		Ok((CpuStorage::F32(out), layout.shape().clone()))
	}
}

/// GELU (erf form), vectorised.
pub struct Gelu;

impl CustomOp1 for Gelu {
	fn name(&self) -> &'static str {
		"arbiter-gelu"
	}

	fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
		let x = contiguous_f32(storage, layout)?;
		Ok((CpuStorage::F32(gelu::gelu(x)), layout.shape().clone()))
	}
}
