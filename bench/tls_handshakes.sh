#!/usr/bin/env bash
# Full TLS handshakes per second on the gateway's core: `openssl s_time` (core 1) opens a new
# connection with a full handshake (ECDHE P-256 certificate, TLS 1.3) over and over against
# /health/live for 10 s, while the gateway (core 0) is measured; the rate divided by the
# gateway's share of its core is the rate one core would sustain. RESUME=1 measures resumed
# handshakes (session tickets) instead. Usage: [BIN=dir] [RESUME=1] bench/tls_handshakes.sh [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
BIN=${BIN:-.build/release}
[[ $BIN == .build/release ]] && swift build -c release >/dev/null
certs=$(mktemp -d)
trap 'rm -rf "$certs"' EXIT
scripts/make-test-certificates.sh "$certs"
mode=-new
[[ ${RESUME:-0} == 1 ]] && mode=-reuse
ticks=$(getconf CLK_TCK)
for run in $(seq "$runs"); do
    port=$((20000 + RANDOM % 20000))
    taskset -c 0 "$BIN/gateway" --host 127.0.0.1 --port $port --sim-rate 0 --log-level warning \
        --tls-cert "$certs/server.pem" --tls-key "$certs/server.key" &
    pid=$!
    for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.05; done
    cpu_before=$(awk '{print $14 + $15}' /proc/$pid/stat)
    out=$(taskset -c 1 openssl s_time -connect 127.0.0.1:$port $mode -time 10 -CAfile "$certs/ca.pem" -www /health/live 2>&1)
    cpu_after=$(awk '{print $14 + $15}' /proc/$pid/stat)
    handshakes=$(curl -s --cacert "$certs/ca.pem" https://localhost:$port/metrics | awk '/^tickstream_tls_handshakes_total / {print $2}')
    kill $pid; wait $pid 2>/dev/null || true
    python3 - "$out" "$cpu_before" "$cpu_after" "$ticks" "$handshakes" <<'PY'
import re, sys
out, before, after, ticks, handshakes = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
m = re.search(r"(\d+) connections in ([\d.]+)s", out) or re.search(r"(\d+) connections in (\d+) real seconds", out)
conns, seconds = int(m.group(1)), float(m.group(2))
real = re.search(r"(\d+) connections in (\d+) real seconds", out)
wall = float(real.group(2)) if real else 10.0
cpu = (after - before) / ticks / wall
rate = conns / wall
print(f"{conns} connections in {wall:.0f} s: {rate:,.0f}/s, gateway {cpu:.0%} of a core -> {rate / cpu:,.0f} handshakes/s per gateway core"
      f" (gateway counted {handshakes} handshakes)")
PY
done
