//! CPU kernels for the two ops where candle's CPU backend leaves the most time on the table
//! (MiniLM profile: the linear layers and GELU), plugged in as candle custom ops. Other devices
//! keep candle's own kernels.

pub mod gelu;
pub mod linear;

use candle_core::{CpuStorage, CustomOp1, Layout, Shape};

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
