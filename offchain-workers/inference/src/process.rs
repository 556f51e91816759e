//! Process-wide settings for the binaries that run inference (`arbiter-node`, `arbiter-infer`,
//! the benchmarks): call [`configure`] first thing in `main`, before any thread starts.

/// The environment variable that sizes candle's own pool for element-wise ops.
pub const CANDLE_THREADS_VAR: &str = "CANDLE_NUM_THREADS";

/// Applies the settings:
/// - the allocator keeps freed memory ([`crate::allocator::keep_freed_memory`]);
/// - candle's element-wise ops run on the calling thread (`CANDLE_NUM_THREADS=1` unless the
///   operator set it). candle 0.11 runs them on a pool of its own threads, beside the rayon pool
///   that runs the linear layers; its threads spin ~1 ms after each op before they sleep, so on few
///   cores the two pools take turns stealing each other's cores: setting it made a MiniLM batch of
///   32 13 % faster on 2 cores (docs/benchmarks.md).
pub fn configure() {
	crate::allocator::keep_freed_memory();
	if std::env::var_os(CANDLE_THREADS_VAR).is_none() {
		// Safe here: `main` calls this before it starts any thread, so no other thread reads
		// the environment at the same time.
		std::env::set_var(CANDLE_THREADS_VAR, "1");
	}
}
