"""``/websocket/connections``, ``/websocket/stats``, ``/websocket/broadcast`` and the per-mock
connection routes: look at live clients, push frames to them, close them.

Pushed frames go through ``Connection.send`` like any reply: the socket's non-blocking write
keeps frames from several greenlets whole and in order, and the frame is counted and journaled
when it reaches the socket; pushed frames are never templated.
"""
import base64
import binascii

import gevent
from flask import Blueprint

from ..closecodes import CLOSE_NORMAL
from ..greenlets import spawn
from ..proxy.replay import Replay
from .common import ApiError, bounded_int, field, invalid, json_object, not_found, server

bp = Blueprint("connections", __name__)


CLOSED_BY_API = "closed by API"
BROADCAST_TIMEOUT = 10.0  # a client that stops reading must not hold the request forever


def connection_or_404(connection_id):
    connection = server().connections.get(connection_id)
    if connection is None or connection.closed:
        raise not_found("Connection not found")
    return connection


def _mock(mock_id):
    if mock_id not in server().mocks:
        raise not_found("mock not found")


def frame_payload(body):
    """``{"type": "text"|"binary", "data": ...}`` as ``(type, str or bytes)``; binary is base64."""
    frame_type = body.get("type")
    frame_type = "text" if frame_type in (None, "") else frame_type
    if frame_type not in ("text", "binary"):
        raise invalid('Type must be "text" or "binary"', "invalid_type")
    data = field(body, "data", (str,), "a string", default="")
    if frame_type == "text":
        return frame_type, data
    try:
        return frame_type, base64.b64decode(data.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise invalid("data is not valid base64 (standard alphabet, with '=' padding)", "invalid_base64") from None


@bp.get("/websocket/connections")
def list_connections():
    live = server().connections
    return {"connections": [c.describe() for c in live], "stats": live.stats()}


@bp.get("/websocket/connections/<connection_id>")
def getconnection_or_404(connection_id):
    return connection_or_404(connection_id).describe()


@bp.delete("/websocket/connections/<connection_id>")
def closeconnection_or_404(connection_id):
    connection_or_404(connection_id).close(CLOSE_NORMAL, CLOSED_BY_API)
    return {"message": "Connection closed", "connection": connection_id}


@bp.post("/websocket/connections/<connection_id>/send")
def send_toconnection_or_404(connection_id):
    connection = connection_or_404(connection_id)
    frame_type, payload = frame_payload(json_object(default={}))
    if not connection.send(payload):
        raise not_found("Connection not found")  # it closed while the request was read
    return {"message": "Message sent", "connection": connection_id, "type": frame_type}


@bp.post("/websocket/connections/<connection_id>/replay/advance")
def advance_replay(connection_id):
    """A triggered replay's next server frames: ``{"count": N}`` (default 1) or ``{"until":
    text}``, up to and including the first frame whose data contains ``text``."""
    connection = connection_or_404(connection_id)
    body = json_object(default={})
    count, until = body.get("count"), field(body, "until", (str,), "a string")
    if count is not None and until is not None:
        raise invalid("give count or until, not both")
    if count is not None:
        bounded_int(count, "count", minimum=1)
    replay = connection.endpoint.protocol
    if not isinstance(replay, Replay) or replay.mode != "triggered":
        what = f"replays in {replay.mode} mode" if isinstance(replay, Replay) else "replays no recording"
        raise ApiError(409, "not_triggered", f"connection {connection_id} {what}: advance drives the clients of a "
                                             f"mock with 'replay: {{mode: triggered}}'")
    try:
        sent, remaining = replay.advance(connection, count, until)
    except LookupError as exc:
        raise ApiError(409, "no_match", str(exc)) from None
    return {"sent": sent, "remaining": remaining}


@bp.get("/websocket/stats")
def stats():
    return server().connections.stats()


@bp.get("/mocks/<mock_id>/websocket/connections")
def list_mock_connections(mock_id):
    _mock(mock_id)
    connections = server().connections.for_mock(mock_id)
    return {"connections": [c.describe() for c in connections], "count": len(connections), "mockId": mock_id}


@bp.delete("/mocks/<mock_id>/websocket/connections")
def close_mock_connections(mock_id):
    _mock(mock_id)
    connections = server().connections.for_mock(mock_id)
    for connection in connections:
        connection.close(CLOSE_NORMAL, CLOSED_BY_API)
    return {"message": "Connections closed", "closed": len(connections), "mockId": mock_id}


@bp.post("/websocket/broadcast")
def broadcast():
    """Send one frame to every live client of a mock (``mockId``) or of a served ``path``."""
    body = json_object()
    mock_id = field(body, "mockId", (str,), "a string")
    path = field(body, "path", (str,), "a string")
    if (mock_id is None) == (path is None):
        raise invalid("give exactly one of mockId and path")
    frame_type, payload = frame_payload(body)
    if mock_id is not None:
        _mock(mock_id)
        targets = server().connections.for_mock(mock_id)
    else:
        route = server().mocks.routes.get(path)
        if route is None:
            raise ApiError(404, "not_found", f"no enabled mock serves {path!r}")
        targets = list(route.connections)
    # One greenlet per client: a slow reader must not delay the others.
    sends = [spawn(c.send, payload) for c in targets]
    gevent.joinall(sends, timeout=BROADCAST_TIMEOUT)
    sent = sum(1 for g in sends if g.successful() and g.value)
    answer = {"message": "Message broadcast", "sent": sent, "connections": len(targets), "type": frame_type}
    answer.update({"mockId": mock_id} if mock_id is not None else {"path": path})
    return answer
