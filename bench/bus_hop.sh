#!/usr/bin/env bash
# The bus hop alone: a gateway simulating into NATS (--sim-target bus) -> nats-server -> a
# gateway following every subject (--bus-follow all), no clients, for each stream setting.
# Prints the bus lag (publisher ts to receive) and the receiving gateway's CPU. NATS and the
# publisher on core 1, the receiving gateway on core 0.
# Usage: bench/bus_hop.sh [runs] ; RATE=updates/s (10000), SYMBOLS (500), HOLD seconds measured (8).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
RATE=${RATE:-10000} SYMBOLS=${SYMBOLS:-500} HOLD=${HOLD:-8}
swift build -c release >/dev/null
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
for run in $(seq "$runs"); do
    for mode in "file" "memory" "no-jetstream"; do
        nats_port=$((40000 + RANDOM % 10000)) gw_port=$((20000 + RANDOM % 10000)) store=$(mktemp -d)
        js=(-js -sd "$store"); [[ $mode == no-jetstream ]] && js=()
        taskset -c 1 nats-server -a 127.0.0.1 -p $nats_port "${js[@]}" >/dev/null 2>&1 & nats=$!
        for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$nats_port) 2>/dev/null && break; sleep 0.05; done
        storage=(); [[ $mode == memory ]] && storage=(--bus-stream-storage memory)
        taskset -c 1 .build/release/gateway --port 0 --bus nats://127.0.0.1:$nats_port --sim-target bus "${storage[@]}" \
            --sim-symbols "$SYMBOLS" --sim-rate "$RATE" --log-level error & publisher=$!
        taskset -c 0 .build/release/gateway --host 127.0.0.1 --port $gw_port --bus nats://127.0.0.1:$nats_port \
            --bus-follow all --log-level error & gateway=$!
        sleep 2
        before=$(cpu_ticks $gateway)
        sleep "$HOLD"
        after=$(cpu_ticks $gateway)
        metrics=$(curl -s "http://127.0.0.1:$gw_port/metrics")
        echo "run $run, $mode: receiving gateway $(( (after - before) * 100 / (HOLD * $(getconf CLK_TCK)) ))% of a core; $(python3 bench/bus_lag.py <<<"$metrics")"
        kill $gateway $publisher; wait $gateway $publisher 2>/dev/null || true
        kill $nats; wait $nats 2>/dev/null || true
        rm -rf "$store"
    done
done
