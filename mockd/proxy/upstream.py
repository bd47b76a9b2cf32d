"""The upstream handshake of a proxied mock, done before the client is upgraded.

websocket-client is the client: under gevent's patching its blocking socket calls yield, so
one upstream costs no thread. What the client offered (subprotocols, the headers named in
``forwardHeaders``) is passed on; the client is then upgraded with what the upstream chose, or
refused with the upstream's own status (502 when there is no answer at all).
"""
import logging
import ssl

import gevent
import websocket

from ..ws.handler import Rejection
from .recording import redact_url

__all__ = ["UpstreamRefused", "open_upstream"]

log = logging.getLogger("mockd.proxy")


class _HandshakeTooSlow(Exception):
    """The upstream did not complete its handshake within the client's handshake timeout."""


class UpstreamRefused(Exception):
    """The upstream handshake failed; ``rejection`` is what the client gets instead of 101."""

    def __init__(self, rejection, detail):
        super().__init__(detail)
        self.rejection = rejection


def _url(spec, environ):
    """The upstream URL, with the client's query string when the configured URL has none."""
    query = environ.get("QUERY_STRING", "")
    if query and "?" not in spec.url:
        return f"{spec.url}?{query}"
    return spec.url


def _headers(spec, environ):
    headers = [f"{name}: {value}" for name, value in spec.headers]
    for name in spec.forward_headers:
        value = environ.get("HTTP_" + name.upper().replace("-", "_"))
        if value is not None:
            headers.append(f"{name}: {value}")
    return headers


def _ssl_options(spec):
    if spec.insecure:
        return {"cert_reqs": ssl.CERT_NONE, "check_hostname": False}
    if spec.ca:
        return {"ca_certs": spec.ca}
    return {}


def open_upstream(spec, environ, timeout):
    """Connect to ``spec.url`` for the client whose handshake is ``environ``.

    :return: the connected ``websocket.WebSocket`` (``.subprotocol`` is the upstream's choice).
    :raises UpstreamRefused: with the status to give the client: the upstream's own for a
        refused handshake, 502 when it cannot be reached or does not speak WebSocket.
    """
    offered = [item.strip() for item in environ.get("HTTP_SEC_WEBSOCKET_PROTOCOL", "").split(",") if item.strip()]
    upstream = websocket.WebSocket(sslopt=_ssl_options(spec), enable_multithread=True, skip_utf8_validation=True)
    url = _url(spec, environ)
    shown = redact_url(url)  # what errors and the log may say: no token from the query string
    try:
        # One deadline for the whole handshake: websocket-client's timeout bounds each read, so
        # an upstream answering a byte at a time kept the client waiting for minutes.
        with gevent.Timeout(timeout, _HandshakeTooSlow(f"no handshake answer within {timeout:g} s")):
            # No redirects: the configured headers (an Authorization) must not follow a
            # Location to another host, and the client is told what the upstream answered.
            upstream.connect(url, header=_headers(spec, environ), subprotocols=offered or None, timeout=timeout,
                             suppress_origin=True, redirect_limit=0)
        status = getattr(upstream.handshake_response, "status", 101)
        if status != 101:
            upstream.shutdown()
            raise UpstreamRefused(Rejection(502, f"upstream {shown} answered {status} (a redirect: mockd does not "
                                                 "follow redirects; point proxy.url at the target)\n"),
                                  f"{shown} answered {status}, a redirect, not followed")
    except websocket.WebSocketBadStatusException as exc:
        status = exc.status_code if 400 <= (exc.status_code or 0) <= 599 else 502
        body = exc.resp_body if isinstance(exc.resp_body, (bytes, str)) and exc.resp_body else \
            f"upstream refused the handshake: {exc.status_code}\n"
        raise UpstreamRefused(Rejection(status, body.decode("utf-8", "replace") if isinstance(body, bytes) else body),
                              f"{shown} answered {exc.status_code}") from None
    except (OSError, websocket.WebSocketException, ssl.SSLError, ValueError, _HandshakeTooSlow) as exc:
        upstream.shutdown()
        why = _reason(exc)
        if "redirect" in why.lower():  # websocket-client's words for a 3xx at redirect_limit=0
            why = "it answered a redirect, and mockd does not follow redirects (point proxy.url at the target)"
        raise UpstreamRefused(Rejection(502, f"upstream {shown} unreachable: {why}\n"),
                              f"{shown} unreachable: {why}") from None
    upstream.settimeout(None)  # from now on the relay reads as long as the session lasts
    return upstream


def _reason(exc):
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]
