"""``create_app(server)``: the admin API's Flask application.

Every answer with a body is JSON (the DELETEs of mocks and of the journal answer 204
without one). Errors are ``{"error": code, "message": text}`` whatever raised them
(our own checks, Werkzeug's 404/405/413, a bug), so a client never parses an HTML page or
sees a traceback. Before anything else, :mod:`.guard` refuses foreign ``Host`` names, pages of
other origins and bodies that are not ``application/json``. When the server has an
``admin_token``, every route but ``/health`` needs it as ``Authorization: Bearer <token>`` or
``X-API-Key: <token>``.

A view runs plugin code (a matcher's ``from_config`` while a mock is validated, its ``match``
in a wait). Whatever escapes it, ``SystemExit`` and ``KeyboardInterrupt`` included, is a 500
naming the plugin in the log: let through, gevent's hub takes those two for a request to stop
and the whole server exits. Only the greenlet's own kill and a ``gevent.Timeout`` unwind.
"""
import hmac
import logging

from flask import Flask, current_app, jsonify, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from ..blame import blame
from ..errors import ConfigError
from ..greenlets import UNWIND
from ..errors import MockConflict, UnknownMock
from . import cluster, configio, connections, dashboard, events, faults, guard, journal, mocks, openapi, protocols, \
    recordings, system
from ..ws.guard import RequestTimeout
from .common import MAX_BODY, SERVER_KEY, ApiError

log = logging.getLogger("mockd.admin")

BLUEPRINTS = (mocks.bp, configio.bp, connections.bp, faults.bp, journal.bp, recordings.bp, system.bp, cluster.bp,
              openapi.bp, events.bp, dashboard.bp)
#: Routes without the token: the health check, and the dashboard's static files (no data in them).
OPEN_ENDPOINTS = ("system.health", "dashboard.to_index", "dashboard.index", "dashboard.asset")
_CODES = {413: "payload_too_large"}  # Werkzeug's name, "Request Entity Too Large", is the RFC 2616 one
# What passes through the views untouched: the greenlet's kill, a gevent.Timeout its starter
# catches, and the listener's request deadline (ws/guard.py answers it with 408 and closes).
_UNWIND = UNWIND + (RequestTimeout,)


class _Escaped(Exception):
    """A BaseException (not an Exception) that escaped a view, carried to the error handler."""

    def __init__(self, original):
        super().__init__(repr(original))
        self.original = original


class _AdminFlask(Flask):
    def dispatch_request(self):
        try:
            return super().dispatch_request()
        except (Exception, *_UNWIND):
            raise
        except BaseException as exc:  # SystemExit, KeyboardInterrupt, ... from a plugin
            raise _Escaped(exc) from exc


class _JSONProvider(DefaultJSONProvider):
    sort_keys = False  # keep the documented field order (id, type, ... as written)

    @staticmethod
    def default(o):
        # A value a YAML config produced that JSON has no type for is shown as text, not a 500.
        try:
            return DefaultJSONProvider.default(o)
        except TypeError:
            return str(o)


def create_app(server):
    """Build the admin app for ``server`` (a :class:`~mockd.server.MockServer`)."""
    app = _AdminFlask("mockd.admin", static_folder=None)
    app.json = _JSONProvider(app)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY + 1  # see common.json_body
    app.extensions[SERVER_KEY] = server
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    protocols.install(app, server)
    guard.install(app, server)
    app.before_request(guard.check_request)  # first: a preflight carries no token
    app.before_request(_authorize)
    app.before_request(_limit_body)
    app.before_request(guard.require_json)
    app.before_request(cluster.refuse_shared_writes_while_apart)
    app.after_request(guard.add_cors_headers)
    app.after_request(cluster.mark_partial)
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(ConfigError, lambda exc: _error(400, "validation_error", str(exc), errors=[
        {"message": problem.message, "where": problem.where} for problem in exc.errors]))
    app.register_error_handler(MockConflict, lambda exc: _error(409, exc.code, str(exc)))
    app.register_error_handler(UnknownMock, lambda exc: _error(404, "not_found", "mock not found"))
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    return app


# ---------------------------------------------------------------- request checks


def _presented_tokens():
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        yield credentials.strip()
    api_key = request.headers.get("X-API-Key")
    if api_key:
        yield api_key


def _authorize():
    token = current_app.extensions[SERVER_KEY].options.admin_token
    if not token or request.endpoint in OPEN_ENDPOINTS:
        return None
    expected = token.encode("utf-8")
    # WSGI headers are latin-1 text: encoding back to latin-1 recovers the bytes that were sent.
    if any(hmac.compare_digest(given.encode("latin-1", "replace"), expected) for given in _presented_tokens()):
        return None
    raise ApiError(401, "unauthorized", "this admin API needs a token: send 'Authorization: Bearer <token>' "
                                        "or 'X-API-Key: <token>'")


def _limit_body():
    # MAX_CONTENT_LENGTH only bites when a view reads the body; this answers 413 on every route.
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise RequestEntityTooLarge()


# ---------------------------------------------------------------- error answers


def _error(status, code, message, headers=None, **extra):
    response = jsonify({"error": code, "message": message, **extra})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _api_error(exc):
    headers = {"WWW-Authenticate": 'Bearer realm="mockd"'} if exc.status == 401 else None
    return _error(exc.status, exc.code, exc.message, headers, **exc.extra)


def _http_error(exc):
    code = _CODES.get(exc.code) or (exc.name or "error").lower().replace(" ", "_").replace("'", "")
    message = exc.description or exc.name
    if exc.code == 413:
        message = f"request body is larger than {MAX_BODY} bytes"
    headers = {"Allow": ", ".join(sorted(exc.valid_methods))} if getattr(exc, "valid_methods", None) else None
    return _error(exc.code or 500, code, message, headers)


def _unexpected(exc):
    original = exc.original if isinstance(exc, _Escaped) else exc
    srv = current_app.extensions[SERVER_KEY]
    try:
        culprit = blame(original, srv.plugin_manager, srv.registry)
    except Exception:  # noqa: BLE001 - naming the culprit must not turn the 500 into another failure
        culprit = None
    if culprit is None:
        log.error("admin request %s %s failed", request.method, request.path, exc_info=original)
    else:
        log.error("plugin %r raised in admin request %s %s: %r", culprit, request.method, request.path, original,
                  exc_info=original, extra={"plugin": culprit})
    return _error(500, "internal_error", "internal error; the mockd log has the details")
