"""One Engine.IO session: its sid, its transport (long-polling, then maybe WebSocket), the
server's pings, and the Socket.IO sockets it carries.

A session outlives its HTTP requests, and it may move from long-polling to a WebSocket
connection (the upgrade), so it is kept by its mock's protocol instance (``sessions``: sid ->
session), not by a connection. Its frames go out through :meth:`Session.send`: on WebSocket at
once, through the connection (journaled as it reaches the socket); on long-polling into the
outbox that the next ``GET`` takes (journaled then, under the session's sid as the connection
id, there being no WebSocket connection).

Everything runs in greenlets of one thread: a WebSocket connection's, the requests' and the
pinger's. Nothing here blocks but :meth:`Session.poll` and the pinger's waits.
"""
import gevent
from gevent.event import Event

from ...closecodes import CLOSE_NORMAL
from ...durations import format_duration
from ...greenlets import spawn
from . import codec
from .sockets import handle_packet, new_id

__all__ = ["Session"]

NOOP = ("6", "noop")


class _Peer:
    """What the journal reads of a connection, for the frames of a long-polling session."""

    __slots__ = ("id", "mock_id", "path")

    def __init__(self, sid, mock_id, path):
        self.id, self.mock_id, self.path = sid, mock_id, path


class Session:
    """An Engine.IO session of ``protocol`` (a ``SocketIOProtocol``); :meth:`start` it once
    its open packet is on its way."""

    def __init__(self, protocol, server, mock_id, path, max_payload, ctx=None):
        self.sid = new_id()
        self.protocol = protocol
        self.settings = protocol.settings
        self.server = server
        self.path = path
        self.max_payload = max_payload
        self.peer = _Peer(self.sid, mock_id, path)
        self.ctx = ctx            # the WebSocket's ProtocolContext once on WebSocket
        self.upgrading = False    # a WebSocket has probed: the polls get a noop, sends wait
        self.closed = False
        self.outbox = []          # (frame, label) for the next poll
        self.outbox_bytes = 0     # bounded like a WebSocket's outbound queue (--max-outbound-buffer)
        self.polling = False      # a GET is waiting
        self.sockets = {}         # namespace -> sockets.Socket
        self.decoder = codec.PacketDecoder()
        self._wakeup = Event()
        self._pong = Event()
        self._pinger = None
        protocol.sessions[self.sid] = self

    @property
    def connection(self):
        """The WebSocket connection (templates' ``{{connection.id}}``), None while polling."""
        return self.ctx.connection if self.ctx is not None else None

    def start(self):
        self._pinger = spawn(self._ping_loop)

    # ------------------------------------------------------------ out

    def send(self, frame, label):
        """Send one Engine.IO frame (``str`` or ``bytes``); False once the session is closed."""
        if self.closed:
            return False
        if self.ctx is not None:
            return self.ctx.send(frame, decoded=label)
        self.outbox_bytes += len(frame)
        limit = self.server.options.max_outbound_buffer
        if self.outbox_bytes > limit and self.outbox:
            # A polling client that pongs but never GETs let emits pile up without end; a
            # WebSocket one is closed with 1008 at the same limit. What waits is dropped first:
            # the close packet then has room.
            self.outbox, self.outbox_bytes = [], 0
            self.close(f"outbound buffer full: {self.outbox_bytes} bytes waiting for the client's poll, over "
                       f"the {limit}-byte limit")
            return False
        self.outbox.append((frame, label))
        self._wakeup.set()
        return True

    def send_frames(self, frames, label):
        """A Socket.IO packet's frames: the packet, then its binary attachments."""
        if not self.send(frames[0], label):
            return False
        count = len(frames) - 1
        for index, frame in enumerate(frames[1:], 1):
            self.send(frame, f"binary attachment {index}/{count}")
        return True

    def send_packet(self, kind, namespace, data=None, packet_id=None):
        frames = codec.encode_packet(kind, namespace, data, packet_id)
        return self.send_frames(frames, codec.label(kind, namespace, data, packet_id, len(frames) - 1))

    # ------------------------------------------------------------ in

    def receive(self, frame, journal):
        """Act on one Engine.IO frame from the client; ``journal(label)`` journals it, decoded.

        :raises codec.ProtocolError: a malformed packet (journaled as such); the caller closes.
        """
        try:
            kind, data = codec.decode_frame(frame)
            if kind == codec.OPEN:
                raise codec.ProtocolError("a client does not send the open packet")
        except codec.ProtocolError as exc:
            journal(f"malformed packet: {exc}")
            raise
        if kind != codec.MESSAGE:
            journal(codec.describe_frame(kind, data))
            self._control(kind, data)
            return
        pending = self.decoder.pending
        try:
            packet = self.decoder.feed(data)
        except codec.ProtocolError as exc:
            journal(f"malformed packet: {exc}")
            raise
        if isinstance(data, bytes):
            journal(f"binary attachment {len(pending.attachments)}/{pending.attachment_count}")
        else:
            journal(codec.describe_packet(packet or self.decoder.pending))
        if packet is not None:
            handle_packet(self, packet)

    def _control(self, kind, data):
        if kind == codec.PONG:
            self._pong.set()
        elif kind == codec.PING:  # a probe on an established WebSocket, or an old client's ping
            self.send("3" + data, codec.describe_frame(codec.PONG, data))
        elif kind == codec.CLOSE:
            self.close("the client closed it", notify=False)
        # UPGRADE on an established transport and NOOP: nothing to do.

    # ------------------------------------------------------------ long-polling

    def poll(self, wait):
        """The frames a long-polling ``GET`` answers: what waits in the outbox, or what comes
        within ``wait`` seconds, or a noop. A noop at once during and after the upgrade."""
        if self.polling:
            # Two polls at once: Engine.IO's servers close such a session ("overlap from client").
            self.close("two long-polling GET requests at once")
            raise codec.HttpError(*codec.BAD_REQUEST)
        if self.ctx is not None or self.upgrading:
            return [NOOP]
        if self.closed and not self.outbox:
            raise codec.HttpError(*codec.UNKNOWN_SID)
        self.polling = True
        try:
            if not self.outbox and not self.closed:
                self._wakeup.clear()
                self._wakeup.wait(wait)
        finally:
            self.polling = False
        if self.ctx is not None or self.upgrading:
            return [NOOP]  # what waits goes on the WebSocket (attach)
        frames, self.outbox, self.outbox_bytes = self.outbox, [], 0
        if self.closed:
            self._forget()
        for frame, label in frames:
            self.journal_out(frame, label)
        return frames or [NOOP]

    def attach(self, ctx):
        """The upgrade is done: the WebSocket of ``ctx`` carries the session from now on, what
        waited for a poll first."""
        self.upgrading = False
        self.ctx = ctx
        waiting, self.outbox, self.outbox_bytes = self.outbox, [], 0
        for frame, label in waiting:
            ctx.send(frame, decoded=label)
        self._wakeup.set()

    def probed(self):
        """A WebSocket has probed: a waiting poll returns a noop, sends wait for the upgrade."""
        self.upgrading = True
        self._wakeup.set()

    # ------------------------------------------------------------ journal

    def journal_in(self, frame, label):
        self.server.journal.record(self.peer, "inbound", frame, f"{self.protocol.name}: {label}")

    def journal_out(self, frame, label):
        self.server.journal.record(self.peer, "outbound", frame, f"{self.protocol.name}: {label}")

    def record(self, text):
        """A journal event about this session."""
        text = f"{self.protocol.name}: session {self.sid}: {text}"
        if self.ctx is not None:
            self.ctx.record(text)
        else:
            self.server.journal.record(self.peer, "event", text)

    # ------------------------------------------------------------ pings and the end

    def _ping_loop(self):
        interval, timeout = self.settings.ping_interval, self.settings.ping_timeout
        while True:
            gevent.sleep(interval)
            if self.closed:
                return
            if not any(endpoint.protocol is self.protocol for endpoint in self.server.served_endpoints(path=self.path)):
                # The mock was replaced or removed: its WebSocket clients got 1012 already;
                # a long-polling one learns at its next request (Session ID unknown).
                self.close("mock updated")
                return
            self._pong.clear()
            self.send("2", "ping")
            if not self._pong.wait(timeout):
                self.close(f"ping timeout (no pong within {format_duration(timeout)})")
                return

    def close(self, reason, notify=True, code=CLOSE_NORMAL):
        """End the session: a ``1`` close packet to the client (unless ``notify`` is false: the
        client closed it, or its transport is gone), then the WebSocket is closed with
        ``code`` (1000); on long-polling the close packet waits for the next poll."""
        if self.closed:
            return
        if notify:
            self.send("1", "close")
        self.closed = True
        self.sockets.clear()
        self.decoder.pending = None
        self.record(f"closed: {reason}")
        self._wakeup.set()
        if self.ctx is not None:
            self.ctx.close(code, reason.encode("utf-8")[:123].decode("utf-8", "ignore"))
        if self._pinger is not None and self._pinger is not gevent.getcurrent():
            self._pinger.kill(block=False)
        if self.ctx is None and self.outbox and not self.polling:
            # The close packet is left for the client's next poll, for as long as a poll may take.
            spawn(self._forget_after, self.settings.ping_interval + self.settings.ping_timeout)
        elif not self.polling:
            self._forget()

    def _forget_after(self, seconds):
        gevent.sleep(seconds)
        self._forget()

    def _forget(self):
        if self.protocol.sessions.get(self.sid) is self:
            del self.protocol.sessions[self.sid]
