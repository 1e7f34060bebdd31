#!/usr/bin/env bash
# The test command: installs dependencies, builds (Release, warnings as errors), runs the whole
# suite with CTest, then builds with AddressSanitizer + UndefinedBehaviorSanitizer and runs the
# unit tests again. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

JOBS=$(nproc)
echo "== Release build"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$JOBS"
echo "== Test suite (Release)"
ctest --test-dir build --output-on-failure -j "$JOBS"

echo "== Sanitizer build (ASan + UBSan)"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLEDGER_SANITIZE=ON \
  -DLEDGER_BUILD_BENCH=OFF >/dev/null
cmake --build build-asan -j "$JOBS"
echo "== Unit tests (ASan + UBSan)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j "$JOBS" -L unit
