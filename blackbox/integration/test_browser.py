"""The live page (GET /) in a real headless chromium: it shows the market through the reference
client, keeps seq without gaps, and follows a drain to another instance."""
import json
import os
import time
import urllib.request

import pytest

from browser import HeadlessChromium
from conftest import ROOT, Gateway, free_port, http_get, wait_for

SHOTS = os.path.join(ROOT, "reports", "browser")


@pytest.fixture
def chromium():
    browser = HeadlessChromium()
    yield browser
    browser.close()


def snapshot(browser):
    return browser.evaluate("window.tickstreamPage.snapshot()")


def test_the_page_shows_the_live_market(gateway_factory, chromium, features_on):
    gw = gateway_factory("--sim-rate", "2000", *features_on)
    chromium.navigate(f"http://127.0.0.1:{gw.port}/")
    # Eight symbols by default, every one updating, over v2, with a 10-level ladder.
    assert chromium.wait_for("Object.values(window.tickstreamPage.snapshot().rows).filter(r => r.seq > 0).length >= 8")
    first = snapshot(chromium)
    assert first["protocol"] == "v2" and first["state"] == "open"
    assert chromium.wait_for("window.tickstreamPage.snapshot().ladderRows === 10")
    time.sleep(1.5)
    later = snapshot(chromium)
    assert later["messages"] > first["messages"]
    assert any(later["rows"][s]["last"] != first["rows"][s]["last"] for s in first["rows"]), "prices move"
    assert later["gaps"] == 0
    # Deltas by default: applied by the reference client, never out of step.
    assert later["deltas"] > 0 and later["outOfStep"] == 0 and later["mode"].startswith("deltas"), later["mode"]
    # The connection panel and the server panel (from /stats) are filled in.
    assert chromium.wait_for("document.getElementById('stats').textContent.includes('pid')")
    assert chromium.evaluate("document.getElementById('rate').textContent") != "0"
    assert "ms" in chromium.evaluate("document.getElementById('latency').textContent")
    # A symbol typed into the picker joins the table.
    chromium.evaluate("document.getElementById('symbol-input').value = 'NFLX'; document.querySelector('#picker button').click()")
    assert chromium.wait_for("'NFLX' in window.tickstreamPage.snapshot().rows")
    assert chromium.wait_for("document.getElementById('stats').textContent.includes('0 / 1')")
    os.makedirs(SHOTS, exist_ok=True)
    chromium.screenshot(os.path.join(SHOTS, "page.png"))
    assert os.path.getsize(os.path.join(SHOTS, "page.png")) > 10_000


def test_the_reference_client_rebuilds_from_deltas_exactly_the_plain_stream(gateway_factory, chromium, features_on):
    gw = gateway_factory("--sim-rate", "2000", "--sim-symbols", "AAPL,MSFT,NVDA", *features_on)
    chromium.navigate(f"http://127.0.0.1:{gw.port}/?symbols=AAPL")
    assert chromium.wait_for("window.tickstreamPage.snapshot().state === 'open'")
    # Two more clients in the page: one on deltas, one on whole states, same symbols and depth.
    chromium.evaluate("""
      window.compare = { plain: new Map(), delta: new Map(), done: false };
      const url = "ws://" + location.host + "/ws", symbols = ["AAPL", "MSFT", "NVDA"];
      const make = (delta, into) => new Tickstream.Client(url, { symbols, depth: 20, delta,
        onUpdate(update) { into.set(update.symbol + ":" + update.seq, JSON.stringify(update, Object.keys(update).sort())); } });
      window.compare.clients = [make(true, window.compare.delta), make(false, window.compare.plain)];
      window.compare.clients.forEach((c) => c.connect());
      setTimeout(() => { window.compare.clients.forEach((c) => c.close()); window.compare.done = true; }, 2000);
    """)
    assert chromium.wait_for("window.compare.done", 10)
    result = chromium.evaluate("""(() => {
      const c = window.compare, client = c.clients[0];
      let same = 0, different = 0;
      for (const [key, text] of c.delta) if (c.plain.has(key)) { if (c.plain.get(key) === text) same++; else different++; }
      return { same, different, deltas: client.stats.deltas, outOfStep: client.stats.outOfStep, books: client.books.size };
    })()""")
    assert result["different"] == 0 and result["same"] > 1000 and result["deltas"] > 1000, result
    assert result["outOfStep"] == 0 and result["books"] == 3, result


def test_the_page_names_a_typo_and_keeps_a_rate_cap(gateway_factory, chromium, features_on):
    gw = gateway_factory("--sim-rate", "2000", "--sim-symbols", "AAPL,MSFT", *features_on)
    chromium.navigate(f"http://127.0.0.1:{gw.port}/?symbols=AAPL,AAPLL&max_rate=2")
    assert chromium.wait_for("window.tickstreamPage.snapshot().unknown.includes('AAPLL')")
    assert chromium.wait_for("document.getElementById('unknown').textContent === 'AAPLL'")
    assert chromium.wait_for("window.tickstreamPage.snapshot().capped > 1000")
    page = snapshot(chromium)
    # Held back by the cap, not missed: no gaps, and at most 2 a second arrive.
    assert page["gaps"] == 0 and "at most 2/s" in page["mode"], page["mode"]
    before = page["messages"]
    time.sleep(2)
    assert snapshot(chromium)["messages"] - before <= 2 * 2 + 1


def test_the_page_follows_a_drain_to_another_instance(gateway_factory, nats_server, chromium):
    """Two instances share a port (--reuse-port) and are fed by the bus; the one serving the
    page drains; the page reconnects to the other and its seq continues in the same space."""
    gateway_factory("--bus", nats_server.url, "--sim-target", "bus", "--sim-rate", "300", "--sim-symbols", "AAA,BBB,CCC,DDD")
    port = free_port()
    admin = [free_port(), free_port()]
    common = ["--reuse-port", "--bus", nats_server.url, "--admin-token", "drain-me", "--drain-grace", "0", "--drain-duration", "0.5"]
    instances = [Gateway(*common, "--admin-port", str(a), port=port) for a in admin]
    try:
        assert all(wait_for(lambda: http_get(a, "/health/ready")[0] == 200, 10) for a in admin)
        chromium.navigate(f"http://127.0.0.1:{port}/?symbols=AAA,BBB,CCC,DDD")
        assert chromium.wait_for("Object.values(window.tickstreamPage.snapshot().rows).filter(r => r.seq > 0).length === 4")
        before = snapshot(chromium)
        assert before["gaps"] == 0

        def serving(a):
            return 'tickstream_connections{protocol="v2"} 1' in http_get(a, "/metrics")[1]

        assert wait_for(lambda: any(serving(a) for a in admin), 5)
        draining = next(a for a in admin if serving(a))
        request = urllib.request.Request(f"http://127.0.0.1:{draining}/admin/drain", method="POST",
                                         headers={"Authorization": "Bearer drain-me"})
        with urllib.request.urlopen(request, timeout=3) as response:
            assert response.status in (200, 202)
        # The notice, the close, the reconnect to the other instance, and updates again.
        assert chromium.wait_for("window.tickstreamPage.snapshot().reconnects >= 1 && window.tickstreamPage.snapshot().state === 'open'")
        assert chromium.wait_for("window.tickstreamPage.snapshot().continuity.length >= 4")
        other = next(a for a in admin if a != draining)
        assert wait_for(lambda: serving(other), 5)
        after = snapshot(chromium)
        assert after["drains"] == 1
        # One sequence space: across the move no symbol's seq went back (a jump is what passed
        # during the reconnect; the page reports it per symbol).
        for entry in after["continuity"]:
            assert entry["after"] >= entry["before"], entry
        time.sleep(1.0)
        assert snapshot(chromium)["messages"] > after["messages"]
        os.makedirs(SHOTS, exist_ok=True)
        chromium.screenshot(os.path.join(SHOTS, "page-after-drain.png"))
    finally:
        for instance in instances:
            instance.stop()


def test_the_page_resyncs_when_a_deploy_restarts_the_sequence(tmp_path, chromium):
    """Without a bus a drain deploy's new process numbers seq from 1 again, and names a new
    epoch: the page resyncs every symbol from its snapshot instead of counting a rewind, and
    its seq moves on from there without a gap."""
    import subprocess
    from conftest import BINARY, terminate
    control = str(tmp_path / "control.sock")
    sim = ["--sim-rate", "400", "--sim-symbols", "AAA,BBB,CCC,DDD", "--drain-grace", "0", "--drain-duration", "0.2"]
    old = Gateway(*sim, "--control-socket", control)
    new = None
    try:
        chromium.navigate(f"http://127.0.0.1:{old.port}/?symbols=AAA,BBB,CCC,DDD")
        assert chromium.wait_for("Object.values(window.tickstreamPage.snapshot().rows).filter(r => r.seq > 20).length === 4")
        first_epoch = snapshot(chromium)["epoch"]
        assert first_epoch
        new = subprocess.Popen([BINARY, "--port", str(free_port()), "--takeover", control, *sim],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert old.process.wait(timeout=15) == 0
        assert chromium.wait_for("window.tickstreamPage.snapshot().resyncs >= 4 && window.tickstreamPage.snapshot().state === 'open'")
        after = snapshot(chromium)
        assert after["epoch"] != first_epoch and after["gaps"] == 0
        assert [e for e in after["continuity"] if e.get("resynced")], after["continuity"]
        assert chromium.wait_for("document.getElementById('continuity').textContent.includes('resynced')")
        time.sleep(1.0)
        later = snapshot(chromium)
        assert later["gaps"] == 0 and later["messages"] > after["messages"]
    finally:
        old.stop()
        if new:
            terminate(new, 10)


def test_the_page_works_with_a_token_and_an_origin_list(gateway_factory, chromium):
    """--jwt-secret and --allowed-origins: the page passes ?token= on to /ws, and its own
    origin is what the list must allow."""
    import jwt
    secret = "a-browser-test-secret-of-32-bytes!!"
    port = free_port()
    gw = Gateway("--jwt-secret", secret, "--allowed-origins", f"http://127.0.0.1:{port}", port=port)
    try:
        token = jwt.encode({"sub": "desk", "exp": int(time.time()) + 300, "symbols": ["AAPL", "MSFT"]}, secret, algorithm="HS256")
        chromium.navigate(f"http://127.0.0.1:{gw.port}/?symbols=AAPL,MSFT&token={token}")
        assert chromium.wait_for("Object.values(window.tickstreamPage.snapshot().rows).filter(r => r.seq > 0).length === 2")
        # Without the token the page cannot open /ws (401), and says so by retrying.
        chromium.navigate(f"http://127.0.0.1:{gw.port}/?symbols=AAPL")
        assert chromium.wait_for("window.tickstreamPage.snapshot().state === 'reconnecting'")
        assert snapshot(chromium)["messages"] == 0
    finally:
        gw.stop()


def test_web_off_serves_no_page(gateway_factory):
    gw = gateway_factory("--web", "off")
    for path in ["/", "/tickstream.js", "/stats"]:
        assert http_get(gw.port, path)[0] == 404, path
    assert http_get(gw.port, "/symbols")[0] == 200
