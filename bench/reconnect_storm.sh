#!/usr/bin/env bash
# A reconnect storm: two instances on one port (--reuse-port), both fed by the bus; CONNS v2
# clients (10 of 500 symbols each, depth 5) on the first, which is then drained all at once
# (--drain-grace 0 --drain-duration 0: the worst case; a deploy spreads it). Every client
# follows the drain protocol (loadtest --reconnect: retry_after_ms, 100-1000 ms, plus jitter)
# and lands on the second, alone on core 0. Reports the time from the first client leaving
# until every client is back with a snapshot of each of its symbols, and the reconnects per
# second the second instance absorbed. The feed is light (100 updates/s: 30,000 deliveries/s
# to 15,000 clients) so the storm, not fan-out, is measured. Then a cold storm on the same
# core: CONNS clients dialled 1,000 at a time (more in flight only overflows the listen
# backlog into SYN retransmits, a kernel setting), against the gateway and,
# with UWS_BIN=path, against native uWebSockets' W1 server (no snapshots: it has none), in the
# same run. Usage: [CONNS=15000] [UWS_BIN=path] bench/reconnect_storm.sh [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-1}
CONNS=${CONNS:-15000}
BIN=${BIN:-.build/release}
[[ $BIN == .build/release ]] && swift build -c release >/dev/null
ulimit -n 20000
source bench/lib/bus_rig.sh
start_bus_feed 100
clients=(--subs 10 --symbols 500 --v2-fraction 1 --depth 5 --source-addresses 8 --quiet)
cold() {  # cold LABEL URL: every connection dialled at once
    taskset -c 1 "$BIN/loadtest" market --url "$2" --conns "$CONNS" "${clients[@]}" --dial-concurrency 1000 \
        --warmup 8 --duration 1 --json "$work/cold.json" > /dev/null 2>&1 || true
    python3 -c "import json,sys; r=json.load(open('$work/cold.json')); t=r['all_open_ms']
print(f'  cold storm, {sys.argv[1]}: {r[\"open\"]:,} open' + (f' in {t:,.0f} ms, {r[\"open\"]/t*1000:,.0f} connects/s' if t else ' (not all)')
      + f'; load test {r[\"loadtest_cpu\"]*100:.0f}% of core 1 over the run')" "$1"
}
for run in $(seq "$runs"); do
    port=$((20000 + RANDOM % 10000))
    taskset -c 1 "$BIN/gateway" --host 127.0.0.1 --port $port --reuse-port --admin-port $((port + 1)) "${bus[@]}" \
        --drain-grace 0 --drain-duration 0 --log-level warning &
    drained=$!
    wait_port $port
    taskset -c 1 "$BIN/loadtest" market --url ws://127.0.0.1:$port/ws --conns "$CONNS" "${clients[@]}" --dial-concurrency 1000 \
        --reconnect --warmup 15 --duration 12 --during "kill -TERM $drained" --during-after 2 --json "$work/storm.json" \
        > "$work/storm.txt" 2>&1 &
    loader=$!
    sleep 10  # every client is on the first instance; now the second joins the port
    taskset -c 0 "$BIN/gateway" --host 127.0.0.1 --port $port --reuse-port --admin-port $((port + 2)) "${bus[@]}" --log-level warning &
    taker=$!
    sleep 14  # the drain came 17 s into the load test; the storm is over by now
    held=$(held_connections $((port + 2)))
    wait $loader || true
    echo "run $run:"
    grep -E "reconnects  |storm  |continuity" "$work/storm.txt" | sed 's/^ */  /'
    echo "  the second instance holds $held connections"
    kill $taker 2>/dev/null; wait $taker 2>/dev/null || true
    # Cold storms on core 0, one server at a time.
    taskset -c 0 "$BIN/gateway" --host 127.0.0.1 --port $port "${bus[@]}" --log-level warning &
    gateway=$!
    wait_port $port
    cold "gateway (with snapshots)" ws://127.0.0.1:$port/ws
    kill $gateway; wait $gateway 2>/dev/null || true
    if [[ -n ${UWS_BIN:-} ]]; then
        taskset -c 0 "$UWS_BIN" $((port + 3)) 500 1000 >/dev/null &
        uws=$!
        wait_port $((port + 3))
        cold "native uWebSockets (no snapshots)" ws://127.0.0.1:$((port + 3))/ws
        kill $uws; wait $uws 2>/dev/null || true
    fi
done
