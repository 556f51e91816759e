//! What an operator alerts on about its providers, from the chain (docs/operations.md, "Metrics
//! and alerts"): for every operator key in this node's keystore (`arbi`) that runs a provider,
//! its record in the best block (`ComputeStakingApi`), read when Prometheus scrapes. The labels
//! name the provider (SS58).
//!
//! - `arbiter_provider_tasks_in_flight`, `arbiter_provider_disputes_open`;
//! - `arbiter_provider_tasks_completed`, `arbiter_provider_tasks_missed`,
//!   `arbiter_provider_disputes_won`, `arbiter_provider_disputes_lost` (the reputation's counts:
//!   they only grow while the provider stays registered);
//! - `arbiter_provider_jailed`, `arbiter_provider_paused` (0 or 1);
//! - `arbiter_provider_active_stake_arbt`, `arbiter_provider_reputation` (0 to 1).

use std::sync::Arc;

use arbiter_runtime::{AccountId, Runtime};
use pallet_compute_staking::{runtime_api::ComputeStakingApi, ProviderOf, ProviderStatus};
use sp_api::ProvideRuntimeApi;
use sp_blockchain::HeaderBackend;
use sp_core::crypto::{KeyTypeId, Ss58Codec};
use sp_keystore::KeystorePtr;
use substrate_prometheus_endpoint::{
	register, MetricSource, Opts, PrometheusError, Registry, SourcedGauge,
};

use crate::service::FullClient;

/// One number of a provider's record.
#[derive(Clone, Copy)]
enum Field {
	TasksInFlight,
	DisputesOpen,
	TasksCompleted,
	TasksMissed,
	DisputesWon,
	DisputesLost,
	Jailed,
	Paused,
	ActiveStakeArbt,
	Reputation,
}

impl Field {
	fn read(self, p: &ProviderOf<Runtime>) -> f64 {
		match self {
			Field::TasksInFlight => p.tasks_in_flight as f64,
			Field::DisputesOpen => p.open_disputes as f64,
			Field::TasksCompleted => p.reputation.completed as f64,
			Field::TasksMissed => p.reputation.missed as f64,
			Field::DisputesWon => p.reputation.disputes_won as f64,
			Field::DisputesLost => p.reputation.disputes_lost as f64,
			Field::Jailed => (p.status == ProviderStatus::Jailed) as u8 as f64,
			Field::Paused => (p.status == ProviderStatus::Paused) as u8 as f64,
			Field::ActiveStakeArbt => p.active as f64 / arbiter_runtime::UNIT as f64,
			Field::Reputation => p.reputation.score().deconstruct() as f64 / 1e9,
		}
	}
}

/// The providers this node operates, read at the best block.
#[derive(Clone)]
struct Providers {
	client: Arc<FullClient>,
	keystore: KeystorePtr,
	field: Field,
}

impl MetricSource for Providers {
	type N = f64;
	fn collect(&self, mut set: impl FnMut(&[&str], f64)) {
		let best = self.client.info().best_hash;
		let api = self.client.runtime_api();
		let keys = self
			.keystore
			.sr25519_public_keys(KeyTypeId(arbiter_primitives::OPERATOR_KEY_TYPE));
		for key in keys {
			let operator = AccountId::from(key);
			let Ok(Some(provider)) = api.provider_of_operator(best, operator) else { continue };
			let Ok(Some(info)) = api.provider(best, provider.clone()) else { continue };
			set(&[&provider.to_ss58check()], self.field.read(&info));
		}
	}
}

/// Registers the metrics on `registry`.
pub fn register_metrics(
	client: Arc<FullClient>,
	keystore: KeystorePtr,
	registry: &Registry,
) -> Result<(), PrometheusError> {
	let metrics = [
		(
			"arbiter_provider_tasks_in_flight",
			"Tasks assigned and not yet ended",
			Field::TasksInFlight,
		),
		(
			"arbiter_provider_disputes_open",
			"Disputes open against the provider",
			Field::DisputesOpen,
		),
		(
			"arbiter_provider_tasks_completed",
			"Tasks committed and finalized",
			Field::TasksCompleted,
		),
		("arbiter_provider_tasks_missed", "Assignment deadlines missed", Field::TasksMissed),
		("arbiter_provider_disputes_won", "Disputes ruled for the provider", Field::DisputesWon),
		("arbiter_provider_disputes_lost", "Disputes lost (each one slashed)", Field::DisputesLost),
		("arbiter_provider_jailed", "1 while jailed after a slash", Field::Jailed),
		("arbiter_provider_paused", "1 while paused", Field::Paused),
		(
			"arbiter_provider_active_stake_arbt",
			"Bonded stake backing tasks, ARBT",
			Field::ActiveStakeArbt,
		),
		("arbiter_provider_reputation", "Reputation score, 0 to 1", Field::Reputation),
	];
	for (name, help, field) in metrics {
		let source = Providers { client: client.clone(), keystore: keystore.clone(), field };
		register(
			SourcedGauge::new(&Opts::new(name, help).variable_label("provider"), source)?,
			registry,
		)?;
	}
	Ok(())
}
