"""A raw WebSocket client for the tests: requests and frames written exactly as told.

Used in the gevent-patched test process, where its blocking calls yield; only 127.0.0.1.
Unlike ``websocket-client`` it can send malformed handshakes and frames, stop reading or
answering pings on purpose, reset the connection and open thousands of sockets cheaply.
"""
import base64
import os
import resource
import socket
import struct

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def mask(data, key):
    n = len(data)
    if not n:
        return b""
    keys = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(keys, "little")).to_bytes(n, "little")


def frame(opcode, payload=b"", fin=True, rsv=0, masked=True, length=None, key=None):
    """One client frame; ``length`` may lie about the payload's size."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0x0F)
    b1 = 0x80 if masked else 0
    if n < 126:
        head = struct.pack("!BB", b0, b1 | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, b1 | 126, n)
    else:
        head = struct.pack("!BBQ", b0, b1 | 127, n)
    if not masked:
        return head + payload
    key = os.urandom(4) if key is None else key
    return head + key + mask(payload, key)


def close_payload(code, reason=b""):
    return struct.pack("!H", code) + reason


def raise_nofile(wanted):
    """Raise this process's soft open-file limit towards ``wanted``; return the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return target
    return soft


class Client:
    """One connection. ``Client(port, "/ws")`` connects and completes the handshake unless
    ``handshake=False``. Reads raise EOFError at the end of the stream."""

    def __init__(self, port, path="/ws", timeout=5.0, handshake=True, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:  # set before connect, so the window is small from the start
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        self.path = path
        self.buf = b""
        if handshake:
            self.handshake()

    def request_bytes(self, path=None, upgrade=True, key=None, version="13", method="GET", http="HTTP/1.1",
                      headers=()):
        """The bytes of an HTTP request for ``path`` (default: the client's): a valid WebSocket
        handshake unless told otherwise (``key=""`` and ``version=None`` leave those headers out,
        ``upgrade=False`` makes a plain request); ``headers`` are extra ``Name: value`` lines."""
        lines = [f"{method} {self.path if path is None else path} {http}", "Host: 127.0.0.1"]
        if upgrade:
            key = base64.b64encode(os.urandom(16)).decode() if key is None else key
            lines += ["Upgrade: websocket", "Connection: Upgrade"]
            lines += [f"Sec-WebSocket-Key: {key}"] if key != "" else []
            lines += [f"Sec-WebSocket-Version: {version}"] if version is not None else []
        lines += list(headers)
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def request(self, path=None, after=b"", **request_kw):
        """Send a request (:meth:`request_bytes`), then ``after``; return the :meth:`response`."""
        self.sock.sendall(self.request_bytes(path, **request_kw) + after)
        return self.response()

    def response(self):
        """The next HTTP response: (status line, headers by lower-case name, body bytes)."""
        while b"\r\n\r\n" not in self.buf:
            self._more()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in header_lines:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
        return status_line, headers, self.read(int(headers.get("content-length", 0)))

    def handshake(self, path=None, **request_kw):
        """Open the WebSocket (on ``path``, default the client's); return the response headers."""
        status_line, headers, _ = self.request(path, **request_kw)
        if not status_line.startswith("HTTP/1.1 101 "):
            raise AssertionError(f"handshake refused: {status_line!r} {headers}")
        return headers

    def _more(self):
        chunk = self.sock.recv(1 << 18)
        if not chunk:
            raise EOFError("connection closed by the server")
        self.buf += chunk

    def read(self, n):
        """Exactly ``n`` bytes; a large rest is read straight into place (16 MiB messages)."""
        if n - len(self.buf) > 1 << 18:
            out = bytearray(n)
            have = len(self.buf)
            out[:have], self.buf = self.buf, b""
            view = memoryview(out)
            while have < n:
                got = self.sock.recv_into(view[have:])
                if not got:
                    raise EOFError("connection closed by the server")
                have += got
            return bytes(out)
        while len(self.buf) < n:
            self._more()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send(self, opcode, payload=b"", **kw):
        self.sock.sendall(frame(opcode, payload, **kw))

    def send_text(self, text):
        self.send(OP_TEXT, text.encode("utf-8"))

    def recv_frame(self):
        """(opcode, payload) of the next server frame (which must not be masked)."""
        b0, b1 = self.read(2)
        assert not b1 & 0x80, "server frames must not be masked"
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self.read(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self.read(8))[0]
        return b0 & 0x0F, self.read(n)

    def recv_data(self):
        """The next data frame's payload (text decoded), answering pings on the way."""
        while True:
            opcode, payload = self.recv_frame()
            if opcode == OP_PING:
                self.send(OP_PONG, payload)
            elif opcode == OP_TEXT:
                return payload.decode("utf-8")
            elif opcode == OP_BINARY:
                return payload
            elif opcode == OP_CLOSE:
                raise AssertionError(f"closed: {parse_close(payload)}")

    def skip_to_close(self, allowed=None):
        """Read up to the close frame, skipping (never answering) the frames before it, which
        must have one of the ``allowed`` opcodes if given: ((code or None, reason bytes), data
        frames skipped). Unlike ``mockd.testing.recv_close``, which answers pings, it leaves
        the server's pings unanswered and counts what it skipped (the backpressure and load
        tests need both)."""
        skipped = 0
        while True:
            opcode, payload = self.recv_frame()
            if opcode == OP_CLOSE:
                return parse_close(payload), skipped
            assert allowed is None or opcode in allowed, (opcode, payload[:60])
            if opcode in (OP_TEXT, OP_BINARY):
                skipped += 1

    def expect_close(self, allowed=()):
        """The close frame, which must come next (or after frames of the ``allowed`` opcodes
        only): (code or None, reason bytes)."""
        return self.skip_to_close(allowed)[0]

    def close(self, code=1000):
        """Close handshake from our side; returns the server's code, or None if it never came."""
        try:
            self.send(OP_CLOSE, close_payload(code))
            (code, _reason), _skipped = self.skip_to_close()
            return code
        except (OSError, EOFError):
            return None
        finally:
            self.sock.close()

    def reset(self):
        """Vanish with an RST instead of a FIN."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def at_eof(self, drain=True):
        """Whether the server ends the TCP stream (a reset counts). With ``drain``, whatever data
        comes first is read and dropped; without, nothing may be left before the end."""
        try:
            if not drain:
                return not self.buf and self.sock.recv(1) == b""
            while True:
                if not self.sock.recv(1 << 16):
                    return True
        except ConnectionResetError:
            return True


def parse_close(payload):
    if len(payload) < 2:
        return None, b""
    return struct.unpack("!H", payload[:2])[0], payload[2:]
