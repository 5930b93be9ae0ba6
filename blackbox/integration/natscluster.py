"""A real NATS cluster for the tests: three (or more) Debian nats-server processes with routes
between them and JetStream on each, started from config files the way an operator writes them.
A server can be put into lame duck mode (`nats-server --signal ldm=PID`, the graceful step of
every NATS upgrade), killed, and started again on the same ports and store."""
import os
import shutil
import signal
import subprocess
import tempfile
import time

from conftest import free_port, wait_for_nats


class NatsCluster:
    def __init__(self, size=3, extra_config="", jetstream=True, lame_duck_grace="2s", client_options=None):
        binary = shutil.which("nats-server")
        if binary is None:
            raise RuntimeError("nats-server is not installed (apt-get install nats-server; .ci/run does it)")
        self.binary = binary
        self.root = tempfile.mkdtemp(prefix="tickstream-cluster-")
        # How nats-py connects to it (TLS, credentials), for the JetStream readiness check.
        self.client_options = client_options or {}
        self.names = [f"n{i + 1}" for i in range(size)]
        self.ports = {name: (free_port(), free_port()) for name in self.names}
        self.processes = {}
        for name in self.names:
            client_port, route_port = self.ports[name]
            routes = ", ".join(f"nats://127.0.0.1:{self.ports[other][1]}" for other in self.names if other != name)
            store = os.path.join(self.root, name)
            os.makedirs(store)
            jetstream_block = "jetstream { store_dir: " + repr(store).replace("'", '"') + " }" if jetstream else ""
            # One server alone is no cluster (JetStream would wait for routes).
            cluster_block = f"""cluster {{
  name: tickstream
  listen: 127.0.0.1:{route_port}
  routes: [{routes}]
}}""" if size > 1 else ""
            config = f"""
server_name: {name}
listen: 127.0.0.1:{client_port}
{jetstream_block}
{cluster_block}
lame_duck_grace_period: "{lame_duck_grace}"
lame_duck_duration: "30s"
{extra_config}
"""
            with open(self.config_path(name), "w") as f:
                f.write(config)
        for name in self.names:
            self.start(name, wait=False)
        for name in self.names:
            self.wait_listening(name)
        if jetstream:
            self.wait_jetstream()

    def config_path(self, name):
        return os.path.join(self.root, f"{name}.conf")

    def url(self, name, scheme="nats"):
        return f"{scheme}://127.0.0.1:{self.ports[name][0]}"

    def start(self, name, wait=True):
        log = open(os.path.join(self.root, f"{name}.log"), "ab")
        self.processes[name] = subprocess.Popen([self.binary, "-c", self.config_path(name)], stdout=log, stderr=log)
        if wait:
            self.wait_listening(name)

    def wait_listening(self, name):
        wait_for_nats(self.ports[name][0], self.processes[name], log=lambda: self.log(name))

    def wait_jetstream(self, seconds=20):
        """Until the cluster has elected its JetStream metadata leader (a stream can be made)."""
        import asyncio
        import nats

        async def ready():
            scheme = "tls" if "tls" in self.client_options else "nats"
            try:
                nc = await nats.connect(self.url(self.names[0], scheme), connect_timeout=1, max_reconnect_attempts=0,
                                        allow_reconnect=False, **self.client_options)
            except Exception:
                return False
            try:
                await nc.jetstream().account_info()
                return True
            except Exception:
                return False
            finally:
                await nc.close()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if asyncio.run(ready()):
                return
            time.sleep(0.2)
        raise RuntimeError("the cluster elected no JetStream leader")

    def log(self, name):
        with open(os.path.join(self.root, f"{name}.log"), errors="replace") as f:
            return f.read()

    def lame_duck(self, name):
        """Lame duck mode through the server's own signal command; returns once it has exited."""
        pid = self.processes[name].pid
        subprocess.run([self.binary, "--signal", f"ldm={pid}"], check=True, capture_output=True)
        self.processes[name].wait(timeout=60)

    def kill(self, name):
        """SIGKILL: no goodbye to its clients or its routes."""
        self.processes[name].kill()
        self.processes[name].wait()

    def stop(self):
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(self.root, ignore_errors=True)
