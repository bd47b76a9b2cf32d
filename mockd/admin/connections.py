"""``/websocket/connections``, ``/websocket/stats``, ``/websocket/broadcast`` and the per-mock
connection routes: look at live clients, push frames to them, close them.

Pushed frames go through ``Connection.send`` like any reply: the socket's non-blocking write
keeps frames from several greenlets whole and in order, and the frame is counted and journaled
when it reaches the socket; pushed frames are never templated.
"""
import base64
import binascii

from flask import Blueprint

from ..backend.commands import encode_payload, merge_stats
from ..proxy.replay import Replay
from .common import ApiError, bounded_int, field, invalid, json_object, not_found, server

bp = Blueprint("connections", __name__)




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


def listing(srv):
    """Every node's live connections and the totals, as ``GET /websocket/connections`` answers."""
    answers = srv.backend.ask("listing")
    return {"connections": [c for answer in answers for c in answer["connections"]],
            "stats": merge_stats([answer["stats"] for answer in answers])}


@bp.get("/websocket/connections")
def list_connections():
    return listing(server())


@bp.get("/websocket/connections/<connection_id>")
def get_connection(connection_id):
    found = [answer for answer in server().backend.ask("describe", connectionId=connection_id) if answer]
    if not found:
        raise not_found("Connection not found")
    return found[0]


@bp.delete("/websocket/connections/<connection_id>")
def close_connection(connection_id):
    if not any(server().backend.ask("close", connectionId=connection_id)):
        raise not_found("Connection not found")
    return {"message": "Connection closed", "connection": connection_id}


@bp.post("/websocket/connections/<connection_id>/send")
def send_to_connection(connection_id):
    frame_type, payload = frame_payload(json_object(default={}))
    kind, data = encode_payload(payload)
    if not any(server().backend.ask("send", connectionId=connection_id, type=kind, data=data)):
        raise not_found("Connection not found")  # none such, or it closed while the request was read
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
    return merge_stats(server().backend.ask("stats"))


@bp.get("/mocks/<mock_id>/websocket/connections")
def list_mock_connections(mock_id):
    _mock(mock_id)
    connections = [c for answer in server().backend.ask("connections", mockId=mock_id) for c in answer]
    return {"connections": connections, "count": len(connections), "mockId": mock_id}


@bp.delete("/mocks/<mock_id>/websocket/connections")
def close_mock_connections(mock_id):
    _mock(mock_id)
    closed = sum(server().backend.ask("close_mock", mockId=mock_id))
    return {"message": "Connections closed", "closed": closed, "mockId": mock_id}


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
    elif path not in server().mocks.routes:
        raise ApiError(404, "not_found", f"no enabled mock serves {path!r}")
    kind, data = encode_payload(payload)
    answers = server().backend.ask("broadcast", type=kind, data=data, mockId=mock_id, path=path)
    answer = {"message": "Message broadcast", "sent": sum(a["sent"] for a in answers),
              "connections": sum(a["connections"] for a in answers), "type": frame_type}
    answer.update({"mockId": mock_id} if mock_id is not None else {"path": path})
    return answer
