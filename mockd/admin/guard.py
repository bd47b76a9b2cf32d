"""The admin API's defences against web pages: ``Host``, ``Origin``, CORS and ``Content-Type``.

Registered by :func:`mockd.admin.app.create_app`, in this order and before the token check,
on every route (``/health`` too: it is public to any client, not to other sites' pages):

1. :func:`check_request`: a ``Host`` this server does not answer to is 403 ``forbidden_host``
   (DNS rebinding); a request from a page of another origin (``Origin``, or
   ``Sec-Fetch-Site`` when a browser sent no ``Origin``) is 403 ``forbidden_origin`` unless
   ``--admin-allow-origin`` lists it; a CORS preflight from a listed origin is answered here,
   as it carries no token.
2. :func:`require_json` (after the token check): a body is taken only as
   ``application/json``. The types an HTML form or a "simple" cross-site ``fetch`` can send
   without a preflight (``text/plain``, forms) are 415 ``unsupported_media_type``.
3. :func:`add_cors_headers`: the CORS answer headers for a listed origin.

The policy itself (which hosts and origins are trusted) is :mod:`.trust`; what a host or an
origin is, :mod:`mockd.origins`.
"""
from flask import current_app, g, request

from ..origins import parse_host
from .common import ApiError
from .trust import Trust

TRUST_KEY = "mockd.trust"
ALLOW_METHODS = "GET, POST, PUT, PATCH, DELETE"
ALLOW_HEADERS = "Authorization, X-API-Key, Content-Type, If-Match"
EXPOSE_HEADERS = "ETag, WWW-Authenticate"
PREFLIGHT_MAX_AGE = "600"
_OTHER_SITE = ("cross-site", "same-site")  # another port of localhost is same-site: refused as well
_SHOWN = 200  # characters of a header value quoted back in an error


def install(app, server):
    options = server.options
    app.extensions[TRUST_KEY] = Trust(options.admin_host, options.admin_allow_hosts, options.admin_allow_origins)


def _shown(value):
    return repr(value if len(value) <= _SHOWN else value[:_SHOWN] + "...")


def _name_in(host):
    try:
        return parse_host(host)[0]
    except ValueError:
        return "NAME"


def check_request():
    trust = current_app.extensions[TRUST_KEY]
    host = request.headers.get("Host")
    if not trust.host_allowed(host):
        raise ApiError(403, "forbidden_host",
                       f"Host {_shown(host)} is not a name of this admin API: it answers to localhost, loopback "
                       f"addresses and its --admin-host, so that a web page cannot reach it through a DNS name "
                       f"it controls (DNS rebinding); to use this name, start mockd with --admin-allow-host "
                       f"{_name_in(host)}")
    origin = request.headers.get("Origin")
    if origin is None:
        site = request.headers.get("Sec-Fetch-Site", "").strip().lower()
        if site in _OTHER_SITE:
            raise ApiError(403, "forbidden_origin",
                           f"a page of another site sent this request (Sec-Fetch-Site: {site}); the admin API "
                           f"answers pages of other origins only when mockd is started with "
                           f"--admin-allow-origin ORIGIN and the request carries that Origin")
        return None
    if trust.same_origin(origin, request.scheme, host):
        return None
    if trust.cors_origin(origin) is None:
        raise ApiError(403, "forbidden_origin",
                       f"requests from web pages of origin {_shown(origin)} are refused, so that a site you "
                       f"visit cannot change or read your mocks; to let a page of that origin call the admin "
                       f"API, start mockd with --admin-allow-origin {_shown(origin)}")
    g.cors_origin = origin.strip()  # as sent: browsers compare Access-Control-Allow-Origin byte for byte
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        response = current_app.response_class(status=204)
        del response.headers["Content-Type"]
        response.headers.update({"Access-Control-Allow-Methods": ALLOW_METHODS,
                                 "Access-Control-Allow-Headers": ALLOW_HEADERS,
                                 "Access-Control-Max-Age": PREFLIGHT_MAX_AGE})
        return response  # add_cors_headers adds the origin
    return None


def _has_body():
    if request.content_length:
        return True
    return "chunked" in request.headers.get("Transfer-Encoding", "").lower()


def _is_json(mimetype):
    return mimetype == "application/json" or (mimetype.startswith("application/") and mimetype.endswith("+json"))


#: Routes that also take a YAML body (``mockd/admin/yamlbody.py``): no form or no-preflight
#: ``fetch`` can send those types either.
YAML_ENDPOINTS = ("mocks.create_mock", "mocks.replace_mock")


def require_json():
    from .yamlbody import YAML_TYPES
    if request.endpoint in YAML_ENDPOINTS and request.mimetype in YAML_TYPES:
        return
    if _has_body() and not _is_json(request.mimetype):
        sent = request.headers.get("Content-Type")
        raise ApiError(415, "unsupported_media_type",
                       f"request bodies must be JSON sent with 'Content-Type: application/json' (this one came "
                       f"{'as ' + _shown(sent) if sent else 'without a Content-Type'}); with curl, add "
                       f"-H 'Content-Type: application/json'")


def add_cors_headers(response):
    response.vary.add("Origin")  # the answer depends on it: a cache must not share it between origins
    origin = g.get("cors_origin")
    if origin is not None:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
    return response
