"""``mockd serve``: patch gevent, build the server, print the banner, run until a signal."""


def _patch():
    # Patch before anything imports socket, ssl or threading through mockd.server.
    from gevent import monkey
    if not monkey.is_module_patched("socket"):
        monkey.patch_all()


def _display_host(host):
    """What a client on this machine connects to for a listener bound to ``host``."""
    from .listen import url_host
    if host == "::":
        return "localhost"  # dual-stack: reached whether localhost resolves to ::1 or 127.0.0.1 first
    if host == "0.0.0.0":
        return "127.0.0.1"  # IPv4 only: a client resolving localhost to ::1 first would be refused
    return url_host(host)


BANNER_ENDPOINTS = 20  # more would push the URLs above off a terminal's screen


def _endpoint_lines(server):
    """The served paths, each with its mock's name (or id), as the banner lists them."""
    from .client.terminal import printable
    served = [(printable(path, newlines=False), printable(rt.mock.name or rt.id, newlines=False))
              for path, rt in server.mocks.routes.items()]
    if not served:
        return ["  Endpoints:   none" + (" (every mock is disabled)" if server.mocks else "")]
    width = min(max(len(path) for path, _ in served[:BANNER_ENDPOINTS]), 40)
    lines = ["  Endpoints:"] + [f"    {path:<{width}}  {name}" for path, name in served[:BANNER_ENDPOINTS]]
    if len(served) > BANNER_ENDPOINTS:
        lines.append(f"    and {len(served) - BANNER_ENDPOINTS} more")
    return lines


def _banner(args, config, server, tls):
    source = args.config or "the built-in demo config"
    count = len(config.mocks)
    lines = [f"mockd server started ({count} mock{'' if count == 1 else 's'} from {source})", "",
             f"  Mock server: {'wss' if tls else 'ws'}://{_display_host(server.ws_host)}:{server.ws_port}"]
    if server.admin_port_bound:
        lines.append(f"  Admin API:   {'https' if tls else 'http'}://{_display_host(server.admin_host_bound)}:"
                     f"{server.admin_port_bound}")
    return "\n".join(lines + [""] + _endpoint_lines(server) + ["", "Press Ctrl+C to stop"])


def _listen_failure(exc):
    """``exc``, a :class:`~mockd.listen.ListenError`, as a MockdError naming the option to change."""
    import errno

    from .errors import MockdError
    port_option, host_option = {"mock": ("-p/--port", "--host"),
                                "admin": ("-a/--admin-port", "--admin-host")}[exc.listener]
    short = port_option.split("/")[0]
    if exc.errno == errno.EADDRINUSE:
        hint = f"choose another port with {port_option} ({short} 0 picks a free one)"
        if exc.listener == "admin":
            hint += ", or turn the admin API off with --no-admin"
    elif exc.errno == errno.EACCES and 0 < exc.port < 1024:
        hint = f"ports below 1024 need privileges: choose {port_option} 1024 or above ({short} 0 picks a free one)"
    elif exc.unresolved:
        hint = f"check the name, or give an address with {host_option}"
    elif exc.errno == errno.EADDRNOTAVAIL:
        hint = f"{exc.host} is no address of this machine: choose another with {host_option}"
    else:
        return MockdError(str(exc))
    return MockdError(f"{exc}; {hint}")


def _tls_options(args):
    """WSGIServer TLS arguments from ``--tls-cert``/``--tls-key``; ``{}`` without them. The
    certificate is loaded now so that a bad file stops startup (exit 2), not the first client.
    The TLS handshake is left to the first read, inside the handler's handshake timeout."""
    import ssl

    from .errors import ConfigError
    if not args.tls_cert and not args.tls_key:
        return {}
    if not (args.tls_cert and args.tls_key):
        raise ConfigError("--tls-cert and --tls-key go together")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(args.tls_cert, args.tls_key)
    except FileNotFoundError as exc:
        raise ConfigError(f"cannot read {exc.filename}: file not found") from None
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load the TLS certificate {args.tls_cert} with key {args.tls_key}: "
                          f"{getattr(exc, 'reason', None) or exc}") from None
    return {"ssl_context": context, "do_handshake_on_connect": False}


def _write_pid_file(path):
    import os

    from .errors import MockdError
    try:
        with open(path, "w", encoding="ascii") as fh:
            fh.write(f"{os.getpid()}\n")
    except OSError as exc:
        raise MockdError(f"cannot write the pid file {path}: {exc.strerror or exc}") from None


def _remove_pid_file(path):
    import os
    try:
        with open(path, encoding="ascii") as fh:
            if fh.read().strip() != str(os.getpid()):
                return  # another process took the file over
        os.unlink(path)
    except OSError:
        pass


def _reloader(args, server, registry):
    """The SIGHUP handler: load the config file again and apply it; a bad file is logged and
    the running config keeps serving."""
    import logging

    import gevent
    from gevent.lock import Semaphore

    from .configfile import load_config
    from .errors import MockdError
    from .greenlets import spawn
    log = logging.getLogger("mockd.server")
    one_at_a_time = Semaphore()  # two quick SIGHUPs must not apply their files out of order

    def in_thread(func, *func_args):
        # PyYAML parses in pure Python (3 s for a 640 KB file): in a worker thread the loop
        # keeps serving, switching with the parser every few ms under the GIL. A hostile file
        # is refused within the YAML alias and depth budgets there (mockd/yamlload.py).
        return gevent.get_hub().threadpool.apply(func, func_args)

    def reload():
        if not args.config:
            log.warning("SIGHUP: no --config file to reload (serving the built-in demo)")
            return
        try:
            with one_at_a_time:
                report = server.reload(load_config(args.config, registry, offload=in_thread))
        except MockdError as exc:
            log.error("reload failed, still serving the previous config: %s", exc)
            return
        except gevent.GreenletExit:
            raise
        except BaseException as exc:
            # Validation runs plugins' from_config(): whatever escapes it (SystemExit too, which
            # gevent's hub would rethrow into the main greenlet) fails this reload only.
            from .blame import blame
            culprit = blame(exc, server.plugin_manager, registry)
            log.error("reload failed, still serving the previous config: %s raised %r",
                      f"plugin {culprit!r}" if culprit else "mockd", exc, exc_info=exc)
            return
        log.info("reloaded %s: %d added, %d changed, %d removed, %d unchanged", args.config,
                 *(len(report[key]) for key in ("added", "changed", "removed", "unchanged")))

    return lambda: spawn(reload)


def serve(args, make_plugin_manager, load_config):
    _patch()
    import signal
    import sys

    import gevent

    from .blocking import warn_blocking
    from .errors import MockdError
    from .listen import ListenError
    from .log import configure_logging
    from .rlimit import raise_open_file_limit
    from .server import MockServer

    configure_logging(args.log_level, args.log_format)
    warn_blocking(args.warn_blocking)  # before anything runs the hub, which starts the monitor
    pm, registry = make_plugin_manager(args)
    config = load_config(args, registry)
    ssl_args = _tls_options(args)
    server = MockServer(config, pm, registry, host=args.host, port=args.port, ssl_args=ssl_args,
                        handshake_timeout=args.handshake_timeout,
                        max_outbound_buffer=args.max_outbound_buffer, send_timeout=args.send_timeout,
                        admin=not args.no_admin, admin_host=args.admin_host, admin_port=args.admin_port,
                        admin_token=args.admin_token, admin_allow_origins=args.admin_allow_origin,
                        admin_allow_hosts=args.admin_allow_host, journal_size=args.journal_size,
                        journal_body_limit=args.journal_body_limit)
    try:
        server.start()
    except ListenError as exc:
        raise _listen_failure(exc) from None
    raise_open_file_limit()  # one descriptor per client; nothing was accepted yet (no yield so far)
    # Before the pid file and the banner, which tell supervisors (and tests) we are ready:
    # a SIGTERM right after them must already mean a clean shutdown, not the default death.
    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, server.stop)
    gevent.signal_handler(signal.SIGHUP, _reloader(args, server, registry))
    if args.pid_file:
        try:
            _write_pid_file(args.pid_file)
        except MockdError:
            server.stop()
            raise
    print(_banner(args, config, server, ssl_args), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.stop()
    finally:
        if args.pid_file:
            _remove_pid_file(args.pid_file)
    sys.stdout.flush()
    return 0
