//! The Arbiter node.
#![warn(missing_docs)]
// sc-cli and sc-service return their large `Error` by value throughout; the node's commands
// pass it on.
#![allow(clippy::result_large_err)]

mod arbiter_rpc;
mod chain_spec;
mod cli;
mod command;
mod inference;
mod provider_metrics;
mod rpc;
mod service;
mod watcher_client;

// The allocator inference wants (see `arbiter_inference::allocator`).
#[global_allocator]
static GLOBAL: arbiter_inference::allocator::Allocator = arbiter_inference::allocator::Allocator;

fn main() {
	arbiter_inference::process::configure();
	if let Err(error) = command::run() {
		// One line, so scripts and operators see the cause at once.
		let text = error.to_string().split_whitespace().collect::<Vec<_>>().join(" ");
		eprintln!("Error: {text}");
		std::process::exit(1);
	}
}
