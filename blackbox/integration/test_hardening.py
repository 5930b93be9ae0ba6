"""Black-box tests of liveness and limits against the real binary: dead peers are found, each
limit answers with its status or close code, hostile inputs end only their own connection, and
a well-behaved subscriber (the Watcher) keeps receiving without a gap throughout. Memory and
descriptors come back to their baseline afterwards."""
import asyncio
import json
import os
import socket
import struct
import subprocess
import time

import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from conftest import wait_for
from rawws import RawClient, frame, http, sample, upgrade_request
from watcher import Watcher

SYMBOLS = ["AAPL", "MSFT", "NVDA", "TSLA"]
# Under scripts/sanitizers.sh, AddressSanitizer's quarantine and red zones make RSS say nothing
# about the gateway's own memory: the RSS bounds are checked in the normal run only.
SANITIZED = os.environ.get("TICKSTREAM_SANITIZED") == "1"
MARKET = ("--sim-rate", "400", "--sim-symbols", ",".join(SYMBOLS))


def run(coro):
    return asyncio.run(coro)


def metric(port: int, key: str) -> float:
    _, _, body = http(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    return sample(body.decode(), key)


def settles_to(port: int, key: str, target: float, seconds=10.0) -> bool:
    """The sample comes back to `target` (the scrape's own connection is counted by the caller)."""
    return wait_for(lambda: metric(port, key) <= target, seconds)


def frames_until_close(client: RawClient, limit=100000):
    """Every frame's opcode up to and including the Close, and the Close's (code, reason)."""
    opcodes = []
    for _ in range(limit):
        got = client.read_frame()
        if got is None:
            return opcodes, None
        opcode, payload = got
        opcodes.append(opcode)
        if opcode == 0x8:
            return opcodes, (struct.unpack("!H", payload[:2])[0], payload[2:].decode())
    return opcodes, None


# --- Liveness ------------------------------------------------------------------------------

def test_a_peer_that_answers_no_ping_is_closed_idle_in_time(gateway_factory):
    gw = gateway_factory(*MARKET, "--ping-interval", "0.5", "--idle-timeout", "1.5", "--close-timeout", "1")
    client = RawClient(gw.port, path="/ws")  # never answers anything: a vanished network
    start = time.monotonic()
    client.sock.settimeout(6)
    opcodes, close = frames_until_close(client)
    elapsed = time.monotonic() - start
    assert close == (1001, "idle")
    assert opcodes.count(0x9) >= 2, "pinged at least twice before the idle close"
    assert elapsed <= 1.5 + 2 * 0.5 + 0.5, f"closed after {elapsed:.2f} s: idle-timeout + 2 x ping-interval is the bound"
    assert elapsed >= 1.4
    # It never answers the Close either: the close timeout ends the TCP connection.
    assert client.at_eof(timeout=3)
    assert metric(gw.port, "tickstream_idle_closes_total") == 1
    assert metric(gw.port, "tickstream_pings_sent_total") >= 2


def test_a_client_that_answers_pings_stays_connected_and_served(gateway_factory):
    gw = gateway_factory(*MARKET, "--ping-interval", "0.3", "--idle-timeout", "1")

    async def go():
        # ping_interval=None: the client never pings on its own, so only its pongs keep it alive.
        async with websockets.connect(gw.url + "/ws", subprotocols=["v2"], ping_interval=None) as ws:
            await ws.send(json.dumps({"type": "subscribe", "symbols": ["AAPL"]}))
            deadline = time.monotonic() + 3
            count = 0
            while time.monotonic() < deadline:
                await asyncio.wait_for(ws.recv(), 1)
                count += 1
            return count
    assert run(go()) > 50
    assert metric(gw.port, "tickstream_idle_closes_total") == 0
    assert metric(gw.port, "tickstream_pings_sent_total") >= 5


def test_accepted_sockets_carry_tcp_keepalive(gateway_factory):
    gw = gateway_factory(*MARKET, "--tcp-keepalive", "45")
    client = RawClient(gw.port, path="/ws")
    out = subprocess.run(["ss", "-tnoH", "state", "established", f"( sport = :{gw.port} )"],
                         capture_output=True, text=True, check=True).stdout
    assert "keepalive" in out, out
    client.close()
    off = gateway_factory(*MARKET, "--tcp-keepalive", "0")
    quiet = RawClient(off.port, path="/ws")
    out = subprocess.run(["ss", "-tnoH", "state", "established", f"( sport = :{off.port} )"],
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() and "keepalive" not in out, out
    quiet.close()


# --- Connection limits ---------------------------------------------------------------------

def refused_at_the_limit_then_served(gw, held_count: int, status: int):
    """Holds `held_count` connections, expects the next one refused with `status` (and
    Retry-After), lets one go, and expects a new one to be served."""
    async def go():
        held = [await websockets.connect(gw.url + "/ws") for _ in range(held_count)]
        with pytest.raises(InvalidStatus) as refused:
            await websockets.connect(gw.url + "/ws")
        assert refused.value.response.status_code == status
        assert refused.value.response.headers["Retry-After"] == "1"
        await held.pop().close()
        await asyncio.sleep(0.2)
        again = await websockets.connect(gw.url + "/ws")
        await again.send(json.dumps({"type": "subscribe", "symbol": "AAPL"}))
        assert "price" in json.loads(await asyncio.wait_for(again.recv(), 3))
        for ws in [again, *held]:
            await ws.close()
    run(go())


def test_past_max_connections_503_then_served_again_once_others_leave(gateway_factory):
    gw = gateway_factory(*MARKET, "--max-connections", "5")
    refused_at_the_limit_then_served(gw, 5, 503)
    # Scraping needs a connection of its own: at the limit it would be answered 503 too.
    assert metric(gw.port, 'tickstream_refused_connections_total{limit="max_connections"}') == 1


def test_a_burst_of_500_connects_half_silent(gateway_factory):
    """Every client that asks gets 101 or 503; every silent one is closed by the handshake
    timeout; the watcher sees no gap; descriptors return to the baseline."""
    gw = gateway_factory(*MARKET, "--max-connections", "300", "--handshake-timeout", "1")
    baseline = metric(gw.port, "process_open_fds")
    with Watcher(gw.url, SYMBOLS) as watcher:
        sockets = []
        for _ in range(500):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", gw.port))
            sockets.append(s)
        time.sleep(0.3)
        talkers, silent = sockets[::2], sockets[1::2]
        for s in talkers:
            s.setblocking(True)
            s.settimeout(5)
            try:
                s.sendall(upgrade_request(path="/ws"))
            except OSError:
                pass  # refused outright (past the answer slots): counted below as no answer
        statuses = []
        for s in talkers:
            try:
                head = s.recv(200)
                statuses.append(int(head.split()[1]) if head else 0)
            except OSError:
                statuses.append(0)
        assert set(statuses) <= {101, 503, 0}, set(statuses)
        # The first 300 accepted are served (half of them talk), the next 64 are answered 503,
        # the rest closed at once (0).
        assert 140 <= statuses.count(101) <= 160, statuses.count(101)
        assert statuses.count(503) >= 20, statuses.count(503)
        # Silent ones: ended by the gateway within the handshake timeout (1 s) and a margin.
        deadline = time.monotonic() + 4
        ended = 0
        for s in silent:
            s.setblocking(True)
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                while s.recv(4096):
                    pass
                ended += 1
            except ConnectionResetError:
                ended += 1
            except socket.timeout:
                pass
        assert ended == len(silent)
        for s in sockets:
            s.close()
        time.sleep(0.5)
        watcher.assert_healthy(minimum=50)
    assert settles_to(gw.port, "process_open_fds", baseline)


def test_one_address_past_its_limit_gets_429(gateway_factory):
    gw = gateway_factory(*MARKET, "--max-connections-per-address", "3")
    refused_at_the_limit_then_served(gw, 3, 429)
    assert metric(gw.port, 'tickstream_refused_connections_total{limit="per_address"}') == 1


def test_out_of_descriptors_the_gateway_refuses_and_recovers(gateway_factory, tmp_path):
    """With a tiny descriptor limit (prlimit) and a connection limit above it, accept runs into
    EMFILE: the reserve descriptor turns the excess away instead of spinning or crashing, and
    once clients leave new ones are served."""
    gw = gateway_factory(*MARKET, "--max-connections", "1000", wrapper=["prlimit", "--nofile=48:48"])
    sockets = []
    for _ in range(80):
        s = socket.create_connection(("127.0.0.1", gw.port), timeout=5)
        sockets.append(s)
    time.sleep(0.5)
    assert gw.process.poll() is None
    refused = 0
    for s in sockets:
        s.settimeout(0.2)
        try:
            if s.recv(16) == b"":
                refused += 1
        except socket.timeout:
            pass
        except ConnectionResetError:
            refused += 1
    assert refused >= 20
    for s in sockets:
        s.close()
    time.sleep(0.5)

    async def go():
        async with websockets.connect(gw.url + "/ws", subprotocols=["v2"]) as ws:
            await ws.send(json.dumps({"type": "subscribe", "symbols": ["AAPL"]}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 3))["type"] == "subscribed"
    run(go())
    assert metric(gw.port, 'tickstream_refused_connections_total{limit="descriptors"}') >= refused
    assert metric(gw.port, "tickstream_accept_errors_total") >= 1


# --- Per-route limits, origins, the admin listener -----------------------------------------

def test_each_route_has_its_own_message_limit(gateway_factory):
    gw = gateway_factory(*MARKET, "--echo", "--max-message-bytes", "1024", "--echo-max-message-bytes", "1048576")
    echo = RawClient(gw.port, path="/echo")
    echo.send(frame(0x2, b"e" * 500_000))
    assert echo.read_frame() == (0x2, b"e" * 500_000)
    ws = RawClient(gw.port, path="/ws")
    ws.send(frame(0x1, b"{" + b" " * 1100 + b"}"))
    assert ws.read_close()[0] == 1009
    assert ws.at_eof()


def test_a_1mib_message_in_1_byte_fragments_meets_the_ws_limit(gateway_factory):
    """1-byte fragments cost 7 bytes of frame each: the 64 KiB limit of /ws counts the payload
    over all fragments and ends the message there, long before its 1 MiB."""
    gw = gateway_factory(*MARKET)
    with Watcher(gw.url, SYMBOLS) as watcher:
        client = RawClient(gw.port, path="/ws")
        client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 32768)
        sent = 0
        close = None
        while sent < (1 << 20) and close is None:
            first = sent == 0
            chunk = b"".join(frame(0x1 if first and i == 0 else 0x0, b" ", fin=False) for i in range(1024))
            try:
                client.send(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += 1024
            client.sock.setblocking(False)
            try:
                data = client.sock.recv(65536)
                client.buffer += data
                if data == b"" or b"\x88" in client.buffer:
                    break
            except BlockingIOError:
                pass
            finally:
                client.sock.setblocking(True)
        close = client.read_close()
        assert close is not None and close[0] == 1009
        assert sent < (1 << 20) // 2, f"the Close came only after {sent} bytes of payload"
        watcher.assert_healthy()


def test_allowed_origins(gateway_factory):
    gw = gateway_factory(*MARKET, "--allowed-origins", "https://desk.example.com,https://*.trading.example")

    def status(extra):
        return http(gw.port, upgrade_request(path="/ws", extra=extra))[0]
    assert status("Origin: https://desk.example.com\r\n") == 101
    assert status("Origin: https://eu.trading.example\r\n") == 101
    assert status("") == 101, "no Origin: a non-browser client"
    assert status("Origin: https://evil.example\r\n") == 403
    assert status("Origin: null\r\n") == 403
    assert metric(gw.port, 'tickstream_handshakes_total{result="forbidden_origin"}') == 2


def test_the_admin_listener_takes_health_metrics_and_admin(gateway_factory):
    from conftest import free_port
    admin = free_port()
    gw = gateway_factory(*MARKET, "--admin-port", str(admin), "--admin-token", "adm")
    for path in ["/metrics", "/health/live", "/health/ready"]:
        assert http(admin, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())[0] == 200, path
        assert http(gw.port, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())[0] == 404, path
    assert http(gw.port, b"POST /admin/drain HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer adm\r\n\r\n")[0] == 404
    assert http(admin, upgrade_request(path="/ws"))[0] == 404
    assert http(gw.port, upgrade_request(path="/ws"))[0] == 101
    assert http(gw.port, b"GET /symbols HTTP/1.1\r\nHost: x\r\n\r\n")[0] == 200
    assert http(admin, b"POST /admin/drain HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer adm\r\n\r\n")[0] == 202


# --- Message rate ----------------------------------------------------------------------------

def test_over_the_message_rate_an_error_then_1008(gateway_factory):
    gw = gateway_factory(*MARKET, "--message-rate", "2", "--message-burst", "4")
    client = RawClient(gw.port, path="/ws", extra="Sec-WebSocket-Protocol: v2\r\n")
    for _ in range(5):
        client.send(frame(0x1, b'{"type":"list_symbols"}'))
    replies = [json.loads(client.read_frame()[1]) for _ in range(5)]
    assert [r["type"] for r in replies[:4]] == ["symbols"] * 4
    assert replies[4]["type"] == "error" and replies[4]["code"] == "rate_limited"
    # It keeps going: refusals in a row beyond the burst close it.
    for _ in range(5):
        client.send(frame(0x1, b'{"type":"list_symbols"}'))
    opcodes, close = frames_until_close(client)
    assert close[0] == 1008 and "rate" in close[1]
    assert opcodes == [0x8], "no more replies once over the rate"
    # Four refused in a row after the first: more than a burst (4), so the fifth closes.
    assert metric(gw.port, "tickstream_rate_limited_messages_total") == 5


def test_10000_pings_get_pongs_or_1008_and_memory_stays_bounded(gateway_factory):
    gw = gateway_factory(*MARKET)
    rss = metric(gw.port, "process_resident_memory_bytes")
    with Watcher(gw.url, SYMBOLS) as watcher:
        client = RawClient(gw.port, path="/ws")
        client.send(b"".join(frame(0x9, b"p%d" % i) for i in range(10_000)))
        opcodes, close = frames_until_close(client)
        # The burst (500) answered with pongs, then one error reply (rate_limited), then 1008.
        assert opcodes.count(0x1) == 1 and set(opcodes[:-1]) == {0xA, 0x1}
        assert 490 <= opcodes.count(0xA) <= 510, opcodes.count(0xA)
        assert close[0] == 1008
        watcher.assert_healthy()
    assert SANITIZED or metric(gw.port, "process_resident_memory_bytes") < rss + 20e6


# --- Hostile input, each ending only its own connection -----------------------------------

@pytest.mark.parametrize("bad,codes", [
    (b"\x81\xff" + struct.pack("!Q", (1 << 63) - 1) + b"\x00\x00\x00\x00", {1009}),  # claims 2^63-1 bytes
    (b"\x81\xff" + struct.pack("!Q", 1 << 63) + b"\x00\x00\x00\x00", {1002, 1009}),  # MSB set
    (os.urandom(16) + b"\x00" * 64 + b"\xff" * 64, {1002}),  # garbage (first byte forced invalid below)
    (frame(0x8, struct.pack("!H", 1000) + b"\xc3\x28"), {1007}),  # Close with invalid UTF-8 reason
], ids=["length-2^63-1", "length-2^63", "garbage", "close-reason-not-utf8"])
def test_hostile_frames_get_their_close_code_while_others_see_no_gaps(gateway_factory, bad, codes):
    gw = gateway_factory(*MARKET)
    if bad[:1] not in (b"\x81", b"\x88"):
        bad = b"\x70" + bad[1:]  # RSV bits set, reserved opcode: a protocol error whatever follows
    with Watcher(gw.url, SYMBOLS) as watcher:
        client = RawClient(gw.port, path="/ws")
        client.send(bad)
        close = client.read_close()
        assert close is not None and close[0] in codes
        assert client.at_eof()
        time.sleep(0.3)
        watcher.assert_healthy()


def test_slowloris_is_closed_by_the_handshake_timeout(gateway_factory):
    gw = gateway_factory(*MARKET, "--handshake-timeout", "1.5")
    with Watcher(gw.url, SYMBOLS) as watcher:
        s = socket.create_connection(("127.0.0.1", gw.port), timeout=5)
        request = upgrade_request(path="/ws")
        start = time.monotonic()
        answer = b""
        for byte in request:
            try:
                s.send(bytes([byte]))
            except OSError:
                break
            time.sleep(0.25)  # 4 bytes/s: a new byte long before any per-byte timer would fire
            s.setblocking(False)
            try:
                answer = s.recv(100)
                break
            except BlockingIOError:
                pass
            finally:
                s.setblocking(True)
        elapsed = time.monotonic() - start
        assert answer.startswith(b"HTTP/1.1 408"), answer
        assert elapsed < 2.5, "the handshake timeout counts from the first byte, not the last"
        s.close()
        watcher.assert_healthy()


def test_clients_resetting_mid_write_are_noticed_by_nobody_else(gateway_factory):
    gw = gateway_factory("--sim-rate", "4000", "--sim-symbols", ",".join(SYMBOLS))
    baseline = metric(gw.port, "process_open_fds")
    with Watcher(gw.url, SYMBOLS) as watcher:
        for _ in range(5):
            doomed = []
            for _ in range(20):
                c = RawClient(gw.port, path="/ws", extra="Sec-WebSocket-Protocol: v2\r\n")
                c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
                c.send(frame(0x1, json.dumps({"type": "subscribe", "symbols": SYMBOLS, "depth": 50}).encode()))
                doomed.append(c)
            time.sleep(0.2)  # the gateway is now writing to all of them
            for c in doomed:
                c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                c.sock.close()  # RST
        time.sleep(0.3)
        watcher.assert_healthy(minimum=200)
    assert settles_to(gw.port, "process_open_fds", baseline)


def test_200_clients_that_never_read_are_conflated_then_closed_with_bounded_memory(gateway_factory):
    gw = gateway_factory("--sim-rate", "2000", "--sim-symbols", ",".join(SYMBOLS), "--max-queue-bytes", "65536",
                         "--slow-consumer-timeout", "1", "--close-timeout", "1")
    rss = metric(gw.port, "process_resident_memory_bytes")
    baseline_fds = metric(gw.port, "process_open_fds")
    with Watcher(gw.url, SYMBOLS, depth=5) as watcher:
        stuck = []
        for _ in range(200):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect(("127.0.0.1", gw.port))
            s.sendall(upgrade_request(path="/ws", extra="Sec-WebSocket-Protocol: v2\r\n"))
            s.sendall(frame(0x1, json.dumps({"type": "subscribe", "symbols": SYMBOLS, "depth": 50}).encode()))
            stuck.append(s)
        peak = 0.0
        # Each is closed once the kernel's buffers and --max-queue-bytes are full and it then
        # stays behind for --slow-consumer-timeout: a few seconds, sooner or later with the
        # machine's load. Memory is watched the whole time.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            peak = max(peak, metric(gw.port, "process_resident_memory_bytes"))
            if metric(gw.port, "tickstream_slow_consumer_closes_total") == 200 and time.monotonic() > deadline - 6:
                break
            time.sleep(0.2)
        # Each holds at most --max-queue-bytes plus one pending frame per symbol.
        assert SANITIZED or peak < rss + 200 * (65536 + 4 * 2000) + 16e6, f"RSS grew {(peak - rss) / 1e6:.1f} MB"
        assert metric(gw.port, "tickstream_slow_consumer_closes_total") == 200
        assert metric(gw.port, "tickstream_conflated_updates_total") > 0
        watcher.assert_healthy(minimum=1000)
        for s in stuck:
            s.close()
    assert settles_to(gw.port, "process_open_fds", baseline_fds)
