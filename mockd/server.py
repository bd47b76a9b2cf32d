"""``MockServer``: owns the runtime state and the listeners of one mockd process."""
import logging
import time

import gevent
import gevent.event
from gevent.pywsgi import WSGIServer

from .blame import blame
from .closecodes import CLOSE_GOING_AWAY
from .greenlets import spawn
from .errors import ConfigError, PluginError
from .journal import DEFAULT_BODY_LIMIT, DEFAULT_SIZE, Journal
from .listen import ListenError, address, bound_host, listen, unbracket
from .connections import ConnectionTable
from .routes import MockTable
from .ws.app import MockApp
from .ws.guard import GuardedWSGIHandler
from .ws.handler import MockdWebSocketHandler
from .ws.outbound import DEFAULT_MAX_OUTBOUND, DEFAULT_SEND_TIMEOUT

log = logging.getLogger("mockd.server")



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
        self.connections = ConnectionTable()
        self.mocks = MockTable(config.mocks)  # by id; .routes: path -> ServedRoute of the enabled ones
        self.app = MockApp(self)
        self._ws_server = None
        self._admin_server = None
        self.ws_host = self.admin_host_bound = None  # the addresses bound, once started
        self._stopped = gevent.event.Event()
        self._configured = False

    # ------------------------------------------------------------ mocks

    def reload(self, config):
        """Serve ``config`` (a newly loaded file) instead of the current mocks: see
        :meth:`mockd.routes.MockTable.reload` for what changes and the report it returns."""
        report = self.mocks.reload(config.mocks, source=config.source)
        if config.plugins != self.config.plugins:
            log.warning("the plugins: settings changed; plugins read them at start only: restart mockd to apply")
        self.config = config
        return report

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
