"""Which web pages may open a mock's WebSocket: ``skipOriginVerify`` and ``allowedOrigins``.

A browser lets any page open a WebSocket to any server; only the ``Origin`` header it sends
says which site the page came from. Upstream mockd (gorilla/websocket) verifies nothing by
default (``skipOriginVerify: true``); ``skipOriginVerify: false`` is gorilla's
``checkSameOrigin``: the Origin's ``host[:port]`` must be the request's ``Host``, compared
case-insensitively. ``allowedOrigins`` (mockd's own) lists the page origins that may connect.

A request without an ``Origin`` passes both, as in gorilla: browsers always send one, and any
other client could send whatever it likes, so refusing it would protect nothing.
"""
from ..origins import origin_listed, parse_host, request_origin

__all__ = ["origin_refusal"]


def origin_refusal(endpoint, environ):
    """Why a handshake with this ``environ`` must get 403 on ``endpoint``, or None."""
    origin = environ.get("HTTP_ORIGIN")
    if origin is None:
        return None
    if not endpoint.skip_origin_verify and not _same_host(origin, environ.get("HTTP_HOST")):
        return "request origin not allowed: Origin does not match Host (skipOriginVerify: false)\n"
    if endpoint.allowed_origins and not origin_listed(request_origin(origin), endpoint.allowed_origins):
        return "request origin not allowed: Origin is not in allowedOrigins\n"
    return None


def _same_host(origin, host):
    # gorilla's checkSameOrigin: url.Parse(origin).Host against r.Host, ASCII case folded.
    # parse_host also folds case, IPv6 brackets and a final dot alike on both sides.
    scheme, sep, rest = origin.partition("://")
    if not sep or not scheme or host is None:
        return False
    authority = rest.split("/", 1)[0].rpartition("@")[2]  # Go's URL.Host has no path nor userinfo
    try:
        return parse_host(authority) == parse_host(host)
    except ValueError:
        return False

