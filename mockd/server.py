"""``MockServer``: owns the runtime state and the listeners of one mockd process."""
import logging
import time

import gevent
import gevent.event
from gevent.pywsgi import WSGIServer

from .blame import blame
from .greenlets import spawn
from .errors import ConfigError, MockdError, PluginError
from .journal import DEFAULT_BODY_LIMIT, DEFAULT_SIZE, Journal
from .listen import ListenError, address, bound_host, listen, unbracket
from .state import ConnectionRegistry, MockRuntime
from .ws.app import MockApp
from .ws.guard import GuardedWSGIHandler
from .ws.handler import MockdWebSocketHandler
from .ws.outbound import DEFAULT_MAX_OUTBOUND, DEFAULT_SEND_TIMEOUT

log = logging.getLogger("mockd.server")

CLOSE_GOING_AWAY = 1001
CLOSE_SERVICE_RESTART = 1012


class MockConflict(MockdError):
    """A mock cannot be added: its id or its path is taken. ``code`` is the API error code."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


class UnknownMock(MockdError):
    pass


class _Observers:
    """Which observer hooks have implementations, so the hot path skips empty hook calls."""

    def __init__(self, pm):
        def has(name):
            return bool(getattr(pm.hook, name).get_hookimpls())
        self.opened = has("mockd_connection_opened")
        self.received = has("mockd_message_received")
        self.closed = has("mockd_connection_closed")


def _bind(listener, host, port, backlog):
    try:
        return listen(host, port, backlog)
    except OSError as exc:
        raise ListenError(listener, host, port, exc) from None


def _same_spec(old, new, ignore_id=False):
    """Whether two mocks have the same definition (as written; server timestamps ignored)."""
    ignored = {"createdAt", "updatedAt"} | ({"id"} if ignore_id else set())
    return ({k: v for k, v in old.spec.items() if k not in ignored}
            == {k: v for k, v in new.spec.items() if k not in ignored})


class MockServer:
    """The mock listener (and, when enabled, the admin listener) in one process."""

    def __init__(self, config, plugin_manager, registry, *, host="::", port=4280,
                 admin_host="127.0.0.1", admin_port=4290, admin=False, handshake_timeout=10.0,
                 journal_size=DEFAULT_SIZE, journal_body_limit=DEFAULT_BODY_LIMIT, admin_token=None,
                 ssl_args=None, max_outbound_buffer=DEFAULT_MAX_OUTBOUND, send_timeout=DEFAULT_SEND_TIMEOUT,
                 admin_allow_origins=(), admin_allow_hosts=()):
        self.config = config
        self.plugin_manager = plugin_manager
        self.registry = registry
        self.host = unbracket(host)  # "::" (every address, IPv6 and IPv4): see mockd/listen.py
        self.port = port
        self.admin_host = unbracket(admin_host)
        self.admin_port = admin_port
        self.admin_enabled = admin
        self.handshake_timeout = handshake_timeout
        # Per connection: bytes that may wait for a client that does not read, and seconds it
        # may take nothing while data waits; past either it is closed with 1008 (ws/outbound.py).
        self.max_outbound_buffer = max_outbound_buffer
        self.send_timeout = send_timeout
        self.admin_token = admin_token
        # Web pages of these origins may call the admin API, and it answers to these Host
        # names besides loopback and admin_host (see mockd/admin/trust.py).
        self.admin_allow_origins = tuple(admin_allow_origins)
        self.admin_allow_hosts = tuple(admin_allow_hosts)
        # WSGIServer TLS options for both listeners (``ssl_context=...``); empty: plain TCP.
        self.ssl_args = dict(ssl_args or {})
        self.journal = Journal(journal_size, journal_body_limit)
        self.started_at = None
        self.observers = _Observers(plugin_manager)
        self.connections = ConnectionRegistry()
        self.mocks = {}   # id -> Mock, in definition order
        self.routes = {}  # path -> MockRuntime, enabled mocks only
        for mock in config.mocks:
            self._install(mock)
        self.app = MockApp(self)
        self._ws_server = None
        self._admin_server = None
        self.ws_host = self.admin_host_bound = None  # the addresses bound, once started
        self._stopped = gevent.event.Event()
        self._configured = False

    # ------------------------------------------------------------ mocks

    def _install(self, mock):
        if mock.enabled:
            other = self.routes.get(mock.endpoint.path)
            if other is not None and other.id != mock.id:
                raise ConfigError(f"path {mock.endpoint.path!r} is already served by mock {other.id!r}",
                                  where="websocket.path")
        self.mocks[mock.id] = mock
        if mock.enabled:
            self.routes[mock.endpoint.path] = MockRuntime(mock)

    def _uninstall(self, mock_id):
        """Stop serving a mock; its live clients get 1012 ``mock updated``. Returns the close count."""
        mock = self.mocks.get(mock_id)
        if mock is None:
            return 0
        runtime = self.routes.get(mock.endpoint.path)
        if runtime is None or runtime.id != mock_id:
            return 0
        del self.routes[mock.endpoint.path]
        return self._close_all(list(runtime.connections), CLOSE_SERVICE_RESTART, "mock updated")

    @staticmethod
    def _close_all(connections, code, reason):
        for connection in connections:
            spawn(connection.close, code, reason)
        return len(connections)

    def _check_path_free(self, mock, ignore_id=None):
        if not mock.enabled:
            return
        other = self.routes.get(mock.endpoint.path)
        if other is not None and other.id not in (mock.id, ignore_id):
            raise MockConflict("duplicate_path", f"path {mock.endpoint.path!r} is already served by mock {other.id!r}")

    def get_mock(self, mock_id):
        mock = self.mocks.get(mock_id)
        if mock is None:
            raise UnknownMock(f"mock {mock_id!r} not found")
        return mock

    def add_mock(self, mock):
        """Serve a new mock at once. Raises :class:`MockConflict` for a taken id or path."""
        if mock.id in self.mocks:
            raise MockConflict("duplicate_id", f"a mock with id {mock.id!r} already exists")
        self._check_path_free(mock)
        self._install(mock)
        return mock

    def replace_mock(self, mock_id, mock):
        """Swap a mock's definition; its live clients are closed with 1012, new ones get the new one."""
        self.get_mock(mock_id)
        self._check_path_free(mock, ignore_id=mock_id)
        self._uninstall(mock_id)
        del self.mocks[mock_id]
        self._install(mock)
        return mock

    def remove_mock(self, mock_id):
        self.get_mock(mock_id)
        self._uninstall(mock_id)
        return self.mocks.pop(mock_id)

    def clear_mocks(self, mock_type=None):
        removed = [m for m in self.mocks.values() if mock_type is None or m.type == mock_type]
        for mock in removed:
            self.remove_mock(mock.id)
        return removed

    def reload(self, config):
        """Serve ``config`` (a newly loaded file) instead of the current mocks.

        Mocks whose definition is unchanged keep their live connections; changed and removed
        ones close theirs with 1012 ``mock updated``; the served set becomes the file's (mocks
        created through the admin API since are removed too). Nothing changes when the new
        set is inconsistent (two enabled mocks on one path): :class:`ConfigError` is raised.

        :return: ``{"added": [...], "changed": [...], "removed": [...], "unchanged": [...]}`` ids.
        """
        old = dict(self.mocks)
        claimed = {}
        for mock in config.mocks:
            if mock.enabled and claimed.setdefault(mock.endpoint.path, mock.id) != mock.id:
                raise ConfigError(f"path {mock.endpoint.path!r} is served by both mock "
                                  f"{claimed[mock.endpoint.path]!r} and {mock.id!r}", source=config.source)
        # A mock written without an id gets a new random one on every load: match it to the old
        # mock by its definition instead, so that reloading an untouched file changes nothing.
        fresh = {mock.id for mock in config.mocks if mock.id not in old}
        orphans = [m for m in old.values() if m.id not in {c.id for c in config.mocks}]
        wanted = []
        for mock in config.mocks:
            if mock.id in fresh:
                twin = next((o for o in orphans if _same_spec(o, mock, ignore_id=True)), None)
                if twin is not None:
                    orphans.remove(twin)
                    mock = twin
            wanted.append(mock)
        keep = {m.id for m in wanted if m.id in old and _same_spec(old[m.id], m)}
        report = {"added": [m.id for m in wanted if m.id not in old],
                  "changed": [m.id for m in wanted if m.id in old and m.id not in keep],
                  "removed": [i for i in old if i not in {m.id for m in wanted}],
                  "unchanged": [m.id for m in wanted if m.id in keep]}
        for mock_id in report["removed"] + report["changed"]:
            closed = self._uninstall(mock_id)
            log.info("reload: mock %s %s; %d clients closed with 1012", mock_id,
                     "removed" if mock_id in report["removed"] else "changed", closed,
                     extra={"mock_id": mock_id})
        self.mocks = {}
        self.routes = {path: rt for path, rt in self.routes.items() if rt.id in keep}
        for mock in wanted:
            if mock.id in keep:
                self.mocks[mock.id] = old[mock.id]
            else:
                self._install(mock)
        if config.plugins != self.config.plugins:
            log.warning("the plugins: settings changed; plugins read them at start only: restart mockd to apply")
        self.config = config
        return report

    def connections_of(self, mock_id):
        return self.connections.for_mock(mock_id)

    def plugin_config(self, name):
        """The ``plugins: {name: {...}}`` block of the config, or ``{}``."""
        return dict(self.config.plugins.get(name) or {})

    # ------------------------------------------------------------ lifecycle

    def start(self):
        """Configure plugins and bind the listeners (port 0 picks a free port).

        :raises ListenError: a listener cannot bind; then nothing listens and plugins are unconfigured.
        """
        if self.admin_enabled:
            # Flask's import takes 100+ ms: done before a listener serves, it keeps no client waiting.
            from .admin.app import create_app
        self.configure()
        # Both sockets are bound before either serves: a taken admin port leaves nothing half-started.
        sockets = []
        try:
            sockets.append(_bind("mock", self.host, self.port, 4096))
            if self.admin_enabled:
                sockets.append(_bind("admin", self.admin_host, self.admin_port, 256))
        except ListenError:
            for sock in sockets:
                sock.close()
            self.unconfigure()
            raise
        handler = type("BoundHandler", (MockdWebSocketHandler,), {"handshake_timeout": self.handshake_timeout})
        self._ws_server = WSGIServer(sockets[0], self.app, handler_class=handler, log=None,
                                     error_log=logging.getLogger("mockd.wsgi"), **self.ssl_args)
        self._ws_server.start()
        self.started_at = time.time()
        # Where "::" fell back to IPv4, the banner and the log say 0.0.0.0 (mockd/listen.py).
        self.ws_host = bound_host(self.host, sockets[0])
        if self.admin_enabled:
            self.admin_host_bound = bound_host(self.admin_host, sockets[1])
            # The mock listener's request deadline too: TLS handshake, request, idle keep-alive.
            admin_handler = type("BoundAdminHandler", (GuardedWSGIHandler,),
                                 {"handshake_timeout": self.handshake_timeout})
            self._admin_server = WSGIServer(sockets[1], create_app(self), handler_class=admin_handler, log=None,
                                            error_log=logging.getLogger("mockd.admin"), **self.ssl_args)
            self._admin_server.start()
        log.info("listening ws=%s admin=%s", address(self.ws_host, self.ws_port),
                 address(self.admin_host_bound, self.admin_port_bound) if self._admin_server else "off")

    def configure(self):
        """Call ``mockd_configure``, before the listeners bind (``mockd check`` calls it too).

        :raises ConfigError: a plugin rejected its settings; located in the config file.
        :raises PluginError: a plugin crashed; names it.
        """
        try:
            self.plugin_manager.hook.mockd_configure(server=self)
        except ConfigError as exc:
            raise exc.located(source=self.config.source) from None
        except Exception as exc:
            raise PluginError(f"plugin {blame(exc, self.plugin_manager, self.registry)!r} failed in "
                              f"mockd_configure: {exc!r}") from exc
        self._configured = True

    def unconfigure(self):
        """Call ``mockd_unconfigure`` once, if ``configure`` ran; a failing plugin is logged,
        so that shutdown still completes."""
        if not self._configured:
            return
        self._configured = False
        try:
            self.plugin_manager.hook.mockd_unconfigure(server=self)
        except Exception as exc:
            log.error("plugin %r failed in mockd_unconfigure: %r",
                      blame(exc, self.plugin_manager, self.registry), exc, exc_info=exc)

    @property
    def ws_port(self):
        return self._ws_server.server_port if self._ws_server else None

    @property
    def admin_port_bound(self):
        return self._admin_server.server_port if self._admin_server else None

    def serve_forever(self):
        self._stopped.wait()

    def stop(self, timeout=3.0):
        """Stop accepting, close every client with 1001 ``server shutdown``, unconfigure, and log
        the totals (``stopped: N connections closed, M messages in, K out, J journal entries``).

        Clients get ``timeout`` seconds to leave; one that does not answer its close frame is
        cut after the socket's close timeout (2 s) anyway, so this returns within about
        ``timeout`` + 1 s: SIGTERM ends ``mockd serve`` well inside systemd's 10 s."""
        if self._stopped.is_set():
            return
        if self._ws_server is not None:
            self._ws_server.close()  # no new connections; live ones keep running
        live = list(self.connections)
        for connection in live:
            spawn(connection.close, CLOSE_GOING_AWAY, "server shutdown")
        with gevent.Timeout(timeout, False):
            while len(self.connections):
                gevent.sleep(0.02)
        if self._ws_server is not None:
            self._ws_server.stop(timeout=0.5)
        if self._admin_server is not None:
            self._admin_server.stop(timeout=0.5)
        self.unconfigure()
        stats = self.connections.stats()
        log.info("stopped: %d connections closed, %d messages in, %d out, %d journal entries",
                 len(live), stats["totalMessagesRecv"], stats["totalMessagesSent"], len(self.journal.entries))
        self._stopped.set()
