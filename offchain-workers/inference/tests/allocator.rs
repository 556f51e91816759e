//! The allocator option `keep_freed_memory` sets is mimalloc's purge delay.

use arbiter_inference::allocator::{keep_freed_memory, PURGE_DELAY_OPTION};

#[test]
fn the_option_set_is_the_purge_delay() {
	// SAFETY: reading an option has no preconditions.
	let before = unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY_OPTION) };
	assert_eq!(before, 1000, "mimalloc's purge delay defaults to 1000 ms: is option {PURGE_DELAY_OPTION} still mi_option_purge_delay?");
	keep_freed_memory();
	// SAFETY: as above.
	assert_eq!(unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY_OPTION) }, -1);
}
