//! Built-in chain specifications (`dev`, `local`) and loading of chain-spec files.

use arbiter_runtime::{SS58_PREFIX, TOKEN_DECIMALS, TOKEN_SYMBOL, WASM_BINARY};
use sc_service::ChainType;

/// The chain specification type of this node (no chain-spec extensions).
pub type ChainSpec = sc_service::GenericChainSpec;

/// Token symbol, decimals and address format, shown by wallets such as polkadot.js.
fn properties() -> sc_service::Properties {
	let mut properties = sc_service::Properties::new();
	properties.insert("tokenSymbol".into(), TOKEN_SYMBOL.into());
	properties.insert("tokenDecimals".into(), TOKEN_DECIMALS.into());
	properties.insert("ss58Format".into(), SS58_PREFIX.into());
	properties
}

fn wasm_binary() -> Result<&'static [u8], String> {
	WASM_BINARY.ok_or_else(|| {
		"the runtime wasm is not built into this node (was it built with SKIP_WASM_BUILD?)"
			.to_string()
	})
}

/// The development chain: Alice alone authors and finalizes blocks.
pub fn development_config() -> Result<ChainSpec, String> {
	Ok(ChainSpec::builder(wasm_binary()?, None)
		.with_name("Arbiter Development")
		.with_id("arbiter_dev")
		.with_chain_type(ChainType::Development)
		.with_genesis_config_preset_name(sp_genesis_builder::DEV_RUNTIME_PRESET)
		.with_properties(properties())
		.build())
}

/// The local testnet: Alice, Bob, Charlie and Dave are validators.
pub fn local_testnet_config() -> Result<ChainSpec, String> {
	Ok(ChainSpec::builder(wasm_binary()?, None)
		.with_name("Arbiter Local Testnet")
		.with_id("arbiter_local_testnet")
		.with_chain_type(ChainType::Local)
		.with_genesis_config_preset_name(sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET)
		.with_properties(properties())
		.build())
}

/// Resolves `--chain ID`: a built-in name or the path of a chain-spec JSON file. Errors are one
/// line and say what was expected.
pub fn load(id: &str) -> Result<Box<dyn sc_service::ChainSpec>, String> {
	Ok(match id {
		"dev" | "development" => Box::new(development_config()?),
		"" | "local" | "local_testnet" => Box::new(local_testnet_config()?),
		path => {
			let file = std::path::PathBuf::from(path);
			if !file.is_file() {
				return Err(format!(
					"unknown chain '{path}': expected 'dev', 'local' or the path of a chain-spec JSON file"
				));
			}
			let spec = ChainSpec::from_json_file(file).map_err(|e| {
				format!("chain-spec file '{path}' is not a valid chain spec: {}", one_line(&e))
			})?;
			Box::new(spec)
		},
	})
}

fn one_line(s: &str) -> String {
	s.split_whitespace().collect::<Vec<_>>().join(" ")
}
