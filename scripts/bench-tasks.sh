#!/usr/bin/env bash
# Provider throughput on this machine: a fresh dev node with the provider worker (MiniLM), one
# task alone (blocks from submission to commit; target ≤ 2), then N tasks in waves of WAVE per
# block (sustained tasks per minute). Prints one JSON line for docs/benchmarks.md.
#
#   scripts/bench-tasks.sh [N=240] [WAVE=48]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
N="${1:-240}"
WAVE="${2:-48}"
ensure_rust
ensure_npm_deps
ensure_model
build_node
RPC_PORT="${ARBITER_BENCH_RPC_PORT:-19966}"
P2P_PORT="${ARBITER_BENCH_P2P_PORT:-19366}"
require_free_port "$RPC_PORT"
require_free_port "$P2P_PORT"
WORK="$(mktemp -d /tmp/arbiter-bench-tasks.XXXXXX)"
setsid "$NODE_BIN" --dev --base-path "$WORK/dev" --rpc-port "$RPC_PORT" --port "$P2P_PORT" --no-prometheus --no-mdns \
	--provider --models-dir "$MODELS_DIR" >"$WORK/node.log" 2>&1 &
pid=$!
trap 'kill -- "-$pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT
wait_for_rpc "$RPC_PORT" "$pid"
log "submitting 1 task, then $N in waves of $WAVE per block"
(cd "$ROOT/scripts/js" && ARBITER_WS="ws://127.0.0.1:$RPC_PORT" ARBITER_MINILM_DIR="$MINILM_DIR" node bench/tasks.js "$N" "$WAVE")
