#!/usr/bin/env bash
# W1 against uWebSockets instead of the gateway, with the same loadtest, layout and pinning:
# bench/uws/w1_server.py runs uWS's C++ server and pub/sub (socketify's prebuilt library) with
# the gateway's simulator pacing written in Python. PROFILE=1 also samples the server with
# `perf record` in each run and prints where its CPU went (kernel / uWS C++ / Python), because
# the Python part is the harness's, not uWebSockets'. (Profiling perturbs a saturated process:
# take latency figures from runs without it.)
# UWS_BIN=path runs a native uWebSockets W1 server instead (same arguments: PORT SYMBOLS RATE;
# built by hand from uNetworking/uWebSockets + uSockets outside this repository, see
# docs/benchmarks-history.md "Native uWebSockets"), so no Python sits in the server's loop.
# Usage: bench/uws_w1.sh [runs] [extra loadtest flags]; RATE=updates/s (default 10000).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}; shift || true
RATE=${RATE:-10000}
if [[ -z ${UWS_BIN:-} ]]; then
    if ! ldconfig -p | grep -q 'libuv\.so\.1 '; then apt-get install -y -q libuv1 >/dev/null; fi
    if [ ! -x .venv-uws/bin/python ]; then
        python3 -m venv .venv-uws
        .venv-uws/bin/pip install -q -r bench/uws/requirements.txt
    fi
    server=(.venv-uws/bin/python bench/uws/w1_server.py)
else
    server=("$UWS_BIN")
fi
swift build -c release --product loadtest >/dev/null
results=()
for run in $(seq "$runs"); do
    port=$((20000 + RANDOM % 20000))
    taskset -c 0 "${server[@]}" $port 500 "$RATE" >/dev/null &
    pid=$!
    for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.05; done
    json=$(mktemp)
    taskset -c 1 .build/release/loadtest market --url ws://127.0.0.1:$port/ws --conns 2000 --subs 10 --symbols 500 \
        --v2-fraction 0.5 --depth 5 --warmup 3 --duration 10 --source-addresses 4 --gateway-pid $pid --quiet --json "$json" "$@" \
        | tail -8 >&2 &
    load=$!
    if [ "${PROFILE:-0}" = 1 ]; then
        sleep 6
        perf record -F 999 -p $pid -o "$json.perf" -- sleep 4 >/dev/null 2>&1 || true
        perf report -i "$json.perf" --sort dso --stdio 2>/dev/null | grep '%' | head -6 >&2 || true
        rm -f "$json.perf"
    fi
    wait $load || true
    kill $pid; wait $pid 2>/dev/null || true
    results+=("$json")
done
python3 bench/summarise.py "${results[@]}" | sed 's/gateway/server/g'
rm -f "${results[@]}"
