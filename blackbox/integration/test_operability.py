"""Black-box tests of health checks, metrics, logs and configuration."""
import asyncio
import json
import os
import subprocess
import time
import urllib.error
import urllib.request

import websockets
from prometheus_client.parser import text_string_to_metric_families

from conftest import BINARY

TOKEN = "pub-token"


def get(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def metrics(port) -> dict:
    """Every sample as {(name, frozenset(labels)): value}, parsed by prometheus_client."""
    status, text = get(port, "/metrics")
    assert status == 200
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0)


def test_liveness_and_readiness(gateway_factory):
    gw = gateway_factory()
    status, body = get(gw.port, "/health/live")
    assert status == 200 and json.loads(body)["live"] is True
    status, body = get(gw.port, "/health/ready")
    ready = json.loads(body)
    assert status == 200 and ready["ready"] is True
    assert set(ready["checks"]) == {"listener", "draining", "feed", "event_loop"}


def test_readiness_and_logs_follow_a_required_feed(gateway_factory):
    gw = gateway_factory("--sim-rate", "0", "--publisher-token", TOKEN, "--require-feed", "--feed-stale-after", "1")
    status, body = get(gw.port, "/health/ready")
    assert status == 503 and json.loads(body)["failing"] == ["feed"]

    async def publish():
        async with websockets.connect(gw.url + "/feed", subprotocols=["feed.v1"],
                                      additional_headers={"Authorization": f"Bearer {TOKEN}"}) as pub:
            await pub.send(json.dumps({"symbol": "AAPL", "last": 1, "bid": 1, "ask": 1}))
            await asyncio.sleep(0.1)
    asyncio.run(publish())
    assert get(gw.port, "/health/ready")[0] == 200
    time.sleep(1.3)
    status, body = get(gw.port, "/health/ready")
    assert status == 503 and json.loads(body)["failing"] == ["feed"]
    assert "stale" in json.loads(body)["checks"]["feed"]["detail"]
    time.sleep(1.0)
    gw.stop()
    log = gw.output()
    assert log.index("feed up: /feed updates arriving") < log.index("feed down: no /feed update")


def test_metrics_parse_and_move(gateway_factory):
    gw = gateway_factory("--sim-rate", "1000", "--sim-symbols", "AAPL,MSFT")
    before = metrics(gw.port)
    assert value(before, "tickstream_connections", protocol="v2") == 0
    assert value(before, "process_resident_memory_bytes") > 0
    assert value(before, "process_open_fds") > 0
    assert ("tickstream_accept_errors_total", frozenset()) in before

    async def session():
        # max_queue=None: v1 never reads here, and a full client buffer would stall its close.
        async with websockets.connect(gw.url + "/ws", subprotocols=["v2"], max_queue=None) as v2, \
                   websockets.connect(gw.url + "/ws", max_queue=None) as v1:
            await v2.send(json.dumps({"type": "subscribe", "symbols": ["AAPL", "MSFT"]}))
            await v1.send(json.dumps({"type": "subscribe", "symbol": "AAPL"}))
            await v1.send("{bad")
            updates = 0
            while updates < 50:  # updates only: the ack is not a market-data message
                if "symbol" in json.loads(await v2.recv()):
                    updates += 1
            during = await asyncio.to_thread(metrics, gw.port)
        await asyncio.sleep(0.2)
        return during
    during = asyncio.run(session())
    after = metrics(gw.port)
    assert value(during, "tickstream_connections", protocol="v2") == 1
    assert value(during, "tickstream_connections", protocol="v1") == 1
    assert value(during, "tickstream_subscriptions") == 3
    assert value(during, "tickstream_handshakes_total", result="ok") == 2
    assert value(during, "tickstream_messages_sent_total", protocol="v2") >= 50
    assert value(during, "tickstream_bytes_sent_total", protocol="v2") > value(during, "tickstream_messages_sent_total", protocol="v2") * 50
    assert value(during, "tickstream_feed_updates_total", source="simulator") > value(before, "tickstream_feed_updates_total", source="simulator")
    assert value(during, "tickstream_command_errors_total") == 1
    assert value(during, "tickstream_event_loop_iteration_seconds_count") > value(before, "tickstream_event_loop_iteration_seconds_count")
    # Every write is timed; updates on an idle loop wait well under a second before the kernel takes them.
    writes = value(during, "tickstream_output_wait_seconds_count") - value(before, "tickstream_output_wait_seconds_count")
    assert writes >= 50
    under_quarter_second = value(during, "tickstream_output_wait_seconds_bucket", le="0.25") - value(before, "tickstream_output_wait_seconds_bucket", le="0.25")
    assert under_quarter_second == writes
    assert value(after, "tickstream_connections", protocol="v2") == 0
    assert value(after, "tickstream_close_codes_received_total", code="1000") == 2
    assert value(after, "tickstream_subscriptions") == 0
    # Handshake results are labelled by outcome.
    get(gw.port, "/ws")  # a plain GET on the WebSocket path: a bad handshake
    assert value(metrics(gw.port), "tickstream_handshakes_total", result="bad_request") == 1
    assert value(metrics(gw.port), "tickstream_draining") == 0


def test_help_lists_every_group():
    result = subprocess.run([BINARY, "--help"], capture_output=True, text=True, timeout=10)
    assert result.returncode == 0
    for section in ["LISTENER:", "WEBSOCKET LIMITS:", "MARKET DATA:", "HEALTH AND DRAINING:", "LOGGING:"]:
        assert section in result.stdout
    for flag in ["--port", "--sim-rate", "--drain-grace", "--admin-token", "--takeover", "--log-format", "--require-feed"]:
        assert flag in result.stdout


def test_invalid_values_fail_fast_with_exit_code_2():
    for args in (["--port", "70000"], ["--sim-rate", "-1"], ["--log-format", "xml"], ["--sim-symbols", "AAPL,bad"],
                 ["--drain-grace", "20", "--drain-timeout", "10"], ["--require-feed"], ["--no-such-flag"],
                 ["--max-symbols", "5"]):
        result = subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=10)
        assert result.returncode == 2, args
        assert "Error" in result.stderr, args
    result = subprocess.run([BINARY], capture_output=True, text=True, timeout=10, env={**os.environ, "GATEWAY_PORT": "nope"})
    assert result.returncode == 2 and "--port" in result.stderr


def test_environment_variables_take_effect_and_flags_win(gateway_factory):
    from conftest import free_port
    port = free_port()
    gw = gateway_factory("--sim-rate", "0", env={"GATEWAY_SIM_SYMBOLS": "ENVSYM", "GATEWAY_SIM_RATE": "100",
                                                "GATEWAY_ECHO": "true", "GATEWAY_LOG_FORMAT": "json"})
    # GATEWAY_SIM_RATE=100 is overridden by the fixture's --sim-rate 0: no simulator updates.
    time.sleep(0.3)
    assert value(metrics(gw.port), "tickstream_feed_updates_total", source="simulator") == 0

    async def echo():
        async with websockets.connect(gw.url + "/echo") as ws:  # GATEWAY_ECHO=true enabled /echo
            await ws.send("hi")
            return await ws.recv()
    assert asyncio.run(echo()) == "hi"
    gw.stop()
    lines = [line for line in gw.output().splitlines() if line.startswith("{")]
    start = json.loads(lines[0])  # GATEWAY_LOG_FORMAT=json: structured lines
    assert start["msg"] == "starting" and start["echo"] == "true" and start["sim_symbols"] == "ENVSYM"
    assert any(json.loads(line)["msg"] == "listening" for line in lines)
