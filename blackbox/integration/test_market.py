"""Black-box tests of market data on /ws and ingest on /feed, with an independent client
(Python websockets) and the contract's JSON Schemas."""
import asyncio
import json
import socket
import time

import jsonschema
import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from schemas import validate

TOKEN = "s3cret-token"


def run(coro):
    return asyncio.run(coro)


@pytest.fixture
def market(gateway_factory):
    return gateway_factory("--sim-rate", "2000", "--sim-symbols", "AAPL,MSFT,NVDA,TSLA",
                           "--publisher-token", TOKEN, "--max-subscriptions", "5")


@pytest.fixture
def quiet(gateway_factory):
    """No simulator: only what the test publishes on /feed."""
    return gateway_factory("--sim-rate", "0", "--publisher-token", TOKEN)


async def recv_json(ws, timeout=3.0):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def publisher(gw):
    return await websockets.connect(gw.url + "/feed", subprotocols=["feed.v1"],
                                    additional_headers={"Authorization": f"Bearer {TOKEN}"})


# --- Negotiation ---------------------------------------------------------------------------

@pytest.mark.parametrize("offered,version,echoed", [
    (None, "v1", None), (["v1"], "v1", "v1"), (["v2"], "v2", "v2"), (["v2", "v1"], "v2", "v2"),
    (["v1", "v2"], "v1", "v1"), (["v3"], "v1", None), (["v3", "v2"], "v2", "v2"),
])
def test_subprotocol_negotiation(market, offered, version, echoed):
    async def go():
        async with websockets.connect(market.url + "/ws", subprotocols=offered) as ws:
            assert ws.response.headers.get("Sec-WebSocket-Protocol") == echoed
            if version == "v1":
                await ws.send(json.dumps({"type": "subscribe", "symbol": "AAPL"}))
                msg = await recv_json(ws)
                validate("v1-server", msg)
                assert set(msg) == {"symbol", "price"}
            else:
                await ws.send(json.dumps({"type": "subscribe", "symbols": ["AAPL"], "depth": 3}))
                ack = await recv_json(ws)
                assert ack == {"type": "subscribed", "symbols": ["AAPL"], "depth": 3}
                msg = await recv_json(ws)
                validate("v2-server", msg)
                assert len(msg["depth"]) == 3
    run(go())


# --- Shapes, snapshots, seq ----------------------------------------------------------------

def test_every_message_matches_the_schemas(market):
    async def go():
        # max_queue=None: messages left unread at the end must not stall the clients' close.
        async with websockets.connect(market.url + "/ws", subprotocols=["v1"], max_queue=None) as v1, \
                   websockets.connect(market.url + "/ws", subprotocols=["v2"], max_queue=None) as v2:
            for symbol in ["AAPL", "MSFT"]:
                command = {"type": "subscribe", "symbol": symbol}
                validate("v1-client", command)
                await v1.send(json.dumps(command))
            command = {"type": "subscribe", "symbols": ["AAPL", "MSFT", "NVDA"], "depth": 50}
            validate("v2-client", command)
            await v2.send(json.dumps(command))
            for _ in range(100):
                validate("v1-server", await v1.recv())
                validate("v2-server", await v2.recv())
            await v2.send(json.dumps({"type": "unsubscribe", "symbols": ["NVDA"]}))
            for _ in range(20):
                validate("v2-server", await v2.recv())
    run(go())


def test_schemas_reject_what_the_contract_forbids():
    # The schemas must have teeth, or validating against them proves nothing.
    with pytest.raises(jsonschema.ValidationError):
        validate("v1-server", {"symbol": "AAPL", "price": 1, "extra": True})
    with pytest.raises(jsonschema.ValidationError):
        validate("v2-server", {"symbol": "AAPL", "last": 1, "bid": 1, "ask": 1, "depth": [[1, 2, 3]], "seq": 1, "ts": 1})
    with pytest.raises(jsonschema.ValidationError):
        validate("v2-client", {"type": "subscribe", "symbols": ["AAPL"], "depth": 51})


def test_fast_client_sees_seq_without_gaps(market):
    async def go():
        async with websockets.connect(market.url + "/ws", subprotocols=["v2"]) as ws:
            await ws.send(json.dumps({"type": "subscribe", "symbols": ["AAPL", "MSFT", "NVDA", "TSLA"]}))
            await recv_json(ws)  # ack
            last = {}
            for _ in range(1500):  # ~0.75 s of the 2,000/s simulator
                msg = await recv_json(ws)
                symbol = msg["symbol"]
                if symbol in last:
                    assert msg["seq"] == last[symbol] + 1, f"{symbol}: {last[symbol]} -> {msg['seq']}"
                last[symbol] = msg["seq"]
            assert set(last) == {"AAPL", "MSFT", "NVDA", "TSLA"}
    run(go())


def test_snapshot_on_subscribe_and_first_update_for_a_symbol_without_data(quiet):
    async def go():
        pub = await publisher(quiet)
        await pub.send(json.dumps({"symbol": "AAPL", "last": 189.25, "bid": 189.24, "ask": 189.26,
                                   "book": [[189.24, 300, 189.26, 200], [189.23, 500, 189.27, 100]], "ts": 1764165600123456}))
        await asyncio.sleep(0.1)
        async with websockets.connect(quiet.url + "/ws", subprotocols=["v2"]) as v2, \
                   websockets.connect(quiet.url + "/ws") as v1:
            await v2.send(json.dumps({"type": "subscribe", "symbols": ["AAPL", "ZZZZ"], "depth": 5}))
            assert await recv_json(v2) == {"type": "subscribed", "symbols": ["AAPL", "ZZZZ"], "depth": 5}
            snapshot = await v2.recv()
            # Exact decimals, exactly as published: no float artefacts.
            assert snapshot == ('{"symbol":"AAPL","last":189.25,"bid":189.24,"ask":189.26,'
                                '"depth":[[189.24,300,189.26,200],[189.23,500,189.27,100]],"seq":1,"ts":1764165600123456}')
            await v1.send(json.dumps({"type": "subscribe", "symbol": "AAPL"}))
            assert await v1.recv() == '{"symbol":"AAPL","price":189.25}'
            # ZZZZ had no data: nothing yet; its first update arrives when published.
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(v2.recv(), 0.3)
            await pub.send(json.dumps({"symbol": "ZZZZ", "last": 0.00000001, "bid": 0, "ask": 1e-8}))
            msg = await recv_json(v2)
            assert msg["symbol"] == "ZZZZ" and msg["seq"] == 1 and msg["depth"] == []
            assert msg["ts"] > 1_700_000_000_000_000  # stamped on receipt
        await pub.close()
    run(go())


def test_unsubscribe_stops_updates(market):
    async def go():
        async with websockets.connect(market.url + "/ws", subprotocols=["v2"]) as ws:
            await ws.send(json.dumps({"type": "subscribe", "symbols": ["AAPL", "MSFT"]}))
            await recv_json(ws)
            await ws.send(json.dumps({"type": "unsubscribe", "symbols": ["AAPL"]}))
            while (msg := await recv_json(ws)).get("type") != "unsubscribed":
                pass
            assert msg == {"type": "unsubscribed", "symbols": ["AAPL"]}
            symbols = {(await recv_json(ws))["symbol"] for _ in range(200)}
            assert symbols == {"MSFT"}
        async with websockets.connect(market.url + "/ws") as v1:
            await v1.send(json.dumps({"type": "subscribe", "symbol": "AAPL"}))
            await v1.send(json.dumps({"type": "subscribe", "symbol": "NVDA"}))
            await v1.send(json.dumps({"type": "unsubscribe", "symbol": "AAPL"}))
            # v1 has no ack: an error reply marks the point after which AAPL must be gone
            # (replies and updates share one ordered queue).
            await v1.send("{marker")
            while (await recv_json(v1)).get("type") != "error":
                pass
            assert {(await recv_json(v1))["symbol"] for _ in range(100)} == {"NVDA"}
    run(go())


# --- Errors --------------------------------------------------------------------------------

V1_ERRORS = [
    ("{oops", "invalid_json"),
    ('{"type":"trade","symbol":"AAPL"}', "unknown_type"),
    ('{"type":"subscribe","symbol":"aapl"}', "invalid_symbol"),
    ('{"type":"subscribe","symbol":"TOO-LONG-SYMBOL-NAME"}', "invalid_symbol"),
    ('{"type":"subscribe"}', "invalid_message"),
]
V2_ERRORS = [
    ("not json", "invalid_json"),
    ('{"type":"subscribe","symbols":["AAPL"],"depth":0}', "invalid_depth"),
    ('{"type":"subscribe","symbols":["AAPL"],"depth":51}', "invalid_depth"),
    ('{"type":"subscribe","symbols":["AAPL","$$$"]}', "invalid_symbol"),
    ('{"type":"unsubscribe"}', "invalid_message"),
    ('{"type":"subscribe","symbols":["A1","A2","A3","A4","A5","A6"]}', "too_many_subscriptions"),
]


@pytest.mark.parametrize("version,bad,code", [("v1", b, c) for b, c in V1_ERRORS] + [("v2", b, c) for b, c in V2_ERRORS])
def test_error_replies_keep_the_connection_open(market, version, bad, code):
    async def go():
        async with websockets.connect(market.url + "/ws", subprotocols=[version]) as ws:
            await ws.send(bad)
            reply = await recv_json(ws)
            validate(f"{version}-server", reply)
            assert reply["type"] == "error" and reply["code"] == code
            # Still open and working.
            await ws.send(json.dumps({"type": "subscribe", "symbol": "AAPL"} if version == "v1"
                                     else {"type": "subscribe", "symbols": ["AAPL"]}))
            msg = await recv_json(ws)
            assert msg.get("type") in (None, "subscribed")
    run(go())


def test_subscription_limit_counts_existing_subscriptions(market):
    async def go():
        async with websockets.connect(market.url + "/ws", subprotocols=["v2"]) as ws:
            await ws.send(json.dumps({"type": "subscribe", "symbols": ["B1", "B2", "B3", "B4"]}))
            assert (await recv_json(ws))["type"] == "subscribed"
            await ws.send(json.dumps({"type": "subscribe", "symbols": ["B4", "B5"]}))  # B4 again: 5 total
            assert (await recv_json(ws))["type"] == "subscribed"
            await ws.send(json.dumps({"type": "subscribe", "symbols": ["B6"]}))
            reply = await recv_json(ws)
            assert reply["code"] == "too_many_subscriptions"
    run(go())


def test_symbol_table_bound_refuses_new_symbols(gateway_factory):
    gw = gateway_factory("--sim-rate", "0", "--max-symbols", "3", "--publisher-token", TOKEN)
    async def go():
        async with websockets.connect(gw.url + "/ws", subprotocols=["v2"]) as ws:
            await ws.send(json.dumps({"type": "subscribe", "symbols": ["S1", "S2", "S3"]}))
            assert (await recv_json(ws))["type"] == "subscribed"
            await ws.send(json.dumps({"type": "subscribe", "symbols": ["S4"]}))
            reply = await recv_json(ws)
            validate("v2-server", reply)
            assert reply["code"] == "too_many_symbols"
            # Known symbols still work, and a publisher's unknown symbol is refused by index.
            await ws.send(json.dumps({"type": "subscribe", "symbols": ["S1"], "depth": 2}))
            assert (await recv_json(ws))["type"] == "subscribed"
        pub = await publisher(gw)
        await pub.send(json.dumps([{"symbol": "S1", "last": 1, "bid": 1, "ask": 1}, {"symbol": "S9", "last": 1, "bid": 1, "ask": 1}]))
        error = json.loads(await asyncio.wait_for(pub.recv(), 3))
        assert error["code"] == "invalid_update" and error["index"] == 1
        await pub.close()
    run(go())


def test_binary_message_on_ws_closes_with_1003(market):
    async def go():
        async with websockets.connect(market.url + "/ws") as ws:
            await ws.send(b"\x01\x02")
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await ws.recv()
            assert closed.value.rcvd.code == 1003
    run(go())


# --- Ingest ----------------------------------------------------------------------------------

def test_feed_handshake_requires_the_token_and_subprotocol(market, gateway_factory):
    async def status(gw, headers, subprotocols=("feed.v1",)):
        try:
            async with websockets.connect(gw.url + "/feed", subprotocols=list(subprotocols), additional_headers=headers):
                return 101
        except InvalidStatus as e:
            return e.response.status_code
    async def go():
        assert await status(market, {}) == 401
        assert await status(market, {"Authorization": "Bearer wrong"}) == 401
        assert await status(market, {"Authorization": TOKEN}) == 401
        assert await status(market, {"Authorization": f"Bearer {TOKEN}"}, subprotocols=()) == 400
        assert await status(market, {"Authorization": f"Bearer {TOKEN}"}) == 101
        no_feed = gateway_factory("--sim-rate", "0")
        assert await status(no_feed, {"Authorization": f"Bearer {TOKEN}"}) == 404
    run(go())


def test_feed_batch_applies_valid_updates_and_names_invalid_ones(quiet):
    async def go():
        pub = await publisher(quiet)
        async with websockets.connect(quiet.url + "/ws", subprotocols=["v2"]) as ws:
            await ws.send(json.dumps({"type": "subscribe", "symbols": ["AAPL", "MSFT"]}))
            await recv_json(ws)
            batch = [
                {"symbol": "AAPL", "last": 1.5, "bid": 1.4, "ask": 1.6},
                {"symbol": "bad!", "last": 1, "bid": 1, "ask": 1},
                {"symbol": "MSFT", "last": 2, "bid": 1.9},
                {"symbol": "MSFT", "last": 2.123456789, "bid": 1, "ask": 3},
                {"symbol": "MSFT", "last": 2.5, "bid": 2.4, "ask": 2.6, "seq": 999},
            ]
            validate("feed-client", batch[0])
            await pub.send(json.dumps(batch))
            errors = [json.loads(await asyncio.wait_for(pub.recv(), 3)) for _ in range(3)]
            for e in errors:
                validate("feed-server", e)
            assert [e["index"] for e in errors] == [1, 2, 3]
            got = [await recv_json(ws) for _ in range(2)]
            assert [(m["symbol"], m["last"], m["seq"]) for m in got] == [("AAPL", 1.5, 1), ("MSFT", 2.5, 1)]
            await pub.send("[{]")
            reply = json.loads(await asyncio.wait_for(pub.recv(), 3))
            validate("feed-server", reply)
            assert reply["code"] == "invalid_json"
        await pub.close()
    run(go())


# --- Slow consumers --------------------------------------------------------------------------

def test_a_slow_client_is_conflated_then_closed_while_others_see_no_gaps(gateway_factory):
    gw = gateway_factory("--sim-rate", "5000", "--sim-symbols", "AAPL,MSFT", "--max-queue-bytes", "65536",
                         "--slow-consumer-timeout", "1", "--close-timeout", "1")
    # The slow client: subscribes to deep books and never reads; a tiny receive buffer makes
    # the gateway's queue fill quickly.
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.connect(("127.0.0.1", gw.port))
    from rawws import upgrade_request, frame
    slow.sendall(upgrade_request(path="/ws", extra="Sec-WebSocket-Protocol: v2\r\n"))
    slow.sendall(frame(0x1, json.dumps({"type": "subscribe", "symbols": ["AAPL", "MSFT"], "depth": 50}).encode()))

    async def fast_client():
        # Depth 5 keeps this Python client comfortably fast (the slow one takes depth 50), so
        # any gap here would be the gateway's doing, not the test client falling behind.
        async with websockets.connect(gw.url + "/ws", subprotocols=["v2"], max_queue=None) as ws:
            await ws.send(json.dumps({"type": "subscribe", "symbols": ["AAPL", "MSFT"], "depth": 5}))
            await recv_json(ws)
            last, count = {}, 0
            deadline = time.monotonic() + 3.5  # across the slow client's whole life
            while time.monotonic() < deadline:
                msg = await recv_json(ws)
                if msg["symbol"] in last:
                    assert msg["seq"] == last[msg["symbol"]] + 1
                last[msg["symbol"]] = msg["seq"]
                count += 1
            return count
    received = run(fast_client())
    assert received > 5000
    # By now the slow client has been over the bound for more than its timeout: the gateway
    # closed it (its Close may sit behind data it never read, so EOF or reset both count).
    slow.settimeout(5)
    closed = False
    try:
        while slow.recv(1 << 20):
            pass
        closed = True
    except ConnectionResetError:
        closed = True
    except socket.timeout:
        closed = False
    assert closed
    gw.stop()
    assert "closing slow consumer" in gw.output()


# What the contract's schema accepts for a v2 command, the server must accept, and the other way
# round: each row is checked against both.
V2_EDGE_CASES = [
    {"type": "subscribe", "symbols": ["AAPL"]},
    {"type": "subscribe", "symbols": ["AAPL"], "depth": 1},
    {"type": "subscribe", "symbols": ["AAPL"], "depth": 50},
    {"type": "subscribe", "symbols": ["AAPL"], "depth": 2.0},
    {"type": "subscribe", "symbols": ["AAPL"], "depth": 2.5},
    {"type": "subscribe", "symbols": ["AAPL"], "depth": 0},
    {"type": "subscribe", "symbols": ["AAPL"], "depth": 51},
    {"type": "subscribe", "symbols": ["AAPL"], "depth": -1},
    {"type": "subscribe", "symbols": ["AAPL"], "depth": "2"},
    {"type": "subscribe", "symbols": ["AAPL"], "depth": None},
    {"type": "subscribe", "symbols": ["AAPL"], "depth": True},
    {"type": "subscribe", "symbols": []},
    {"type": "subscribe", "symbols": ["aapl"]},
    {"type": "subscribe", "symbols": ["AAPL", 1]},
    {"type": "subscribe", "symbols": "AAPL"},
    {"type": "subscribe"},
    {"type": "unsubscribe", "symbols": ["AAPL"]},
    {"type": "unsubscribe", "symbols": ["AAPL"], "depth": 3},
    {"type": "resubscribe", "symbols": ["AAPL"]},
    {"symbols": ["AAPL"]},
    {"type": "list_symbols"},
]


def test_the_v2_client_schema_and_the_server_agree(market):
    async def server_accepts(command):
        async with websockets.connect(market.url + "/ws", subprotocols=["v2"]) as ws:
            await ws.send(json.dumps(command))
            reply = json.loads(await ws.recv())
            return reply["type"] in ("subscribed", "unsubscribed", "symbols")

    async def go():
        for command in V2_EDGE_CASES:
            try:
                validate("v2-client", command)
                schema_accepts = True
            except jsonschema.ValidationError:
                schema_accepts = False
            assert await server_accepts(command) == schema_accepts, command
    asyncio.run(go())


def test_symbol_discovery_over_http_and_v2(gateway_factory):
    gw = gateway_factory("--sim-symbols", "AAPL,MSFT,NVDA", "--sim-rate", "1", "--publisher-token", "pt")
    with socket.create_connection(("127.0.0.1", gw.port), timeout=5) as s:
        s.sendall(b"GET /symbols HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    assert json.loads(data.partition(b"\r\n\r\n")[2]) == {"count": 3, "symbols": ["AAPL", "MSFT", "NVDA"]}

    async def go():
        async with websockets.connect(gw.url + "/feed", subprotocols=["feed.v1"],
                                      additional_headers={"Authorization": "Bearer pt"}) as feed:
            await feed.send(json.dumps({"symbol": "ABC", "last": 1, "bid": 1, "ask": 1}))
            await asyncio.sleep(0.2)
        async with websockets.connect(gw.url + "/ws", subprotocols=["v2"]) as ws:
            # Subscribing to a symbol nobody serves does not make it served.
            await ws.send(json.dumps({"type": "subscribe", "symbols": ["ZZZ"]}))
            await ws.recv()
            await ws.send(json.dumps({"type": "list_symbols"}))
            reply = json.loads(await ws.recv())
            validate("v2-server", reply)
            assert reply == {"type": "symbols", "symbols": ["AAPL", "ABC", "MSFT", "NVDA"]}
        async with websockets.connect(gw.url + "/ws", subprotocols=["v1"]) as ws:
            await ws.send(json.dumps({"type": "list_symbols"}))
            assert json.loads(await ws.recv())["code"] == "unknown_type"
    asyncio.run(go())
    assert "serving symbols (GET /symbols lists them)" in gw_output_after_stop(gw)


def gw_output_after_stop(gw):
    gw.stop()
    return gw.output()
