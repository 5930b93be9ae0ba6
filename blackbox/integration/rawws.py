"""A deliberately low-level WebSocket client for sending what a well-behaved library won't:
unmasked frames, bad UTF-8, reserved bits, oversized messages, raw HTTP."""
import base64
import os
import socket
import struct

KEY = base64.b64encode(b"0123456789abcdef").decode()


def http(port: int, request: bytes, timeout: float = 5.0) -> tuple[int, dict, bytes]:
    """Sends raw bytes, returns (status, headers, body) of the response."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
        return status, headers, body


def sample(metrics_text: str, key: str) -> float:
    """The value of one sample in a /metrics page, e.g. 'name{label="x"}'."""
    for line in metrics_text.splitlines():
        head, _, value = line.rpartition(" ")
        if head == key:
            return float(value)
    raise AssertionError(f"{key} not in /metrics")


def upgrade_request(path="/echo", extra="", version="13", key=KEY, method="GET") -> bytes:
    return (f"{method} {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: {version}\r\n{extra}\r\n").encode()


def frame(opcode: int, payload: bytes, fin=True, mask=True, rsv=0) -> bytes:
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload)
    mask_bit = 0x80 if mask else 0
    if n < 126:
        header = struct.pack("!BB", first, mask_bit | n)
    elif n < 65536:
        header = struct.pack("!BBH", first, mask_bit | 126, n)
    else:
        header = struct.pack("!BBQ", first, mask_bit | 127, n)
    if not mask:
        return header + payload
    key = os.urandom(4)
    return header + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


class RawClient:
    """`sock`: an already connected socket to use (a TLS one, say) instead of dialing `port`."""
    def __init__(self, port: int, path="/echo", extra="", sock=None):
        self.sock = sock or socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.sendall(upgrade_request(path, extra))
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(4096)
            assert chunk, "connection closed during handshake"
            self.buffer += chunk
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        self.response_head = head.decode()
        assert self.response_head.startswith("HTTP/1.1 101"), self.response_head

    # What has been received and not yet read: `_data` from `_start` (frames are read by moving
    # `_start`, so a burst of small frames costs no copy of everything after each one).
    @property
    def buffer(self) -> bytes:
        return bytes(self._data[self._start:])

    @buffer.setter
    def buffer(self, value: bytes):
        self._data, self._start = bytearray(value), 0

    def send(self, data: bytes):
        self.sock.sendall(data)

    def _need(self, n: int) -> bool:
        while len(self._data) - self._start < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                return False
            self._data += chunk
        return True

    def read_frame(self):
        """Returns (opcode, payload), or None at EOF."""
        if self._start > 65536:
            del self._data[:self._start]
            self._start = 0
        if not self._need(2):
            return None
        at = self._start
        b0, b1 = self._data[at], self._data[at + 1]
        assert b1 & 0x80 == 0, "server frames must not be masked"
        n, offset = b1 & 0x7F, 2
        if n == 126:
            self._need(4)
            n, offset = struct.unpack("!H", self._data[at + 2:at + 4])[0], 4
        elif n == 127:
            self._need(10)
            n, offset = struct.unpack("!Q", self._data[at + 2:at + 10])[0], 10
        self._need(offset + n)
        payload = bytes(self._data[at + offset:at + offset + n])
        self._start = at + offset + n
        return b0 & 0x0F, payload

    def read_close(self):
        """Reads until a Close frame; returns (code, reason) or None if the TCP closed first."""
        while True:
            got = self.read_frame()
            if got is None:
                return None
            opcode, payload = got
            if opcode == 0x8:
                if len(payload) < 2:
                    return (None, "")
                return struct.unpack("!H", payload[:2])[0], payload[2:].decode()

    def at_eof(self, timeout=5.0) -> bool:
        """True when the server closes TCP (after the close handshake) within the timeout."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
        except (socket.timeout, ConnectionResetError):
            return False

    def close(self):
        self.sock.close()
