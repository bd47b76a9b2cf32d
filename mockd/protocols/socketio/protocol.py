"""``protocol: socket.io``: the mock's side of Socket.IO v4 (Engine.IO protocol 4), on both of
Engine.IO's transports, and the admin route that emits to its clients.

The class is what the registry holds and what ``mockd check`` builds, so this module imports
no gevent and no packet codec; the transports are imported when the first client comes.
"""
from ..base import ProtocolType
from .settings import build_settings

__all__ = ["SocketIOProtocol", "emit"]


class SocketIOProtocol(ProtocolType):
    """One mock's Socket.IO server: its compiled settings and its live Engine.IO sessions
    (sid -> session), long-polling and WebSocket ones alike. A mock replaced by the admin API
    or a reload gets a new instance: the old sessions end with their transports."""

    name = "socket.io"
    settings_key = "socketio"
    keys = None  # build_settings checks them, with every other problem of the block

    def __init__(self, settings):
        self.settings = settings
        self.sessions = {}

    @classmethod
    def from_config(cls, spec, where, build):
        return cls(build_settings(spec, where, build))

    def run(self, ctx):
        from .websocket import serve
        serve(self, ctx)

    def handle_http(self, environ, start_response, server, mock_id):
        from .polling import answer
        return answer(self, environ, start_response, server, mock_id)

    def sockets(self, namespace, room=None):
        """The live sockets of ``namespace`` (in ``room``, when given), on every transport."""
        found = []
        for session in list(self.sessions.values()):
            socket = None if session.closed else session.sockets.get(namespace)
            if socket is not None and (room is None or room in socket.rooms):
                found.append(socket)
        return found

    @classmethod
    def admin_routes(cls):
        return {"/socketio/emit": emit}


_EMIT_KEYS = ("path", "namespace", "room", "event", "args")


def emit(server, body):
    """Emit a Socket.IO event to the clients of the socket.io mocks (on ``path``, when given)
    connected to ``namespace`` (default ``/``), in ``room`` when given: ``{"path", "namespace",
    "room", "event", "args"}``; answers ``{"sent": N}``, the sockets reached."""
    from .sockets import emit_frames

    unknown = sorted(set(body) - set(_EMIT_KEYS))
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r} (allowed: {', '.join(_EMIT_KEYS)})")
    event = body.get("event")
    if not isinstance(event, str) or not event:
        raise ValueError("event: the event name, a non-empty string, is required")
    args = body.get("args", [])
    if not isinstance(args, list):
        raise ValueError("args: the list of the event's arguments")
    namespace = body.get("namespace", "/")
    if not isinstance(namespace, str) or not namespace.startswith("/"):
        raise ValueError("namespace: a namespace name starting with '/'")
    for key in ("path", "room"):
        if body.get(key) is not None and not isinstance(body[key], str):
            raise ValueError(f"{key}: a string")
    path, room = body.get("path"), body.get("room")
    mocks = [endpoint.protocol for endpoint in server.served_endpoints(SocketIOProtocol.name, path)]
    if not mocks:
        raise LookupError(f"no socket.io mock on {path}" if path is not None else "no socket.io mock is served")
    mocks = [mock for mock in mocks if namespace in mock.settings.namespaces]
    if not mocks:
        raise LookupError(f"namespace {namespace} is not one of the socket.io mock's namespaces")
    return {"sent": sum(emit_frames(mock.sockets(namespace, room), namespace, event, args) for mock in mocks)}
