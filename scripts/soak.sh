#!/usr/bin/env bash
# Soak: a fresh local consortium of real ledgerd processes under a load of signed transactions
# while a seeded nemesis kills (-9), pauses (SIGSTOP/SIGCONT) and cleanly restarts validators and
# observers; at the end every node is healed and checked (docs/testing.md, "Soak: real processes
# under a nemesis"). Not part of CTest.
#
# Usage: scripts/soak.sh --duration SECONDS [--seed S] [--validators 4] [--observers 2] [--rate R]
#        [ledger-soak options: --help lists them]
# Prints a line per nemesis action and a progress line every 30 s, then a summary (also written as
# JSON: --summary FILE, default $TMPDIR/ledger-soak-SEED.json). Exit code 0 only when every check
# passed; on failure the consortium directory (node logs and data) is kept and its path printed.
# Environment: BUILD_DIR (default build) is the Release tree it builds (ledgerd and ledger-soak) if
# needed; SKIP_DEPS=1 skips scripts/install-deps.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_DIR:-build}

if [[ "${SKIP_DEPS:-0}" != "1" ]]; then bash scripts/install-deps.sh >&2; fi
if [[ ! -f "$BUILD_DIR/CMakeCache.txt" ]]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >&2
fi
cmake --build "$BUILD_DIR" -j "$(nproc)" --target ledgerd ledger-soak >&2

# ledger-soak kills its nodes on exit; they also carry PR_SET_PDEATHSIG, so they die with it even
# when it is killed. Ctrl-C once ends the run early and still heals and checks; twice stops it.
exec "$BUILD_DIR/tests/soak/ledger-soak" "$@"
