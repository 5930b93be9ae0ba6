#!/usr/bin/env bash
# Runs every test: Swift unit tests, black-box tests of the release binary with independent
# Python clients, and the Autobahn conformance cases against /echo.
# Works on a fresh clone: it creates .venv with the pinned Python packages when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
if [[ ! -x $VENV/bin/python ]] || ! cmp -s blackbox/requirements.txt $VENV/.requirements; then
    echo "== setting up $VENV (pinned test clients)"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r blackbox/requirements.txt
    cp blackbox/requirements.txt $VENV/.requirements
fi

echo "== release build (warnings in our code fail the run)"
if ! swift build -c release > .build-release.log 2>&1; then
    cat .build-release.log; echo "release build failed"; exit 1
fi
grep -vE '^\[[0-9]+/[0-9]+\]' .build-release.log || true
if grep -E "^$PWD/(Sources|Tests|loadtest)/.*warning:" .build-release.log; then
    echo "warnings in our code"; exit 1
fi
rm -f .build-release.log

echo "== unit tests"
swift test 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\]|^◇|^↳' 

GATEWAY=.build/release/gateway
echo "== black-box tests (Python websockets against $GATEWAY)"
TICKSTREAM_GATEWAY=$GATEWAY "$VENV/bin/python" -m pytest -q blackbox/integration

echo "== Autobahn TestSuite 1.* - 10.* via kosoku (12.*, 13.* need permessage-deflate)"
PORT=$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
$GATEWAY --host 127.0.0.1 --port "$PORT" --echo --max-message-bytes 16777216 --log-level warning &
GATEWAY_PID=$!
trap 'kill $GATEWAY_PID 2>/dev/null || true' EXIT
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.05; done
"$VENV/bin/python" blackbox/conformance/run_autobahn.py "ws://127.0.0.1:$PORT/echo" \
    --exclude '12.*' --exclude '13.*' --outdir reports/autobahn
