"""Black-box tests of the gateway core: HTTP handshake outcomes, RFC 6455 framing through
/echo, failure close codes, isolation between connections, and shutdown on SIGTERM."""
import asyncio
import signal
import socket
import struct
import time

import pytest
import websockets

from rawws import RawClient, frame, http, upgrade_request


def run(coro):
    return asyncio.run(coro)


# --- Echo through an independent client -------------------------------------------------

def test_echo_text_and_binary_with_a_real_client(echo_gateway):
    async def go():
        async with websockets.connect(echo_gateway.url + "/echo", max_size=None) as ws:
            await ws.send("héllo")
            assert await ws.recv() == "héllo"
            blob = bytes(range(256)) * 200  # 51,200 bytes: 16-bit length
            await ws.send(blob)
            assert await ws.recv() == blob
            await ws.send(["frag", "mented"])  # a fragmented text message
            assert await ws.recv() == "fragmented"
            pong = await ws.ping(b"are you there")
            await asyncio.wait_for(pong, 2)
    run(go())


def test_many_concurrent_clients_each_get_their_own_echo(echo_gateway):
    async def client(i):
        async with websockets.connect(echo_gateway.url + "/echo") as ws:
            for k in range(20):
                await ws.send(f"{i}:{k}")
                assert await ws.recv() == f"{i}:{k}"
    async def go():
        await asyncio.gather(*(client(i) for i in range(100)))
    run(go())


def test_frames_pipelined_behind_the_handshake_are_not_lost(echo_gateway):
    with socket.create_connection(("127.0.0.1", echo_gateway.port), timeout=5) as s:
        s.sendall(upgrade_request() + frame(0x1, b"first") + frame(0x1, b"second"))
        data = b""
        deadline = time.monotonic() + 5
        while data.count(b"second") == 0 and time.monotonic() < deadline:
            data += s.recv(4096)
        assert data.startswith(b"HTTP/1.1 101")
        assert data.endswith(b"\x81\x05first\x81\x06second")


def test_message_up_to_the_limit_is_echoed_and_one_byte_more_is_1009(echo_gateway):
    client = RawClient(echo_gateway.port)
    client.send(frame(0x2, b"x" * 65536))
    assert client.read_frame() == (0x2, b"x" * 65536)
    client.send(frame(0x2, b"x" * 65537))
    assert client.read_close()[0] == 1009
    assert client.at_eof()


# --- HTTP handshake outcomes -------------------------------------------------------------

@pytest.mark.parametrize("request_bytes,status", [
    (upgrade_request(method="POST"), 400),
    (upgrade_request(key="c2hvcnQ="), 400),
    (b"GET /echo HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nSec-WebSocket-Key: MDEyMzQ1Njc4OWFiY2RlZg==\r\nSec-WebSocket-Version: 13\r\n\r\n", 400),
    (b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nSec-WebSocket-Key: MDEyMzQ1Njc4OWFiY2RlZg==\r\nSec-WebSocket-Version: 13\r\n\r\n", 400),
    (b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n", 400),
    (upgrade_request(path="/nowhere"), 404),
    (b"POST /health/live HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 405),
    (b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", 400),
    (b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", 431),
])
def test_handshake_statuses(echo_gateway, request_bytes, status):
    got, headers, _ = http(echo_gateway.port, request_bytes)
    assert got == status


def test_unsupported_version_is_426_naming_13(echo_gateway):
    status, headers, _ = http(echo_gateway.port, upgrade_request(version="8"))
    assert status == 426
    assert headers["sec-websocket-version"] == "13"


def test_405_names_the_allowed_methods(echo_gateway):
    status, headers, _ = http(echo_gateway.port, b"DELETE /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 405
    assert "GET" in headers["allow"]


def test_slow_request_head_gets_408_and_close(echo_gateway):
    # The fixture sets --handshake-timeout 1.
    with socket.create_connection(("127.0.0.1", echo_gateway.port), timeout=5) as s:
        s.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\n")  # never finished
        start = time.monotonic()
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        assert data.startswith(b"HTTP/1.1 408")
        assert 0.8 < time.monotonic() - start < 4


def test_head_gets_headers_without_body(echo_gateway):
    with socket.create_connection(("127.0.0.1", echo_gateway.port), timeout=5) as s:
        s.sendall(b"HEAD /health/live HTTP/1.1\r\nHost: x\r\n\r\nGET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        deadline = time.monotonic() + 5
        while data.count(b"HTTP/1.1 200") < 2 and time.monotonic() < deadline:
            data += s.recv(4096)
        head_response, _, rest = data.partition(b"\r\n\r\n")
        assert head_response.startswith(b"HTTP/1.1 200")
        length = int(head_response.split(b"Content-Length: ")[1].split(b"\r\n")[0])
        assert rest.startswith(b"HTTP/1.1 200")  # no body between the two responses
        get_head, _, get_body = rest.partition(b"\r\n\r\n")
        assert len(get_body) == length and get_body.startswith(b'{"live":true')


def test_keep_alive_serves_several_requests_on_one_connection(echo_gateway):
    with socket.create_connection(("127.0.0.1", echo_gateway.port), timeout=5) as s:
        s.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n" * 3)
        data = b""
        deadline = time.monotonic() + 5
        while data.count(b"HTTP/1.1 200") < 3 and time.monotonic() < deadline:
            data += s.recv(4096)
        assert data.count(b"HTTP/1.1 200") == 3


# --- Failure close codes -----------------------------------------------------------------

@pytest.mark.parametrize("bad,code", [
    (frame(0x1, b"unmasked", mask=False), 1002),
    (frame(0x1, b"rsv", rsv=4), 1002),
    (frame(0x3, b""), 1002),                                 # reserved opcode
    (frame(0x9, b"x" * 126), 1002),                          # control frame too long
    (frame(0x9, b"x", fin=False), 1002),                     # fragmented control frame
    (frame(0x0, b"orphan"), 1002),                           # continuation without start
    (frame(0x1, b"a", fin=False) + frame(0x1, b"b"), 1002),  # new message inside a fragmented one
    (frame(0x1, b"\xce\xba\xed\xa0\x80"), 1007),              # surrogate in text
    (frame(0x8, b"\x03"), 1002),                             # one-byte close payload
    (frame(0x8, struct.pack("!H", 1005)), 1002),             # reserved close code
    (frame(0x8, struct.pack("!H", 1000) + b"\xff"), 1007),   # close reason not UTF-8
])
def test_protocol_violations_get_their_close_code_then_tcp_close(echo_gateway, bad, code):
    client = RawClient(echo_gateway.port)
    client.send(bad)
    got = client.read_close()
    assert got is not None and got[0] == code
    assert client.at_eof()


def test_close_handshake_echoes_the_code(echo_gateway):
    client = RawClient(echo_gateway.port)
    client.send(frame(0x8, struct.pack("!H", 4000) + b"done"))
    assert client.read_close() == (4000, "")
    assert client.at_eof()  # the server closes TCP first


def test_ping_is_answered_with_the_same_payload_and_pong_is_ignored(echo_gateway):
    client = RawClient(echo_gateway.port)
    client.send(frame(0xA, b"unsolicited") + frame(0x9, b"payload") + frame(0x1, b"after"))
    assert client.read_frame() == (0xA, b"payload")
    assert client.read_frame() == (0x1, b"after")


def test_one_clients_garbage_never_disturbs_another(echo_gateway):
    good = RawClient(echo_gateway.port)
    for junk in [b"\xff" * 64, frame(0x1, b"x", mask=False), b"GET / HTTP/1.1\r\n\r\n"]:
        bad = RawClient(echo_gateway.port)
        bad.send(junk)
        bad.read_close()
        bad.close()
        good.send(frame(0x1, b"still here"))
        assert good.read_frame() == (0x1, b"still here")
    with socket.create_connection(("127.0.0.1", echo_gateway.port), timeout=5) as s:
        s.sendall(b"\x00\xff garbage that is not HTTP\r\n\r\n")
        assert s.recv(64).startswith(b"HTTP/1.1 400")
    good.send(frame(0x1, b"and still"))
    assert good.read_frame() == (0x1, b"and still")


def test_client_that_vanishes_mid_frame_is_cleaned_up(echo_gateway):
    for _ in range(50):
        c = RawClient(echo_gateway.port)
        c.send(frame(0x2, b"z" * 1000)[:500])  # half a frame
        c.close()
    client = RawClient(echo_gateway.port)
    client.send(frame(0x1, b"alive"))
    assert client.read_frame() == (0x1, b"alive")


# --- Shutdown ----------------------------------------------------------------------------

def test_sigterm_closes_websockets_with_1001_and_exits_0(gateway_factory):
    echo_gateway = gateway_factory("--echo", "--drain-grace", "0", "--drain-duration", "0.3")
    clients = [RawClient(echo_gateway.port) for _ in range(20)]
    echo_gateway.process.send_signal(signal.SIGTERM)
    for c in clients:
        code = c.read_close()
        assert code is not None and code[0] == 1001
        c.send(frame(0x8, struct.pack("!H", 1001)))
    assert echo_gateway.process.wait(timeout=10) == 0


def test_shutdown_does_not_wait_forever_for_a_silent_peer(gateway_factory):
    gw = gateway_factory("--echo", "--close-timeout", "1", "--drain-grace", "0", "--drain-duration", "0")
    silent = RawClient(gw.port)  # will never answer the Close
    start = time.monotonic()
    gw.process.send_signal(signal.SIGTERM)
    assert silent.read_close()[0] == 1001
    assert gw.process.wait(timeout=10) == 0
    assert time.monotonic() - start < 4  # bounded by the close timeout, not by the peer


def test_reuse_port_lets_two_instances_share_a_port(gateway_factory):
    first = gateway_factory("--echo", "--reuse-port")
    from conftest import BINARY
    import subprocess
    second = subprocess.Popen([BINARY, "--host", "127.0.0.1", "--port", str(first.port), "--reuse-port", "--echo"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        time.sleep(0.5)
        assert second.poll() is None, second.stdout.read().decode()
        for _ in range(10):  # the kernel spreads connections over both; each must echo
            c = RawClient(first.port)
            c.send(frame(0x1, b"either"))
            assert c.read_frame() == (0x1, b"either")
            c.close()
    finally:
        second.terminate()
        second.wait(timeout=10)


def test_without_reuse_port_a_second_instance_fails_to_bind(gateway_factory):
    first = gateway_factory("--echo")
    from conftest import BINARY
    import subprocess
    result = subprocess.run([BINARY, "--host", "127.0.0.1", "--port", str(first.port)],
                            capture_output=True, timeout=10)
    assert result.returncode != 0
    assert b"bind" in result.stderr + result.stdout
