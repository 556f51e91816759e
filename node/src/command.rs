//! Parses the command line and runs the chosen command.

use crate::{
	chain_spec,
	cli::{Cli, Subcommand},
	service,
};
use arbiter_runtime::opaque::Block;
#[cfg(feature = "runtime-benchmarks")]
use frame_benchmarking_cli::{BenchmarkCmd, SUBSTRATE_REFERENCE_HARDWARE};
use sc_cli::SubstrateCli;
use sc_service::PartialComponents;

impl SubstrateCli for Cli {
	fn impl_name() -> String {
		"Arbiter Node".into()
	}

	fn impl_version() -> String {
		env!("SUBSTRATE_CLI_IMPL_VERSION").into()
	}

	fn description() -> String {
		env!("CARGO_PKG_DESCRIPTION").into()
	}

	fn author() -> String {
		env!("CARGO_PKG_AUTHORS").into()
	}

	fn support_url() -> String {
		"the project's issue tracker".into()
	}

	fn copyright_start_year() -> i32 {
		2026
	}

	fn load_spec(&self, id: &str) -> Result<Box<dyn sc_service::ChainSpec>, String> {
		chain_spec::load(id)
	}
}

/// Refuses to start when a port the node must listen on is taken. (Substrate's RPC server would
/// otherwise fall back silently to a random port, and clients would talk to the other process.)
fn check_ports_free(config: &sc_service::Configuration) -> sc_cli::Result<()> {
	use std::net::{SocketAddr, TcpListener};
	let taken = |what: &str, addr: SocketAddr| -> sc_cli::Error {
		sc_cli::Error::Input(format!(
			"{what} port {} is already in use on {}: stop the process using it or choose another port",
			addr.port(),
			addr.ip()
		))
	};
	let mut wanted: Vec<(&str, SocketAddr)> = Vec::new();
	for endpoint in config.rpc.addr.iter().flatten() {
		// Port 0 lets the OS choose; a second endpoint may reuse the first one's port on another
		// IP.
		if endpoint.listen_addr.port() != 0 {
			wanted.push(("RPC", endpoint.listen_addr));
		}
	}
	if let Some(prometheus) = &config.prometheus_config {
		if prometheus.port.port() != 0 {
			wanted.push(("Prometheus", prometheus.port));
		}
	}
	for (what, addr) in wanted {
		if let Err(e) = TcpListener::bind(addr) {
			if e.kind() == std::io::ErrorKind::AddrInUse {
				return Err(taken(what, addr));
			}
		}
	}
	Ok(())
}

/// Parses the command line and runs it.
pub fn run() -> sc_cli::Result<()> {
	let cli = Cli::from_args();

	match &cli.subcommand {
		Some(Subcommand::Key(cmd)) => cmd.run(&cli),
		#[allow(deprecated)]
		Some(Subcommand::BuildSpec(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.sync_run(|config| cmd.run(config.chain_spec, config.network))
		},
		Some(Subcommand::CheckBlock(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.async_run(|config| {
				let PartialComponents { client, task_manager, import_queue, .. } =
					service::new_partial(&config)?;
				Ok((cmd.run(client, import_queue), task_manager))
			})
		},
		Some(Subcommand::ExportBlocks(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.async_run(|config| {
				let PartialComponents { client, task_manager, .. } = service::new_partial(&config)?;
				Ok((cmd.run(client, config.database), task_manager))
			})
		},
		Some(Subcommand::ExportState(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.async_run(|config| {
				let PartialComponents { client, task_manager, .. } = service::new_partial(&config)?;
				Ok((cmd.run(client, config.chain_spec), task_manager))
			})
		},
		Some(Subcommand::ImportBlocks(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.async_run(|config| {
				let PartialComponents { client, task_manager, import_queue, .. } =
					service::new_partial(&config)?;
				Ok((cmd.run(client, import_queue), task_manager))
			})
		},
		Some(Subcommand::PurgeChain(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.sync_run(|config| cmd.run(config.database))
		},
		Some(Subcommand::Revert(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.async_run(|config| {
				let PartialComponents { client, task_manager, backend, .. } =
					service::new_partial(&config)?;
				let aux_revert = Box::new(|client, _, blocks| {
					sc_consensus_grandpa::revert(client, blocks)?;
					Ok(())
				});
				Ok((cmd.run(client, backend, Some(aux_revert)), task_manager))
			})
		},
		#[cfg(feature = "runtime-benchmarks")]
		Some(Subcommand::Benchmark(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.sync_run(|config| match cmd {
				BenchmarkCmd::Pallet(cmd) => cmd
					.run_with_spec::<sp_runtime::traits::HashingFor<Block>, service::HostFunctions>(
						Some(config.chain_spec),
					),
				BenchmarkCmd::Block(cmd) => {
					let PartialComponents { client, .. } = service::new_partial(&config)?;
					cmd.run(client)
				},
				BenchmarkCmd::Machine(cmd) =>
					cmd.run(&config, SUBSTRATE_REFERENCE_HARDWARE.clone()),
				_ =>
					Err("this benchmark is not supported by arbiter-node; use `benchmark pallet`, \
				          `benchmark block` or `benchmark machine`"
						.into()),
			})
		},
		Some(Subcommand::ChainInfo(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.sync_run(|config| cmd.run::<Block>(&config))
		},
		None => {
			let runner = cli.create_runner(&cli.run)?;
			let inference = cli.inference.clone();
			runner.run_node_until_exit(|config| async move {
				check_ports_free(&config)?;
				// The engine loads before the node starts, so a bad models folder is one clear
				// error.
				let engine = if inference.enabled() {
					let base = config.base_path.path().to_path_buf();
					let chain = config.chain_spec.id().to_string();
					Some(
						crate::inference::start(&inference, &base, &chain)
							.map_err(sc_cli::Error::Input)?,
					)
				} else {
					None
				};
				match config.network.network_backend {
					sc_network::config::NetworkBackendType::Libp2p => service::new_full::<
						sc_network::NetworkWorker<
							Block,
							<Block as sp_runtime::traits::Block>::Hash,
						>,
					>(config, engine)
					.map_err(sc_cli::Error::Service),
					sc_network::config::NetworkBackendType::Litep2p =>
						service::new_full::<sc_network::Litep2pNetworkBackend>(config, engine)
							.map_err(sc_cli::Error::Service),
				}
			})
		},
	}
}
