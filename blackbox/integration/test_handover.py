"""Black-box tests of the live handover (`--takeover PATH --handover connections`): clients of
the old instance keep their TCP connection through a deploy, with `seq` continuing."""
import asyncio
import json
import os
import socket
import struct
import subprocess
import threading
import time

import websockets

from conftest import BINARY, Gateway, free_port, http_get, terminate, wait_for
from rawws import RawClient, frame, sample

SIM = ["--sim-rate", "2000", "--sim-symbols", "20", "--close-timeout", "1"]


class Follower:
    """A raw WebSocket client that reads on its own thread, keeping every message with its
    arrival time, and notes a Close frame or EOF: the things a handover must never show."""

    def __init__(self, port, protocol, subscribe=None, read=True, path="/ws"):
        extra = f"Sec-WebSocket-Protocol: {protocol}\r\n" if protocol else ""
        self.client = RawClient(port, path=path, extra=extra)
        self.messages = []  # (monotonic time, parsed JSON)
        self.closed = None  # "eof" or ("close", code)
        self.lock = threading.Lock()
        for command in subscribe if isinstance(subscribe, list) else [subscribe] if subscribe else []:
            self.client.send(frame(0x1, json.dumps(command).encode()))
        self.thread = None
        if read:
            self.start()

    def start(self):
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        self.client.sock.settimeout(None)
        while True:
            try:
                got = self.client.read_frame()
            except OSError:
                got = None
            if got is None:
                self.closed = "eof"
                return
            opcode, payload = got
            if opcode == 0x8:
                self.closed = ("close", struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None)
                return
            if opcode == 0x1:
                with self.lock:
                    self.messages.append((time.monotonic(), json.loads(payload)))

    def updates(self):
        with self.lock:
            return [m for m in self.messages if "symbol" in m[1] and m[1].get("type") is None]

    def longest_gap(self, since, until):
        times = [t for t, _ in self.updates() if since <= t <= until]
        return max((b - a for a, b in zip(times, times[1:])), default=float("inf"))


def seq_breaks(updates):
    """(symbol, previous, next) wherever a symbol's seq is not previous + 1."""
    last, breaks = {}, []
    for _, message in updates:
        symbol, seq = message["symbol"], message["seq"]
        if symbol in last and seq != last[symbol] + 1:
            breaks.append((symbol, last[symbol], seq))
        last[symbol] = seq
    return breaks


def pid_of(port):
    return json.loads(http_get(port, "/health/live")[1])["pid"]


def start_successor(control, *flags):
    return subprocess.Popen([BINARY, "--port", str(free_port()), "--takeover", control, "--control-socket", control,
                             "--handover", "connections", "--drain-grace", "0", "--drain-duration", "0.2", *flags],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_clients_keep_their_connection_and_seq_through_a_handover(tmp_path):
    control = str(tmp_path / "control.sock")
    old = Gateway(*SIM, "--control-socket", control, "--max-queue-bytes", "65536", "--slow-consumer-timeout", "60")
    new = None
    try:
        symbols = [f"SYM{i:04d}" for i in range(20)]
        followers = [Follower(old.port, "v2", {"type": "subscribe", "symbols": symbols[:10], "depth": depth})
                     for depth in (1, 5, 50)]
        followers += [Follower(old.port, "v1", [{"type": "subscribe", "symbol": s} for s in symbols[5:15]]) for _ in range(2)]
        # Mid-message: the first fragment of a subscribe before the handover, the rest after.
        fragmented = Follower(old.port, "v2")
        command = json.dumps({"type": "subscribe", "symbols": ["SYM0019"], "depth": 2}).encode()
        fragmented.client.send(frame(0x1, command[:20], fin=False))
        # Mid-frame: half of a frame's bytes before, the other half after.
        split = Follower(old.port, "v2")
        split_frame = frame(0x1, json.dumps({"type": "subscribe", "symbols": ["SYM0018"]}).encode())
        split.client.send(split_frame[:9])
        # Slow: a deep subscription it does not read, so the old instance conflates for it.
        slow = Follower(old.port, "v2", {"type": "subscribe", "symbols": symbols, "depth": 50}, read=False)
        slow.client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        # websockets with permessage-deflate, on its own loop.
        loop = asyncio.new_event_loop()
        compressed = loop.run_until_complete(websockets.connect(old.url + "/ws", subprotocols=["v2"], max_size=None, close_timeout=0.5))
        loop.run_until_complete(compressed.send(json.dumps({"type": "subscribe", "symbols": symbols[:4], "depth": 3})))
        assert "permessage-deflate" in compressed.response.headers.get("Sec-WebSocket-Extensions", "")
        compressed_updates = []

        compressed_replies = []

        async def drain_compressed(until):
            while time.monotonic() < until:
                try:
                    message = json.loads(await asyncio.wait_for(compressed.recv(), 0.2))
                except asyncio.TimeoutError:
                    continue
                if "symbol" in message and message.get("type") is None:
                    compressed_updates.append((time.monotonic(), message))
                else:
                    compressed_replies.append(message)

        loop.run_until_complete(drain_compressed(time.monotonic() + 1.0))
        assert wait_for(lambda: sample(http_get(old.port, "/metrics")[1], "tickstream_conflation_episodes_total") >= 1, 10)
        assert all(f.updates() for f in followers), "every client receives before the deploy"
        old_pid = pid_of(old.port)

        switched_at = time.monotonic()
        new = start_successor(control, *SIM)
        assert old.process.wait(timeout=15) == 0
        assert wait_for(lambda: pid_of(old.port) == new.pid, 5)
        fragmented.client.send(frame(0x0, command[20:], fin=True))
        split.client.send(split_frame[9:])
        slow.start()
        # A compressed message from the client (websockets deflates what it sends) after the move.
        loop.run_until_complete(compressed.send(json.dumps({"type": "list_symbols", "pad": "x" * 300})))
        loop.run_until_complete(drain_compressed(time.monotonic() + 1.5))
        assert any(m.get("type") == "symbols" for m in compressed_replies), compressed_replies
        time.sleep(0.5)
        ended_at = time.monotonic()

        log = old.output()
        assert "handover: connections moved to the new instance" in log, log
        for f in followers + [fragmented, split, slow]:
            assert f.closed is None, f.closed
        assert compressed.close_code is None
        for f in followers:
            after = [m for t, m in f.updates() if t > switched_at + 1]
            assert after, "updates keep coming after the deploy"
            if f.client.response_head.find("v2") >= 0:
                assert seq_breaks(f.updates()) == []
            assert f.longest_gap(switched_at - 0.5, ended_at) < 1.0
        assert seq_breaks(compressed_updates) == []
        assert [m for t, m in compressed_updates if t > switched_at + 1]
        # The fragment and the split frame were completed on the new instance, which answered.
        for f, symbol in ((fragmented, "SYM0019"), (split, "SYM0018")):
            assert wait_for(lambda: any(m.get("type") == "subscribed" for _, m in f.messages), 5)
            assert wait_for(lambda: any(m.get("symbol") == symbol for _, m in f.updates()), 5)
        # The slow client's stream is intact: whole frames, seq never going back per symbol.
        assert wait_for(lambda: len(slow.updates()) > 100, 10)
        last = {}
        for _, m in slow.updates():
            assert m["seq"] > last.get(m["symbol"], 0)
            last[m["symbol"]] = m["seq"]
        metrics = http_get(old.port, "/metrics")[1]
        assert sample(metrics, "tickstream_handover_adopted_total") == len(followers) + 4
        assert sample(metrics, "tickstream_handover_failed_total") == 0
        # New clients are served by the new instance, seq continuing from the old one's.
        fresh = Follower(old.port, "v2", {"type": "subscribe", "symbols": ["SYM0001"]})
        assert wait_for(lambda: fresh.updates(), 5)
        assert fresh.updates()[0][1]["seq"] > 1
        assert old_pid != new.pid
        loop.run_until_complete(compressed.close())
        loop.close()
    finally:
        old.stop()
        if new is not None:
            terminate(new, 20)


def read_line(sock):
    line = b""
    while not line.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk:
            return None
        line += chunk
    return line[:-1].decode()


def read_exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        assert chunk, "control socket closed"
        data += chunk
    return data


def receive_message(sock):
    """One framed message of the handover: (kind, descriptors, body)."""
    header, fds, _, _ = socket.recv_fds(sock, 12, 250)
    header += read_exactly(sock, 12 - len(header))
    kind, count, length = header[:4].decode(), *struct.unpack("<II", header[4:])
    assert count == len(fds)
    return kind, fds, read_exactly(sock, length)


def ask_for_connections(control, request=b"TAKEOVER\n"):
    """The successor's opening, played by the test: takes the listener, asks for the connections
    and returns the control socket, the listener and the state format announced. A bare
    TAKEOVER is what builds before state format 2 send."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.connect(control)
    sock.sendall(request)
    _, fds, _, _ = socket.recv_fds(sock, 1, 1)
    sock.sendall(b"READY\nHANDOVER\n")
    return sock, socket.socket(fileno=fds[0]), read_line(sock)


def ends_of(clients, seconds=8):
    """How each raw client's connection ended: ("close", code) or "eof" (None: still open)."""
    ends = []
    for client in clients:
        client.sock.settimeout(seconds)
        try:
            got = client.read_close()
            ends.append("eof" if got is None else ("close", got[0]))
        except socket.timeout:
            ends.append(None)
        except ConnectionResetError:
            ends.append("eof")
    return ends


def test_a_refused_handover_falls_back_to_draining(tmp_path):
    control = str(tmp_path / "control.sock")
    old = Gateway(*SIM, "--control-socket", control)
    try:
        clients = [RawClient(old.port, path="/ws", extra="Sec-WebSocket-Protocol: v2\r\n") for _ in range(5)]
        for client in clients:
            client.send(frame(0x1, json.dumps({"type": "subscribe", "symbols": ["SYM0001"]}).encode()))
        sock, listener, announced = ask_for_connections(control)
        assert announced == "STATE 1"
        sock.sendall(b"REFUSE state format 1 cannot be read here\n")
        assert ends_of(clients) == [("close", 1001)] * 5
        assert old.process.wait(timeout=10) == 0
        assert "refused by the successor: REFUSE state format 1" in old.output()
        sock.close()
        listener.close()
    finally:
        old.stop()


def test_the_running_instance_writes_the_newest_format_its_successor_reads(tmp_path):
    control = str(tmp_path / "control.sock")
    old = Gateway(*SIM, "--control-socket", control)
    try:
        sock, listener, announced = ask_for_connections(control, b"TAKEOVER 2\n")
        assert announced == "STATE 2"
        sock.sendall(b"REFUSE testing\n")
        assert old.process.wait(timeout=10) == 0
        sock.close()
        listener.close()
    finally:
        old.stop()


def subscribed_epoch(port):
    """The epoch a fresh v2 subscriber is told, and the seq of its first SYM0001 update."""
    client = Follower(port, "v2", {"type": "subscribe", "symbols": ["SYM0001"], "epoch": True})
    try:
        assert wait_for(lambda: any(m.get("type") == "subscribed" for _, m in client.messages) and client.updates(), 5)
        ack = next(m for _, m in client.messages if m.get("type") == "subscribed")
        return ack["epoch"], client.updates()[0][1]["seq"]
    finally:
        client.client.sock.close()


def test_the_epoch_survives_a_handover_and_changes_when_seq_restarts(tmp_path):
    """The epoch names the sequence space: a live handover continues seq, so the epoch stays;
    a deploy that drains to a fresh process without a bus restarts seq, so it changes."""
    control = str(tmp_path / "control.sock")
    old = Gateway(*SIM, "--control-socket", control)
    second = third = None
    try:
        epoch, seq = subscribed_epoch(old.port)
        assert len(epoch) == 16 and int(epoch, 16) > 0
        # A client that does not ask sees exactly the reply it always did.
        plain = Follower(old.port, "v2", {"type": "subscribe", "symbols": ["SYM0001"]})
        assert wait_for(lambda: any(m.get("type") == "subscribed" for _, m in plain.messages), 5)
        assert next(m for _, m in plain.messages if m.get("type") == "subscribed") == {
            "type": "subscribed", "symbols": ["SYM0001"], "depth": 1}
        plain.client.sock.close()
        second = start_successor(control, *SIM)
        assert old.process.wait(timeout=15) == 0
        assert wait_for(lambda: http_get(old.port, "/health/live")[0] == 200 and pid_of(old.port) == second.pid, 10)
        handed_epoch, handed_seq = subscribed_epoch(old.port)
        assert handed_epoch == epoch and handed_seq > seq
        # A drain deploy: the fresh process starts its own sequence, and says so.
        third = subprocess.Popen([BINARY, "--port", str(free_port()), "--takeover", control, "--control-socket", control,
                                  "--handover", "drain", *SIM], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert second.wait(timeout=15) == 0
        assert wait_for(lambda: pid_of(old.port) == third.pid, 10)
        fresh_epoch, fresh_seq = subscribed_epoch(old.port)
        assert fresh_epoch != epoch and fresh_seq < handed_seq
    finally:
        old.stop()
        for process in (second, third):
            if process:
                terminate(process, 10)


def test_a_successor_dying_mid_handover_leaves_every_client_with_a_clean_end(tmp_path):
    """250 clients go in two batches. The successor confirms the first (200) and dies while
    reading the second: the first batch's connections end with the successor (EOF, as any
    process's sockets do when it dies); the second batch was never confirmed, so the old instance
    takes it back and drains it with 1001. Nobody hangs."""
    control = str(tmp_path / "control.sock")
    old = Gateway(*SIM, "--control-socket", control, "--max-connections-per-address", "1000")
    try:
        clients = [RawClient(old.port, path="/ws", extra="Sec-WebSocket-Protocol: v2\r\n") for _ in range(250)]
        for client in clients:
            client.send(frame(0x1, json.dumps({"type": "subscribe", "symbols": ["SYM0001"]}).encode()))
        time.sleep(0.5)
        sock, listener, announced = ask_for_connections(control)
        sock.sendall(b"ACCEPT\n")
        kind, _, market = receive_message(sock)
        assert kind == "MRKT" and len(market) > 20 * 100
        kind, first, _ = receive_message(sock)
        assert (kind, len(first)) == ("CONN", 200)
        sock.sendall(b"ADOPTED 200\n")
        kind, second, _ = receive_message(sock)
        assert (kind, len(second)) == ("CONN", 50)
        for fd in first + second:  # the successor dies: its descriptors close with it
            os.close(fd)
        sock.close()
        ends = ends_of(clients)
        assert ends.count("eof") == 200 and ends.count(("close", 1001)) == 50, ends
        assert old.process.wait(timeout=10) == 0
        log = old.output()
        assert "handover stopped short: the successor stopped answering" in log and "moved=200" in log, log
        listener.close()
    finally:
        old.stop()


def predecessor_sockets(control):
    """What a running instance played by the test has: a TCP listener and a control socket."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(control)
    server.listen(1)
    return listener, server


def hand_over_listener(server, listener, seen, bare_only=False):
    """The takeover's opening, predecessor side: returns the control connection after READY.
    `bare_only` plays a build that knows only a bare TAKEOVER: it closes on anything else, as
    builds before state format 2 did, and the successor must ask again the old way."""
    conn, _ = server.accept()
    conn.settimeout(10)
    seen["request"] = read_line(conn)
    if bare_only and seen["request"] != "TAKEOVER":
        seen["first request"] = seen["request"]
        conn.close()
        conn, _ = server.accept()
        conn.settimeout(10)
        seen["request"] = read_line(conn)
    socket.send_fds(conn, [b"L"], [listener.fileno()])
    seen["ready"] = read_line(conn)
    return conn


def fake_predecessor(control, behaviour):
    """A running instance played by the test: hands over a listener, then misbehaves."""
    listener, server = predecessor_sockets(control)
    seen = {}

    def serve():
        conn = hand_over_listener(server, listener, seen, bare_only=behaviour == "format 1 only")
        if behaviour == "old version":  # an instance without handover closes after READY
            conn.close()
            return
        seen["handover"] = read_line(conn)
        if behaviour == "unknown format":
            conn.sendall(b"STATE 999\n")
            seen["answer"] = read_line(conn)
        elif behaviour == "garbage":
            conn.sendall(b"STATE 1\n")
            seen["answer"] = read_line(conn)
            conn.sendall(b"JUNK" + struct.pack("<II", 0, 3) + b"abc")
            seen["after"] = read_line(conn)
        elif behaviour == "dies after the market":
            conn.sendall(b"STATE 1\n")
            seen["answer"] = read_line(conn)
            conn.sendall(b"MRKT" + struct.pack("<II", 0, 5) + b"\0\0\0\0\0")
        elif behaviour == "format 1 only":
            conn.sendall(b"STATE 1\n")
            seen["answer"] = read_line(conn)
            market = encode_market("SYM0001", 1000)
            conn.sendall(b"MRKT" + struct.pack("<II", 0, len(market)) + market + b"DONE" + struct.pack("<II", 0, 0))
        conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener, server, thread, seen


def test_a_successor_refuses_what_it_cannot_read_and_serves_anyway(tmp_path):
    for behaviour, expected in [("unknown format", {"request": "TAKEOVER 3", "answer": "REFUSE state format 999 cannot be read here (this version reads 1...3)"}),
                                ("garbage", {"request": "TAKEOVER 3", "answer": "ACCEPT", "after": "REFUSE unknown message \"JUNK\""}),
                                ("old version", {"request": "TAKEOVER 3"}),
                                ("dies after the market", {"request": "TAKEOVER 3", "answer": "ACCEPT"}),
                                ("format 1 only", {"first request": "TAKEOVER 3", "request": "TAKEOVER", "answer": "ACCEPT"})]:
        control = str(tmp_path / f"{behaviour.replace(' ', '-')}.sock")
        listener, server, thread, seen = fake_predecessor(control, behaviour)
        new = start_successor(control, *SIM)
        try:
            thread.join(10)
            assert seen["ready"] == "READY"
            for key, value in expected.items():
                assert seen[key] == value, (behaviour, seen)
            port = listener.getsockname()[1]
            assert wait_for(lambda: http_get(port, "/health/live")[0] == 200, 10), behaviour
            assert pid_of(port) == new.pid
            assert sample(http_get(port, "/metrics")[1], "tickstream_handover_adopted_total") == 0
        finally:
            terminate(new, 10)
            listener.close()
            server.close()


def test_handover_needs_a_takeover():
    result = subprocess.run([BINARY, "--handover", "connections"], capture_output=True, text=True, timeout=10)
    assert result.returncode == 2 and "--handover connections needs --takeover" in result.stderr


def test_in_a_fleet_the_successor_continues_the_bus_sequence(tmp_path, nats_server):
    """With --bus, seq comes from the bus: the handed-over clients never see it repeat or go
    back, and any jump is an update published during the pause, counted as missed."""
    control = str(tmp_path / "control.sock")
    writer = Gateway("--bus", nats_server.url, "--sim-target", "bus", "--sim-rate", "200", "--sim-symbols", "5")
    old = Gateway("--bus", nats_server.url, "--control-socket", control, "--close-timeout", "1")
    new = None
    try:
        symbols = [f"SYM{i:04d}" for i in range(5)]
        followers = [Follower(old.port, "v2", {"type": "subscribe", "symbols": symbols, "depth": depth}) for depth in (1, 10)]
        assert wait_for(lambda: all(len(f.updates()) > 50 for f in followers), 15)
        switched_at = time.monotonic()
        new = start_successor(control, "--bus", nats_server.url, "--close-timeout", "1")
        assert old.process.wait(timeout=15) == 0
        assert wait_for(lambda: all(len([t for t, _ in f.updates() if t > switched_at + 1]) > 50 for f in followers), 15)
        metrics = http_get(old.port, "/metrics")[1]
        missed = sample(metrics, "tickstream_bus_missed_updates_total")
        assert sample(metrics, "tickstream_handover_adopted_total") == 2
        for f in followers:
            assert f.closed is None
            breaks = seq_breaks(f.updates())
            assert all(after > before for _, before, after in breaks), breaks  # never repeated, never back
            assert sum(after - before - 1 for _, before, after in breaks) <= missed, (breaks, missed)
    finally:
        for gw in (old, writer):
            gw.stop()
        if new is not None:
            terminate(new, 20)


def encode_session(symbol, depth, input_bytes=b""):
    """A SessionHandover record written by the test, field by field (HandoverFormat 1): a v2
    connection subscribed to `symbol` at `depth`, nothing pending but `input_bytes`."""
    def data(b):
        return struct.pack("<I", len(b)) + b
    record = b"\x01" + data(b"v2")                 # subprotocol
    record += b"\x00"                              # no permessage-deflate
    record += struct.pack("<QQQI", 0, 2**64 - 1, 0, 0)  # silent for, since ping (never), rate debt, refusals
    record += b"\x00" + b"\x00" + data(b"")        # no fragment opcode, not compressed, no fragments
    record += data(input_bytes) + data(b"")        # unconsumed input, unwritten output
    record += data(b"v2") + struct.pack("<I", 1) + data(symbol.encode()) + struct.pack("<H", depth << 1)
    record += b"\x00" + b"\x00"                    # no claims, not conflating
    return record


def encode_market(symbol, seq):
    def data(b):
        return struct.pack("<I", len(b)) + b
    state = data(symbol.encode()) + struct.pack("<qqqQqH", 100_00000000, 99_99000000, 100_01000000, seq, 0, 0)
    return struct.pack("<I", 1) + state + b"\x00"  # one symbol, no simulator position


def test_a_successor_keeps_confirmed_batches_and_drops_the_last_unconfirmed_one(tmp_path):
    """The predecessor is played by the test, writing the state format itself: it upgrades
    clients, hands over a market (SYM0001 at seq 1000) and two batches, and dies after the
    second. The successor serves the first batch (seq continues at 1001, a frame half received
    before the move is completed after it) and drops the unconfirmed second (its clients see
    EOF, not a hang)."""
    control = str(tmp_path / "control.sock")
    listener, server = predecessor_sockets(control)
    port = listener.getsockname()[1]
    clients, accepted = [], []
    for _ in range(5):
        dial = socket.create_connection(("127.0.0.1", port))
        conn, _ = listener.accept()
        clients.append(dial)
        accepted.append(conn)
    list_symbols = frame(0x1, json.dumps({"type": "list_symbols"}).encode())
    seen = {}

    def predecessor():
        conn = hand_over_listener(server, listener, seen)
        seen["handover"] = read_line(conn)
        conn.sendall(b"STATE 1\n")
        seen["answer"] = read_line(conn)
        market = encode_market("SYM0001", 1000)
        conn.sendall(b"MRKT" + struct.pack("<II", 0, len(market)) + market)
        first = struct.pack("<I", 3) + encode_session("SYM0001", 1, list_symbols[:5]) + b"".join(
            encode_session("SYM0001", depth) for depth in (2, 3))
        socket.send_fds(conn, [b"CONN" + struct.pack("<II", 3, len(first))], [c.fileno() for c in accepted[:3]])
        conn.sendall(first)
        seen["first"] = read_line(conn)
        second = struct.pack("<I", 2) + encode_session("SYM0001", 1) + encode_session("SYM0001", 1)
        socket.send_fds(conn, [b"CONN" + struct.pack("<II", 2, len(second))], [c.fileno() for c in accepted[3:]])
        conn.sendall(second)
        seen["second"] = read_line(conn)
        for c in accepted:  # the predecessor dies: its descriptors close with it
            c.close()
        conn.close()

    thread = threading.Thread(target=predecessor, daemon=True)
    thread.start()
    new = start_successor(control, *SIM)
    try:
        thread.join(10)
        assert seen == {"request": "TAKEOVER 3", "ready": "READY", "handover": "HANDOVER", "answer": "ACCEPT",
                        "first": "ADOPTED 3", "second": "ADOPTED 2"}, seen
        assert wait_for(lambda: http_get(port, "/health/live")[0] == 200, 10)
        metrics = http_get(port, "/metrics")[1]
        assert sample(metrics, "tickstream_handover_adopted_total") == 3
        assert sample(metrics, "tickstream_handover_failed_total") == 2
        # The confirmed batch is served: the half frame completed, and SYM0001 continues at 1001.
        clients[0].sendall(list_symbols[5:])
        for number, client in enumerate(clients[:3]):
            reader = RawClient.__new__(RawClient)
            reader.sock, reader.buffer = client, b""
            client.settimeout(5)
            messages = []
            while len(messages) < (6 if number == 0 else 5):
                opcode, payload = reader.read_frame()
                assert opcode == 0x1
                messages.append(json.loads(payload))
            updates = [m for m in messages if m.get("symbol") == "SYM0001"]
            assert updates[0]["seq"] == 1001, updates  # the market arrived: seq continues
            assert [m["seq"] for m in updates] == list(range(updates[0]["seq"], updates[0]["seq"] + len(updates)))
            assert len(updates[0]["depth"]) == number + 1
            if number == 0:
                assert any(m.get("type") == "symbols" for m in messages), messages
        # The unconfirmed batch was dropped: both sides' copies are closed, so its clients see EOF.
        for client in clients[3:]:
            client.settimeout(5)
            assert client.recv(1) == b""
    finally:
        terminate(new, 10)
        listener.close()
        server.close()
        for client in clients:
            client.close()


def test_a_connection_that_does_not_fit_the_successor_is_closed_with_1001(tmp_path):
    """The successor allows 5 subscriptions per connection: a client with 3 moves on, one with
    10 is told to reconnect (Close 1001) and counted as failed."""
    control = str(tmp_path / "control.sock")
    old = Gateway(*SIM, "--control-socket", control)
    new = None
    try:
        symbols = [f"SYM{i:04d}" for i in range(20)]
        fits = Follower(old.port, "v2", {"type": "subscribe", "symbols": symbols[:3]})
        too_many = Follower(old.port, "v2", {"type": "subscribe", "symbols": symbols[:10]})
        assert wait_for(lambda: fits.updates() and too_many.updates(), 5)
        new = start_successor(control, *SIM, "--max-subscriptions", "5")
        assert old.process.wait(timeout=15) == 0
        assert wait_for(lambda: too_many.closed is not None, 5)
        assert too_many.closed == ("close", 1001)
        count = len(fits.updates())
        assert wait_for(lambda: len(fits.updates()) > count + 20, 5) and fits.closed is None
        metrics = http_get(old.port, "/metrics")[1]
        assert sample(metrics, "tickstream_handover_adopted_total") == 1
        assert sample(metrics, "tickstream_handover_failed_total") == 1
    finally:
        old.stop()
        if new is not None:
            terminate(new, 20)
