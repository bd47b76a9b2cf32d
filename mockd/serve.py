"""``mockd serve``: patch gevent, build the server, print the banner, run until a signal."""


def _patch():
    # Patch before anything imports socket, ssl or threading through mockd.server.
    from gevent import monkey
    if not monkey.is_module_patched("socket"):
        monkey.patch_all()


def _display_host(host):
    return "localhost" if host in ("0.0.0.0", "::", "") else host


def serve(args, make_plugin_manager, load_config):
    _patch()
    import signal
    import sys

    import gevent

    from .errors import MockdError
    from .log import configure_logging
    from .server import MockServer

    configure_logging(args.log_level, args.log_format)
    pm, registry = make_plugin_manager(args)
    config = load_config(args, registry)
    server = MockServer(config, pm, registry, host=args.host, port=args.port,
                        handshake_timeout=args.handshake_timeout)
    try:
        server.start()
    except OSError as exc:
        raise MockdError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    source = "the built-in demo config" if not args.config else args.config
    lines = [f"mockd server started ({len(config.mocks)} mocks from {source})", "",
             f"  Mock server: ws://{_display_host(args.host)}:{server.ws_port}"]
    if not args.config:
        lines += ["", "  Demo endpoints: /ws (echo), /ws/chat (chat room), /ws/stocks (ticker)"]
    lines += ["", "Press Ctrl+C to stop"]
    print("\n".join(lines), flush=True)
    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, server.stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.stop()
    sys.stdout.flush()
    return 0
