#!/usr/bin/env bash
# Soak: the release server on loopback under thousands of churning players for a set time, with
# RSS and session counts every interval; exits 0 when the server ends empty with a flat RSS.
# usage: scripts/soak.sh [SECONDS=600] [PLAYERS=3000] [-- extra serve flags]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SECS=${1:-600}
PLAYERS=${2:-3000}
shift $(( $# > 2 ? 2 : $# ))
cargo build --release -q -p rabid-hole-punch -p rhp-soak
exec ./target/release/rhp-soak --server ./target/release/rabid-hole-punch --secs "$SECS" --players "$PLAYERS" \
  --report-every 10 "$@"
