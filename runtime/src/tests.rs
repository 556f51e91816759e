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

/// Model 0 (with `model_root`) registered by Alice and approved by `approver`, and Bob as its
/// provider (capacity 8) with Ferdie as operator.
pub(crate) fn approved_model_with_provider(model_root: [u8; 32], approver: RuntimeOrigin) {
	use frame_support::{assert_ok, BoundedVec};
	use pallet_compute_staking::{Hardware, Offer};
	use pallet_task_registry::{InputKind, IoSpec};
	assert_ok!(TaskRegistry::register_model(
		RuntimeOrigin::signed(Sr25519Keyring::Alice.to_account_id()),
		Default::default(),
		sp_core::H256(model_root),
		Default::default(),
		IoSpec { input: InputKind::Text, max_input_tokens: 256, output_width: 384 },
		1536,
		0,
		BoundedVec::default(),
	));
	assert_ok!(TaskRegistry::approve_model(approver, 0));
	let offer = Offer {
		models: BoundedVec::try_from(vec![0u32]).unwrap(),
		price: UNIT,
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
}

#[test]
fn development_preset_has_alice_as_only_authority_and_sudo() {
	ext_from_preset("development").execute_with(|| {
		let authorities = pallet_aura::Authorities::<Runtime>::get();
		assert_eq!(authorities.len(), 1);
		assert_eq!(pallet_grandpa::Pallet::<Runtime>::grandpa_authorities().len(), 1);
		assert_eq!(pallet_sudo::Key::<Runtime>::get(), Some(Sr25519Keyring::Alice.to_account_id()));
		let alice = Sr25519Keyring::Alice.to_account_id();
		assert_eq!(Balances::free_balance(&alice), genesis_config_presets::ENDOWMENT);
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
			assert_eq!(Balances::free_balance(&who.to_account_id()), genesis_config_presets::ENDOWMENT);
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
	let minimum_period: u64 = <<Runtime as pallet_timestamp::Config>::MinimumPeriod as Get<u64>>::get();
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
	use pallet_task_registry::{InputKind, IoSpec};
	ext_from_preset("development").execute_with(|| {
		System::set_block_number(1);
		let alice = Sr25519Keyring::Alice.to_account_id();
		let bob = Sr25519Keyring::Bob.to_account_id();
		let ferdie = Sr25519Keyring::Ferdie.to_account_id();
		assert_ok!(TaskRegistry::register_model(
			RuntimeOrigin::signed(alice),
			Default::default(),
			Default::default(),
			Default::default(),
			IoSpec { input: InputKind::Text, max_input_tokens: 256, output_width: 384 },
			1536,
			0,
			BoundedVec::default(),
		));
		let offer = Offer {
			models: BoundedVec::try_from(vec![0u32]).unwrap(),
			price: UNIT,
			capacity: 2,
			endpoint: BoundedVec::default(),
			hardware: Hardware::Cpu,
		};
		let stake = protocol::MinProviderStake::get();
		assert_noop!(
			ComputeStaking::register(RuntimeOrigin::signed(bob.clone()), stake, ferdie.clone(), offer.clone()),
			pallet_compute_staking::Error::<Runtime>::UnknownModel
		);
		assert_ok!(TaskRegistry::approve_model(RuntimeOrigin::root(), 0));
		assert_noop!(
			ComputeStaking::register(RuntimeOrigin::signed(bob.clone()), stake - 1, ferdie.clone(), offer.clone()),
			pallet_compute_staking::Error::<Runtime>::StakeBelowMinimum
		);
		assert_ok!(ComputeStaking::register(RuntimeOrigin::signed(bob.clone()), stake, ferdie.clone(), offer));
		assert_eq!(pallet_compute_staking::Operators::<Runtime>::get(&ferdie), Some(bob));
		ComputeStaking::do_try_state().unwrap();
	});
}
