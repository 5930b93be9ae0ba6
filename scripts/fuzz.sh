#!/usr/bin/env bash
# Fuzzes the parsers that read what clients, publishers and the bus send: the frame reader,
# the HTTP request parser, the v1/v2 command decoder, the feed decoder (and bus messages), the
# token verifier and the NATS protocol parser. Each target (fuzz/Targets) is built with
# libFuzzer and AddressSanitizer and runs for SECONDS_EACH seconds (default 12: about a
# minute and a quarter in all), starting from its seed corpus (fuzz/corpus).
# A crash leaves the input in reports/fuzz/; copy it into fuzz/regressions/<target>/ and the unit
# tests replay it from then on. Last line: "N passed, M failed" over the targets.
set -uo pipefail
cd "$(dirname "$0")/.."

SECONDS_EACH=${1:-12}
SCRATCH=.build-fuzz
TARGETS=(frame-stream:FuzzFrameStream http-request:FuzzHTTPRequest command:FuzzCommand feed:FuzzFeed token:FuzzToken nats:FuzzNATS)
# lld: gold fails with an internal error on these instrumented objects.
FLAGS=(-c release --scratch-path "$SCRATCH" -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld)

echo "== building the fuzz targets (libFuzzer + AddressSanitizer, in $SCRATCH)"
for entry in "${TARGETS[@]}"; do
    product=${entry#*:}
    if ! swift build "${FLAGS[@]}" --product "$product" > "$SCRATCH.log" 2>&1; then
        cat "$SCRATCH.log"; echo "0 passed, ${#TARGETS[@]} failed"; exit 1
    fi
done
rm -f "$SCRATCH.log"

mkdir -p reports/fuzz
passed=0
failed=0
for entry in "${TARGETS[@]}"; do
    name=${entry%%:*}
    product=${entry#*:}
    work=$(mktemp -d)
    cp fuzz/corpus/"$name"/* "$work"/
    echo "== $name: $SECONDS_EACH s"
    if "$SCRATCH/release/$product" -max_total_time="$SECONDS_EACH" -max_len=4096 -timeout=5 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="reports/fuzz/$name-" "$work" > "reports/fuzz/$name.log" 2>&1; then
        grep -E "^stat::(number_of_executed_units|new_units_added)|Done [0-9]+ runs" "reports/fuzz/$name.log" | tr '\n' ' '
        echo
        passed=$((passed + 1))
    else
        tail -40 "reports/fuzz/$name.log"
        echo "!! $name found a failure: reports/fuzz/$name-*"
        failed=$((failed + 1))
    fi
    rm -rf "$work"
done
echo "$passed passed, $failed failed"
[[ $failed == 0 ]]
