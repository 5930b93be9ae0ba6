#!/usr/bin/env bash
# "Deploy under load": W1 (2,000 clients, 400,000 deliveries/s) through a deploy in the middle
# of the measured window, every client following the drain protocol (loadtest --reconnect).
#   takeover:  deploy/vm/takeover-deploy.sh hands the listener to a new instance
#   reuseport: a second instance binds the port with --reuse-port, then the old one gets SIGTERM
# Gateways on core 0, the load test on core 1. Usage: bench/deploy_under_load.sh [takeover|reuseport] [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-takeover}
runs=${2:-1}
BIN=${BIN:-.build/release}
[[ $BIN == .build/release ]] && swift build -c release >/dev/null
work=$(mktemp -d)
trap 'pkill -f "$work" 2>/dev/null || true; rm -rf "$work"' EXIT
common=(--host 127.0.0.1 --sim-symbols 500 --sim-rate 10000 --log-level warning --drain-grace 0 --drain-duration 3 --drain-timeout 20)
for run in $(seq "$runs"); do
    port=$((20000 + RANDOM % 20000))
    case $mode in
        takeover)
            taskset -c 0 "$BIN/gateway" --port $port "${common[@]}" --control-socket "$work/control.sock" &
            old=$!
            deploy="OLD_PID=$old LOG=$work/new.log taskset -c 0 deploy/vm/takeover-deploy.sh $PWD/$BIN/gateway" ;;
        reuseport)
            taskset -c 0 "$BIN/gateway" --port $port "${common[@]}" --reuse-port &
            old=$!
            deploy="(taskset -c 0 $PWD/$BIN/gateway --port $port ${common[*]} --reuse-port >$work/new.log 2>&1 &) && sleep 1 && kill -TERM $old && while kill -0 $old 2>/dev/null; do sleep 0.2; done" ;;
        *) echo "mode: takeover or reuseport"; exit 64 ;;
    esac
    for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.05; done
    taskset -c 1 "$BIN/loadtest" market --url ws://127.0.0.1:$port/ws --conns 2000 --subs 10 --symbols 500 \
        --v2-fraction 0.5 --depth 5 --warmup 3 --duration 15 --source-addresses 4 --quiet --reconnect \
        --during "$deploy" --during-after 5 || true
    # The instance now serving, whichever it is.
    pkill -TERM -f -- "--port $port" 2>/dev/null || true
    sleep 1
done
