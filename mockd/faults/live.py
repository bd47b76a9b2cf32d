"""The faults in force: :class:`MockFaults` (a mock's list, its config's plus the admin API's)
and :class:`ConnectionFaults` (one connection's triggers still to fire).

A connection-stage fault reaches every live connection of its mock when it is added and every
new one when it is accepted. For each connection the ``probability`` is drawn once, from the
connection's seeded generator (made as connections are accepted, so a ``--seed`` repeats the
decisions); then the fault applies at once, after the connection's N-th message has been
handled (its reply sent), or ``duration`` after the upgrade. A handshake-stage fault is asked
by every upgrade attempt of its mock; ``count`` of them at most, counted from when it was added.
"""
import json
import logging
import socket
import struct
import time

import gevent

from ..greenlets import UNWIND, spawn
from ..ws.protocol import ConnectionClosed
from .context import FaultContext, HandshakeContext

__all__ = ["ConnectionFaults", "MockFaults", "apply_fault"]

log = logging.getLogger("mockd.faults")

try:
    import fcntl
    import termios
    _SIOCOUTQ = getattr(termios, "TIOCOUTQ", None) if hasattr(socket, "TCP_INFO") else None  # SIOCOUTQ (Linux)
except ImportError:
    fcntl = _SIOCOUTQ = None
_OPEN_STATES = (1, 8)  # TCP_ESTABLISHED, TCP_CLOSE_WAIT (the peer sent its FIN, may still read)


class ActiveFault:
    """A fault entry in a mock's list, with its handshake ``remaining`` count."""

    __slots__ = ("fault", "remaining")

    def __init__(self, fault):
        self.fault = fault
        self.remaining = fault.count

    def describe(self):
        shown = dict(self.fault.spec)
        if self.remaining is not None:
            shown["remaining"] = self.remaining
        return shown


class MockFaults:
    """One mock's faults. ``config`` is the tuple its config gave: the list starts from it, and
    starts again only when the mock's config names other faults (a toggle keeps what was added)."""

    def __init__(self, config_faults):
        self.config_specs = [fault.spec for fault in config_faults]
        self.entries = [ActiveFault(fault) for fault in config_faults]

    def __bool__(self):
        return bool(self.entries)

    def describe(self):
        return [entry.describe() for entry in self.entries]

    def add(self, fault, connections):
        """Add ``fault``; a connection-stage one applies to the live ``connections`` too.
        Returns how many connections it was applied (or armed) for."""
        self.entries.append(ActiveFault(fault))
        if fault.stage != "connection":
            return 0
        return sum(1 for connection in list(connections) if arm(connection, fault))

    def clear(self, connections):
        """Remove every fault; lift what is in force on the live ``connections`` (latency,
        throttle, fragment, stopPongs; a silence, a close or a drop has happened). Returns
        (faults removed, connections lifted)."""
        removed = len(self.entries)
        self.entries = []
        lifted = 0
        for connection in list(connections):
            if connection.faults is not None:
                connection.faults.clear()
                lifted += 1
        return removed, lifted

    def attach(self, connection):
        """A new connection of the mock: arm each connection-stage fault for it."""
        for entry in self.entries:
            if entry.fault.stage == "connection":
                arm(connection, entry.fault)

    def check_handshake(self, environ, mock_id, rng, journal):
        """Ask the handshake-stage faults about one upgrade attempt: the first that stops it
        wins (a Rejection or an Unanswered, journaled as an event with no connection id), or None."""
        for entry in self.entries:
            fault = entry.fault
            if fault.stage != "handshake" or entry.remaining == 0:
                continue
            if fault.probability is not None and rng.random() >= fault.probability:
                continue
            outcome = fault.instance.apply(HandshakeContext(environ, mock_id, rng))
            if outcome is not None:
                if entry.remaining is not None:
                    entry.remaining -= 1
                path, text = environ.get("PATH_INFO", ""), _text(fault)
                log.info("handshake on %s refused by fault %s", path, text, extra={"mock_id": mock_id})
                journal.record(_Handshake(mock_id, path), "event",
                               f"fault {text} refused a handshake from {environ.get('REMOTE_ADDR', '')}")
                return outcome
        return None


class _Handshake:
    """What the journal reads of a connection, for an upgrade attempt that never became one."""

    __slots__ = ("mock_id", "path")
    id = None

    def __init__(self, mock_id, path):
        self.mock_id, self.path = mock_id, path


def arm(connection, fault):
    """Apply ``fault`` to ``connection`` now or when its trigger fires, if its probability
    draw says so; True when it will apply."""
    if fault.probability is not None and connection.fault_random.random() >= fault.probability:
        return False
    if connection.closed:
        return False
    faults = connection.faults
    if faults is None:
        faults = connection.faults = ConnectionFaults(connection)
    faults.arm(fault)
    return True


class ConnectionFaults:
    """One connection's faults still waiting for their trigger."""

    def __init__(self, connection):
        self.connection = connection
        self.by_message = []   # (N, fault), waiting for the N-th message to be handled
        self.timers = []       # greenlets sleeping until a duration trigger

    def arm(self, fault):
        connection = self.connection
        if fault.after_messages is not None and connection.messages_received < fault.after_messages:
            self.by_message.append((fault.after_messages, fault))
            self.by_message.sort(key=lambda pending: pending[0])
            connection.fault_watch = self.by_message[0][0]
        elif fault.after_seconds is not None:
            wait = connection.connected_at.timestamp() + fault.after_seconds - time.time()
            if wait > 0:
                self.timers.append(spawn(self._after, wait, fault))
                return
            apply_fault(connection, fault)
        else:
            apply_fault(connection, fault)

    def on_message(self):
        """Called by the connection after each handled message while ``fault_watch`` is set."""
        connection = self.connection
        count = connection.messages_received
        if self.by_message and self.by_message[0][0] <= count:
            _wait_sent(connection)
        while self.by_message and self.by_message[0][0] <= count:
            _, fault = self.by_message.pop(0)
            apply_fault(connection, fault)
        connection.fault_watch = self.by_message[0][0] if self.by_message else None

    def _after(self, wait, fault):
        gevent.sleep(wait)
        self.timers = [timer for timer in self.timers if timer is not gevent.getcurrent()]
        if not self.connection.closed:
            apply_fault(self.connection, fault)

    def clear(self):
        """Cancel what waits and lift the impairments in force."""
        self.cancel()
        ws = self.connection.ws
        if ws is not None and ws._impair is not None:
            ws._impair.lift()

    def cancel(self):
        self.by_message = []
        self.connection.fault_watch = None
        timers, self.timers = self.timers, []
        for timer in timers:
            if timer is not gevent.getcurrent():
                timer.kill(block=False)


def _wait_sent(connection):
    """Block the connection's reader until what it sent so far has left: the frames latency
    holds, those queued for the socket, and the bytes in the kernel's send queue.

    Fix: ``after: {messages: N}`` promises that the N-th message's reply goes out before the
    fault applies, but the fault applied as soon as the reply was handed to the socket: a drop
    (whose RST makes the kernel discard what it has not sent) cut a reply larger than the
    socket buffers and killed one held by latency, a silence swallowed a held one, and a bad
    frame overtook it. Each wait is bounded: by the latency, by ``send_timeout`` (``drain``
    closes a client that takes nothing with 1008) and by the close timeout."""
    ws = connection.ws
    if ws is None or ws.closed:
        return
    impair = ws._impair
    if impair is not None and impair.line:
        last_due = impair._last_due  # frames held now are due by then; later ones are not waited for
        while impair.line and impair.line[0][0] <= last_due and not ws.closed:
            gevent.sleep(max(0.001, impair.line[0][0] - time.monotonic()))
    try:
        ws.drain()
    except ConnectionClosed:
        return
    deadline = time.monotonic() + ws.close_timeout
    while _kernel_unsent(ws._sock) and time.monotonic() < deadline and not ws.closed:
        gevent.sleep(0.002)


def _kernel_unsent(sock):
    """Bytes in ``sock``'s kernel send queue not yet acknowledged by the peer (Linux
    ``SIOCOUTQ``); 0 where that cannot be asked, and once the connection is no longer
    established (reset by the peer, say: what is left will never be acknowledged)."""
    if _SIOCOUTQ is None:
        return 0
    try:
        if sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0] not in _OPEN_STATES:  # tcpi_state
            return 0
        return struct.unpack("i", fcntl.ioctl(sock.fileno(), _SIOCOUTQ, b"\0\0\0\0"))[0]
    except (OSError, ValueError):
        return 0


def _text(fault):
    return json.dumps(fault.spec, separators=(",", ":"), sort_keys=False)


def apply_fault(connection, fault):
    """Apply ``fault`` to ``connection`` now, journaled as an event; a fault type that raises
    ends the connection with 1011 naming its plugin (never the caller: a timer, the admin API)."""
    if connection.closed:
        return False
    text = _text(fault)
    connection.server.journal.record(connection, "event", f"fault {text}")
    log.info("fault %s applied to connection %s", text, connection.id,
             extra={"connection_id": connection.id, "mock_id": connection.mock_id})
    try:
        fault.instance.apply(FaultContext(connection))
    except UNWIND:
        raise
    except BaseException as exc:  # SystemExit from a plugin too, as everywhere in a connection
        connection._fail(exc, f"fault {fault.type!r} on connection", "fault error")
    return True
