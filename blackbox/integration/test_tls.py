"""wss:// and https:// on the gateway's own TLS: data, echo, close codes, drain, takeover,
rotation, bad certificates at start and bad clients on the port. Certificates come from
scripts/make-test-certificates.sh; the clients are Python's ssl, websockets and openssl."""
import asyncio
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.request

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from conftest import BINARY, Gateway, free_port
from rawws import RawClient, frame, sample


def tls_flags(certs, cert="server.pem", key="server.key"):
    return ("--tls-cert", str(certs / cert), "--tls-key", str(certs / key))


def client_context(certs) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    return context


def https(gw, certs, path, method="GET", token=None):
    request = urllib.request.Request(f"https://localhost:{gw.port}{path}", method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, context=client_context(certs), timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def metric(gw, certs, key):
    return sample(https(gw, certs, "/metrics")[1], key)


FAILURES = "tickstream_tls_handshake_failures_total"


def failures(gw, certs):
    return {reason: metric(gw, certs, f'{FAILURES}{{reason="{reason}"}}')
            for reason in ("bad_input", "plaintext_http", "peer_left", "timeout")}


def peer_certificate_serial(port, certs):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with client_context(certs).wrap_socket(raw, server_hostname="localhost") as tls:
            return tls.getpeercert()["serialNumber"]


@pytest.fixture
def tls_gateway(certs):
    gw = Gateway(*tls_flags(certs), "--echo", "--echo-max-message-bytes", "65536", "--admin-token", "secret",
                 "--sim-rate", "2000", "--sim-symbols", "50", "--handshake-timeout", "1", "--close-timeout", "2")
    yield gw
    gw.stop()


def test_v1_and_v2_market_data_over_wss(tls_gateway, certs):
    async def go():
        url = f"wss://localhost:{tls_gateway.port}/ws"
        async with websockets.connect(url, ssl=client_context(certs), subprotocols=["v2"]) as v2, \
                websockets.connect(url, ssl=client_context(certs), subprotocols=["v1"]) as v1:
            assert v2.subprotocol == "v2" and v1.subprotocol == "v1"
            await v2.send(json.dumps({"type": "subscribe", "symbols": ["SYM0001"], "depth": 5}))
            await v1.send(json.dumps({"type": "subscribe", "symbol": "SYM0001"}))
            assert json.loads(await v2.recv())["type"] == "subscribed"
            seqs = []
            for _ in range(5):
                update = json.loads(await v2.recv())
                assert update["symbol"] == "SYM0001" and len(update["depth"]) == 5
                seqs.append(update["seq"])
            assert seqs == list(range(seqs[0], seqs[0] + 5))
            for _ in range(3):
                assert set(json.loads(await v1.recv())) == {"symbol", "price"}
    asyncio.run(go())
    assert tls_gateway.process.poll() is None


def test_echo_and_close_codes_over_wss(tls_gateway, certs):
    async def go():
        url = f"wss://localhost:{tls_gateway.port}/echo"
        async with websockets.connect(url, ssl=client_context(certs), max_size=None) as ws:
            big = os.urandom(60_000)
            await ws.send(big)
            assert await ws.recv() == big
            await ws.send("héllo")
            assert await ws.recv() == "héllo"
            await ws.close(4001, "bye")
            assert ws.close_code == 4001
        # A message over the limit is closed with 1009, as in plaintext.
        async with websockets.connect(url, ssl=client_context(certs), max_size=None) as ws:
            await ws.send(b"x" * 70_000)
            with pytest.raises(ConnectionClosed):
                await ws.recv()
            assert ws.close_code == 1009
    asyncio.run(go())


def test_health_and_metrics_over_https(tls_gateway, certs):
    assert https(tls_gateway, certs, "/health/live")[0] == 200
    assert https(tls_gateway, certs, "/health/ready")[0] == 200
    status, text = https(tls_gateway, certs, "/metrics")
    assert status == 200
    expiry = metric(tls_gateway, certs, "tickstream_tls_certificate_expiry_timestamp_seconds")
    assert time.time() + 25 * 86400 < expiry < time.time() + 31 * 86400  # the test certificate: 30 days
    assert metric(tls_gateway, certs, "tickstream_tls_handshakes_total") >= 3


def test_plaintext_to_the_tls_port_gets_a_plain_400(tls_gateway, certs):
    with socket.create_connection(("127.0.0.1", tls_gateway.port), timeout=5) as s:
        s.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    assert data.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"use https:// or wss://" in data
    assert failures(tls_gateway, certs)["plaintext_http"] == 1


def test_garbage_truncated_and_slow_handshakes_are_closed_and_counted(tls_gateway, certs):
    port = tls_gateway.port
    # (The fixture's start-up probe, a bare TCP connect, already counts as one peer_left.)
    before = failures(tls_gateway, certs)
    # Garbage shaped like a handshake record.
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"\x16\x03\x01\x00\x40" + b"\xff" * 64)
        s.settimeout(3)
        data = s.recv(4096)
        while data and (more := s.recv(4096)):
            data += more
    # Whatever came back is a TLS alert record (content type 21), then the close.
    assert data == b"" or data[0] == 21
    # Half a client hello, then the peer leaves.
    hello = client_hello(port, certs)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(hello[: len(hello) // 2])
        time.sleep(0.2)
    # Half a client hello, then silence: cut at --handshake-timeout (1 s) while others are served.
    slow = socket.create_connection(("127.0.0.1", port), timeout=5)
    slow.sendall(hello[: len(hello) // 2])
    started = time.monotonic()
    assert https(tls_gateway, certs, "/health/live")[0] == 200  # unaffected
    slow.settimeout(5)
    assert slow.recv(4096) == b""
    assert 0.8 < time.monotonic() - started < 3
    slow.close()
    time.sleep(0.1)
    after = failures(tls_gateway, certs)
    assert {reason: after[reason] - before[reason] for reason in after} == \
        {"bad_input": 1, "plaintext_http": 0, "peer_left": 1, "timeout": 1}
    assert tls_gateway.process.poll() is None


def client_hello(port, certs) -> bytes:
    """A real ClientHello, captured from Python's ssl through a memory BIO."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = client_context(certs).wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


def upgrade_over_tls(port, certs, path="/ws", protocol="v2"):
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    tls = client_context(certs).wrap_socket(raw, server_hostname="localhost", suppress_ragged_eofs=False)
    return RawClient(port, path, f"Sec-WebSocket-Protocol: {protocol}\r\n", sock=tls)


def read_until_close_frame(client):
    """Reads frames until a Close, answers it, and returns its code and whether the TLS stream
    then ended with close_notify (recv returns b"") rather than a bare TCP close (SSLEOFError)."""
    code, _ = client.read_close()
    client.send(frame(8, code.to_bytes(2, "big")))
    try:
        orderly = client.sock.recv(1) == b""
    except ssl.SSLEOFError:
        orderly = False
    return code, orderly


def test_drain_over_tls_sends_1001_then_close_notify(tls_gateway, certs):
    tls = upgrade_over_tls(tls_gateway.port, certs)
    tls.send(frame(1, b""))  # an empty text frame: harmless
    status, body = https(tls_gateway, certs, "/admin/drain", method="POST", token="secret")
    assert status == 202
    code, orderly = read_until_close_frame(tls)
    assert code == 1001
    assert orderly, "the TLS stream ended without close_notify"
    tls.close()
    assert tls_gateway.process.wait(timeout=10) == 0


def test_takeover_over_tls_uses_the_new_instances_certificate(tmp_path, certs):
    control = str(tmp_path / "control.sock")
    old = Gateway(*tls_flags(certs), "--control-socket", control, "--sim-rate", "200", "--sim-symbols", "20",
                  "--drain-duration", "0.5")
    new = None
    try:
        old_serial = peer_certificate_serial(old.port, certs)
        held = upgrade_over_tls(old.port, certs)
        new = subprocess.Popen([BINARY, "--port", str(free_port()), "--takeover", control, "--control-socket", control,
                                *tls_flags(certs, "rotated.pem", "rotated.key"), "--sim-rate", "200", "--sim-symbols", "20"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        code, orderly = read_until_close_frame(held)
        assert (code, orderly) == (1001, True)
        held.close()
        assert old.process.wait(timeout=15) == 0
        new_serial = peer_certificate_serial(old.port, certs)
        assert new_serial != old_serial

        async def fresh():
            async with websockets.connect(f"wss://localhost:{old.port}/ws", ssl=client_context(certs), subprotocols=["v2"]) as ws:
                await ws.send(json.dumps({"type": "subscribe", "symbols": ["SYM0002"]}))
                assert json.loads(await ws.recv())["type"] == "subscribed"
                assert json.loads(await ws.recv())["symbol"] == "SYM0002"
        asyncio.run(fresh())
    finally:
        old.stop()
        if new is not None:
            new.send_signal(signal.SIGTERM)
            new.wait(timeout=15)


def test_rotation_keeps_live_connections_and_refuses_a_broken_file(tmp_path, certs):
    live = tmp_path / "live"
    live.mkdir()
    shutil.copy(certs / "server.pem", live / "cert.pem")
    shutil.copy(certs / "server.key", live / "key.pem")
    gw = Gateway("--tls-cert", str(live / "cert.pem"), "--tls-key", str(live / "key.pem"), "--echo",
                 "--admin-token", "secret")
    try:
        first = peer_certificate_serial(gw.port, certs)

        async def rotate_under_a_live_connection():
            async with websockets.connect(f"wss://localhost:{gw.port}/echo", ssl=client_context(certs)) as ws:
                await ws.send("before")
                assert await ws.recv() == "before"
                # SIGHUP with the new pair in place.
                shutil.copy(certs / "rotated.pem", live / "cert.pem")
                shutil.copy(certs / "rotated.key", live / "key.pem")
                gw.process.send_signal(signal.SIGHUP)
                await asyncio.sleep(0.3)
                assert peer_certificate_serial(gw.port, certs) != first
                await ws.send("after")  # the old session is untouched
                assert await ws.recv() == "after"
        asyncio.run(rotate_under_a_live_connection())
        second = peer_certificate_serial(gw.port, certs)

        # A broken certificate: SIGHUP and the admin endpoint both refuse it; the second stays.
        (live / "cert.pem").write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
        gw.process.send_signal(signal.SIGHUP)
        time.sleep(0.3)
        assert peer_certificate_serial(gw.port, certs) == second
        status, body = https(gw, certs, "/admin/reload-tls", method="POST", token="secret")
        assert status == 422
        assert json.loads(body)["reloaded"] is False and "cert.pem" in json.loads(body)["error"]
        assert https(gw, certs, "/admin/reload-tls", method="POST")[0] == 401
        # A key that does not match: refused as well.
        shutil.copy(certs / "server.pem", live / "cert.pem")
        shutil.copy(certs / "other.key", live / "key.pem")
        assert https(gw, certs, "/admin/reload-tls", method="POST", token="secret")[0] == 422
        assert peer_certificate_serial(gw.port, certs) == second
        # Fixed files: the admin endpoint loads them.
        shutil.copy(certs / "server.key", live / "key.pem")
        status, body = https(gw, certs, "/admin/reload-tls", method="POST", token="secret")
        assert status == 200 and json.loads(body)["reloaded"] is True
        assert peer_certificate_serial(gw.port, certs) == first
        assert metric(gw, certs, 'tickstream_tls_reloads_total{result="ok"}') == 2
        assert metric(gw, certs, 'tickstream_tls_reloads_total{result="refused"}') == 3
    finally:
        gw.stop()
    log = gw.output()
    assert "TLS certificate reload refused; the certificate in use stays" in log


def test_plaintext_listener_answers_reload_with_409(gateway_factory):
    gw = gateway_factory("--admin-token", "secret")
    request = urllib.request.Request(f"http://127.0.0.1:{gw.port}/admin/reload-tls", method="POST",
                                     headers={"Authorization": "Bearer secret"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 409


@pytest.mark.parametrize("flags, named, message", [
    (("expired.pem", "expired.key"), "expired.pem", "expired on 2020-02-01 00:00:00 UTC"),
    (("server.pem", "other.key"), "other.key", "does not match the certificate in --tls-cert"),
    (("server.pem", "encrypted.key"), "encrypted.key", "is encrypted: give its password with --tls-key-password-file"),
    (("server.pem", "encrypted.key", "wrong-password.txt"), "encrypted.key", "wrong password in --tls-key-password-file"),
    (("password.txt", "server.key"), "password.txt", "is not a PEM certificate chain"),
    (("missing.pem", "server.key"), "missing.pem", "No such file or directory"),
])
def test_unusable_certificates_stop_the_start_with_exit_2(certs, flags, named, message):
    args = [BINARY, "--port", "0", "--tls-cert", str(certs / flags[0]), "--tls-key", str(certs / flags[1])]
    if len(flags) == 3:
        args += ["--tls-key-password-file", str(certs / flags[2])]
    result = subprocess.run(args, capture_output=True, text=True, timeout=10)
    assert result.returncode == 2
    assert message in result.stderr
    assert str(certs / named) in result.stderr
    assert "starting" not in result.stderr  # refused before anything started


def test_an_encrypted_key_with_its_password_serves(certs):
    gw = Gateway("--tls-cert", str(certs / "server.pem"), "--tls-key", str(certs / "encrypted.key"),
                 "--tls-key-password-file", str(certs / "password.txt"))
    try:
        assert https(gw, certs, "/health/live")[0] == 200
    finally:
        gw.stop()


def s_client(port, certs, *flags):
    return subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost",
                           "-CAfile", str(certs / "ca.pem"), "-showcerts", *flags],
                          input="", capture_output=True, text=True, timeout=10)


def test_openssl_sees_tls13_the_chain_alpn_and_no_tls11(tls_gateway, certs):
    result = s_client(tls_gateway.port, certs, "-alpn", "http/1.1")
    assert "New, TLSv1.3" in result.stdout
    assert "Verify return code: 0 (ok)" in result.stdout
    assert "ALPN protocol: http/1.1" in result.stdout
    assert result.stdout.count("-----BEGIN CERTIFICATE-----") == 2  # leaf and CA: the full chain
    assert "Secure Renegotiation IS NOT supported" not in s_client(tls_gateway.port, certs, "-tls1_2").stdout
    assert "New, TLSv1.2" in s_client(tls_gateway.port, certs, "-tls1_2").stdout
    old = s_client(tls_gateway.port, certs, "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0")
    assert old.returncode != 0 and "New, (NONE)" in old.stdout
    h2_only = s_client(tls_gateway.port, certs, "-alpn", "h2")
    assert h2_only.returncode != 0 and "no application protocol" in h2_only.stderr
