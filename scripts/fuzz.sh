#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz, docs/testing.md "Fuzzing") with clang in build-fuzz/
# and runs each for a time or a number of executions, one after another under nice:
#
#   scripts/fuzz.sh [--seconds N | --runs N] [--only NAME[,NAME...]] [--build-only]
#
# Each target starts from a working copy of tests/fuzz/corpus/<target>; afterwards the inputs that
# add coverage are merged back into the committed corpus (libFuzzer -merge=1, so it stays small),
# and crash, leak, timeout and out-of-memory inputs are copied to tests/fuzz/crashes/<target>/,
# where the replay test (tests/unit/fuzz) runs them in CI. Prints one table row per target; exits
# 1 if any target crashed. Default: 60 seconds each, every target.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

ALL_TARGETS=(tx_admission block_cert consensus_replica rpc genesis config audit_bundle p2p_session)
seconds=60
runs=""
only=""
build_only=0
while (($#)); do
  case "$1" in
    --seconds) seconds="$2"; runs=""; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    --build-only) build_only=1; shift ;;
    -h | --help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "fuzz.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
targets=("${ALL_TARGETS[@]}")
if [[ -n "$only" ]]; then
  IFS=, read -r -a targets <<<"$only"
  for t in "${targets[@]}"; do
    [[ " ${ALL_TARGETS[*]} " == *" $t "* ]] || { echo "fuzz.sh: no target '$t' (${ALL_TARGETS[*]})" >&2; exit 2; }
  done
fi

# 1. What fuzzing needs beyond the normal build (scripts/install-deps.sh): clang 16 and its
#    libFuzzer (Debian bookworm: clang-16, libclang-rt-16-dev). Bookworm's default clang 14 cannot
#    compile libstdc++ 12's std::expected (it lacks conditionally trivial destructors, P0848).
bash scripts/install-deps.sh >/dev/null
missing=()
for p in clang-16 libclang-rt-16-dev ccache; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  echo "fuzz.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 2. Configure and build (clang, sanitizers and coverage on the libraries too; no tests or benches).
BUILD="$ROOT/build-fuzz"
if [[ ! -f "$BUILD/build.ninja" ]]; then
  # libstdc++ 12 offers std::expected only when __cpp_concepts >= 202002L, which clang defines
  # from clang 19 on; clang 16 implements what it needs (P0848) and compiles it once told so.
  CC=clang-16 CXX=clang++-16 cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CXX_FLAGS="-U__cpp_concepts -D__cpp_concepts=202002L" \
    -DLEDGER_FUZZ=ON -DLEDGER_BUILD_TESTS=OFF -DLEDGER_BUILD_BENCH=OFF -DLEDGER_JEMALLOC=OFF \
    -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null
fi
fuzzers=()
for t in "${targets[@]}"; do fuzzers+=("${t}_fuzzer"); done
if ! nice -n 10 cmake --build "$BUILD" -j "${FUZZ_BUILD_JOBS:-2}" --target "${fuzzers[@]}" \
  >"$BUILD/fuzz-build.log" 2>&1; then
  grep -E 'error|FAILED' -A3 "$BUILD/fuzz-build.log" | head -40 >&2
  echo "fuzz.sh: build failed (log: $BUILD/fuzz-build.log)" >&2
  exit 2
fi
((build_only)) && exit 0

# 3. Run each target, merge, collect crashes.
WORK="$(mktemp -d "${TMPDIR:-/tmp}/ledger-fuzz.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
export TMPDIR="$WORK/tmp"  # what a target writes (the rpc target's LevelDB) goes with the rest
mkdir -p "$TMPDIR"
limit=(-max_total_time="$seconds")
[[ -n "$runs" ]] && limit=(-runs="$runs")
rows=()
crashed_total=0
for t in "${targets[@]}"; do
  bin="$BUILD/tests/fuzz/${t}_fuzzer"
  corpus="$ROOT/tests/fuzz/corpus/$t"
  crashes="$ROOT/tests/fuzz/crashes/$t"
  work="$WORK/$t/corpus"
  artifacts="$WORK/$t/artifacts"
  mkdir -p "$work" "$artifacts" "$corpus"
  cp "$corpus"/. "$work"/ -r
  log="$WORK/$t/log"
  if [[ -n "$runs" ]]; then echo "fuzz.sh: $t: $runs runs" >&2; else echo "fuzz.sh: $t: $seconds s" >&2; fi
  start=$(date +%s)
  # -fork=0: one process; a crash stops the target (its input is in artifacts). Timeouts at 10 s
  # per input; 4 GiB of RSS at most.
  rc=0
  nice -n 10 "$bin" "${limit[@]}" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$work" >"$log" 2>&1 || rc=$?
  elapsed=$(($(date +%s) - start))
  mkdir -p "$BUILD/logs"
  cp "$log" "$BUILD/logs/$t.log"
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1 || true)
  rate=""
  if [[ -n "$execs" ]]; then rate=$((execs / (elapsed > 0 ? elapsed : 1))); fi
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  cov=$(grep -o 'cov: [0-9]*' <<<"$last" | grep -o '[0-9]*' || true)
  ft=$(grep -o 'ft: [0-9]*' <<<"$last" | grep -o '[0-9]*' || true)
  found=0
  for f in "$artifacts"/*; do
    [[ -e "$f" ]] || continue
    mkdir -p "$crashes"
    cp "$f" "$crashes/"
    found=$((found + 1))
  done
  if ((rc != 0 && found == 0)); then found=1; fi  # died without an artifact: count it, keep the log
  if ((found)); then
    crashed_total=$((crashed_total + found))
    echo "fuzz.sh: $t crashed; input(s) in tests/fuzz/crashes/$t/, log in $BUILD/logs/$t.log" >&2
    grep -E 'ERROR|SUMMARY|invariant violated|runtime error' "$log" | head -5 >&2 || true
  fi
  # Inputs of the working copy that add coverage to the committed corpus.
  nice -n 10 "$bin" -merge=1 -timeout=10 -rss_limit_mb=4096 "$corpus" "$work" >"$WORK/$t/merge.log" 2>&1 || true
  size=$(find "$corpus" -type f | wc -l)
  rows+=("$(printf '%-18s %12s %9s %7s %8s %6s %7s %7s' "$t" "${execs:-?}" "${rate:-?}" "${elapsed}s" "${cov:-?}" "${ft:-?}" "$size" "$found")")
done

printf '%-18s %12s %9s %7s %8s %6s %7s %7s\n' target executions exec/s time cov ft corpus crashes
printf '%s\n' "${rows[@]}"
((crashed_total == 0))
