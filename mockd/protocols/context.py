"""What a protocol's ``run(ctx)`` gets: :class:`ProtocolContext`.

A protocol runs blocking-style in the connection's greenlet. The frames it receives are read
by a second greenlet into a one-slot queue: a read cannot be cut short by a timeout without
losing a half-read frame, so ``receive(timeout=...)`` waits on the queue instead, and the slot
keeps the reader from running ahead of the protocol (backpressure reaches the client's TCP
window, as on a mock without a protocol).
"""
from urllib.parse import parse_qs

import gevent
from gevent.queue import Empty, Queue

from ..closecodes import CLOSE_NORMAL
from ..durations import check_seconds
from ..greenlets import spawn
from ..message import as_frame

__all__ = ["ProtocolContext"]

_CLOSED = None  # what the reader queues when the connection has ended


class ProtocolContext:
    """A connection as a protocol's ``run`` sees it.

    :ivar connection: the :class:`mockd.connection.Connection` (``id``, ``path``,
        ``subprotocol``, ``remote_addr``...).
    :ivar protocol: the protocol instance (its settings, as ``from_config`` built them).
    :ivar server: the :class:`mockd.server.MockServer`.
    :ivar state: anything the protocol keeps for this connection (its subscriptions, say), for
        the protocol's admin routes to find through ``server.protocol_contexts()``.

    .. versionadded:: 1.0
    """

    def __init__(self, connection, protocol):
        self.connection = connection
        self.protocol = protocol
        self.server = connection.server
        self.state = None
        self._label = protocol.name  # the journal's "matched" for what the protocol took
        self._inbox = Queue(maxsize=1)
        self._ended = False
        self._greenlets = []
        self._reader = self.spawn(self._read)

    @property
    def path(self):
        return self.connection.path

    @property
    def query(self):
        """The handshake's query string as ``{name: [values]}`` (``?sid=...`` of Engine.IO)."""
        environ = self.connection.ws.environ if self.connection.ws is not None else None
        return parse_qs((environ or {}).get("QUERY_STRING", ""), keep_blank_values=True)

    @property
    def subprotocol(self):
        return self.connection.subprotocol

    @property
    def closed(self):
        return self._ended or self.connection.closed

    def _read(self):
        # The connection's accounting (counters, observer hook, idle timer) happens here, as
        # each frame arrives; the journal entry when the protocol takes it (receive()).
        take = self.connection.take_inbound
        receive = self.connection.ws.receive_message
        try:
            while True:
                data = receive()
                if data is None:
                    break
                self._inbox.put(take(data))
        finally:
            self._inbox.put(_CLOSED)

    def receive(self, timeout=None, journal=True):
        """The next :class:`mockd.message.Message` from the client, or ``None`` once the
        connection has ended or after ``timeout`` seconds (``None``: no limit). With
        ``journal=False`` the protocol journals it itself, once decoded (:meth:`journal`)."""
        check_seconds(timeout, "ctx.receive(timeout=...)", optional=True)
        connection = self.connection
        if connection.fault_watch is not None:  # the message before this one has been handled
            connection.faults.on_message()
        if self._ended:
            return None
        try:
            message = self._inbox.get(timeout=timeout)
        except Empty:
            return None
        if message is _CLOSED:
            self._ended = True
            return None
        if journal:
            self.connection.record_inbound(message.data, self._label)
        return message

    def journal(self, message, decoded=None):
        """Journal a message taken with ``receive(journal=False)``, its ``matched`` the
        protocol's name and what it decoded (``"graphql-transport-ws: subscribe OnMessage"``)."""
        self.connection.record_inbound(message.data, self._labelled(decoded))

    def send(self, payload, decoded=None):
        """Send ``str`` (text frame), ``bytes`` (binary frame) or a ``dict``/``list`` (JSON
        text); journaled as it reaches the socket, with ``decoded`` (what the frame is, in the
        protocol's terms: ``"next OnMessage"``) beside it as its ``matched``. ``False`` once
        the connection is closed."""
        return self.connection.send(as_frame(payload, "ctx.send()"), self._labelled(decoded) if decoded else None)

    def _labelled(self, decoded):
        return f"{self._label}: {decoded}" if decoded else self._label

    def close(self, code=CLOSE_NORMAL, reason=""):
        """Close the connection (``receive`` then returns ``None``)."""
        self.connection.close(code, reason)

    def record(self, text):
        """Write an ``event`` entry to the journal (``GET /websocket/messages`` shows it)."""
        self.server.journal.record(self.connection, "event", text)

    def sleep(self, seconds):
        gevent.sleep(seconds)

    def spawn(self, function, *args, **kwargs):
        """Run ``function`` in a greenlet of its own beside the protocol (a stream of
        ``next`` messages, a ticker). It is killed when the connection ends; an exception in it
        closes the connection with 1011 and is logged naming the plugin."""
        greenlet = spawn(self._guarded, function, args, kwargs)
        self._greenlets.append(greenlet)
        return greenlet

    def _guarded(self, function, args, kwargs):
        self.connection.run_guarded(function, *args, what="protocol", reason="protocol error", **kwargs)

    def stop(self):
        """Kill the greenlets this context started (the connection calls it at teardown)."""
        gevent.killall([g for g in self._greenlets if not g.dead], block=False)
