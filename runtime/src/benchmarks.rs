//! The pallets whose benchmarks the node's `benchmark pallet` subcommand runs.

frame_benchmarking::define_benchmarks!(
	[frame_benchmarking, BaselineBench::<Runtime>]
	[frame_system, SystemBench::<Runtime>]
	[frame_system_extensions, SystemExtensionsBench::<Runtime>]
	[pallet_balances, Balances]
	[pallet_timestamp, Timestamp]
	[pallet_sudo, Sudo]
	[pallet_utility, Utility]
	[pallet_parameters, Parameters]
	[pallet_compute_staking, ComputeStaking]
	[pallet_task_registry, TaskRegistry]
	[pallet_challenges, Challenges]
);
