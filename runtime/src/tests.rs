//! Runtime-level tests: genesis presets, token constants, protocol parameters.

use super::*;
use frame_support::traits::Get;
use sp_keyring::Sr25519Keyring;
use sp_runtime::BuildStorage;

pub(crate) fn ext_from_preset(id: &str) -> sp_io::TestExternalities {
	let json = genesis_config_presets::get_preset(&id.into()).expect("preset exists");
	let mut storage = frame_system::GenesisConfig::<Runtime>::default().build_storage().unwrap();
	let config: RuntimeGenesisConfig = serde_json::from_slice(&json).expect("preset is valid json");
	config.assimilate_storage(&mut storage).unwrap();
	storage.into()
}

/// A new model (with `model_root`) registered by Alice and approved by `approver`, and Bob as
/// its provider (capacity 8) with Ferdie as operator; the model's id.
pub(crate) fn approved_model_with_provider(
	model_root: [u8; 32],
	approver: RuntimeOrigin,
) -> pallet_task_registry::ModelId {
	approved_model_of_kind_with_provider(
		model_root,
		approver,
		pallet_task_registry::ModelKind::Embedding { output_width: 384 },
	)
}

/// [`approved_model_with_provider`] for a model of `kind`; Bob's offer asks 1 ARBT a task and
/// 0.01 ARBT a generated token.
pub(crate) fn approved_model_of_kind_with_provider(
	model_root: [u8; 32],
	approver: RuntimeOrigin,
	kind: pallet_task_registry::ModelKind,
) -> pallet_task_registry::ModelId {
	use frame_support::{assert_ok, BoundedVec};
	use pallet_compute_staking::{Hardware, Offer};
	use pallet_task_registry::{InputKind, IoSpec};
	let model = pallet_task_registry::NextModelId::<Runtime>::get();
	assert_ok!(TaskRegistry::register_model(
		RuntimeOrigin::signed(Sr25519Keyring::Alice.to_account_id()),
		Default::default(),
		sp_core::H256(model_root),
		Default::default(),
		IoSpec { input: InputKind::TokenIds { vocabulary: 30_522 }, max_input_tokens: 256, kind },
		1536,
		0,
		BoundedVec::default(),
	));
	assert_ok!(TaskRegistry::approve_model(approver, model));
	let offer = Offer {
		models: BoundedVec::try_from(vec![model]).unwrap(),
		price: UNIT,
		price_per_token: UNIT / 100,
		capacity: 8,
		endpoint: BoundedVec::default(),
		hardware: Hardware::Cpu,
	};
	assert_ok!(ComputeStaking::register(
		RuntimeOrigin::signed(Sr25519Keyring::Bob.to_account_id()),
		dynamic_params::protocol::MinProviderStake::get(),
		Sr25519Keyring::Ferdie.to_account_id(),
		offer,
	));
	model
}

#[test]
fn development_preset_has_alice_as_only_authority_and_sudo() {
	ext_from_preset("development").execute_with(|| {
		let authorities = pallet_aura::Authorities::<Runtime>::get();
		assert_eq!(authorities.len(), 1);
		assert_eq!(pallet_grandpa::Pallet::<Runtime>::grandpa_authorities().len(), 1);
		assert_eq!(pallet_sudo::Key::<Runtime>::get(), Some(Sr25519Keyring::Alice.to_account_id()));
		let alice = Sr25519Keyring::Alice.to_account_id();
		// Alice's endowment, less her provider stake and the deposits of her two models (MiniLM
		// and SmolLM2), which are held.
		let deposit: Balance =
			<<Runtime as pallet_task_registry::Config>::ModelDeposit as Get<Balance>>::get();
		let held = genesis_config_presets::DEV_PROVIDER_STAKE + 2 * deposit;
		assert_eq!(Balances::free_balance(&alice), genesis_config_presets::ENDOWMENT - held);
		assert_eq!(
			<Balances as frame_support::traits::fungible::Inspect<_>>::total_balance(&alice),
			genesis_config_presets::ENDOWMENT
		);
	});
}

#[test]
fn development_preset_serves_minilm_and_smollm2_with_alice_as_provider() {
	ext_from_preset("development").execute_with(|| {
		let pinned = arbiter_primitives::known_models::MINILM_L6_V2;
		let alice = Sr25519Keyring::Alice.to_account_id();
		let model = TaskRegistry::model(0).expect("model 0 exists");
		assert_eq!(model.status, pallet_task_registry::ModelStatus::Approved);
		assert_eq!(
			(model.descriptor_hash.0, model.model_root.0, model.tokenizer_hash.0),
			(pinned.descriptor_hash, pinned.model_root, pinned.tokenizer_hash)
		);
		assert_eq!(
			(model.io.max_input_tokens, model.io.kind, model.max_row_width),
			(256, pallet_task_registry::ModelKind::Embedding { output_width: 384 }, 1536)
		);
		assert_eq!(model.owner, alice);
		let provider =
			pallet_compute_staking::Providers::<Runtime>::get(&alice).expect("Alice provides");
		assert_eq!(provider.operator, alice);
		assert_eq!(provider.active, genesis_config_presets::DEV_PROVIDER_STAKE);
		assert_eq!(provider.offer.models.into_inner(), vec![0, 1]);
		// Model 1: SmolLM2, a generation model with its pinned commitments and limits.
		let g = arbiter_primitives::known_models::SMOLLM2_135M_INSTRUCT;
		let smollm2 = TaskRegistry::model(1).expect("model 1 exists");
		assert_eq!(smollm2.status, pallet_task_registry::ModelStatus::Approved);
		assert_eq!(
			(smollm2.descriptor_hash.0, smollm2.model_root.0, smollm2.tokenizer_hash.0),
			(g.descriptor_hash, g.model_root, g.tokenizer_hash)
		);
		assert_eq!(
			smollm2.io.kind,
			pallet_task_registry::ModelKind::Generation {
				max_new_tokens: g.max_new_tokens,
				max_context: g.max_context,
				stop_token: g.stop_token
			}
		);
		assert_eq!(
			provider.offer.price_per_token,
			genesis_config_presets::DEV_PROVIDER_PRICE_PER_TOKEN
		);
		assert_eq!(
			provider.offer.endpoint.into_inner(),
			genesis_config_presets::DEV_PROVIDER_ENDPOINT.as_bytes()
		);
		assert_eq!(pallet_compute_staking::Operators::<Runtime>::get(&alice), Some(alice.clone()));
		ComputeStaking::do_try_state().unwrap();
		TaskRegistry::do_try_state().unwrap();
		// A task for MiniLM is assigned to her at once.
		System::set_block_number(1);
		frame_support::assert_ok!(TaskRegistry::submit_task(
			RuntimeOrigin::signed(Sr25519Keyring::Charlie.to_account_id()),
			0,
			// "A man is eating food." as MiniLM's tokenizer gives it.
			frame_support::BoundedVec::try_from(vec![101, 1037, 2158, 2003, 5983, 2833, 1012, 102])
				.unwrap(),
			10 * UNIT,
		));
		assert!(matches!(
			pallet_task_registry::Tasks::<Runtime>::get(0).unwrap().status,
			pallet_task_registry::TaskStatus::Assigned { operator, .. } if operator == alice
		));
	});
}

#[test]
fn local_testnet_preset_registers_no_models() {
	ext_from_preset("local_testnet").execute_with(|| {
		assert!(TaskRegistry::model(0).is_none());
		assert_eq!(pallet_compute_staking::ProviderCount::<Runtime>::get(), 0);
	});
}

#[test]
fn local_testnet_preset_has_four_authorities() {
	ext_from_preset("local_testnet").execute_with(|| {
		assert_eq!(pallet_aura::Authorities::<Runtime>::get().len(), 4);
		assert_eq!(pallet_grandpa::Pallet::<Runtime>::grandpa_authorities().len(), 4);
		// No sudo outside the development preset: referenda govern.
		assert_eq!(pallet_sudo::Key::<Runtime>::get(), None);
		for who in [Sr25519Keyring::Bob, Sr25519Keyring::Charlie, Sr25519Keyring::Dave] {
			assert_eq!(
				Balances::free_balance(who.to_account_id()),
				genesis_config_presets::ENDOWMENT
			);
		}
	});
}

#[test]
fn unknown_preset_is_refused() {
	assert!(genesis_config_presets::get_preset(&"mainnet-typo".into()).is_none());
	assert_eq!(genesis_config_presets::preset_names().len(), 2);
}

#[test]
fn block_time_and_token_are_as_documented() {
	assert_eq!(MILLI_SECS_PER_BLOCK, 6000);
	assert_eq!(UNIT, 10u128.pow(TOKEN_DECIMALS as u32));
	assert_eq!(TOKEN_SYMBOL, "ARBT");
	let minimum_period: u64 =
		<<Runtime as pallet_timestamp::Config>::MinimumPeriod as Get<u64>>::get();
	assert_eq!(minimum_period * 2, SLOT_DURATION);
}

#[test]
fn root_changes_a_protocol_parameter_and_others_cannot() {
	use dynamic_params::protocol;
	ext_from_preset("development").execute_with(|| {
		System::set_block_number(1);
		assert_eq!(protocol::ChallengeWindow::get(), 10);
		let set = RuntimeParameters::Protocol(protocol::Parameters::ChallengeWindow(
			protocol::ChallengeWindow,
			Some(42),
		));
		let bob = RuntimeOrigin::signed(Sr25519Keyring::Bob.to_account_id());
		assert!(Parameters::set_parameter(bob, set.clone()).is_err());
		assert_eq!(protocol::ChallengeWindow::get(), 10);
		assert!(Parameters::set_parameter(RuntimeOrigin::root(), set).is_ok());
		assert_eq!(protocol::ChallengeWindow::get(), 42);
	});
}

#[test]
fn providers_register_only_for_approved_models_with_the_governed_minimum() {
	use dynamic_params::protocol;
	use frame_support::{assert_noop, assert_ok, BoundedVec};
	use pallet_compute_staking::{Hardware, Offer};
	use pallet_task_registry::{InputKind, IoSpec, ModelKind};
	ext_from_preset("development").execute_with(|| {
		System::set_block_number(1);
		let alice = Sr25519Keyring::Alice.to_account_id();
		let bob = Sr25519Keyring::Bob.to_account_id();
		let ferdie = Sr25519Keyring::Ferdie.to_account_id();
		let model = pallet_task_registry::NextModelId::<Runtime>::get();
		assert_ok!(TaskRegistry::register_model(
			RuntimeOrigin::signed(alice),
			Default::default(),
			Default::default(),
			Default::default(),
			IoSpec {
				input: InputKind::TokenIds { vocabulary: 30_522 },
				max_input_tokens: 256,
				kind: ModelKind::Embedding { output_width: 384 }
			},
			1536,
			0,
			BoundedVec::default(),
		));
		let offer = Offer {
			models: BoundedVec::try_from(vec![model]).unwrap(),
			price: UNIT,
			price_per_token: 0,
			capacity: 2,
			endpoint: BoundedVec::default(),
			hardware: Hardware::Cpu,
		};
		let stake = protocol::MinProviderStake::get();
		assert_noop!(
			ComputeStaking::register(
				RuntimeOrigin::signed(bob.clone()),
				stake,
				ferdie.clone(),
				offer.clone()
			),
			pallet_compute_staking::Error::<Runtime>::UnknownModel
		);
		assert_ok!(TaskRegistry::approve_model(RuntimeOrigin::root(), model));
		assert_noop!(
			ComputeStaking::register(
				RuntimeOrigin::signed(bob.clone()),
				stake - 1,
				ferdie.clone(),
				offer.clone()
			),
			pallet_compute_staking::Error::<Runtime>::StakeBelowMinimum
		);
		assert_ok!(ComputeStaking::register(
			RuntimeOrigin::signed(bob.clone()),
			stake,
			ferdie.clone(),
			offer
		));
		assert_eq!(pallet_compute_staking::Operators::<Runtime>::get(&ferdie), Some(bob));
		ComputeStaking::do_try_state().unwrap();
	});
}

#[test]
fn the_runtime_draws_about_one_result_in_twenty_for_audit_never_to_its_provider() {
	use dynamic_params::protocol;
	use frame_support::{assert_ok, traits::Hooks, BoundedVec};
	use pallet_compute_staking::{Hardware, Offer};
	use sp_runtime::Perbill;
	ext_from_preset("development").execute_with(|| {
		System::set_block_number(1);
		// The genesis rate (docs/economics.md: cheating and lazy auditing both lose money).
		assert_eq!(protocol::AuditRate::get(), Perbill::from_percent(5));
		let [alice, bob, charlie, dave, ferdie] = [
			Sr25519Keyring::Alice,
			Sr25519Keyring::Bob,
			Sr25519Keyring::Charlie,
			Sr25519Keyring::Dave,
			Sr25519Keyring::Ferdie,
		]
		.map(|k| k.to_account_id());
		// Two providers of one model (Bob, operator Ferdie; Charlie, operator Dave), with room
		// for every task of the test: each can audit the other.
		let model = approved_model_with_provider([9; 32], RuntimeOrigin::root());
		let offer = Offer {
			models: BoundedVec::try_from(vec![model]).unwrap(),
			price: UNIT,
			price_per_token: 0,
			capacity: 1_000,
			endpoint: BoundedVec::default(),
			hardware: Hardware::Cpu,
		};
		assert_ok!(ComputeStaking::update_offer(RuntimeOrigin::signed(bob.clone()), offer.clone()));
		assert_ok!(ComputeStaking::register(
			RuntimeOrigin::signed(charlie.clone()),
			protocol::MinProviderStake::get(),
			dave.clone(),
			offer,
		));
		// 20 blocks of 20 commits each, each block's commits drawn in the next one's hook.
		let (mut committed, mut drawn) = (0u32, 0u32);
		for block in 1..=20u32 {
			for _ in 0..20 {
				let task = pallet_task_registry::NextTaskId::<Runtime>::get();
				assert_ok!(TaskRegistry::submit_task(
					RuntimeOrigin::signed(alice.clone()),
					model,
					BoundedVec::try_from(vec![101, 7592, 102]).unwrap(),
					10 * UNIT,
				));
				let output = BoundedVec::try_from(vec![0u8; 1536]).unwrap();
				let by_ferdie = TaskRegistry::commit_result(
					RuntimeOrigin::signed(ferdie.clone()),
					task,
					output.clone(),
					None,
				);
				if by_ferdie.is_err() {
					assert_ok!(TaskRegistry::commit_result(
						RuntimeOrigin::signed(dave.clone()),
						task,
						output,
						None
					));
				}
				committed += 1;
			}
			System::reset_events();
			System::set_block_number(block + 1);
			System::set_parent_hash(sp_core::H256(sp_io::hashing::blake2_256(
				&block.to_le_bytes(),
			)));
			Audits::on_initialize(block + 1);
			for record in System::events() {
				if let RuntimeEvent::Audits(pallet_audits::Event::AuditDrawn {
					provider,
					auditors,
					..
				}) = record.event
				{
					drawn += 1;
					let other = if provider == bob { &charlie } else { &bob };
					assert_eq!(auditors.into_inner(), vec![other.clone()], "the other provider");
				}
			}
		}
		assert_eq!(committed, 400);
		// 5 % of 400 is 20 (binomial standard deviation 4.4); the draw is deterministic here.
		assert!((8..=36).contains(&drawn), "{drawn} of {committed} drawn");
	});
}

#[test]
fn the_parameters_api_reports_every_parameter_in_its_bounds_and_follows_changes() {
	use dynamic_params::protocol;
	use pallet_protocol_parameters::ParameterUnit;
	ext_from_preset("development").execute_with(|| {
		System::set_block_number(1);
		let all = configs::parameters::protocol_parameters();
		let names: Vec<_> =
			all.iter().map(|p| String::from_utf8(p.name.clone()).unwrap()).collect();
		// Every key of `protocol::Parameters` once (index 11 was retired).
		assert_eq!(all.len(), 21);
		assert_eq!(names.iter().collect::<std::collections::BTreeSet<_>>().len(), 21);
		for p in &all {
			assert!(p.min <= p.value && p.value <= p.max, "{:?}", p);
		}
		let find = |name: &str| all.iter().find(|p| p.name == name.as_bytes()).unwrap().clone();
		let audit = find("AuditRate");
		assert_eq!(audit.unit, ParameterUnit::Perbill);
		assert_eq!((audit.value, audit.min, audit.max), (50_000_000, 0, 1_000_000_000));
		let price = find("MinTaskPrice");
		assert_eq!((price.unit, price.value, price.min), (ParameterUnit::Balance, UNIT / 1_000, 1));
		// A change is what the API reports next.
		assert!(Parameters::set_parameter(
			RuntimeOrigin::root(),
			RuntimeParameters::Protocol(protocol::Parameters::ChallengeWindow(
				protocol::ChallengeWindow,
				Some(42),
			)),
		)
		.is_ok());
		assert_eq!(configs::parameters::protocol_parameters()[3].name, b"ChallengeWindow".to_vec());
		assert_eq!(configs::parameters::protocol_parameters()[3].value, 42);
	});
}
