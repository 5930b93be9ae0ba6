#!/usr/bin/env bash
# Whole states against deltas and deltas with permessage-deflate, and rate caps, at W1's layout
# (2,000 connections, 10 of 500 symbols each, the simulator at 10,000 updates/s) with every
# client on v2 (v1 has neither). For each depth: wire bytes per delivery (what the clients read,
# frame headers and all), gateway CPU and deliveries/s, each the median of RUNS runs of
# bench/w1.sh. Then depth 5 with every subscription capped at 4 updates/s.
# Usage: bench/deltas.sh [runs] [depths...]   (default: 3 runs, depths 1 10 50)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}; shift || true
depths=("${@:-1 10 50}")
[[ ${#depths[@]} -eq 1 ]] && read -ra depths <<<"${depths[0]}"
swift build -c release >/dev/null
# Deltas and caps ship dark behind feature flags (docs/flags.md): on for everyone here.
flags=$(mktemp)
trap 'rm -f "$flags"' EXIT
echo '{"delta-updates":{"enabled":true,"percent":100},"rate-caps":{"enabled":true,"percent":100}}' >"$flags"
measure() {  # label, loadtest flags...
    local label=$1; shift
    local out
    out=$(BIN=.build/release GW_ARGS="--flags-file $flags ${GW_ARGS:-}" bench/w1.sh "$runs" --v2-fraction 1 "$@" 2>&1)
    local rate cpu wire writes
    rate=$(sed -n 's/^median: \([0-9,]*\) deliveries.*/\1/p' <<<"$out")
    cpu=$(sed -n 's/.*gateway \([0-9]*%\) of a core.*/\1/p' <<<"$out" | tail -1)
    wire=$(sed -n 's/^median wire bytes per delivery[^:]*: \(.*\)/\1/p' <<<"$out")
    writes=$(sed -n 's/^writes per delivery[^:]*: \(.*\)/\1/p' <<<"$out" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
    printf "| %s | %s | %s | %s | %s |\n" "$label" "$wire" "$writes" "$rate" "$cpu"
}
echo "| workload | wire bytes per delivery | writes per delivery | deliveries/s | gateway CPU |"
echo "| --- | --- | --- | --- | --- |"
for depth in "${depths[@]}"; do
    measure "depth $depth, whole states" --depth "$depth"
    measure "depth $depth, deltas" --depth "$depth" --delta
    measure "depth $depth, deltas + deflate" --depth "$depth" --delta --deflate
done
measure "depth 5, whole states" --depth 5
measure "depth 5, max_rate 4" --depth 5 --max-rate 4
