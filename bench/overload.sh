#!/usr/bin/env bash
# Overload: starts a local consortium of 4 validators on this machine (temporary directory, free
# loopback ports, the default node configuration), measures the committed rate under a saturating
# load, then for --duration-s submits at --factor times that rate while holding thousands of idle,
# slow-sending and non-reading connections and hundreds of WebSocket subscribers that never read;
# samples every node's RSS each second; ends by printing ONE JSON object on stdout
# (committed_tps_before/during, ratio, answers by kind, accepted latency, connections, rss per node,
# rss_plateaued_all, machine). Progress goes to stderr. docs/testing.md "Overload" explains it.
#
# Usage: bash bench/overload.sh [overload options]
#   --normal-s N (30)  --duration-s N (180)  --factor X (10)  --batch N (100)  --submitters-per-node N (4)
#   --wallets N (2000)
#   --idle-per-node N (1000)  --slow-per-node N (10)  --nonreaders-per-node N (10)
#   --subscribers-per-node N (100)  --reconnect-ms N (5000)  --max-pool N (600000)  --keep
# Environment: BUILD_DIR (default build) is the Release tree it builds (only ledgerd and overload)
# if needed; SKIP_DEPS=1 skips scripts/install-deps.sh. The machine is shared: run it under nice.
#
# Every node process is stopped at the end, also on failure or Ctrl-C (PR_SET_PDEATHSIG).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_DIR:-build}
RUN_TIMEOUT_S=${RUN_TIMEOUT_S:-1800}  # bound on the whole run

if [[ "${SKIP_DEPS:-0}" != "1" ]]; then bash scripts/install-deps.sh >&2; fi
if [[ ! -f "$BUILD_DIR/CMakeCache.txt" ]]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLEDGER_BUILD_BENCH=ON >&2
fi
cmake --build "$BUILD_DIR" -j "$(nproc)" --target ledgerd overload >&2

LEDGERD="$BUILD_DIR/node/ledgerd"
[[ -x "$LEDGERD" ]] || { echo "overload.sh: no ledgerd binary in $BUILD_DIR" >&2; exit 1; }

# The program raises its own soft RLIMIT_NOFILE to the hard limit and refuses to start if that is
# too low for the connections asked for.
timeout -k 10 "$RUN_TIMEOUT_S" "$BUILD_DIR/bench/overload" --ledgerd "$(realpath "$LEDGERD")" "$@" |
  python3 -c 'import json, sys; print(json.dumps(json.loads(sys.stdin.read())))'
