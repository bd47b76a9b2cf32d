"""The read side of :class:`~mockd.ws.protocol.MockdWebSocket`: bytes from the socket, frames.

Frames are parsed from one buffer (``_buf`` from ``_pos``) filled by large reads. A payload
that is not in hand yet is read straight into its own buffer, which grows as bytes arrive
(doubling, up to the declared length): a frame header alone costs nothing, whatever length it
declares (20 clients declaring 16 MiB each used to cost 320 MiB at once), and a real 16 MiB
message still costs its size once, with no copy when it is handed over.

A fragmented message is reassembled in one growing buffer, and each fragment counts at least
``FRAGMENT_COST`` bytes against the size limit (:meth:`InboundReader._read_message`).
"""
import codecs
import io

from gevent.socket import socket as _gevent_socket

from ..closecodes import CLOSE_PROTOCOL_ERROR, CLOSE_TOO_BIG
from . import frames
from .frames import OP_BINARY, OP_PING, OP_PONG, OP_TEXT, unmask

READ_SIZE = 1 << 16          # one recv() for the common (small-message) case
FIRST_PAYLOAD_BUFFER = READ_SIZE  # a large payload's buffer starts here and doubles as bytes arrive
# One receive buffer for the whole process: a read lands here and only what came is copied
# out (``sock.recv(READ_SIZE)`` mallocs 64 KiB and shrinks it again on every message). Safe
# because nothing can yield between the non-blocking read and the copy.
_read_view = memoryview(bytearray(READ_SIZE))

# What one fragment of a fragmented message counts against maxMessageSize at least. Empty
# continuation frames counted nothing (a client sent 180 MB of them into one message: +225 MiB
# of RSS, and reading on), and 1-byte fragments, kept as a list of bytes objects, cost ~56
# times the limit. 64 bytes is about what a tiny fragment used to cost in Python objects, and
# small enough that a message sent in fragments of 64 bytes or more is judged by its size
# alone (Autobahn 9.3.1 sends 4 MiB in 64-byte fragments). Smaller ones are allowed, limit/64
# of them per message (1,024 at the default 64 KiB); past that the message is too big: 1009.
FRAGMENT_COST = 64

_new_utf8_decoder = codecs.getincrementaldecoder("utf-8")


class PeerClosed(Exception):
    """Internal: the peer closed TCP."""


class _Fail(Exception):
    """Internal: the peer broke the protocol; ``_Fail(code, reason)`` fails the connection."""


def _grow(store, size):
    # BytesIO keeps its data in one bytes object: growing it is a realloc (mremap for large
    # blocks, so no copy) and only the new tail is zero-filled, i.e. touched.
    store.seek(size - 1)
    store.write(b"\0")


def socket_reader(sock):
    """A ``recv(size)`` for ``sock``: :func:`_recv_waiting` on a plain gevent socket, the
    socket's own ``recv`` otherwise (TLS). The proxy's upstream reads through it too."""
    if type(sock) is not _gevent_socket:
        return sock.recv

    def recv(size):
        return _recv_waiting(sock, size)
    return recv


def _recv_waiting(sock, size):
    # Waits for readability *first*, then makes one non-blocking read. In request/reply
    # traffic the next message is rarely there yet when the reader asks, so gevent's
    # try-first recv mostly costs a failed syscall and an exception; and a connection
    # whose client answers within microseconds no longer keeps every other ready
    # connection waiting (its reader goes back through the hub after each read).
    # gevent's socket has no public "wait, then read once": this uses its internals
    # ``_wait``, ``_read_event`` and ``_sock`` (pinned by tests/test_upstream_pins.py).
    while True:
        sock._wait(sock._read_event)  # what gevent's recv() does after EAGAIN; raises on shutdown
        try:
            got = sock._sock.recv_into(_read_view, size)
        except BlockingIOError:
            continue  # woken up without data after all: wait again
        return bytes(_read_view[:got])


class InboundReader:
    """Mixin: buffered reading and the frame parser. The class using it provides ``_sock``,
    ``max_message_size``, ``_close_sent`` and ``handle_ping``/``handle_pong``/``handle_close``
    (called for control frames), and calls :meth:`_init_inbound` from its constructor."""

    def _init_inbound(self, rfile):
        self._rfile = rfile
        self._recv = self._recv_first if rfile is not None else self._socket_reader()
        self._buf = b""
        self._pos = 0

    def _recv_first(self, size):
        # pywsgi's rfile may hold bytes that arrived with the handshake; read1() returns those
        # without blocking (or does one socket read when it holds none). After that call the
        # buffer is empty and the socket is read directly.
        self._recv = self._socket_reader()
        return self._rfile.read1(size)

    def _socket_reader(self):
        return socket_reader(self._sock)

    def _fill(self, need):
        """Make ``self._buf[self._pos:]`` hold at least ``need`` bytes; return (buf, pos)."""
        buf = self._buf[self._pos:]
        while len(buf) < need:
            data = self._recv(READ_SIZE)
            if not data:
                raise PeerClosed()
            buf = buf + data if buf else data
        self._buf, self._pos = buf, 0
        return buf, 0

    def _read_message(self):
        """Read frames up to the end of the next data message and return it (``str`` for text,
        ``bytes`` for binary), or None once the peer's close has been handled. Control frames
        go to ``handle_ping``/``handle_pong``/``handle_close`` on the way. Raises ``_Fail``,
        ``UnicodeDecodeError``, ``PeerClosed`` or ``OSError`` for the caller to end with."""
        limit = self.max_message_size
        message_op = 0     # opcode of an open fragmented message
        parts = None       # its payload so far, in one growing buffer: no object per fragment
        size = 0           # what it counts against ``limit`` (FRAGMENT_COST a fragment at least)
        decoder = None
        while True:
            buf, pos = self._buf, self._pos
            if len(buf) - pos < 2:
                buf, pos = self._fill(2)
            b0 = buf[pos]
            b1 = buf[pos + 1]
            if not b1 & 0x80:
                raise _Fail(CLOSE_PROTOCOL_ERROR, "unmasked client frame")  # library fault 2
            if b0 & 0x70:
                raise _Fail(CLOSE_PROTOCOL_ERROR, "reserved bits set without an extension")
            op = b0 & 0x0F
            length = b1 & 0x7F
            if op >= 8:
                if op > OP_PONG:
                    raise _Fail(CLOSE_PROTOCOL_ERROR, f"reserved opcode {op}")
                if length > 125 or not b0 & 0x80:
                    raise _Fail(CLOSE_PROTOCOL_ERROR, "control frame fragmented or over 125 bytes")
                head = 6
            else:
                if op > OP_BINARY:
                    raise _Fail(CLOSE_PROTOCOL_ERROR, f"reserved opcode {op}")
                if op == 0 and not message_op:
                    raise _Fail(CLOSE_PROTOCOL_ERROR, "continuation frame without a message")
                if op and message_op:
                    raise _Fail(CLOSE_PROTOCOL_ERROR, "new message inside a fragmented message")
                head = 6 if length < 126 else 8 if length == 126 else 14
            if len(buf) - pos < head:
                buf, pos = self._fill(head)
            if head == 8:
                length = frames.unpack_u16(buf, pos + 2)[0]
            elif head == 14:
                length = frames.unpack_u64(buf, pos + 2)[0]
            if op < 8:
                # A whole message counts its bytes; a fragment at least FRAGMENT_COST.
                cost = length if length >= FRAGMENT_COST or (op and b0 & 0x80) else FRAGMENT_COST
                if size + cost > limit:  # library fault 3: checked before reading
                    raise _Fail(CLOSE_TOO_BIG, _too_big(limit, parts, length))
            start = pos + head
            end = start + length
            text = op == OP_TEXT or (op == 0 and message_op == OP_TEXT)
            if end <= len(buf):  # the whole frame is in hand: the common, fast path
                self._pos = end
                payload = unmask(buf[start:end], buf[start - 4:start]) if length else b""
                checked = False
            else:
                self._pos = start
                if text and decoder is None:
                    decoder = _new_utf8_decoder()
                payload = self._read_payload(length, buf[start - 4:start], decoder if text else None)
                checked = text

            if op >= 8:
                if op == OP_PING:
                    self.handle_ping(payload)
                elif op == OP_PONG:
                    self.handle_pong(payload)
                else:
                    self.handle_close(payload)
                    return None
                continue

            if b0 & 0x80 and op:  # a whole message in one frame
                if self._close_sent:
                    continue  # we are closing: data is discarded until the peer's close
                if text:
                    if checked:
                        decoder.decode(b"", True)
                    return payload.decode("utf-8")
                return payload

            if op:
                # A BytesIO rather than a bytearray: getvalue() below hands its buffer over as
                # the message's bytes without a copy (a bytearray would need one for binary).
                message_op, parts = op, io.BytesIO()
                if text and decoder is None:
                    decoder = _new_utf8_decoder()
            if text and not checked:
                decoder.decode(payload)
            parts.write(payload)
            size += cost
            del payload  # a large fragment is not held twice while the next one is read
            if b0 & 0x80:
                if self._close_sent:  # we are closing: data is discarded until the peer's close
                    message_op, parts, size, decoder = 0, None, 0, None
                    continue
                data = parts.getvalue()
                parts = None  # ``data`` is now the only reference to the buffer
                if text:
                    decoder.decode(b"", True)
                    return data.decode("utf-8")
                return data

    def _read_payload(self, length, key, decoder):
        """Read the rest of a frame that is only partly buffered straight into its own buffer,
        unmasking (and UTF-8 checking) each piece as it arrives; return it as ``bytes``.

        The buffer is a BytesIO's, sized from what arrived, not from the declared ``length``:
        it doubles whenever it is full (up to ``length``), so memory follows the bytes the
        peer really sent. Once its view is released, ``getvalue()`` hands over the very same
        memory as ``bytes`` (no copy), so a 16 MiB message costs 16 MiB once."""
        have = len(self._buf) - self._pos
        size = min(length, max(FIRST_PAYLOAD_BUFFER, have))
        store = io.BytesIO()
        _grow(store, size)
        unmasker = frames.Unmasker(key)
        recv_into = self._sock.recv_into
        done = 0
        view = store.getbuffer()
        try:
            view[:have] = memoryview(self._buf)[self._pos:]
            self._buf, self._pos = b"", 0
            while True:
                if have > done:
                    unmasker.apply(view, done, have)
                    if decoder is not None:
                        decoder.decode(view[done:have])  # fails fast on invalid UTF-8
                    done = have
                if have == length:
                    break
                if have == size:  # full: a BytesIO cannot grow while its buffer is exported
                    view.release()
                    size = min(length, size * 2)
                    _grow(store, size)
                    view = store.getbuffer()
                got = recv_into(view[have:min(size, have + frames.UNMASK_CHUNK)])
                if not got:
                    raise PeerClosed()
                have += got
        finally:
            view.release()
        return store.getvalue()


def _too_big(limit, parts, length):
    """The reason of the 1009 for a frame of ``length`` bytes that would pass ``limit``."""
    if (parts.tell() if parts is not None else 0) + length > limit:
        return f"read limited at {limit + 1} bytes"
    return f"read limited at {limit + 1} bytes (a fragment counts {FRAGMENT_COST} at least)"
