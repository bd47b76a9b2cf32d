"""The two-way relay of a proxied connection: :class:`UpstreamLink`.

Client to upstream runs in the connection's greenlet (the message pipeline forwards what the
rules leave, or everything in ``passthrough``): a slow upstream blocks that greenlet, which
stops reading the client. Upstream to client runs in a greenlet of its own that waits, after
each frame, until the client's socket has taken it (``pace``): a slow client stops the reading
of the upstream, whose TCP window then fills, so memory stays bounded both ways.

Close codes and reasons are mirrored; an upstream that vanishes without a close frame closes
the client with 1014 (bad gateway). Frames are journaled with ``matched: proxy`` and, with
``record: true``, kept in a :class:`~mockd.proxy.recording.Recording`.
"""
import logging
import struct

from ..closecodes import (CLOSE_ABNORMAL, CLOSE_BAD_GATEWAY, CLOSE_GOING_AWAY, CLOSE_NORMAL, CLOSE_TOO_BIG,
                          sendable_close_code)
from ..greenlets import UNWIND, spawn
from ..ws.frames import OP_BINARY, OP_CLOSE
from .recording import Recording, redact_headers, redact_url
from .wire import MessageTooBig, UpstreamClosed, UpstreamWire

__all__ = ["LABEL", "UpstreamLink"]

log = logging.getLogger("mockd.proxy")

LABEL = "proxy"  # the journal's "matched" of a proxied frame, both ways
CLOSE_WAIT = 2.0  # seconds an upstream has to answer the client's close, as a socket's own close


def _client_headers(environ):
    return [[key[5:].replace("_", "-").title(), value] for key, value in environ.items()
            if key.startswith("HTTP_")]


class UpstreamLink:
    """One client's upstream connection, from the 101 until both sides have closed."""

    def __init__(self, spec, upstream, connection, environ, redacted=()):
        self.spec = spec
        # websocket-client made the handshake; the frames go over its socket (wire.py says why).
        # The mock's maxMessageSize bounds the upstream's messages too: each one is read whole,
        # so the bound is what a slow client can make mockd hold per connection.
        self.wire = UpstreamWire(upstream.sock, connection.max_message_size)
        self.connection = connection
        self.recording = None
        self._closing = False  # one side's close has been mirrored to the other
        if spec.record:
            response = list((upstream.getheaders() or {}).items())
            self.recording = Recording(connection.mock_id, connection.path, redact_url(spec.url), upstream.subprotocol,
                                       # forwarded headers are credentials more often than not
                                       redact_headers(_client_headers(environ), (*redacted, *spec.forward_headers)),
                                       redact_headers(response, redacted))
        self._reader = None

    def start(self):
        """Begin relaying the upstream's frames (the client has been upgraded)."""
        self._reader = spawn(self._relay_upstream)

    # ------------------------------------------------------------ client -> upstream

    def forward(self, data):
        """Send a client's message upstream (journaled and recorded)."""
        connection = self.connection
        connection.server.journal.record(connection, "inbound", data, LABEL)
        if self.recording is not None:
            self.recording.add("client", "binary" if data.__class__ is bytes else "text", data)
        try:
            self.wire.send_data(data)
        except OSError:
            self._upstream_lost()

    def client_closed(self, code, reason):
        """The client's close (or loss): mirror it upstream, unless the upstream started it."""
        if self.recording is not None:
            self.recording.add("client", "close", reason or "", code)
        if not self._closing:
            self._closing = True
            try:  # a client that vanished (1006) is a client gone away
                self.wire.send_close(sendable_close_code(code, CLOSE_GOING_AWAY), (reason or "").encode("utf-8"))
            except OSError:
                pass
            else:
                # A clean closing handshake upstream: its close frame is read (and recorded) by
                # the relay greenlet, which then ends; an upstream that never answers is cut.
                if self._reader is not None:
                    self._reader.join(timeout=CLOSE_WAIT)
        self.finish()

    def finish(self):
        """Stop relaying; keep the recording. Called once the connection has ended."""
        if self._reader is not None and not self._reader.dead:
            self._reader.kill(block=False)
        self.wire.close()
        recording, self.recording = self.recording, None
        if recording is not None:
            self.connection.server.recordings.add(recording)

    # ------------------------------------------------------------ upstream -> client

    def _relay_upstream(self):
        connection = self.connection
        recording = self.recording
        try:
            receive, send, pace, ws = self.wire.receive, connection.send, connection.pace, connection.ws
            while True:
                opcode, data = receive()
                if opcode == OP_CLOSE:
                    self._upstream_closed(data)
                    return
                payload = data if opcode == OP_BINARY else data.decode("utf-8", "replace")
                if recording is not None:
                    recording.add("server", "binary" if opcode == OP_BINARY else "text", payload)
                if not send(payload, LABEL) or (ws.buffered_amount and not pace()):
                    return  # (pace only when the client's socket did not take it all at once)
        except UNWIND:
            raise
        except MessageTooBig as exc:
            self._too_big(str(exc))
        except (OSError, UpstreamClosed) as exc:
            log.debug("upstream of connection %s lost: %r", connection.id, exc)
            self._upstream_lost()

    def _upstream_closed(self, payload):
        code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
        reason = payload[2:].decode("utf-8", "replace")
        if self.recording is not None:
            self.recording.add("server", "close", reason, code)
        mirrored = sendable_close_code(code, CLOSE_NORMAL)
        try:  # the closing handshake's answer, with the upstream's own code (RFC 6455 5.5.1)
            self.wire.send_close(mirrored)
        except OSError:
            pass
        if not self._closing:
            self._closing = True
            self.connection.close(mirrored, reason)

    def _too_big(self, detail):
        """An upstream message over the mock's maxMessageSize: 1009 to both sides."""
        log.warning("proxy %s: %s; closing with 1009 (raise the mock's maxMessageSize)", self.connection.path,
                    detail, extra={"mock_id": self.connection.mock_id, "connection_id": self.connection.id})
        if self.recording is not None:
            self.recording.add("server", "close", "message too big", CLOSE_TOO_BIG)
        if not self._closing:
            self._closing = True
            try:
                self.wire.send_close(CLOSE_TOO_BIG, b"message too big")
            except OSError:
                pass
            self.connection.close(CLOSE_TOO_BIG, "upstream message too big")

    def _upstream_lost(self):
        """The upstream went away without a close frame: the client gets 1014."""
        if self.recording is not None:  # 1006, as RFC 6455 names a close without a frame: replay sends 1014
            self.recording.add("server", "close", "upstream gone", CLOSE_ABNORMAL)
        if not self._closing:
            self._closing = True
            self.connection.close(CLOSE_BAD_GATEWAY, "upstream gone")
