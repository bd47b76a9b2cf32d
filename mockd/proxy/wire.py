"""Client-side WebSocket frames on the upstream's socket, once the handshake is done.

websocket-client makes the handshake (TLS, headers, subprotocols, status errors); for the
frames that follow it cost about 46 Python calls, a lock and a mask-key syscall per frame, and a
failed read before each wait, which left a proxied echo at a third of a direct one. Here each
frame is one non-blocking ``send`` (header, key and masked payload together), mask keys come
from one ``os.urandom`` per 1,024 frames, and reads wait first and take what is there
(:func:`mockd.ws.inbound.socket_reader`).
"""
import os
import struct

from gevent.lock import Semaphore
from gevent.socket import socket as _gevent_socket

from ..ws.frames import OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, unmask
from ..ws.inbound import READ_SIZE, socket_reader

__all__ = ["MessageTooBig", "UpstreamClosed", "UpstreamWire"]

_KEY_BATCH = 4096  # bytes of mask keys drawn at once: 1,024 frames
# The 2-byte header of every short masked frame (FIN, opcode; MASK, length), built once.
_SHORT_HEADERS = {opcode: [bytes((0x80 | opcode, 0x80 | length)) for length in range(126)]
                  for opcode in (OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG)}


class MessageTooBig(Exception):
    """The upstream's message is larger than the mock's ``maxMessageSize``."""


class UpstreamClosed(Exception):
    """The upstream's TCP connection ended (no close frame first), or it broke the protocol."""


class UpstreamWire:
    """Frames over ``sock``: :meth:`send` from the connection's greenlet, :meth:`receive` (and
    the pongs it answers) from the relay's; one lock keeps their frames whole."""

    def __init__(self, sock, max_message):
        self._sock = sock
        self._recv = socket_reader(sock)
        # gevent's sendall() asks the kernel for the send buffer's size (a getsockopt) and runs
        # a Python loop on every call: a frame is tried on the non-blocking socket beneath it
        # first (gevent's ``_sock``, pinned by tests/test_upstream_pins.py), as the mock
        # listener's writer does; TLS goes through the SSL socket's own sendall.
        self._raw = sock._sock if type(sock) is _gevent_socket else None
        self._lock = Semaphore()
        self._keys, self._key_pos = os.urandom(_KEY_BATCH), 0
        self._buf, self._pos = b"", 0
        self.max_message = max_message

    # ------------------------------------------------------------ writing (masked, RFC 6455 5.3)

    def send(self, payload, opcode):
        length = len(payload)
        pos = self._key_pos
        if pos >= _KEY_BATCH:
            self._keys, pos = os.urandom(_KEY_BATCH), 0
        key = self._keys[pos:pos + 4]
        self._key_pos = pos + 4
        if length < 126:
            header = _SHORT_HEADERS[opcode][length]
        elif length < 65536:
            header = struct.pack("!BBH", 0x80 | opcode, 0xFE, length)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 0xFF, length)
        frame = header + key + unmask(payload, key) if length else header + key
        raw = self._raw
        if raw is not None and not self._lock.locked():
            # Nothing yields between the check and the send, so no other greenlet's frame can
            # be half written here; the lock is only taken to finish a partial write.
            try:
                sent = raw.send(frame)
            except BlockingIOError:
                sent = 0
            if sent < len(frame):  # the kernel's buffer is full: wait for it cooperatively
                with self._lock:
                    self._sock.sendall(memoryview(frame)[sent:])
            return
        with self._lock:  # TLS, or another greenlet is finishing a frame
            self._sock.sendall(frame)

    def send_data(self, data):
        """A client's message: ``str`` as a text frame, ``bytes`` as a binary one."""
        if data.__class__ is bytes:
            self.send(data, OP_BINARY)
        else:
            self.send(data.encode("utf-8", "surrogatepass"), OP_TEXT)

    def send_close(self, code, reason=b""):
        self.send(struct.pack("!H", code) + reason[:123], OP_CLOSE)

    # ------------------------------------------------------------ reading

    def _take(self, count):
        """The next ``count`` bytes of the stream (reading as needed)."""
        buf, pos = self._buf, self._pos
        while len(buf) - pos < count:
            if count - (len(buf) - pos) > READ_SIZE:
                self._buf, self._pos = buf, pos
                return self._take_large(count)
            data = self._recv(READ_SIZE)
            if not data:
                raise UpstreamClosed("the upstream closed the TCP connection")
            buf, pos = buf[pos:] + data, 0
        self._buf, self._pos = buf, pos + count
        return buf[pos:pos + count]

    def _take_large(self, count):
        """A large payload: one buffer of its size, filled by ``recv_into`` (no growing copies)."""
        payload = bytearray(count)
        view = memoryview(payload)
        held = self._buf[self._pos:]
        view[:len(held)] = held
        got = len(held)
        self._buf, self._pos = b"", 0
        while got < count:
            read = self._sock.recv_into(view[got:])
            if not read:
                raise UpstreamClosed("the upstream closed the TCP connection mid-frame")
            got += read
        return bytes(payload)

    def _header(self):
        """``(b0, opcode, payload length, mask key or None)`` of the next frame."""
        head = self._take(2)
        b0, b1 = head[0], head[1]
        length = b1 & 0x7F
        if length == 126:
            length = struct.unpack("!H", self._take(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", self._take(8))[0]
        key = self._take(4) if b1 & 0x80 else None  # a server must not mask; tolerated
        return b0, b0 & 0x0F, length, key

    def receive(self):
        """The next message: ``(OP_TEXT|OP_BINARY, bytes)`` (fragments joined), or
        ``(OP_CLOSE, payload)``. Pings are answered on the way, pongs dropped.

        :raises UpstreamClosed: the connection ended without a close frame, or a message is
            larger than ``max_message``.
        :raises OSError: the socket failed.
        """
        message_op, parts, size = 0, None, 0
        while True:
            buf, pos = self._buf, self._pos
            if len(buf) - pos >= 2 and buf[pos + 1] < 126 and len(buf) - pos - 2 >= buf[pos + 1]:
                # The common case: a small unmasked frame wholly in hand, parsed in place.
                b0, length = buf[pos], buf[pos + 1]
                op, key = b0 & 0x0F, None
                self._pos = end = pos + 2 + length
                payload = buf[pos + 2:end]
                size += length
                if size > self.max_message:  # many small fragments
                    raise MessageTooBig(f"the upstream sent a message over {self.max_message} bytes")
            else:
                b0, op, length, key = self._header()
                size += length
                if size > self.max_message:  # before its payload is read
                    raise MessageTooBig(f"the upstream sent a message over {self.max_message} bytes")
                payload = self._take(length) if length else b""
            if key is not None and payload:
                payload = unmask(payload, key)
            if op >= 8:
                size -= length
                if op == OP_CLOSE:
                    return OP_CLOSE, payload
                if op == OP_PING:
                    self.send(payload, OP_PONG)
                continue  # a pong, or a ping answered
            if op:
                message_op, parts = op, [payload]
            elif parts is not None:
                parts.append(payload)
            else:
                raise UpstreamClosed("the upstream sent a continuation frame outside a message")
            if b0 & 0x80:
                return message_op, parts[0] if len(parts) == 1 else b"".join(parts)

    def close(self):
        try:
            self._sock.close()
        except OSError:
            pass
