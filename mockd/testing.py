"""A pytest plugin for testing against mockd: ``pytest_plugins = ["mockd.testing"]``.

``mockd_server(config)``, the factory for users' suites, and ``make_mockd_server(config)``, the
same without the installed plugins (for isolated core tests), start an in-process server on
127.0.0.1 port 0 from a dict, a YAML string or a file path, with its admin API on another port
0, and stop it at teardown. The :class:`RunningServer` they return has ``.url(path)``,
``.connect(path)``, ``.admin_url`` and ``.admin`` (a small HTTP client), ``.journal``,
``.wait_for(...)`` and ``.push(...)``. ``recv_text(ws)``, ``recv_close(ws)`` and
``assert_silent(ws)`` read a ``websocket-client`` connection within a deadline. The test
process must be patched by gevent (``monkey.patch_all()`` first thing in ``conftest.py``).
"""
import os

import pytest
import yaml


class RunningServer:
    """A started :class:`~mockd.server.MockServer` with conveniences for tests."""

    def __init__(self, server):
        self.server = server
        self._clients = []

    @property
    def port(self):
        return self.server.ws_port

    def url(self, path="/ws"):
        return f"ws://127.0.0.1:{self.port}{path}"

    @property
    def admin_url(self):
        """``http://127.0.0.1:PORT`` of the admin API, or None when it is off."""
        port = self.server.admin_port_bound
        return f"http://127.0.0.1:{port}" if port else None

    @property
    def admin(self):
        """An :class:`~mockd.adminclient.AdminClient` (real HTTP) that sends the server's token."""
        from .adminclient import AdminClient
        return AdminClient(self.admin_url, token=self.server.options.admin_token)

    @property
    def journal(self):
        """Every frame recorded so far, oldest first, shaped as ``GET /websocket/messages``."""
        return [entry.to_json() for entry in self.server.journal.query()]

    def wait_for(self, match=None, count=1, timeout=5.0, direction="inbound", mock_id=None,
                 connection_id=None, since=None):
        """Block until ``count`` frames accepted by ``match`` are in the journal, and return them
        (shaped as :attr:`journal`). Frames recorded before the call count (after ``since``,
        a journal ``seq``), so a reply that beat the call is not missed.

        :param match: a ``match:`` block as in the config, e.g. ``{"type": "json", "path":
            "$.type", "value": "pong"}``, or ``None`` for any frame.
        :param direction: ``"inbound"`` (from clients), ``"outbound"`` (sent by mockd) or ``None``.
        :raises AssertionError: after ``timeout`` seconds, listing the frames that did arrive.
        """
        from .build import Build
        from .message import MatchContext, Message

        server = self.server
        criteria = None
        if match is not None:
            criteria = Build(server.registry, server.config.plugins, server.config.source).criteria(match, "match")
        failures = []

        def accept(entry, data):
            if ((direction is not None and entry.direction != direction)
                    or (mock_id is not None and entry.mock_id != mock_id)
                    or (connection_id is not None and entry.connection_id != connection_id)):
                return False
            try:
                if criteria is None:
                    return True
                message = Message(data, entry.is_binary)
                return criteria.test(message, MatchContext(message, entry.path, None, server)) is not None
            except Exception as exc:  # runs in a connection's greenlet: report it here instead
                failures.append(exc)
                return False

        journal = server.journal
        existing = [entry for entry in journal.query(since=since) if accept(entry, entry.body)]
        complete, entries = journal.wait(accept, count, timeout, include_existing=existing)
        if failures:
            raise failures[0]
        found = [entry.to_json() for entry in entries]
        if not complete:
            raise AssertionError(f"{len(found)} of {count} {direction or ''} frames matching {match!r} "
                                 f"arrived within {timeout:g}s: {found!r}")
        return found

    def push(self, data, path=None, connection_id=None, timeout=2.0):
        """Send ``data`` from the server to live clients: those of ``path``, the one
        ``connection_id``, or all. ``str`` is a text frame, ``bytes`` a binary frame, anything
        else compact JSON text. Waits up to ``timeout`` seconds for a client to be there,
        since a client's handshake may return before the server has registered it.

        :return: how many clients it was sent to.
        """
        import time

        import gevent

        from .jsontext import dumps_json

        if not isinstance(data, (str, bytes)):
            data = dumps_json(data)  # any JSON value, not only the dicts and lists of ctx.send
        deadline = time.monotonic() + timeout
        while True:
            targets = [c for c in self.server.connections
                       if (path is None or c.path == path) and (connection_id is None or c.id == connection_id)]
            if targets or time.monotonic() >= deadline:
                break
            gevent.sleep(0.01)
        return sum(1 for connection in targets if connection.send(data))

    def connect(self, path="/ws", timeout=5.0, **options):
        """A real client: a ``websocket-client`` connection to ``path`` (``options`` go to
        ``websocket.create_connection``, e.g. ``subprotocols=[...]``); closed at :meth:`stop`."""
        import websocket

        ws = websocket.create_connection(self.url(path), timeout=timeout, **options)
        self._clients.append(ws)
        return ws

    def stop(self):
        for ws in self._clients:
            ws.close(timeout=0.5)
        self.server.stop(timeout=2.0)


def _plugins(plugins, load_entrypoints, plugins_dir):
    from .plugins import Registry, get_plugin_manager

    pm = get_plugin_manager(load_entrypoints=load_entrypoints, plugins=plugins, plugins_dir=plugins_dir)
    return pm, Registry.from_plugin_manager(pm)


def _load(config, registry, source):
    from .config import build_config
    from .configfile import load_config, parse_config_text

    if isinstance(config, dict):
        return build_config(config, registry, source or "<test>")
    if isinstance(config, os.PathLike) or (isinstance(config, str) and "\n" not in config
                                          and os.path.exists(config)):
        return load_config(config, registry)
    return parse_config_text(config, registry, source or "<test>.yaml")


def check_config(config, plugins=(), load_entrypoints=False, plugins_dir=None, source=None):
    """Validate ``config`` (a dict, YAML text or a path) as ``mockd check`` does, with
    ``plugins`` registered, and return it; raises :class:`mockd.ConfigError` with every
    problem located (``source`` names the file in messages)."""
    return _load(config, _plugins(plugins, load_entrypoints, plugins_dir)[1], source)


def start_server(config, plugins=(), load_entrypoints=False, **server_options):
    """Build and start a server; ``config`` is a dict, YAML text or a path. ``server_options`` are
    :class:`~mockd.options.ServerOptions` fields (``max_outbound_buffer=4096``, ``admin=False``,
    ...) and ``plugins_dir``; unlike ``mockd serve``, both listeners default to 127.0.0.1 port 0."""
    from .options import ServerOptions
    from .server import MockServer

    pm, registry = _plugins(plugins, load_entrypoints, server_options.pop("plugins_dir", None))
    options = ServerOptions(**{"host": "127.0.0.1", "port": 0, "admin_port": 0, **server_options})
    registry.max_message_size_limit = options.max_message_size_limit
    server = MockServer(_load(config, registry, None), pm, registry, options)
    admin_app = None
    if options.admin:  # on by default: tests script mocks through it, as users do
        from .admin.app import create_app
        admin_app = create_app(server)
    server.start(admin_app)
    return RunningServer(server)


def _frames(ws, seconds):
    """Each frame that reaches the ``websocket-client`` connection ``ws`` within ``seconds``, as
    ``(opcode, payload bytes)``, control frames included (websocket-client answers pings and
    joins fragments); then it stops. One deadline for all frames, so that a server pinging
    every 100 ms cannot extend it. ``ws``'s own timeout is put back when the reading stops."""
    import time

    import websocket

    previous = ws.gettimeout()
    deadline = time.monotonic() + seconds
    try:
        while (left := deadline - time.monotonic()) > 0:
            ws.settimeout(left)
            try:
                opcode, frame = ws.recv_data_frame(True)
            except websocket.WebSocketTimeoutException:
                return
            yield opcode, frame.data
    finally:
        ws.settimeout(previous)


def _describe(opcode, payload):
    import websocket

    name = websocket.ABNF.OPCODE_MAP.get(opcode, opcode)
    return f"{name} frame {payload[:60]!r}" + ("..." if len(payload) > 60 else "")


def recv_close(ws, timeout=5.0, allow_data=True):
    """Read a ``websocket-client`` connection until the server closes it, within ``timeout``
    seconds: ``(code, reason)``, ``code`` None when the close frame has no payload. Pings are
    answered and skipped; data frames before the close are skipped too, unless
    ``allow_data=False`` (the close must be the server's next message)."""
    import contextlib

    import websocket

    control = (websocket.ABNF.OPCODE_PING, websocket.ABNF.OPCODE_PONG)
    frames = _frames(ws, timeout)
    with contextlib.closing(frames):
        for opcode, payload in frames:
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
                return code, payload[2:].decode("utf-8")
            if not allow_data and opcode not in control:
                raise AssertionError(f"expected the server's close, got a {_describe(opcode, payload)}")
    raise AssertionError(f"no close frame within {timeout:g}s")


def recv_text(ws, timeout=5.0):
    """The next message of a ``websocket-client`` connection, which must be text and arrive
    within ``timeout`` seconds; pings are answered and skipped. A binary message or the
    server's close fails the test."""
    import contextlib

    import websocket

    frames = _frames(ws, timeout)
    with contextlib.closing(frames):
        for opcode, payload in frames:
            if opcode == websocket.ABNF.OPCODE_TEXT:
                return payload.decode("utf-8")
            if opcode not in (websocket.ABNF.OPCODE_PING, websocket.ABNF.OPCODE_PONG):
                raise AssertionError(f"expected a text message, got a {_describe(opcode, payload)}")
    raise AssertionError(f"no message within {timeout:g}s")


def assert_silent(ws, seconds=0.25, ignore=None):
    """The server sends nothing on a ``websocket-client`` connection for ``seconds``, nor closes
    it; pings are answered and do not count. ``ignore(message)``, if given, is called with each
    message (``str`` for text, ``bytes`` for binary) and those for which it is true do not
    count either (a scenario's periodic sends, say)."""
    import contextlib

    import websocket

    frames = _frames(ws, seconds)
    with contextlib.closing(frames):
        for opcode, payload in frames:
            if opcode in (websocket.ABNF.OPCODE_PING, websocket.ABNF.OPCODE_PONG):
                continue
            if opcode in (websocket.ABNF.OPCODE_TEXT, websocket.ABNF.OPCODE_BINARY) and ignore is not None:
                if ignore(payload.decode("utf-8") if opcode == websocket.ABNF.OPCODE_TEXT else payload):
                    continue
            raise AssertionError(f"expected silence for {seconds:g}s, got a {_describe(opcode, payload)}")


def websocket_mock(path="/ws", **spec):
    """A one-mock config dict: ``websocket_mock("/ws", echoMode=True)``."""
    return {"version": "1.0", "mocks": [{"id": "test-mock", "type": "websocket",
                                         "websocket": dict(spec, path=path)}]}


@pytest.fixture
def make_mockd_server():
    started = []

    def make(config, plugins=(), **server_options):
        running = start_server(config, plugins=plugins, **server_options)
        started.append(running)
        return running

    yield make
    for running in started:
        running.stop()


@pytest.fixture
def mockd_server(make_mockd_server):
    """Factory: ``mockd_server(config, plugins=[...], **server_options)`` starts a server on
    127.0.0.1 port 0 (admin API included) from a dict, YAML text or file, and stops it at
    teardown. Unlike ``make_mockd_server``, which core tests use in isolation, it loads the
    installed plugins (entry-point group ``mockd``) as ``mockd serve`` does; pass
    ``load_entrypoints=False`` to opt out."""
    def make(config, plugins=(), **server_options):
        server_options.setdefault("load_entrypoints", True)
        return make_mockd_server(config, plugins, **server_options)
    return make


__all__ = ["RunningServer", "assert_silent", "make_mockd_server", "mockd_server", "recv_close", "recv_text",
           "start_server", "websocket_mock", "yaml"]
