"""The mock listener's WSGI application: exact-path routing and the pre-upgrade checks.

No Flask here: routing is one dict lookup, and Werkzeug's websocket route matching would only
get in the way of the upgrade. The answers are README.rst's "Status and close codes": unknown
path 404, plain GET 400, maxConnections 503, unsatisfied ``requireSubprotocol`` 400, an
``Origin`` the mock refuses 403 (``origin.py``), all before the upgrade.
"""
import json
import logging

from ..connection import Connection
from ..proxy.relay import UpstreamLink
from ..proxy.upstream import UpstreamRefused, open_upstream
from .handler import Rejection
from .origin import origin_refusal

JSON = ("Content-Type", "application/json")
log = logging.getLogger("mockd.proxy")


def negotiate_subprotocol(offered_header, supported):
    """Pick the first of the server's ``supported`` subprotocols the client offered."""
    if not supported or not offered_header:
        return None
    offered = {item.strip() for item in offered_header.split(",") if item.strip()}
    for name in supported:
        if name in offered:
            return name
    return None


def not_found(path):
    """The 404 body for a path no enabled mock serves, sent as ``application/json`` to a handshake
    and to any other request alike. It is the upstream server's handshake answer, which clients
    may look for; upstream's other body (``no_match``) comes from its HTTP mocks, which mockd
    does not have."""
    return json.dumps({"error": "websocket_endpoint_not_found", "path": path}) + "\n"


def _text(start_response, status, body, extra=()):
    """``body`` as ``text/plain``, unless ``extra`` headers name another ``Content-Type``."""
    data = body.encode("utf-8")
    headers = [("Content-Length", str(len(data)))] + list(extra)
    if not any(name == "Content-Type" for name, _ in extra):
        headers.insert(0, ("Content-Type", "text/plain; charset=utf-8"))
    start_response(status, headers)
    return [data]


class MockApp:
    """Routes upgrades to mock endpoints; answers everything else itself."""

    def __init__(self, server):
        self.server = server

    def open_websocket(self, environ):
        path = environ.get("PATH_INFO", "")
        route = self.server.mocks.routes.get(path)
        if route is None:
            return Rejection(404, not_found(path), [JSON], refused_by="notFound")
        if route.faults:
            stopped = route.faults.check_handshake(environ, route.id, self.server.handshake_random,
                                                   self.server.journal)
            if stopped is not None:
                return stopped
        endpoint = route.endpoint
        if endpoint.max_connections and route.occupied() >= endpoint.max_connections:
            return Rejection(503, "max connections reached\n", refused_by="maxConnections", mock_id=route.id)
        chosen = negotiate_subprotocol(environ.get("HTTP_SEC_WEBSOCKET_PROTOCOL", ""), endpoint.subprotocols)
        if endpoint.require_subprotocol and chosen is None:
            reason = "subprotocol not supported" if endpoint.subprotocols else "subprotocol required"
            return Rejection(400, reason + "\n", refused_by="subprotocol", mock_id=route.id)
        refusal = origin_refusal(endpoint, environ)
        if refusal is not None:
            return Rejection(403, refusal, refused_by="origin", mock_id=route.id)
        upstream = None
        if endpoint.proxy is not None:
            # Before the 101: the client gets the upstream's subprotocol, or its refusal.
            try:
                upstream = open_upstream(endpoint.proxy, environ, self.server.options.handshake_timeout)
            except UpstreamRefused as exc:
                # An upstream that cannot be reached is the operator's to fix; a refusal is its answer.
                log.log(logging.WARNING if exc.rejection.status == 502 else logging.INFO, "proxy %s: %s",
                        path, exc, extra={"mock_id": route.id})
                rejection = exc.rejection
                rejection.refused_by, rejection.mock_id = "upstream", route.id
                return rejection
            chosen = upstream.subprotocol or None
        route.pending += 1  # holds a maxConnections slot until run() or cancel()
        connection = Connection(self.server, route, environ, chosen)
        if upstream is not None:
            connection.link = UpstreamLink(endpoint.proxy, upstream, connection, environ,
                                           self.server.options.redact_headers)
        return connection

    def note_handshake(self, environ, status, refused_by, mock_id, connection=None, at=None):
        """Called by the handler once an upgrade attempt is answered (``at``: when it came, in
        seconds since the epoch): the handshake journal."""
        self.server.handshakes.record(environ, status, refused_by, mock_id,
                                      connection.id if connection is not None else None, at)

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path in ("/__mockd/health", "/__mockd/ready"):
            return _text(start_response, "200 OK", "ok\n")
        route = self.server.mocks.routes.get(path)
        if route is not None:
            protocol = route.endpoint.protocol
            answer_http = getattr(protocol, "handle_http", None) if protocol is not None else None
            if answer_http is not None:  # a protocol with an HTTP side (Engine.IO's long-polling)
                return answer_http(environ, start_response, self.server, route.id)
            return _text(start_response, "400 Bad Request", "WebSocket upgrade required\n",
                         [("Upgrade", "websocket"), ("Sec-WebSocket-Version", "13")])
        return _text(start_response, "404 Not Found", not_found(path), [JSON])
