"""The ``mockd`` command line.

``get_parser()`` is pure argparse with no side effects (argparse-manpage imports it to build
``man/mockd.1``); its help strings are the only copy of the option docs. ``main()`` is the one
place that prints ``mockd: error: ...`` and picks exit codes: 0 success, 1 runtime failure,
2 usage or configuration error. Neither gevent nor Flask is imported at module level.
"""
import argparse
import json
import os
import sys

from .blocking import DEFAULT_THRESHOLD, parse_threshold
from .client.parser import add_websocket_parser, non_negative_int
from .errors import ConfigError, MockdError, PluginError
from .origins import parse_allowed_host, parse_origin_pattern
from .version import __version__

EXIT_OK, EXIT_RUNTIME, EXIT_USAGE = 0, 1, 2

SERVE_EXAMPLES = """examples:
  mockd serve                          serve the built-in demo (echo at /ws, chat at /ws/chat)
  mockd serve --config mockd.yaml      serve the mocks of a file
  mockd serve -c mockd.yaml -p 0 -a 0  free ports for both listeners (for tests); the banner prints them
"""


class _Formatter(argparse.RawDescriptionHelpFormatter):
    pass


def _positive_int(text):
    value = non_negative_int(text)
    if not value:
        raise argparse.ArgumentTypeError("must be 1 or more (got 0)")
    return value


def _add_limit_options(parser):
    parser.add_argument("--max-message-size-limit", type=_positive_int, default=64 << 20, metavar="BYTES",
                        help="the largest maxMessageSize a mock may set, in a file or through the admin API; "
                             "a larger one is a config error (default: 67108864, 64 MiB)")


def _add_plugin_options(parser):
    group = parser.add_argument_group("plugin options")
    group.add_argument("--plugins-dir", metavar="DIR",
                       help="also load every *.py file in DIR as a plugin")
    group.add_argument("--disable-plugin", metavar="NAME", action="append", default=[],
                       help="do not load the plugin NAME (repeatable; also MOCKD_DISABLED_PLUGINS=a,b)")
    group.add_argument("--no-plugin-autoload", action="store_true",
                       help="do not load installed plugins (also MOCKD_DISABLE_PLUGIN_AUTOLOAD=1)")


def _option_type(parse):
    """An argparse ``type`` from a parser that raises ValueError with the message to show."""
    def convert(text):
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    convert.__name__ = parse.__name__
    return convert


def _add_admin_options(parser):
    group = parser.add_argument_group("admin options")
    group.add_argument("--admin-host", default="127.0.0.1", metavar="HOST",
                       help="address of the admin API (default: 127.0.0.1); any other than a loopback "
                            "address needs --admin-token or --admin-insecure")
    group.add_argument("-a", "--admin-port", type=int, default=4290, metavar="PORT",
                       help="port of the admin API; 0 picks a free one (default: 4290)")
    group.add_argument("--no-admin", action="store_true", help="do not serve the admin API")
    group.add_argument("--admin-token", metavar="TOKEN",
                       help="require 'Authorization: Bearer TOKEN' or 'X-API-Key: TOKEN' on every admin "
                            "route but /health (env MOCKD_ADMIN_TOKEN)")
    group.add_argument("--admin-insecure", action="store_true",
                       help="allow a non-loopback --admin-host without a token (anyone who can reach it "
                            "can change the mocks)")
    group.add_argument("--admin-allow-origin", metavar="ORIGIN", action="append", default=[],
                       type=_option_type(parse_origin_pattern),
                       help="let web pages of ORIGIN (e.g. http://localhost:3000, or https://*.example.com "
                            "for its subdomains) call the admin API, with CORS headers; a request from a "
                            "page of any other origin than the API's own gets 403 (repeatable)")
    group.add_argument("--admin-allow-host", metavar="NAME", action="append", default=[],
                       type=_option_type(parse_allowed_host),
                       help="also answer requests whose Host header names NAME; only localhost, loopback "
                            "addresses and --admin-host are answered otherwise, which stops DNS rebinding "
                            "(repeatable)")
    group.add_argument("--journal-size", type=non_negative_int, default=10000, metavar="N",
                       help="message journal capacity in frames, oldest dropped first; 0 turns it off "
                            "(default: 10000)")
    group.add_argument("--journal-body-limit", type=non_negative_int, default=10240, metavar="BYTES",
                       help="bodies longer than this are journaled truncated (default: 10240)")


def _admin_exposure_error(args):
    """Why ``serve`` must not start with these admin options, or None."""
    import ipaddress
    if args.no_admin or args.admin_token or args.admin_insecure:
        return None
    host = args.admin_host.strip("[]")
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False  # a host name could resolve anywhere
    if loopback:
        return None
    return (f"--admin-host {args.admin_host} exposes the admin API beyond this machine without a token: "
            f"set --admin-token (or MOCKD_ADMIN_TOKEN), or pass --admin-insecure")


def get_parser():
    """Build the argument parser. Pure: no imports of gevent or Flask, no I/O."""
    parser = argparse.ArgumentParser(
        prog="mockd", formatter_class=_Formatter,
        description="mockd: a WebSocket mock server. Mocks are written in a YAML file and served on "
                    "ws://HOST:4280; the admin API on http://127.0.0.1:4290 changes them at run time.",
        epilog="examples:\n"
               "  mockd serve                          serve the built-in demo on ws://localhost:4280\n"
               "  mockd serve -c mockd.yaml            serve the mocks of a file\n"
               "  mockd check -c mockd.yaml            validate a file without serving it\n\n"
               "Run 'mockd COMMAND --help' for the options of one command.")
    parser.add_argument("--version", action="version", version=f"mockd {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve the mocks of a config file (or the built-in demo)",
                                description="Serve WebSocket mocks until SIGTERM or Ctrl+C.",
                                epilog=SERVE_EXAMPLES, formatter_class=_Formatter)
    serve.add_argument("-c", "--config", metavar="FILE",
                       help="YAML or JSON config file (env MOCKD_CONFIG); without it the built-in demo is served")
    listen = serve.add_argument_group("listener options")
    listen.add_argument("--host", default="::", metavar="HOST",
                        help="address of the mock listener; :: takes IPv6 and IPv4 clients on every address "
                             "(IPv4 only where the system has no IPv6), 0.0.0.0 IPv4 only, 127.0.0.1 this "
                             "machine only (default: ::)")
    listen.add_argument("-p", "--port", type=int, default=4280, metavar="PORT",
                        help="port of the mock listener; 0 picks a free one (default: 4280)")
    listen.add_argument("--handshake-timeout", type=float, default=10.0, metavar="SECONDS",
                        help="close clients that do not send a whole HTTP request (TLS handshake, request "
                             "line, headers and body) within SECONDS, or idle that long between keep-alive "
                             "requests; on the admin listener too (default: 10)")
    _add_limit_options(listen)
    listen.add_argument("--max-outbound-buffer", type=int, default=1 << 20, metavar="BYTES",
                        help="bytes that may wait for a client that does not read; a client past it is "
                             "closed with 1008 'outbound buffer full' (default: 1048576)")
    listen.add_argument("--send-timeout", type=float, default=10.0, metavar="SECONDS",
                        help="close with 1008 a client that takes no data for this long while some waits "
                             "for it; 0 waits forever (default: 10)")
    _add_admin_options(serve)
    logs = serve.add_argument_group("logging options")
    logs.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"),
                      help="least severe level logged (default: info)")
    logs.add_argument("--log-format", default="text", choices=("text", "json"),
                      help="text lines, or one JSON object per line (default: text)")
    logs.add_argument("--warn-blocking", type=_option_type(parse_threshold), default=DEFAULT_THRESHOLD,
                      metavar="DURATION",
                      help="log a WARNING with the stack of any code (a plugin's, say) that keeps every "
                           "client waiting for more than DURATION, e.g. 100ms or 1s; 0 or off turns it off "
                           "(default: 100ms)")
    tls = serve.add_argument_group("TLS and process options")
    tls.add_argument("--tls-cert", metavar="FILE",
                     help="PEM certificate (chain): serve wss:// on the mock listener and https on the admin one")
    tls.add_argument("--tls-key", metavar="FILE", help="PEM private key of --tls-cert")
    tls.add_argument("--pid-file", metavar="FILE",
                     help="write the process id to FILE once listening; removed on exit. "
                          "SIGHUP reloads --config: changed mocks close their clients with 1012")
    _add_plugin_options(serve)

    check = commands.add_parser("check", help="validate a config file without serving it",
                                description="Load and validate a config file and its plugins, then exit: "
                                            "0 when valid, 2 when not, with every error found (up to 20), "
                                            "each on its own line with its place in the file. Warnings "
                                            "(what loads but is likely a mistake) are printed too; they "
                                            "do not change the exit status.",
                                epilog="example:\n  mockd check -c mockd.yaml", formatter_class=_Formatter)
    check.add_argument("-c", "--config", metavar="FILE",
                       help="the config file to validate (env MOCKD_CONFIG)")
    _add_limit_options(check)
    _add_plugin_options(check)

    plugins = commands.add_parser("plugins", help="list the loaded plugins as JSON",
                                  description="Print the loaded plugins as a JSON list: name, distribution, "
                                              "version and hooks.",
                                  epilog="examples:\n  mockd plugins\n  mockd plugins --all",
                                  formatter_class=_Formatter)
    plugins.add_argument("--all", action="store_true", help="include mockd's built-in plugins")
    _add_plugin_options(plugins)
    add_websocket_parser(commands)
    return parser


def _plugin_manager(args):
    from .plugins import Registry, get_plugin_manager
    pm = get_plugin_manager(load_entrypoints=not args.no_plugin_autoload, disabled=args.disable_plugin,
                            plugins_dir=args.plugins_dir)
    registry = Registry.from_plugin_manager(pm)
    if getattr(args, "max_message_size_limit", None):  # serve and check have it; plugins does not
        registry.max_message_size_limit = args.max_message_size_limit
    return pm, registry


def _load(args, registry):
    from .configfile import load_config, parse_config_text
    if args.config:
        return load_config(args.config, registry)
    from importlib.resources import files
    text = files("mockd").joinpath("demo.yaml").read_text(encoding="utf-8")
    return parse_config_text(text, registry, source="<built-in demo>")


def _check(args):
    import logging
    if not args.config:
        raise ConfigError("no config file to check: give one with -c FILE (or set MOCKD_CONFIG)")
    # The loader logs its warnings (mockd serve shows them in its log); here they are printed.
    printer = logging.StreamHandler(sys.stderr)
    printer.setFormatter(logging.Formatter("mockd: warning: %(message)s"))
    warnings_log = logging.getLogger("mockd.config")
    warnings_log.addHandler(printer)
    propagate, warnings_log.propagate = warnings_log.propagate, False
    try:
        pm, registry = _plugin_manager(args)
        config = _load(args, registry)
    finally:  # main() may run again in this process (tests): no second printer
        warnings_log.removeHandler(printer)
        warnings_log.propagate = propagate
    # Plugins validate their plugins: settings in mockd_configure; nothing binds here.
    from .server import MockServer
    server = MockServer(config, pm, registry)
    server.configure()
    server.unconfigure()
    count = len(config.mocks)
    print(f"{args.config}: OK ({count} mock{'' if count == 1 else 's'})")
    return EXIT_OK


def _plugins(args):
    from .plugins import list_plugins
    pm, _registry = _plugin_manager(args)
    print(json.dumps(list_plugins(pm, include_builtin=args.all), indent=2))
    return EXIT_OK


def main(argv=None):
    parser = get_parser()
    args = parser.parse_args(argv)
    if args.command in ("serve", "check") and not args.config:
        # Read here, not as the option's default: get_parser() stays pure (no environment).
        args.config = os.environ.get("MOCKD_CONFIG") or None
    try:
        if args.command == "serve":
            # Read here, not as the option's default: get_parser() must not capture a secret.
            args.admin_token = args.admin_token or os.environ.get("MOCKD_ADMIN_TOKEN") or None
            exposure = _admin_exposure_error(args)
            if exposure:
                raise ConfigError(exposure)
            from .serve import serve  # patches gevent first thing
            return serve(args, _plugin_manager, _load)
        if args.command == "check":
            return _check(args)
        if args.command in ("websocket", "ws"):
            from .client import run  # websocket-client and urllib; never gevent
            return run(args)
        if args.command == "plugins":
            return _plugins(args)
    except (ConfigError, PluginError) as exc:
        for line in str(exc).splitlines():  # a config error may report several problems, one a line
            print(f"mockd: error: {line}", file=sys.stderr)
        return EXIT_USAGE
    except MockdError as exc:
        print(f"mockd: error: {exc}", file=sys.stderr)
        return EXIT_RUNTIME
    except KeyboardInterrupt:
        return EXIT_OK
    parser.error(f"unknown command {args.command!r}")
    return EXIT_USAGE
