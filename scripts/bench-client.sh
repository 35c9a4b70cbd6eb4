#!/usr/bin/env bash
# Connect-time benchmark through the CLI: starts a server on loopback, then N players
# (`rabid-hole-punch host`/`join`, script mode), and prints every player's `punch-done` line and
# the slowest after_start_ms (from the arrival of the server's s: to every peer connected).
# Usage: scripts/bench-client.sh [N=2] [RUNS=5]   (builds and uses target/release)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
N="${1:-2}"
RUNS="${2:-5}"
BIN=target/release/rabid-hole-punch
if ! cargo build -q --release -p rabid-hole-punch >&2; then
  [ -x "$BIN" ] || exit 1
  echo "warning: release build failed; using the existing $BIN" >&2
fi
TMP="$(mktemp -d)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT
"$BIN" serve --bind 127.0.0.1 --port 0 --no-log-file --create-rate 0 --max-sessions-per-ip 0 --max-players-per-ip 0 2>"$TMP/server.log" &
PIDS+=($!)
for _ in $(seq 1 100); do
  ADDR="$(grep -o 'listening on [^ ]*' "$TMP/server.log" 2>/dev/null | head -1 | sed 's|listening on ||; s|udp://||')" || true
  [ -n "${ADDR:-}" ] && break
  sleep 0.05
done
[ -n "${ADDR:-}" ] || { echo "server did not start" >&2; exit 1; }
for run in $(seq 1 "$RUNS"); do
  S="Bench$run"
  EXPECT=$((N - 1))
  timeout 30 "$BIN" host "$S" P0 --max "$N" --server "$ADDR" --bind 127.0.0.1:0 \
    --send x --expect "$EXPECT" >"$TMP/p0.out" 2>"$TMP/p0.err" &
  HOST=$!
  for _ in $(seq 1 100); do grep -q "in the session" "$TMP/p0.err" && break; sleep 0.02; done
  JOINERS=()
  for i in $(seq 1 $((N - 1))); do
    timeout 30 "$BIN" join "$S" "P$i" --server "$ADDR" --bind 127.0.0.1:0 \
      --send x --expect "$EXPECT" >"$TMP/p$i.out" 2>"$TMP/p$i.err" &
    JOINERS+=($!)
  done
  wait "$HOST" "${JOINERS[@]}" || { echo "run $run: a player failed" >&2; cat "$TMP"/p*.err >&2; exit 1; }
  MAX="$(cat "$TMP"/p*.out | awk -F'after_start_ms=' '/^punch-done/ { if ($2 + 0 > m) m = $2 + 0 } END { print m + 0 }')"
  OK="$(grep -h '^punch-done' "$TMP"/p*.out | grep -c "connected=$EXPECT/$EXPECT")"
  echo "run $run: $N players, $OK/$N all connected, slowest punch-done after_start_ms=$MAX"
done
