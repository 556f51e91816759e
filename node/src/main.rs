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

fn main() {
	if let Err(error) = command::run() {
		// One line, so scripts and operators see the cause at once.
		let text = error.to_string().split_whitespace().collect::<Vec<_>>().join(" ");
		eprintln!("Error: {text}");
		std::process::exit(1);
	}
}
