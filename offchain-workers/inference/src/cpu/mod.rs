//! CPU kernels for the ops where candle's CPU backend leaves the most time on the table
//! (MiniLM profile: the linear layers, GELU, the attention products and the transposes that
//! split the heads), plugged in as candle custom ops. Other devices keep candle's own kernels.

pub mod batched_matmul;
pub mod copy;
pub mod gelu;
pub mod linear;
pub mod linear_q4;

use std::sync::OnceLock;

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Shape};

pub use linear::PackedWeight;
pub use linear_q4::PackedQ4;

/// Environment variable that lowers the CPU path a process runs (`avx512`, `avx2`, `portable`):
/// tests and benchmarks use it to run every path on one machine.
pub const CPU_PATH_ENV: &str = "ARBITER_CPU_PATH";

/// The family of CPU kernels a process runs. Every path computes every op within the runtime's
/// bounds; the two vector paths give the same bits (each output of the packed kernels is one
/// fused multiply-add chain in k order, whatever the vector width).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum CpuPath {
	/// candle's own CPU kernels, the vectorised GELU in portable code, the scalar-per-message
	/// BLAKE2b: any CPU candle runs on (x86-64 without AVX2, aarch64, ...).
	Portable,
	/// The packed linear and attention kernels on 8-wide vectors with FMA.
	Avx2Fma,
	/// The packed kernels on 16-wide vectors and the eight-way BLAKE2b.
	Avx512,
}

impl CpuPath {
	/// The name `ARBITER_CPU_PATH`, `model-info` and the logs use.
	pub fn name(self) -> &'static str {
		match self {
			Self::Portable => "portable",
			Self::Avx2Fma => "avx2",
			Self::Avx512 => "avx512",
		}
	}

	/// Parses [`Self::name`].
	pub fn from_name(name: &str) -> Option<Self> {
		[Self::Portable, Self::Avx2Fma, Self::Avx512]
			.into_iter()
			.find(|p| p.name() == name.trim())
	}

	/// The fastest path this CPU can run (detected once: the kernels ask on every call).
	pub fn detect() -> Self {
		static DETECTED: OnceLock<CpuPath> = OnceLock::new();
		*DETECTED.get_or_init(Self::probe)
	}

	fn probe() -> Self {
		#[cfg(target_arch = "x86_64")]
		{
			if std::arch::is_x86_feature_detected!("avx512f") {
				return Self::Avx512;
			}
			if std::arch::is_x86_feature_detected!("avx2") &&
				std::arch::is_x86_feature_detected!("fma")
			{
				return Self::Avx2Fma;
			}
		}
		Self::Portable
	}

	/// Every path this CPU can run, slowest first (what the kernels' tests iterate over).
	pub fn available() -> Vec<Self> {
		let best = Self::detect();
		[Self::Portable, Self::Avx2Fma, Self::Avx512]
			.into_iter()
			.filter(|p| *p <= best)
			.collect()
	}

	/// Whether the packed linear and attention kernels run on this path.
	pub fn packed_kernels(self) -> bool {
		self != Self::Portable
	}
}

impl core::fmt::Display for CpuPath {
	fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
		f.write_str(self.name())
	}
}

/// The path this process runs: [`CpuPath::detect`], lowered by `ARBITER_CPU_PATH` when it names
/// a slower path. Read once. A name the process does not know, or a path the CPU lacks, is an
/// error reported by [`path_request_error`] (the binaries refuse to start on it).
pub fn path() -> CpuPath {
	*PATH.get_or_init(|| {
		resolve_path(std::env::var(CPU_PATH_ENV).ok().as_deref())
			.unwrap_or_else(|_| CpuPath::detect())
	})
}

static PATH: OnceLock<CpuPath> = OnceLock::new();

/// Why `ARBITER_CPU_PATH` cannot be honoured, if it cannot.
pub fn path_request_error() -> Option<String> {
	resolve_path(std::env::var(CPU_PATH_ENV).ok().as_deref()).err()
}

/// The path for a requested name (`None`: the detected one).
fn resolve_path(requested: Option<&str>) -> Result<CpuPath, String> {
	let best = CpuPath::detect();
	let Some(name) = requested.filter(|n| !n.trim().is_empty()) else { return Ok(best) };
	let wanted = CpuPath::from_name(name).ok_or_else(|| {
		format!("{CPU_PATH_ENV}={name:?}: expected one of portable, avx2, avx512")
	})?;
	if wanted > best {
		return Err(format!("{CPU_PATH_ENV}={name}: this CPU runs at most the {best} path"));
	}
	Ok(wanted)
}

/// The contiguous f32 values of a CPU tensor.
fn contiguous_f32<'a>(storage: &'a CpuStorage, layout: &Layout) -> candle_core::Result<&'a [f32]> {
	let (start, end) = layout
		.contiguous_offsets()
		.ok_or_else(|| candle_core::Error::Msg("input is not contiguous".into()))?;
	storage
		.as_slice::<f32>()?
		.get(start..end)
		.ok_or_else(|| candle_core::Error::Msg("layout outside its storage".into()))
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

	fn cpu_fwd(
		&self,
		storage: &CpuStorage,
		layout: &Layout,
	) -> candle_core::Result<(CpuStorage, Shape)> {
		let x = contiguous_f32(storage, layout)?;
		let mut dims = layout.dims().to_vec();
		match dims.last_mut() {
			Some(last) if *last == self.weight.k() => *last = self.weight.n(),
			_ =>
				return Err(candle_core::Error::Msg(format!(
					"linear: input {:?}, weight takes {}",
					layout.dims(),
					self.weight.k()
				))),
		}
		let out = self.weight.apply(x, self.bias).ok_or_else(|| {
			candle_core::Error::Msg("linear: packed kernel refused the sizes or this CPU".into())
		})?;
		Ok((CpuStorage::F32(out), Shape::from(dims)))
	}
}

/// `x · yᵀ` over the last two dimensions, per batch index, from views with any strides.
pub struct MatMulTransposed;

impl CustomOp2 for MatMulTransposed {
	fn name(&self) -> &'static str {
		"arbiter-matmul-abt"
	}

	fn cpu_fwd(
		&self,
		xs: &CpuStorage,
		xl: &Layout,
		ys: &CpuStorage,
		yl: &Layout,
	) -> candle_core::Result<(CpuStorage, Shape)> {
		let (out, dims) =
			batched_matmul::matmul_abt(xs.as_slice::<f32>()?, xl, ys.as_slice::<f32>()?, yl)
				.ok_or_else(|| {
					candle_core::Error::Msg(format!(
						"matmul: shapes {:?} and {:?} or their layouts not supported",
						xl.dims(),
						yl.dims()
					))
				})?;
		Ok((CpuStorage::F32(out), Shape::from(dims)))
	}
}

/// A strided view (a transpose) copied to row-major order, in parallel.
pub struct StridedCopy;

impl CustomOp1 for StridedCopy {
	fn name(&self) -> &'static str {
		"arbiter-strided-copy"
	}

	fn cpu_fwd(
		&self,
		storage: &CpuStorage,
		layout: &Layout,
	) -> candle_core::Result<(CpuStorage, Shape)> {
		let out = copy::copy_strided(
			storage.as_slice::<f32>()?,
			layout.start_offset(),
			layout.dims(),
			layout.stride(),
		)
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

	fn cpu_fwd(
		&self,
		storage: &CpuStorage,
		layout: &Layout,
	) -> candle_core::Result<(CpuStorage, Shape)> {
		let x = contiguous_f32(storage, layout)?;
		Ok((CpuStorage::F32(gelu::gelu(x)), layout.shape().clone()))
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn a_requested_path_is_honoured_only_when_the_cpu_has_it() {
		let best = CpuPath::detect();
		assert_eq!(resolve_path(None), Ok(best));
		assert_eq!(resolve_path(Some("")), Ok(best));
		assert_eq!(resolve_path(Some("portable")), Ok(CpuPath::Portable));
		assert!(resolve_path(Some("sse9")).is_err());
		for p in [CpuPath::Avx2Fma, CpuPath::Avx512] {
			assert_eq!(resolve_path(Some(p.name())).is_ok(), p <= best, "{p}");
		}
		assert_eq!(CpuPath::available().last(), Some(&best));
		assert_eq!(CpuPath::available().first(), Some(&CpuPath::Portable));
	}
}
