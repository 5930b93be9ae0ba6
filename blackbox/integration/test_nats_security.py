"""The bus towards NATS as production secures it: TLS with a CA (and client certificates for
servers that verify them), NKEY and `.creds` (JWT) authentication, a wrong identity refused,
secrets kept out of logs and /metrics, and a credentials file that cannot be used stopping the
start with exit 2. Real nats-servers, certificates from the openssl command, identities from
the `nkeys` package."""
import ssl
import subprocess
import time

import pytest

from conftest import BINARY, bus_connected, http_get as get, wait_for
from natsauth import Operator, keypair
from natscluster import NatsCluster
from test_handover import Follower


def tls_config(certs, verify_clients=True):
    return (f'tls {{ cert_file: "{certs / "server.pem"}", key_file: "{certs / "server.key"}", '
            f'ca_file: "{certs / "ca.pem"}", verify: {str(verify_clients).lower()}, timeout: 2 }}\n')


def python_tls(certs):
    context = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    context.load_cert_chain(str(certs / "rotated.pem"), str(certs / "rotated.key"))
    return context


def client_cert_flags(certs):
    return ("--bus-ca", str(certs / "ca.pem"), "--bus-cert", str(certs / "rotated.pem"), "--bus-key", str(certs / "rotated.key"))


def connected(gw):
    return bus_connected(gw.port)


def test_a_gateway_joins_a_tls_cluster_from_one_url_with_creds(gateway_factory, certs, tmp_path):
    """Three servers requiring TLS with client certificates and decentralized (JWT) auth; the
    gateway is given one tls:// URL and a .creds file, learns the other servers, and keeps its
    clients' updates when its server is killed. Neither the seed nor the JWT shows anywhere."""
    operator = Operator(str(tmp_path))
    creds, seed, jwt = operator.creds("gateway")
    tester, _, _ = operator.creds("tester")
    cluster = NatsCluster(3, extra_config=tls_config(certs) + operator.server_config(),
                          client_options={"tls": python_tls(certs), "user_credentials": tester})
    try:
        gw = gateway_factory("--bus", cluster.url("n1", "tls"), *client_cert_flags(certs), "--bus-creds", creds,
                             "--bus-stream-replicas", "3", "--sim-target", "bus", "--sim-rate", "200", "--sim-symbols", "2")
        assert wait_for(lambda: connected(gw), 15), cluster.log("n1")[-2000:]
        follower = Follower(gw.port, "v2", {"type": "subscribe", "symbols": ["SYM0000", "SYM0001"]})
        assert wait_for(lambda: len(follower.updates()) > 20, 10)
        cluster.kill("n1")
        killed_at = time.monotonic()
        assert wait_for(lambda: len([t for t, _ in follower.updates() if t > killed_at + 1]) > 20, 20), \
            "the gateway did not move to an announced server over TLS with its credentials"
        assert follower.closed is None
        _, exposition = get(gw.port, "/metrics")
        gw.stop()
        log = gw.output()
        assert "bus cluster announced servers" in log and "tls://127.0.0.1" in log
        for secret in (seed, jwt, jwt.split(".")[2]):
            assert secret not in log and secret not in exposition
    finally:
        cluster.stop()


@pytest.fixture
def nkey_server(tmp_path):
    """One server accepting a single NKEY user."""
    user = keypair("user")
    cluster = NatsCluster(1, extra_config=f'authorization {{ users = [ {{ nkey: "{user.public_key.decode()}" }} ] }}\n',
                          client_options={"nkeys_seed_str": user.seed.decode()})
    yield cluster, user
    cluster.stop()


def test_an_nkey_is_accepted_and_a_wrong_one_refused(gateway_factory, nkey_server, tmp_path):
    cluster, user = nkey_server
    good = tmp_path / "good.nk"
    good.write_text(user.seed.decode() + "\n")
    gw = gateway_factory("--bus", cluster.url("n1"), "--bus-creds", str(good))
    assert wait_for(lambda: connected(gw), 10)

    wrong = tmp_path / "wrong.nk"
    other = keypair("user")
    wrong.write_text(other.seed.decode() + "\n")
    refused = gateway_factory("--bus", cluster.url("n1"), "--bus-creds", str(wrong))
    assert wait_for(lambda: "tickstream_bus_connect_failures_total 0" not in get(refused.port, "/metrics")[1], 10)
    assert not connected(refused)
    refused.stop()
    log = refused.output()
    assert "Authorization Violation" in log
    assert other.seed.decode() not in log


def test_a_creds_file_of_an_unknown_account_is_refused(gateway_factory, tmp_path):
    operator = Operator(str(tmp_path))
    stranger, _, _ = operator.creds("stranger", account=keypair("account"))
    tester, _, _ = operator.creds("tester")
    cluster = NatsCluster(1, extra_config=operator.server_config(), client_options={"user_credentials": tester})
    try:
        gw = gateway_factory("--bus", cluster.url("n1"), "--bus-creds", stranger)
        assert wait_for(lambda: "tickstream_bus_connect_failures_total 0" not in get(gw.port, "/metrics")[1], 10)
        assert not connected(gw)
    finally:
        cluster.stop()


def test_tls_is_required_verified_and_a_missing_client_certificate_refused(gateway_factory, certs):
    cluster = NatsCluster(1, extra_config=tls_config(certs), client_options={"tls": python_tls(certs)})
    try:
        url = cluster.url("n1")
        # The server requires TLS and the gateway was given no way to verify it.
        plain = gateway_factory("--bus", url)
        # The system's roots do not know the test CA.
        unverified = gateway_factory("--bus", cluster.url("n1", "tls"))
        # The server verifies clients, and this one has no certificate.
        anonymous = gateway_factory("--bus", url, "--bus-ca", str(certs / "ca.pem"))
        good = gateway_factory("--bus", url, *client_cert_flags(certs))
        assert wait_for(lambda: connected(good), 10)
        time.sleep(2)
        logs = {}
        for name, gw in (("plain", plain), ("unverified", unverified), ("anonymous", anonymous)):
            assert not connected(gw), name
            gw.stop()
            logs[name] = gw.output()
        assert "the server requires TLS: give the bus a CA file (--bus-ca) or a tls:// URL" in logs["plain"]
        assert "certificate verify failed" in logs["unverified"] or "verify" in logs["unverified"].lower()
        assert "bus connection failed" in logs["anonymous"]
    finally:
        cluster.stop()


def test_tls_url_to_a_server_without_tls_is_refused(gateway_factory):
    cluster = NatsCluster(1)
    try:
        gw = gateway_factory("--bus", cluster.url("n1", "tls"), "--bus-ca", "/etc/ssl/certs/ca-certificates.crt")
        time.sleep(1.5)
        assert not connected(gw)
        gw.stop()
        assert "tls:// was asked for but the server does not offer TLS" in gw.output()
    finally:
        cluster.stop()


@pytest.mark.parametrize("setup, flags, message", [
    ("none", ["--bus-creds", "{tmp}/missing.creds"], "--bus-creds {tmp}/missing.creds: No such file or directory"),
    ("none", ["--bus-creds", "{tmp}"], "--bus-creds {tmp}: Is a directory"),
    ("garbage", ["--bus-creds", "{tmp}/garbage.creds"], "the NKEY seed is not a valid user seed"),
    ("jwt-only", ["--bus-creds", "{tmp}/jwt-only.creds"], "holds a user JWT but no NKEY seed"),
    ("none", ["--bus-cert", "{tmp}/c.pem"], "--bus-cert and --bus-key go together"),
    ("none", ["--bus-ca", "{tmp}/missing.pem"], "--bus-ca {tmp}/missing.pem: No such file or directory"),
])
def test_credentials_that_cannot_be_used_stop_the_start_with_exit_2(tmp_path, setup, flags, message):
    if setup == "garbage":
        (tmp_path / "garbage.creds").write_text("SUNOTASEED\n")
    elif setup == "jwt-only":
        (tmp_path / "jwt-only.creds").write_text("-----BEGIN NATS USER JWT-----\na.b.c\n------END NATS USER JWT------\n")
    args = [BINARY, "--bus", "nats://127.0.0.1:4222"] + [f.format(tmp=tmp_path) for f in flags]
    result = subprocess.run(args, capture_output=True, text=True, timeout=20)
    assert result.returncode == 2
    assert message.format(tmp=tmp_path) in result.stderr + result.stdout
