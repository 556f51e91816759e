//! The operator key type (`arbi`, sr25519) as application crypto, for signing commits.

use arbiter_primitives::OPERATOR_KEY_TYPE;
use sp_core::crypto::KeyTypeId;
use sp_runtime::{
	app_crypto::{app_crypto, sr25519},
	MultiSignature, MultiSigner,
};

/// The key type of operator keys in the node keystore.
pub const KEY_TYPE: KeyTypeId = KeyTypeId(OPERATOR_KEY_TYPE);

app_crypto!(sr25519, KEY_TYPE);

/// Signs the worker's transactions with an operator key.
pub struct OperatorAuthId;

impl frame_system::offchain::AppCrypto<MultiSigner, MultiSignature> for OperatorAuthId {
	type RuntimeAppPublic = Public;
	type GenericSignature = sp_core::sr25519::Signature;
	type GenericPublic = sp_core::sr25519::Public;
}

/// For test runtimes whose accounts are sr25519 public keys.
impl frame_system::offchain::AppCrypto<sp_core::sr25519::Public, sp_core::sr25519::Signature>
	for OperatorAuthId
{
	type RuntimeAppPublic = Public;
	type GenericSignature = sp_core::sr25519::Signature;
	type GenericPublic = sp_core::sr25519::Public;
}
