#!/usr/bin/env bash
# Heap allocations per echoed frame in the gateway, counted by valgrind (memcheck's
# "total heap usage"). Two runs of different lengths: the difference in allocations divided by
# the difference in echoes is the per-frame cost, free of start-up and per-connection costs.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release >/dev/null
# valgrind 3.19 cannot read the DWARF 5 debug info Swift emits: measure a debug-stripped copy.
binary=$(mktemp)
cp .build/release/gateway "$binary"
strip --strip-debug "$binary"
chmod +x "$binary"
trap 'rm -f "$binary"' EXIT
run() {  # $1 = seconds of echo load; prints "allocs echoes"
    local port=$((20000 + RANDOM % 20000)) log
    log=$(mktemp)
    valgrind --tool=memcheck --leak-check=no "$binary" --host 127.0.0.1 --port $port --echo --sim-rate 0 --log-level error 2>"$log" &
    local pid=$!
    for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
    local echoes json
    json=$(mktemp)
    .build/release/loadtest echo --url ws://127.0.0.1:$port/echo --conns 2 --pipeline 16 --size ${SIZE:-64} \
        --warmup 0 --duration "$1" --json "$json" >&2
    echoes=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["echoes"])' "$json")
    rm -f "$json"
    sleep 1
    kill -TERM $pid; wait $pid || true
    local allocs
    allocs=$(grep -o 'total heap usage: [0-9,]* allocs' "$log" | tr -d , | awk '{print $4}')
    rm -f "$log"
    echo "$allocs $echoes"
}
read -r a1 e1 < <(run 2)
read -r a2 e2 < <(run 8)
python3 - "$a1" "$e1" "$a2" "$e2" <<'PY'
import sys
a1, e1, a2, e2 = map(int, sys.argv[1:])
print(f"short run: {e1} echoes, {a1} allocations; long run: {e2} echoes, {a2} allocations")
print(f"allocations per echoed frame: {(a2 - a1) / (e2 - e1):.5f}")
PY
