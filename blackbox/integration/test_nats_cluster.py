"""The fleet on a real three-server NATS cluster (routes, JetStream, an R3 stream), the way
production runs it: a rolling restart through lame duck mode loses no update, a server killed
under a writer shows its loss as counted gaps (never silent), and a fresh instance still gets
its snapshot afterwards."""
import asyncio
import time

import nats
import pytest

from conftest import bus_connected, http_get as get, wait_for
from natscluster import NatsCluster
from test_fleet import metrics
from test_handover import Follower

def symbols(universe, watched=20):
    return [f"SYM{i:04d}" for i in range(0, universe, universe // watched)]


@pytest.fixture
def cluster():
    c = NatsCluster(3)
    yield c
    c.stop()


def start_fleet(gateway_factory, cluster, rate, universe):
    """A writer (the simulator into the bus) on n1 and two serving instances on n2 and n3, each
    given one URL of the cluster; a client on each serving instance watching 20 symbols."""
    common = ("--bus-linger", "0.3", "--bus-stream-replicas", "3")
    writer = gateway_factory("--bus", cluster.url("n1"), *common, "--sim-target", "bus", "--sim-rate", str(rate),
                             "--sim-symbols", str(universe))
    readers = [gateway_factory("--bus", cluster.url(name), *common, "--bus-follow", "all") for name in ("n2", "n3")]
    for gw in [writer, *readers]:
        assert wait_for(lambda: bus_connected(gw.port), 15), "an instance did not join the bus"
    followers = [Follower(gw.port, "v2", {"type": "subscribe", "symbols": symbols(universe)}) for gw in readers]
    for follower in followers:
        assert wait_for(lambda: len(follower.updates()) > 100, 15), "updates did not flow"
    return writer, readers, followers


def gaps(follower):
    """(missed updates, times seq went back) over every symbol a client received."""
    last = {}
    missed = back = 0
    for _, message in follower.updates():
        symbol, seq = message["symbol"], message["seq"]
        if symbol in last:
            if seq <= last[symbol]:
                back += 1
            else:
                missed += seq - last[symbol] - 1
        last[symbol] = seq
    return missed, back


def stream_replicas(url):
    async def info():
        nc = await nats.connect(url)
        try:
            return (await nc.jetstream().stream_info("MD")).config.num_replicas
        finally:
            await nc.close()
    return asyncio.run(asyncio.wait_for(info(), 10))


def test_a_rolling_restart_through_lame_duck_loses_no_update(gateway_factory, cluster):
    # W1's feed: the simulator at 10,000 updates/s over 500 symbols; the clients watch 20 of
    # them, the instances' counters cover all of them.
    writer, readers, followers = start_fleet(gateway_factory, cluster, rate=10_000, universe=500)
    assert stream_replicas(cluster.url("n1")) == 3
    for name in cluster.names:
        cluster.lame_duck(name)
        cluster.start(name)
        # The restarted server catches its JetStream replica up before the next one goes.
        time.sleep(3)
    received = [len(f.updates()) for f in followers]
    time.sleep(1)
    assert all(len(f.updates()) > r for f, r in zip(followers, received)), "updates stopped after the rolling restart"
    for follower in followers:
        assert follower.closed is None
        assert gaps(follower) == (0, 0)
    for gw in [writer, *readers]:
        values = metrics(gw.port)
        assert values["tickstream_bus_missed_updates_total"] == 0
        assert values["tickstream_bus_lame_duck_moves_total"] >= 1, "every instance had its server restarted under it"
        assert values["tickstream_bus_reconnects_total"] == 0, "a move is made before break, never a reconnect"
    for gw in [writer, *readers]:
        gw.stop()
    log = writer.output()
    assert "bus server entering lame duck mode" in log and "bus moved off a server in lame duck mode" in log


def test_a_server_killed_under_the_writer_is_counted_then_a_fresh_instance_gets_its_snapshot(gateway_factory, cluster):
    # Clients watch every symbol, so what they see as jumps is what the instances count.
    writer, readers, followers = start_fleet(gateway_factory, cluster, rate=2000, universe=20)
    cluster.kill("n1")
    killed_at = time.monotonic()
    assert all(wait_for(lambda: len([t for t, _ in f.updates() if t > killed_at + 1]) > 100, 20) for f in followers), \
        "updates did not resume after the writer's server died"
    cluster.start("n1")
    time.sleep(2)
    assert metrics(writer.port)["tickstream_bus_reconnects_total"] >= 1, "the writer reconnected to another server"
    for gw, follower in zip(readers, followers):
        assert follower.closed is None
        missed, back = gaps(follower)
        assert back == 0
        # What the client saw as jumps is what the instance counted: never a silent loss.
        assert metrics(gw.port)["tickstream_bus_missed_updates_total"] == missed
    fresh = gateway_factory("--bus", cluster.url("n1"), "--bus-linger", "0.3")
    assert wait_for(lambda: bus_connected(fresh.port), 15)
    newest = max(m["seq"] for _, m in followers[0].updates() if m["symbol"] == "SYM0000")
    first = Follower(fresh.port, "v2", {"type": "subscribe", "symbols": ["SYM0000"]})
    assert wait_for(lambda: first.updates(), 10)
    assert first.updates()[0][1]["seq"] >= newest, "the snapshot is the stream's newest state"
    # Right after the restart the cluster may still be electing its JetStream leaders: the
    # instance checks the stream again until it answers, then fetches.
    assert wait_for(lambda: metrics(fresh.port)['tickstream_bus_snapshots_total{result="fetched"}'] >= 1, 15), \
        {k: v for k, v in metrics(fresh.port).items() if "snapshot" in k}
