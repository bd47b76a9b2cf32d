"""Hook specifications: the contract between mockd and its plugins.

Project name ``mockd`` everywhere: markers, plugin manager and the entry-point group.
Registration hooks take no arguments because registries must exist before the config
is validated (a config names matcher, step and response types).

Plugin code that raises while a connection is being served (an observer hook, or a
registered matcher, template function, response or step type) closes that connection with
1011 and the log names the plugin; the server and the other connections carry on.
"""
import pluggy

hookspec = pluggy.HookspecMarker("mockd")
hookimpl = pluggy.HookimplMarker("mockd")

# ---------------------------------------------------------------- registration


@hookspec
def mockd_register_matchers():
    """Register match types usable as ``match.type`` in matchers and wait steps.

    Called once, in the main greenlet, when the registry is built (before the config loads).

    :return: an iterable of :class:`mockd.matching.MatchType` subclasses; each class's
        ``name`` attribute is its YAML ``type``.

    .. versionadded:: 0.1
    """


@hookspec
def mockd_register_template_functions():
    """Register template functions, callable as ``{{ name }}`` or ``{{ name(arg, ...) }}``.

    Called once, in the main greenlet, when the registry is built.

    :return: a mapping ``{name: callable}``. Names may be dotted (``uuid.short``); the
        callable receives the evaluated arguments and returns a value rendered as text.
        A callable decorated with :func:`mockd.templating.pass_context` receives the
        :class:`mockd.templating.RenderContext` first. It runs in the connection greenlet,
        so it must be fast and must not block.

    .. versionadded:: 0.1
    """


@hookspec
def mockd_register_step_types():
    """Register scenario step types, usable as ``steps[].type``.

    Called once, in the main greenlet, when the registry is built.

    :return: an iterable of :class:`mockd.scenario.StepType` subclasses; each class's
        ``name`` attribute is its YAML ``type``.

    .. versionadded:: 0.1
    """


@hookspec
def mockd_register_response_types():
    """Register response types, usable as ``response.type`` and ``message.type``.

    Called once, in the main greenlet, when the registry is built.

    :return: an iterable of :class:`mockd.responses.ResponseType` subclasses; each class's
        ``name`` attribute is its YAML ``type``.

    .. versionadded:: 0.1
    """


@hookspec
def mockd_register_protocols():
    """Register protocols, usable as ``websocket.protocol``: a protocol owns the whole
    conversation of a mock's connections (GraphQL over WebSocket, Socket.IO, STOMP...).

    Called once, in the main greenlet, when the registry is built.

    :return: an iterable of :class:`mockd.protocols.ProtocolType` subclasses; each class's
        ``name`` attribute is the ``protocol`` value, ``settings_key`` the websocket block key
        its settings are read from, and ``subprotocols`` what the handshake offers by default.
        For every connection, ``run(ctx)`` is called in the connection's greenlet with a
        :class:`mockd.protocols.ProtocolContext` and may block gevent-style.

    .. versionadded:: 1.0
    """


@hookspec
def mockd_register_fault_types():
    """Register fault types, usable in ``websocket.faults`` and the faults admin API
    (``{type: NAME, ...}``): what a misbehaving network or server does to a client.

    Called once, in the main greenlet, when the registry is built.

    :return: an iterable of :class:`mockd.plugin.FaultType` subclasses; each class's ``name``
        is the ``type`` value, ``keys`` the entry keys of its own, ``stage`` ``"connection"``
        or ``"handshake"``. ``apply(ctx)`` is called with a :class:`mockd.plugin.FaultContext`
        (connection stage: in the greenlet that triggered it, the connection's own, a timer's
        or an admin request's) or a :class:`mockd.plugin.HandshakeContext` (in the
        handshake's greenlet, before the mock answers); it must not block.

    .. versionadded:: 1.1
    """


# ---------------------------------------------------------------- lifecycle


@hookspec
def mockd_configure(server):
    """Configure a plugin for a server about to start.

    Called once in the main greenlet after the config is validated and before the
    listeners bind. Read settings with ``server.plugin_config(name)``; raise
    :class:`mockd.ConfigError` for bad plugin settings.

    :param server: the :class:`mockd.server.MockServer`.
    :return: nothing.

    .. versionadded:: 0.1
    """


@hookspec
def mockd_unconfigure(server):
    """Release what :func:`mockd_configure` acquired.

    Called once in the main greenlet during shutdown, after the listeners stop.

    :param server: the :class:`mockd.server.MockServer`.
    :return: nothing.

    .. versionadded:: 0.1
    """


# ---------------------------------------------------------------- observers


@hookspec
def mockd_connection_opened(server, connection):
    """Observe a WebSocket connection that has just been accepted.

    Called in the connection's greenlet right after the 101 response; must not block.

    :param server: the :class:`mockd.server.MockServer`.
    :param connection: the :class:`mockd.connection.Connection`.
    :return: nothing.

    .. versionadded:: 0.1
    """


@hookspec
def mockd_message_received(server, connection, message):
    """Observe an inbound data message before it is matched.

    Called in the connection's greenlet for every text or binary message; must not block.

    :param server: the :class:`mockd.server.MockServer`.
    :param connection: the :class:`mockd.connection.Connection`.
    :param message: the :class:`mockd.message.Message`.
    :return: nothing.

    .. versionadded:: 0.1
    """


@hookspec
def mockd_connection_closed(server, connection):
    """Observe a WebSocket connection that has ended.

    Called in the connection's greenlet after the connection is untracked; must not block.

    :param server: the :class:`mockd.server.MockServer`.
    :param connection: the :class:`mockd.connection.Connection`; ``close_code`` and
        ``close_reason`` say how it ended.
    :return: nothing.

    .. versionadded:: 0.1
    """
