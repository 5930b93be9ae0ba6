"""A fleet fed through NATS: real nats-server (JetStream), several real gateways, independent
clients (Python websockets, nats-py). One sequence space, snapshots on any instance, and the
bus's faults: nats-server killed and restarted, down at start, slow, and fed garbage."""
import asyncio
import json
import os
import signal
import socket
import time

import nats
import pytest
import websockets

from conftest import Gateway, bus_connected, NatsServer, free_port, http_get as get, wait_for

TOKEN = "fleet-publisher-token"


def run(coro, timeout=60):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def metrics(port):
    """Every sample of /metrics as {'name{labels}': value}."""
    _, text = get(port, "/metrics")
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def bus_gateway(factory, nats_url, *flags):
    return factory("--bus", nats_url, "--bus-linger", "0.3", *flags)


def update(symbol, i, book=True):
    """A valid update (prices rounded: the feed refuses more than 8 decimal places)."""
    def price(x):
        return round(x, 2)
    message = {"symbol": symbol, "last": price(100 + i / 100), "bid": price(99.99 + i / 100), "ask": price(100.01 + i / 100),
               "ts": int(time.time() * 1e6)}
    if book:
        message["book"] = [[price(99.99 + i / 100), 10 + i, price(100.01 + i / 100), 20 + i], [99.98, 5, 100.02, 6]]
    return message


async def publish(gw, updates, pause=0.0):
    """Sends updates through /feed on `gw`, one message each."""
    async with websockets.connect(f"{gw.url}/feed", subprotocols=["feed.v1"],
                                  additional_headers={"Authorization": f"Bearer {TOKEN}"}) as ws:
        for u in updates:
            await ws.send(json.dumps(u))
            if pause:
                await asyncio.sleep(pause)
        await asyncio.sleep(0.1)


class Reader:
    """A v2 client that keeps every data message (raw text) of its symbols."""

    def __init__(self, url, symbols):
        self.url, self.symbols = url, symbols
        self.raw = []
        self.ws = None
        self.subscribed = asyncio.Event()

    @property
    def messages(self):
        return [json.loads(r) for r in self.raw]

    async def run(self):
        async with websockets.connect(f"{self.url}/ws", subprotocols=["v2"], max_queue=None) as ws:
            self.ws = ws
            await ws.send(json.dumps({"type": "subscribe", "symbols": self.symbols}))
            async for raw in ws:
                message = json.loads(raw)
                if message.get("type") == "subscribed":
                    self.subscribed.set()
                elif "seq" in message:
                    self.raw.append(raw)

    async def wait_for(self, predicate, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self):
                return True
            await asyncio.sleep(0.02)
        return False


def seqs(messages, symbol):
    return [m["seq"] for m in messages if m["symbol"] == symbol]


def test_feed_into_one_instance_reaches_every_instance_with_the_same_seq(gateway_factory, nats_server):
    a = bus_gateway(gateway_factory, nats_server.url, "--publisher-token", TOKEN)
    b = bus_gateway(gateway_factory, nats_server.url)
    c = bus_gateway(gateway_factory, nats_server.url)

    async def scenario():
        readers = [Reader(gw.url, ["FLT1", "FLT2"]) for gw in (a, b, c)]
        tasks = [asyncio.create_task(r.run()) for r in readers]
        for r in readers:
            await asyncio.wait_for(r.subscribed.wait(), 5)
        await asyncio.sleep(0.3)  # each instance's SUB reached the server
        await publish(a, [update("FLT1", i) for i in range(40)] + [update("FLT2", i, book=False) for i in range(10)])
        for r in readers:
            assert await r.wait_for(lambda r: len(r.raw) >= 50), f"{r.url} got {len(r.raw)}"
        for t in tasks:
            t.cancel()
        return readers

    readers = run(scenario())
    # The same update has the same seq and the same bytes on every pod (A included: it got its
    # own publisher's updates back through the bus).
    assert readers[0].raw == readers[1].raw == readers[2].raw
    assert seqs(readers[0].messages, "FLT1") == list(range(1, 41))
    assert seqs(readers[0].messages, "FLT2") == list(range(1, 11))
    last = readers[1].messages[-1]
    # A bus message is the whole state: FLT2's updates came without a book and kept none.
    assert last["symbol"] == "FLT2" and last["depth"] == []
    flt1 = [m for m in readers[2].messages if m["symbol"] == "FLT1"][-1]
    assert flt1["depth"][0] == [100.38, 49, 100.4, 59]
    assert metrics(a.port)['tickstream_bus_published_total'] == 50
    assert metrics(b.port)['tickstream_feed_updates_total{source="bus"}'] == 50


def test_a_fresh_instance_answers_subscribe_with_the_current_snapshot(gateway_factory, nats_server):
    a = bus_gateway(gateway_factory, nats_server.url, "--publisher-token", TOKEN)
    run(publish(a, [update("SNAP", i) for i in range(25)]))
    time.sleep(0.2)
    fresh = bus_gateway(gateway_factory, nats_server.url)  # started after every update
    # It lists what the fleet serves before any client of its own asked for it.
    assert wait_for(lambda: '"SNAP"' in get(fresh.port, "/symbols")[1], 5)

    async def first_message():
        async with websockets.connect(f"{fresh.url}/ws", subprotocols=["v2"]) as ws:
            await ws.send(json.dumps({"type": "subscribe", "symbols": ["SNAP"], "depth": 5}))
            while True:
                message = json.loads(await asyncio.wait_for(ws.recv(), 5))
                if "seq" in message:
                    return message

    snapshot = run(first_message())
    assert snapshot["seq"] == 25
    assert snapshot["last"] == 100.24
    assert snapshot["depth"][0] == [100.23, 34, 100.25, 44]
    assert metrics(fresh.port)['tickstream_bus_snapshots_total{result="fetched"}'] == 1


def test_a_writer_continues_from_the_streams_last_seq_on_restart_and_on_another_instance(gateway_factory, nats_server):
    a = bus_gateway(gateway_factory, nats_server.url, "--publisher-token", TOKEN)
    run(publish(a, [update("CONT", i) for i in range(7)]))
    a.stop()
    again = bus_gateway(gateway_factory, nats_server.url, "--publisher-token", TOKEN)
    other = bus_gateway(gateway_factory, nats_server.url, "--publisher-token", TOKEN)

    async def scenario():
        reader = Reader(other.url, ["CONT"])
        task = asyncio.create_task(reader.run())
        await asyncio.wait_for(reader.subscribed.wait(), 5)
        assert await reader.wait_for(lambda r: len(r.raw) >= 1)  # the snapshot, seq 7
        await publish(again, [update("CONT", 100 + i) for i in range(3)])   # the restarted writer
        await publish(other, [update("CONT", 200 + i) for i in range(2)])   # the publisher moved
        assert await reader.wait_for(lambda r: len(r.raw) >= 6)
        task.cancel()
        return reader

    reader = run(scenario())
    assert seqs(reader.messages, "CONT") == [7, 8, 9, 10, 11, 12]


def test_interest_subscriptions_follow_clients_and_linger(gateway_factory, nats_server):
    gw = bus_gateway(gateway_factory, nats_server.url)
    assert metrics(gw.port)["tickstream_bus_subscriptions"] == 0

    async def scenario():
        async with websockets.connect(f"{gw.url}/ws", subprotocols=["v2"]) as ws:
            await ws.send(json.dumps({"type": "subscribe", "symbols": ["INT1", "INT2"]}))
            await asyncio.sleep(0.2)
            assert metrics(gw.port)["tickstream_bus_subscriptions"] == 2
            await ws.send(json.dumps({"type": "unsubscribe", "symbols": ["INT1"]}))
            await ws.send(json.dumps({"type": "subscribe", "symbols": ["INT1"]}))  # churn within the linger
            await asyncio.sleep(0.5)
            assert metrics(gw.port)["tickstream_bus_subscriptions"] == 2

    run(scenario())
    # The client left: after the linger (0.3 s) nothing is followed.
    assert wait_for(lambda: metrics(gw.port)["tickstream_bus_subscriptions"] == 0, 3)


def test_nats_killed_mid_stream_and_restarted(gateway_factory, nats_server):
    publisher = bus_gateway(gateway_factory, nats_server.url, "--sim-target", "bus", "--sim-rate", "600")
    gw = bus_gateway(gateway_factory, nats_server.url)
    symbols = ["AAPL", "MSFT", "NVDA"]

    async def scenario():
        reader = Reader(gw.url, symbols)
        task = asyncio.create_task(reader.run())
        await asyncio.wait_for(reader.subscribed.wait(), 5)
        assert await reader.wait_for(lambda r: len(r.raw) >= 30)
        before = metrics(gw.port)
        nats_server.kill()
        assert await asyncio.to_thread(wait_for, lambda: get(gw.port, "/health/ready")[0] == 503, 5)
        status, body = get(gw.port, "/health/ready")
        assert '"bus":{"ok":false' in body
        assert get(gw.port, "/health/live")[0] == 200
        count_while_down = len(reader.raw)
        await asyncio.sleep(1.0)
        assert not reader.ws.closed if hasattr(reader.ws, "closed") else reader.ws.state.name == "OPEN"
        nats_server.start()
        assert await asyncio.to_thread(wait_for, lambda: get(gw.port, "/health/ready")[0] == 200, 15)
        assert await reader.wait_for(lambda r: len(r.raw) >= count_while_down + 30, 15)
        task.cancel()
        return reader, before, count_while_down

    reader, before, count_while_down = run(scenario())
    after = metrics(gw.port)
    assert after["tickstream_bus_reconnects_total"] >= 1
    assert metrics(publisher.port)["tickstream_bus_reconnects_total"] >= 1
    # The client stayed connected throughout and its seq only went forward: every jump it saw
    # is a loss the gateway counted (in flight when the server died), never a silent one.
    seen_gaps = 0
    for symbol in symbols:
        numbers = seqs(reader.messages, symbol)
        assert numbers == sorted(set(numbers)), f"{symbol} went backwards or repeated"
        seen_gaps += sum(b - a - 1 for a, b in zip(numbers, numbers[1:]))
    counted = after["tickstream_bus_missed_updates_total"] - before["tickstream_bus_missed_updates_total"]
    assert seen_gaps == counted
    # After the reconnect the followed symbols were fetched again.
    fetched = 'tickstream_bus_snapshots_total{result="fetched"}'
    assert after[fetched] + after['tickstream_bus_snapshots_total{result="absent"}'] >= before[fetched] + len(symbols)


def test_gateway_started_before_nats_serves_once_it_comes(gateway_factory):
    port = free_port()
    gw = bus_gateway(gateway_factory, f"nats://127.0.0.1:{port}", "--publisher-token", TOKEN)
    status, body = get(gw.port, "/health/ready")
    assert status == 503 and '"bus":{"ok":false,"detail":"not connected' in body
    server = NatsServer(port=port)
    try:
        assert wait_for(lambda: get(gw.port, "/health/ready")[0] == 200, 15)

        async def scenario():
            reader = Reader(gw.url, ["LATE"])
            task = asyncio.create_task(reader.run())
            await asyncio.wait_for(reader.subscribed.wait(), 5)
            await asyncio.sleep(0.2)
            await publish(gw, [update("LATE", i) for i in range(3)])
            assert await reader.wait_for(lambda r: len(r.raw) >= 3)
            task.cancel()
            return reader

        assert seqs(run(scenario()).messages, "LATE") == [1, 2, 3]
        assert metrics(gw.port)["tickstream_bus_connect_failures_total"] >= 1
    finally:
        gw.stop()
        server.stop()


def test_malformed_bus_messages_are_counted_and_dropped(gateway_factory, nats_server):
    gw = bus_gateway(gateway_factory, nats_server.url, "--bus-follow", "all", "--max-symbols", "3")

    async def scenario():
        reader = Reader(gw.url, ["GOOD"])
        task = asyncio.create_task(reader.run())
        await asyncio.wait_for(reader.subscribed.wait(), 5)
        nc = await nats.connect(nats_server.url)
        good = {"symbol": "GOOD", "last": 1.5, "bid": 1.4, "ask": 1.6, "book": [], "seq": 1, "ts": 1}
        bad = [
            ("md.GOOD", b"{not json"),
            ("md.GOOD", b'[{"symbol":"GOOD","last":1,"bid":1,"ask":1,"seq":9}]'),   # a batch
            ("md.GOOD", b'{"symbol":"GOOD","last":1,"bid":1,"ask":1}'),             # no seq
            ("md.GOOD", b'{"symbol":"OTHER","last":1,"bid":1,"ask":1,"seq":9}'),    # not the subject's
            ("md.GOOD", b'{"symbol":"GOOD","last":-1,"bid":1,"ask":1,"seq":9}'),    # negative price
            ("md.bad-symbol", b'{"symbol":"bad-symbol","last":1,"bid":1,"ask":1,"seq":1}'),
            ("md.GOOD", b"\x00\xff" * 100),
        ]
        for subject, payload in bad:
            await nc.publish(subject, payload)
        for name in ["NEW1", "NEW2", "NEW3", "NEW4"]:  # past --max-symbols 3 (GOOD is one)
            await nc.publish(f"md.{name}", json.dumps({**good, "symbol": name}).encode())
        await nc.publish("md.GOOD", json.dumps(good).encode())
        await nc.publish("md.GOOD", json.dumps(good).encode())  # the same seq again: stale
        await nc.flush()
        assert await reader.wait_for(lambda r: len(r.raw) >= 1)
        await asyncio.sleep(0.3)
        await nc.close()
        task.cancel()
        return reader

    reader = run(scenario())
    assert [m["seq"] for m in reader.messages] == [1]  # only the valid message reached the client
    m = metrics(gw.port)
    assert m['tickstream_bus_messages_dropped_total{reason="malformed"}'] == 7
    assert m['tickstream_bus_messages_dropped_total{reason="symbol_limit"}'] == 2
    assert m['tickstream_bus_messages_dropped_total{reason="stale"}'] == 1
    assert get(gw.port, "/health/live")[0] == 200


def test_two_processes_on_one_port_deliver_the_same_stream(gateway_factory, nats_server):
    port = free_port()
    admin = [free_port(), free_port()]
    flags = ["--reuse-port", "--bus", nats_server.url]
    publisher = bus_gateway(gateway_factory, nats_server.url, "--sim-target", "bus", "--sim-rate", "300")
    procs = [Gateway(*flags, "--admin-port", str(a), port=port) for a in admin]
    # The port answering says one of them listens; each one's admin port says it does too
    # (the admin listener is bound after the public one).
    assert all(wait_for(lambda: get(a, "/health/live")[0] == 200, 5) for a in admin)
    try:
        async def scenario():
            readers = [Reader(f"ws://127.0.0.1:{port}", ["AAPL", "MSFT"]) for _ in range(24)]
            tasks = [asyncio.create_task(r.run()) for r in readers]
            for r in readers:
                await asyncio.wait_for(r.subscribed.wait(), 5)
            for r in readers:
                assert await r.wait_for(lambda r: len(r.raw) >= 20)
            served = [metrics(a)['tickstream_connections{protocol="v2"}'] for a in admin]
            for t in tasks:
                t.cancel()
            return readers, served

        readers, served = run(scenario())
        # The kernel spread the clients over both processes, and both delivered the same stream.
        assert all(n > 0 for n in served), served
        by_seq = {}
        for r in readers:
            for raw, m in zip(r.raw, r.messages):
                assert by_seq.setdefault((m["symbol"], m["seq"]), raw) == raw
        for r in readers:
            for symbol in ["AAPL", "MSFT"]:
                numbers = seqs(r.messages, symbol)
                assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    finally:
        for p in procs:
            p.stop()
        publisher.stop()


def test_clients_drained_from_one_instance_continue_their_seq_on_another(gateway_factory, nats_server):
    bus_gateway(gateway_factory, nats_server.url, "--sim-target", "bus", "--sim-rate", "300", "--sim-symbols", "DR1,DR2,DR3")
    a = bus_gateway(gateway_factory, nats_server.url, "--drain-grace", "0", "--drain-duration", "1")
    b = bus_gateway(gateway_factory, nats_server.url)
    symbols = ["DR1", "DR2", "DR3"]

    async def client():
        seen = {}
        moved = False
        jumps = []
        url = a.url
        for _ in range(2):
            async with websockets.connect(f"{url}/ws", subprotocols=["v2"]) as ws:
                await ws.send(json.dumps({"type": "subscribe", "symbols": symbols}))
                try:
                    async for raw in ws:
                        m = json.loads(raw)
                        if m.get("type") == "reconnect":
                            moved = True
                            continue
                        if "seq" not in m:
                            continue
                        previous = seen.get(m["symbol"])
                        if previous is not None:
                            jumps.append((url, m["symbol"], previous, m["seq"]))
                        seen[m["symbol"]] = m["seq"]
                        if url == b.url and len(jumps) > 60:
                            return moved, jumps
                except websockets.ConnectionClosed:
                    pass
            url = b.url
        return moved, jumps

    async def scenario():
        tasks = [asyncio.create_task(client()) for _ in range(6)]
        await asyncio.sleep(1.0)
        a.process.send_signal(signal.SIGTERM)
        return await asyncio.gather(*tasks)

    for moved, jumps in run(scenario()):
        assert moved
        # Across the move the sequence continues: never backwards; the first update on B may
        # skip what passed during the reconnect (conflation into the snapshot), after which
        # every step is +1 again.
        for url, symbol, previous, seq in jumps:
            assert seq >= previous, (url, symbol, previous, seq)
        on_b = [(s, p, q) for url, s, p, q in jumps if url == b.url]
        first_on_b = {}
        for symbol, previous, seq in on_b:
            if symbol in first_on_b:
                assert seq == previous + 1, (symbol, previous, seq)
            first_on_b.setdefault(symbol, seq)


def test_a_stalled_bus_bounds_memory_and_conflates_per_symbol(gateway_factory, nats_server):
    a = bus_gateway(gateway_factory, nats_server.url, "--publisher-token", TOKEN)
    b = bus_gateway(gateway_factory, nats_server.url)

    async def scenario():
        reader = Reader(b.url, ["STALL0", "STALL1"])
        task = asyncio.create_task(reader.run())
        await asyncio.wait_for(reader.subscribed.wait(), 5)
        await asyncio.sleep(0.2)
        os.kill(nats_server.process.pid, signal.SIGSTOP)  # the bus stops reading
        try:
            batch = [[update(f"STALL{s}", i) for s in range(50)] for i in range(40)]
            async with websockets.connect(f"{a.url}/feed", subprotocols=["feed.v1"],
                                          additional_headers={"Authorization": f"Bearer {TOKEN}"}) as ws:
                for round_ in range(30):
                    for updates in batch:
                        await ws.send(json.dumps(updates))
                await asyncio.sleep(0.5)
            rss = rss_kib(a.process.pid)
            m = metrics(a.port)
        finally:
            os.kill(nats_server.process.pid, signal.SIGCONT)
        assert await reader.wait_for(lambda r: any(x["last"] == 100.39 for x in r.messages if x["symbol"] == "STALL1"), 15)
        task.cancel()
        return rss, m, reader

    rss, m, reader = run(scenario())
    # 60,000 updates of 3 KB met a bus that took none: the writer's output stopped at its bound
    # and the rest folded into the newest state per symbol.
    assert m["tickstream_bus_publish_conflated_total"] > 10_000
    assert rss < 120 * 1024, f"RSS {rss} KiB"
    # The client's sequence stayed continuous: conflation happens before numbering.
    numbers = seqs(reader.messages, "STALL1")
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


@pytest.mark.parametrize("flags, message", [
    (["--sim-target", "bus"], "--sim-target bus needs --bus"),
    (["--bus", "http://x:1"], "--bus: http://x:1: the scheme must be nats://"),
    (["--bus", "nats://u:secret@h:0"], "--bus: nats://***@h:0: the port must be 1...65535"),
    (["--bus", "nats://127.0.0.1:4222", "--sim-rate", "100"], "publish simulated data into it with --sim-target bus"),
    (["--bus", "nats://127.0.0.1:4222", "--bus-prefix", "md.>"], "--bus-prefix must be a NATS subject without wildcards"),
    (["--bus-token", "t"], "--bus-token needs --bus"),
])
def test_bus_misconfiguration_exits_2_naming_the_flag(flags, message):
    from conftest import BINARY
    import subprocess
    result = subprocess.run([BINARY, "--port", "0", *flags], capture_output=True, text=True, timeout=10)
    assert result.returncode == 2
    assert message in result.stderr
    assert "secret" not in result.stderr


def test_the_documented_direct_publisher_feeds_the_fleet(gateway_factory, nats_server):
    """protocols/examples/publish_to_bus.py, run as the document says, reaches clients and
    continues its sequence when run again."""
    import subprocess
    import sys
    from conftest import ROOT
    gw = bus_gateway(gateway_factory, nats_server.url)
    example = os.path.join(ROOT, "protocols", "examples", "publish_to_bus.py")

    async def scenario():
        reader = Reader(gw.url, ["EXMPL"])
        task = asyncio.create_task(reader.run())
        await asyncio.wait_for(reader.subscribed.wait(), 5)
        assert await asyncio.to_thread(wait_for, lambda: metrics(gw.port)["tickstream_bus_subscriptions"] == 1, 5)
        await asyncio.sleep(0.2)  # the stream exists (the gateway made it at connect)
        for count in (3, 2):
            done = await asyncio.to_thread(subprocess.run, [sys.executable, example, nats_server.url, "EXMPL", str(count)],
                                           capture_output=True, text=True, timeout=30)
            assert done.returncode == 0, done.stderr
        assert await reader.wait_for(lambda r: len(r.raw) >= 5)
        task.cancel()
        return reader

    reader = run(scenario())
    assert seqs(reader.messages, "EXMPL") == [1, 2, 3, 4, 5]
    assert reader.messages[-1]["depth"] == [[100.04, 300, 100.06, 200]]


def test_every_instance_on_one_stream_shares_its_epoch_and_a_recreated_stream_changes_it(gateway_factory, nats_server):
    """On a bus the stream is the sequence space: two instances name the same epoch, a restart
    keeps it, and a stream deleted and made again (seq restarts) is a new epoch."""

    async def epoch_of(gw):
        async with websockets.connect(f"{gw.url}/ws", subprotocols=["v2"]) as ws:
            await ws.send(json.dumps({"type": "subscribe", "symbols": ["EPO"], "epoch": True}))
            while True:
                message = json.loads(await asyncio.wait_for(ws.recv(), 5))
                if message.get("type") == "subscribed":
                    return message["epoch"]

    a = bus_gateway(gateway_factory, nats_server.url)
    b = bus_gateway(gateway_factory, nats_server.url)
    assert wait_for(lambda: get(a.port, "/health/ready")[0] == 200 and get(b.port, "/health/ready")[0] == 200, 10)
    first = run(epoch_of(a))
    assert run(epoch_of(b)) == first
    a.stop()
    again = bus_gateway(gateway_factory, nats_server.url)
    assert wait_for(lambda: get(again.port, "/health/ready")[0] == 200, 10)
    assert run(epoch_of(again)) == first, "a restart on the same stream keeps the epoch"

    async def recreate():
        nc = await nats.connect(nats_server.url)
        await nc.jetstream().delete_stream("MD")
        await nc.close()
    run(recreate())
    fresh = bus_gateway(gateway_factory, nats_server.url)
    assert wait_for(lambda: get(fresh.port, "/health/ready")[0] == 200, 10)
    assert run(epoch_of(fresh)) != first


def test_one_url_of_a_cluster_is_enough(gateway_factory):
    """Two nats-servers with routes between them: the gateway is given the first one only,
    learns the second from the cluster's INFO (connect_urls), and moves to it when the first is
    killed, its clients keeping their connection and their updates."""
    from natscluster import NatsCluster
    from test_handover import Follower
    cluster = NatsCluster(2, jetstream=False)
    try:
        # The writer on n2, the serving instance given n1 alone.
        gateway_factory("--bus", cluster.url("n2"), "--sim-target", "bus", "--sim-rate", "200", "--sim-symbols", "2")
        gw = gateway_factory("--bus", cluster.url("n1"), "--bus-follow", "all")
        assert wait_for(lambda: bus_connected(gw.port), 10)
        follower = Follower(gw.port, "v2", {"type": "subscribe", "symbols": ["SYM0000", "SYM0001"]})
        assert wait_for(lambda: len(follower.updates()) > 20, 10)
        cluster.kill("n1")
        killed_at = time.monotonic()
        assert wait_for(lambda: len([t for t, _ in follower.updates() if t > killed_at + 1]) > 20, 15)
        assert follower.closed is None
        assert bus_connected(gw.port)
        gw.stop()
        log = gw.output()
        assert "bus cluster announced servers" in log and f"127.0.0.1:{cluster.ports['n2'][0]}" in log
    finally:
        cluster.stop()
