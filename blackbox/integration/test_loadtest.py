"""Black-box tests of the load generator: runs `loadtest market` against the real gateway, and
against a scripted fake server that misbehaves on purpose (sequence gaps, a wrong subprotocol,
a mid-run close), to show the figures it reports are measured and that it fails when it should."""
import asyncio
import json
import os
import subprocess
import threading
import time

import websockets

from conftest import BINARY, ROOT, Gateway, free_port

LOADTEST = os.path.join(os.path.dirname(BINARY), "loadtest")
TOKEN = "pub-token"


def run_loadtest(*flags, timeout=60, quiet=True):
    return subprocess.run([LOADTEST, "market", *(["--quiet"] if quiet else []), *flags], capture_output=True, text=True,
                          timeout=timeout)


def test_simulator_run_measures_rate_latency_and_cpu(gateway_factory, tmp_path):
    # 20 connections x 5 of 50 symbols: each update reaches 2 subscribers -> 2,000 deliveries/s.
    gw = gateway_factory("--sim-symbols", "50", "--sim-rate", "1000", "--log-level", "warning")
    out = tmp_path / "run.json"
    report = tmp_path / "run.html"
    result = run_loadtest("--url", f"{gw.url}/ws", "--conns", "20", "--subs", "5", "--symbols", "50",
                          "--v2-fraction", "0.5", "--depth", "5", "--warmup", "1", "--duration", "2",
                          "--gateway-pid", str(gw.process.pid), "--json", str(out), "--report", str(report),
                          "--expect-rate", "1500", "--p99-limit", "500")
    assert result.returncode == 0, result.stdout + result.stderr
    figures = json.loads(out.read_text())
    assert 1800 <= figures["rate"] <= 2200
    assert abs(figures["rate_v1"] + figures["rate_v2"] - figures["rate"]) < 1
    assert 800 <= figures["rate_v2"] <= 1100            # half the connections are v2
    assert figures["bytes_per_second"] > figures["rate"] * 30
    assert figures["gaps"] == 0 and figures["missed"] == 0
    assert figures["open"] == 20 and figures["failed_dials"] == 0
    assert figures["protocol_mismatches"] == 0 and figures["unexpected_closes"] == 0
    latency = figures["latency_ms"]
    assert latency["samples"] >= 1500                    # v2 messages in the 2 s window
    assert 0 < latency["p50"] <= latency["p90"] <= latency["p99"] <= latency["p99.9"] <= latency["max"]
    assert 0 < figures["gateway_cpu"] < 1 and 0 < figures["loadtest_cpu"] < 1
    assert len(figures["per_second"]) >= 2
    assert "delivered" in result.stdout and "p99" in result.stdout
    page = report.read_text()
    assert page.startswith("<!doctype html>") and "<svg" in page and "delivered" in page


def test_publish_mode_drives_the_feed_and_writes_an_svg(gateway_factory, tmp_path):
    gw = gateway_factory("--sim-rate", "0", "--publisher-token", TOKEN, "--log-level", "warning")
    out = tmp_path / "run.json"
    svg = tmp_path / "run.svg"
    result = run_loadtest("--url", f"{gw.url}/ws", "--conns", "20", "--subs", "5", "--symbols", "50",
                          "--publisher-token", TOKEN, "--target-rate", "3000", "--warmup", "1", "--duration", "2",
                          "--json", str(out), "--report", str(svg))
    assert result.returncode == 0, result.stdout + result.stderr
    figures = json.loads(out.read_text())
    assert figures["publish_rate"] == 1500               # 3,000 deliveries/s over 2 subscribers per update
    assert 2700 <= figures["rate"] <= 3300
    assert figures["gaps"] == 0 and figures["latency_ms"]["samples"] > 0
    assert figures["publisher"]["failure"] is None and figures["publisher"]["error_replies"] == 0
    assert figures["publisher"]["published"] >= 1500 * 3 * 0.9   # warm-up and measured window
    assert svg.read_text().startswith("<svg")


def test_a_rejected_publisher_fails_the_run_and_says_why(gateway_factory):
    gw = gateway_factory("--sim-rate", "0", "--publisher-token", TOKEN, "--log-level", "warning")
    result = run_loadtest("--url", f"{gw.url}/ws", "--conns", "4", "--subs", "5", "--symbols", "50",
                          "--publisher-token", "wrong", "--publish-rate", "100", "--warmup", "0.5", "--duration", "0.5")
    assert result.returncode == 1
    assert "publisher: feed connection closed" in result.stdout and "401" in result.stdout, result.stdout


def test_catch_up_batches_stay_under_the_gateways_message_limit(gateway_factory, tmp_path):
    # 50 levels per update and a high rate: a catch-up batch after the busy dialing start used
    # to exceed 64 KiB, and the gateway closed the feed (1009) so nothing was delivered.
    gw = gateway_factory("--sim-rate", "0", "--publisher-token", TOKEN, "--log-level", "warning")
    out = tmp_path / "deep.json"
    result = run_loadtest("--url", f"{gw.url}/ws", "--conns", "500", "--subs", "5", "--symbols", "50",
                          "--depth", "50", "--publisher-token", TOKEN, "--publish-rate", "5000",
                          "--warmup", "1", "--duration", "1", "--json", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    figures = json.loads(out.read_text())
    assert figures["publisher"]["failure"] is None and figures["rate"] > 0


def test_missed_targets_exit_1(gateway_factory):
    gw = gateway_factory("--sim-symbols", "50", "--sim-rate", "200", "--log-level", "warning")
    result = run_loadtest("--url", f"{gw.url}/ws", "--conns", "4", "--subs", "5", "--symbols", "50",
                          "--warmup", "0.5", "--duration", "1", "--expect-rate", "1000000", "--p99-limit", "0.000001")
    assert result.returncode == 1
    assert "FAILED: rate" in result.stdout and "above --p99-limit" in result.stdout


def test_ramp_that_cannot_hold_its_first_step_exits_1(gateway_factory):
    gw = gateway_factory("--sim-rate", "0", "--publisher-token", TOKEN, "--log-level", "warning")
    result = run_loadtest("--url", f"{gw.url}/ws", "--conns", "4", "--subs", "5", "--symbols", "50",
                          "--publisher-token", TOKEN, "--publish-rate", "100", "--ramp", "--step-seconds", "1",
                          "--warmup", "0.5", "--p99-limit", "0.000001")
    assert result.returncode == 1
    assert "failed" in result.stdout and "even the first step failed" in result.stdout


def test_a_failed_dial_is_counted_and_fails_the_run():
    port = free_port()                                   # nothing listens here
    result = run_loadtest("--url", f"ws://127.0.0.1:{port}/ws", "--conns", "3", "--symbols", "50",
                          "--dial-retries", "1", "--warmup", "0.5", "--duration", "0.5")
    assert result.returncode == 1
    assert "3 failed dials" in result.stdout


def test_a_run_that_receives_nothing_fails_and_says_why(gateway_factory):
    # The defaults against the default gateway: its simulator serves tickers, not SYM0000...
    gw = gateway_factory()
    result = run_loadtest("--url", gw.url + "/ws", "--conns", "4", "--warmup", "0.5", "--duration", "1")
    assert result.returncode == 1
    assert "no updates arrived in the measured window" in result.stdout
    assert "--sim-symbols 500" in result.stdout


def test_subscriptions_the_gateway_never_serves_fail_the_run(gateway_factory):
    gw = gateway_factory("--sim-symbols", "40", "--sim-rate", "2000")
    result = run_loadtest("--url", gw.url + "/ws", "--conns", "10", "--subs", "5", "--symbols", "50",
                          "--warmup", "1", "--duration", "1")
    assert result.returncode == 1
    assert "10 subscribed symbols never received an update (SYM0040, SYM0041, SYM0042, SYM0043, SYM0044, ...)" in result.stdout


def test_invalid_options_are_refused_before_running(tmp_path):
    (tmp_path / "folder.svg").mkdir()
    for flags in (["--report", "out.png"], ["--v2-fraction", "2"], ["--subs", "600", "--symbols", "500"],
                  ["--publish-rate", "100"], ["--depth", "0"], ["--url", "http://x"],
                  ["--report", "/nonexistent-folder/report.svg"], ["--report", str(tmp_path / "folder.svg")],
                  ["--json", "/nonexistent-folder/run.json"]):
        result = run_loadtest(*flags, timeout=10)
        assert result.returncode == 64, (flags, result.stdout, result.stderr)
        assert "Error" in result.stderr


class FakeServer:
    """A v1/v2 speaker driven by a script: `behaviour(websocket, protocol)` runs per connection."""

    def __init__(self, behaviour, choose=None):
        self.port = free_port()
        self.behaviour = behaviour
        self.choose = choose
        self.ready = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self.serve()), daemon=True)
        self.thread.start()
        assert self.ready.wait(5)

    async def serve(self):
        def select(connection, offered):
            return self.choose(offered) if self.choose else (offered[0] if offered else None)
        async with websockets.serve(self.handle, "127.0.0.1", self.port, subprotocols=["v2", "v1"],
                                    select_subprotocol=select):
            self.ready.set()
            await asyncio.sleep(30)

    async def handle(self, websocket):
        await websocket.recv()                           # the subscribe command
        try:
            await self.behaviour(websocket, websocket.subprotocol)
        except websockets.ConnectionClosed:
            pass


def v2_update(symbol: int, seq: int) -> str:
    return (f'{{"symbol":"SYM{symbol:04d}","last":1.5,"bid":1.49,"ask":1.51,"depth":[[1.49,100,1.51,100]],'
            f'"seq":{seq},"ts":{int(time.time() * 1e6)}}}')


def one_client_against(behaviour, tmp_path):
    """One v2 client on one symbol against a fake server: (the JSON figures, the run)."""
    server = FakeServer(behaviour)
    out = tmp_path / "figures.json"
    result = run_loadtest("--url", f"ws://127.0.0.1:{server.port}/ws", "--conns", "1", "--subs", "1",
                          "--symbols", "50", "--v2-fraction", "1", "--warmup", "0.5", "--duration", "2",
                          "--json", str(out))
    return json.loads(out.read_text()), result


def test_sequence_gaps_are_counted_with_the_updates_missed(tmp_path):
    async def skip_three_after_a_second(websocket, protocol):
        started = time.monotonic()
        seq, skipped = 1, False
        while time.monotonic() - started < 3:
            await websocket.send(v2_update(0, seq))
            seq += 1
            if not skipped and time.monotonic() - started > 1.2:
                seq += 3                                  # 3 updates the client never sees
                skipped = True
            await asyncio.sleep(0.005)
        await asyncio.sleep(5)

    figures, result = one_client_against(skip_three_after_a_second, tmp_path)
    assert figures["gaps"] == 1 and figures["missed"] == 3, result.stdout
    assert figures["latency_ms"]["samples"] > 100


def test_the_longest_silence_any_client_sees_is_measured(tmp_path):
    """A server that pauses 400 ms once in the measured window: what a deploy's pause looks like."""
    async def pause_once(websocket, protocol):
        started = time.monotonic()
        seq, paused = 1, False
        while time.monotonic() - started < 3:
            await websocket.send(v2_update(0, seq))
            seq += 1
            if not paused and time.monotonic() - started > 1.2:
                await asyncio.sleep(0.4)
                paused = True
            await asyncio.sleep(0.005)
        await asyncio.sleep(5)

    figures, result = one_client_against(pause_once, tmp_path)
    assert 390 <= figures["longest_gap_ms"] < 600, result.stdout
    assert "longest silence" in result.stdout


def test_wrong_subprotocol_and_unexpected_close_fail_the_run():
    async def close_after_half_a_second(websocket, protocol):
        for seq in range(1, 50):
            await websocket.send(v2_update(0, seq))
            await asyncio.sleep(0.01)
        await websocket.close(1011, "maintenance window")

    # Offered v2 but answered v1: a protocol mismatch; then the server closes mid-run.
    server = FakeServer(close_after_half_a_second, choose=lambda offered: "v1")
    result = run_loadtest("--url", f"ws://127.0.0.1:{server.port}/ws", "--conns", "2", "--subs", "1",
                          "--symbols", "50", "--v2-fraction", "1", "--warmup", "0.2", "--duration", "1.5", quiet=False)
    assert result.returncode == 1
    assert "2 protocol mismatches" in result.stdout and "2 unexpected closes" in result.stdout
    # Each close line says what the server said.
    assert result.stdout.count('closed: 1011 "maintenance window"') == 2, result.stdout


def test_reconnect_through_a_takeover_deploy(tmp_path):
    control = str(tmp_path / "control.sock")
    old = Gateway("--sim-symbols", "50", "--sim-rate", "500", "--control-socket", control, "--drain-duration", "1")
    deploy = (f"OLD_PID={old.process.pid} LOG={tmp_path}/new.log "
              f"{os.path.join(ROOT, 'deploy', 'vm', 'takeover-deploy.sh')} {BINARY}")
    try:
        result = run_loadtest("--url", old.url + "/ws", "--conns", "40", "--subs", "5", "--symbols", "50",
                              "--warmup", "1", "--duration", "4", "--reconnect", "--during", deploy, "--during-after", "1")
        out = result.stdout
        assert "during          exited 0" in out, out
        assert "reconnects      40," in out and "0 never came back, 0 abrupt closes" in out, out
        assert "0 failed dials, 0 unexpected closes" in out, out
        # The new instance numbers seq from 1 again (a drain deploy hands no market over), and
        # says so with a new epoch: every v2 subscription resyncs from its snapshot, none is a
        # rewind, and the run passes.
        assert "0 seq rewinds, 100 resynced in a new epoch" in out and result.returncode == 0, out
    finally:
        old.stop()
        # The pattern must not start with "-": pkill would take it for an option and, failing,
        # leave the new instance running after the test.
        subprocess.run(["pkill", "-TERM", "-f", f"takeover {control}"])


def test_a_failing_during_command_fails_the_run(gateway_factory):
    gw = gateway_factory("--sim-symbols", "20", "--sim-rate", "500")
    result = run_loadtest("--url", gw.url + "/ws", "--conns", "4", "--subs", "2", "--symbols", "20",
                          "--warmup", "0.5", "--duration", "1", "--during", "exit 3", "--during-after", "0.2")
    assert result.returncode == 1
    assert "--during exited 3" in result.stdout
