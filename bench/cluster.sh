#!/usr/bin/env bash
# Cluster throughput: starts a local consortium of 4 validators on this machine (temporary
# directory, free loopback ports), opens and funds wallets, pre-signs transfers, submits them in
# submit_txs batches round-robin to all validators, and ends by printing ONE JSON object on stdout
# (committed_tps, latency_p50_ms, latency_p99_ms, verify_bound_tps, bound_ratio, ...). Progress goes
# to stderr. docs/performance.md "Cluster throughput" explains the figures.
#
# Usage: bash bench/cluster.sh [cluster_load options]
#   --txs N (20000)  --batch N (200)  --clients N (4)  --wallets N (2000)
#   --rate TX_PER_S (0: as fast as the clients go)  --commit-timeout-s N (120)  --keep
# Environment: BUILD_DIR (default build) is the Release tree it builds (only ledgerd and
# cluster_load) if needed; SKIP_DEPS=1 skips scripts/install-deps.sh.
#
# Every node process is stopped at the end, also on failure or Ctrl-C: cluster_load kills its
# children on exit, and they carry PR_SET_PDEATHSIG so they die with it even if it is killed.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_DIR:-build}
RUN_TIMEOUT_S=${RUN_TIMEOUT_S:-900}  # bound on the whole run

if [[ "${SKIP_DEPS:-0}" != "1" ]]; then bash scripts/install-deps.sh >&2; fi
if [[ ! -f "$BUILD_DIR/CMakeCache.txt" ]]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLEDGER_BUILD_BENCH=ON >&2
fi
cmake --build "$BUILD_DIR" -j "$(nproc)" --target ledgerd cluster_load >&2

LEDGERD="$BUILD_DIR/node/ledgerd"
[[ -x "$LEDGERD" ]] || LEDGERD=$(find "$BUILD_DIR" -name ledgerd -type f -perm -u+x | head -n1)
[[ -x "$LEDGERD" ]] || { echo "cluster.sh: no ledgerd binary in $BUILD_DIR" >&2; exit 1; }

# timeout sends SIGTERM, then SIGKILL 10 s later; the nodes follow cluster_load either way.
# python3 re-prints the object with plain decimals (Boost.JSON writes doubles as 2.7E3).
timeout -k 10 "$RUN_TIMEOUT_S" "$BUILD_DIR/bench/cluster_load" --ledgerd "$(realpath "$LEDGERD")" "$@" |
  python3 -c 'import json, sys; print(json.dumps(json.loads(sys.stdin.read())))'
