"""Socket.IO on top of an Engine.IO session: namespace connects, events and their rules, acks,
rooms, and the emits to one socket, the others, all of them or a room.

A session (:mod:`.session`) hands each complete Socket.IO packet to :func:`handle_packet`, in
the greenlet that received it (a WebSocket connection's, or a long-polling POST's); sends go
back through the sessions' ``send_frames``, which picks each one's transport.
"""
import secrets

from ...message import MatchContext, Message
from ...templating import RenderContext
from ...textrender import to_text
from . import codec
from .templates import variables

__all__ = ["Socket", "handle_packet", "emit_frames", "new_id"]

INVALID_NAMESPACE = {"message": "Invalid namespace"}  # what Socket.IO's server answers


def new_id():
    """An Engine.IO sid or a Socket.IO socket id: 20 URL-safe characters, as the reference
    server's."""
    return secrets.token_urlsafe(15)


class Socket:
    """One namespace a session has connected to (Socket.IO's socket): its id (the ``sid`` of
    the ``40{"sid": ...}`` answer, ``{{sid}}`` in templates) and its rooms, its own id among
    them as in Socket.IO."""

    __slots__ = ("sid", "namespace", "session", "rooms")

    def __init__(self, namespace, session):
        self.sid = new_id()
        self.namespace = namespace
        self.session = session
        self.rooms = {self.sid}


def handle_packet(session, packet):
    """Act on one complete Socket.IO packet of ``session``."""
    kind, namespace = packet.packet_type, packet.namespace or "/"
    if kind == codec.CONNECT:
        _connect(session, namespace, packet.data)
    elif kind == codec.DISCONNECT:
        session.sockets.pop(namespace, None)
    elif kind in (codec.EVENT, codec.BINARY_EVENT):
        socket = session.sockets.get(namespace)
        if socket is None:  # as Socket.IO's server: a namespace is connected to before it is used
            session.record(f"event {packet.data[0]!r} on {namespace}, which the client has not connected to: dropped")
            return
        _event(socket, packet)
    # An ACK answers an emit that asked for one; the mock's emits never do.


def _connect(session, namespace, auth):
    spec = session.settings.namespaces.get(namespace)
    if spec is None:
        session.send_packet(codec.CONNECT_ERROR, namespace, INVALID_NAMESPACE)
        return
    socket = session.sockets.get(namespace)
    if socket is None:
        socket = session.sockets[namespace] = Socket(namespace, session)
    session.send_packet(codec.CONNECT, namespace, {"sid": socket.sid})
    if spec.on_connect:
        args = [auth] if auth is not None else []
        ctx = RenderContext(_first(args), session.path, session.connection,
                            variables(args, "connect", namespace, socket.sid))
        for action in spec.on_connect:
            perform(socket, action, ctx)


def _event(socket, packet):
    session = socket.session
    name, args = packet.data[0], packet.data[1:]
    message = _first(args)
    spec = session.settings.namespaces[socket.namespace]
    rule, captures = spec.rule_for(name, message, MatchContext(message, session.path, session.connection,
                                                               session.server))
    if rule is None:
        return
    ctx = RenderContext(message, session.path, session.connection,
                        variables(args, name, socket.namespace, socket.sid), captures)
    perform(socket, rule.action, ctx)
    if rule.ack is not None and packet.id is not None:
        session.send_packet(codec.ACK, socket.namespace, rule.ack.render(ctx), packet.id)


def _first(args):
    """The first argument as the message that ``match`` and ``{{message}}`` read: text as it
    is, bytes as a binary message, anything else as compact JSON."""
    if not args:
        return Message("", False)
    first = args[0]
    if isinstance(first, bytes):
        return Message(first, True)
    return Message(first if isinstance(first, str) else to_text(first), False)


def perform(socket, action, ctx):
    """Join, emit, leave: the joiner is in the room it is told about, the leaver too."""
    if action.join is not None:
        socket.rooms.add(action.join.render(ctx))
    if action.emit is not None:
        event = action.emit.render(ctx)
        args = action.args.render(ctx) if action.args is not None else []
        emit_frames(_recipients(socket, action, ctx), socket.namespace, event, args)
    if action.leave is not None:
        room = action.leave.render(ctx)
        if room != socket.sid:
            socket.rooms.discard(room)


def _recipients(socket, action, ctx):
    if action.target == "self":
        return [socket]
    everyone = socket.session.protocol.sockets(socket.namespace)
    if action.target == "others":
        return [other for other in everyone if other is not socket]
    if action.target == "all":
        return everyone
    room = action.room.render(ctx)
    return [other for other in everyone if room in other.rooms]


def emit_frames(sockets, namespace, event, args):
    """Send event ``event`` with ``args`` to each of ``sockets`` (of ``namespace``); how many
    it reached (a closed session is not reached)."""
    frames = codec.encode_packet(codec.EVENT, namespace, [event, *args])
    label = codec.label(codec.EVENT, namespace, [event], None, len(frames) - 1)
    return sum(1 for socket in sockets if socket.session.send_frames(frames, label))
