"""Every option of ``mockd serve``, declared once: :class:`ServerOptions`.

Each field carries its default and, in an :class:`Option`, its flags, help text, metavar, type,
argument group and environment variable. ``mockd.cli.get_parser()`` builds the ``serve`` options
from these declarations, ``man/mockd.1`` is generated from that parser, and README.rst's table of
``mockd serve`` options is rendered from them (``python tests/test_options.py --write``); a test
fails when either copy drifts. Modules that need a default read it from :data:`DEFAULTS`.

Pure: no gevent, no Flask, no I/O (``get_parser()`` imports this module).
"""
import argparse
from dataclasses import dataclass, field, fields

from .blocking import parse_threshold
from .durations import format_duration
from .log import FORMATS, LEVELS
from .origins import parse_allowed_host, parse_origin_pattern

__all__ = ["CLUSTER_AUTO", "DEFAULTS", "Option", "ServerOptions", "command_line", "declarations", "non_negative_int"]

LISTENER, ADMIN, LOGGING, PROCESS = ("listener options", "admin options", "logging options",
                                     "TLS and process options")


def _argument_type(parse):
    """An argparse ``type`` from a parser that raises ValueError with the message to show."""
    def convert(text):
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    convert.__name__ = parse.__name__
    return convert


def non_negative_int(text):
    """A whole number, 0 or more (``mockd websocket`` options use it too)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more (got {value})")
    return value


CLUSTER_AUTO = "auto"  # --cluster auto: a private redis-server for the workers (mockd/workers.py)


def parse_cluster_url(text):
    """A ``redis://`` (or ``rediss://``, ``unix://``) URL for ``--cluster``, or ``auto``; ValueError otherwise."""
    from urllib.parse import urlsplit
    if text == CLUSTER_AUTO:
        return text
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises for a port out of range
    except ValueError as exc:
        raise ValueError(f"not a URL ({exc}): {text!r}") from None
    if parts.scheme not in ("redis", "rediss", "unix") or (parts.scheme != "unix" and not parts.hostname):
        raise ValueError(f"expected redis://HOST:PORT/DB (or rediss://, unix://PATH, or auto), got {text!r}")
    return text


def _positive_int(text):
    value = non_negative_int(text)
    if not value:
        raise argparse.ArgumentTypeError("must be 1 or more (got 0)")
    return value


@dataclass(frozen=True)
class Option:
    """How one :class:`ServerOptions` field is given on the command line and documented.

    ``help`` leaves out the default and the environment variable: :meth:`help_text` appends
    them, so that neither is written twice. ``shown`` renders the default for people.
    """

    flags: tuple
    group: str
    help: str
    metavar: str | None = None
    type: object = None
    choices: tuple | None = None
    action: str | None = None  # None (takes a value), "store_true", "store_false" or "append"
    env: str | None = None     # read by mockd.cli.main(), never by the parser (it stays pure)
    shown: object = str

    def default_text(self, default):
        """The default as ``--help`` and README show it; None when there is nothing to show
        (a switch, an empty list, an unset value)."""
        if self.action in ("store_true", "store_false") or default is None or default == ():
            return None
        return self.shown(default)

    def help_text(self, default=None):
        """``help`` with its environment variable and, when given, the default: the ``--help``
        text. README's table shows the default in a column of its own."""
        shown = self.default_text(default)
        return (self.help + (f" (env {self.env})" if self.env else "")
                + (f" (default: {shown})" if shown is not None else ""))


def _option(default, *flags, group, help, **cli):
    return field(default=default, metadata={"cli": Option(flags, group, help, **cli)})


def _seconds(value):
    return f"{value:g}"


def _mebibytes(value):
    return f"{value}, {value >> 20} MiB"


@dataclass(frozen=True)
class ServerOptions:
    """The settings of one ``mockd serve``: of :class:`~mockd.server.MockServer` (listeners,
    limits, admin API, journal, TLS) and of the process around it (logging, pid file)."""

    # ---------------------------------------------------------------- listener
    host: str = _option(
        "::", "--host", group=LISTENER, metavar="HOST",
        help="address of the mock listener; :: takes IPv6 and IPv4 clients on every address (IPv4 only "
             "where the system has no IPv6), 0.0.0.0 IPv4 only, 127.0.0.1 this machine only")
    port: int = _option(
        4280, "-p", "--port", group=LISTENER, metavar="PORT", type=int,
        help="port of the mock listener; 0 picks a free one")
    handshake_timeout: float = _option(
        10.0, "--handshake-timeout", group=LISTENER, metavar="SECONDS", type=float, shown=_seconds,
        help="close clients that do not send a whole HTTP request (TLS handshake, request line, headers "
             "and body) within SECONDS, or idle that long between keep-alive requests; on the admin "
             "listener too")
    max_message_size_limit: int = _option(
        64 << 20, "--max-message-size-limit", group=LISTENER, metavar="BYTES", type=_positive_int,
        shown=_mebibytes,
        help="the largest maxMessageSize a mock may set, in a file or through the admin API; a larger "
             "one is a config error")
    # Per connection: bytes that may wait for a client that does not read, and seconds it may
    # take nothing while data waits; past either it is closed with 1008 (ws/outbound.py).
    max_outbound_buffer: int = _option(
        1 << 20, "--max-outbound-buffer", group=LISTENER, metavar="BYTES", type=int,
        help="bytes that may wait for a client that does not read; a client past it is closed with "
             "1008 'outbound buffer full'")
    send_timeout: float = _option(
        10.0, "--send-timeout", group=LISTENER, metavar="SECONDS", type=float, shown=_seconds,
        help="close with 1008 a client that takes no data for this long while some waits for it; "
             "0 waits forever")

    # ---------------------------------------------------------------- admin API and journal
    admin_host: str = _option(
        "127.0.0.1", "--admin-host", group=ADMIN, metavar="HOST",
        help="address of the admin API; any other than a loopback address needs --admin-token or "
             "--admin-insecure")
    admin_port: int = _option(
        4290, "-a", "--admin-port", group=ADMIN, metavar="PORT", type=int,
        help="port of the admin API; 0 picks a free one")
    admin: bool = _option(
        True, "--no-admin", group=ADMIN, action="store_false",
        help="do not serve the admin API")
    admin_token: str | None = _option(
        None, "--admin-token", group=ADMIN, metavar="TOKEN", env="MOCKD_ADMIN_TOKEN",
        help="require 'Authorization: Bearer TOKEN' or 'X-API-Key: TOKEN' on every admin route but "
             "/health")
    admin_insecure: bool = _option(
        False, "--admin-insecure", group=ADMIN, action="store_true",
        help="allow a non-loopback --admin-host without a token (anyone who can reach it can change "
             "the mocks)")
    # Web pages of these origins may call the admin API, and it answers to these Host names
    # besides loopback and admin_host (see mockd/admin/trust.py).
    admin_allow_origins: tuple = _option(
        (), "--admin-allow-origin", group=ADMIN, metavar="ORIGIN", action="append",
        type=_argument_type(parse_origin_pattern),
        help="let web pages of ORIGIN (e.g. http://localhost:3000, or https://*.example.com for its "
             "subdomains) call the admin API, with CORS headers; a request from a page of any other "
             "origin than the API's own gets 403 (repeatable)")
    admin_allow_hosts: tuple = _option(
        (), "--admin-allow-host", group=ADMIN, metavar="NAME", action="append",
        type=_argument_type(parse_allowed_host),
        help="also answer requests whose Host header names NAME; only localhost, loopback addresses "
             "and --admin-host are answered otherwise, which stops DNS rebinding (repeatable)")
    journal_size: int = _option(
        10_000, "--journal-size", group=ADMIN, metavar="N", type=non_negative_int,
        help="message journal capacity in frames, oldest dropped first; 0 turns it off")
    journal_body_limit: int = _option(
        10_240, "--journal-body-limit", group=ADMIN, metavar="BYTES", type=non_negative_int,
        help="bodies longer than this are journaled truncated")
    max_recordings: int = _option(
        100, "--max-recordings", group=ADMIN, metavar="N", type=non_negative_int,
        help="proxied sessions kept as recordings (proxy.record), oldest dropped first; 0 keeps none")
    redact_headers: tuple = _option(
        (), "--redact-header", group=ADMIN, metavar="NAME", action="append",
        help="also keep the value of handshake header NAME out of recordings (Authorization, Cookie, "
             "Set-Cookie and Sec-WebSocket-Key always are; repeatable)")

    # ---------------------------------------------------------------- logging
    log_level: str = _option(
        "info", "--log-level", group=LOGGING, choices=LEVELS,
        help="least severe level logged")
    log_format: str = _option(
        "text", "--log-format", group=LOGGING, choices=FORMATS,
        help="text lines, or one JSON object per line")
    # A stall a person at a client notices; gevent's own default too.
    warn_blocking: float = _option(
        0.1, "--warn-blocking", group=LOGGING, metavar="DURATION", type=_argument_type(parse_threshold),
        shown=format_duration,
        help="log a WARNING with the stack of any code (a plugin's, say) that keeps every client waiting "
             "for more than DURATION, e.g. 100ms or 1s; 0 or off turns it off")

    # ---------------------------------------------------------------- TLS and process
    tls_cert: str | None = _option(
        None, "--tls-cert", group=PROCESS, metavar="FILE",
        help="PEM certificate (chain): serve wss:// on the mock listener and https on the admin one")
    tls_key: str | None = _option(
        None, "--tls-key", group=PROCESS, metavar="FILE",
        help="PEM private key of --tls-cert")
    pid_file: str | None = _option(
        None, "--pid-file", group=PROCESS, metavar="FILE",
        help="write the process id to FILE once listening; removed on exit. SIGHUP reloads --config: "
             "changed mocks close their clients with 1012")
    # ---------------------------------------------------------------- several processes
    # None, not 0, when not given: mockd.cli reads MOCKD_WORKERS only for an option left unset.
    workers: int | None = _option(
        None, "--workers", group=PROCESS, metavar="N", type=non_negative_int, env="MOCKD_WORKERS",
        help="serve with N processes on the same ports (SO_REUSEPORT: the kernel spreads the clients "
             "over them) under one supervisor, which restarts a worker that dies, passes SIGTERM and "
             "SIGHUP on to them and owns --pid-file; they share the mocks through --cluster, and "
             "without it through a private redis-server (--cluster auto). Unset or 0: one process")
    cluster: str | None = _option(
        None, "--cluster", group=PROCESS, metavar="URL", type=_argument_type(parse_cluster_url), env="MOCKD_CLUSTER",
        help="join the mock servers that share this Redis (redis://HOST:PORT/DB): the same mocks, "
             "changed through any node's admin API, and GET /cluster listing the nodes. auto, with "
             "--workers: a redis-server that mockd starts on a private Unix socket and stops on exit")
    node_id: str | None = _option(
        None, "--node-id", group=PROCESS, metavar="NAME", env="MOCKD_NODE_ID",
        help="this node's name in the cluster (default: HOST-PID); with --workers, worker I is NAME-wI")
    cluster_reset: bool = _option(
        False, "--cluster-reset", group=PROCESS, action="store_true",
        help="with --cluster: replace the cluster's mocks with this node's config instead of following them")
    # None until mockd.bootstrap resolves it: a run without --seed picks one (mockd/randomness.py).
    seed: int | None = _option(
        None, "--seed", group=PROCESS, metavar="N", type=non_negative_int, env="MOCKD_SEED",
        help="seed every random draw with N: the template functions random.*, uuid, uuid.short and "
             "faker.*, and the faults' probabilities and jitter, so that they repeat from run to run; "
             "without it a seed is picked at random. The seed in use is logged at start as 'seed N'")

    def __post_init__(self):
        # argparse and callers hand lists; a frozen value keeps none that could change later.
        for name in ("admin_allow_origins", "admin_allow_hosts", "redact_headers"):
            object.__setattr__(self, name, tuple(getattr(self, name)))

    @classmethod
    def from_args(cls, args):
        """The options of a parsed ``mockd serve`` command line (its dests are the field names)."""
        return cls(**{f.name: getattr(args, f.name) for f in fields(cls)})


def declarations():
    """``{name: (default, Option)}`` of every field of :class:`ServerOptions`, in ``--help`` order."""
    return {f.name: (f.default, f.metadata["cli"]) for f in fields(ServerOptions)}


def command_line(values):
    """The way back of the parser: the options of ``values`` (field names to parsed values; those
    missing or at their default are left out) as ``mockd serve`` arguments that parse back to
    the same values. ``mockd serve --workers`` starts its workers with them (mockd/workers.py)."""
    argv = []
    for name, (default, option) in declarations().items():
        value, flag = values.get(name, default), option.flags[-1]
        if option.action == "store_true":
            argv += [flag] if value else []
        elif option.action == "store_false":
            argv += [] if value else [flag]
        elif option.action == "append":
            argv += [f"{flag}={_argument_text(option, item)}" for item in value or ()]
        elif value is not None and value != default:
            argv.append(f"{flag}={_argument_text(option, value)}")  # "=": a value may begin with "-"
    return argv


def _argument_text(option, value):
    if option.shown is format_duration:  # a Go duration (--warn-blocking): a bare number is refused
        text = repr(float(value))
        return (text if "e" not in text else f"{value:.15f}".rstrip("0")) + "s" if value else "0"
    return repr(value) if isinstance(value, float) else str(value)


#: Every default, for modules that need one (``DEFAULTS.journal_size``).
DEFAULTS = ServerOptions()
