"""The read side of :class:`~mockd.ws.protocol.MockdWebSocket`: bytes from the socket.

Frames are parsed from one buffer (``_buf`` from ``_pos``) filled by large reads. A payload
that is not in hand yet is read straight into its own buffer, which grows as bytes arrive
(doubling, up to the declared length): a frame header alone costs nothing, whatever length it
declares (20 clients declaring 16 MiB each used to cost 320 MiB at once), and a real 16 MiB
message still costs its size once, with no copy when it is handed over.
"""
import io

from gevent.socket import socket as _gevent_socket

from . import frames

READ_SIZE = 1 << 16          # one recv() for the common (small-message) case
FIRST_PAYLOAD_BUFFER = READ_SIZE  # a large payload's buffer starts here and doubles as bytes arrive
# One receive buffer for the whole process: a read lands here and only what came is copied
# out (``sock.recv(READ_SIZE)`` mallocs 64 KiB and shrinks it again on every message). Safe
# because nothing can yield between the non-blocking read and the copy.
_read_view = memoryview(bytearray(READ_SIZE))


class PeerClosed(Exception):
    """Internal: the peer closed TCP."""


def _grow(store, size):
    # BytesIO keeps its data in one bytes object: growing it is a realloc (mremap for large
    # blocks, so no copy) and only the new tail is zero-filled, i.e. touched.
    store.seek(size - 1)
    store.write(b"\0")


class InboundReader:
    """Mixin: buffered reading for the frame parser. The class using it provides ``_sock`` and
    calls :meth:`_init_inbound` from its constructor."""

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
        """``_recv_waiting`` on a plain gevent socket; the socket's own ``recv`` otherwise (TLS)."""
        return self._recv_waiting if type(self._sock) is _gevent_socket else self._sock.recv

    def _recv_waiting(self, size):
        # Waits for readability *first*, then makes one non-blocking read. In request/reply
        # traffic the next message is rarely there yet when the reader asks, so gevent's
        # try-first recv mostly costs a failed syscall and an exception; and a connection
        # whose client answers within microseconds no longer keeps every other ready
        # connection waiting (its reader goes back through the hub after each read).
        sock = self._sock
        while True:
            sock._wait(sock._read_event)  # what gevent's recv() does after EAGAIN; raises on shutdown
            try:
                got = sock._sock.recv_into(_read_view, size)
            except BlockingIOError:
                continue  # woken up without data after all: wait again
            return bytes(_read_view[:got])

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
