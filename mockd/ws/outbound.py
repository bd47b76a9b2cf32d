"""The write side of :class:`~mockd.ws.protocol.MockdWebSocket`: sends that never block.

A frame goes straight to the kernel (one non-blocking ``send``) while nothing waits; the
part the kernel did not take, and every frame after it, waits in a per-connection queue that
a writer greenlet drains in order. The writer exists only while there is a backlog. So:

- no sender ever waits on a client: an admin broadcast, another connection or a scenario is
  never stalled by one stuck socket; frames sent from several greenlets never interleave
  (gevent-websocket fault 7), because the direct write never yields and the queue is FIFO;
- the queue is bounded: a data frame that would push it past ``max_outbound`` bytes (while
  something already waits) closes the connection with 1008 ``outbound buffer full``;
- the connection's own producers (its reader, its scenario) call :meth:`drain` and so keep
  TCP's flow control: they wait for a slow client, and a client that takes nothing for
  ``send_timeout`` seconds while data waits is closed with 1008 as well.

The close frame queues behind whatever waits (frames are never cut); the close timer, or the
teardown deadline, cuts TCP when a client does not read even that.
"""
import collections
import logging
import socket

import gevent
from gevent.event import Event
from gevent.socket import socket as _plain_socket

from ..closecodes import CLOSE_POLICY_VIOLATION
from ..greenlets import spawn
from .frames import OP_CLOSE, header
from .impair import Impairments

log = logging.getLogger("mockd.ws")

LARGE_SEND = 1 << 16  # above this, header and payload are not joined (no copy)


def notify(callback, name, *args):
    """Call an owner's callback (``on_pong``, ``on_written``, ...) when one is set. A failure is
    logged, never raised: callbacks run inside the socket's own reading and writing, or in the
    hub (the close timer), where an exception would break the connection or the loop."""
    if callback is not None:
        try:
            callback(*args)
        except Exception:
            log.exception("%s callback failed", name)


class ConnectionClosed(Exception):
    """Raised by ``send*()``, ``ping()`` on a connection that is closing or gone."""


class OutboundQueue:
    """Mixin: the non-blocking, bounded write side. The class using it provides ``_sock``,
    ``closed``, ``close(code, reason)``, ``_lost()`` and ``_shutdown(how)``, and calls
    :meth:`_init_outbound` from its constructor."""

    on_overflow = None  # callable(detail: str), called once, before the 1008 close
    # Impairments (faults), once any were applied. In the class, not set per socket: one more
    # instance attribute makes every socket's attribute dict 1.3 KiB larger (see Connection).
    _impair = None
    on_written = None   # callable(token), for a queued frame sent with a token (see _send)

    def _init_outbound(self, sock, max_outbound, send_timeout):
        self.max_outbound = max_outbound
        self.send_timeout = send_timeout
        # A plain TCP socket is written without waiting, through the raw non-blocking socket
        # under gevent's (its ``_sock``, pinned by tests/test_upstream_pins.py); anything else
        # (TLS) always goes through the writer greenlet.
        raw = sock._sock if type(sock) is _plain_socket else None
        self._raw_send = raw.send if raw is not None else None
        self._raw_sendmsg = raw.sendmsg if raw is not None else None
        self._out = None       # deque of frames (or frame tails) for the writer; None when idle
        self._out_bytes = 0
        self._written = 0      # bytes the writer handed to the kernel (progress, for drain())
        self._drained = None   # Event set once the writer has emptied ``_out`` or given up
        self._shut_pending = False

    @property
    def buffered_amount(self):
        """Bytes accepted by ``send*()`` that the kernel has not taken yet."""
        return self._out_bytes

    def _send(self, opcode, payload, token=None):
        """Write one frame, or queue what the kernel did not take. True when the kernel took the
        whole frame now; otherwise, with a ``token``, ``on_written(token)`` is called once the
        writer has handed the frame's last byte to the kernel (never, if the connection dies
        first), so that what is counted as sent is what reached the socket."""
        if self.closed:
            raise ConnectionClosed(f"connection closed ({self.close_code})")
        length = len(payload)
        if self._out is not None or self._raw_send is None:
            self._enqueue(opcode, payload, length, token)
            return False
        try:
            if length <= LARGE_SEND:
                data = header(opcode, length) + payload
                sent = self._raw_send(data)
                if sent < len(data):
                    self._queue((memoryview(data)[sent:],) + _marker(token), len(data) - sent)
                    return False
            else:
                head = header(opcode, length)
                sent = self._raw_sendmsg((head, payload))
                rest = len(head) + length - sent
                if sent < len(head):
                    self._queue((head[sent:], _owned(payload)) + _marker(token), rest)
                    return False
                if rest:
                    self._queue((memoryview(_owned(payload))[sent - len(head):],) + _marker(token), rest)
                    return False
        except BlockingIOError:  # the kernel took nothing: the whole frame waits
            self._enqueue(opcode, payload, length, token)
            return False
        except OSError as exc:
            self._lost()
            raise ConnectionClosed(f"connection lost: {exc}") from None
        return True

    def _enqueue(self, opcode, payload, length, token=None):
        """Queue a whole frame (after the impairments, when there are any: ``impair.py``)."""
        impair = self._impair
        if impair is not None and impair.hold(opcode, payload, token):
            return
        self._frame_queued(opcode, payload, length, token)

    def _emit(self, opcode, payload, token=None):
        """Queue a frame that the delay line held (``impair.py``): closing or not, it goes.
        False when it would pass the outbound limit (the connection is then closing)."""
        if opcode == OP_CLOSE:
            frame = header(OP_CLOSE, len(payload)) + payload
            self._queue((frame,), len(frame))
            return True
        try:
            self._frame_queued(opcode, payload, len(payload), token)
        except ConnectionClosed:
            return False
        return True

    def _frame_queued(self, opcode, payload, length, token):
        """Frame and queue. A data frame that would pass ``max_outbound`` while something
        waits fails the connection; control frames are small and bounded elsewhere (one ping
        in flight, and the reader, which answers pings, pauses while anything waits)."""
        waiting = self._out_bytes
        if opcode < 8 and waiting and waiting + length > self.max_outbound:
            self._overflow(f"{waiting} bytes waiting for the client and {length} more sent, "
                           f"over the {self.max_outbound}-byte outbound limit")
        impair = self._impair
        if impair is not None and impair.fragment and opcode < 8 and length > impair.fragment:
            data = impair.frames(opcode, payload)
            self._queue((data,) + _marker(token), len(data))
            return
        head = header(opcode, length)
        if length <= LARGE_SEND:
            self._queue((head + payload,) + _marker(token), len(head) + length)
        else:
            self._queue((head, _owned(payload)) + _marker(token), len(head) + length)

    def impairments(self, rng):
        """This socket's :class:`~mockd.ws.impair.Impairments`, made on first use. From then on
        every frame goes through the writer greenlet (no direct write), so that no frame
        overtakes one that is held or paced, also after the impairments are lifted."""
        if self._impair is None:
            self._impair = Impairments(self, rng)
            self._raw_send = None
        return self._impair

    def _overflow(self, detail):
        """Close with 1008 ``outbound buffer full`` and raise :class:`ConnectionClosed`."""
        if not self.closed:
            log.debug("outbound buffer full: %s", detail)
            notify(self.on_overflow, "on_overflow", detail)
            self.close(CLOSE_POLICY_VIOLATION, "outbound buffer full")
        raise ConnectionClosed("outbound buffer full")

    def _queue(self, pieces, size):
        """Append bytes that must follow everything already sent; start the writer if idle."""
        out = self._out
        if out is not None:
            out.extend(pieces)
            self._out_bytes += size
            return
        self._out = collections.deque(pieces)
        self._out_bytes = size
        self._drained = Event()
        spawn(self._write_queued)

    def _write_queued(self):
        """The writer greenlet: drains ``_out`` in order, blocking only itself."""
        out = self._out
        send = self._sock.send  # gevent's: waits for the socket to be writable, then one send
        if self._impair is not None:  # a throttle may come or go while this writer runs
            send = self._impair.paced(send)
        ok = False
        try:
            while out:
                piece = out[0]
                if piece.__class__ is _Written:  # the frame before it is all in the kernel
                    out.popleft()
                    notify(self.on_written, "on_written", piece.token)
                    continue
                view = memoryview(piece)
                size = len(view)
                pos = 0
                while pos < size:
                    sent = send(view[pos:])
                    pos += sent
                    self._written += sent
                    self._out_bytes -= sent
                out.popleft()
            ok = True
        except OSError:
            pass  # the peer is gone, or the socket was shut down or closed under us
        except BaseException as exc:  # killed with its connection, or a bug: never a "crashed" greenlet
            if not isinstance(exc, gevent.GreenletExit):
                log.exception("WebSocket writer failed")
        finally:
            self._out = None
            self._out_bytes = 0
            drained, self._drained = self._drained, None
            if not ok:
                self._lost()
            elif self._shut_pending:
                self._shutdown(socket.SHUT_WR)
            drained.set()

    def drain(self):
        """Block this greenlet until the kernel has taken everything sent so far.

        For the connection's own producers (reader, scenario): they then go at the client's
        pace. A client that takes no byte for ``send_timeout`` seconds while data waits is
        closed with 1008 and :class:`ConnectionClosed` is raised; so is it when the connection
        is lost meanwhile."""
        timeout = self.send_timeout or None  # 0 or None: wait as long as the client takes
        while self._out is not None:
            written = self._written
            if self._drained.wait(timeout):
                break
            if self._written == written and self._out is not None:
                self._overflow(f"the client took nothing for {self.send_timeout:g} s with "
                               f"{self._out_bytes} bytes waiting")
        if self.closed:
            raise ConnectionClosed(f"connection closed ({self.close_code})")

    def _wait_drained(self):
        """Block until nothing is held or waits for the writer (or the connection is lost)."""
        if self._impair is not None:
            self._impair.join()
        drained = self._drained
        if drained is not None:
            drained.wait()

    def _write_close(self, payload):
        """Write (or queue behind waiting frames) a close frame; never blocks. True unless the
        socket is already dead (it is then shut down)."""
        impair = self._impair
        if impair is not None and impair.hold(OP_CLOSE, payload, None):
            return True
        return self._write_raw(header(OP_CLOSE, len(payload)) + payload)

    def _write_raw(self, data):
        """Write ready-made frame bytes after whatever waits; never blocks. False when the
        socket is dead (it is then shut down)."""
        if self._out is not None or self._raw_send is None:
            self._queue((data,), len(data))
            return True
        try:
            sent = self._raw_send(data)
        except BlockingIOError:
            sent = 0
        except OSError:
            self._lost()
            return False
        if sent < len(data):
            self._queue((data[sent:],), len(data) - sent)
        return True


class _Written:
    """Queued after a frame's bytes: the writer reports the frame as written when it gets here."""

    __slots__ = ("token",)

    def __init__(self, token):
        self.token = token


def _marker(token):
    return () if token is None else (_Written(token),)


def _owned(payload):
    """``payload`` as immutable bytes, for a frame that outlives the send call."""
    return payload if payload.__class__ is bytes else bytes(payload)
