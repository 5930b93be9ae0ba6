#!/usr/bin/env bash
# Runs every test: Swift unit tests, black-box tests of the release binary with independent
# Python clients, the Autobahn conformance cases for both roles (the gateway's /echo as a
# server; the shared connection as a client, through `loadtest autobahn`), and the fuzzers.
# Works on a fresh clone: it creates .venv with the pinned Python packages when missing.
# Every suite runs even when one fails; the last line counts over all of them.
set -uo pipefail
cd "$(dirname "$0")/.."

source scripts/prerequisites.sh
missing=$(missing_prerequisites)
if [[ -n $missing ]]; then
    echo "missing: $missing (install them: apt-get install $missing; or run .ci/run, which does)"
    exit 1
fi
command -v swift >/dev/null || { echo "missing: swift (6.2 or later) on PATH"; exit 1; }

# Every suite says when it starts and how long it took, so a slow one is visible.
SECONDS=0
stamp() { printf '[%s +%dm%02ds] ' "$(date +%H:%M:%S)" $((SECONDS / 60)) $((SECONDS % 60)); }

PYTHON=${PYTHON:-python3}
VENV=.venv
if [[ ! -x $VENV/bin/python ]] || ! cmp -s blackbox/requirements.txt $VENV/.requirements; then
    echo "$(stamp)== setting up $VENV (pinned test clients)"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV" || { echo "python3 -m venv failed (on Debian: apt-get install python3-venv)"; exit 1; }
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r blackbox/requirements.txt || exit 1
    cp blackbox/requirements.txt $VENV/.requirements
fi

# The release artifact itself (scripts/release.sh builds the same): the Swift runtime linked
# statically, so the black-box tests run what is deployed.
echo "$(stamp)== release build, static (warnings in our code fail the run)"
if ! swift build -c release --static-swift-stdlib > .build-release.log 2>&1; then
    cat .build-release.log; echo "release build failed"; exit 1
fi
grep -vE '^\[[0-9]+/[0-9]+\]' .build-release.log || true
if grep -E "^$PWD/(Sources|Tests|loadtest)/.*warning:" .build-release.log; then
    echo "warnings in our code"; exit 1
fi
rm -f .build-release.log

LOGS=$(mktemp -d)
trap 'rm -rf "$LOGS"' EXIT
passed=0
failed=0
# count SUITE PASSED FAILED: adds one suite's figures to the totals.
count() {
    passed=$((passed + ${2:-0})); failed=$((failed + ${3:-0}))
    echo "-- $1: ${2:-0} passed, ${3:-0} failed"
}

echo "$(stamp)== unit tests"
swift test 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\]|^◇|^↳|^Test Suite .All tests|Executed 0 tests' | tee "$LOGS/unit"
unit_status=${PIPESTATUS[0]}
unit_total=$(grep -oE 'Test run with [0-9]+ tests' "$LOGS/unit" | grep -oE '[0-9]+' | tail -1)
unit_failed=$(grep -cE '^✘ Test .*\) failed after' "$LOGS/unit")
if [[ -z $unit_total ]]; then unit_total=0; unit_failed=1; fi
if [[ $unit_status != 0 && $unit_failed == 0 ]]; then unit_failed=1; fi
count "unit tests" $((unit_total - unit_failed)) "$unit_failed"

GATEWAY=.build/release/gateway
LOADTEST=.build/release/loadtest
echo "$(stamp)== black-box tests (Python websockets against $GATEWAY)"
TICKSTREAM_GATEWAY=$GATEWAY "$VENV/bin/python" -m pytest -q blackbox/integration 2>&1 | tee "$LOGS/blackbox"
blackbox_status=${PIPESTATUS[0]}
last=$(tail -1 "$LOGS/blackbox")
bb_passed=$(grep -oE '[0-9]+ passed' <<<"$last" | grep -oE '[0-9]+' || echo 0)
bb_failed=$(grep -oE '[0-9]+ (failed|errors?)' <<<"$last" | awk '{s += $1} END {print s + 0}')
if [[ $blackbox_status != 0 && $bb_failed == 0 ]]; then bb_failed=1; fi
count "black-box" "$bb_passed" "$bb_failed"

# summarise_autobahn LOG STATUS NAME: reads a run's own "N passed, M failed" line (the
# conformance runs and the fuzzers both end with one).
summarise_autobahn() {
    local line ok bad
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$1" | tail -1)
    ok=$(grep -oE '^[0-9]+' <<<"$line" || echo 0)
    bad=$(grep -oE '[0-9]+ failed' <<<"$line" | grep -oE '[0-9]+' || echo 1)
    if [[ $2 != 0 && $bad == 0 ]]; then bad=1; fi
    count "$3" "${ok:-0}" "${bad:-1}"
}

echo "$(stamp)== Autobahn TestSuite 1.* - 10.*, server side: kosoku against /echo"
PORT=$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
$GATEWAY --host 127.0.0.1 --port "$PORT" --echo --echo-max-message-bytes 16777216 --log-level warning &
GATEWAY_PID=$!
trap 'kill $GATEWAY_PID 2>/dev/null || true; rm -rf "$LOGS"' EXIT
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.05; done
"$VENV/bin/python" blackbox/conformance/run_autobahn.py "ws://127.0.0.1:$PORT/echo" \
    --exclude '12.*' --exclude '13.*' --outdir reports/autobahn 2>&1 | tee "$LOGS/autobahn-server"
summarise_autobahn "$LOGS/autobahn-server" "${PIPESTATUS[0]}" "Autobahn server side"

echo "$(stamp)== Autobahn TestSuite 12.*, 13.*, server side: permessage-deflate against /echo (two cases at a time)"
"$VENV/bin/python" blackbox/conformance/run_autobahn.py "ws://127.0.0.1:$PORT/echo" \
    --case '12.*' --case '13.*' --concurrency 2 --outdir reports/autobahn-deflate 2>&1 | tee "$LOGS/autobahn-deflate"
summarise_autobahn "$LOGS/autobahn-deflate" "${PIPESTATUS[0]}" "Autobahn server side, permessage-deflate"
kill $GATEWAY_PID 2>/dev/null || true

echo "$(stamp)== Autobahn TestSuite 1.* - 10.*, server side over TLS: kosoku -> socat (TLS client relay) -> wss /echo"
CERTS="$LOGS/certs"
scripts/make-test-certificates.sh "$CERTS"
TLS_PORT=$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
RELAY_PORT=$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
$GATEWAY --host 127.0.0.1 --port "$TLS_PORT" --echo --echo-max-message-bytes 16777216 --log-level warning \
    --tls-cert "$CERTS/server.pem" --tls-key "$CERTS/server.key" &
GATEWAY_PID=$!
socat "TCP-LISTEN:$RELAY_PORT,bind=127.0.0.1,fork,reuseaddr" "OPENSSL:127.0.0.1:$TLS_PORT,cafile=$CERTS/ca.pem,commonname=localhost" &
RELAY_PID=$!
trap 'kill $GATEWAY_PID $RELAY_PID 2>/dev/null || true; rm -rf "$LOGS"' EXIT
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$RELAY_PORT) 2>/dev/null && break; sleep 0.05; done
"$VENV/bin/python" blackbox/conformance/run_autobahn.py "ws://127.0.0.1:$RELAY_PORT/echo" \
    --exclude '12.*' --exclude '13.*' --outdir reports/autobahn-tls 2>&1 | tee "$LOGS/autobahn-tls"
summarise_autobahn "$LOGS/autobahn-tls" "${PIPESTATUS[0]}" "Autobahn server side over TLS"
kill $GATEWAY_PID $RELAY_PID 2>/dev/null || true

echo "$(stamp)== Autobahn TestSuite 1.* - 13.*, client side: kosoku's fuzzing server against loadtest autobahn"
"$VENV/bin/python" blackbox/conformance/run_autobahn_client.py "$LOADTEST" \
    --outdir reports/autobahn-client 2>&1 | tee "$LOGS/autobahn-client"
summarise_autobahn "$LOGS/autobahn-client" "${PIPESTATUS[0]}" "Autobahn client side"

echo "$(stamp)== fuzzing: libFuzzer + AddressSanitizer on every parser of client input, 12 s each"
scripts/fuzz.sh 12 2>&1 | tee "$LOGS/fuzz"
summarise_autobahn "$LOGS/fuzz" "${PIPESTATUS[0]}" "fuzzers"

echo "$(stamp)== all suites"
echo "$passed passed, $failed failed"
[[ $failed == 0 ]]
