#!/usr/bin/env bash
# W1 from the load-test issue: 2,000 connections (half v1, half v2 depth 5), 10 symbols each
# over 500, the gateway's simulator at 10,000 updates/s -> 400,000 deliveries/s.
# Gateway on core 0, loadtest on core 1. Usage: [BIN=dir] bench/w1.sh [runs] [extra loadtest flags]
# RATE=updates/s (default 10000), SYMBOLS (below) and GW_ARGS="..." change the gateway side (not GATEWAY_*:
# the gateway reads every GATEWAY_ variable as one of its options). TLS=1 runs it over wss://
# with a test certificate and prints how many frames each TLS record carried. Extra flags go
# to the load test: `bench/w1.sh 3 --deflate` has every client negotiate permessage-deflate.
# Each run also prints the wire bytes per delivery and the compressions per update.
# BUS=1 feeds the gateway through NATS instead of its own simulator: nats-server (JetStream,
# from Debian) and a second gateway simulating into the bus (--sim-target bus) run on core 1
# beside the load test; the measured gateway (--bus, no simulator) stays alone on core 0. Each
# run then also prints the bus lag (receive time minus the publisher's ts) from the gateway's
# tickstream_bus_feed_lag_seconds histogram.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}; shift || true
RATE=${RATE:-10000}
# SYMBOLS=n changes the universe (default 500): fewer symbols, more subscribers per update.
SYMBOLS=${SYMBOLS:-500}
# BIN=DIR measures the gateway and loadtest binaries in DIR instead (an A/B against another build).
BIN=${BIN:-.build/release}
# LOADTEST=path: the load generator to use (default: the one beside the gateway in BIN); an A/B
# of two gateway builds should drive both with the same client.
LOADTEST=${LOADTEST:-$BIN/loadtest}
[[ $BIN == .build/release ]] && swift build -c release >/dev/null
tls_gateway=() tls_client=() scheme=ws http=http host=127.0.0.1 curl_tls=()
if [[ ${TLS:-0} == 1 ]]; then
    certs=$(mktemp -d)
    scripts/make-test-certificates.sh "$certs"
    tls_gateway=(--tls-cert "$certs/server.pem" --tls-key "$certs/server.key")
    tls_client=(--ca "$certs/ca.pem")
    scheme=wss http=https host=localhost curl_tls=(--cacert "$certs/ca.pem")
fi
feed=(--sim-symbols "$SYMBOLS" --sim-rate "$RATE")
bus_pids=()
if [[ ${BUS:-0} == 1 ]]; then
    nats_port=$((40000 + RANDOM % 10000))
    nats_store=$(mktemp -d)
    # Real-time priority for the two bus processes: on this 2-core rig they share core 1 with
    # the load test, and without it a wake-up can wait a whole scheduler slice behind it (in a
    # deployment NATS and the publisher have machines of their own). Their work is small.
    taskset -c 1 chrt -f 10 nats-server -a 127.0.0.1 -p $nats_port -js -sd "$nats_store" >/dev/null 2>&1 &
    bus_pids+=($!)
    for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$nats_port) 2>/dev/null && break; sleep 0.05; done
    # BUS_ARGS="--bus-stream-storage memory" and the like go to the publisher, which creates the stream.
    taskset -c 1 chrt -f 10 "$BIN/gateway" --host 127.0.0.1 --port 0 --bus nats://127.0.0.1:$nats_port --sim-target bus ${BUS_ARGS:-} \
        --sim-symbols "$SYMBOLS" --sim-rate "$RATE" --log-level warning &
    bus_pids=($! "${bus_pids[@]}")  # the publisher first, so it stops before NATS does
    feed=(--bus nats://127.0.0.1:$nats_port)
    trap 'kill ${bus_pids[*]} 2>/dev/null; wait 2>/dev/null; rm -rf "$nats_store"' EXIT
fi
results=()
for run in $(seq "$runs"); do
    port=$((20000 + RANDOM % 20000))
    taskset -c 0 "$BIN/gateway" --host 127.0.0.1 --port $port "${feed[@]}" --log-level warning \
        "${tls_gateway[@]}" ${GW_ARGS:-} &
    pid=$!
    for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.05; done
    json=$(mktemp)
    taskset -c 1 "$LOADTEST" market --url $scheme://$host:$port/ws "${tls_client[@]}" --conns 2000 --subs 10 --symbols "$SYMBOLS" \
        --v2-fraction 0.5 --depth 5 --warmup 3 --duration 10 --source-addresses 4 --gateway-pid $pid --quiet --json "$json" "$@" | tail -8 >&2 || true
    metrics=$(curl -s "${curl_tls[@]}" "$http://$host:$port/metrics")
    awk '
        /^tickstream_messages_sent_total\{protocol="v1"\}/ {m1 = $2} /^tickstream_messages_sent_total\{protocol="v2"\}/ {m2 = $2}
        /^tickstream_bytes_sent_total\{protocol="v1"\}/ {b1 = $2} /^tickstream_bytes_sent_total\{protocol="v2"\}/ {b2 = $2}
        /^tickstream_feed_updates_total/ {u += $2} /^tickstream_deflate_compressions_total / {c = $2}
        /^tickstream_tls_records_total / {r = $2} /^tickstream_tls_record_plaintext_bytes_total / {rb = $2}
        /^tickstream_socket_writes_total / {w = $2}
        END {
            printf "wire bytes per delivery: v1 %.1f, v2 %.1f; deflate compressions per update %.2f\n", b1 / m1, b2 / m2, c / u
            if (w > 0) printf "writes per delivery (whole run, gateway /metrics): %.3f\n", w / (m1 + m2)
            if (r > 0) printf "TLS records: %d, %.1f frames and %.0f plaintext bytes per record\n", r, (m1 + m2) / r, rb / r
        }' <<<"$metrics" >&2
    python3 bench/bus_lag.py <<<"$metrics" >&2
    kill $pid; wait $pid 2>/dev/null || true
    results+=("$json")
done
python3 bench/summarise.py "${results[@]}"
rm -f "${results[@]}"
