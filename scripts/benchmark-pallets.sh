#!/usr/bin/env bash
# Runs the FRAME benchmarks of Arbiter's pallets and writes the runtime's weight files
# (runtime/src/weights/<pallet>.rs). The node is built with `runtime-benchmarks` in its own
# target directory, because the feature changes the runtime.
# Usage: scripts/benchmark-pallets.sh [STEPS] [REPEAT]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
BENCH_TARGET="${ARBITER_BENCH_TARGET_DIR:-$HOME/.cache/arbiter/target-bench}"
STEPS="${1:-50}"
REPEAT="${2:-20}"

ensure_apt_packages
ensure_rust
log "building arbiter-node with runtime-benchmarks (own target dir: $BENCH_TARGET)"
(cd "$ROOT" && CARGO_TARGET_DIR="$BENCH_TARGET" cargo build --release --locked -p arbiter-node --features runtime-benchmarks)
mkdir -p "$ROOT/runtime/src/weights"
for pallet in ${ARBITER_BENCH_PALLETS:-pallet_compute_staking pallet_task_registry pallet_challenges pallet_audits pallet_protocol_parameters}; do
	log "benchmarking $pallet (steps $STEPS, repeat $REPEAT)"
	"$BENCH_TARGET/release/arbiter-node" benchmark pallet \
		--chain dev \
		--pallet "$pallet" --extrinsic '*' \
		--steps "$STEPS" --repeat "$REPEAT" \
		--wasm-execution compiled \
		--header "$ROOT/scripts/weights-header.txt" \
		--output "$ROOT/runtime/src/weights/$pallet.rs"
done
log "weights written to runtime/src/weights/"
