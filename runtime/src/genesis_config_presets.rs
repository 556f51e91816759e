//! Genesis presets: `development` (Alice alone authors and finalizes; MiniLM (model 0) and
//! SmolLM2-135M-Instruct (model 1, generation) are registered and approved, and Alice provides
//! both with her own operator key, so `arbiter-node --dev --provider` serves MiniLM tasks out of
//! the box, and generation tasks with `--gguf` and SmolLM2's file) and `local_testnet` (Alice, Bob,
//! Charlie and Dave; GRANDPA needs more than 2/3 of the votes, so four validators survive the loss
//! of one).

use crate::{AccountId, BalancesConfig, RuntimeGenesisConfig, SudoConfig, UNIT};
use alloc::{vec, vec::Vec};
use serde_json::Value;
use sp_consensus_aura::sr25519::AuthorityId as AuraId;
use sp_consensus_grandpa::AuthorityId as GrandpaId;
use sp_genesis_builder::{self, PresetId};
use sp_keyring::{Ed25519Keyring, Sr25519Keyring};

/// Balance given to every endowed development account: one million ARBT.
pub const ENDOWMENT: crate::Balance = 1_000_000 * UNIT;

/// Alice's stake as the development chain's MiniLM provider.
pub const DEV_PROVIDER_STAKE: crate::Balance = 10_000 * UNIT;
/// Her price per task.
pub const DEV_PROVIDER_PRICE: crate::Balance = 2 * UNIT;
/// Her price per generated token (generation tasks; docs/tasks.md).
pub const DEV_PROVIDER_PRICE_PER_TOKEN: crate::Balance = UNIT / 100;
/// The endpoint she serves traces on: a dev node's default RPC address.
pub const DEV_PROVIDER_ENDPOINT: &str = "http://127.0.0.1:9944";

/// MiniLM and SmolLM2 (pinned commitments, `arbiter_primitives::known_models`), owned by Alice,
/// approved.
fn dev_models() -> Vec<pallet_task_registry::GenesisModel<AccountId>> {
	let m = arbiter_primitives::known_models::MINILM_L6_V2;
	let g = arbiter_primitives::known_models::SMOLLM2_135M_INSTRUCT;
	let smollm2 = pallet_task_registry::GenesisModel {
		owner: Sr25519Keyring::Alice.to_account_id(),
		descriptor_hash: g.descriptor_hash.into(),
		model_root: g.model_root.into(),
		tokenizer_hash: g.tokenizer_hash.into(),
		max_input_tokens: g.max_input_tokens,
		vocabulary: g.vocabulary,
		kind: pallet_task_registry::ModelKind::Generation {
			max_new_tokens: g.max_new_tokens,
			max_context: g.max_context,
			stop_token: g.stop_token,
		},
		max_row_width: g.max_row_width,
		slack_bits: 0,
		metadata: g.name.as_bytes().to_vec(),
	};
	vec![
		pallet_task_registry::GenesisModel {
			owner: Sr25519Keyring::Alice.to_account_id(),
			descriptor_hash: m.descriptor_hash.into(),
			model_root: m.model_root.into(),
			tokenizer_hash: m.tokenizer_hash.into(),
			max_input_tokens: m.max_input_tokens,
			vocabulary: m.vocabulary,
			kind: pallet_task_registry::ModelKind::Embedding { output_width: m.output_width },
			max_row_width: m.max_row_width,
			slack_bits: 0,
			metadata: m.name.as_bytes().to_vec(),
		},
		smollm2,
	]
}

/// Alice provides model 0 (MiniLM) and model 1 (SmolLM2) with her own operator key (`//Alice`,
/// which a dev node started with `--provider` inserts itself).
fn dev_providers() -> Vec<pallet_compute_staking::GenesisProvider<AccountId, crate::Balance>> {
	let alice = Sr25519Keyring::Alice.to_account_id();
	vec![pallet_compute_staking::GenesisProvider {
		stash: alice.clone(),
		stake: DEV_PROVIDER_STAKE,
		operator: alice,
		models: vec![0, 1],
		price: DEV_PROVIDER_PRICE,
		price_per_token: DEV_PROVIDER_PRICE_PER_TOKEN,
		capacity: 8,
		endpoint: DEV_PROVIDER_ENDPOINT.as_bytes().to_vec(),
		gpu: false,
	}]
}

fn authority_keys(who: Sr25519Keyring) -> (AuraId, GrandpaId) {
	// Aura signs with sr25519, GRANDPA votes with ed25519, both from the same dev seed.
	let ed = match who {
		Sr25519Keyring::Alice => Ed25519Keyring::Alice,
		Sr25519Keyring::Bob => Ed25519Keyring::Bob,
		Sr25519Keyring::Charlie => Ed25519Keyring::Charlie,
		Sr25519Keyring::Dave => Ed25519Keyring::Dave,
		Sr25519Keyring::Eve => Ed25519Keyring::Eve,
		Sr25519Keyring::Ferdie => Ed25519Keyring::Ferdie,
		_ => Ed25519Keyring::One,
	};
	(who.public().into(), ed.public().into())
}

fn endowed_dev_accounts() -> Vec<AccountId> {
	let mut accounts: Vec<AccountId> = Sr25519Keyring::iter()
		.filter(|k| k != &Sr25519Keyring::One && k != &Sr25519Keyring::Two)
		.map(|k| k.to_account_id())
		.collect();
	// The treasury account exists from genesis, so fees below the existential deposit land.
	accounts.push(crate::configs::TreasuryAccount::get());
	accounts
}

/// The genesis state as JSON, for the given authorities, endowed accounts and sudo key (only
/// the development preset has one; other chains are governed by referenda).
fn testnet_genesis(
	initial_authorities: Vec<(AuraId, GrandpaId)>,
	endowed_accounts: Vec<AccountId>,
	root: Option<AccountId>,
	models: Vec<pallet_task_registry::GenesisModel<AccountId>>,
	providers: Vec<pallet_compute_staking::GenesisProvider<AccountId, crate::Balance>>,
) -> Value {
	let config = RuntimeGenesisConfig {
		balances: BalancesConfig {
			balances: endowed_accounts.iter().cloned().map(|k| (k, ENDOWMENT)).collect::<Vec<_>>(),
			..Default::default()
		},
		aura: pallet_aura::GenesisConfig {
			authorities: initial_authorities.iter().map(|x| x.0.clone()).collect::<Vec<_>>(),
		},
		grandpa: pallet_grandpa::GenesisConfig {
			authorities: initial_authorities.iter().map(|x| (x.1.clone(), 1)).collect::<Vec<_>>(),
			..Default::default()
		},
		sudo: SudoConfig { key: root },
		task_registry: pallet_task_registry::GenesisConfig { models },
		compute_staking: pallet_compute_staking::GenesisConfig { providers },
		..Default::default()
	};

	// Serializing a plain config struct to JSON cannot fail; an empty object would be rejected
	// by the node at chain-spec build time rather than silently accepted.
	serde_json::to_value(config).unwrap_or(Value::Null)
}

/// The development preset: Alice is the only authority, the sudo key and MiniLM's provider.
pub fn development_config_genesis() -> Value {
	testnet_genesis(
		vec![authority_keys(Sr25519Keyring::Alice)],
		endowed_dev_accounts(),
		Some(Sr25519Keyring::Alice.to_account_id()),
		dev_models(),
		dev_providers(),
	)
}

/// The local testnet preset: Alice, Bob, Charlie and Dave are authorities; no sudo (OpenGov).
pub fn local_config_genesis() -> Value {
	testnet_genesis(
		vec![
			authority_keys(Sr25519Keyring::Alice),
			authority_keys(Sr25519Keyring::Bob),
			authority_keys(Sr25519Keyring::Charlie),
			authority_keys(Sr25519Keyring::Dave),
		],
		endowed_dev_accounts(),
		None,
		Vec::new(),
		Vec::new(),
	)
}

/// The JSON of the preset named `id`, if there is one.
pub fn get_preset(id: &PresetId) -> Option<Vec<u8>> {
	let patch = match id.as_ref() {
		sp_genesis_builder::DEV_RUNTIME_PRESET => development_config_genesis(),
		sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET => local_config_genesis(),
		_ => return None,
	};
	serde_json::to_string(&patch).ok().map(|s| s.into_bytes())
}

/// The names of the presets this runtime provides.
pub fn preset_names() -> Vec<PresetId> {
	vec![
		PresetId::from(sp_genesis_builder::DEV_RUNTIME_PRESET),
		PresetId::from(sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET),
	]
}
