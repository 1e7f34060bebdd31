#!/usr/bin/env bash
# Runs the micro-benchmarks and ends by printing one JSON object with their figures and the machine
# they ran on. Usage: bash bench/micro.sh [--quick]   (--quick: shorter runs, noisier figures)
# Builds the Release tree in build/ first if needed.
set -euo pipefail
cd "$(dirname "$0")/.."

MIN_TIME=1
if [[ "${1:-}" == "--quick" ]]; then MIN_TIME=0.2; fi

bash scripts/install-deps.sh >&2
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" >&2

OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
for bin in build/bench/*_bench; do
  [[ -x "$bin" ]] || continue
  name=$(basename "$bin")
  echo "== $name" >&2
  "$bin" --benchmark_min_time="$MIN_TIME" --benchmark_format=json --benchmark_out="$OUT/$name.json" \
    --benchmark_out_format=json >/dev/null
done

python3 - "$OUT" <<'PY'
import glob, json, os, platform, sys
figures = {}
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.json"))):
    with open(path) as f:
        report = json.load(f)
    for b in report.get("benchmarks", []):
        for key, value in b.items():
            if key.endswith(("_per_s", "_bytes", "_ms", "_ratio")) or key.startswith(("p2p_", "consensus_", "bundle_")):
                if isinstance(value, (int, float)):
                    figures[key] = round(value, 3)
cpu = "unknown"
try:
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
except OSError:
    pass
if "parallel_verify_per_s" in figures and figures.get("ecdsa_verify_per_s"):
    figures["parallel_verify_ratio"] = round(figures["parallel_verify_per_s"] / figures["ecdsa_verify_per_s"], 3)
figures["machine"] = {"cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release()}
print(json.dumps(figures, sort_keys=True))
PY
