"""W1's market-data server on uWebSockets, for comparing against the gateway on this machine.

uWebSockets (C++) through socketify.py's prebuilt library: the WebSocket server, the topic
pub/sub and its per-iteration corking are uWS's own C++; only the simulator (the same
round-robin over SYM0000.. paced by a 1 ms timer as the gateway's) and the subscribe handling
are Python. Speaks enough of protocols v1/v2 for `loadtest market`: negotiation, subscribe,
v2 acks and updates (v2 at the depth the client asks, one topic per (version, depth, symbol)).

Usage: python w1_server.py PORT SYMBOLS RATE
"""
import json
import sys
import time

from socketify import App, OpCode

PORT, SYMBOLS, RATE = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
NAMES = ["SYM%04d" % i for i in range(SYMBOLS)]
mids = [10000 + 37 * i for i in range(SYMBOLS)]
seqs = [0] * SYMBOLS
depths_in_use = set()
app = App()


def upgrade(res, req, socket_context):
    offered = [p.strip() for p in (req.get_header("sec-websocket-protocol") or "").split(",")]
    version = next((p for p in offered if p in ("v1", "v2")), None)
    res.upgrade(req.get_header("sec-websocket-key"), version or "",
                req.get_header("sec-websocket-extensions"), socket_context, version or "v1")


def message(ws, text, opcode):
    version = ws.get_user_data()
    command = json.loads(text)
    if version == "v2":
        depth = int(command.get("depth", 1))
        depths_in_use.add(depth)
        for name in command["symbols"]:
            ws.subscribe("2/%d/%s" % (depth, name))
        ws.send(json.dumps({"type": "subscribed", "symbols": command["symbols"], "depth": depth}), OpCode.TEXT)
    else:  # v1 has no acknowledgement
        ws.subscribe("1/" + command["symbol"])


def price(cents):
    return "%d.%02d" % divmod(cents, 100)


start = time.monotonic()
emitted = 0
cursor = 0


def tick(_):
    global emitted, cursor
    due = int((time.monotonic() - start) * RATE)
    due_floor = due - max(1, RATE // 20)
    if emitted < due_floor:
        emitted = due_floor
    ts = int(time.time() * 1e6)
    while emitted < due:
        i = cursor
        cursor = cursor + 1 if cursor + 1 < SYMBOLS else 0
        mid = mids[i] = max(100, mids[i] + (emitted % 3) - 1)
        seqs[i] += 1
        bid, ask = mid - 1, mid + 1
        name = NAMES[i]
        app.publish("1/" + name, '{"symbol":"%s","price":%s}' % (name, price(ask)), OpCode.TEXT)
        for depth in depths_in_use:
            levels = ",".join("[%s,%d,%s,%d]" % (price(bid - l), 100 * (1 + (l * 7 + i) % 16), price(ask + l),
                                                 100 * (1 + (l * 5 + i) % 16)) for l in range(depth))
            app.publish("2/%d/%s" % (depth, name),
                        '{"symbol":"%s","last":%s,"bid":%s,"ask":%s,"depth":[%s],"seq":%d,"ts":%d}'
                        % (name, price(ask), price(bid), price(ask), levels, seqs[i], ts), OpCode.TEXT)
        emitted += 1


app.ws("/ws", {"upgrade": upgrade, "message": message, "max_backpressure": 1 << 20,
               "max_payload_length": 1 << 16, "idle_timeout": 0})
app.listen(PORT, lambda config: print("listening on", PORT, flush=True))
ticker = app.loop.uv_loop.create_timer(1, 1, tick, None)  # kept: dropping it stops the timer
app.run()
