#!/usr/bin/env bash
# The main command: installs dependencies, builds what it needs (Release), and runs the node's
# self-check end to end: keys and signatures, the parallel verifier, the encrypted keystore, and the
# authenticated state tree on LevelDB with inclusion and non-inclusion proofs.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" --target ledger-selfcheck
exec build/tools/ledger-selfcheck "$@"
