#!/usr/bin/env bash
# The most subscribed connections one machine serves: PROCS gateway processes on one port
# (--reuse-port, each with its own --admin-port, each fed by the bus), LOADERS load-test
# processes opening CONNS connections between them (each process is limited to 20,000
# descriptors here), W1's layout (half v1, half v2 depth 5, 10 of 500 symbols each). The feed:
# one simulating writer at RATE updates/s into nats-server (JetStream, memory stream).
# Prints the connections each process holds, memory per connection (the gateways' RSS, and the
# kernel's: slab and TCP buffer pages, both ends of each loopback connection, halved), and
# delivery p99 at the stated rate. Gateways on core 0, load tests, NATS and writer on core 1.
# Usage: [CONNS=100000] [PROCS=6] [LOADERS=6] [RATE=50] bench/fleet_scale.sh [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-1}
CONNS=${CONNS:-100000} PROCS=${PROCS:-6} LOADERS=${LOADERS:-6} RATE=${RATE:-50}
BIN=${BIN:-.build/release}
[[ $BIN == .build/release ]] && swift build -c release >/dev/null
ulimit -n 20000
source bench/lib/bus_rig.sh
kernel_bytes() {  # slab and TCP buffer pages, in bytes
    awk '/^Slab:/ {s = $2 * 1024} /^TCP:/ {for (i = 1; i < NF; i++) if ($i == "mem") t = $(i + 1) * 4096} END {print s + t}' \
        /proc/meminfo /proc/net/sockstat
}
rss_sum() { local total=0; for p in "$@"; do total=$((total + $(awk '/VmRSS/ {print $2 * 1024}' /proc/$p/status))); done; echo $total; }
start_bus_feed "$RATE" --bus-stream-storage memory
for run in $(seq "$runs"); do
    port=$((20000 + RANDOM % 10000))
    gateways=() admins=()
    for i in $(seq "$PROCS"); do
        admin=$((port + 100 + i))
        taskset -c 0 "$BIN/gateway" --host 127.0.0.1 --port $port --reuse-port --admin-port $admin "${bus[@]}" \
            --log-level warning ${GW_ARGS:-} &
        gateways+=($!) admins+=($admin)
        wait_port $admin
    done
    sleep 2
    idle_rss=$(rss_sum "${gateways[@]}") idle_kernel=$(kernel_bytes)
    loaders=()
    per=$((CONNS / LOADERS))
    for i in $(seq "$LOADERS"); do
        taskset -c 1 "$BIN/loadtest" market --url ws://127.0.0.1:$port/ws --conns $per --subs 10 --symbols 500 \
            --v2-fraction 0.5 --depth 5 --source-addresses 16 --dial-concurrency 200 --dial-retries 5 \
            --warmup 60 --duration 20 --quiet --json "$work/run$run-$i.json" > "$work/run$run-$i.txt" 2>&1 &
        loaders+=($!)
    done
    sleep 65
    ticks=$(cpu_ticks "${gateways[@]}")
    sleep 10
    gateway_cpu=$(( ($(cpu_ticks "${gateways[@]}") - ticks) ))  # in 1/100 s over 10 s: percent of a core x 10
    loaded_rss=$(rss_sum "${gateways[@]}") loaded_kernel=$(kernel_bytes)
    held=()
    for admin in "${admins[@]}"; do
        held+=($(held_connections $admin))
    done
    wait "${loaders[@]}" || true
    kill "${gateways[@]}" 2>/dev/null || true
    wait "${gateways[@]}" 2>/dev/null || true
    python3 - "$work" "$run" "$idle_rss" "$loaded_rss" "$idle_kernel" "$loaded_kernel" "$RATE" "$gateway_cpu" "${held[@]}" <<'PY'
import glob, json, sys
work, run, idle_rss, loaded_rss, idle_kernel, loaded_kernel, rate, gateway_cpu = sys.argv[1:9]
held = [int(h) for h in sys.argv[9:]]
results = [json.load(open(p)) for p in sorted(glob.glob(f"{work}/run{run}-*.json"))]
total = sum(held)
delivered = sum(r["rate"] for r in results)
p99 = max(r["latency_ms"]["p99"] for r in results)
gaps = sum(r["gaps"] for r in results)
connected = sum(r["open"] for r in results)
failed = sum(r["failed_dials"] for r in results)
print(f"run {run}: {total:,} connections held by {len(held)} processes ({' · '.join(f'{h:,}' for h in held)}); "
      f"the load tests hold {connected:,} open ({failed} dials failed)")
print(f"  gateway RSS per connection {(int(loaded_rss) - int(idle_rss)) / max(total, 1):,.0f} B "
      f"(all processes {int(loaded_rss) / 1e6:,.0f} MB); kernel per connection (one end) "
      f"{(int(loaded_kernel) - int(idle_kernel)) / max(total, 1) / 2:,.0f} B")
print(f"  {delivered:,.0f} deliveries/s at {rate} updates/s; worst loader p99 {p99:.2f} ms; gaps {gaps}; "
      f"gateways {int(gateway_cpu) / 10:.0f}% of core 0, load tests {sum(r['loadtest_cpu'] for r in results) * 100:.0f}% of core 1")
PY
done
