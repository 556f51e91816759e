#!/usr/bin/env bash
# Text generation speed on SmolLM2-135M-Instruct (Q4_1 GGUF), side by side on this machine: the
# engine on each CPU path (f32 activations over 4-bit weights; docs/inference.md), candle's
# quantized llama and llama.cpp (llama-cpp-python 0.3.36 built from source: once for this CPU,
# once with AVX-512 off, standing for an AVX2-only machine), all on the same thread count.
# Prompt processing and generation (128 + 128 tokens, greedy) separately; for the engine also
# what answering a challenge costs (replay of the generation, traced, and its root). Then batch 8
# (eight sequences stepping together) for the engine's vector paths and both llama.cpp builds. One
# process per configuration, so each peak-memory figure is its own. Prints JSON lines.
#
#   scripts/bench-generation.sh [THREADS=2] [REPEAT=3]
# llama-cpp-python is built on first use (cmake from Debian; ~10 min each on 2 cores; never from
# pip's wheel cache, which would hand the second build the first one's binary) in
# ~/.cache/arbiter/llama-cpp-native and ~/.cache/arbiter/llama-cpp-avx2.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
THREADS="${1:-2}"
REPEAT="${2:-3}"
SENTENCES="$ROOT/scripts/bench/sentences.txt"
LLAMA_CPP_PYTHON="llama-cpp-python==0.3.36"

ensure_rust
ensure_smollm2
ensure_apt_packages cmake
# $1: venv folder, $2: CMAKE_ARGS.
ensure_llama_cpp() {
	if ! "$1/bin/python" -c 'import llama_cpp, numpy' >/dev/null 2>&1; then
		log "building $LLAMA_CPP_PYTHON in $1 (CMAKE_ARGS=$2)"
		python3 -m venv "$1"
		"$1/bin/pip" install --quiet "numpy==2.3.5"
		CMAKE_ARGS="$2" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
			"$1/bin/pip" install --quiet --no-cache-dir --no-binary llama-cpp-python "$LLAMA_CPP_PYTHON"
	fi
}
NATIVE="$HOME/.cache/arbiter/llama-cpp-native"
AVX2="$HOME/.cache/arbiter/llama-cpp-avx2"
ensure_llama_cpp "$NATIVE" "-DGGML_NATIVE=ON -DLLAMA_CURL=OFF"
ensure_llama_cpp "$AVX2" "-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF -DLLAMA_CURL=OFF"
(cd "$ROOT" && cargo build --release --locked -q -p arbiter-inference --example bench_generate)
BENCH="$CARGO_TARGET_DIR/release/examples/bench_generate"
log "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $THREADS threads"

for path in ${ARBITER_BENCH_PATHS:-avx512 avx2 portable}; do
	ARBITER_CPU_PATH="$path" RAYON_NUM_THREADS="$THREADS" "$BENCH" --model "$ARBITER_SMOLLM2_GGUF" \
		--repeat "$REPEAT" 2>/dev/null || log "the $path path does not run on this CPU: skipped"
done
RAYON_NUM_THREADS="$THREADS" "$BENCH" --model "$ARBITER_SMOLLM2_GGUF" --engine candle-quantized --repeat "$REPEAT"
for batch in 1 8; do
	if [ "$batch" -gt 1 ]; then
		for path in ${ARBITER_BENCH_PATHS:-avx512 avx2}; do
			ARBITER_CPU_PATH="$path" RAYON_NUM_THREADS="$THREADS" "$BENCH" --model "$ARBITER_SMOLLM2_GGUF" \
				--batch "$batch" --repeat "$REPEAT" 2>/dev/null || log "the $path path does not run on this CPU: skipped"
		done
	fi
	for venv in "$NATIVE" "$AVX2"; do
		"$venv/bin/python" "$ROOT/scripts/bench/baseline_llama_cpp.py" --model "$ARBITER_SMOLLM2_GGUF" \
			--sentences "$SENTENCES" --threads "$THREADS" --repeat "$REPEAT" --batch "$batch" 2>/dev/null |
			sed "s|8-bit activations)|8-bit activations, $(basename "$venv"))|"
	done
done
