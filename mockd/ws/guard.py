"""A deadline for every HTTP request, and quiet client errors, for gevent's pywsgi handlers.

pywsgi (gevent 26.9) waits for a client forever: for the request line and headers, for a
request body the application reads, and for the body it discards after answering (a GET
declaring ``Content-Length: 1000000`` and sending nothing held its socket and greenlet for
good, on any path), and for the next request of an idle keep-alive connection. Behind TLS
(``do_handshake_on_connect=False``) the handshake runs inside the first read, so a client
that never sends its ClientHello waited forever too.

:class:`RequestDeadline` gives each request one deadline, ``handshake_timeout`` seconds from
the moment the handler starts waiting for it: the TLS handshake, the request line, the
headers and every read of the body (by the application or pywsgi's discard) must be done by
then, or the connection is closed. Time the application spends computing is not counted
(``POST /websocket/messages/wait`` blocks on purpose), nor is a WebSocket after its 101.

pywsgi also writes its answers with ``sendall()``, which waits for good for a client that does
not read: 100 clients pipelining ``GET /health`` on the admin listener and never reading held
100 sockets and greenlets. Every write of an answer must make progress (the client take some
of it) within ``handshake_timeout`` seconds, or the connection is closed. This bounds each
stall, not the whole answer, so a large answer to a slow but reading client is not cut, and
the time the application takes before it writes is not counted either.

pywsgi also reports a malformed request as a server fault: a traceback on stderr for some
(``http.client.LineTooLong``), an ERROR line through ``error_log`` for the rest. It is the
client's doing, so it is logged once, at WARNING, without a traceback.
"""
import contextlib
import logging
import socket
import time

from email.errors import FirstHeaderLineIsContinuationDefect, HeaderDefect, MissingHeaderBodySeparatorDefect

from gevent import Timeout, sleep
from gevent.pywsgi import WSGIHandler

# All that mockd's handlers (this module and handler.py) use of pywsgi beyond WSGIHandler's
# documented methods. Each is pinned, with the mockd code that needs it, by
# tests/test_upstream_pins.py, which fails when an upgrade of gevent removes or renames one
# (an override of a renamed method would silently never run again).
# - ``Input``, the request body stream (not in pywsgi's __all__): ``_GuardedInput`` subclasses
#   it to bound each read by the deadline, and overrides its ``_discard()``, through which
#   pywsgi skips a body left unread after the answer.
# - ``_InvalidClientInput``, the OSError that Input raises for a malformed chunked body: the
#   one way ``_handle_client_error()`` can tell bad input (400) from a client that left.
# - ``WSGIHandler._sendall()``, the write of every answer: overridden for the write deadline.
# - ``WSGIHandler._handle_client_error()``, pywsgi's hook for a malformed request: overridden
#   for one WARNING line instead of a traceback or an ERROR.
# - WSGIHandler's per-request attributes, "not public documented" in pywsgi (``status``,
#   ``code``, ``headers_sent``, ``response_length``, ``close_connection``,
#   ``connection_upgraded``, ``time_finish``, ``wsgi_input``), and ``headers`` being an
#   ``email.message.Message``, whose ``defects`` ``read_request()`` judges.
from gevent.pywsgi import Input, _InvalidClientInput

# What http.client's header parser says of a malformed field line (a line without a colon, a
# first line that is a continuation, an invalid header).
_HEADER_DEFECTS = (MissingHeaderBodySeparatorDefect, FirstHeaderLineIsContinuationDefect, HeaderDefect)

log = logging.getLogger("mockd.wsgi")

__all__ = ["GuardedWSGIHandler", "RequestDeadline", "RequestTimeout"]

_TIMEOUT_BODY = b"request timeout: the request was not received in time\n"
# pywsgi's own answer to a malformed request, byte for byte.
_BAD_REQUEST_RESPONSE = b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-length: 0\r\n\r\n"


class _MalformedRequest(ValueError):
    """A request pywsgi accepted but RFC 9112 does not (raised in ``read_request``, which pywsgi
    hands to ``_handle_client_error``, as for its own parse errors)."""


class RequestTimeout(BaseException):
    """Raised into a handler greenlet whose client is past its request deadline.

    A BaseException, so that pywsgi's ``except Exception`` around header parsing and Flask's
    error handlers let it pass to :class:`RequestDeadline`."""


class _GuardedInput(Input):
    """pywsgi's request body stream, each read bounded by the request's deadline."""

    __slots__ = ("_handler",)

    def read(self, length=None):
        with self._handler.until_deadline():
            return Input.read(self, length)

    def readline(self, size=None):
        with self._handler.until_deadline():
            return Input.readline(self, size)

    def _discard(self):
        # After a WebSocket upgrade the bytes that follow are frames, read (and ended) by the
        # WebSocket: nothing of a declared body is left to skip.
        if not self._handler.connection_upgraded:
            Input._discard(self)


class RequestDeadline:
    """Mixin for a pywsgi ``WSGIHandler`` subclass: the request deadline and quiet client
    errors described in the module docstring. ``WSGIServer.handshake_timeout``, when set,
    takes precedence over the class attribute."""

    #: Seconds a client gets for a whole request, from when the handler starts waiting for
    #: it; ``None`` or 0 waits forever.
    handshake_timeout = 10.0
    #: Where a malformed request is reported (WARNING).
    client_log = log

    _deadline = None
    _header_timer = None
    _requests = 0  # requests begun on this connection
    connection_upgraded = False

    def handle_one_request(self):
        # pywsgi fault: it waits forever for the request (module docstring). A deadline that
        # passes outside the application ends here, and the connection is closed quietly.
        try:
            result = super().handle_one_request()
        except RequestTimeout:
            self.close_connection = True
            return None  # pywsgi's handle() then closes the socket
        finally:
            self._stop_header_timer()
            # The request's body stream points back at this handler (get_environ): cut the
            # cycle once the request is over, so reference counting alone frees both.
            body = getattr(self, "wsgi_input", None)
            if isinstance(body, _GuardedInput):
                body._handler = None
        if result.__class__ is tuple:
            # An error answer (400 malformed, 414) that pywsgi's handle() would write with a
            # plain sendall(): written here with the write deadline, then the connection ends.
            self.status, answer = result
            try:
                self._send_within(answer)
            except (OSError, RequestTimeout):
                self.close_connection = True
            if not self.time_finish:
                self.time_finish = time.time()
            self.log_request()
            return None
        return result

    def _sendall(self, data):
        # pywsgi fault: every answer went out through socket.sendall(), which waits for a
        # client that never reads for good (module docstring). pywsgi's bookkeeping is kept.
        try:
            self._send_within(data)
        except OSError as exc:
            self.status = f"socket error: {exc}"
            if self.code > 0:
                self.code = -self.code
            raise
        self.response_length += len(data)

    def _send_within(self, data):
        """Write all of ``data``; raise :class:`RequestTimeout` when the client takes none of
        it for ``handshake_timeout`` seconds (each stall is bounded, not the whole write)."""
        seconds = self._timeout_seconds()
        send = self.socket.send  # gevent's: one send once the socket is writable
        view = memoryview(data)
        while len(view):
            if not seconds:
                sent = send(view)
            else:
                with Timeout(seconds, RequestTimeout("did not read the answer in time")):
                    sent = send(view)
            view = view[sent:]

    def _timeout_seconds(self):
        seconds = getattr(self.server, "handshake_timeout", None)
        return self.handshake_timeout if seconds is None else seconds

    def read_requestline(self):
        # Starts the request's deadline: the wait for the request line is the idle time of a
        # keep-alive connection, and the first read behind TLS does the TLS handshake.
        if self._requests:
            # pywsgi fault: pipelined requests are served back to back from the read buffer
            # without going through the hub while the kernel takes the answers: one client
            # pipelining 20,000 GET /health blocked every other client for 3 s. Other greenlets
            # get their turn between two requests of a keep-alive connection.
            sleep(0)
        self._requests += 1
        seconds = self._timeout_seconds()
        self._deadline = time.monotonic() + seconds if seconds else None
        if seconds:
            self._header_timer = Timeout.start_new(seconds, RequestTimeout())
        return super().read_requestline()

    def read_request(self, raw_requestline):
        # The headers are in: from here on only the reads of the body run against the
        # deadline (get_environ), not the application's own time.
        try:
            parsed = super().read_request(raw_requestline)
        finally:
            self._stop_header_timer()
        # pywsgi fault: http.client takes a header line without a colon as the end of the
        # headers (the rest becomes an email "defect") and pywsgi serves the request anyway.
        # RFC 9112 §5: a malformed field line is a 400.
        # Only the header-line defects: the email parser also judges a multipart Content-Type
        # against a body it never saw (StartBoundaryNotFoundDefect), which is the app's business.
        broken = [d for d in getattr(self.headers, "defects", ()) if isinstance(d, _HEADER_DEFECTS)]
        if broken:
            raise _MalformedRequest("malformed header line(s): " + ", ".join(type(d).__name__ for d in broken))
        return parsed

    def get_environ(self):
        # pywsgi builds its Input (the request body) here; ours bounds each read by the
        # deadline, the application's reads and pywsgi's discard after the answer alike.
        environ = super().get_environ()
        plain = self.wsgi_input
        guarded = _GuardedInput(plain.rfile, plain.content_length, socket=plain.socket,
                                chunked_input=plain.chunked_input)
        guarded._handler = self
        if environ.get("wsgi.input") is plain:
            environ["wsgi.input"] = guarded
        self.wsgi_input = guarded
        return environ

    def until_deadline(self):
        """A context in which blocking on the client raises :class:`RequestTimeout` once the
        request's deadline has passed (a no-op without a deadline)."""
        if self._deadline is None:
            return contextlib.nullcontext()
        return Timeout(max(self._deadline - time.monotonic(), 0.0), RequestTimeout())

    def handle_error(self, t, v, tb):
        # pywsgi fault: handle_one_response() catches everything (a bare except) and reports it
        # as a server fault, traceback and 500. A deadline passing in a body read, or a client
        # not reading the answer, is the client's doing: it gets a 408 if nothing was answered
        # yet, and the connection is closed.
        if not isinstance(v, RequestTimeout):
            return super().handle_error(t, v, tb)
        self.close_connection = True
        log.debug("client %s %s", self.client_address, v.args[0] if v.args else "did not send its request in time")
        if self.headers_sent or self.response_length:
            return None
        try:
            with Timeout(1.0, False):  # a client too slow to send may be too slow to read
                self.start_response("408 Request Timeout", [("Content-Type", "text/plain"),
                                                            ("Content-Length", str(len(_TIMEOUT_BODY))),
                                                            ("Connection", "close")])
                self.write(_TIMEOUT_BODY)
        except OSError:
            pass
        return None

    def _handle_client_error(self, ex):
        # pywsgi fault: it prints a traceback for a malformed request that does not raise a
        # ValueError (http.client's LineTooLong, "got more than 100 headers") and logs the
        # others through error_log, which mockd's servers give at ERROR level. A client that
        # resets the connection inside its request is simply gone; a malformed request gets
        # pywsgi's 400 and one WARNING line.
        self.close_connection = True
        if isinstance(ex, OSError) and not isinstance(ex, _InvalidClientInput):
            log.debug("client %s left during its request: %r", self.client_address, ex)
            return None
        detail = str(ex) or type(ex).__name__
        if len(detail) > 200:
            detail = detail[:200] + "..."
        self.client_log.warning("malformed HTTP request from %s: %s", _address(self.client_address), detail)
        return ("400", _BAD_REQUEST_RESPONSE)

    def _stop_header_timer(self):
        timer, self._header_timer = self._header_timer, None
        if timer is not None:
            timer.close()


def _address(client_address):
    if isinstance(client_address, tuple) and len(client_address) >= 2:
        return f"{client_address[0]}:{client_address[1]}"
    return str(client_address or "-")


class GuardedWSGIHandler(RequestDeadline, WSGIHandler):
    """A plain pywsgi handler with the request deadline (the admin listener's)."""

    client_log = logging.getLogger("mockd.admin")
    #: Unsent answer bytes the kernel may hold for one admin client (TCP_NOTSENT_LOWAT).
    unsent_limit = 64 << 10

    def handle(self):
        # Linux grows a socket's send buffer to 4 MiB: a client pipelining requests without
        # reading had that much answered (20,000 GET /health) before a write stalled and the
        # write deadline could tell. With this, writes wait once 64 KiB are unsent, so such a
        # client is found after a few answers; one that reads loses nothing (in-flight bytes
        # are not counted). Not on the mock listener, where it would cut the kernel's share
        # of a WebSocket's outbound buffer.
        try:
            self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NOTSENT_LOWAT, self.unsent_limit)
        except (AttributeError, OSError):  # not Linux, or not TCP
            pass
        return super().handle()
