"""Writes per delivery, seen from /metrics: the simulator sends whole ticks, so a subscriber's
neighbouring symbols share a write; scattered symbols do not, unless --flush-interval lets the
gateway gather them. These fail if the count of writes or deliveries is wrong."""
import asyncio
import json
import time

import websockets

from rawws import http, sample


def counters(port):
    text = http(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")[2].decode()
    delivered = sum(sample(text, f'tickstream_messages_sent_total{{protocol="{v}"}}') for v in ("v1", "v2"))
    return sample(text, "tickstream_socket_writes_total"), delivered


def messages_per_write(gw, symbols, seconds=2.0):
    async def go():
        async with websockets.connect(gw.url + "/ws", subprotocols=["v2"], max_queue=None) as ws:
            await ws.send(json.dumps({"type": "subscribe", "symbols": symbols}))
            for _ in range(1 + len(symbols)):  # the ack and the snapshots
                await asyncio.wait_for(ws.recv(), 3)
            writes0, delivered0 = counters(gw.port)
            deadline = time.monotonic() + seconds
            received = 0
            while time.monotonic() < deadline:
                await asyncio.wait_for(ws.recv(), 3)
                received += 1
            writes1, delivered1 = counters(gw.port)
            # The scrape's own response is one write; the rest went to this subscriber.
            return (delivered1 - delivered0) / max(1, writes1 - writes0 - 1), received
    return asyncio.run(go())


SIM = ("--sim-rate", "10000", "--sim-symbols", "500")


def test_neighbouring_symbols_share_each_write(gateway_factory):
    gw = gateway_factory(*SIM)
    ratio, received = messages_per_write(gw, [f"SYM{n:04d}" for n in range(120, 130)])
    assert received >= 300
    assert ratio >= 8, f"{ratio:.2f} messages per write: a tick's updates should leave together"


def test_scattered_symbols_cost_a_write_each_unless_the_flush_interval_gathers_them(gateway_factory):
    scattered = [f"SYM{n:04d}" for n in (3, 61, 118, 177, 236, 289, 342, 391, 447, 498)]
    gw = gateway_factory(*SIM)
    ratio, _ = messages_per_write(gw, scattered)
    assert ratio < 1.5, f"{ratio:.2f}"
    gathered = gateway_factory(*SIM, "--flush-interval", "20000")
    ratio, received = messages_per_write(gathered, scattered)
    assert received >= 300
    # 10 symbols per 50 ms round: about 4 updates for this client in each 20 ms window.
    assert ratio >= 2.5, f"{ratio:.2f} messages per write with a 20 ms window"
    assert http(gathered.port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")[2].decode().count(
        "tickstream_flush_interval_seconds 0.02") == 1
