"""The composition root of ``mockd serve``: from the parsed command line it builds the plugin
manager and registry, the config, the :class:`~mockd.server.MockServer`, its admin app and
listeners, prints the banner and runs until a signal. ``mockd check`` and ``mockd plugins``
build their plugins and config with the same :func:`plugins_from_args` and
:func:`config_from_args`; ``mockd record`` serves a recording proxy the same way (:func:`record`).
Only the standard library's ``sys`` is imported at module level: ``serve()`` and ``record()``
patch gevent before anything else loads.
"""
import sys

RECORD_WIND_DOWN = 5.0  # seconds mockd record waits for closing sessions before it writes the file


def plugins_from_args(args):
    """The plugin manager and the :class:`~mockd.plugins.Registry` of the plugin options
    (``--plugins-dir``, ``--disable-plugin``, ``--no-plugin-autoload``), with the registry's
    ``--max-message-size-limit`` for the commands that have it (``serve`` and ``check``)."""
    from .plugins import Registry, get_plugin_manager
    pm = get_plugin_manager(load_entrypoints=not args.no_plugin_autoload, disabled=args.disable_plugin,
                            plugins_dir=args.plugins_dir)
    registry = Registry.from_plugin_manager(pm)
    if getattr(args, "max_message_size_limit", None):
        registry.max_message_size_limit = args.max_message_size_limit
    return pm, registry


def config_from_args(args, registry):
    """The config file of ``-c/--config``, or without one the built-in demo, validated."""
    from .configfile import load_config, parse_config_text
    if args.config:
        return load_config(args.config, registry)
    from importlib.resources import files
    text = files("mockd").joinpath("demo.yaml").read_text(encoding="utf-8")
    return parse_config_text(text, registry, source="<built-in demo>")


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


def _banner(args, config, server):
    source = getattr(args, "banner_source", None) or args.config or "the built-in demo config"
    count = len(config.mocks)
    tls = server.options.tls_cert
    lines = [f"mockd server started ({count} mock{'' if count == 1 else 's'} from {source})", "",
             f"  Mock server: {'wss' if tls else 'ws'}://{_display_host(server.ws_host)}:{server.ws_port}"]
    if server.admin_port_bound:
        lines.append(f"  Admin API:   {'https' if tls else 'http'}://{_display_host(server.admin_host_bound)}:"
                     f"{server.admin_port_bound}")
    return "\n".join(lines + [""] + _endpoint_lines(server) + ["", "Press Ctrl+C to stop"])


def _reloader(args, server, registry):
    """The SIGHUP handler: load the config file again and apply it; a bad file is logged and
    the running config keeps serving."""
    import logging

    import gevent
    from gevent.lock import Semaphore

    from .configfile import load_config
    from .errors import MockdError
    from .greenlets import in_thread, spawn
    log = logging.getLogger("mockd.server")
    one_at_a_time = Semaphore()  # two quick SIGHUPs must not apply their files out of order

    def reload():
        if not args.config:
            log.warning("SIGHUP: no --config file to reload (serving the built-in demo)")
            return
        try:
            with one_at_a_time:
                # A hostile file is refused within the YAML alias and depth budgets there (yamlload.py).
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


def serve(args):
    """Run ``mockd serve`` with the parsed command line ``args`` until SIGTERM or SIGINT; 0.
    With ``--workers N`` this process supervises N worker processes instead (mockd/workers.py),
    unpatched; each of them comes back here marked as a worker, and serves."""
    import os

    from .workers import WORKER_ENV, supervise
    worker_of = os.environ.pop(WORKER_ENV, None)  # not inherited by whatever a worker starts
    if getattr(args, "workers", None) and worker_of is None:
        return supervise(args)
    _patch()
    from .log import configure_logging
    from .options import ServerOptions

    options = ServerOptions.from_args(args)
    configure_logging(options.log_level, options.log_format)
    pm, registry = plugins_from_args(args)
    _run(args, options, pm, registry, config_from_args(args, registry))
    return 0


def record(args):
    """Run ``mockd record``: a recording proxy to ``--upstream`` on the mock port, no config
    file; on SIGTERM or Ctrl+C every session is written to ``-o FILE`` (HAR for ``.har``)."""
    _patch()
    import dataclasses
    from urllib.parse import urlsplit

    from .config import build_config
    from .log import configure_logging
    from .options import ServerOptions
    from .proxy.recording import redact_url

    if getattr(args, "workers", None):
        from .errors import ConfigError
        raise ConfigError("--workers (MOCKD_WORKERS) is for mockd serve: mockd record runs one process")
    # Every session is kept: what was recorded is the point (the default cap is for serve).
    options = dataclasses.replace(ServerOptions.from_args(args), max_recordings=sys.maxsize)
    configure_logging(options.log_level, options.log_format)
    pm, registry = plugins_from_args(args)
    from .proxy.files import check_writable
    check_writable(args.output)  # now, not after the sessions it would lose at Ctrl+C
    path = args.path or urlsplit(args.upstream).path or "/"
    shown = redact_url(args.upstream)  # the banner and the mock's name: no password or token
    config = build_config({"version": "1.0", "mocks": [{"id": "record", "name": f"recording {shown}",
                                                        "websocket": {
                                                            "path": path,
                                                            # a recording proxy takes what the upstream sends,
                                                            # up to the server's cap, not 64 KiB
                                                            "maxMessageSize": options.max_message_size_limit,
                                                            "proxy": {"url": args.upstream, "mode": "passthrough",
                                                                      "record": True}}}]},
                          registry, "mockd record")
    args.config, args.banner_source = None, f"mockd record, to {shown}"
    server = _run(args, options, pm, registry, config)
    import gevent
    with gevent.Timeout(RECORD_WIND_DOWN, False):
        # A session's recording is kept once its sockets are wound down (the upstream's answer
        # to the close included), which stop() does not wait for.
        while server.connections.unfinished():
            gevent.sleep(0.02)
    from .proxy.files import write_recordings
    recordings = list(server.recordings)
    write_recordings(args.output, recordings)
    frames = sum(len(recording.frames) for recording in recordings)
    print(f"mockd record: wrote {len(recordings)} session{'' if len(recordings) == 1 else 's'} "
          f"({frames} frame{'' if frames == 1 else 's'}) to {args.output}", flush=True)
    return 0


def _run(args, options, pm, registry, config):
    """Serve ``config`` until SIGTERM or SIGINT; returns the stopped server."""
    import dataclasses
    import logging
    import signal

    import gevent

    from .blocking import warn_blocking
    from .errors import ConfigError, MockdError
    from .listen import ListenError, listen_failure
    from .options import CLUSTER_AUTO
    from .randomness import install, resolve_seed
    from .rlimit import raise_open_file_limit
    from .server import MockServer
    from .workers import remove_pid_file, write_pid_file

    if options.cluster == CLUSTER_AUTO:  # a worker is given its supervisor's Redis, never "auto"
        raise ConfigError("--cluster auto starts a private redis-server for the processes of --workers N: "
                          "give --workers too, or a redis:// URL")
    warn_blocking(options.warn_blocking)  # before anything runs the hub, which starts the monitor
    try:
        # Resolved once, before the server: whatever reads options.seed sees the logged one.
        options = dataclasses.replace(options, seed=resolve_seed(options.seed))
    except ValueError as exc:  # MOCKD_SEED arrives as unchecked text; argparse checked --seed
        raise ConfigError(f"MOCKD_SEED: {exc}") from None
    install(options.seed)
    server = MockServer(config, pm, registry, options)
    admin_app = None
    if options.admin:
        from .admin.app import create_app  # Flask's import takes 100+ ms: not with --no-admin
        admin_app = create_app(server)
    try:
        server.start(admin_app)
    except ListenError as exc:
        raise listen_failure(exc) from None
    # Next to start()'s "listening" line, and logged without --seed too: a failing run can be repeated.
    logging.getLogger("mockd.server").info("seed %d", options.seed)
    raise_open_file_limit()  # one descriptor per client; nothing was accepted yet (no yield so far)
    # Before the pid file and the banner, which tell supervisors (and tests) we are ready:
    # a SIGTERM right after them must already mean a clean shutdown, not the default death.
    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, server.stop)
    gevent.signal_handler(signal.SIGHUP, _reloader(args, server, registry))
    if options.pid_file:
        try:
            write_pid_file(options.pid_file)
        except MockdError:
            server.stop()
            raise
    print(_banner(args, config, server), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.stop()
    finally:
        if options.pid_file:
            remove_pid_file(options.pid_file)
    sys.stdout.flush()
    return server
