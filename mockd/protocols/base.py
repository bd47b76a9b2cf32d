"""The protocol seam: :class:`ProtocolType`, what a plugin subclasses to own a connection's
conversation (its ``run`` gets a :class:`mockd.protocols.context.ProtocolContext`).

Nothing here imports gevent: configs naming a protocol are validated by ``mockd check`` too.
"""

__all__ = ["ProtocolType", "protocol_settings_key", "route_path"]


class ProtocolType:
    """Base class of protocols (``websocket.protocol: NAME``).

    Subclasses set:

    - ``name``: the ``protocol`` value;
    - ``settings_key``: the key of the websocket block that holds the settings (``graphql``
      for ``graphql-transport-ws``); ``None``: the protocol takes no settings;
    - ``keys``: the keys that block accepts (the core refuses others); ``None`` leaves the
      check to :meth:`from_config`;
    - ``subprotocols``: what the handshake offers when the mock lists none itself;

    and implement :meth:`from_config` (called once per mock, when the config loads) and
    :meth:`run` (once per connection).

    .. versionadded:: 1.0
    """

    name = None
    settings_key = None
    keys = None
    subprotocols = ()

    @classmethod
    def from_config(cls, spec, where, build):
        """Validate the settings block ``spec`` (``{}`` when absent) and return the instance
        whose :meth:`run` serves the mock's connections. ``build`` compiles templates
        (``build.template``, ``build.value``) and matches (``build.criteria``)."""
        raise NotImplementedError

    def run(self, ctx):
        """Serve one connection until it ends; return to close it with 1000 (if still open).
        Runs in the connection's greenlet; may block gevent-style through ``ctx``."""
        raise NotImplementedError

    #: A protocol that also answers plain HTTP requests on its mock's path (Engine.IO's
    #: long-polling transport) defines ``handle_http(self, environ, start_response, server,
    #: mock_id)``, a WSGI application called for every request to that path that is not a
    #: WebSocket upgrade (otherwise answered 400). It runs in the request's greenlet, within
    #: the listener's request deadline (``--handshake-timeout``): a long poll must answer
    #: before it. ``ctx.query`` gives a WebSocket connection its handshake's query string.
    handle_http = None

    @classmethod
    def admin_routes(cls):
        """Admin API routes of the protocol: ``{"/graphql/publish": function}``, each a ``POST``
        whose JSON object body is handed to ``function(server, body)``, which returns the
        answer (a dict) and may raise ``ValueError`` (400) or ``LookupError`` (404). The live
        connections of a protocol are ``server.protocol_contexts(protocol=NAME, path=...)``.

        .. versionadded:: 1.1
        """
        return {}


def protocol_settings_key(spec, registry):
    """The settings key of the protocol a websocket block names, or ``None`` (also for an
    unknown protocol, which the build reports)."""
    name = spec.get("protocol") if hasattr(spec, "get") else None
    cls = registry.protocols.get(name) if isinstance(name, str) else None
    return getattr(cls, "settings_key", None)


def route_path(body, allowed, what="the mock's websocket path"):
    """For an admin route's ``body``: refuse a field outside ``allowed`` (a ``ValueError``,
    answered 400) and return the optional ``path`` field (a string, or None when left out)."""
    unknown = sorted(key for key in body if key not in allowed)
    if unknown:
        raise ValueError(f"unknown field {unknown[0]!r} (allowed: {', '.join(allowed)})")
    path = body.get("path")
    if path is not None and not isinstance(path, str):
        raise ValueError(f"path: expected a string ({what})")
    return path
