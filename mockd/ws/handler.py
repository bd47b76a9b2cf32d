"""The opening handshake: mockd's pywsgi handler, in place of gevent-websocket's ``WebSocketHandler``.

Used as ``WSGIServer(listener, app, handler_class=MockdWebSocketHandler)``. Requests that do
not look like a WebSocket upgrade go to ``app`` as plain WSGI (keep-alive included). For an
upgrade the handler asks ``app.open_websocket(environ)`` first; the app routes and admits the
connection (404 / 503 / 400 for subprotocols / 403 for an Origin) and returns a :class:`Rejection` or a session.
The handler then checks the handshake itself (RFC 6455 §4.2.1), writes the 101 response and
runs ``session.run(ws)`` in the connection's greenlet with a :class:`MockdWebSocket`.

A session must provide ``subprotocol`` (the chosen one, or None), ``max_message_size``
(bytes), ``run(ws)`` and ``cancel()``, and may provide ``max_outbound`` (bytes) and ``send_timeout``
(seconds), see :class:`MockdWebSocket`; ``cancel()`` is called instead of ``run()`` when the
handshake fails after ``open_websocket()`` admitted it. It may provide ``release()``, called
once the socket is wound down after ``run()``.

The handler subclasses pywsgi's ``WSGIHandler`` only (pywsgi takes a ``handler_class``). It
subclassed gevent-websocket's ``WebSocketHandler`` too, but replaced or bypassed all of it
(the upgrade, the 101, the session, the logging); what was left ran for plain requests only
(a ``start_response`` that looked for an ``environ["wsgi.websocket"]`` mockd never sets).
What of pywsgi is used beyond its documented hooks is listed in ``guard.py`` and pinned by
tests/test_upstream_pins.py.
"""
import base64
import binascii
import hashlib
import logging
import socket
import time
from http import HTTPStatus

from gevent import Timeout
from gevent.pywsgi import WSGIHandler

from ..closecodes import CLOSE_INTERNAL_ERROR, CLOSE_NORMAL
from ..options import DEFAULTS
from .guard import RequestDeadline
from .impair import close_now
from .protocol import ConnectionClosed, MockdWebSocket

log = logging.getLogger("mockd.ws")

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Rejection:
    """An HTTP answer given instead of the upgrade: ``Rejection(404, "not found\\n")``.

    The body is sent as ``text/plain; charset=utf-8`` with ``Connection: close``; ``headers``
    (name, value) pairs are added (a ``Content-Type`` among them replaces the default).
    ``refused_by`` and ``mock_id`` are for the handshake journal (what refused, for which mock).
    """

    __slots__ = ("status", "body", "headers", "refused_by", "mock_id")

    def __init__(self, status, body, headers=(), refused_by=None, mock_id=None):
        self.status = int(status)
        self.body = body
        self.headers = tuple(headers)
        self.refused_by = refused_by
        self.mock_id = mock_id

    def __repr__(self):
        return f"Rejection({self.status}, {self.body!r})"


class Unanswered:
    """No answer at all instead of the upgrade (a handshake fault): ``reset`` the TCP connection
    at once, or ``hang`` for that many seconds (or until the client gives up), then close it."""

    __slots__ = ("reset", "hang", "mock_id")
    status = None
    refused_by = "fault"

    def __init__(self, reset=False, hang=0.0, mock_id=None):
        self.reset = reset
        self.hang = hang
        self.mock_id = mock_id

    def __repr__(self):
        return f"Unanswered(reset={self.reset}, hang={self.hang})"


def looks_like_upgrade(environ):
    """``Upgrade: websocket`` and an ``upgrade`` token in ``Connection`` (both case-insensitive)."""
    if environ.get("HTTP_UPGRADE", "").strip().lower() != "websocket":
        return False
    return any(token.strip().lower() == "upgrade" for token in environ.get("HTTP_CONNECTION", "").split(","))


def accept_key(key):
    """``Sec-WebSocket-Accept`` for a ``Sec-WebSocket-Key``."""
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + GUID).digest()).decode("ascii")


def _valid_key(key):
    try:
        return len(base64.b64decode(key, validate=True)) == 16
    except (binascii.Error, ValueError):
        return False


class MockdWebSocketHandler(RequestDeadline, WSGIHandler):
    """pywsgi's handler with the WebSocket handshake and connection lifetime done by mockd.

    Every request has ``handshake_timeout`` seconds (``guard.py``): TLS handshake, request line,
    headers, body, and for a plain request the app's answer too; the WebSocket after its 101
    has no such limit."""

    #: Status for a ``Sec-WebSocket-Version`` other than 13 (always with the header
    #: ``Sec-WebSocket-Version: 13``). 400 is upstream mockd's answer; RFC 6455
    #: §4.2.2 suggests 426. Clients accept either as long as the header is there.
    version_mismatch_status = 400

    # ------------------------------------------------------------------ request dispatch

    def run_application(self):
        # Library faults 6, 7, 8: the library's run_application() upgrades through its
        # Python-2 error paths, then calls the WSGI app with environ["wsgi.websocket"] (a
        # socket without a write lock). mockd's app takes upgrades through open_websocket()
        # instead; everything else is plain WSGI.
        if not looks_like_upgrade(self.environ) or not hasattr(self.application, "open_websocket"):
            with self.until_deadline():  # a plain request is answered within the handshake timeout
                return super().run_application()
        accepted = self.upgrade_websocket()
        if accepted is not None:
            self.run_websocket(*accepted)

    def upgrade_websocket(self):
        # Library fault 8: rejections were returned as ``str`` bodies (gevent logged a
        # TypeError after the status line), HTTP/1.0 got "402 Bad Request", a key that is not
        # base64 raised a 500 with a traceback. Every refusal is now a complete text/plain
        # answer. Returns (ws, session) after the 101, or None after an HTTP answer.
        self._attempted_at = time.time()  # the handshake journal's time: when it came, not when answered
        try:
            outcome = self.application.open_websocket(self.environ)
        except Exception:
            log.exception("open_websocket() failed for %s", self.environ.get("PATH_INFO"))
            self._reject(Rejection(500, "internal server error\n"))
            return None
        if isinstance(outcome, Rejection):
            self._reject(outcome)
            self._note(outcome.status, outcome.refused_by, outcome.mock_id)
            return None
        if isinstance(outcome, Unanswered):
            self._leave_unanswered(outcome)
            self._note(None, outcome.refused_by, outcome.mock_id)
            return None
        session = outcome
        ws = None
        try:
            refusal = self._check_handshake()
            if refusal is not None:
                self._reject(refusal)
                self._note(refusal.status, "handshake", getattr(session, "mock_id", None))
                return None
            ws = self.upgrade_connection(session)
            self._note(101, None, getattr(session, "mock_id", None), session)
        except OSError:  # the client vanished while we answered
            self.close_connection = True
        finally:
            if ws is None:
                session.cancel()
        return (ws, session) if ws is not None else None

    def _note(self, status, refused_by, mock_id, session=None):
        """Tell the app how an upgrade attempt was answered (its handshake journal), if it asks."""
        note = getattr(self.application, "note_handshake", None)
        if note is not None:
            note(self.environ, status, refused_by, mock_id, session, self._attempted_at)

    def _leave_unanswered(self, outcome):
        """Reset the TCP connection, or read and ignore the client until it gives up or
        ``outcome.hang`` seconds pass, then close it: no HTTP answer either way."""
        self.close_connection = True
        self.response_length = 0
        sock = self.socket
        if outcome.hang:
            with Timeout(outcome.hang, False):
                try:
                    while sock.recv(4096):
                        pass
                except OSError:
                    pass
        close_now(sock, reset=outcome.reset)

    def _check_handshake(self):
        """RFC 6455 §4.2.1 checks, in upstream's order; a Rejection, or None when valid."""
        environ = self.environ
        if environ.get("REQUEST_METHOD") != "GET":
            return Rejection(405, "WebSocket handshake must use GET\n", [("Allow", "GET")])
        try:
            http_version = tuple(int(part) for part in self.request_version[5:].split("."))
        except ValueError:
            http_version = (0, 9)
        if http_version < (1, 1):
            return Rejection(426, "WebSocket handshake needs HTTP/1.1\n", [("Upgrade", "websocket")])
        if environ.get("HTTP_SEC_WEBSOCKET_VERSION", "").strip() != "13":
            return Rejection(self.version_mismatch_status,
                             "unsupported WebSocket version (only 13 is supported)\n",
                             [("Sec-WebSocket-Version", "13")])
        if not _valid_key(environ.get("HTTP_SEC_WEBSOCKET_KEY", "").strip()):
            return Rejection(400, "missing or invalid Sec-WebSocket-Key\n")
        return None

    def upgrade_connection(self, session):
        # Library faults 6 and 8: the library picked the subprotocol by a substring test on the
        # raw header (offering "chat.v2" got "chat") and let a non-base64 key crash with a 500.
        # The key is validated before this point, the app's choice is echoed verbatim, and no
        # extension is negotiated. Writes the 101 and returns the MockdWebSocket.
        subprotocol = session.subprotocol
        lines = ["HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade",
                 "Sec-WebSocket-Accept: " + accept_key(self.environ["HTTP_SEC_WEBSOCKET_KEY"].strip())]
        if subprotocol:
            lines.append("Sec-WebSocket-Protocol: " + subprotocol)
        response = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        # pywsgi's bookkeeping: a response is out and nothing may follow it on this socket.
        # start_response() records the status for pywsgi's access log (and resets what a
        # previous request on this connection left); the 101 itself is written below, without
        # the Date header pywsgi would add.
        self.start_response("101 Switching Protocols", [])
        self.headers_sent = self.connection_upgraded = self.close_connection = True
        try:
            self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        self.socket.sendall(response)
        self.response_length = len(response)
        return MockdWebSocket(self.socket, rfile=self.rfile, environ=self.environ, handler=self,
                              subprotocol=subprotocol,
                              max_message_size=getattr(session, "max_message_size", 65536),
                              max_outbound=getattr(session, "max_outbound", DEFAULTS.max_outbound_buffer),
                              send_timeout=getattr(session, "send_timeout", DEFAULTS.send_timeout))

    def run_websocket(self, ws, session):
        # Library faults 1 and 7: the library ran the WSGI app, kept a server.clients map and
        # finally closed with no status code. Here the session runs in this greenlet, its
        # errors are logged (never a gevent "greenlet crashed"), and the connection is always
        # closed properly: close frame with a code, the peer's reply awaited, TCP wound down.
        # Last, ``session.release()`` (if it has one) hears that the socket is done with.
        try:
            self._run_session(ws, session)
        finally:
            release = getattr(session, "release", None)
            if release is not None:
                release()
            ws._dispose()

    def _run_session(self, ws, session):
        code, reason = CLOSE_NORMAL, ""
        try:
            session.run(ws)
        except ConnectionClosed:
            log.debug("WebSocket session on %s ended: connection closed", self.environ.get("PATH_INFO"))
        except Exception:
            log.exception("WebSocket session on %s failed", self.environ.get("PATH_INFO"))
            code, reason = CLOSE_INTERNAL_ERROR, "internal error"
        except BaseException:  # the greenlet is being killed (server stop): cut, don't linger
            ws._lost()
            raise
        try:
            ws._finish(code, reason)
        except Exception:  # e.g. the session left another greenlet reading this socket
            log.debug("WebSocket teardown on %s cut short", self.environ.get("PATH_INFO"), exc_info=True)
            ws._lost()

    # ------------------------------------------------------------------ HTTP answers

    def _reject(self, rejection):
        """Answer ``rejection`` as a complete plain-text HTTP response and end the connection."""
        body = rejection.body
        body = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        extra = [(name, value) for name, value in rejection.headers
                 if name.lower() not in ("content-length", "connection")]
        headers = [] if any(name.lower() == "content-type" for name, _ in extra) else \
            [("Content-Type", "text/plain; charset=utf-8")]
        headers += extra + [("Content-Length", str(len(body))), ("Connection", "close")]
        try:
            phrase = HTTPStatus(rejection.status).phrase
        except ValueError:
            phrase = "Error"
        self.close_connection = True
        try:
            self.start_response(f"{rejection.status} {phrase}", headers)
            self.write(body)
        except OSError:
            pass  # the client is gone; nothing to answer
