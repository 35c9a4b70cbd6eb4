#!/usr/bin/env bash
# Issue #10 benchmarks (not run by CI): every command stops by itself and prints its figures.
# The machine has 2 cores and may be shared: read the ratios to the floors measured in the same run.
#   scripts/bench.sh            all of it (~20 minutes)
#   scripts/bench.sh load       throughput, CPU per request, latency at 1k, 10k and 100k players (~9 min)
#   scripts/bench.sh storm      start storms at 10k and 100k players (~3 min)
#   scripts/bench.sh relay      the relay (issue #9) against the echo floors, 200 and 1,200-byte payloads (~8 min)
#   scripts/bench.sh memory     engine bytes per player, 1M players (~10 s)
#   scripts/bench.sh micro      criterion micro-benchmarks (~2 min)
#   scripts/bench.sh cluster    one server against one and two cluster nodes on a Redis; the node channel (~4 min)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
what="${1:-all}"
cargo build --release -q -p rabid-hole-punch -p rhp-bench
B="${CARGO_TARGET_DIR:-target}/release/rhp-bench"
# Production-shaped by default (issue 16): every simulated player binds its own loopback address
# (127.16.0.1 onwards) and the server runs with --reflection-loopback (the budget applied) and its
# default caps. `rhp-bench run --shared-ips` is the old mode (one address per worker, loopback
# exempt, per-IP caps off), kept as the "exempt" figures beside them.
# Server configurations besides the default (rhp): the pre-#10 shell (one recv_from/send_to per
# datagram, kernel default buffers).
SINGLE="single=--io-batch 1 --recv-buffer 0 --send-buffer 0"

if [[ $what == all || $what == load ]]; then
  echo "== load: closed loop, fixed rate (2 pings/s/player), small storm"
  "$B" run --players 1000,10000 --secs 3 --repeat 3 --targets naive,batch,rhp,single --variant "$SINGLE"
  echo "== 100,000 players: closed loop and 2 pings/s/player (200k requests/s offered)"
  "$B" run --players 100000 --secs 3 --targets naive,batch,rhp --phases closed,rate
  echo "== the same, the old exempt shape (shared addresses, no budget on loopback)"
  "$B" run --players 1000,10000 --secs 3 --repeat 3 --targets naive,batch,rhp --shared-ips
fi
if [[ $what == all || $what == storm ]]; then
  echo "== start storms: every host sends s: at once, the others keep pinging every 500 ms"
  "$B" run --players 10000 --phases storm --repeat 3 --targets rhp,single --variant "$SINGLE"
  echo "== 100,000 players: 8 rounds x 100,000 start messages; 10 s allowed; without and with the players' pings"
  "$B" run --players 100000 --phases storm --storm-ms 10000 --storm-pings false --targets rhp
  "$B" run --players 100000 --phases storm --storm-ms 10000 --targets rhp
  echo "== the 100,000 storm in the old exempt shape"
  "$B" run --players 100000 --phases storm --storm-ms 10000 --targets rhp --shared-ips
  echo "== the same storm inside the engine alone (no sockets)"
  "$B" engine-storm --players 100000
fi
if [[ $what == all || $what == relay ]]; then
  echo "== relay: 200 pairs (a session of 2 each, both relayed), closed loop and 60 frames/s per player"
  echo "   every player on its own loopback address, the budget applied to the set-up"
  "$B" relay --pairs 200 --sizes 200,1200 --secs 4 --repeat 3 --targets naive,batch,rhp
  echo "== the same, the old exempt shape (two shared addresses, loopback exempt, no per-IP relay cap)"
  "$B" relay --pairs 200 --sizes 200,1200 --secs 4 --repeat 3 --targets naive,batch,rhp --shared-ips
fi
if [[ $what == all || $what == cluster ]]; then
  echo "== cluster (issue 19): one server, one node + Redis, two nodes + Redis; each session on one node"
  "$B" run --players 10000 --secs 3 --repeat 3 --targets rhp,cluster1,cluster2 --phases closed,rate --shared-ips
  "$B" run --players 10000 --secs 5 --repeat 3 --targets rhp,cluster1,cluster2 --phases rate
  echo "== the node-to-node channel: direct UDP against Redis pub/sub; cross-node latency, CPU, store costs"
  cargo test --release -q -p rhp-cluster-shell --test channel_measure -- --ignored --nocapture
  cargo test --release -q -p rabid-hole-punch --test cluster_measure -- --ignored --nocapture --test-threads 1
fi
if [[ $what == all || $what == memory ]]; then
  echo "== engine memory"
  "$B" memory --players 1000000
  echo "== the default config (budget on) alone, for its RSS"
  "$B" memory --players 1000000 --budget-only
fi
if [[ $what == all || $what == micro ]]; then
  echo "== micro-benchmarks"
  cargo bench -q -p rhp-proto -p rhp-server -- --warm-up-time 1 --measurement-time 3 2>&1 | grep -E '^[a-z_/0-9]+ +time:|^ +time:|^[a-z_/0-9]+$'
fi
