"""mockd's WebSocket connection object, in place of gevent-websocket's ``WebSocket``.

gevent-websocket 0.10.1 is frozen since 2017; tests/test_ws_protocol.py shows the faults of
its ``WebSocket`` that this class does not have (#1-#10), one test each. It is not a
subclass: it was one, but skipped the library's ``__init__`` and replaced every method, so
nothing of the library ran but its hazards (a ``__del__`` writing a close frame from the
garbage collector, in whatever greenlet ran it). It holds what it needs: pywsgi's socket,
and its ``rfile`` for the bytes that came with the handshake.

The read side (``inbound.py``) works from one buffer: large reads, frames parsed from
memory, payloads unmasked by int XOR (``frames.py``) into a buffer that grows as they
arrive, fragments reassembled into one buffer with interleaved control frames, UTF-8 checked
incrementally (fail fast), and a size limit checked against the declared length *before*
anything is buffered (a fragment counts 64 bytes at least, so that empty or tiny fragments
cannot pile up for free). Every protocol error fails the connection with its RFC 6455 close
code; ``receive_message()`` never raises for the network. The write side (``outbound.py``)
never blocks a sender: frames go to the kernel at once or into a bounded per-connection
queue drained by a writer greenlet, in order, so any greenlet may send, ping or close while
another one is blocked in ``receive_message()``, and frames never interleave. The reader
waits while its replies are still queued (TCP's flow control for request/reply traffic),
before reading the next message and before answering a ping.
"""
import logging
import socket

from gevent import Timeout, get_hub

from ..closecodes import (CLOSE_ABNORMAL, CLOSE_INVALID_DATA, CLOSE_NO_STATUS, CLOSE_NORMAL, CLOSE_PROTOCOL_ERROR,
                          valid_close_code)
from ..options import DEFAULTS
from . import frames
from .frames import OP_BINARY, OP_PING, OP_PONG, OP_TEXT
from .inbound import READ_SIZE, InboundReader, PeerClosed, _Fail
from .outbound import ConnectionClosed, OutboundQueue, notify

log = logging.getLogger("mockd.ws")

__all__ = ["ConnectionClosed", "MockdWebSocket"]


class MockdWebSocket(InboundReader, OutboundQueue):
    """A server-side WebSocket on an upgraded pywsgi connection.

    :param sock: the connected gevent socket.
    :param rfile: pywsgi's buffered reader on ``sock``; it may already hold bytes the client
        sent right after its handshake, so they are taken from it first.
    :param environ: the WSGI environ of the handshake (kept as ``environ``).
    :param handler: the pywsgi handler (kept as ``handler``; not used for I/O).
    :param subprotocol: the subprotocol announced in the 101 response, or None.
    :param max_message_size: largest inbound message (after reassembly) in bytes; a bigger one
        fails the connection with 1009 before it is read. Each fragment of a fragmented message
        counts ``inbound.FRAGMENT_COST`` (64) bytes at least.
    :param close_timeout: seconds to wait for the peer's close reply after ``close()``.
    :param max_outbound: bytes of data frames that may wait in user space for a client that
        does not read; a frame that would pass it closes the connection with 1008
        ``outbound buffer full`` (one frame is always taken when nothing waits, whatever its size).
    :param send_timeout: seconds a client may take nothing while data waits for it, before
        :meth:`drain` (the reader's and the scenario's pacing) closes it with 1008.
    """

    close_timeout = 2.0
    on_pong = None  # callable(payload: bytes), called in the reading greenlet for every pong
    # callable(), called once when the connection is decided closed (our close, the peer's,
    # a failure or a lost socket), before the closing handshake ends; maybe in the hub.
    on_closed = None

    def __init__(self, sock, *, rfile=None, environ=None, handler=None, subprotocol=None,
                 max_message_size=65536, close_timeout=None, max_outbound=DEFAULTS.max_outbound_buffer,
                 send_timeout=DEFAULTS.send_timeout):
        self.environ = environ
        self.handler = handler
        self.closed = False
        self.subprotocol = subprotocol
        self.max_message_size = max_message_size
        if close_timeout is not None:
            self.close_timeout = close_timeout
        self.close_code = None
        self.close_reason = ""
        self._sock = sock
        self._init_inbound(rfile)
        self._init_outbound(sock, max_outbound, send_timeout)
        self._close_sent = False
        self._done_reading = False
        self._shut_wr = False
        self._close_timer = None

    # ------------------------------------------------------------------ control frames
    # Called by the reader (inbound.py) for each control frame, in the reading greenlet.

    def handle_ping(self, payload):
        # Library fault 7: the automatic pong went out without the write lock. No pong once
        # we have sent our close frame.
        if self.closed or (self._impair is not None and self._impair.no_pongs):
            return  # (no_pongs: the stopPongs fault)
        if self._out is not None:
            # Something still waits for this client, an earlier pong maybe: the next pong is
            # not queued behind it until the client has taken it (flow control, as for the
            # replies to data). A client that pings and never reads had one pong queued per
            # ping, without bound (114 MB of pings: +918 MiB); it now stalls this reader, and
            # is closed with 1008 once it has taken nothing for send_timeout.
            try:
                self.drain()
            except ConnectionClosed:
                return  # closed meanwhile: no pong; reading goes on up to the peer's close
        self._send(OP_PONG, payload)

    def handle_pong(self, payload):
        # Library fault 5: pongs were dropped; they now reach ``on_pong`` (heartbeats need it).
        notify(self.on_pong, "on_pong", payload)

    def handle_close(self, payload):
        # Library faults 1 and 9: the reply to a close carried no code (or ``str(bytearray)``),
        # and an invalid close was not failed with 1002 / 1007.
        if len(payload) == 1:
            raise _Fail(CLOSE_PROTOCOL_ERROR, "close frame with a 1-byte payload")
        code, reason = CLOSE_NO_STATUS, ""
        if payload:
            code = frames.unpack_u16(payload)[0]
            if not valid_close_code(code):
                raise _Fail(CLOSE_PROTOCOL_ERROR, f"invalid close code {code}")
            reason = payload[2:].decode("utf-8")  # UnicodeDecodeError -> 1007
        self._done_reading = True
        if self._close_sent:
            self._stop_close_timer()  # the peer answered our close: handshake complete
        else:
            self._close_sent = True
            self.close_code, self.close_reason = code, reason
            self._mark_closed()
            self._write_close(payload[:2])  # echo the peer's code (or an empty close)
        self._shutdown(socket.SHUT_WR)  # the server closes TCP first (RFC 6455 §7.1.1)

    # ------------------------------------------------------------------ public API

    @property
    def protocol(self):
        # gevent-websocket's name, kept for code written against it. Library fault 6: there it
        # returned the *requested* header; this is the chosen subprotocol.
        return self.subprotocol

    def receive_message(self):
        """Block until a whole data message arrived; ``str`` (text), ``bytes`` (binary), or
        None once the connection has ended for any reason. Never raises for the network."""
        if self._done_reading:
            return None
        if self._impair is not None and self._impair.silent:
            return self._ignore_peer()
        if self._out is not None and not self._close_sent:
            # Flow control for request/reply: no next request while the replies to the last
            # ones still wait for the client to read (so echo to a non-reading client stalls
            # that client, bounded, instead of filling the queue).
            try:
                self.drain()
            except ConnectionClosed:
                pass  # closed meanwhile (1008 when the client took nothing for send_timeout)
            if self._done_reading:
                return None
        try:
            message = self._read_message()
            if self._impair is not None and self._impair.silent:  # silenced while this one came in
                return self._ignore_peer()
            return message
        except UnicodeDecodeError:
            self._fail(CLOSE_INVALID_DATA, "invalid UTF-8")
        except _Fail as failure:
            self._fail(*failure.args)
        except (PeerClosed, OSError, ConnectionClosed):  # ConnectionClosed: an automatic pong failed
            self._lost()
        return None

    def _ignore_peer(self):
        """Silence (the ``silence`` fault): read and throw away until the client closes TCP or
        the socket is cut, so that a client that gives up still leaves the listings."""
        try:
            while self._recv(READ_SIZE):
                pass
        except OSError:
            pass
        self._lost()
        return None

    def send_text(self, text):
        if not isinstance(text, str):
            raise TypeError(f"send_text() needs str, not {type(text).__name__}")
        self._send(OP_TEXT, text.encode("utf-8"))

    def send_binary(self, data):
        if not isinstance(data, (bytes, bytearray)):
            data = memoryview(data).cast("B")
        self._send(OP_BINARY, data)

    def send(self, data, token=None):
        # Library API: its send(message, binary=None) guessed the type and raised WebSocketError.
        """Send ``str`` as a text frame, bytes-like as a binary one. True when the kernel took the
        whole frame now; False when it waits in the queue (``token``: see ``_send``)."""
        if isinstance(data, str):
            return self._send(OP_TEXT, data.encode("utf-8"), token)
        if isinstance(data, (bytes, bytearray)):
            return self._send(OP_BINARY, data, token)
        if isinstance(data, memoryview):
            return self._send(OP_BINARY, data.cast("B"), token)
        raise TypeError(f"cannot send {type(data).__name__}; use str or bytes")

    def ping(self, payload=b""):
        # Library fault 5: there was no ping(); send_frame(b"x", PING) sent the bytes' repr.
        payload = bytes(payload)
        if len(payload) > frames.MAX_CONTROL_PAYLOAD:
            raise ValueError("a ping payload is at most 125 bytes")
        self._send(OP_PING, payload)

    def close(self, code=CLOSE_NORMAL, reason=""):
        # Library faults 1 and 7: the close frame carried no code, and was written unlocked.
        """Start the closing handshake; callable from any greenlet, idempotent, never blocks for
        long. A reader blocked in ``receive_message()`` returns None once the peer answers, or
        after ``close_timeout`` seconds, when the socket is shut down."""
        if self.closed:
            return
        payload = frames.close_payload(code, reason)
        self._close_sent = True
        self.close_code, self.close_reason = code, reason
        self._mark_closed()
        if self._write_close(payload) and not self._done_reading:
            timer = self._close_timer = get_hub().loop.timer(self.close_timeout)
            timer.start(self._abort)

    # ------------------------------------------------------------------ ending

    def _fail(self, code, reason):
        """Fail the connection (RFC 6455 §7.1.7): close frame with ``code``, then close TCP."""
        self._done_reading = True
        self._stop_close_timer()
        if not self._close_sent:
            log.debug("failing WebSocket connection: %s %s", code, reason)
            self._close_sent = True
            self.close_code, self.close_reason = code, reason
            self._mark_closed()
            self._write_close(frames.close_payload(code, reason))
        self._shutdown(socket.SHUT_WR)

    def _lost(self):
        """The TCP connection died (or had to be cut): 1006 unless a close already happened."""
        self._done_reading = True
        if self.close_code is None:
            self.close_code = CLOSE_ABNORMAL
        self._mark_closed()
        self._shutdown(socket.SHUT_RDWR)

    def _dispose(self):
        """After the teardown: drop every reference that ties this socket to itself or to its
        owner (bound-method callbacks, the handler), so that reference counting alone frees it;
        a cycle per connection made GC pauses in a long-used server."""
        self._done_reading = True  # receive_message() answers None without reading
        self._recv = None
        if self._impair is not None:
            self._impair.stop()
            self._impair.ws = None
        self.on_pong = self.on_overflow = self.on_written = self.on_closed = None
        self.handler = self.environ = None

    def _mark_closed(self):
        """``closed`` becomes True; ``on_closed`` hears of it once (close code already set)."""
        self.closed = True
        callback, self.on_closed = self.on_closed, None
        notify(callback, "on_closed")

    def _abort(self):
        # Runs in the hub when the peer did not answer our close in time: wakes up the reader.
        self._close_timer = None
        self._lost()

    def _stop_close_timer(self):
        timer, self._close_timer = self._close_timer, None
        if timer is not None:
            timer.close()

    def _shutdown(self, how):
        if how == socket.SHUT_RDWR:
            self._stop_close_timer()
        elif self._shut_wr:
            return
        elif self._out is not None or (self._impair is not None and self._impair.holding):
            # our close frame still waits (or is held): the writer, or the delay line, shuts down after it
            self._shut_pending = True
            return
        self._shut_wr = True
        try:
            self._sock.shutdown(how)
        except OSError:
            pass

    def _finish(self, code=CLOSE_NORMAL, reason=""):
        """Called by the handler once the session is over: close if still open, read until the
        peer's close reply (bounded by ``close_timeout``), then let TCP wind down without an RST
        (the peer gets our FIN, we drain what it still sends until its FIN or the timeout)."""
        self.close(code, reason)
        while not self._done_reading:
            self.receive_message()
        self._stop_close_timer()
        with Timeout(self.close_timeout, False):
            self._wait_drained()  # whatever waits, our close frame last, must go out first
            self._shutdown(socket.SHUT_WR)
            try:
                while self._sock.recv(READ_SIZE):
                    pass
            except OSError:
                pass
        self._shutdown(socket.SHUT_RDWR)
