#!/usr/bin/env bash
# Fuzz smoke: replays the kept corpus through the harnesses on stable (what CI runs as part of
# `cargo test --workspace`), then, if cargo-fuzz and a nightly toolchain are present, runs each
# libFuzzer target for a bounded time (default 30 s each).
# usage: scripts/fuzz-smoke.sh [SECONDS_PER_TARGET=30]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SECS=${1:-30}
cargo test -q -p rhp-server --test fuzz_corpus
if ! command -v cargo-fuzz >/dev/null 2>&1 || ! rustup toolchain list 2>/dev/null | grep -q nightly; then
  echo "fuzz-smoke: cargo-fuzz or nightly missing; corpus replayed on stable only"
  exit 0
fi
cd fuzz
for t in parse_request parse_reply parse_peer engine; do
  echo "fuzz-smoke: $t for ${SECS} s"
  # The corpus is read from the repo and new inputs go to a scratch dir, so the repo stays small.
  scratch=$(mktemp -d)
  cargo +nightly fuzz run -O -s none "$t" "$scratch" "corpus/$t" -- -max_total_time="$SECS" -max_len=256 \
    -print_final_stats=1 2>&1 | grep -E "Done|number_of_executed_units|ERROR|panicked" || true
  rm -rf "$scratch"
  if ls artifacts/"$t"/crash-* >/dev/null 2>&1; then
    echo "fuzz-smoke: $t found a crash: $(ls artifacts/"$t"/crash-*)"; exit 1
  fi
done
