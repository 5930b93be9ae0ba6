"""permessage-deflate (RFC 7692) on the real binary: what is negotiated, that compressed and
plain clients see the same data, that the gateway compresses once per variant however many
subscribers, decompression bombs, malformed offers. Python's websockets negotiates
permessage-deflate by default; `compression=None` turns it off."""
import asyncio
import json
import os
import zlib

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from rawws import RawClient, frame, http, sample, upgrade_request

TOKEN = "pub-secret"


def metric(gw, key):
    _, _, body = http(gw.port, b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    return sample(body.decode(), key)


def extensions_header(offers):
    return "".join(f"Sec-WebSocket-Extensions: {value}\r\n" for value in offers or [])


def negotiated(port, offers, path="/echo"):
    """The status and the Sec-WebSocket-Extensions answer to an upgrade with these offers."""
    status, headers, _ = http(port, upgrade_request(path, extensions_header(offers)))
    return status, headers.get("sec-websocket-extensions")


def compressing_client(port, path="/echo", extra=""):
    client = RawClient(port, path, extensions_header(["permessage-deflate"]) + extra)
    assert "permessage-deflate" in client.response_head
    return client


def deflate(data, level=9):
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    out = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def close_code(client):
    closed = client.read_close()
    client.close()
    return closed[0] if closed else None


@pytest.mark.parametrize("offers, expected", [
    (None, None),
    (["permessage-deflate"], "permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
    (["permessage-deflate; client_max_window_bits"],  # what browsers send
     "permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
    (["permessage-deflate; server_max_window_bits=10; client_no_context_takeover"],
     "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10"),
    # Declined offers (unknown, repeated, invalid, a window zlib cannot honour), then a good one.
    (["permessage-deflate; nope, permessage-deflate; server_max_window_bits=8, "
      "permessage-deflate; client_no_context_takeover; client_no_context_takeover, permessage-deflate; server_max_window_bits=16, "
      "permessage-deflate; server_max_window_bits=12"],
     "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12"),
    (["permessage-deflate; server_max_window_bits"], None),
    (["x-webkit-deflate-frame"], None),
    (["x-unknown; a=1", "permessage-deflate"], "permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
])
def test_negotiation(echo_gateway, offers, expected):
    assert negotiated(echo_gateway.port, offers) == (101, expected)


@pytest.mark.parametrize("broken", ["permessage-deflate;", "permessage-deflate; a=\"1", "permessage deflate", "a; b=1 c"])
def test_malformed_extension_header_fails_the_handshake_only(echo_gateway, broken):
    assert negotiated(echo_gateway.port, [broken])[0] == 400
    assert negotiated(echo_gateway.port, ["permessage-deflate"])[0] == 101


def test_deflate_off_negotiates_nothing(gateway_factory):
    gw = gateway_factory("--echo", "--deflate", "off")
    assert negotiated(gw.port, ["permessage-deflate"]) == (101, None)


def test_echo_round_trips_compressed(echo_gateway):
    async def go():
        async with websockets.connect(echo_gateway.url + "/echo", max_size=None) as ws:
            assert "permessage-deflate" in ws.response.headers["Sec-WebSocket-Extensions"]
            for message in ["x", "ünïcödé " * 1000, os.urandom(50_000), b""]:
                await ws.send(message)
                assert await ws.recv() == message
    asyncio.run(go())


def test_rsv1_rules(echo_gateway):
    port = echo_gateway.port
    # RSV1 without having negotiated deflate: 1002.
    plain = RawClient(port)
    plain.send(frame(1, deflate(b"hello"), rsv=4))
    assert close_code(plain) == 1002
    # RSV1 on a continuation frame: 1002.
    client = compressing_client(port)
    body = deflate(os.urandom(300))
    client.send(frame(2, body[:100], fin=False, rsv=4) + frame(0, body[100:], rsv=4))
    assert close_code(client) == 1002
    # Not deflate data: 1007.
    client = compressing_client(port)
    client.send(frame(2, b"\xff\xff\xff\xff\x00", rsv=4))
    assert close_code(client) == 1007
    # Compressed text that is not UTF-8 once inflated: 1007.
    client = compressing_client(port)
    client.send(frame(1, deflate(b"\xc3\x28 not utf-8"), rsv=4))
    assert close_code(client) == 1007


def test_a_decompression_bomb_closes_1009_and_harms_nobody(gateway_factory):
    gw = gateway_factory("--sim-symbols", "20", "--sim-rate", "500")

    async def go():
        async with websockets.connect(gw.url + "/ws", subprotocols=["v2"]) as bystander:
            await bystander.send(json.dumps({"type": "subscribe", "symbols": ["SYM0001"]}))
            await bystander.recv()
            rss_before = metric(gw, "process_resident_memory_bytes")
            # 50 MiB of zeros in about 50 kB, against /ws's 64 KiB limit.
            bomb = frame(1, deflate(b"\x00" * (50 << 20)), rsv=4)
            assert len(bomb) < 65536
            bombers = [compressing_client(gw.port, "/ws", "Sec-WebSocket-Protocol: v2\r\n") for _ in range(5)]
            for client in bombers:
                client.send(bomb)
            assert [close_code(client) for client in bombers] == [1009] * 5
            rss_after = metric(gw, "process_resident_memory_bytes")
            assert rss_after - rss_before < 8 << 20, (rss_before, rss_after)
            # The bystander never noticed.
            for _ in range(3):
                assert json.loads(await bystander.recv())["symbol"] == "SYM0001"
    asyncio.run(go())
    assert gw.process.poll() is None


def test_compressed_and_plain_clients_get_the_same_data_compressed_once(gateway_factory):
    gw = gateway_factory("--sim-rate", "0", "--publisher-token", TOKEN, "--max-queue-bytes", "16777216")

    async def go():
        plain_v1 = await websockets.connect(gw.url + "/ws", subprotocols=["v1"], compression=None)
        plain_v2 = await websockets.connect(gw.url + "/ws", subprotocols=["v2"], compression=None)
        compressed_v1 = await websockets.connect(gw.url + "/ws", subprotocols=["v1"])
        deflaters = [await websockets.connect(gw.url + "/ws", subprotocols=["v2"], max_queue=None) for _ in range(1000)]
        assert plain_v2.response.headers.get("Sec-WebSocket-Extensions") is None
        assert "permessage-deflate" in deflaters[0].response.headers["Sec-WebSocket-Extensions"]
        for ws in [plain_v2, *deflaters]:
            await ws.send(json.dumps({"type": "subscribe", "symbols": ["AAPL"], "depth": 5}))
        for ws in [plain_v1, compressed_v1]:
            await ws.send(json.dumps({"type": "subscribe", "symbol": "AAPL"}))
        for ws in [plain_v2, *deflaters]:
            assert json.loads(await ws.recv())["type"] == "subscribed"
        await asyncio.sleep(0.3)
        before = metric(gw, "tickstream_deflate_compressions_total")
        feed = await websockets.connect(gw.url + "/feed", subprotocols=["feed.v1"],
                                        additional_headers={"Authorization": f"Bearer {TOKEN}"})
        updates = 20
        for i in range(updates):
            book = [[189.0 - j / 100, 100 + j, 189.5 + j / 100, 200 + j] for j in range(5)]
            await feed.send(json.dumps({"symbol": "AAPL", "last": 189.25 + i / 100, "bid": 189.0, "ask": 189.5,
                                        "book": book, "ts": 1764165600000000 + i}))
        received = {}
        for name, ws in [("plain_v1", plain_v1), ("compressed_v1", compressed_v1), ("plain_v2", plain_v2)] + \
                [(f"deflate{i}", ws) for i, ws in enumerate(deflaters)]:
            received[name] = [await asyncio.wait_for(ws.recv(), 10) for _ in range(updates)]
        after = metric(gw, "tickstream_deflate_compressions_total")
        # Same bytes after decompression, for v1 and v2.
        assert received["compressed_v1"] == received["plain_v1"]
        assert all(received[f"deflate{i}"] == received["plain_v2"] for i in range(1000))
        assert [json.loads(m)["seq"] for m in received["plain_v2"]] == list(range(1, updates + 1))
        # One compression per update for the 1,000 compressed v2 subscribers (v1 updates are
        # under --deflate-min-bytes and go out plain).
        assert after - before == updates
        # The 1,000, the compressed v1 client and the publisher (websockets offers deflate).
        assert metric(gw, "tickstream_deflate_connections") == 1002
        assert metric(gw, "tickstream_deflate_output_bytes_total") < metric(gw, "tickstream_deflate_input_bytes_total")
        for ws in [feed, plain_v1, plain_v2, compressed_v1, *deflaters]:
            await ws.close()
    asyncio.run(go())
