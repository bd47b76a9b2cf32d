"""Impairments of one WebSocket's transport, for the fault types (``mockd/faults/``).

What a network or a broken server does to a connection, done to one :class:`MockdWebSocket`:

- ``latency``: a delay line in front of the framing. Each outbound frame (data, ping, pong,
  close) is held until ``fixed + jitter`` seconds after it was sent, and never before the
  frame sent before it, so order is kept. Held frames do not count as unwritten for ``drain``
  (a scenario ticking every 100 ms with 200 ms of latency still ticks every 100 ms: latency
  shifts the stream, it does not slow it down); they count against ``max_outbound``.
- ``fragment``: data messages framed as continuation frames of at most N payload bytes.
- ``throttle``: the socket's writer hands at most N bytes a second to the kernel, in slices of
  at most a twentieth of a second's worth, so the client sees a steady trickle.
- ``silent``: nothing is written any more (frames, pongs, close frames are dropped) and what the
  client sends is read and thrown away, so that a client closing TCP is still noticed.
- ``no_pongs``: the client's pings get no pong.

While a connection is impaired every frame goes through the socket's writer greenlet (the
direct, non-blocking write is off), so that a held or fragmented frame is never overtaken.
:func:`drop` and :func:`bad_frame` are one-off actions.
"""
import collections
import socket
import struct
import time

from gevent.event import Event

from ..closecodes import CLOSE_ABNORMAL
from ..greenlets import spawn
from .frames import OP_CONT, OP_PING, OP_TEXT, header

__all__ = ["BAD_FRAMES", "Impairments", "bad_frame", "close_now", "drop", "write_raw"]

_SLICES_PER_SECOND = 20
# The "opcode" of a delay-line entry that is ready-made frame bytes (a bad frame, a plugin's
# send_raw), written as they are when due.
_RAW = 0x100


class Impairments:
    """The impairments in force on one socket (``ws._impair``); set through :meth:`update`."""

    def __init__(self, ws, rng):
        self.ws = ws
        self.rng = rng            # jitter draws (the connection's seeded generator)
        self.fixed = 0.0
        self.jitter = 0.0
        self.fragment = 0         # payload bytes a frame, 0: off
        self.rate = 0             # bytes a second, 0: off
        self.silent = False
        self.no_pongs = False
        self.line = collections.deque()  # held frames: (due, opcode, payload, token)
        self.line_bytes = 0
        self._last_due = 0.0
        self._runner = None
        self._lifted = Event()     # wakes the delay line when latency is lifted: what it holds goes now
        self._clock = 0.0          # the throttle's: when the bytes written so far may have left

    @property
    def holding(self):
        """Frames wait in the delay line (a shutdown after the close frame must wait too)."""
        return bool(self.line)

    def update(self, **changes):
        for name, value in changes.items():
            setattr(self, name, value)

    def lift(self):
        """End every impairment but silence (a silenced client has already seen nothing): what
        the delay line holds goes at once, and the writer stops pacing at its next write."""
        self.fixed = self.jitter = 0.0
        self.fragment = self.rate = 0
        self.no_pongs = False
        self._last_due = 0.0
        self._lifted.set()

    # ------------------------------------------------------------ the delay line

    def hold(self, opcode, payload, token):
        """Called by the socket for each frame before it is framed: True when the frame is
        taken here (dropped in silence, or held by the delay line), False to write it now."""
        if self.silent:
            return True
        if not (self.fixed or self.jitter) and not self.line:
            return False
        ws = self.ws
        length = len(payload)
        if opcode < 8 and self.line_bytes + ws._out_bytes + length > ws.max_outbound and (self.line or ws._out_bytes):
            ws._overflow(f"{self.line_bytes + ws._out_bytes} bytes held or waiting for the client and {length} "
                         f"more sent, over the {ws.max_outbound}-byte outbound limit")
        delay = self.fixed + (self.rng.uniform(0.0, self.jitter) if self.jitter else 0.0)
        due = max(time.monotonic() + delay, self._last_due)
        self._last_due = due
        self.line.append((due, opcode, payload if payload.__class__ is bytes else bytes(payload), token))
        self.line_bytes += length
        if self._runner is None:
            self._runner = spawn(self._run_line)
        return True

    def _run_line(self):
        """The delay line's greenlet: each frame goes to the socket's writer when it is due."""
        line, ws = self.line, self.ws
        try:
            while line:
                due, opcode, payload, token = line[0]
                wait = due - time.monotonic()
                if wait > 0 and (self.fixed or self.jitter):  # lifted: what is held goes now
                    self._lifted.clear()
                    self._lifted.wait(wait)
                    continue  # due now, or lifted meanwhile: look again
                line.popleft()
                self.line_bytes -= len(payload)
                if self.silent:
                    continue
                if opcode == _RAW:
                    ws._write_raw(payload)
                    continue
                if not ws._emit(opcode, payload, token):
                    return  # over the outbound limit: the connection is closing with 1008
        finally:
            self._runner = None
            line.clear()
            self.line_bytes = 0
            if ws._shut_pending and ws._out is None:
                ws._shutdown(socket.SHUT_WR)

    def join(self):
        """Wait until the delay line has handed every frame on."""
        runner = self._runner
        if runner is not None:
            runner.join()

    def stop(self):
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.kill(block=False)

    # ------------------------------------------------------------ framing and pacing

    def frames(self, opcode, payload):
        """``payload`` as a text/binary frame followed by continuation frames of at most
        ``fragment`` payload bytes, as one bytes object."""
        size = self.fragment
        view = memoryview(payload)
        # One growing buffer, not a list of parts: 16 MiB in 1-byte fragments is 48 MiB here,
        # where a list held 32 million objects.
        out = bytearray()
        for start in range(0, len(view), size):
            chunk = view[start:start + size]
            last = start + size >= len(view)
            out += _header_bits((0x80 if last else 0) | (opcode if start == 0 else OP_CONT), len(chunk))
            out += chunk
        return out

    def paced(self, send):
        """``send`` (one socket write, the writer greenlet's) that hands the kernel ``rate``
        bytes a second at most, in slices of a twentieth of a second's worth. The rate is read
        at every write, so that a throttle applied or lifted while a backlog drains takes
        effect at once (not after the backlog: at 1 byte a second, never)."""
        def paced_send(data):
            rate = self.rate
            if not rate:
                return send(data)
            sent = send(data[:max(1, rate // _SLICES_PER_SECOND)])
            now = time.monotonic()
            self._clock = max(self._clock, now - 1.0 / _SLICES_PER_SECOND) + sent / rate
            if self._clock > now:
                self._lifted.clear()
                self._lifted.wait(self._clock - now)  # lift() ends the wait
            return sent
        return paced_send


def _header_bits(first_byte, length):
    """A frame header with its first byte (FIN, RSV, opcode) given whole."""
    opcode = first_byte & 0x0F
    head = header(opcode, length)
    return bytes((first_byte,)) + head[1:]


def drop(ws):
    """Reset the TCP connection (``SO_LINGER`` 0, then close): no close frame, the client sees
    1006. The reader and writer waiting on the socket are woken by gevent with an error."""
    ws._done_reading = True
    if ws.close_code is None:
        ws.close_code = CLOSE_ABNORMAL
    ws._mark_closed()
    ws._stop_close_timer()
    if ws._impair is not None:
        ws._impair.stop()
    close_now(ws._sock, reset=True)


def close_now(sock, reset=False):
    """Close ``sock``'s file descriptor now, with an RST when ``reset`` (``SO_LINGER`` 0), else
    a FIN. ``close()`` would not: pywsgi's ``rfile`` (a ``makefile``) holds a reference that
    keeps the descriptor open until the handler ends. ``_real_close`` is what ``close()`` calls
    once no such reference is left; in gevent it also wakes the greenlets waiting on the
    socket with an error (pinned by tests/test_upstream_pins.py)."""
    if reset:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    try:
        sock._real_close()
    except OSError:
        pass


# Frames a correct client must reject (RFC 6455 sections 5.2, 5.5 and 8.1), and the close code it should fail with.
BAD_FRAMES = {
    "invalidUtf8": (header(OP_TEXT, 4) + b"ok\xff\xfe", 1007),
    "reservedBit": (_header_bits(0x80 | 0x40 | OP_TEXT, 3) + b"rsv", 1002),
    # a masked server frame: mask bit set, key 0x01020304, payload "mask" masked with it
    "maskedFrame": (bytes((0x80 | OP_TEXT, 0x80 | 4)) + b"\x01\x02\x03\x04"
                    + bytes(a ^ b for a, b in zip(b"mask", b"\x01\x02\x03\x04")), 1002),
    "badOpcode": (_header_bits(0x80 | 0x3, 3) + b"op3", 1002),
    "oversizeControl": (header(OP_PING, 126) + b"p" * 126, 1002),
}


def bad_frame(ws, kind):
    """Write the frame ``BAD_FRAMES[kind]``, after whatever waits; False once closed."""
    return write_raw(ws, BAD_FRAMES[kind][0])


def write_raw(ws, data):
    """Write ready-made frame bytes after every frame sent before them; False once closed.

    Fix: ``ws._write_raw`` alone queues behind the writer only, so a bad frame overtook the
    frames the latency delay line held (the reply of the message that triggered it came after
    it) and was written in silence. Through :meth:`Impairments.hold` it takes its turn in the
    line (held like any frame) and is dropped in silence."""
    if ws.closed:
        return False
    impair = ws._impair
    if impair is not None and impair.hold(_RAW, data, None):
        return True
    return ws._write_raw(data)
