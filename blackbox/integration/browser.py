"""Debian's chromium, headless, driven over the DevTools protocol with the websockets client the
tests already use: open a page, evaluate JavaScript in it, take a screenshot."""
import base64
import itertools
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request

from websockets.sync.client import connect

from conftest import free_port


class HeadlessChromium:
    def __init__(self, width=1280, height=1000):
        binary = shutil.which("chromium") or shutil.which("chromium-browser")
        if binary is None:
            raise RuntimeError("chromium is not installed (apt-get install chromium; .ci/run does it)")
        self.port = free_port()
        self.profile = tempfile.mkdtemp(prefix="tickstream-chromium-")
        self.process = subprocess.Popen(
            [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
             f"--remote-debugging-port={self.port}", f"--user-data-dir={self.profile}", f"--window-size={width},{height}",
             "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.ids = itertools.count(1)
        target = self._page_target()
        self.connection = connect(target["webSocketDebuggerUrl"], max_size=None, open_timeout=10)
        self.socket = self.connection.__enter__()
        self.call("Page.enable")
        self.call("Runtime.enable")

    def _page_target(self):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/list", timeout=1) as response:
                    pages = [t for t in json.load(response) if t.get("type") == "page"]
                    if pages:
                        return pages[0]
            except OSError:
                pass
            if self.process.poll() is not None:
                raise RuntimeError("chromium exited at start")
            time.sleep(0.1)
        raise RuntimeError("chromium's DevTools endpoint did not come up")

    def call(self, method, **params):
        """One DevTools command; events in between are skipped."""
        request = next(self.ids)
        self.socket.send(json.dumps({"id": request, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=30))
            if message.get("id") == request:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def navigate(self, url):
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.evaluate("document.readyState") == "complete":
                return
            time.sleep(0.05)
        raise RuntimeError(f"{url} did not load")

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression, seconds=15.0):
        """Polls a JavaScript expression until it is truthy; returns its last value."""
        deadline = time.monotonic() + seconds
        value = None
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.1)
        return value

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", format="png")["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        try:
            self.connection.__exit__(None, None, None)
        finally:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
            shutil.rmtree(self.profile, ignore_errors=True)
