#!/usr/bin/env bash
# Formats every crate with the repository's .rustfmt.toml (polkadot-sdk's settings) on the pinned
# nightly rustfmt, installing it if missing. `scripts/fmt.sh --check` only reports.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
ensure_rustfmt
run_fmt "$@"
