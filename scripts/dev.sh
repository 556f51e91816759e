#!/usr/bin/env bash
# Sets up what is missing, builds the release node and starts a development chain
# (Alice authors and finalizes 6 s blocks) whose node also runs the provider worker with MiniLM
# (fetched from PyPI; Alice's operator key is inserted). RPC on ws://127.0.0.1:9944, Prometheus on :9615,
# and the web app (docs/web.md) at http://127.0.0.1:8080 (ARBITER_WEB_PORT), connected to the node.
# Extra arguments go to arbiter-node, e.g. `scripts/dev.sh --rpc-port 9955`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

ensure_apt_packages
ensure_rust
ensure_npm_deps
ensure_model
build_node
build_web_app

RPC_PORT=9944
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
	[ "${args[$i]}" = "--rpc-port" ] && RPC_PORT="${args[$((i + 1))]:-9944}"
done
WEB_PORT="${ARBITER_WEB_PORT:-8080}"
require_free_port "$RPC_PORT"
require_free_port 30333
require_free_port "$WEB_PORT"

# The web app, served from its build for as long as the node runs.
(cd "$ROOT/web/app" && exec "$ROOT/node_modules/.bin/vite" preview --port "$WEB_PORT" --strictPort --logLevel warn) &
web_pid=$!
trap 'kill "$web_pid" 2>/dev/null || true' EXIT
log "the web app: http://127.0.0.1:$WEB_PORT/?rpc=ws://127.0.0.1:$RPC_PORT"

log "starting the dev chain with a provider worker (MiniLM): polkadot.js apps can connect to ws://127.0.0.1:$RPC_PORT"
"$NODE_BIN" --dev --prometheus-port 9615 --provider --models-dir "$MODELS_DIR" "$@"
