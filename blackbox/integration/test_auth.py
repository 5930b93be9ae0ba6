"""Black-box tests of token authentication on /ws: JWTs minted by an independent library
(PyJWT) with HS256, RS256 and ES256, checked at the upgrade (401 otherwise); the `symbols`
claim bounds subscriptions; at `exp` the client is told and closed with 1008."""
import asyncio
import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
import websockets
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from websockets.exceptions import ConnectionClosed, InvalidStatus

from rawws import http, sample, upgrade_request
from watcher import Watcher

SECRET = "correct-horse-battery-staple-0123456789"
SYMBOLS = ["AAPL", "MSFT", "EQ.SAP", "EQ.BMW"]
MARKET = ("--sim-rate", "400", "--sim-symbols", ",".join(SYMBOLS))


def run(coro):
    return asyncio.run(coro)


def mint(claims=None, key=SECRET, algorithm="HS256", ttl=3600):
    payload = {"sub": "desk-7", "exp": int(time.time()) + ttl, **(claims or {})}
    return jwt.encode(payload, key, algorithm=algorithm)


def metric(port, key):
    return sample(http(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")[2].decode(), key)


async def recv_json(ws, timeout=3.0):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


@pytest.fixture
def hs256(gateway_factory):
    return gateway_factory(*MARKET, env={"GATEWAY_JWT_SECRET": SECRET})


def test_without_jwt_flags_ws_stays_open(gateway_factory):
    gw = gateway_factory(*MARKET)
    assert http(gw.port, upgrade_request(path="/ws"))[0] == 101


@pytest.mark.parametrize("how", ["header", "query"])
def test_a_valid_token_in_the_header_or_the_query_connects(hs256, how):
    token = mint()

    async def go():
        if how == "header":
            ws = await websockets.connect(hs256.url + "/ws", subprotocols=["v2"],
                                          additional_headers={"Authorization": f"Bearer {token}"})
        else:
            ws = await websockets.connect(hs256.url + f"/ws?token={token}", subprotocols=["v2"])
        async with ws:
            await ws.send(json.dumps({"type": "subscribe", "symbols": ["AAPL"]}))
            assert (await recv_json(ws))["type"] == "subscribed"
            assert "last" in await recv_json(ws)
    run(go())
    assert metric(hs256.port, "tickstream_auth_tokens_accepted_total") == 1


def test_bad_tokens_are_401_with_the_reason_while_others_see_no_gaps(hs256):
    now = int(time.time())
    header, payload, signature = mint().split(".")
    unsigned = jwt.encode({"exp": now + 60}, None, algorithm="none")
    cases = {
        "missing": None,
        "signature": f"{header}.{payload}.{signature[:-4]}AAAA",
        "wrong secret": mint(key="another-secret-of-at-least-32-bytes!!"),
        "alg none": unsigned,
        "expired": mint(ttl=-10),
        "not yet valid": mint({"nbf": now + 600}),
        "garbage": "not-a-token",
        "bad symbols claim": mint({"symbols": "AAPL"}),
    }
    with Watcher(hs256.url, ["AAPL", "MSFT"], headers={"Authorization": f"Bearer {mint()}"}) as watcher:
        for name, token in cases.items():
            extra = f"Authorization: Bearer {token}\r\n" if token else ""
            status, headers, body = http(hs256.port, upgrade_request(path="/ws", extra=extra))
            assert status == 401, name
            assert headers["www-authenticate"].startswith('Bearer realm="tickstream"'), name
            if token:
                assert 'error="invalid_token"' in headers["www-authenticate"], name
        time.sleep(0.3)
        watcher.assert_healthy()
    for reason, count in [("missing", 1), ("signature", 2), ("algorithm", 1), ("expired", 1), ("not_yet_valid", 1),
                          ("malformed", 1), ("claims", 1)]:
        assert metric(hs256.port, f'tickstream_auth_failures_total{{reason="{reason}"}}') == count, reason


@pytest.mark.parametrize("kind", ["RS256", "ES256"])
def test_public_key_tokens(gateway_factory, tmp_path, kind):
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048) if kind == "RS256" \
        else ec.generate_private_key(ec.SECP256R1())
    pem = tmp_path / "jwt.pub.pem"
    pem.write_bytes(private.public_key().public_bytes(serialization.Encoding.PEM,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo))
    gw = gateway_factory(*MARKET, "--jwt-public-key", str(pem))
    good = mint(key=private, algorithm=kind)
    assert http(gw.port, upgrade_request(path="/ws", extra=f"Authorization: Bearer {good}\r\n"))[0] == 101
    # The classic confusion: an HS256 token whose HMAC key is the public key file itself
    # (PyJWT refuses to make one, so it is made by hand).
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    signing_input = b64(b'{"alg":"HS256","typ":"JWT"}') + "." + b64(json.dumps({"exp": int(time.time()) + 60}).encode())
    confused = signing_input + "." + b64(hmac.new(pem.read_bytes(), signing_input.encode(), hashlib.sha256).digest())
    for token in [confused, mint(key=SECRET), mint(key=private, algorithm=kind, ttl=-5)]:
        assert http(gw.port, upgrade_request(path="/ws", extra=f"Authorization: Bearer {token}\r\n"))[0] == 401
    assert metric(gw.port, 'tickstream_auth_failures_total{reason="algorithm"}') == 2


def test_the_symbols_claim_bounds_subscriptions(hs256):
    token = mint({"symbols": ["AAPL", "EQ.*"]})

    async def go():
        async with websockets.connect(hs256.url + "/ws", subprotocols=["v2"],
                                      additional_headers={"Authorization": f"Bearer {token}"}) as ws:
            await ws.send(json.dumps({"type": "subscribe", "symbols": ["MSFT", "AAPL"]}))
            error = await recv_json(ws)
            assert error["type"] == "error" and error["code"] == "forbidden_symbol" and "MSFT" in error["message"]
            # Still usable: allowed symbols, exact and by prefix.
            await ws.send(json.dumps({"type": "subscribe", "symbols": ["AAPL", "EQ.SAP"]}))
            assert (await recv_json(ws))["type"] == "subscribed"
            await ws.send(json.dumps({"type": "list_symbols"}))
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                msg = await recv_json(ws)
                if msg.get("type") == "symbols":
                    assert sorted(msg["symbols"]) == ["AAPL", "EQ.BMW", "EQ.SAP"]
                    return
            raise AssertionError("no symbol list")
    run(go())
    assert metric(hs256.port, "tickstream_auth_forbidden_subscriptions_total") == 1


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_at_expiry_the_client_is_told_and_closed_with_1008(hs256, version):
    token = mint(ttl=2)

    async def go():
        async with websockets.connect(hs256.url + "/ws", subprotocols=[version],
                                      additional_headers={"Authorization": f"Bearer {token}"}) as ws:
            subscribe = {"type": "subscribe", "symbols": ["AAPL"]} if version == "v2" else {"type": "subscribe", "symbol": "AAPL"}
            await ws.send(json.dumps(subscribe))
            start = time.monotonic()
            expired = None
            try:
                while True:
                    msg = await recv_json(ws, timeout=5)
                    if msg.get("type") == "error":
                        expired = msg
            except ConnectionClosed as closed:
                assert closed.rcvd.code == 1008 and closed.rcvd.reason == "token expired"
            assert expired is not None and expired["code"] == "token_expired"
            assert time.monotonic() - start < 3.5
    run(go())
    assert metric(hs256.port, "tickstream_auth_expiry_closes_total") == 1
