#!/usr/bin/env bash
# A watched deploy under W1 load: a deploy by takeover with --handover connections --watch in
# the middle of a measured window, of a good version, one that stalls (stopped 0.6 s of every
# second) or one that crashes (SIGSEGV 2 s after it starts); the bad ones are the real binary
# behind blackbox/integration/versions/. Reports, per run: the verdict and the deploy script's
# exit status, the time from the watch's start to the verdict, the longest time any client went
# without an update (the rollback's pause), seq gaps, reconnects, and the standby's memory and
# CPU while it waited (read from a good version's run: with a bad one the window runs on past
# the verdict, into serving again), and how long a rollback took to hand everything back.
#
#   bench/watch.sh [good|stall|crash] [CONNS] [SIM_RATE] [runs] [WATCH_SECONDS]
#
# W1 is 2000 connections at 10000 updates/s (400,000 deliveries/s). Gateways on core 0, the
# load test on core 1.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-good}
conns=${2:-2000}
rate=${3:-10000}
runs=${4:-1}
watch=${5:-5}
BIN=${BIN:-.build/release}
[[ $BIN == .build/release ]] && swift build -c release >/dev/null
case $mode in
    good) new=$PWD/$BIN/gateway ;;
    stall) new=$PWD/blackbox/integration/versions/stall.sh ;;
    crash) new=$PWD/blackbox/integration/versions/crash.sh ;;
    *) echo "mode: good, stall or crash"; exit 64 ;;
esac
export REAL_GATEWAY=$PWD/$BIN/gateway
work=$(mktemp -d)
trap 'pkill -f "$work" 2>/dev/null || true; rm -rf "$work"' EXIT
common=(--host 127.0.0.1 --sim-symbols 500 --sim-rate "$rate" --log-level notice --drain-grace 0 --drain-duration 3
        --drain-timeout 30 --max-connections 19000)
for run in $(seq "$runs"); do
    port=$((20000 + RANDOM % 20000))
    rm -f "$work"/*.log
    taskset -c 0 "$BIN/gateway" --port $port "${common[@]}" --control-socket "$work/control.sock" >"$work/old.log" 2>&1 &
    old=$!
    for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.05; done
    # The standby's memory (kB) and CPU ticks, every half second.
    (while kill -0 $old 2>/dev/null; do
        echo "$(date +%s.%N) $(awk '/VmRSS/ {print $2}' /proc/$old/status 2>/dev/null) $(awk '{print $14 + $15}' /proc/$old/stat 2>/dev/null)"
        sleep 0.5
    done) >"$work/standby.samples" 2>/dev/null &
    deploy="OLD_PID=$old LOG=$work/new.log TIMEOUT=60 taskset -c 0 deploy/vm/takeover-deploy.sh $new --handover connections --watch $watch"
    deploy+=" 2>&1 | while IFS= read -r line; do echo \"\$(date +%s.%N) \$line\"; done >$work/deploy.log; exit \${PIPESTATUS[0]}"
    taskset -c 1 "$BIN/loadtest" market --url ws://127.0.0.1:$port/ws --conns "$conns" --subs 10 --symbols 500 \
        --v2-fraction 0.5 --depth 5 --warmup 5 --duration $((watch * 2 + 15)) --source-addresses 4 --quiet --reconnect \
        --during "bash -c '$deploy'" --during-after 5 >"$work/loadtest.log" 2>&1 || true
    python3 - "$work" <<'PY'
import re, sys
work = sys.argv[1]
lines = [l.split(" ", 1) for l in open(f"{work}/deploy.log") if " " in l]
start = next((float(t) for t, l in lines if "stands by" in l), None)
verdict = next(((float(t), l.strip()) for t, l in lines if re.search(r"PROMOTED|ROLLED BACK|CRASHED|no verdict", l)), None)
samples = [l.split() for l in open(f"{work}/standby.samples") if len(l.split()) == 3]
window = [(float(t), int(r), int(c)) for t, r, c in samples if start and verdict and start + 1 <= float(t) <= verdict[0]]
if start and verdict:
    print(f"  verdict {verdict[1].split(': ', 1)[-1][:90]}")
    print(f"  decided {verdict[0] - start:.2f} s after the watch began")
if len(window) >= 2:
    cpu = (window[-1][2] - window[0][2]) / 100 / (window[-1][0] - window[0][0])
    print(f"  standby while waiting: RSS {max(r for _, r, _ in window) / 1024:.1f} MB, CPU {cpu * 100:.1f}% of a core")
PY
    # A rollback: how long the standby took to adopt everything back.
    back=$(grep -o 'adopted=[0-9]* failed=[0-9]* milliseconds=[0-9.]*' "$work/old.log" | tail -1 || true)
    if [[ -n $back ]]; then echo "  handed back to the standby: $back"; fi
    grep -E 'during|delivered|longest silence|seq gaps|connections  |reconnects|continuity' "$work/loadtest.log" | sed 's/^/  /'
    pkill -TERM -f -- "--port $port" 2>/dev/null || true
    sleep 3
done
