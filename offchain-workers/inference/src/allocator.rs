//! The allocator the binaries that run inference use (`arbiter-node`, `arbiter-infer`), and
//! its one setting.
//!
//! Inference allocates and frees tensor-sized buffers at every op, and a traced batch holds
//! hundreds of MB of node outputs until it is committed. glibc's malloc returns such buffers
//! to the kernel, and mimalloc by default does too, a second after they are freed; either way the
//! next batch page-faults them back in and the kernel zeroes them: a quarter of a traced
//! MiniLM batch's CPU time (docs/benchmarks.md). Keeping freed memory for reuse instead costs
//! resident memory up to the largest batch's peak, which the process needs again anyway.

/// The global allocator type: `#[global_allocator] static A: Allocator = Allocator;`.
pub use mimalloc::MiMalloc as Allocator;

/// mimalloc's `mi_option_purge_delay` (its position in `mi_option_e`, mimalloc.h; the v3 that
/// `libmimalloc-sys` builds), which the crate does not name; `tests/allocator.rs` checks it by
/// its default of 1000 ms.
pub const PURGE_DELAY_OPTION: libmimalloc_sys::mi_option_t = 15;

/// Tells the allocator never to return freed memory to the kernel. [`crate::process::configure`]
/// calls it first thing in `main`.
pub fn keep_freed_memory() {
	// SAFETY: mi_option_set only stores the value; any option index and value is accepted.
	unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY_OPTION, -1) }
}
