"""Admin routes that protocols add (``POST /graphql/publish``, ``POST /mqtt/publish``...).

A :class:`~mockd.protocols.base.ProtocolType` lists its routes in ``admin_routes()``: a path
and a function ``(server, body) -> dict``. Each becomes a ``POST`` route of the admin API, behind
its token and checks like every other; the body is a JSON object; a ``ValueError`` the function
raises is a 400 ``validation_error`` with its message, a :class:`LookupError` a 404. Routes are
added when the app is built, from the protocols the server's registry holds, built-in packs
and third-party ones alike.
"""
from .common import ApiError, json_object, server

__all__ = ["install", "openapi_paths"]


def _routes(registry):
    for name, cls in sorted(registry.protocols.items()):
        routes = getattr(cls, "admin_routes", None)
        for path, function in (routes() if routes is not None else {}).items():
            yield name, path, function


def _view(function):
    def view():
        body = json_object()
        try:
            answer = function(server(), body)
        except LookupError as exc:
            raise ApiError(404, "not_found", str(exc).strip("'\"")) from None
        except ValueError as exc:
            raise ApiError(400, "validation_error", str(exc)) from None
        return answer
    return view


def install(app, running):
    """Add every registered protocol's admin routes to ``app``."""
    for name, path, function in _routes(running.registry):
        app.add_url_rule(path, endpoint=f"protocols.{name}:{path}", view_func=_view(function), methods=["POST"])


def openapi_paths(running):
    """The OpenAPI entries of those routes (their function's docstring as the summary)."""
    paths = {}
    for name, path, function in _routes(running.registry):
        summary = " ".join((function.__doc__ or f"{name}: {path}").split())
        paths[path] = {"post": {
            "summary": summary, "tags": ["protocols"],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "additionalProperties": True}}}},
            "responses": {"200": {"description": "done", "content": {"application/json": {"schema": {
                "type": "object", "additionalProperties": True}}}},
                "400": {"description": "validation_error", "content": {"application/json": {"schema": {
                    "$ref": "#/components/schemas/Error"}}}},
                "404": {"description": "not_found", "content": {"application/json": {"schema": {
                    "$ref": "#/components/schemas/Error"}}}}}}}
    return paths
