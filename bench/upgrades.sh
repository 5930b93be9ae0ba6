#!/usr/bin/env bash
# WebSocket upgrades per second of gateway CPU, without a token and with an HS256, RS256 or
# ES256 token checked at each upgrade (issue 14). A Python client on core 1 opens a connection,
# sends the upgrade, reads the 101 and closes, over and over for 10 s, while the gateway (core 0)
# is measured: gateway CPU seconds / upgrades = the cost of one upgrade, and the difference
# between the rows is what the token check adds. Usage: [BIN=dir] bench/upgrades.sh [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
BIN=${BIN:-.build/release}
[[ $BIN == .build/release ]] && swift build -c release >/dev/null
keys=$(mktemp -d)
trap 'rm -rf "$keys"' EXIT
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$keys/rsa.key" 2>/dev/null
openssl pkey -in "$keys/rsa.key" -pubout -out "$keys/rsa.pub"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$keys/ec.key" 2>/dev/null
openssl pkey -in "$keys/ec.key" -pubout -out "$keys/ec.pub"
secret=bench-secret-bench-secret-bench-secret
ticks=$(getconf CLK_TCK)
for mode in open HS256 RS256 ES256; do
    for run in $(seq "$runs"); do
        port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
        case $mode in
            open) auth=() ;;
            HS256) auth=(--jwt-secret "$secret") ;;
            RS256) auth=(--jwt-public-key "$keys/rsa.pub") ;;
            ES256) auth=(--jwt-public-key "$keys/ec.pub") ;;
        esac
        taskset -c 0 "$BIN/gateway" --host 127.0.0.1 --port $port --sim-rate 0 --log-level warning "${auth[@]}" &
        pid=$!
        for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.05; done
        cpu_before=$(awk '{print $14 + $15}' /proc/$pid/stat)
        count=$(taskset -c 1 .venv/bin/python - "$port" "$mode" "$secret" "$keys" <<'PY'
import socket, sys, time
import jwt
port, mode, secret, keys = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
token = None
if mode == "HS256":
    token = jwt.encode({"exp": int(time.time()) + 3600}, secret, algorithm="HS256")
elif mode != "open":
    key = open(f"{keys}/{'rsa' if mode == 'RS256' else 'ec'}.key").read()
    token = jwt.encode({"exp": int(time.time()) + 3600}, key, algorithm=mode)
auth = f"Authorization: Bearer {token}\r\n" if token else ""
request = ("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" + auth + "\r\n").encode()
count, deadline = 0, time.monotonic() + 10
while time.monotonic() < deadline:
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(request)
        assert s.recv(200).startswith(b"HTTP/1.1 101")
        count += 1
print(count)
PY
)
        cpu_after=$(awk '{print $14 + $15}' /proc/$pid/stat)
        kill $pid; wait $pid 2>/dev/null || true
        python3 -c "
count, cpu = $count, ($cpu_after - $cpu_before) / $ticks
print(f'$mode: {count / 10:,.0f} upgrades/s, gateway {cpu / 10:.0%} of a core -> {cpu / count * 1e6:.1f} us of gateway CPU per upgrade')"
    done
done
