# Sourced by the fleet benchmarks: a work directory, processes stopped in reverse order at
# exit (the writer before NATS, so it does not log a lost bus on the way out), and the bus
# feed: nats-server (JetStream) and one gateway simulating into it, both on core 1 with
# real-time priority as in bench/w1.sh (they share that core with the load tests, and a
# wake-up would otherwise wait behind them). Needs BIN.
work=$(mktemp -d)
pids=()
cleanup() { for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null || true; sleep 0.2; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
wait_port() { for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return; sleep 0.05; done; echo "port $1 never opened" >&2; exit 1; }
# CPU time of the processes, in 1/100 s.
cpu_ticks() { local total=0; for p in "$@"; do total=$((total + $(awk '{print $14 + $15}' /proc/$p/stat))); done; echo $total; }
# Connections an instance holds, from its /metrics on the given port.
held_connections() { curl -s http://127.0.0.1:$1/metrics | awk '/^tickstream_connections\{/ {s += $2} END {print s + 0}'; }

# start_bus_feed RATE [writer flags...]: sets `bus` to the flags that join it.
start_bus_feed() {
    local rate=$1; shift
    local nats_port=$((40000 + RANDOM % 10000))
    taskset -c 1 chrt -f 10 nats-server -a 127.0.0.1 -p $nats_port -js -sd "$work/nats" >/dev/null 2>&1 &
    pids+=($!)
    wait_port $nats_port
    bus=(--bus nats://127.0.0.1:$nats_port --bus-follow all)
    taskset -c 1 chrt -f 10 "$BIN/gateway" --host 127.0.0.1 --port 0 "${bus[@]}" --sim-target bus --sim-symbols 500 \
        --sim-rate "$rate" --log-level warning "$@" &
    pids+=($!)
}
