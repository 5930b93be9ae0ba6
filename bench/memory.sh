#!/usr/bin/env bash
# Gateway memory per subscribed connection: RSS with N subscribed connections minus RSS with
# none, divided by N; and the marginal figure, measured from a warm gateway (one that has
# served and closed a wave of 1,000 connections, so the code pages of the upgrade path and the
# allocator's arenas are already in its RSS). Prints where the RSS sits (heap, other anonymous
# memory, code and data of each mapped file) at idle and loaded. Connections as in W1 (half v1, half v2 depth 5, 10 of 500 symbols each),
# client addresses spread over 127.0.0.1-4. Usage: [BIN=dir] [TLS=1] bench/memory.sh [connections]
# TLS=1: every connection over wss:// (the gateway's OpenSSL state per connection included).
# DEFLATE=1: every connection negotiates permessage-deflate.
set -euo pipefail
cd "$(dirname "$0")/.."
conns=${1:-18000}
# BIN=DIR measures the gateway and loadtest binaries in DIR instead (an A/B against another build).
BIN=${BIN:-.build/release}
[[ $BIN == .build/release ]] && swift build -c release >/dev/null
tls_gateway=() tls_client=() scheme=ws host=127.0.0.1 curl_url=http://127.0.0.1
if [[ ${TLS:-0} == 1 ]]; then
    certs=$(mktemp -d)
    scripts/make-test-certificates.sh "$certs"
    tls_gateway=(--tls-cert "$certs/server.pem" --tls-key "$certs/server.key")
    tls_client=(--ca "$certs/ca.pem")
    scheme=wss host=localhost curl_url="--cacert $certs/ca.pem https://localhost"
fi
port=$((20000 + RANDOM % 20000))
taskset -c 0 "$BIN/gateway" --host 127.0.0.1 --port $port --sim-symbols 500 --sim-rate 2000 --log-level warning "${tls_gateway[@]}" ${GW_ARGS:-} &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.05; done
sleep 1
rss() { awk '/VmRSS/ {print $2 * 1024}' /proc/$pid/status; }
# RSS by mapping: [heap], other anonymous memory, and each file (its code and data pages).
regions() {
    awk '/^[0-9a-f]+-[0-9a-f]+ / {name = ($6 == "" ? "anonymous (mmap)" : $6)} /^Rss:/ {rss[name] += $2}
         END {for (n in rss) if (rss[n] >= 256) printf "    %8.1f MB  %s\n", rss[n] / 1024, n}' /proc/$pid/smaps | sort -rn
}
base=$(rss)
idle_regions=$(regions)
deflate=()
[[ ${DEFLATE:-0} == 1 ]] && deflate=(--deflate)
taskset -c 1 "$BIN/loadtest" market --url $scheme://$host:$port/ws "${tls_client[@]}" "${deflate[@]}" --conns 1000 --subs 10 --symbols 500 \
    --v2-fraction 0.5 --depth 5 --source-addresses 4 --dial-concurrency 500 --warmup 2 --duration 2 --quiet > /dev/null 2>&1
sleep 2
warm=$(rss)
taskset -c 1 "$BIN/loadtest" market --url $scheme://$host:$port/ws "${tls_client[@]}" "${deflate[@]}" --conns "$conns" --subs 10 --symbols 500 \
    --v2-fraction 0.5 --depth 5 --source-addresses 4 --dial-concurrency 500 --warmup 25 --duration 10 --quiet \
    --json /tmp/memory-run.json > /tmp/memory-run.txt 2>&1 &
lt=$!
sleep 30
loaded=$(rss)
loaded_regions=$(regions)
open=$(curl -s $curl_url:$port/metrics | awk '/^tickstream_connections\{/ {s += $2} END {print s}')
subs=$(curl -s $curl_url:$port/metrics | awk '/^tickstream_subscriptions / {print $2}')
wait $lt || true
tail -4 /tmp/memory-run.txt >&2
echo "RSS by region, idle:"; echo "$idle_regions"
echo "RSS by region, loaded:"; echo "$loaded_regions"
python3 - "$base" "$warm" "$loaded" "$open" "$subs" <<'PY'
import sys
base, warm, loaded, open_, subs = map(float, sys.argv[1:])
print(f"RSS idle {base/1e6:.1f} MB, warm {warm/1e6:.1f} MB, with {open_:.0f} subscribed connections ({subs:.0f} subscriptions) {loaded/1e6:.1f} MB")
print(f"marginal per connection (from warm): {(loaded - warm) / open_:.0f} bytes")
print(f"per connection: {(loaded - base) / open_:.0f} bytes")
PY
