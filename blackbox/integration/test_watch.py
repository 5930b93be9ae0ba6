"""A watched deploy (`--watch`) through the project's own deploy command, with real versions:
a good one is promoted; one that stalls (SIGSTOP/SIGCONT), one started with settings that fail
its clients and one that crashes (SIGSEGV) are judged against the old version's own figures
and rolled back, the connections going back the way they came, or (crashed) the standby serves
again at once and its clients resync in a new epoch. The bad versions are the real binary
behind a wrapper (versions/), never a switch inside the product."""
import json
import os
import signal
import subprocess
import time

from conftest import BINARY, ROOT, Gateway, free_port, http_get, terminate, wait_for
from rawws import sample
from test_handover import Follower, pid_of, seq_breaks

DEPLOY = os.path.join(ROOT, "deploy", "vm", "takeover-deploy.sh")
VERSIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "versions")
SIM = ["--sim-rate", "2000", "--sim-symbols", "20", "--close-timeout", "1"]
SYMBOLS = [f"SYM{i:04d}" for i in range(10)]
# A short window and a sample a few seconds of this load reach.
WATCH = ["--handover", "connections", "--watch", "3", "--watch-min-sample", "500"]


def start_old(tmp_path):
    control = str(tmp_path / "control.sock")
    return Gateway(*SIM, "--control-socket", control), control


def followers(port, count=6):
    return [Follower(port, "v2", {"type": "subscribe", "symbols": SYMBOLS, "depth": 2, "epoch": True}) for _ in range(count)]


def deploy(old, tmp_path, binary, *flags, env=None):
    """Runs the deploy script and returns (exit status, its output, the new instance's log)."""
    log = tmp_path / "new.log"
    result = subprocess.run([DEPLOY, binary, *flags], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "OLD_PID": str(old.process.pid), "LOG": str(log),
                                 "REAL_GATEWAY": os.path.abspath(BINARY), **(env or {})})
    return result.returncode, result.stdout + result.stderr, log.read_text() if log.exists() else ""


def epochs(follower):
    return [m["epoch"] for _, m in follower.messages if m.get("type") == "subscribed"]


def decisions(port, decision):
    return sample(http_get(port, "/metrics")[1], f'tickstream_deploy_watch_decisions_total{{decision="{decision}"}}')


def stop_new_instances(control):
    # The pattern must not start with "-": pkill would take it for an option.
    subprocess.run(["pkill", "-TERM", "-f", f"takeover {control}"])


def test_a_good_version_is_promoted_and_the_standby_exits_0(tmp_path):
    old, control = start_old(tmp_path)
    clients = followers(old.port)
    try:
        assert wait_for(lambda: all(len(c.updates()) > 20 for c in clients), 5)
        time.sleep(1)  # a baseline of the old version's own
        status, output, log = deploy(old, tmp_path, BINARY, *WATCH)
        assert status == 0, output
        assert "PROMOTED" in output and "watch decision: promoted" in output
        assert old.process.wait(timeout=10) == 0
        new_pid = pid_of(old.port)
        assert new_pid != old.process.pid
        assert decisions(old.port, "promoted") == 1
        time.sleep(0.5)
        for c in clients:
            assert c.closed is None, "no client noticed"
            assert seq_breaks(c.updates()) == [], "seq continuous through the deploy and the watch"
            assert len(set(epochs(c))) == 1
    finally:
        old.stop()
        stop_new_instances(control)


def rolled_back(tmp_path, binary, *flags, figure):
    """Deploys a bad version under load: it must be rolled back with 0 reconnects, 0 gaps and
    seq continuous, the old version serving at the end."""
    old, control = start_old(tmp_path)
    clients = followers(old.port)
    try:
        assert wait_for(lambda: all(len(c.updates()) > 20 for c in clients), 5)
        time.sleep(1)
        started = time.monotonic()
        status, output, log = deploy(old, tmp_path, binary, *WATCH, *flags)
        took = time.monotonic() - started
        assert status == 3, output + log
        assert "ROLLED BACK" in output and "watch decision: rolled back" in log, output + log
        assert f"{figure}:" in log, log
        assert took < 3 + 10, "decided within the window (plus the deploy's own start)"
        assert old.process.poll() is None
        assert pid_of(old.port) == old.process.pid
        assert decisions(old.port, "rolled_back") == 1
        count = [len(c.updates()) for c in clients]
        time.sleep(1)
        for c, before in zip(clients, count):
            assert c.closed is None, "no reconnect: the connection went there and came back"
            assert len(c.updates()) > before, "served by the old version again"
            assert seq_breaks(c.updates()) == [], "0 gaps, seq continuous both ways"
            assert len(set(epochs(c))) == 1
    finally:
        old.stop()
        stop_new_instances(control)


def test_a_stalling_version_is_rolled_back_without_a_reconnect(tmp_path):
    rolled_back(tmp_path, os.path.join(VERSIONS, "stall.sh"), figure="lag")


def test_a_version_whose_settings_fail_its_clients_is_rolled_back(tmp_path):
    """A real misconfiguration: a liveness timeout shorter than these clients (which read but
    never answer pings) can meet. The new version closes them as idle; the share of failed
    sessions decides, well before the window ends."""
    old, control = start_old(tmp_path)
    clients = followers(old.port)
    try:
        assert wait_for(lambda: all(len(c.updates()) > 20 for c in clients), 5)
        time.sleep(1)
        status, output, log = deploy(old, tmp_path, BINARY, *WATCH, "--watch-min-sessions", "5",
                                     "--ping-interval", "0.2", "--idle-timeout", "0.4")
        assert status == 3, output + log
        assert "failures:" in log and "failed sessions" in log, log
        assert pid_of(old.port) == old.process.pid
        assert decisions(old.port, "rolled_back") == 1
    finally:
        old.stop()
        stop_new_instances(control)


def test_a_crashing_version_leaves_the_standby_serving_within_a_second(tmp_path):
    old, control = start_old(tmp_path)
    clients = followers(old.port, 4)
    try:
        assert wait_for(lambda: all(len(c.updates()) > 20 for c in clients), 5)
        time.sleep(1)
        status, output, log = deploy(old, tmp_path, os.path.join(VERSIONS, "crash.sh"), *WATCH, "--watch", "10",
                                     env={"CRASH_AFTER": "2"})
        assert status == 4, output + log
        assert "CRASHED" in output and "(confirmed)" in output, output
        assert pid_of(old.port) == old.process.pid
        assert decisions(old.port, "crashed") == 1
        # Every client lost its connection with the crashed process, once; as clients do, they
        # come back and get snapshots in a new epoch: never a silent rewind.
        assert all(c.closed == "eof" for c in clients)
        last_seq = {}
        for c in clients:
            for _, m in c.updates():
                last_seq[m["symbol"]] = max(last_seq.get(m["symbol"], 0), m["seq"])
        old_epoch = epochs(clients[0])[0]
        back = followers(old.port, 2)
        assert wait_for(lambda: all(len(c.updates()) > 5 for c in back), 5)
        for c in back:
            assert epochs(c)[0] != old_epoch, "the standby's sequence is behind what the crashed process sent: a new epoch says so"
        log_of_old = old.process
        assert log_of_old.poll() is None
    finally:
        old.stop()
        stop_new_instances(control)


def test_the_standby_accepts_at_once_when_the_new_process_dies(tmp_path):
    """The crash is seen by the standby through the control connection's end: new connections
    are served by it within a second of the death, with nothing else to notice it."""
    old, control = start_old(tmp_path)
    new = subprocess.Popen([BINARY, "--port", str(free_port()), "--takeover", control, "--control-socket", control, *SIM, *WATCH,
                            "--watch", "30"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert old.process.poll() is None
        assert wait_for(lambda: pid_of(old.port) == new.pid, 10)
        assert wait_for(lambda: sample(http_get(old.port, "/metrics")[1], "tickstream_deploy_watching") == 1, 5)
        new.send_signal(signal.SIGKILL)
        died = time.monotonic()
        new.wait(5)
        assert wait_for(lambda: pid_of(old.port) == old.process.pid, 5)
        assert time.monotonic() - died < 1.0
        assert http_get(old.port, "/health/ready")[0] == 200
    finally:
        terminate(new, 5)
        old.stop()


def test_a_deploy_during_a_watched_deploy_is_refused(tmp_path):
    old, control = start_old(tmp_path)
    new = subprocess.Popen([BINARY, "--port", str(free_port()), "--takeover", control, "--control-socket", control, *SIM, *WATCH,
                            "--watch", "30"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert wait_for(lambda: pid_of(old.port) == new.pid, 10)
        assert wait_for(lambda: sample(http_get(old.port, "/metrics")[1], "tickstream_deploy_watching") == 1, 5)
        third = subprocess.run([BINARY, "--port", str(free_port()), "--takeover", control, *SIM],
                               capture_output=True, text=True, timeout=20)
        assert third.returncode != 0
        assert "takeover refused" in third.stderr and "one deploy at a time" in third.stderr, third.stderr
        assert pid_of(old.port) == new.pid, "the watched version keeps serving"
        assert new.poll() is None and old.process.poll() is None
    finally:
        terminate(new, 5)
        old.stop()


def test_watch_needs_a_handover_of_the_connections():
    result = subprocess.run([BINARY, "--takeover", "/tmp/x.sock", "--watch", "5"], capture_output=True, text=True, timeout=10)
    assert result.returncode == 2 and "--watch needs --takeover and --handover connections" in result.stderr


def under_loadtest(tmp_path, binary, *flags):
    """A watched deploy of `binary` in the middle of a loadtest run (40 clients, reconnects
    counted, half of them v2 asking for the epoch): returns the deploy's exit status as the
    load test saw it and the load test's report."""
    from test_loadtest import run_loadtest
    old, control = start_old(tmp_path)
    deploy = (f"OLD_PID={old.process.pid} LOG={tmp_path}/new.log REAL_GATEWAY={os.path.abspath(BINARY)} CRASH_AFTER=2 "
              f"{DEPLOY} {binary} {' '.join(WATCH)} {' '.join(flags)}")
    try:
        result = run_loadtest("--url", old.url + "/ws", "--conns", "40", "--subs", "5", "--symbols", "20",
                              "--warmup", "1", "--duration", "9", "--reconnect", "--during", deploy, "--during-after", "1",
                              timeout=90)
        return result.stdout, old
    finally:
        old.stop()
        stop_new_instances(control)


def test_under_load_a_stalling_version_costs_no_reconnect_and_no_gap(tmp_path):
    out, _ = under_loadtest(tmp_path, os.path.join(VERSIONS, "stall.sh"))
    assert "during          exited 3" in out, out
    assert "seq gaps        0 (updates missed: 0)" in out, out
    assert "reconnects      0," in out and "0 abrupt closes" in out, out
    assert "0 failed dials, 0 unexpected closes" in out, out


def test_under_load_a_crashing_version_costs_one_reconnect_and_no_rewind(tmp_path):
    out, _ = under_loadtest(tmp_path, os.path.join(VERSIONS, "crash.sh"), "--watch", "10")
    assert "during          exited 4" in out, out
    assert "reconnects      40," in out and "0 never came back" in out, out
    # The standby's market is behind what the crashed process sent: the v2 clients (20 x 5
    # subscriptions) resync in its new epoch, none sees a rewind.
    assert "0 seq rewinds, 100 resynced in a new epoch" in out, out
