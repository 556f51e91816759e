//! `process::configure` keeps candle's element-wise ops on the calling thread: no `candle-bp`
//! pool threads appear, even where rayon would size the pool at four threads.

use candle_core::{Device, Tensor};

fn candle_pool_threads() -> usize {
	let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return 0 };
	tasks
		.filter_map(|t| t.ok())
		.filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
		.filter(|name| name.starts_with("candle-bp"))
		.count()
}

#[test]
fn element_wise_ops_start_no_pool_threads() {
	if !std::path::Path::new("/proc/self/task").exists() {
		eprintln!("no /proc: cannot list threads here");
		return;
	}
	// Without `configure`, candle would start RAYON_NUM_THREADS - 1 = 3 pool threads for an
	// element-wise op of 2^20 elements (above its 64k threshold for going parallel).
	std::env::set_var("RAYON_NUM_THREADS", "4");
	std::env::remove_var(arbiter_inference::process::CANDLE_THREADS_VAR);
	arbiter_inference::process::configure();
	assert_eq!(std::env::var(arbiter_inference::process::CANDLE_THREADS_VAR).as_deref(), Ok("1"));
	let a = Tensor::ones(1 << 20, candle_core::DType::F32, &Device::Cpu).expect("tensor");
	let sum = (&a + &a)
		.and_then(|s| s.sum_all())
		.and_then(|s| s.to_scalar::<f32>())
		.expect("add");
	assert_eq!(sum, 2.0 * (1 << 20) as f32);
	assert_eq!(candle_pool_threads(), 0, "candle started its element-wise pool");
}
