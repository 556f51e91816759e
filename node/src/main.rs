//! The Arbiter node.
#![warn(missing_docs)]

mod arbiter_rpc;
mod chain_spec;
mod cli;
mod command;
mod inference;
mod rpc;
mod service;
mod watcher_client;

// The provider's inference allocates tensor-sized buffers at every op; mimalloc reuses them
// where the system allocator returns them to the kernel (docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
	if let Err(error) = command::run() {
		// One line, so scripts and operators see the cause at once.
		let text = error.to_string().split_whitespace().collect::<Vec<_>>().join(" ");
		eprintln!("Error: {text}");
		std::process::exit(1);
	}
}
