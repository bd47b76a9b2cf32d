"""``MockServer``: owns the runtime state and the listeners of one mockd process."""
import logging

import gevent
import gevent.event
from gevent.pywsgi import WSGIServer

from .errors import ConfigError
from .state import ConnectionRegistry, MockRuntime
from .ws.app import MockApp
from .ws.handler import MockdWebSocketHandler

log = logging.getLogger("mockd.server")

CLOSE_GOING_AWAY = 1001


class _Observers:
    """Which observer hooks have implementations, so the hot path skips empty hook calls."""

    def __init__(self, pm):
        def has(name):
            return bool(getattr(pm.hook, name).get_hookimpls())
        self.opened = has("mockd_connection_opened")
        self.received = has("mockd_message_received")
        self.closed = has("mockd_connection_closed")


class MockServer:
    """The mock listener (and, when enabled, the admin listener) in one process."""

    def __init__(self, config, plugin_manager, registry, *, host="0.0.0.0", port=4280,
                 admin_host="127.0.0.1", admin_port=4290, admin=False, handshake_timeout=10.0):
        self.config = config
        self.plugin_manager = plugin_manager
        self.registry = registry
        self.host = host
        self.port = port
        self.admin_host = admin_host
        self.admin_port = admin_port
        self.admin_enabled = admin
        self.handshake_timeout = handshake_timeout
        self.observers = _Observers(plugin_manager)
        self.connections = ConnectionRegistry()
        self.mocks = {}   # id -> Mock, in definition order
        self.routes = {}  # path -> MockRuntime, enabled mocks only
        for mock in config.mocks:
            self._install(mock)
        self.app = MockApp(self)
        self._ws_server = None
        self._admin_server = None
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

    def plugin_config(self, name):
        """The ``plugins: {name: {...}}`` block of the config, or ``{}``."""
        return dict(self.config.plugins.get(name) or {})

    # ------------------------------------------------------------ lifecycle

    def start(self):
        """Configure plugins and bind the listeners (port 0 picks a free port)."""
        self.plugin_manager.hook.mockd_configure(server=self)
        self._configured = True
        handler = type("BoundHandler", (MockdWebSocketHandler,), {"handshake_timeout": self.handshake_timeout})
        self._ws_server = WSGIServer((self.host, self.port), self.app, handler_class=handler,
                                     log=None, error_log=logging.getLogger("mockd.wsgi"), backlog=4096)
        self._ws_server.start()
        if self.admin_enabled:
            from .admin.app import create_app
            self._admin_server = WSGIServer((self.admin_host, self.admin_port), create_app(self),
                                            log=None, error_log=logging.getLogger("mockd.admin"))
            self._admin_server.start()
        log.info("listening ws=%s:%s admin=%s", self.host, self.ws_port,
                 f"{self.admin_host}:{self.admin_port_bound}" if self._admin_server else "off")

    @property
    def ws_port(self):
        return self._ws_server.server_port if self._ws_server else None

    @property
    def admin_port_bound(self):
        return self._admin_server.server_port if self._admin_server else None

    def serve_forever(self):
        self._stopped.wait()

    def stop(self, timeout=5.0):
        """Stop accepting, close every client with 1001 ``server shutdown``, unconfigure."""
        if self._stopped.is_set():
            return
        if self._ws_server is not None:
            self._ws_server.close()  # no new connections; live ones keep running
        live = list(self.connections)
        for connection in live:
            gevent.spawn(connection.close, CLOSE_GOING_AWAY, "server shutdown")
        with gevent.Timeout(timeout, False):
            while len(self.connections):
                gevent.sleep(0.02)
        if self._ws_server is not None:
            self._ws_server.stop(timeout=0.5)
        if self._admin_server is not None:
            self._admin_server.stop(timeout=0.5)
        if self._configured:
            self.plugin_manager.hook.mockd_unconfigure(server=self)
        log.info("stopped: %d connections closed", len(live))
        self._stopped.set()
