"""Black-box tests of health checks, metrics, logs and configuration."""
import asyncio
import json
import os
import signal
import subprocess
import time

import pytest
import websockets
from prometheus_client.parser import text_string_to_metric_families

from conftest import BINARY, http_get as get

TOKEN = "pub-token"


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
    for section in ["LISTENER:", "LIMITS:", "LIVENESS:", "AUTHENTICATION (/WS):", "MARKET DATA:", "HEALTH AND DRAINING:", "LOGGING:"]:
        assert section in result.stdout
    for flag in ["--port", "--sim-rate", "--drain-grace", "--admin-token", "--takeover", "--log-format", "--require-feed",
                 "--admin-port", "--max-connections", "--max-connections-per-address", "--message-rate", "--allowed-origins",
                 "--ping-interval", "--idle-timeout", "--tcp-keepalive", "--jwt-secret", "--jwt-public-key",
                 "--feed-max-message-bytes", "--echo-max-message-bytes"]:
        assert flag in result.stdout


def test_invalid_values_fail_fast_with_exit_code_2():
    for args in (["--port", "70000"], ["--sim-rate", "-1"], ["--log-format", "xml"], ["--sim-symbols", "AAPL,bad"],
                 ["--drain-grace", "20", "--drain-timeout", "10"], ["--require-feed"], ["--no-such-flag"],
                 ["--max-symbols", "5"], ["--jwt-secret", "too-short"], ["--jwt-public-key", "/nonexistent.pem"],
                 ["--ping-interval", "30", "--idle-timeout", "20"], ["--allowed-origins", "desk.example.com"],
                 ["--message-rate", "-1"], ["--max-connections", "0"], ["--admin-port", "70000"],
                 ["--max-queue-bytes", "1024"], ["--max-queue-bytes", str(2**31)]):
        result = subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=10)
        assert result.returncode == 2, args
        assert "Error" in result.stderr, args
    result = subprocess.run([BINARY], capture_output=True, text=True, timeout=10, env={**os.environ, "GATEWAY_PORT": "nope"})
    assert result.returncode == 2 and "GATEWAY_PORT=nope" in result.stderr


def test_every_bad_value_stops_the_start_with_exit_2_naming_its_source():
    """Regressions: a host name logged "starting" and exited 1; --port -1 said "Missing value";
    GATEWAY_REUSE_PORT=banana was taken as false; a bad GATEWAY_ value named only the flag."""
    cases = [
        (["--host", "nothost"], {}, "--host must be an IPv4 or IPv6 literal"),
        (["--port", "-1"], {}, "--port must be 0...65535, got -1"),
        (["--sim-rate", "-5"], {}, "--sim-rate must be 0...10000000, got -5"),
        ([], {"GATEWAY_REUSE_PORT": "banana"}, "GATEWAY_REUSE_PORT=banana: --reuse-port takes true or false"),
        ([], {"GATEWAY_PORT": "abc"}, "GATEWAY_PORT=abc"),
        ([], {"GATEWAY_DRAIN_GRACE": "-3"}, "GATEWAY_DRAIN_GRACE=-3"),
        # What Kubernetes injects for a Service named "gateway": the cause and the fix, named.
        ([], {"GATEWAY_PORT": "tcp://10.96.0.7:80"}, "GATEWAY_PORT=tcp://10.96.0.7:80: this is a Kubernetes service link"),
        ([], {"GATEWAY_SERVICE_HOST": "10.96.0.7"}, "Set enableServiceLinks: false in the pod spec"),
    ]
    for args, env, message in cases:
        result = subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=10, env={**os.environ, **env})
        assert result.returncode == 2, (args, env, result.stderr)
        assert message in result.stderr, (args, env, result.stderr)
        assert "starting" not in result.stderr + result.stdout, "nothing starts before every value is checked"
    # false-like values leave a flag off and are accepted
    for value in ["false", "0", "no", "off"]:
        result = subprocess.run([BINARY, "--port", "70000"], capture_output=True, text=True, timeout=10,
                                env={**os.environ, "GATEWAY_REUSE_PORT": value})
        assert "GATEWAY_REUSE_PORT" not in result.stderr and "--port must be" in result.stderr


def test_ctrl_c_on_an_idle_gateway_exits_at_once(gateway_factory):
    gw = gateway_factory("--drain-grace", "5")
    time.sleep(0.3)  # the fixture's start-up probe connection is gone
    started = time.monotonic()
    gw.process.send_signal(signal.SIGINT)
    assert gw.process.wait(timeout=3) == 0
    assert time.monotonic() - started < 1.5, "nothing to drain: no 5 s grace for an interactive stop"


def test_sigterm_keeps_the_grace_and_a_second_ctrl_c_forces_the_exit(gateway_factory):
    gw = gateway_factory("--drain-grace", "5", "--drain-duration", "5", "--drain-timeout", "20")

    async def scenario():
        async with websockets.connect(gw.url + "/ws") as ws:
            gw.process.send_signal(signal.SIGINT)  # a client is connected: the drain keeps its grace
            await asyncio.sleep(1.0)
            assert gw.process.poll() is None, "one Ctrl-C with a client connected drains gracefully"
            started = time.monotonic()
            gw.process.send_signal(signal.SIGINT)
            assert await asyncio.to_thread(gw.process.wait, 3) == 0
            assert time.monotonic() - started < 1.5
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 3)
    asyncio.run(scenario())
    assert "second SIGINT: closing what remains" in gw.output()

    idle = gateway_factory("--drain-grace", "2", "--drain-duration", "0", "--drain-timeout", "10")
    started = time.monotonic()
    idle.process.send_signal(signal.SIGTERM)
    assert idle.process.wait(timeout=6) == 0
    assert time.monotonic() - started >= 1.8, "SIGTERM (a deploy) keeps the grace even when idle"


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
    assert start["msg"] == "starting" and start["echo"] is True and start["sim_symbols"] == "ENVSYM"
    # Numbers and booleans stay numbers and booleans for log shippers.
    assert start["port"] == gw.port and start["max_message_bytes"] == 65536 and start["close_timeout"] == 5.0
    assert start["version"] == value_of_version()
    listening = next(json.loads(line) for line in lines if json.loads(line)["msg"] == "listening")
    assert listening["pid"] == gw.process.pid
    assert listening["page"] == f"http://127.0.0.1:{gw.port}/", "the start-up log says where the page is"


def value_of_version():
    return subprocess.run([BINARY, "--version"], capture_output=True, text=True, timeout=10).stdout.split()[2]


def test_version_and_build_info(gateway_factory):
    result = subprocess.run([BINARY, "--version"], capture_output=True, text=True, timeout=10)
    assert result.returncode == 0
    assert result.stdout.startswith("tickstream gateway ") and "(Swift " in result.stdout
    version = value_of_version()
    gw = gateway_factory("--sim-rate", "0")
    samples = metrics(gw.port)
    info = [labels for (name, labels), v in samples.items() if name == "tickstream_build_info" and v == 1]
    assert len(info) == 1 and dict(info[0])["version"] == version


def test_the_docs_settings_table_and_the_binary_agree():
    """Every flag docs/configuration.md's table names exists, and every flag the binary takes is
    in the table; the table is what `--help-markdown` prints."""
    import re
    from conftest import ROOT
    with open(os.path.join(ROOT, "docs", "configuration.md")) as f:
        page = f.read()
    table = page[page.index("<!-- settings:begin"):page.index("<!-- settings:end")]
    printed = subprocess.run([BINARY, "--help-markdown"], capture_output=True, text=True, timeout=10).stdout
    assert printed in table
    documented = set(re.findall(r"^\| `(--[a-z0-9-]+)`", table, re.M))
    help_text = subprocess.run([BINARY, "--help"], capture_output=True, text=True, timeout=10).stdout
    accepted = set(re.findall(r"^\s+(--[a-z0-9-]+)", help_text, re.M)) - {"--help", "--version"}
    assert documented == accepted, (sorted(documented - accepted), sorted(accepted - documented))


def test_the_release_binary_needs_no_swift_runtime():
    """The test command builds the release artifact (--static-swift-stdlib): one file to
    deploy, which loads libc, libssl, libcrypto and zlib and nothing of the Swift toolchain."""
    loaded = subprocess.run(["ldd", BINARY], capture_output=True, text=True, timeout=10).stdout
    assert "swift" not in loaded.lower(), loaded
    for library in ["libssl", "libcrypto", "libz"]:
        assert library in loaded, loaded
