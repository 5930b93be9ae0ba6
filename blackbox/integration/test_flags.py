"""Feature flags on a real fleet: nats-server's key-value bucket as the store, two gateways
watching it, Prometheus (Debian's, started here) scraping both, and the flags tool and monitor
as an operator runs them. Flag values are also written with nats.py's own KV client, so the
bucket is the NATS KV every tool knows."""
import asyncio
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

import nats
import pytest

from conftest import BINARY, Gateway, free_port, http_get, terminate, wait_for
from rawws import RawClient, frame, http, sample
from test_handover import Follower

BUCKET = "tickstream_flags"


def fnv1a64(text):
    value = 0xcbf29ce484222325
    for byte in text.encode():
        value = ((value ^ byte) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return value


def in_cohort(flag, user, percent):
    """docs/flags.md: FNV-1a 64 of "<flag>:<user>", modulo 10,000, below percent × 100."""
    return fnv1a64(f"{flag}:{user}") % 10000 < percent * 100


def flags_tool(*args, check=True):
    result = subprocess.run([BINARY, "flags", *args], capture_output=True, text=True, timeout=60)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def kv_put(url, key, value):
    async def go():
        client = await nats.connect(url)
        kv = await client.jetstream().key_value(BUCKET)
        await kv.put(key, value.encode() if isinstance(value, str) else json.dumps(value).encode())
        await client.close()
    asyncio.run(go())


def kv_get(url, key):
    async def go():
        client = await nats.connect(url)
        entry = await (await client.jetstream().key_value(BUCKET)).get(key)
        await client.close()
        return json.loads(entry.value)
    return asyncio.run(go())


def metric(port, key):
    return sample(http_get(port, "/metrics")[1], key)


def granted(port, user, **asked):
    """The subscribed reply a v2 client with ?client=user gets to a subscribe asking `asked`."""
    raw = RawClient(port, path="/ws" + (f"?client={user}" if user else ""), extra="Sec-WebSocket-Protocol: v2\r\n")
    raw.send(frame(0x1, json.dumps({"type": "subscribe", "symbols": ["SYM0000"], **asked}).encode()))
    while True:
        opcode, payload = raw.read_frame()
        message = json.loads(payload)
        if message.get("type") == "subscribed":
            raw.close()
            return message


@pytest.fixture
def fleet(nats_server):
    """A writer simulating into the bus and two serving instances, all on one nats-server."""
    writer = Gateway("--bus", nats_server.url, "--sim-target", "bus", "--sim-rate", "400", "--sim-symbols", "4")
    instances = [Gateway("--bus", nats_server.url, "--bus-follow", "all") for _ in range(2)]
    yield nats_server, instances
    for gw in instances + [writer]:
        gw.stop()


def test_a_25_percent_rollout_picks_the_documented_users_everywhere_and_after_reconnects(fleet):
    nats_server, instances = fleet
    flags_tool("set", "delta-updates", "--percent", "25", "--bus", nats_server.url, "--reason", "first step")
    assert wait_for(lambda: all(metric(i.port, 'tickstream_flag_percent{flag="delta-updates"}') == 25 for i in instances), 3)
    users = [f"user-{i}" for i in range(40)]
    expected = {u for u in users if in_cohort("delta-updates", u, 25)}
    assert 3 <= len(expected) <= 20  # the vector gives a real split
    for round_ in range(2):  # the second round is every user reconnecting
        for instance in instances:
            got = {u for u in users if granted(instance.port, u, delta=True).get("delta")}
            assert got == expected, (round_, instance.port)
    # Without asking, nothing changes; without a flag (rate-caps), nobody gets it.
    assert "delta" not in granted(instances[0].port, users[0])
    assert all("max_rate" not in granted(instances[0].port, u, max_rate=4) for u in users[:5])
    # Every change is logged with who set it and why.
    instances[0].stop()
    log = instances[0].output()
    assert "reason=first step" in log and "flag=delta-updates" in log and "by=" in log


def test_an_allowlisted_user_has_it_at_0_percent_and_a_kill_reaches_live_streams_within_a_second(fleet):
    nats_server, instances = fleet
    kv_put(nats_server.url, "delta-updates", {"enabled": True, "percent": 0, "allow": ["vip"], "by": "nats.py"})
    assert wait_for(lambda: all(metric(i.port, 'tickstream_flag_allowlisted{flag="delta-updates"}') == 1 for i in instances), 3)
    assert granted(instances[0].port, "vip", delta=True)["delta"] is True
    assert "delta" not in granted(instances[1].port, "someone", delta=True)
    # The vip watching live on both instances, on deltas.
    symbols = [f"SYM{i:04d}" for i in range(4)]
    watchers = [Follower(i.port, "v2", {"type": "subscribe", "symbols": symbols, "depth": 5, "delta": True}, path="/ws?client=vip")
                for i in instances]
    assert wait_for(lambda: all(sum("depth" not in m for _, m in w.updates()) > 20 for w in watchers), 10)
    killed_at = time.monotonic()
    flags_tool("kill", "delta-updates", "--bus", nats_server.url, "--reason", "bad numbers")
    # Within a second, both instances send the vip whole states only.
    def whole_since(watcher, since):
        after = [m for t, m in watcher.updates() if t > since]
        return len(after) > 10 and all("depth" in m for m in after)
    assert wait_for(lambda: all(whole_since(w, killed_at + 1.0) for w in watchers), 5)
    first_whole = min(t for w in watchers for t, m in w.updates() if t > killed_at and "depth" in m)
    assert first_whole - killed_at < 1.0
    for instance in instances:
        assert metric(instance.port, 'tickstream_flag_enabled{flag="delta-updates"}') == 0
    assert "delta" not in granted(instances[0].port, "vip", delta=True)
    for w in watchers:
        w.client.sock.close()
    for instance in instances:
        instance.stop()
        assert "flag killed: live subscriptions lost the feature" in instance.output()


def test_bad_values_in_the_bucket_are_refused_and_the_last_good_flags_stay(fleet):
    nats_server, instances = fleet
    flags_tool("set", "delta-updates", "--percent", "30", "--bus", nats_server.url)
    assert wait_for(lambda: metric(instances[0].port, 'tickstream_flag_percent{flag="delta-updates"}') == 30, 3)
    for bad in ['{"enabled":"yes"}', '{"enabled":true,"percentage":100}', "not json", '{"enabled":true,"percent":500}']:
        kv_put(nats_server.url, "delta-updates", bad)
    assert wait_for(lambda: sample(http_get(instances[0].port, "/metrics")[1], 'tickstream_flag_changes_total{result="refused"}') >= 4, 3)
    for instance in instances:
        assert metric(instance.port, 'tickstream_flag_percent{flag="delta-updates"}') == 30
        assert metric(instance.port, 'tickstream_flag_enabled{flag="delta-updates"}') == 1
    # The tool refuses to write what the gateways would refuse.
    refused = flags_tool("set", "delta-updates", "--percent", "150", "--bus", nats_server.url, check=False)
    assert refused.returncode == 2 and "--percent takes 0 to 100" in refused.stderr
    for instance in instances:
        instance.stop()
        log = instance.output()
        assert "flag value refused; the flags held before stay" in log and "percentage" in log


class Prometheus:
    """Debian's prometheus, scraping the given /metrics targets every second."""

    def __init__(self, targets):
        binary = shutil.which("prometheus")
        if binary is None:
            raise RuntimeError("prometheus is not installed (apt-get install prometheus; .ci/run does it)")
        self.dir = tempfile.mkdtemp(prefix="tickstream-prometheus-")
        self.port = free_port()
        config = os.path.join(self.dir, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: tickstream\n    static_configs:\n"
                    f"      - targets: [{', '.join(repr(t) for t in targets)}]\n")
        self.process = subprocess.Popen([binary, f"--config.file={config}", f"--storage.tsdb.path={self.dir}/data",
                                         f"--web.listen-address=127.0.0.1:{self.port}"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert wait_for(lambda: self._ready(), 20), "prometheus did not start"
        # Targets appear after its discovery's first update (up to 5 s), then get scraped.
        assert wait_for(lambda: self.query("sum(up)") == [len(targets)], 30), "prometheus did not scrape the targets"

    def query(self, expression):
        """An instant query's values."""
        from urllib.parse import quote
        status, body = http_get(self.port, "/api/v1/query?query=" + quote(expression))
        assert status == 200, body
        return [float(item["value"][1]) for item in json.loads(body)["data"]["result"]]

    def _ready(self):
        try:
            return http_get(self.port, "/-/ready")[0] == 200
        except OSError:
            return False

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def stop(self):
        terminate(self.process, 10)
        shutil.rmtree(self.dir, ignore_errors=True)


def clients_of(instances, users, asked, buggy):
    """Each user subscribed on one of the instances; with `buggy`, those whose reply granted
    the feature then send broken commands (a client release with the feature that misbehaves:
    the server's error replies are what the cohort's figures show)."""
    sockets = []
    for index, user in enumerate(users):
        port = instances[index % len(instances)].port
        raw = RawClient(port, path=f"/ws?client={user}", extra="Sec-WebSocket-Protocol: v2\r\n")
        raw.send(frame(0x1, json.dumps({"type": "subscribe", "symbols": ["SYM0000", "SYM0001"], **asked}).encode()))
        while True:
            opcode, payload = raw.read_frame()
            reply = json.loads(payload)
            if reply.get("type") == "subscribed":
                break
        got = any(reply.get(k) for k in asked)
        if buggy and got:
            for _ in range(3):
                raw.send(frame(0x1, b'{"type":"subscribe","symbols":'))
        sockets.append(raw)
    return sockets


def test_the_monitor_kills_a_failing_cohort_and_leaves_a_healthy_flag_on(fleet):
    nats_server, instances = fleet
    prometheus = Prometheus([f"127.0.0.1:{i.port}" for i in instances])
    try:
        flags_tool("set", "delta-updates", "--percent", "50", "--bus", nats_server.url)
        flags_tool("set", "rate-caps", "--percent", "50", "--bus", nats_server.url)
        assert wait_for(lambda: all(metric(i.port, 'tickstream_flag_percent{flag="rate-caps"}') == 50 for i in instances), 3)
        bad = clients_of(instances, [f"d-{i}" for i in range(60)], {"delta": True}, buggy=True)
        good = clients_of(instances, [f"c-{i}" for i in range(60)], {"max_rate": 10}, buggy=False)
        # Prometheus has scraped both since the clients came (increase() needs two scrapes).
        assert wait_for(lambda: (prometheus.query('sum(increase(tickstream_cohort_sessions_started_total{flag="delta-updates",cohort="on"}[10s]))') or [0])[0] >= 20, 20)
        judge = ["--bus", nats_server.url, "--prometheus", prometheus.url, "--window", "10", "--interval", "1",
                 "--watch-min-sessions", "10", "--watch-min-sample", "100"]
        healthy = flags_tool("monitor", "rate-caps", *judge, "--once")
        assert "healthy" in healthy.stdout and "KILLED" not in healthy.stdout, healthy.stdout
        assert kv_get(nats_server.url, "rate-caps")["enabled"] is True
        started = time.monotonic()
        result = subprocess.run([BINARY, "flags", "monitor", "delta-updates", *judge], capture_output=True, text=True, timeout=60)
        assert result.returncode == 3, result.stdout + result.stderr
        assert "KILLED delta-updates: failures" in result.stdout and time.monotonic() - started < 30
        stored = kv_get(nats_server.url, "delta-updates")
        assert stored["enabled"] is False and stored["reason"].startswith("flags monitor: failures: failed sessions")
        assert wait_for(lambda: all(metric(i.port, 'tickstream_flag_enabled{flag="delta-updates"}') == 0 for i in instances), 2)
        assert kv_get(nats_server.url, "rate-caps")["enabled"] is True
        for s in bad + good:
            s.close()
    finally:
        prometheus.stop()


def test_without_prometheus_the_monitor_reads_the_instances_metrics(fleet):
    nats_server, instances = fleet
    flags_tool("set", "delta-updates", "--percent", "50", "--bus", nats_server.url)
    assert wait_for(lambda: all(metric(i.port, 'tickstream_flag_percent{flag="delta-updates"}') == 50 for i in instances), 3)
    bad = clients_of(instances, [f"d-{i}" for i in range(60)], {"delta": True}, buggy=True)
    urls = ",".join(f"http://127.0.0.1:{i.port}/metrics" for i in instances)
    result = flags_tool("monitor", "delta-updates", "--bus", nats_server.url, "--metrics", urls, "--once",
                        "--watch-min-sessions", "10", check=False)
    assert result.returncode == 3 and "KILLED delta-updates: failures" in result.stdout, result.stdout + result.stderr
    assert kv_get(nats_server.url, "delta-updates")["enabled"] is False
    for s in bad:
        s.close()


def test_a_flags_file_is_read_at_start_on_sighup_and_on_reload_and_a_bad_one_is_refused(tmp_path, gateway_factory):
    path = tmp_path / "flags.json"
    path.write_text(json.dumps({"delta-updates": {"enabled": True, "allow": ["alice"]}}))
    gw = gateway_factory("--sim-rate", "100", "--sim-symbols", "SYM0000", "--flags-file", str(path), "--admin-token", "t")
    assert granted(gw.port, "alice", delta=True)["delta"] is True and "delta" not in granted(gw.port, "bob", delta=True)
    flags_tool("set", "delta-updates", "--allow", "alice,bob", "--flags-file", str(path))
    gw.process.send_signal(signal.SIGHUP)
    assert wait_for(lambda: granted(gw.port, "bob", delta=True).get("delta") is True, 3)
    path.write_text("{broken")
    status, _, body = http(gw.port, b"POST /admin/reload-flags HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\nContent-Length: 0\r\n\r\n")
    assert status == 422 and b"refused" in body
    assert granted(gw.port, "bob", delta=True).get("delta") is True  # the last good flags stay
    # At start, a bad file stops the start (exit 2) with the reason.
    result = subprocess.run([BINARY, "--port", "0", "--flags-file", str(path)], capture_output=True, text=True, timeout=10)
    assert result.returncode == 2 and "--flags-file" in result.stderr and "invalid JSON" in result.stderr
