"""Black-box tests of graceful draining and hot takeover on the real binary."""
import asyncio
import json
import os
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from conftest import BINARY, ROOT, Gateway, free_port
from rawws import RawClient, frame, http, upgrade_request


def get(port, path, method="GET", headers=None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


class Subscriber:
    """One client: records updates, seq continuity, the reconnect notice and how it closed."""

    def __init__(self, url, version, symbols):
        self.url, self.version, self.symbols = url, version, symbols
        self.messages = 0
        self.gaps = 0
        self.notice = None
        self.updates_after_notice = 0
        self.close_code = None
        self.closed_at = None
        self.error = None
        self.ready = asyncio.Event()

    async def run(self):
        try:
            async with websockets.connect(self.url, subprotocols=[self.version], max_queue=None) as ws:
                if self.version == "v2":
                    await ws.send(json.dumps({"type": "subscribe", "symbols": self.symbols}))
                else:
                    for s in self.symbols:
                        await ws.send(json.dumps({"type": "subscribe", "symbol": s}))
                last = {}
                async for raw in ws:
                    msg = json.loads(raw)
                    if msg.get("type") == "reconnect":
                        self.notice = msg
                        continue
                    if "symbol" not in msg:
                        continue
                    self.messages += 1
                    self.ready.set()
                    if self.notice is not None:
                        self.updates_after_notice += 1
                    if self.version == "v2":
                        s = msg["symbol"]
                        if s in last and msg["seq"] != last[s] + 1:
                            self.gaps += 1
                        last[s] = msg["seq"]
        except ConnectionClosed:
            pass
        except Exception as e:  # noqa: BLE001 - recorded and asserted on
            self.error = repr(e)
        finally:
            self.closed_at = time.monotonic()
        self.close_code = ws.close_code if "ws" in locals() else None


def drain_under_load(gw, trigger, grace, duration):
    """Connects 100 v1 and 100 v2 clients, triggers a drain and checks the whole sequence."""
    async def go():
        clients = [Subscriber(gw.url + "/ws", "v2" if i % 2 else "v1", [f"SYM{(i * 3 + k) % 50:04d}" for k in range(3)])
                   for i in range(200)]
        tasks = [asyncio.create_task(c.run()) for c in clients]
        await asyncio.wait_for(asyncio.gather(*(c.ready.wait() for c in clients)), 20)
        t0 = time.monotonic()
        trigger()
        # Readiness flips within 200 ms.
        flipped = None
        while time.monotonic() - t0 < 2:
            status, _, _ = await asyncio.to_thread(get, gw.port, "/health/ready")
            if status == 503:
                flipped = time.monotonic() - t0
                break
            await asyncio.sleep(0.01)
        assert flipped is not None and flipped < 0.2, f"readiness flipped after {flipped}"
        # During the drain, a new upgrade is refused with 503 and Retry-After.
        status, headers, _ = await asyncio.to_thread(http, gw.port, upgrade_request(path="/ws"))
        assert status == 503 and "retry-after" in headers
        await asyncio.gather(*tasks)
        return t0, clients
    t0, clients = asyncio.run(go())
    assert gw.process.wait(timeout=grace + duration + 10) == 0
    assert all(c.error is None for c in clients), [c.error for c in clients if c.error][:3]
    assert [c.close_code for c in clients] == [1001] * len(clients)
    closes = sorted(c.closed_at - t0 for c in clients)
    assert closes[0] >= grace * 0.9, f"eviction started {closes[0]:.2f}s after the trigger, grace is {grace}s"
    assert closes[-1] - closes[0] >= duration * 0.6, f"closes spread over {closes[-1] - closes[0]:.2f}s only"
    assert len({round(t, 1) for t in closes}) >= 5, "evictions came in too few batches"
    v2 = [c for c in clients if c.version == "v2"]
    assert all(c.notice is not None and c.notice["reason"] == "draining" for c in v2)
    assert all(100 <= c.notice["retry_after_ms"] <= 1000 for c in v2)
    assert all(c.updates_after_notice == 0 for c in v2)  # the notice is the last thing before Close
    assert sum(c.gaps for c in v2) == 0
    assert all(c.messages > 0 for c in clients)


def test_sigterm_drains_under_load(gateway_factory):
    gw = gateway_factory("--sim-rate", "400", "--sim-symbols", "50", "--drain-grace", "1", "--drain-duration", "2")
    drain_under_load(gw, lambda: gw.process.send_signal(signal.SIGTERM), grace=1, duration=2)
    assert "drain finished" in gw.output()


def test_admin_drain(gateway_factory):
    no_admin = gateway_factory("--sim-rate", "0")
    assert get(no_admin.port, "/admin/drain", "POST")[0] == 404
    gw = gateway_factory("--sim-rate", "400", "--sim-symbols", "50", "--admin-token", "adm",
                         "--drain-grace", "1", "--drain-duration", "2")
    assert get(gw.port, "/admin/drain", "POST")[0] == 401
    assert get(gw.port, "/admin/drain", "POST", {"Authorization": "Bearer nope"})[0] == 401
    assert get(gw.port, "/admin/drain", "GET", {"Authorization": "Bearer adm"})[0] == 405
    assert get(gw.port, "/health/ready")[0] == 200

    def trigger():
        # The scheme is case-insensitive (RFC 9110); the token is not.
        assert get(gw.port, "/admin/drain", "POST", {"Authorization": "bearer ADM"})[0] == 401
        status, _, body = get(gw.port, "/admin/drain", "POST", {"Authorization": "bearer adm"})
        assert status == 202 and json.loads(body)["draining"] is True
        assert get(gw.port, "/admin/drain", "POST", {"Authorization": "Bearer adm"})[0] == 202  # harmless
    drain_under_load(gw, trigger, grace=1, duration=2)


def test_drain_timeout_bounds_a_client_that_never_closes(gateway_factory):
    gw = gateway_factory("--echo", "--drain-grace", "0", "--drain-duration", "0", "--drain-timeout", "2",
                         "--close-timeout", "60")
    stubborn = RawClient(gw.port)  # reads nothing, answers nothing
    start = time.monotonic()
    gw.process.send_signal(signal.SIGTERM)
    assert gw.process.wait(timeout=10) == 0
    assert time.monotonic() - start < 4
    assert "drain timeout" in gw.output()
    stubborn.close()


def test_takeover_hands_over_the_port_without_a_failed_dial(tmp_path):
    control = str(tmp_path / "control.sock")
    old = Gateway("--sim-rate", "200", "--sim-symbols", "20", "--control-socket", control, "--drain-duration", "1")
    new = None
    try:
        old_pid = json.loads(get(old.port, "/health/live")[2])["pid"]
        # Clients on the old instance, to be drained.
        async def connect_old():
            ws = await websockets.connect(old.url + "/ws", subprotocols=["v2"])
            await ws.send(json.dumps({"type": "subscribe", "symbols": ["SYM0001"]}))
            await ws.recv()
            return ws
        loop = asyncio.new_event_loop()
        old_clients = [loop.run_until_complete(connect_old()) for _ in range(5)]

        # Dial continuously, every 5 ms, through the whole switch.
        results, stop = [], threading.Event()
        def dialer():
            while not stop.is_set():
                try:
                    with socket.create_connection(("127.0.0.1", old.port), timeout=2) as s:
                        s.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                        data = b""
                        while chunk := s.recv(4096):
                            data += chunk
                        ok = data.startswith(b"HTTP/1.1 200")
                        pid = json.loads(data.partition(b"\r\n\r\n")[2])["pid"] if ok else None
                        results.append((ok, pid, None))
                except OSError as e:
                    results.append((False, None, repr(e)))
                time.sleep(0.005)
        thread = threading.Thread(target=dialer)
        thread.start()
        time.sleep(0.3)
        new_port_flag = str(free_port())  # ignored with --takeover: the listener comes from the old one
        new = subprocess.Popen([BINARY, "--port", new_port_flag, "--takeover", control, "--control-socket", control,
                                "--sim-rate", "200", "--sim-symbols", "20"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert old.process.wait(timeout=15) == 0
        time.sleep(0.3)
        stop.set()
        thread.join()
        failures = [r for r in results if not r[0]]
        assert not failures, failures[:5]
        pids = [r[1] for r in results]
        assert pids[0] == old_pid and pids[-1] == new.pid and set(pids) == {old_pid, new.pid}
        # The old clients were drained with 1001.
        async def closed_code(ws):
            try:
                while True:
                    await ws.recv()
            except ConnectionClosed:
                return ws.close_code
        assert [loop.run_until_complete(closed_code(ws)) for ws in old_clients] == [1001] * 5
        # New clients are served by the new instance.
        async def fresh():
            async with websockets.connect(old.url + "/ws", subprotocols=["v2"]) as ws:
                await ws.send(json.dumps({"type": "subscribe", "symbols": ["SYM0002"]}))
                assert json.loads(await ws.recv())["type"] == "subscribed"
                assert json.loads(await ws.recv())["symbol"] == "SYM0002"
        loop.run_until_complete(fresh())
        loop.close()
        assert os.path.exists(control)  # the new instance owns the control socket now
    finally:
        old.stop()
        if new is not None:
            new.terminate()
            new.wait(timeout=20)


def test_reuse_port_drain_hands_new_connections_to_the_other_instance(gateway_factory):
    old = gateway_factory("--sim-rate", "0", "--reuse-port", "--drain-grace", "1", "--drain-duration", "1")
    new = subprocess.Popen([BINARY, "--host", "127.0.0.1", "--port", str(old.port), "--reuse-port", "--sim-rate", "0"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        time.sleep(0.5)
        old.process.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        # While the old instance drains, every new connection lands on the new one: no 503s.
        pids = {json.loads(get(old.port, "/health/live")[2])["pid"] for _ in range(50)}
        assert pids == {new.pid}
        statuses = {get(old.port, "/health/ready")[0] for _ in range(20)}
        assert statuses == {200}
        assert old.process.wait(timeout=10) == 0
    finally:
        new.terminate()
        new.wait(timeout=10)


DEPLOY_SCRIPT = os.path.join(ROOT, "deploy", "vm", "takeover-deploy.sh")


def test_takeover_deploy_script_keeps_every_setting_and_creates_its_folders(tmp_path):
    control = str(tmp_path / "run" / "control.sock")
    os.makedirs(os.path.dirname(control))
    old = Gateway("--sim-symbols", "7", "--sim-rate", "100", "--admin-token", "adm", "--log-format", "json",
                  "--control-socket", control, "--drain-duration", "0.2", env={"GATEWAY_MAX_SUBSCRIPTIONS": "3"})
    log = tmp_path / "logs" / "deep" / "gateway.log"  # the folder does not exist yet
    new_pid = None
    try:
        result = subprocess.run([DEPLOY_SCRIPT, BINARY], capture_output=True, text=True, timeout=60,
                                env={**os.environ, "OLD_PID": str(old.process.pid), "LOG": str(log)})
        assert result.returncode == 0, result.stdout + result.stderr
        assert "no setting changed" in result.stdout
        new_pid = json.loads(get(old.port, "/health/live")[2])["pid"]
        assert new_pid != old.process.pid
        # Same symbols, same admin token, same environment-given limit, same log format.
        assert json.loads(get(old.port, "/symbols")[2])["count"] == 7
        assert get(old.port, "/admin/drain", "POST", {"Authorization": "Bearer wrong"})[0] == 401  # token configured
        lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
        assert lines[0]["msg"] == "starting" and lines[0]["max_subscriptions"] == 3 and lines[0]["sim_symbols"] == 7
        assert old.process.wait(timeout=15) == 0
    finally:
        old.stop()
        if new_pid:
            os.kill(new_pid, signal.SIGTERM)


def test_deploy_choices_are_not_carried_into_the_next_deploy(tmp_path):
    """Regression: the script copied the running instance's command line, so after one
    --handover connections deploy the next one got --takeover twice and --handover twice, and a
    deploy without --handover was a handover again. Settings carry over; the deploy's own
    choices are the current command's alone."""
    control = str(tmp_path / "control.sock")
    old = Gateway("--sim-symbols", "5", "--sim-rate", "100", "--control-socket", control, "--drain-duration", "0.2")
    pids = []
    try:
        def deploy(*flags):
            serving = json.loads(get(old.port, "/health/live")[2])["pid"]
            result = subprocess.run([DEPLOY_SCRIPT, BINARY, *flags], capture_output=True, text=True, timeout=60,
                                    env={**os.environ, "OLD_PID": str(serving), "LOG": str(tmp_path / "gateway.log")})
            assert result.returncode == 0, result.stdout + result.stderr
            pid = json.loads(get(old.port, "/health/live")[2])["pid"]
            assert pid != serving
            pids.append(pid)
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                return [a.decode() for a in f.read().split(b"\0") if a][1:]
        first = deploy("--handover", "connections")
        assert first.count("--takeover") == 1 and first.count("--handover") == 1 and "connections" in first
        second = deploy()
        assert second.count("--takeover") == 1, second
        assert "--handover" not in second, "a deploy without --handover drains, whatever the last one did"
        assert second.count("--control-socket") == 1 and "--sim-symbols" in second, "settings carry over"
        third = deploy("--handover=drain")
        assert third.count("--takeover") == 1 and third.count("--handover=drain") == 1 and "connections" not in third
        assert json.loads(get(old.port, "/symbols")[2])["count"] == 5
    finally:
        old.stop()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass


def test_a_failed_takeover_deploy_leaves_the_old_instance_serving(tmp_path):
    control = str(tmp_path / "control.sock")
    old = Gateway("--sim-rate", "0", "--control-socket", control)
    try:
        # A change made on purpose that cannot start: the new instance exits 2 at once.
        result = subprocess.run([DEPLOY_SCRIPT, BINARY, "--max-symbols", "0"], capture_output=True, text=True, timeout=60,
                                env={**os.environ, "OLD_PID": str(old.process.pid), "LOG": str(tmp_path / "gateway.log")})
        assert result.returncode == 1
        assert "changed on purpose: --max-symbols 0" in result.stdout
        assert f"the old instance {old.process.pid} keeps serving" in result.stderr
        assert "--max-symbols must be" in result.stderr  # the new instance's own words, from its log
        assert json.loads(get(old.port, "/health/live")[2])["pid"] == old.process.pid
        assert old.process.poll() is None
    finally:
        old.stop()


def test_takeover_deploy_with_an_admin_port_moves_health_and_metrics_too(tmp_path):
    """With --admin-port the script asks the admin listener who serves; the successor binds
    its own admin listener beside the old one, which closes its copy at the takeover."""
    from conftest import free_port
    control = str(tmp_path / "control.sock")
    admin = free_port()
    old = Gateway("--sim-rate", "100", "--control-socket", control, "--admin-port", str(admin),
                  "--drain-duration", "0.2")
    new_pid = None
    try:
        assert get(old.port, "/health/live")[0] == 404
        assert json.loads(get(admin, "/health/live")[2])["pid"] == old.process.pid
        result = subprocess.run([DEPLOY_SCRIPT, BINARY], capture_output=True, text=True, timeout=60,
                                env={**os.environ, "OLD_PID": str(old.process.pid), "LOG": str(tmp_path / "gateway.log")})
        assert result.returncode == 0, result.stdout + result.stderr
        assert old.process.wait(timeout=15) == 0
        pids = {json.loads(get(admin, "/health/live")[2])["pid"] for _ in range(20)}
        assert len(pids) == 1 and old.process.pid not in pids
        new_pid = pids.pop()
        assert get(admin, "/metrics")[0] == 200
        assert get(old.port, "/metrics")[0] == 404
    finally:
        old.stop()
        if new_pid:
            os.kill(new_pid, signal.SIGTERM)
