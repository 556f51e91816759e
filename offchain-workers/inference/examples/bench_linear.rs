//! GFLOP/s of the packed linear kernel (`cpu::linear`) on MiniLM's layer shapes, hot caches:
//! the ceiling a forward pass can reach for its linear layers.
//!
//!   bench_linear [--rows M] [--repeat R]
//!
//! Threads: `RAYON_NUM_THREADS` (as for the engine).

use std::time::Instant;

use arbiter_inference::cpu::PackedWeight;

fn arg(name: &str) -> Option<String> {
	let args: Vec<String> = std::env::args().collect();
	args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

fn values(len: usize, seed: u32) -> Vec<f32> {
	(0..len)
		.map(|i| {
			((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) >> 8) as f32 /
				(1u32 << 24) as f32 -
				0.5
		})
		.collect()
}

fn main() {
	if !PackedWeight::supported() {
		eprintln!("this CPU lacks AVX-512F: the packed kernel is not used");
		return;
	}
	let rows: Vec<usize> = arg("--rows")
		.map(|r| vec![r.parse().expect("--rows M")])
		.unwrap_or_else(|| vec![1, 21, 128, 680]);
	let repeat: usize = arg("--repeat").map(|r| r.parse().expect("--repeat R")).unwrap_or(20);
	// (outputs n, inputs k): attention projections, FFN up, FFN down.
	for (n, k) in [(384usize, 384usize), (1536, 384), (384, 1536)] {
		// Several distinct weights in rotation (`--cold`): each call finds its weights in L3, as
		// in a forward pass, not in L2.
		let copies: usize = if std::env::args().any(|a| a == "--cold") { 12 } else { 1 };
		let bias = values(n, 2);
		let packed: Vec<PackedWeight> = (0..copies)
			.map(|c| PackedWeight::pack(&values(n * k, 1 + c as u32), n, k).expect("sizes match"))
			.collect();
		let mut kept: std::collections::VecDeque<Vec<f32>> = Default::default();
		for m in &rows {
			let x = values(m * k, 3);
			let mut sink = 0f32;
			// Enough calls per measurement for ~1 GFLOP.
			let calls = (1e9 / (2.0 * (*m * n * k) as f64)).ceil() as usize;
			let mut best = f64::INFINITY;
			for _ in 0..repeat {
				let start = Instant::now();
				for c in 0..calls {
					let out = packed[c % copies].apply(&x, Some(&bias)).expect("supported");
					sink += out.first().copied().unwrap_or(0.0);
					// Outputs stay alive a while (`--cold`), so each call writes to memory not in
					// cache.
					kept.push_back(out);
					if kept.len() > copies {
						kept.pop_front();
					}
				}
				best = best.min(start.elapsed().as_secs_f64());
			}
			let gflops = 2.0 * (*m * n * k * calls) as f64 / best / 1e9;
			println!(
				"{{\"m\":{m},\"n\":{n},\"k\":{k},\"gflop_s\":{gflops:.1},\"sink\":{}}}",
				sink.is_finite()
			);
		}
	}
}
