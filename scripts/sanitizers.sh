#!/usr/bin/env bash
# Runs the unit tests and the black-box tests under a sanitizer: address (AddressSanitizer and
# LeakSanitizer: out-of-bounds, use-after-free, leaks) or thread (ThreadSanitizer: data races
# between the loop thread and anything else). The unit tests run in a debug build, the black-box
# tests against a release build with the same sanitizer (a debug build under ASan is too slow
# for their timing), each in its own folder (.build-asan, .build-asan-release, ...).
# Usage: scripts/sanitizers.sh [address|thread ...] (default: both).
# Last line: "N passed, M failed" over every run.
set -uo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
[[ -x $VENV/bin/python ]] || { echo "run scripts/test.sh once first: it makes $VENV"; exit 1; }
passed=0
failed=0
for sanitizer in "${@:-address thread}"; do
    for kind in $sanitizer; do
        scratch=.build-${kind:0:1}san
        [[ $kind == address ]] && scratch=.build-asan
        [[ $kind == thread ]] && scratch=.build-tsan
        echo "== $kind: building (debug, $scratch)"
        if ! swift build --build-tests --sanitize="$kind" --scratch-path "$scratch" > "$scratch.log" 2>&1; then
            tail -30 "$scratch.log"; failed=$((failed + 1)); continue
        fi
        echo "== $kind: unit tests"
        log=$(mktemp)
        # halt_on_error: the first report fails the run instead of scrolling past.
        ASAN_OPTIONS=halt_on_error=1:detect_leaks=1 LSAN_OPTIONS=suppressions=$PWD/scripts/lsan-suppressions.txt \
            TSAN_OPTIONS=halt_on_error=1 swift test --sanitize="$kind" --scratch-path "$scratch" 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\]|^◇|^↳' > "$log"
        if grep -qE "Test run with [0-9]+ tests .*passed" "$log" && ! grep -qE "ERROR: (Address|Thread|Leak)Sanitizer|WARNING: ThreadSanitizer" "$log"; then
            grep -E "Test run with" "$log"; passed=$((passed + 1))
        else
            grep -E -A30 "Sanitizer|✘" "$log" | head -60; failed=$((failed + 1))
        fi
        echo "== $kind: building the release binaries ($scratch-release)"
        if ! swift build -c release --sanitize="$kind" --scratch-path "$scratch-release" > "$scratch.log" 2>&1; then
            tail -30 "$scratch.log"; failed=$((failed + 1)); continue
        fi
        echo "== $kind: black-box tests against $scratch-release/release/gateway"
        # Leak checking here would report, at every exit, the gateway's object graph (the loop, the
        # registry and the sessions hold each other until the process ends): memory at exit, not
        # growth while serving. Leaks are checked in the unit tests, which build and drop those
        # objects; the black-box tests check descriptors and RSS return to their baseline.
        if ASAN_OPTIONS=halt_on_error=1:detect_leaks=0 TSAN_OPTIONS=halt_on_error=1 \
            TICKSTREAM_GATEWAY=$scratch-release/release/gateway \
            TICKSTREAM_SANITIZED=1 "$VENV/bin/python" -m pytest -q blackbox/integration > "$log" 2>&1; then
            tail -1 "$log"; passed=$((passed + 1))
        else
            grep -E "FAILED|Sanitizer|^E " "$log" | head -40; tail -1 "$log"; failed=$((failed + 1))
        fi
        rm -f "$log" "$scratch.log"
    done
done
echo "$passed passed, $failed failed"
[[ $failed == 0 ]]
