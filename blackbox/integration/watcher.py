"""A well-behaved v2 subscriber that runs beside a hostile test on its own thread and counts
what it receives and every gap in `seq`: the proof that an attack on one connection costs the
others nothing."""
import asyncio
import json
import threading

import websockets


class Watcher:
    def __init__(self, url: str, symbols: list[str], depth: int = 1, headers: dict | None = None):
        self.url, self.symbols, self.depth, self.headers = url, symbols, depth, headers or {}
        self.received = 0
        self.gaps = 0
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def __enter__(self):
        self._thread.start()
        assert self._ready.wait(10), f"watcher did not start: {self.error!r}"
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(10)

    async def _run(self):
        try:
            async with websockets.connect(self.url + "/ws", subprotocols=["v2"], max_queue=None,
                                          additional_headers=self.headers) as ws:
                await ws.send(json.dumps({"type": "subscribe", "symbols": self.symbols, "depth": self.depth}))
                last = {}
                while not self._stop.is_set():
                    try:
                        msg = json.loads(await asyncio.wait_for(ws.recv(), 0.2))
                    except asyncio.TimeoutError:
                        continue
                    if msg.get("type") == "subscribed":
                        self._ready.set()
                        continue
                    if "seq" not in msg:
                        continue
                    symbol = msg["symbol"]
                    if symbol in last and msg["seq"] != last[symbol] + 1:
                        self.gaps += 1
                    last[symbol] = msg["seq"]
                    self.received += 1
        except BaseException as error:  # reported by the test through `healthy`
            self.error = error
            self._ready.set()

    def assert_healthy(self, minimum: int = 1):
        assert self.error is None, f"the well-behaved client failed: {self.error!r}"
        assert self.gaps == 0, f"the well-behaved client saw {self.gaps} gaps"
        assert self.received >= minimum, f"the well-behaved client received only {self.received}"
