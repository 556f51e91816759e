#!/usr/bin/env bash
# Generation tasks on this machine: a fresh dev node with the provider worker serving SmolLM2
# (`--gguf`), one chat generation of up to NEW_TOKENS alone (submit → commit in blocks and
# seconds), then N submitted together (generations and tokens per minute). Prints one JSON line
# for docs/benchmarks.md.
#
#   scripts/bench-gen-tasks.sh [N=16] [NEW_TOKENS=32]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
N="${1:-16}"
NEW_TOKENS="${2:-32}"
ensure_rust
ensure_npm_deps
ensure_model
ensure_smollm2
build_node
(cd "$ROOT" && cargo build --release --locked -q -p arbiter-inference --bin arbiter-infer)
RPC_PORT="${ARBITER_BENCH_RPC_PORT:-19967}"
P2P_PORT="${ARBITER_BENCH_P2P_PORT:-19367}"
require_free_port "$RPC_PORT"
require_free_port "$P2P_PORT"
WORK="$(mktemp -d /tmp/arbiter-bench-gen.XXXXXX)"
setsid "$NODE_BIN" --dev --base-path "$WORK/dev" --rpc-port "$RPC_PORT" --port "$P2P_PORT" --no-prometheus --no-mdns \
	--provider --models-dir "$MODELS_DIR" --gguf "$ARBITER_SMOLLM2_GGUF" >"$WORK/node.log" 2>&1 &
pid=$!
trap 'kill -- "-$pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT
wait_for_rpc "$RPC_PORT" "$pid"
log "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); 1 generation alone, then $N together ($NEW_TOKENS new tokens each at most)"
(cd "$ROOT/scripts/js" && ARBITER_WS="ws://127.0.0.1:$RPC_PORT" ARBITER_INFER="$INFER_BIN" \
	ARBITER_SMOLLM2_GGUF="$ARBITER_SMOLLM2_GGUF" node bench/generation.js "$N" "$NEW_TOKENS")
