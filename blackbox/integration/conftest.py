"""Starts the real gateway binary for black-box tests."""
import json
import os
import shutil
import tempfile
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.environ.get("TICKSTREAM_GATEWAY", os.path.join(ROOT, ".build", "release", "gateway"))


def http_get(port: int, path: str) -> tuple[int, str]:
    """GET on the loopback port: (status, body), errors included."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=3) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except (urllib.error.URLError, OSError) as error:
        return 0, str(error)


def bus_connected(port: int) -> bool:
    """Whether the instance's /metrics says it is connected to a NATS server (the sample line,
    not its HELP text, which holds the same words)."""
    return "tickstream_bus_connected 1" in http_get(port, "/metrics")[1].splitlines()


def wait_for(condition, seconds=10.0, step=0.05) -> bool:
    """Polls `condition` until it holds or `seconds` pass; its last answer."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def terminate(process: subprocess.Popen, seconds: float) -> int:
    """SIGTERM, then SIGKILL if it is still there after `seconds`; its exit status."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gateway:
    def __init__(self, *flags: str, env: dict | None = None, wrapper: list[str] | None = None, port: int | None = None):
        self.port = port or free_port()
        # A quick drain by default so teardown (SIGTERM) is fast; a test's own flags come later
        # and win.
        args = [*(wrapper or []), BINARY, "--host", "127.0.0.1", "--port", str(self.port),
                "--drain-grace", "0", "--drain-duration", "0.2", *flags]
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        env={**os.environ, **(env or {})})
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"gateway exited: {self.process.stdout.read().decode()}")
                time.sleep(0.02)
        raise RuntimeError("gateway did not start listening")

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def stop(self) -> int:
        return terminate(self.process, 15)

    def output(self) -> str:
        return self.process.stdout.read().decode(errors="replace")


@pytest.fixture
def gateway_factory():
    started = []

    def start(*flags, env=None, wrapper=None):
        gw = Gateway(*flags, env=env, wrapper=wrapper)
        started.append(gw)
        return gw

    yield start
    for gw in started:
        gw.stop()


@pytest.fixture(scope="session")
def features_on(tmp_path_factory):
    """`--flags-file` flags turning every gated feature (deltas, rate caps) on for everyone:
    without a flag they ship dark (docs/flags.md)."""
    path = tmp_path_factory.mktemp("flags") / "all-on.json"
    path.write_text(json.dumps({"delta-updates": {"enabled": True, "percent": 100},
                                "rate-caps": {"enabled": True, "percent": 100}}))
    return ["--flags-file", str(path)]


@pytest.fixture
def certs(tmp_path):
    """A test CA and certificates from scripts/make-test-certificates.sh (its header lists them)."""
    folder = tmp_path / "certs"
    subprocess.run([os.path.join(ROOT, "scripts", "make-test-certificates.sh"), str(folder)], check=True)
    return folder


@pytest.fixture
def echo_gateway(gateway_factory):
    return gateway_factory("--echo", "--echo-max-message-bytes", "65536", "--handshake-timeout", "1", "--close-timeout", "2")


def wait_for_nats(port: int, process: subprocess.Popen, seconds=10.0, log=lambda: ""):
    """Until the nats-server on `port` greets with INFO; an error (with `log()`) if it exits
    or never does."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
                s.settimeout(1)
                if s.recv(4).startswith(b"INFO"):
                    return
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"nats-server on port {port} exited at start: {log()[-2000:]}")
            time.sleep(0.02)
    raise RuntimeError(f"nats-server on port {port} did not start")


class NatsServer:
    """A real nats-server (Debian's, with JetStream) on a free loopback port, its store in a
    temporary directory that outlives restarts, so a test can kill it and bring it back."""

    def __init__(self, port: int | None = None, jetstream: bool = True):
        self.port = port or free_port()
        self.store = tempfile.mkdtemp(prefix="tickstream-nats-")
        self.jetstream = jetstream
        self.process = None
        self.start()

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self):
        binary = shutil.which("nats-server")
        if binary is None:
            raise RuntimeError("nats-server is not installed (apt-get install nats-server; .ci/run does it)")
        args = [binary, "-a", "127.0.0.1", "-p", str(self.port)]
        if self.jetstream:
            args += ["-js", "-sd", self.store]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_nats(self.port, self.process)

    def kill(self):
        """SIGKILL: no goodbye to its clients."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self):
        if self.process:
            terminate(self.process, 10)
        shutil.rmtree(self.store, ignore_errors=True)


@pytest.fixture
def nats_server():
    server = NatsServer()
    yield server
    server.stop()
