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
	[pallet_audits, Audits]
	[pallet_protocol_parameters, ProtocolParameters]
	[pallet_scheduler, Scheduler]
	[pallet_preimage, Preimage]
	[pallet_referenda, Referenda]
	[pallet_conviction_voting, ConvictionVoting]
	[pallet_treasury, Treasury]
);
