#!/usr/bin/env bash
# Echo throughput: gateway on core 0, loadtest on core 1, pipelined 64-byte binary messages.
# Usage: bench/echo_throughput.sh [runs] [loadtest echo flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}; shift || true
swift build -c release >/dev/null
port=$((20000 + RANDOM % 20000))
taskset -c 0 .build/release/gateway --host 127.0.0.1 --port $port --echo --sim-rate 0 --log-level error &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.05; done
results=()
for run in $(seq "$runs"); do
    json=$(mktemp)
    taskset -c 1 .build/release/loadtest echo --url ws://127.0.0.1:$port/echo --gateway-pid $pid --json "$json" "$@" | tail -2 >&2
    results+=("$json")
done
python3 - "${results[@]}" <<'PY'
import json, statistics, sys
runs = [json.load(open(p)) for p in sys.argv[1:]]
rates = sorted(r["echoes_per_second"] for r in runs)
print("runs (echoes/s):", ", ".join(f"{x:,.0f}" for x in rates))
print(f"median: {statistics.median(rates):,.0f} echoes/s; gateway CPU "
      f"{statistics.median(r.get('gateway_cpu', 0) for r in runs) * 100:.0f}%, loadtest CPU "
      f"{statistics.median(r['loadtest_cpu'] for r in runs) * 100:.0f}% (median)")
PY
rm -f "${results[@]}"
