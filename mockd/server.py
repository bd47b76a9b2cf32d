"""``MockServer``: owns the runtime state and the listeners of one mockd process.

It is built by a composition root (:mod:`mockd.bootstrap` for ``mockd serve``,
:func:`mockd.testing.start_server` in tests), which also builds the admin app and hands it to
:meth:`MockServer.start`: nothing here imports :mod:`mockd.admin`.
"""
import logging
import time

import gevent
import gevent.event
from gevent.pywsgi import WSGIServer

from .blame import blame
from .closecodes import CLOSE_GOING_AWAY
from .greenlets import spawn
from .errors import ConfigError, PluginError
from .handshakes import HandshakeJournal
from .journal import Journal
from .listen import ListenError, address, bound_host, listen, unbracket
from .connections import ConnectionTable
from .options import DEFAULTS
from .proxy.recording import RecordingStore
from .backend import make_backend
from .randomness import resolve_seed, stream
from .routes import MockTable
from .ws.app import MockApp
from .ws.guard import GuardedWSGIHandler
from .ws.handler import MockdWebSocketHandler

log = logging.getLogger("mockd.server")


class _Observers:
    """Which observer hooks have implementations, so the hot path skips empty hook calls."""

    def __init__(self, pm):
        def has(name):
            return bool(getattr(pm.hook, name).get_hookimpls())
        self.opened = has("mockd_connection_opened")
        self.received = has("mockd_message_received")
        self.closed = has("mockd_connection_closed")


def _bind(listener, host, port, backlog, reuse_port=False):
    try:
        return listen(host, port, backlog, reuse_port)
    except OSError as exc:
        raise ListenError(listener, host, port, exc) from None


def _tls_args(cert, key):
    """WSGIServer TLS arguments for ``--tls-cert``/``--tls-key``; ``{}`` without them. The
    certificate is loaded before anything binds, so that a bad file stops startup (exit 2), not
    the first client. The TLS handshake is left to the first read, inside the handler's
    handshake timeout."""
    import ssl
    if not cert and not key:
        return {}
    if not (cert and key):
        raise ConfigError("--tls-cert and --tls-key go together")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except FileNotFoundError as exc:
        raise ConfigError(f"cannot read {exc.filename}: file not found") from None
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load the TLS certificate {cert} with key {key}: "
                          f"{getattr(exc, 'reason', None) or exc}") from None
    return {"ssl_context": context, "do_handshake_on_connect": False}


class MockServer:
    """The mock listener (and, when given an admin app, the admin listener) in one process.

    :param options: the :class:`~mockd.options.ServerOptions`; read as ``server.options``.
    """

    def __init__(self, config, plugin_manager, registry, options=DEFAULTS):
        self.config = config
        self.plugin_manager = plugin_manager
        self.registry = registry
        self.options = options
        self.journal = Journal(options.journal_size, options.journal_body_limit)
        #: What is shared with other nodes (``--cluster``); a LocalBackend alone.
        self.backend = make_backend(options)
        # proxied sessions (proxy.record), the cluster's with --cluster
        self.recordings = self.backend.share_recordings(RecordingStore(options.max_recordings))
        self.handshakes = HandshakeJournal(options.journal_size)  # every upgrade attempt
        #: The seed of this server's random draws (``--seed``; ``mockd serve`` resolves and logs it).
        self.seed = resolve_seed(options.seed)
        self._connection_seeds = stream(self.seed, "faults")
        #: Draws of handshake faults (probability), in the order handshakes come.
        self.handshake_random = stream(self.seed, "handshakes")
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

    def served_endpoints(self, protocol=None, path=None):
        """The compiled websocket blocks (:class:`~mockd.config.Endpoint`) of the enabled mocks,
        those whose protocol is named ``protocol`` and on ``path`` when given: how a protocol's
        admin route or HTTP side finds its mocks (``endpoint.protocol`` is the instance)."""
        routes = [self.mocks.routes.get(path)] if path is not None else list(self.mocks.routes.values())
        return [route.endpoint for route in routes if route is not None and (
            protocol is None or getattr(route.endpoint.protocol, "name", None) == protocol)]

    def protocol_contexts(self, protocol=None, path=None):
        """The :class:`~mockd.protocols.context.ProtocolContext` of every live connection whose
        mock has a protocol (named ``protocol``, on ``path``, when given): what a protocol's
        admin route (``admin_routes``) reaches its connections through."""
        found = []
        for connection in self.connections:
            context = connection.protocol_context
            if context is None or connection.closed:
                continue
            if (protocol is None or context.protocol.name == protocol) and (path is None or connection.path == path):
                found.append(context)
        return found

    def next_connection_seed(self):
        """The seed of a connection being accepted (its fault draws, its jitter): drawn from
        the server's seed, in the order connections are accepted."""
        return self._connection_seeds.getrandbits(64)

    def plugin_config(self, name):
        """The ``plugins: {name: {...}}`` block of the config, or ``{}``."""
        return dict(self.config.plugins.get(name) or {})

    # ------------------------------------------------------------ lifecycle

    def start(self, admin_app=None):
        """Configure plugins and bind the listeners (port 0 picks a free port).

        :param admin_app: the admin API's WSGI app (``mockd.admin.app.create_app(server)``),
            served on ``options.admin_host``/``admin_port``; None: no admin listener.
        :raises ConfigError: the TLS certificate or key cannot be loaded; nothing started.
        :raises ListenError: a listener cannot bind; then nothing listens and plugins are unconfigured.
        """
        options = self.options
        ssl_args = _tls_args(options.tls_cert, options.tls_key)
        self.configure()
        # Both sockets are bound before either serves: a taken admin port leaves nothing half-started.
        # "::" (every address, IPv6 and IPv4), and "[::1]" as users copy it: see mockd/listen.py.
        host, admin_host = unbracket(options.host), unbracket(options.admin_host)
        sockets = []
        try:
            sockets.append(_bind("mock", host, options.port, 4096, bool(options.workers)))
            if admin_app is not None:
                sockets.append(_bind("admin", admin_host, options.admin_port, 256, bool(options.workers)))
        except ListenError:
            for sock in sockets:
                sock.close()
            self.unconfigure()
            raise
        handler = type("BoundHandler", (MockdWebSocketHandler,), {"handshake_timeout": options.handshake_timeout})
        self._ws_server = WSGIServer(sockets[0], self.app, handler_class=handler, log=None,
                                     error_log=logging.getLogger("mockd.wsgi"), **ssl_args)
        self._ws_server.start()
        self.started_at = time.time()
        # Where "::" fell back to IPv4, the banner and the log say 0.0.0.0 (mockd/listen.py).
        self.ws_host = bound_host(host, sockets[0])
        if admin_app is not None:
            self.admin_host_bound = bound_host(admin_host, sockets[1])
            # The mock listener's request deadline too: TLS handshake, request, idle keep-alive.
            admin_handler = type("BoundAdminHandler", (GuardedWSGIHandler,),
                                 {"handshake_timeout": options.handshake_timeout})
            self._admin_server = WSGIServer(sockets[1], admin_app, handler_class=admin_handler, log=None,
                                            error_log=logging.getLogger("mockd.admin"), **ssl_args)
            self._admin_server.start()
        try:
            self.backend.start(self)  # with the ports known: a node says where it listens
        except BaseException:
            self._ws_server.stop(timeout=0)
            if self._admin_server is not None:
                self._admin_server.stop(timeout=0)
            self.unconfigure()
            raise
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
        self.backend.stop()
        self.unconfigure()
        stats = self.connections.stats()
        log.info("stopped: %d connections closed, %d messages in, %d out, %d journal entries",
                 len(live), stats["totalMessagesRecv"], stats["totalMessagesSent"], len(self.journal.entries))
        self._stopped.set()
