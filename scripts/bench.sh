#!/usr/bin/env bash
# Benchmarks whose numbers docs/benchmarks.md records:
#   - one dispute step (`verify_element`) for MiniLM's widest ops, natively and in wasm,
#     with opening sizes;
#   - the cost of one dispute for each kind of MiniLM op (respond payload size, native check
#     time), on a real 256-token trace (MiniLM fetched first);
#   - the rounds and bytes of a descent for faults in MiniLM's first, a middle and the last
#     layer (a provider that withholds its trace, the watcher's strategy);
#   - what answering from a replay record costs (replay + trace root at 21 and 256 tokens) and
#     the record's size;
#   - the fuzz harness for graph decoding/validation and verify_element (executions, no panic).
# Usage: scripts/bench.sh [FUZZ_SECONDS]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
ensure_rust
ensure_model
cd "$ROOT"
log "verify_element benchmark"
cargo run --release --locked -q -p arbiter-primitives --example bench_verify
log "dispute cost per MiniLM op"
cargo run --release --locked -q -p arbiter-inference --example dispute_cost -- --model "$MINILM_DIR"
log "descent rounds and bytes per MiniLM fault"
cargo run --release --locked -q -p arbiter-inference --example descent_rounds -- --model "$MINILM_DIR"
log "replay cost and record size"
cargo run --release --locked -q -p arbiter-inference --example replay_cost -- --model "$MINILM_DIR"
log "fuzz harness (${1:-60} s)"
cargo run --release --locked -q -p arbiter-primitives --example fuzz -- "${1:-60}"
