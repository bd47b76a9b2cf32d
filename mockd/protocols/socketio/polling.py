"""Engine.IO's HTTP long-polling transport: the WSGI answer to every non-upgrade request on a
Socket.IO mock's path (``SocketIOProtocol.handle_http``), in the request's greenlet.

- ``GET ?EIO=4&transport=polling`` (no sid): a new session, answered with its open packet;
- ``GET ...&sid=S``: the packets waiting for the client, or those that come within
  min(pingInterval, 8 s), else a noop (``6``): the listener's request deadline
  (``--handshake-timeout``, 10 s by default) is never reached, and the server's ping, sent
  every pingInterval, comes on one of these polls;
- ``POST ...&sid=S``: the client's packets, answered ``ok``.

Errors are Engine.IO's: HTTP 400 with ``{"code": N, "message": ...}`` (0 Transport unknown,
1 Session ID unknown, 2 Bad handshake method, 3 Bad request, 5 Unsupported protocol version).
A malformed packet in a POST closes the session (its close packet goes to the waiting poll).
"""
import logging
from urllib.parse import parse_qs

from ...greenlets import UNWIND
from . import codec
from .session import Session

__all__ = ["answer", "LONGEST_POLL"]

log = logging.getLogger("mockd.protocols.socketio")

#: The longest a poll waits for something to send: below the listener's request deadline.
LONGEST_POLL = 8.0
_TEXT = "text/plain; charset=UTF-8"
_JSON = "application/json"


def answer(protocol, environ, start_response, server, mock_id):
    try:
        status, body, content_type = _answer(protocol, environ, server, mock_id)
    except codec.HttpError as error:
        status, body, content_type = error.status, error.body(), _JSON
    data = body.encode("utf-8")
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(data))),
                            ("Cache-Control", "no-store")])
    return [data]


def _one(query, name):
    values = query.get(name)
    return values[0] if values else None


def _answer(protocol, environ, server, mock_id):
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    method = environ.get("REQUEST_METHOD", "GET")
    if _one(query, "EIO") != "4":
        raise codec.HttpError(*codec.UNSUPPORTED_VERSION)
    transport = _one(query, "transport")
    if transport != "polling":
        raise codec.HttpError(*(codec.BAD_REQUEST if transport == "websocket" else codec.UNKNOWN_TRANSPORT))
    sid = _one(query, "sid")
    if sid is None:
        if method != "GET":
            raise codec.HttpError(*codec.BAD_HANDSHAKE_METHOD)
        return _handshake(protocol, environ, server, mock_id)
    session = protocol.sessions.get(sid)
    if session is None or (session.closed and method != "GET"):
        raise codec.HttpError(*codec.UNKNOWN_SID)
    if method == "GET":
        wait = min(protocol.settings.ping_interval, LONGEST_POLL)
        return "200 OK", codec.encode_payload([frame for frame, _ in session.poll(wait)]), _TEXT
    if method == "POST":
        return _post(session, environ)
    raise codec.HttpError(*codec.BAD_REQUEST)


def _handshake(protocol, environ, server, mock_id):
    endpoint = next(iter(server.served_endpoints(path=environ.get("PATH_INFO", ""))), None)
    if endpoint is not None and endpoint.max_connections and len(protocol.sessions) >= endpoint.max_connections:
        raise codec.HttpError(3, "max connections reached", "503 Service Unavailable")
    settings = protocol.settings
    max_payload = settings.max_payload or (endpoint.max_message_size if endpoint is not None else 65536)
    session = Session(protocol, server, mock_id, environ.get("PATH_INFO", ""), max_payload)
    frame = codec.open_frame(session.sid, ("websocket",), settings.ping_interval, settings.ping_timeout, max_payload)
    session.journal_out(frame, "open")
    session.start()
    return "200 OK", codec.encode_payload([frame]), _TEXT


def _post(session, environ):
    body = _body(session, environ)
    try:
        frames = codec.decode_payload(body.decode("utf-8"))
    except (UnicodeDecodeError, codec.ProtocolError) as exc:
        why = "not UTF-8" if isinstance(exc, UnicodeDecodeError) else str(exc)
        session.journal_in(body.decode("utf-8", "replace"), f"malformed payload: {why}")
        session.close(f"malformed payload: {why}")
        raise codec.HttpError(*codec.BAD_REQUEST) from None
    for frame in frames:
        if session.closed:
            break
        try:
            session.receive(frame, lambda label, frame=frame: session.journal_in(frame, label))
        except codec.ProtocolError as exc:
            session.close(f"malformed packet: {exc}")
            raise codec.HttpError(*codec.BAD_REQUEST) from None
        except UNWIND:
            raise
        except Exception as exc:  # a rule's template function, say: this session's failure only
            log.error("socket.io session %s on %s failed", session.sid, session.path, exc_info=exc,
                      extra={"mock_id": session.peer.mock_id})
            session.close("internal error")
            raise codec.HttpError(3, "internal error", "500 Internal Server Error") from None
    return "200 OK", "ok", "text/html; charset=UTF-8"


def _body(session, environ):
    """The POST body, at most the session's maxPayload (413 and the session closed beyond)."""
    limit = session.max_payload
    try:
        declared = int(environ.get("CONTENT_LENGTH") or -1)
    except ValueError:
        declared = -1
    if declared > limit:
        session.close(f"a POST of {declared} bytes, above maxPayload ({limit})")
        raise codec.HttpError(3, "Payload too large", "413 Payload Too Large")
    body = environ["wsgi.input"].read(declared if declared >= 0 else limit + 1)
    if len(body) > limit:
        session.close(f"a POST above maxPayload ({limit} bytes)")
        raise codec.HttpError(3, "Payload too large", "413 Payload Too Large")
    return body
