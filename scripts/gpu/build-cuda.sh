#!/usr/bin/env bash
# Builds `arbiter-infer` and the engine benchmark with `--features cuda` on a machine without a
# GPU or a CUDA toolkit: the CUDA 13.0 compiler, headers and libraries come from NVIDIA's PyPI
# wheels (checked by pip), and the driver library the linker needs is a stub generated from
# cudarc's bindings (the real libcuda.so.1 is the GPU machine's). Kernels are built for
# CUDA_COMPUTE_CAP (default 90: H100/H200). Output: BIN_DIR/{arbiter-infer,bench_engine}.xz
# (stripped, xz-compressed: the kernels make each binary 52 MB, 7 MB packed).
#
#   scripts/gpu/build-cuda.sh BIN_DIR
#
# Uses its own target dir ($HOME/.cache/arbiter/target-cuda): the CUDA build of candle differs
# from the CPU one. CUDA 13.0 matches driver 580; a newer nvcc emits PTX that driver refuses.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
OUT_BIN="${1:?BIN_DIR}"
TOOLKIT="${ARBITER_CUDA_TOOLKIT:-$HOME/.cache/arbiter/cuda-13.0}"
CUDA="$TOOLKIT/nvidia/cu13"

ensure_rust
if [ ! -x "$CUDA/nvvm/bin/cicc" ] || [ ! -e "$TOOLKIT/stubs/libcuda.so" ]; then
	log "fetching the CUDA 13.0 toolchain wheels into $TOOLKIT"
	mkdir -p "$TOOLKIT/wheels" "$TOOLKIT/stubs"
	python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
		--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux2014_x86_64 \
		--platform manylinux_2_17_x86_64 --platform manylinux_2_5_x86_64 --platform manylinux1_x86_64 -d "$TOOLKIT/wheels" \
		"nvidia-cuda-nvcc==13.0.*" "nvidia-nvvm==13.0.*" "nvidia-cuda-crt==13.0.*" "nvidia-cuda-cccl==13.0.*" \
		"nvidia-cuda-runtime==13.0.*" "nvidia-cuda-nvrtc==13.0.*" "nvidia-cublas==13.0.*" "nvidia-curand==10.4.0.*"
	for w in "$TOOLKIT"/wheels/*.whl; do (cd "$TOOLKIT" && python3 -m zipfile -e "$w" .); done
	chmod +x "$CUDA"/bin/* "$CUDA"/nvvm/bin/*
	for lib in cublas cublasLt cudart nvrtc; do ln -sf "lib$lib.so.13" "$CUDA/lib/lib$lib.so"; done
	ln -sf libcurand.so.10 "$CUDA/lib/libcurand.so"
	# The driver API functions cudarc declares, as a stub libcuda.so.1 to link against.
	cudarc="$(cd "$ROOT" && cargo metadata --format-version 1 --locked --features arbiter-inference/cuda | python3 -c 'import json,sys; print(next(p["manifest_path"] for p in json.load(sys.stdin)["packages"] if p["name"] == "cudarc").rsplit("/", 1)[0])')"
	grep -ohE '^            fn cu[A-Za-z0-9_]+' "$cudarc/src/driver/sys/mod.rs" | awk '{print "int " $2 "(void) { return 999; }"}' | sort -u >"$TOOLKIT/stubs/cuda_stub.c"
	cc -shared -fPIC -o "$TOOLKIT/stubs/libcuda.so" -Wl,-soname,libcuda.so.1 "$TOOLKIT/stubs/cuda_stub.c"
fi

export PATH="$CUDA/bin:$PATH" CUDA_ROOT="$CUDA" CUDA_HOME="$CUDA" CUDA_PATH="$CUDA"
export CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-90}"
export RUSTFLAGS="-L native=$TOOLKIT/stubs -L native=$CUDA/lib"
export CARGO_TARGET_DIR="$HOME/.cache/arbiter/target-cuda" SKIP_WASM_BUILD=1
(cd "$ROOT" && cargo build --release --locked -p arbiter-inference --features cuda --bin arbiter-infer --example bench_engine)
mkdir -p "$OUT_BIN"
for b in release/arbiter-infer release/examples/bench_engine; do
	strip -o "$OUT_BIN/$(basename "$b")" "$CARGO_TARGET_DIR/$b"
	xz -T0 -6 -f "$OUT_BIN/$(basename "$b")"
done
ls -la "$OUT_BIN"
