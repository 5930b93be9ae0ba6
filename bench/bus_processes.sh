#!/usr/bin/env bash
# One versus two gateway processes on the bus at W1 (2,000 connections x 10 of 500 symbols,
# the simulator at 10,000 updates/s publishing into nats-server): the second process on the
# same port (--reuse-port) takes half the clients but reads the whole feed too. Reports, per
# layout, each process's CPU and the sum, delivery p99, and the CPU of a process on the bus with
# no client at all (what every extra process costs). Gateways on core 0; the load test, NATS
# and the writer on core 1. Usage: bench/bus_processes.sh [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-1}
BIN=${BIN:-.build/release}
[[ $BIN == .build/release ]] && swift build -c release >/dev/null
source bench/lib/bus_rig.sh
start_bus_feed 10000
for run in $(seq "$runs"); do
    for processes in 1 2; do
        port=$((20000 + RANDOM % 10000))
        gateways=()
        for i in $(seq $processes); do
            taskset -c 0 "$BIN/gateway" --host 127.0.0.1 --port $port --reuse-port --admin-port $((port + i)) "${bus[@]}" --log-level warning &
            gateways+=($!)
            wait_port $((port + i))
        done
        sleep 3
        # A process on the bus with no client: the feed alone.
        before=$(cpu_ticks "${gateways[0]}"); sleep 5; idle=$(( $(cpu_ticks "${gateways[0]}") - before ))
        taskset -c 1 "$BIN/loadtest" market --url ws://127.0.0.1:$port/ws --conns 2000 --subs 10 --symbols 500 --v2-fraction 0.5 \
            --depth 5 --warmup 5 --duration 12 --source-addresses 4 --quiet --json "$work/w1.json" > /dev/null 2>&1 &
        loader=$!
        sleep 5
        declare -a start=()
        for g in "${gateways[@]}"; do start+=($(cpu_ticks "$g")); done
        sleep 10
        cpus=()
        for i in "${!gateways[@]}"; do cpus+=($(( $(cpu_ticks "${gateways[i]}") - start[i] ))); done
        held=()
        for i in $(seq $processes); do held+=($(held_connections $((port + i)))); done
        wait $loader || true
        kill "${gateways[@]}"; wait "${gateways[@]}" 2>/dev/null || true
        python3 - "$work/w1.json" "$processes" "$idle" "${cpus[*]}" "${held[*]}" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
processes, idle = int(sys.argv[2]), int(sys.argv[3]) / 5   # ticks per second = % of a core
cpus = [int(c) / 10 for c in sys.argv[4].split()]            # ticks over 10 s -> % of a core
held = sys.argv[5].split()
print(f"{processes} process{'es' if processes > 1 else ''}: {r['rate']:,.0f} deliveries/s, p99 {r['latency_ms']['p99']:.2f} ms, gaps {r['gaps']}; "
      f"CPU {' + '.join(f'{c:.0f}%' for c in cpus)} = {sum(cpus):.0f}% of core 0 (connections {' · '.join(held)}); "
      f"a process on the bus with no client {idle:.0f}%")
PY
    done
done
