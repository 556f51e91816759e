#!/usr/bin/env bash
# Four validators (Alice, Bob, Charlie, Dave) of the `local` chain on localhost, each with its own
# base path. Four, because GRANDPA needs more than two thirds of the votes: with three, losing
# one stalls finality; with four, the network survives one failure.
#
#   scripts/local-testnet.sh            start all four (Ctrl-C stops them)
#   scripts/local-testnet.sh node NAME  run one validator in the foreground (alice|bob|charlie|dave)
#
# Ports, for validator i = 0..3: p2p 30333+i, RPC 9944+i, Prometheus 9615+i. With
# ARBITER_TESTNET_PORT_BASE=B they are B+33+i, B+44+i, B+15+i. Base paths live under
# ARBITER_TESTNET_DIR (default /tmp/arbiter-local-testnet).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

NAMES=(alice bob charlie dave)
DIR="${ARBITER_TESTNET_DIR:-/tmp/arbiter-local-testnet}"
# Alice's fixed node key makes her peer id known, so the others can bootstrap from her.
ALICE_PEER_ID=12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp

ports() { # index -> "p2p rpc prometheus"
	local i="$1"
	if [ -n "${ARBITER_TESTNET_PORT_BASE:-}" ]; then
		local b="$ARBITER_TESTNET_PORT_BASE"
		echo "$((b + 33 + i)) $((b + 44 + i)) $((b + 15 + i))"
	else
		echo "$((30333 + i)) $((9944 + i)) $((9615 + i))"
	fi
}

index_of() {
	local i
	for i in "${!NAMES[@]}"; do [ "${NAMES[$i]}" = "$1" ] && { echo "$i"; return; }; done
	die "unknown validator '$1': expected one of ${NAMES[*]}"
}

run_validator() {
	local name="$1" i p2p rpc prom
	i="$(index_of "$name")"
	read -r p2p rpc prom <<<"$(ports "$i")"
	local alice_p2p
	alice_p2p="$(ports 0 | cut -d' ' -f1)"
	[ -x "$NODE_BIN" ] || die "no node binary at $NODE_BIN: run scripts/dev.sh or cargo build --release -p arbiter-node"
	mkdir -p "$DIR/$name"
	exec "$NODE_BIN" \
		--chain local \
		--"$name" \
		--base-path "$DIR/$name" \
		--node-key "$(printf '%064x' $((i + 1)))" \
		--port "$p2p" --rpc-port "$rpc" --prometheus-port "$prom" \
		--bootnodes "/ip4/127.0.0.1/tcp/$alice_p2p/p2p/$ALICE_PEER_ID" \
		--allow-private-ip --no-mdns \
		--rpc-cors all \
		--name "arbiter-$name"
}

if [ "${1:-}" = "node" ]; then
	run_validator "${2:?usage: local-testnet.sh node NAME}"
fi

[ -x "$NODE_BIN" ] || { ensure_apt_packages; ensure_rust; build_node; }
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
# Ctrl-C (or a TERM) is how the testnet is meant to stop: stop the validators and exit 0. Any
# other exit (a validator that dies) still stops the rest and reports the failure.
stop() {
	log "stopping the validators"
	trap - EXIT
	cleanup
	exit 0
}
trap cleanup EXIT
trap stop INT TERM
for i in "${!NAMES[@]}"; do
	read -r p2p rpc prom <<<"$(ports "$i")"
	require_free_port "$rpc"
	require_free_port "$p2p"
	mkdir -p "$DIR"
	"$0" node "${NAMES[$i]}" >"$DIR/${NAMES[$i]}.log" 2>&1 &
	pids+=($!)
	log "${NAMES[$i]}: p2p $p2p, RPC ws://127.0.0.1:$rpc, log $DIR/${NAMES[$i]}.log"
done
log "four validators running; Ctrl-C stops them"
wait -n "${pids[@]}" || true
die "a validator exited; see the logs in $DIR"
