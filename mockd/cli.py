"""The ``mockd`` command line.

``get_parser()`` is pure argparse with no side effects (argparse-manpage imports it to build
``man/mockd.1``); its help strings are the only copy of the option docs, and those of ``serve``
come with their defaults from the declarations of :mod:`mockd.options`. ``main()`` is the one
place that prints ``mockd: error: ...`` and picks exit codes: 0 success, 1 runtime failure,
2 usage or configuration error. Neither gevent nor Flask is imported at module level.
"""
import argparse
import json
import os
import sys

from .client.parser import add_websocket_parser
from .errors import ConfigError, MockdError, PluginError
from .options import DEFAULTS, declarations
from .version import __version__

EXIT_OK, EXIT_RUNTIME, EXIT_USAGE = 0, 1, 2

SERVE_EXAMPLES = """examples:
  mockd serve                          serve the built-in demo (echo at /ws, chat at /ws/chat)
  mockd serve --config mockd.yaml      serve the mocks of a file
  mockd serve -c mockd.yaml -p 0 -a 0  free ports for both listeners (for tests); the banner prints them
"""


CONVERT_EXAMPLES = """examples:
  mockd convert session.json -o mocks.yaml           one mock per path, replaying the session
  mockd convert chat.har -o mocks.yaml --as matchers a matcher per client message
  mockd convert chat.har --timing-scale 0            no pauses between frames, YAML on stdout
  mockd check -c mocks.yaml && mockd serve -c mocks.yaml
"""


class _Formatter(argparse.RawDescriptionHelpFormatter):
    pass


def _add_server_option(container, name, default, option):
    """Add the :class:`~mockd.options.ServerOptions` field ``name`` to an argparse parser or group."""
    # argparse's append copies its default and appends to the copy: it must be a list.
    kwargs = dict(dest=name, default=list(default) if option.action == "append" else default,
                  help=option.help_text(default), action=option.action, metavar=option.metavar,
                  type=option.type, choices=option.choices)
    container.add_argument(*option.flags, **{key: value for key, value in kwargs.items() if value is not None})


def _add_plugin_options(parser):
    group = parser.add_argument_group("plugin options")
    group.add_argument("--plugins-dir", metavar="DIR",
                       help="also load every *.py file in DIR as a plugin")
    group.add_argument("--disable-plugin", metavar="NAME", action="append", default=[],
                       help="do not load the plugin NAME (repeatable; also MOCKD_DISABLED_PLUGINS=a,b)")
    group.add_argument("--no-plugin-autoload", action="store_true",
                       help="do not load installed plugins (also MOCKD_DISABLE_PLUGIN_AUTOLOAD=1)")


def _admin_exposure_error(args):
    """Why ``serve`` must not start with these admin options, or None."""
    import ipaddress
    if not args.admin or args.admin_token or args.admin_insecure:
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


def _add_server_options(parser):
    """Every ServerOptions declaration as an option of ``parser``, in its argument group."""
    groups = {}
    for name, (default, option) in declarations().items():
        if option.group not in groups:
            groups[option.group] = parser.add_argument_group(option.group)
        _add_server_option(groups[option.group], name, default, option)


def get_parser():
    """Build the argument parser. Pure: no imports of gevent or Flask, no I/O."""
    parser = argparse.ArgumentParser(
        prog="mockd", formatter_class=_Formatter,
        description=f"mockd: a WebSocket mock server. Mocks are written in a YAML file and served on "
                    f"ws://HOST:{DEFAULTS.port}; the admin API on http://{DEFAULTS.admin_host}:{DEFAULTS.admin_port} "
                    f"changes them at run time.",
        epilog="examples:\n"
               f"  mockd serve                          serve the built-in demo on ws://localhost:{DEFAULTS.port}\n"
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
    _add_server_options(serve)
    _add_plugin_options(serve)

    record = commands.add_parser(
        "record", help="record a real server's sessions through a proxy, without a config file",
        description="Serve a recording proxy on the mock port: every client that connects to PATH is "
                    "connected to the upstream URL and every frame both ways is kept. On SIGTERM or "
                    "Ctrl+C every session is written to FILE (mockd's JSON recording, or HAR 1.2 when FILE "
                    "ends in .har), the number of sessions and frames is printed, and the exit status is 0. "
                    "Handshake secrets (Authorization, Cookie, Set-Cookie, Sec-WebSocket-Key and each "
                    "--redact-header) are never written.",
        epilog="examples:\n"
               "  mockd record --upstream wss://api.example.test/feed -o session.json\n"
               "  mockd record --upstream ws://127.0.0.1:9000/ws --path /live -o chat.har -p 0\n"
               "  mockd convert session.json -o mocks.yaml   then serve what was recorded",
        formatter_class=_Formatter)
    record.add_argument("--upstream", required=True, metavar="URL", help="the ws:// or wss:// server to record")
    record.add_argument("--path", metavar="PATH",
                        help="the path clients connect to (default: the upstream URL's path)")
    record.add_argument("-o", "--output", required=True, metavar="FILE",
                        help="where the sessions are written at exit (.har: HAR 1.2)")
    _add_server_options(record)
    _add_plugin_options(record)

    check = commands.add_parser("check", help="validate a config file without serving it",
                                description="Load and validate a config file and its plugins, then exit: "
                                            "0 when valid, 2 when not, with every error found (up to 20), "
                                            "each on its own line with its place in the file. Warnings "
                                            "(what loads but is likely a mistake) are printed too; they "
                                            "do not change the exit status.",
                                epilog="example:\n  mockd check -c mockd.yaml", formatter_class=_Formatter)
    check.add_argument("-c", "--config", metavar="FILE",
                       help="the config file to validate (env MOCKD_CONFIG)")
    _add_server_option(check, "max_message_size_limit", *declarations()["max_message_size_limit"])
    _add_plugin_options(check)

    plugins = commands.add_parser("plugins", help="list the loaded plugins as JSON",
                                  description="Print the loaded plugins as a JSON list: name, distribution, "
                                              "version and hooks.",
                                  epilog="examples:\n  mockd plugins\n  mockd plugins --all",
                                  formatter_class=_Formatter)
    plugins.add_argument("--all", action="store_true", help="include mockd's built-in plugins")
    _add_plugin_options(plugins)
    _add_convert_parser(commands)
    add_websocket_parser(commands)
    return parser


def _add_convert_parser(commands):
    convert = commands.add_parser(
        "convert", help="turn a recording or a HAR into mocks (YAML)", epilog=CONVERT_EXAMPLES,
        formatter_class=_Formatter,
        description="Write a YAML mock file from recorded WebSocket sessions: a recording of 'mockd record' or "
                    "GET /recordings/{id} (JSON), or a HAR saved from Chrome DevTools. One mock per WebSocket "
                    "path; served, it sends a client that sends the recorded client messages the recorded "
                    "server messages, in order and with the recorded pauses.")
    convert.add_argument("file", metavar="FILE", help="the recording (.json) or HAR (.har) to convert")
    convert.add_argument("-o", "--output", metavar="OUT",
                         help="write the mocks to OUT, replaced at once if it exists (default: standard output)")
    convert.add_argument("--as", dest="convert_as", choices=("scenario", "matchers"), default="scenario",
                         help="scenario (default): replay one session step by step, client messages awaited "
                              "in order; matchers: answer each recorded client message, in any order, with "
                              "the first server message that followed it")
    convert.add_argument("--timing-scale", metavar="X", type=float, default=1.0,
                         help="multiply the recorded pauses by X: 0.5 plays twice as fast, 0 leaves them out "
                              "(default: 1)")


def _check(args):
    import logging

    from .bootstrap import config_from_args, plugins_from_args
    if not args.config:
        raise ConfigError("no config file to check: give one with -c FILE (or set MOCKD_CONFIG)")
    # The loader logs its warnings (mockd serve shows them in its log); here they are printed.
    printer = logging.StreamHandler(sys.stderr)
    printer.setFormatter(logging.Formatter("mockd: warning: %(message)s"))
    warnings_log = logging.getLogger("mockd.config")
    warnings_log.addHandler(printer)
    propagate, warnings_log.propagate = warnings_log.propagate, False
    try:
        pm, registry = plugins_from_args(args)
        config = config_from_args(args, registry)
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
    from .bootstrap import plugins_from_args
    from .plugins import list_plugins
    pm, _registry = plugins_from_args(args)
    print(json.dumps(list_plugins(pm, include_builtin=args.all), indent=2))
    return EXIT_OK


def main(argv=None):
    parser = get_parser()
    args = parser.parse_args(argv)
    if args.command in ("serve", "check") and not args.config:
        # Read here, not as the option's default: get_parser() stays pure (no environment).
        args.config = os.environ.get("MOCKD_CONFIG") or None
    try:
        if args.command in ("serve", "record"):
            # Read here, not as the options' defaults: get_parser() must not capture a secret.
            for name, (_default, option) in declarations().items():
                given = getattr(args, name)
                if option.env and (given is None or given is False or given == ""):  # --seed 0 is given
                    text = os.environ.get(option.env) or None
                    if text is not None and option.type is not None:
                        try:  # the variable's text is checked like the flag's
                            text = option.type(text)
                        except (argparse.ArgumentTypeError, ValueError) as exc:
                            raise ConfigError(f"{option.env}: {exc}") from None
                    setattr(args, name, text)
            exposure = _admin_exposure_error(args)
            if exposure:
                raise ConfigError(exposure)
            if args.command == "record":
                from .bootstrap import record  # patches gevent first thing
                return record(args)
            from .bootstrap import serve  # patches gevent first thing
            return serve(args)
        if args.command == "check":
            return _check(args)
        if args.command in ("websocket", "ws"):
            from .client import run  # websocket-client and urllib; never gevent
            return run(args)
        if args.command == "plugins":
            return _plugins(args)
        if args.command == "convert":
            from .proxy.convert import run as convert  # PyYAML only; never gevent
            return convert(args)
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
