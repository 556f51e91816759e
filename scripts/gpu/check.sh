#!/usr/bin/env bash
# The engine's CUDA path, checked on a machine with an NVIDIA GPU (run there; nothing is built
# there): binaries built with `--features cuda` (scripts/gpu/build-cuda.sh) in BIN_DIR (plain or
# xz-compressed, as build-cuda.sh leaves them: 52 MB each with their kernels, 7 MB packed), the
# model's small files (config.json, tokenizer.json and sentence-transformers' folder files) in
# MODEL_FILES. The weights are MiniLM-shaped random ones (scripts/gpu/random_weights.py): the
# real file (91 MB) need not travel, and every check here compares devices on the same weights.
#
#   scripts/gpu/check.sh BIN_DIR MODEL_FILES OUT_DIR
#
# Prints, and writes to OUT_DIR: CUDA vs CPU embeddings (max |difference|, cosine), how many
# sampled elements of a CUDA trace pass the runtime's verify_element, whether CUDA trace roots
# repeat run to run and between a batch and an input alone (what a replay needs: docs/protocol.md
# "Replay"), and sentences per second plain/traced at batch 1 and 32 on the GPU, on the CPU, and
# for PyTorch on the GPU.
set -euo pipefail
BIN="$1"
FILES="$2"
OUT="$3"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SENTENCES="$ROOT/scripts/bench/sentences.txt"
mkdir -p "$OUT"
if ls "$BIN"/*.xz >/dev/null 2>&1; then
	python3 - "$BIN" /tmp/arbiter-gpu-bin <<'EOF'
import lzma, os, shutil, sys
src, dst = sys.argv[1:3]
os.makedirs(dst, exist_ok=True)
for name in os.listdir(src):
    if name.endswith(".xz"):
        with lzma.open(os.path.join(src, name)) as f, open(os.path.join(dst, name[:-3]), "wb") as out:
            shutil.copyfileobj(f, out)
        os.chmod(os.path.join(dst, name[:-3]), 0o755)
EOF
	BIN=/tmp/arbiter-gpu-bin
fi

# cuBLAS, cuRAND, NVRTC and the CUDA runtime (CUDA 13) from the machine's Python CUDA wheels or
# its toolkit; the driver's libcuda.so.1 is on the loader's path already.
LIB_DIRS="$(python3 - <<'EOF'
import os, site
wanted = {"libcublas.so.13", "libcublasLt.so.13", "libcurand.so.10", "libnvrtc.so.13", "libcudart.so.13"}
roots = [os.path.join(p, "nvidia") for p in site.getsitepackages()] + ["/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib"]
dirs = []
for root in roots:
    for d, _, files in os.walk(root):
        if wanted & set(files) and d not in dirs:
            dirs.append(d)
print(":".join(dirs))
EOF
)"
LD_LIBRARY_PATH="$LIB_DIRS:${LD_LIBRARY_PATH:-}"
echo "CUDA libraries from: $LIB_DIRS"
export LD_LIBRARY_PATH
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores" | tee -a "$OUT/gpu.txt"

MODEL=/tmp/arbiter-minilm-random
rm -rf "$MODEL" && mkdir -p "$MODEL"
cp -r "$FILES"/. "$MODEL"/
mkdir -p "$MODEL/2_Normalize" # sentence-transformers' Normalize module has no files
python3 "$ROOT/scripts/gpu/random_weights.py" "$ROOT/scripts/gpu/minilm_shapes.json" "$MODEL"
(cd "$MODEL" && sha256sum model.safetensors config.json tokenizer.json >SHA256SUMS)

INFER="$BIN/arbiter-infer"
T1="Verifiable inference settles a dispute by recomputing one element."
T2="The quick brown fox jumps over the lazy dog near the river bank on a sunny afternoon."
"$INFER" --device cuda embed --model "$MODEL" --text "$T1" --text "$T2" --json >"$OUT/embed-cuda.json"
"$INFER" --device cpu embed --model "$MODEL" --text "$T1" --text "$T2" --json >"$OUT/embed-cpu.json"
python3 - "$OUT/embed-cuda.json" "$OUT/embed-cpu.json" <<'EOF' | tee "$OUT/agreement.txt"
import json, math, sys
g, c = (json.load(open(p)) for p in sys.argv[1:3])
assert g["model_root"] == c["model_root"], "model roots differ"
for i, (a, b) in enumerate(zip(g["embeddings"], c["embeddings"])):
    diff = max(abs(x - y) for x, y in zip(a, b))
    cos = sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))
    print(f"text {i}: CUDA vs CPU max |diff| {diff:.2e}, cosine {cos:.9f}, roots equal: {g['trace_roots'][i] == c['trace_roots'][i]}")
EOF
"$INFER" --device cuda check --model "$MODEL" --text "$T2" --samples 3000 | tee "$OUT/check-cuda.txt"
# Replay on CUDA: the same batch again, and each input alone.
"$INFER" --device cuda embed --model "$MODEL" --text "$T1" --text "$T2" --json >"$OUT/embed-cuda-again.json"
"$INFER" --device cuda embed --model "$MODEL" --text "$T1" --json >"$OUT/embed-cuda-t1.json"
"$INFER" --device cuda embed --model "$MODEL" --text "$T2" --json >"$OUT/embed-cuda-t2.json"
python3 - "$OUT" <<'EOF' | tee "$OUT/replay-cuda.txt"
import json, sys
d = sys.argv[1]
first, again = (json.load(open(f"{d}/{n}.json"))["trace_roots"] for n in ("embed-cuda", "embed-cuda-again"))
alone = [json.load(open(f"{d}/embed-cuda-t{i}.json"))["trace_roots"][0] for i in (1, 2)]
print(f"CUDA replay: the batch again gives the same roots: {first == again}; each input alone gives its batched root: {alone == first}")
EOF

run_bench() {
	"$BIN/bench_engine" --model "$MODEL" --sentences "$SENTENCES" --repeat 5 "$@"
}
{
	for batch in 1 32; do
		# committed: what a provider does per task (plain pass + replay record), the target being
		# within 2 % of plain; traced: what a replay does when challenged.
		for mode in plain committed traced; do
			run_bench --device cuda --batch "$batch" --mode "$mode"
			RAYON_NUM_THREADS="$(nproc)" run_bench --device cpu --batch "$batch" --mode "$mode"
		done
		python3 "$ROOT/scripts/bench/baseline_sentence_transformers.py" --model-dir "$MODEL" --device cuda \
			--sentences "$SENTENCES" --batch "$batch" --threads "$(nproc)" --repeat 5 2>/dev/null || echo '{"engine": "torch cuda baseline failed"}'
	done
} | tee "$OUT/bench.jsonl"
