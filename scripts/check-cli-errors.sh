#!/usr/bin/env bash
# Bad command-line input gives one clear line and a non-zero exit:
# an unknown --chain, a malformed chain-spec file, a busy port, a bad --models-dir or
# --watch-sample-rate, the test-only --provider-fault outside a development chain, and a
# provider whose stored tasks this engine cannot replay bit for bit.
# Usage: check-cli-errors.sh NODE_BIN BUSY_PORT [INFER_BIN MINILM_DIR]
#   (BUSY_PORT: a TCP port something already listens on)
set -euo pipefail
NODE_BIN="$1"
BUSY_PORT="$2"
INFER_BIN="${3:-}"
MINILM_DIR="${4:-}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "check-cli-errors: $*" >&2; exit 1; }

expect_error() { # name, pattern, command...
	local name="$1" pattern="$2"
	shift 2
	local out status=0
	out="$(timeout 60 "$@" 2>&1 >/dev/null)" || status=$?
	[ "$status" -ne 0 ] || fail "$name: exit status 0"
	[ "$status" -ne 124 ] || fail "$name: the node did not stop within 60 s"
	local last
	last="$(grep -E '^(Error|error): ' <<<"$out" | tail -n 1)"
	[ -n "$last" ] || fail "$name: no 'Error:' line in: $out"
	grep -Eq "$pattern" <<<"$last" || fail "$name: unexpected error line: $last"
	echo "ok: $name -> $last"
}

expect_error "unknown chain" "unknown chain 'no-such-chain'" \
	"$NODE_BIN" --chain no-such-chain --tmp
printf '{ "name": "broken", ' >"$tmp/broken.json"
expect_error "malformed chain spec" "is not a valid chain spec" \
	"$NODE_BIN" --chain "$tmp/broken.json" --tmp
expect_error "busy RPC port" "$BUSY_PORT.*(in use|Address already)|(in use|Address already).*$BUSY_PORT" \
	"$NODE_BIN" --dev --tmp --rpc-port "$BUSY_PORT" --port 0 --no-prometheus
expect_error "provider without models" "models folder .*/no-models does not exist" \
	"$NODE_BIN" --dev --tmp --provider --models-dir "$tmp/no-models" --rpc-port 0 --port 0 --no-prometheus
mkdir -p "$tmp/empty-models"
expect_error "provider with an empty models folder" "no model folder in" \
	"$NODE_BIN" --dev --tmp --provider --models-dir "$tmp/empty-models" --rpc-port 0 --port 0 --no-prometheus
expect_error "bad watcher sample rate" "outside 0..=1" \
	"$NODE_BIN" --dev --tmp --watcher --watch-sample-rate 1.5 --rpc-port 0 --port 0 --no-prometheus
expect_error "provider fault on a non-dev chain" "provider-fault is a test switch for development chains only" \
	"$NODE_BIN" --chain local --tmp --provider --provider-fault 27 --rpc-port 0 --port 0 --no-prometheus
expect_error "provider fault without --provider" "provider-fault needs --provider" \
	"$NODE_BIN" --dev --tmp --watcher --provider-fault 27 --rpc-port 0 --port 0 --no-prometheus
expect_error "output fault on a non-dev chain" "provider-output-fault is a test switch for development chains only" \
	"$NODE_BIN" --chain local --tmp --provider --provider-output-fault --rpc-port 0 --port 0 --no-prometheus
expect_error "provider fault on a model input" "provider-fault: .*node 0 is a model input" \
	"$NODE_BIN" --dev --tmp --provider --provider-fault 0 --rpc-port 0 --port 0 --no-prometheus
if [ -n "$INFER_BIN" ]; then
	# A replay record (written by arbiter-infer, another binary) whose output is not what the
	# task replays to here: the node cannot answer a challenge of it and refuses to start.
	"$INFER_BIN" embed --model "$MINILM_DIR" --text "Replays are bit for bit." \
		--trace-store "$tmp/replay/traces" --first-task 5 >/dev/null
	python3 - "$tmp/replay/traces/records-00000000000000000000.log" <<'PY'
import sys
path = sys.argv[1]
log = bytearray(open(path, 'rb').read())
log[12 + 72] ^= 1  # the one record's output hash, after its 12-byte entry header
open(path, 'wb').write(log)
PY
	expect_error "provider with a task it cannot replay" "cannot replay 1 task\(s\) recorded in .*/traces bit for bit \(task 5: " \
		"$NODE_BIN" --dev --base-path "$tmp/replay" --provider --models-dir "$(dirname "$MINILM_DIR")" --rpc-port 0 --port 0 --no-prometheus
fi
