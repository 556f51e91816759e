//! How a watcher reaches a provider's trace: the provider's registered endpoint, over the same
//! JSON-RPC methods this node serves (`arbiter_traceRow`, `arbiter_opening`; see
//! `arbiter_rpc.rs`). Substrate nodes serve HTTP and WebSocket on one port, so an `http(s)://`
//! endpoint is reached as `ws(s)://`.

use std::time::Duration;

use arbiter_inference::watch::RemoteTrace;
use arbiter_primitives::{NodeId, Opening};
use codec::Decode;
use jsonrpsee::{
	core::client::ClientT,
	rpc_params,
	ws_client::{WsClient, WsClientBuilder},
};

/// The WebSocket URL of a registered endpoint.
pub fn ws_url(endpoint: &str) -> Result<String, String> {
	let endpoint = endpoint.trim();
	for (from, to) in
		[("http://", "ws://"), ("https://", "wss://"), ("ws://", "ws://"), ("wss://", "wss://")]
	{
		if let Some(rest) = endpoint.strip_prefix(from) {
			if rest.is_empty() {
				break;
			}
			return Ok(format!("{to}{rest}"));
		}
	}
	Err(format!("endpoint {endpoint:?} is not an http(s):// or ws(s):// URL"))
}

/// One task's trace at a provider's node.
pub struct RpcTrace {
	client: WsClient,
	task: u64,
	runtime: tokio::runtime::Handle,
}

impl RpcTrace {
	/// Connects to `endpoint` (blocking the calling thread, which is the watcher's own).
	pub fn connect(
		runtime: tokio::runtime::Handle,
		endpoint: &str,
		task: u64,
	) -> Result<Self, String> {
		let url = ws_url(endpoint)?;
		let client = runtime
			.block_on(
				WsClientBuilder::default()
					.connection_timeout(Duration::from_secs(10))
					.request_timeout(Duration::from_secs(30))
					.build(&url),
			)
			.map_err(|e| format!("cannot connect to {url}: {e}"))?;
		Ok(Self { client, task, runtime })
	}
}

#[derive(serde::Deserialize)]
struct RowValues {
	values: Vec<f32>,
}

impl RemoteTrace for RpcTrace {
	fn row(&self, node: NodeId, row: u32) -> Result<Vec<f32>, String> {
		let r: RowValues = self
			.runtime
			.block_on(self.client.request("arbiter_traceRow", rpc_params![self.task, node, row]))
			.map_err(|e| e.to_string())?;
		Ok(r.values)
	}

	fn opening(&self, node: NodeId, row: u32, col: u32) -> Result<Opening, String> {
		let hex: String = self
			.runtime
			.block_on(
				self.client.request("arbiter_opening", rpc_params![self.task, node, row, col]),
			)
			.map_err(|e| e.to_string())?;
		let bytes =
			sp_core::bytes::from_hex(&hex).map_err(|e| format!("the opening is not hex: {e}"))?;
		Opening::decode(&mut &bytes[..]).map_err(|e| format!("the opening does not decode: {e}"))
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn endpoints_become_websocket_urls() {
		assert_eq!(ws_url("http://127.0.0.1:9944").unwrap(), "ws://127.0.0.1:9944");
		assert_eq!(ws_url("https://rpc.example.org").unwrap(), "wss://rpc.example.org");
		assert_eq!(ws_url(" ws://h:1 ").unwrap(), "ws://h:1");
		assert!(ws_url("").is_err());
		assert!(ws_url("http://").is_err());
		assert!(ws_url("ftp://x").unwrap_err().contains("not an http"));
	}
}
