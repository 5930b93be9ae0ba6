"""What a v2 subscription may ask for beyond symbols and depth: deltas, a rate cap, and (with
either, or the epoch) the symbols nobody publishes. Checked against an independent reading of
the delta format (deltas.py), the plain stream of the same gateway, and the JSON Schemas."""
import asyncio
import json
import time

import pytest
import websockets

from conftest import http_get, wait_for
from deltas import DeltaBook
from rawws import sample
from schemas import validate
from test_handover import Follower


def run(coro):
    return asyncio.run(coro)


@pytest.fixture
def fast(gateway_factory, features_on):
    return gateway_factory("--sim-rate", "2000", "--sim-symbols", "AAPL,MSFT", *features_on)


async def collect(ws, seconds):
    """Every message for `seconds`, parsed, with the bytes of each."""
    got = []
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        try:
            text = await asyncio.wait_for(ws.recv(), left)
        except asyncio.TimeoutError:
            break
        got.append((json.loads(text), len(text)))
    return got


@pytest.mark.parametrize("depth,compression", [(1, None), (10, None), (50, None), (10, "deflate")])
def test_deltas_rebuild_exactly_the_whole_states_of_the_plain_stream(fast, depth, compression):
    async def go():
        async with websockets.connect(fast.url + "/ws", subprotocols=["v2"], compression=None) as plain, \
                   websockets.connect(fast.url + "/ws", subprotocols=["v2"], compression=compression) as delta:
            await plain.send(json.dumps({"type": "subscribe", "symbols": ["AAPL", "MSFT"], "depth": depth}))
            await delta.send(json.dumps({"type": "subscribe", "symbols": ["AAPL", "MSFT"], "depth": depth, "delta": True}))
            plain_got, delta_got = await asyncio.gather(collect(plain, 1.5), collect(delta, 1.5))
        ack = delta_got[0][0]
        validate("v2-server", ack)
        assert ack == {"type": "subscribed", "symbols": ["AAPL", "MSFT"], "depth": depth, "delta": True, "unknown": []}
        whole = {(m["symbol"], m["seq"]): m for m, _ in plain_got if "seq" in m}
        book, compared = DeltaBook(), 0
        for message, _ in delta_got[1:]:
            validate("v2-server", message)
            state = book.apply(message)
            if (state["symbol"], state["seq"]) in whole:
                assert state == whole[(state["symbol"], state["seq"])]
                compared += 1
        # The first of each symbol is its snapshot, whole; every update after is a delta.
        assert book.wholes == 2 and book.deltas > 1000, (book.wholes, book.deltas)
        assert compared > 1000
        if depth >= 10:
            plain_bytes = sum(n for m, n in plain_got if "seq" in m) / sum(1 for m, _ in plain_got if "seq" in m)
            delta_bytes = sum(n for m, n in delta_got[3:]) / len(delta_got[3:])
            assert delta_bytes * 3 < plain_bytes, (delta_bytes, plain_bytes)
    run(go())


def test_a_slow_delta_subscriber_gets_whole_states_after_conflation(gateway_factory, features_on):
    gw = gateway_factory("--sim-rate", "10000", "--sim-symbols", "20", "--max-queue-bytes", "4096", "--slow-consumer-timeout", "30", *features_on)
    symbols = [f"SYM{i:04d}" for i in range(20)]
    slow = Follower(gw.port, "v2", {"type": "subscribe", "symbols": symbols, "depth": 50, "delta": True}, read=False)
    try:
        # Behind for real, once the kernel's buffers are full: pending deltas replaced by newer
        # ones (not just the burst of snapshots at subscribe).
        assert wait_for(lambda: sample(http_get(gw.port, "/metrics")[1], "tickstream_conflated_updates_total") > 500, 20)
        slow.start()
        book, applied = DeltaBook(), 0

        def caught_up():
            nonlocal applied
            updates = slow.updates()
            for _, message in updates[applied:]:
                book.apply(message)  # raises if a delta met a state the client does not hold
            applied = len(updates)
            # Past what the kernel's buffers held: the conflated symbols' whole states.
            return book.wholes > len(symbols) and book.deltas > 1000
        assert wait_for(caught_up, 20), (book.wholes, book.deltas)
    finally:
        slow.client.sock.close()


def test_a_rate_cap_holds_each_symbol_to_its_rate_newest_state_winning(fast):
    async def go():
        async with websockets.connect(fast.url + "/ws", subprotocols=["v2"]) as ws, \
                   websockets.connect(fast.url + "/ws", subprotocols=["v2"]) as reference:
            await reference.send(json.dumps({"type": "subscribe", "symbols": ["AAPL"], "depth": 10}))
            await ws.send(json.dumps({"type": "subscribe", "symbols": ["AAPL"], "depth": 10, "max_rate": 4, "delta": True}))
            await ws.send(json.dumps({"type": "subscribe", "symbols": ["MSFT"]}))
            got, reference_got = await asyncio.gather(collect(ws, 3.0), collect(reference, 3.0))
        assert got[0][0] == {"type": "subscribed", "symbols": ["AAPL"], "depth": 10, "delta": True, "max_rate": 4, "unknown": []}
        capped = [m for m, _ in got if m.get("symbol") == "AAPL"]
        uncapped = [m for m, _ in got if m.get("symbol") == "MSFT"]
        # About 1,000 updates a second each: AAPL is held to 4 a second (and its snapshot),
        # MSFT, subscribed without a cap, is not.
        assert 3 * 4 - 2 <= len(capped) <= 3 * 4 + 2, len(capped)
        assert len(uncapped) > 1000
        seqs = [m["seq"] for m in capped]
        assert seqs == sorted(set(seqs)) and seqs[-1] - seqs[0] > 1000
        # What arrives is the state of that moment, whole (the client missed the ones between).
        whole = {m["seq"]: m for m, _ in reference_got if "seq" in m}
        book = DeltaBook()
        for m in capped:
            state = book.apply(m)
            if state["seq"] in whole:
                assert state == whole[state["seq"]]
        gaps = [b - a for a, b in zip(seqs, seqs[1:])]
        assert min(gaps) > 50, gaps
        metrics = http_get(fast.port, "/metrics")[1]
        assert sample(metrics, "tickstream_rate_capped_updates_total") > 1000
    run(go())


def test_a_symbol_nobody_publishes_is_named_in_the_reply_and_kept(gateway_factory):
    gw = gateway_factory("--sim-rate", "500", "--sim-symbols", "AAPL", "--publisher-token", "t")
    async def go():
        async with websockets.connect(gw.url + "/ws", subprotocols=["v2"]) as ws:
            await ws.send(json.dumps({"type": "subscribe", "symbols": ["AAPL", "AAPLL"], "epoch": True}))
            ack = json.loads(await ws.recv())
            validate("v2-server", ack)
            assert ack["unknown"] == ["AAPLL"] and len(ack["epoch"]) == 16
            # Kept: when AAPLL is published, it arrives.
            async with websockets.connect(gw.url + "/feed", subprotocols=["feed.v1"],
                                          additional_headers={"Authorization": "Bearer t"}) as pub:
                await pub.send(json.dumps({"symbol": "AAPLL", "last": 1, "bid": 1, "ask": 2}))
                while (m := json.loads(await asyncio.wait_for(ws.recv(), 3)))["symbol"] != "AAPLL":
                    pass
        metrics = http_get(gw.port, "/metrics")[1]
        assert sample(metrics, "tickstream_unknown_symbol_subscriptions_total") == 1
    run(go())


@pytest.mark.parametrize("bad,code", [(0, "invalid_max_rate"), (1001, "invalid_max_rate"), (2.5, "invalid_max_rate"),
                                      ("fast", "invalid_max_rate"), ("yes", "invalid_message")])
def test_bad_options_are_refused_whole(fast, bad, code):
    async def go():
        async with websockets.connect(fast.url + "/ws", subprotocols=["v2"]) as ws:
            field = "delta" if code == "invalid_message" else "max_rate"
            await ws.send(json.dumps({"type": "subscribe", "symbols": ["AAPL"], field: bad}))
            reply = json.loads(await ws.recv())
            validate("v2-server", reply)
            assert reply["type"] == "error" and reply["code"] == code
            # Nothing was half-applied: no subscription, so no updates.
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(ws.recv(), 0.3)
    run(go())


def test_deltas_and_caps_move_with_a_live_handover(tmp_path, features_on):
    """After a handover, a delta subscriber's stream still applies (the new instance starts it
    with a whole state) and a capped one keeps its cap."""
    from conftest import Gateway
    from test_handover import SIM, start_successor
    control = str(tmp_path / "control.sock")
    old = Gateway(*SIM, *features_on, "--control-socket", control)
    new = None
    symbols = [f"SYM{i:04d}" for i in range(20)]
    try:
        delta = Follower(old.port, "v2", {"type": "subscribe", "symbols": symbols, "depth": 10, "delta": True})
        capped = Follower(old.port, "v2", {"type": "subscribe", "symbols": ["SYM0001"], "max_rate": 5})
        assert wait_for(lambda: len(delta.updates()) > 200 and len(capped.updates()) >= 3, 10)
        new = start_successor(control, *SIM, *features_on)
        assert old.process.wait(timeout=15) == 0
        switched = time.monotonic()
        assert wait_for(lambda: len([t for t, _ in delta.updates() if t > switched + 2]) > 200, 15)
        assert delta.closed is None and capped.closed is None
        book = DeltaBook()
        for _, message in delta.updates():
            book.apply(message)
        assert book.wholes >= len(symbols), book.wholes  # snapshots, and whole states after the move
        after = [m for t, m in delta.updates() if t > switched + 1]
        assert sum("depth" not in m for m in after) > 0.9 * len(after)  # still deltas over there
        late = [t for t, _ in capped.updates() if t > switched + 1 and t < switched + 3]
        assert 1 <= len(late) <= 2 * 5 + 1, len(late)
    finally:
        if new:
            new.terminate()
            new.wait(timeout=10)
        old.stop()
