//! Exports `eval(op, a, a_len, b, b_len, c, c_len, col, claimed, out)` over the reference
//! evaluator; `out` receives reference, deviation and bound as three f64.
#![no_std]

extern crate alloc;

use arbiter_primitives::evaluator::{ops, ElementCheck};
use core::slice;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
	core::arch::wasm32::unreachable()
}

/// A bump allocator: the probe is instantiated fresh for every run.
struct Bump;
static mut NEXT: usize = 0;

unsafe extern "C" {
	/// First address after the stack and the data segments, set by the linker.
	static __heap_base: u8;
}

// SAFETY: `alloc` returns memory aligned and sized as asked, owned by nobody else (a bump
// pointer never hands out an address twice), or null when memory cannot grow.
unsafe impl core::alloc::GlobalAlloc for Bump {
	/// # Safety
	/// `GlobalAlloc::alloc`'s contract: `layout` has a non-zero size.
	unsafe fn alloc(&self, layout: core::alloc::Layout) -> *mut u8 {
		// SAFETY: the probe is single-threaded wasm, so nothing else reads or writes `NEXT`;
		// only the address of the linker's `__heap_base` is taken, never its value; the memory
		// handed out lies past every static and the stack, and below the grown memory's end.
		unsafe {
			if NEXT == 0 {
				NEXT = core::ptr::addr_of!(__heap_base) as usize;
			}
			let start = (NEXT + layout.align() - 1) & !(layout.align() - 1);
			let end = start + layout.size();
			let pages_needed = end.div_ceil(65536);
			let have = core::arch::wasm32::memory_size(0);
			if pages_needed > have &&
				core::arch::wasm32::memory_grow(0, pages_needed - have) == usize::MAX
			{
				return core::ptr::null_mut();
			}
			NEXT = end;
			start as *mut u8
		}
	}
	/// # Safety
	/// `GlobalAlloc::dealloc`'s contract; nothing is freed (the instance is discarded whole).
	unsafe fn dealloc(&self, _: *mut u8, _: core::alloc::Layout) {}
}

#[global_allocator]
static ALLOC: Bump = Bump;

/// Reserves `len` bytes for the host to write into.
#[no_mangle]
pub extern "C" fn reserve(len: usize) -> *mut u8 {
	// SAFETY: 8 is a power of two and a wasm32 `len` rounded up to it cannot overflow `isize`,
	// so the layout is valid; the allocator returns null or a block of at least `len` bytes.
	unsafe {
		core::alloc::GlobalAlloc::alloc(
			&ALLOC,
			core::alloc::Layout::from_size_align_unchecked(len.max(1), 8),
		)
	}
}

#[no_mangle]
pub extern "C" fn eval(
	op: u32,
	a: *const f32,
	a_len: usize,
	b: *const f32,
	b_len: usize,
	c: *const f32,
	c_len: usize,
	col: usize,
	claimed: f32,
	out: *mut f64,
) {
	// SAFETY: the host wrote `a_len`, `b_len` and `c_len` f32 values at these addresses, in
	// blocks it got from `reserve` (aligned to 8), and does not touch them during the call.
	let (a, b, c) = unsafe {
		(
			slice::from_raw_parts(a, a_len),
			slice::from_raw_parts(b, b_len),
			slice::from_raw_parts(c, c_len),
		)
	};
	let first = |v: &[f32]| v.first().copied().unwrap_or(0.0);
	let check: ElementCheck = match op {
		0 => ops::linear(a, b, c.first().copied(), claimed),
		1 => ops::softmax(a, if b.is_empty() { None } else { Some(b) }, col, claimed),
		2 => ops::layer_norm(a, b, c, 1e-12, col, claimed),
		3 => ops::rms_norm(a, b, 1e-6, col, claimed),
		4 => ops::l2_normalize(a, 1e-12, col, claimed),
		5 => ops::mean_pool(a, b, claimed),
		6 => ops::gelu(first(a), claimed),
		7 => ops::silu(first(a), claimed),
		8 => ops::add(first(a), first(b), claimed),
		10 => ops::rope(a, b, c, col, claimed),
		11 => ops::causal_score(a, b, first(c), claimed),
		12 => ops::causal_softmax(a, first(b) as usize, col, claimed),
		// The Gumbel noise of (seed, step, token), the seed's two halves and the others as bits.
		13 => {
			let bits = |v: &[f32], k: usize| v.get(k).map(|x| x.to_bits()).unwrap_or(0);
			let seed = (bits(a, 1) as u64) << 32 | bits(a, 0) as u64;
			let noise = arbiter_primitives::sampling::gumbel_noise(seed, bits(b, 0), bits(c, 0));
			ElementCheck { reference: noise, deviation: 0.0, bound: 0.0 }
		},
		_ => ops::mul(first(a), first(b), claimed),
	};
	// SAFETY: `out` is a block of three f64 from `reserve` (aligned to 8) the host reads after
	// the call.
	unsafe {
		*out = check.reference;
		*out.add(1) = check.deviation;
		*out.add(2) = check.bound;
	}
}

/// Decodes `(graph, model_root, trace_root, opening, slack, output, input ids)` (SCALE) and runs
/// `verify_element` `repeat` times; returns 0 within bound, 1 outside, 2 malformed, 3 undecodable
/// input.
#[no_mangle]
pub extern "C" fn verify(ptr: *const u8, len: usize, repeat: u32) -> u32 {
	use arbiter_primitives::{
		opening::verify_element, Graph, Opening, RegisteredModel, TaskCommitments, Verdict,
	};
	use codec::Decode;
	// SAFETY: the host wrote `len` bytes at `ptr`, a block from `reserve`, and does not touch
	// them during the call.
	let mut input = unsafe { slice::from_raw_parts(ptr, len) };
	let Ok((graph, model_root, trace_root, opening, slack_bits, output, ids)) = <(
		Graph,
		[u8; 32],
		[u8; 32],
		Opening,
		u32,
		alloc::vec::Vec<u8>,
		alloc::vec::Vec<u32>,
	)>::decode(
		&mut input
	) else {
		return 3;
	};
	let mut verdict = 3;
	for _ in 0..repeat.max(1) {
		let element = (opening.node, opening.row, opening.col);
		verdict = match verify_element(
			&RegisteredModel {
				graph: &graph,
				model_root: &model_root,
				slack: f32::from_bits(slack_bits),
				max_row_width: 4096,
			},
			&TaskCommitments { trace_root: &trace_root, output: &output, input: &ids },
			element,
			&opening,
		) {
			Verdict::WithinBound => 0,
			Verdict::OutsideBound => 1,
			Verdict::Malformed(_) => 2,
		};
	}
	verdict
}
