#!/usr/bin/env bash
# User-space instructions per delivered message in the gateway, counted by callgrind: a
# repeatable figure for hot-path changes on a noisy machine (kernel work is not counted).
# The real gateway runs under callgrind with CONNS subscribers (default 2000: the W1 layout,
# 40 subscribers per update) and the simulator at 1,000 updates/s. After connections and
# warm-up, the counters are dumped and zeroed; 8 s later they are dumped again, and that
# window's instructions are divided by the messages delivered in it (from /metrics).
# Usage: [BIN=dir] [CONNS=n] [TOP=1] bench/instructions_per_delivery.sh [extra loadtest flags,
# e.g. --deflate]
set -euo pipefail
cd "$(dirname "$0")/.."
# BIN=DIR measures the gateway and loadtest binaries in DIR instead (an A/B against another build).
BIN=${BIN:-.build/release}
[[ $BIN == .build/release ]] && swift build -c release >/dev/null
binary=$(mktemp); out=$(mktemp -d)
cp "$BIN/gateway" "$binary"; strip --strip-debug "$binary"; chmod +x "$binary"
trap 'rm -rf "$binary"; [[ -n ${KEEP:-} ]] && cp "$out"/cg.out.*.2 "$KEEP" 2>/dev/null; rm -rf "$out"' EXIT
port=$((20000 + RANDOM % 20000))
valgrind --tool=callgrind --compress-strings=no --compress-pos=no --callgrind-out-file="$out/cg.out.%p" "$binary" --host 127.0.0.1 --port $port \
    --sim-symbols 500 --sim-rate 1000 --drain-grace 0 --drain-duration 0 --log-level error ${GW_ARGS:-} 2>"$out/vg.log" &
pid=$!
for _ in $(seq 300); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
"$BIN/loadtest" market --url ws://127.0.0.1:$port/ws --conns "${CONNS:-2000}" --subs 10 --symbols 500 \
    --warmup 10 --duration 12 --quiet "$@" >/dev/null 2>&1 &
lt=$!
delivered() { curl -s http://127.0.0.1:$port/metrics | awk '/^tickstream_messages_sent_total/ {s += $2} END {print s}'; }
sleep 12
callgrind_control -d "$pid" >/dev/null; d1=$(delivered)
sleep 8
callgrind_control -d "$pid" >/dev/null; d2=$(delivered)
wait $lt || true
kill -TERM $pid; wait $pid || true
window=$(ls "$out"/cg.out.*.2)
total=$(callgrind_annotate "$window" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
python3 - "$total" "$d1" "$d2" <<'PY'
import sys
total, d1, d2 = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
print(f"steady state: {total:,} instructions for {d2 - d1:,.0f} deliveries: {total / (d2 - d1):,.0f} per delivery")
PY
if [[ ${TOP:-0} != 0 ]]; then callgrind_annotate "$window" 2>/dev/null | sed -n '1,40p' | tail -25 | cut -c1-150; fi
