#!/usr/bin/env bash
# Handover against drain: a deploy by takeover in the middle of a measured window, with the
# live connections handed to the new instance (handover) or drained to it (drain: every client
# follows the drain protocol, loadtest --reconnect). Reports, per run: the new instance's time
# from asking for the connections to the last one adopted, the longest time any client went
# without an update, seq gaps (updates missed), reconnects and abrupt closes.
#
#   bench/handover.sh [handover|drain|none] [CONNS] [SIM_RATE] [runs]
#
# none: no deploy, for the workload's own longest silence (a client's symbols are updated once
# per round of the 500 symbols: every 50 ms at 10000 updates/s, every 500 ms at 1000).
#
# W1 is 2000 connections at 10000 updates/s (400,000 deliveries/s); 18000 connections at 1000
# updates/s is 360,000 deliveries/s. Gateways on core 0, the load test on core 1.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-handover}
conns=${2:-2000}
rate=${3:-10000}
runs=${4:-1}
BIN=${BIN:-.build/release}
[[ $BIN == .build/release ]] && swift build -c release >/dev/null
work=$(mktemp -d)
trap 'pkill -f "$work" 2>/dev/null || true; rm -rf "$work"' EXIT
common=(--host 127.0.0.1 --sim-symbols 500 --sim-rate "$rate" --log-level notice --drain-grace 0 --drain-duration 3
        --drain-timeout 30 --max-connections 19000)
case $mode in
    handover) extra=(--handover connections); reconnect=() ;;
    drain) extra=(); reconnect=(--reconnect) ;;
    none) extra=(); reconnect=() ;;
    *) echo "mode: handover, drain or none"; exit 64 ;;
esac
for run in $(seq "$runs"); do
    port=$((20000 + RANDOM % 20000))
    rm -f "$work/new.log"
    taskset -c 0 "$BIN/gateway" --port $port "${common[@]}" --control-socket "$work/control.sock" >"$work/old.log" 2>&1 &
    old=$!
    for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.05; done
    deploy="OLD_PID=$old LOG=$work/new.log TIMEOUT=60 taskset -c 0 deploy/vm/takeover-deploy.sh $PWD/$BIN/gateway ${extra[*]} >$work/deploy.log 2>&1"
    during=(--during "$deploy" --during-after 5)
    [[ $mode == none ]] && during=()
    taskset -c 1 "$BIN/loadtest" market --url ws://127.0.0.1:$port/ws --conns "$conns" --subs 10 --symbols 500 \
        --v2-fraction 0.5 --depth 5 --warmup 5 --duration 15 --source-addresses 4 --quiet "${reconnect[@]}" \
        "${during[@]}" >"$work/loadtest.log" 2>&1 || true
    adopted=$(grep -o 'adopted=[0-9]*' "$work/new.log" | head -1 || true)
    took=$(grep -o 'milliseconds=[0-9.]*' "$work/new.log" | head -1 || true)
    moved=$(grep 'handover' "$work/old.log" | grep -o 'moved=[0-9]*\|milliseconds=[0-9.]*' | tr '\n' ' ' || true)
    echo "run $run ($mode, $conns connections, $rate updates/s): new instance: ${adopted:-adopted=0} ${took:-} old: ${moved:-}"
    grep -E 'delivered|longest silence|seq gaps|connections  |reconnects|continuity|during' "$work/loadtest.log" | sed 's/^/  /'
    pkill -TERM -f -- "--port $port" 2>/dev/null || true
    sleep 2
done
