"""The ``mockd websocket`` (alias ``ws``) command tree: pure argparse, no I/O, no imports of
gevent, websocket-client or urllib.

Options shared by several subcommands use ``default=argparse.SUPPRESS`` so that they can
stand before or after a nested action (``mockd ws connections --json list`` and ``mockd ws
connections list --json`` both work); :func:`mockd.client.options` fills in the defaults
(and the ``MOCKD_ADMIN_URL`` / ``MOCKD_ADMIN_TOKEN`` environment) when a command runs.
"""
import argparse
import textwrap

from ..durations import parse_duration
from ..options import DEFAULTS, non_negative_int

DEFAULT_ADMIN_URL = f"http://localhost:{DEFAULTS.admin_port}"
DEFAULT_TIMEOUT = 30.0


class _Formatter(argparse.RawDescriptionHelpFormatter):
    pass


def parse_timeout(text):
    """``30s``, ``500ms``, ``1m`` or bare seconds (``30``, ``2.5``)."""
    try:
        seconds = float(text)
    except ValueError:
        try:
            seconds = parse_duration(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"timeout must be positive (got {text!r})")
    return seconds


def parse_header(text):
    """``Key:Value``: split at the first colon, both sides trimmed."""
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"header must be Key:Value (got {text!r})")
    return name.strip(), value.strip()


def _json_option(parser, what="output"):
    parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help=f"{what} as JSON")


def _admin_options(parser, hidden=False):
    group = parser.add_argument_group("admin API options")
    group.add_argument("--admin-url", metavar="URL", default=argparse.SUPPRESS,
                       help=argparse.SUPPRESS if hidden else
                       f"base URL of the admin API (env MOCKD_ADMIN_URL; default: {DEFAULT_ADMIN_URL})")
    group.add_argument("--admin-token", metavar="TOKEN", default=argparse.SUPPRESS,
                       help=argparse.SUPPRESS if hidden else
                       "API token, sent as 'Authorization: Bearer TOKEN' (env MOCKD_ADMIN_TOKEN)")
    if not hidden:
        _tls_options(group, "an https admin URL")


def _tls_options(group, what):
    group.add_argument("-k", "--insecure", action="store_true", default=argparse.SUPPRESS,
                       help=f"{what}: do not verify the server's certificate")
    group.add_argument("--cacert", metavar="FILE", default=argparse.SUPPRESS,
                       help=f"{what}: verify the server's certificate against the CA certificates in FILE")


def _raw_option(parser, what="messages", newlines=True):
    kept = "but newline and tab" if newlines else "but tab (newlines too: one entry, one line)"
    parser.add_argument("--raw", action="store_true",
                        help=f"print {what} exactly as received; by default control characters {kept} "
                             "(ESC, CR, BEL, C1, bidi overrides) are shown as escapes such as \\x1b, so "
                             "that the other end cannot drive your terminal")


def _connection_options(parser, listen=False):
    parser.add_argument("url", metavar="URL", help="WebSocket URL, e.g. ws://localhost:4280/ws (or wss://)")
    group = parser.add_argument_group("connection options")
    group.add_argument("-H", "--header", metavar="KEY:VALUE", type=parse_header, action="append", default=[],
                       help="add a handshake header (repeatable; split at the first colon)")
    group.add_argument("--subprotocol", metavar="NAME", help="offer this subprotocol in the handshake")
    group.add_argument("-t", "--timeout", metavar="DURATION", type=parse_timeout, default=DEFAULT_TIMEOUT,
                       help="handshake timeout: 30s, 500ms or bare seconds (default: 30s)")
    _tls_options(group, "wss://")
    _admin_options(parser, hidden=True)


def _wrap(text):
    # The formatter keeps the examples' layout, so descriptions are wrapped here.
    return textwrap.fill(text, 79)


def _sub(subparsers, name, help_, description, examples, aliases=(), before=""):
    return subparsers.add_parser(name, aliases=list(aliases), help=help_, description=_wrap(description),
                                 epilog=before + "examples:\n" + examples, formatter_class=_Formatter)


CONNECT_EXAMPLES = """\
  mockd websocket connect ws://localhost:4280/ws
  mockd websocket connect -H "Authorization:Bearer token" ws://localhost:4280/ws
  mockd websocket connect --subprotocol graphql-ws ws://localhost:4280/graphql
  mockd websocket connect --json ws://localhost:4280/ws
  printf 'ping\\nhelp\\n' | mockd ws connect ws://localhost:4280/ws/chat
"""

SEND_EXAMPLES = """\
  mockd websocket send ws://localhost:4280/ws "hello"
  mockd websocket send ws://localhost:4280/ws '{"action":"ping"}'
  mockd websocket send ws://localhost:4280/ws @message.json
  mockd websocket send --wait ws://localhost:4280/ws/chat ping
  mockd websocket send --binary ws://localhost:4280/ws aGVsbG8=
"""

LISTEN_EXAMPLES = """\
  mockd websocket listen ws://localhost:4280/ws
  mockd websocket listen -n 10 ws://localhost:4280/ws/stocks
  mockd websocket listen --json ws://localhost:4280/ws
"""


def _add_client_commands(sub):
    connect = _sub(sub, "connect", "interactive session: type lines, see replies",
                   "Open a WebSocket and send each line of standard input as a text message. Sent "
                   "lines print as '> line', received messages as '< payload' (binary ones as "
                   "'< [binary N bytes] BASE64'). When standard input is not a terminal, the "
                   "session ends once it is exhausted and no message arrived for 0.5 s (at most "
                   "10 s). Ctrl+C closes the connection with 1000. With --json every sent and "
                   "received message is one JSON object per line on standard output, and the "
                   "status lines go to standard error.",
                   CONNECT_EXAMPLES)
    _connection_options(connect)
    _json_option(connect, "print messages")
    _raw_option(connect)

    send = _sub(sub, "send", "send one message and exit",
                "Connect, send MESSAGE (or the contents of FILE for @FILE) as one text message, "
                "close with 1000 and print 'Sent to URL: MESSAGE'. With --wait, first wait for "
                "the first message the server sends back and print it as '< payload' after that "
                "line; when none comes within --timeout, only the error is printed (exit 1).",
                SEND_EXAMPLES)
    _connection_options(send)
    send.add_argument("message", metavar="MESSAGE", help="the message, or @FILE to send a file's contents")
    send.add_argument("--binary", action="store_true",
                      help="send a binary message: MESSAGE is standard base64, @FILE is sent as raw bytes")
    send.add_argument("--wait", action="store_true",
                      help="also wait (up to --timeout) for the first reply and print it")
    _json_option(send, "print the result")
    _raw_option(send, "the message and the reply")

    listen = _sub(sub, "listen", "print the messages an endpoint sends",
                  "Connect and print every message received, one per line on standard output "
                  "(binary ones as '[binary N bytes] BASE64'); progress goes to standard error.",
                  LISTEN_EXAMPLES)
    _connection_options(listen)
    listen.add_argument("-n", "--count", metavar="N", type=non_negative_int, default=0,
                        help="exit after N messages (default: 0, never)")
    _json_option(listen, "print messages")
    _raw_option(listen)


def _add_admin_commands(sub):
    add = _sub(sub, "add", "create a WebSocket mock through the admin API",
               "Create a WebSocket mock at run time (POST /mocks). For matchers and scenarios "
               "write a config file instead.",
               "  mockd websocket add --path /ws/echo --echo\n"
               "  mockd websocket add --path /ws/hello --message '{\"hello\":\"world\"}' --name Hello\n"
               "  mockd websocket add --path /ws/hi --message hello\n")
    add.add_argument("--path", metavar="PATH", help="the endpoint path, starting with / (required)")
    add.add_argument("--echo", action="store_true", help="echo every message back")
    add.add_argument("--message", metavar="TEXT",
                     help="reply to every message with TEXT: a JSON value when TEXT parses as JSON "
                          "(sent compact), else TEXT as it is; {{ }} templates are rendered")
    add.add_argument("--text", action="store_true",
                     help="reply with --message as text, as written, even when it parses as JSON")
    add.add_argument("--name", metavar="NAME", help="a display name for the mock")
    _admin_options(add)
    _json_option(add, "print the result")

    status = _sub(sub, "status", "list the WebSocket mocks being served",
                  "List the WebSocket mocks of a running server (GET /mocks?type=websocket).",
                  "  mockd websocket status\n  mockd websocket status --admin-url http://localhost:9091\n"
                  "  mockd websocket status --json\n")
    _admin_options(status)
    _json_option(status, "print the mocks")

    conns = _sub(sub, "connections", "list, inspect, close or write to live connections",
                 "Work with the live connections of a running server. Without an action, list them.",
                 "  mockd websocket connections\n  mockd websocket connections get conn-...\n"
                 "  mockd websocket connections close conn-...\n"
                 "  mockd websocket connections send conn-... '{\"type\":\"notice\"}'\n"
                 "  mockd websocket connections send --binary conn-... aGVsbG8=\n")
    _admin_options(conns)
    _json_option(conns)
    actions = conns.add_subparsers(dest="action", metavar="ACTION")
    for name, aliases, help_ in (("list", ["ls"], "list live connections (the default)"),
                                 ("get", [], "show one connection"),
                                 ("close", [], "close a connection with 1000 'closed by API'"),
                                 ("send", [], "send a message to a connection")):
        action = actions.add_parser(name, aliases=aliases, help=help_, description=help_.capitalize() + ".",
                                    epilog="example:\n  mockd websocket connections " + name +
                                    ("" if name == "list" else " conn-...") + ("" if name != "send" else " hello"),
                                    formatter_class=_Formatter)
        if name != "list":
            action.add_argument("connection_id", metavar="ID", help="the connection id (conn-...)")
        if name == "send":
            action.add_argument("message", metavar="MESSAGE", help="the message text (base64 with --binary)")
            action.add_argument("--binary", action="store_true", help="send a binary message; MESSAGE is base64")
        _admin_options(action)
        _json_option(action)

    stats = _sub(sub, "stats", "connection and message totals",
                 "Show the WebSocket statistics of a running server (GET /websocket/stats).",
                 "  mockd websocket stats\n  mockd websocket stats --json\n")
    _admin_options(stats)
    _json_option(stats, "print the statistics")

    messages = _sub(sub, "messages", "show the message journal",
                    "Print the journal of messages received and sent by the server (GET "
                    "/websocket/messages), oldest first: time, connection, path, '>' for a message "
                    "the client sent (with what handled it), '<' for one the server sent or '*' for an "
                    "event (such as a close for a full buffer), body.",
                    "  mockd websocket messages --limit 20\n"
                    "  mockd websocket messages --mock chat-room --direction inbound\n"
                    "  mockd websocket messages --follow --json\n")
    messages.add_argument("--mock", metavar="ID", help="only messages of this mock")
    messages.add_argument("--connection", metavar="ID", help="only messages of this connection")
    messages.add_argument("--direction", choices=("inbound", "outbound"), help="only one direction")
    messages.add_argument("--limit", metavar="N", type=non_negative_int, help="only the last N messages")
    messages.add_argument("-f", "--follow", action="store_true",
                          help="keep polling for new messages until Ctrl+C")
    messages.add_argument("--interval", metavar="DURATION", type=parse_timeout, default=0.5,
                          help="polling interval with --follow (default: 500ms)")
    _admin_options(messages)
    _json_option(messages, "print one JSON object per message")
    _raw_option(messages, "bodies", newlines=False)


#: ``mockd websocket fault`` kinds: (type, ((METAVAR, key, convert, optional), ...), help). The
#: arguments are positional; ``int`` ones are converted (mockd.client.faults), the rest sent as written.
FAULT_KINDS = (
    ("drop", (), "reset the TCP connection: no close frame, the client sees 1006"),
    ("close", (("CODE", "code", int, True), ("REASON", "reason", str, True)),
     "close cleanly with CODE (default 1000) and REASON"),
    ("silence", (), "read and write nothing more; the socket stays open"),
    ("stopPongs", (), "answer no more pings (also: stop-pongs)"),
    ("latency", (("FIXED", "fixed", str, False), ("JITTER", "jitter", str, True)),
     "delay each outbound frame by FIXED plus up to JITTER, order kept (200ms, 1s)"),
    ("throttle", (("BYTES_PER_SECOND", "bytesPerSecond", int, False),), "send at most that many bytes a second"),
    ("fragment", (("SIZE", "size", int, False),), "split outbound messages into frames of at most SIZE bytes"),
    ("badFrame", (("KIND", "kind", str, False),),
     "send one frame a client must reject (also: bad-frame); KIND: invalidUtf8, reservedBit, maskedFrame, "
     "badOpcode or oversizeControl"),
)


def fault_usage(params):
    """``[CODE [REASON]]``, ``FIXED [JITTER]``: a kind's arguments as its usage shows them."""
    text = ""
    for metavar, _key, _convert, optional in reversed(params):
        text = f"{metavar} {text}".strip()
        if optional:
            text = f"[{text}]"
    return text


def _fault_kinds_help():
    lines = ["fault kinds (KIND [ARG...]):"]
    for kind, params, help_ in FAULT_KINDS:
        lines.append(textwrap.fill(help_, 79, initial_indent=f"  {kind} {fault_usage(params)}".ljust(29),
                                   subsequent_indent=" " * 29, break_on_hyphens=False))
    lines.append("\n" + textwrap.fill(
        "KIND may also be a whole fault entry as a YAML flow mapping or JSON (a plugin's fault type, or keys "
        "the arguments do not cover; see the last example). A handshake fault (refuse) applies to "
        "a mock, not to a connection: see 'mockd ws faults --help'.", 79, initial_indent="  ",
        subsequent_indent="  ", break_on_hyphens=False))
    return "\n".join(lines) + "\n\n"


def _probability(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value <= 1:  # NaN too
        raise argparse.ArgumentTypeError(f"must be from 0 to 1 (got {text})")
    return int(value) if value in (0, 1) else value


def _duration_text(text):
    """A duration such as ``5s``, checked here and sent as written."""
    try:
        parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _positive_int(text):
    value = non_negative_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more (got {value})")
    return value


def _add_fault_commands(sub):
    fault = _sub(sub, "fault", "inject a fault into one live connection",
                 "Apply one fault to a live connection, now or at its trigger (POST "
                 "/websocket/connections/ID/faults), and print what was applied. KIND and its "
                 "arguments are listed below; the server checks the values and says what is "
                 "wrong. With --probability the fault applies only if a draw says so, and the "
                 "command says when it did not. Faults that last (latency, throttle, fragment, "
                 "stopPongs) are lifted by 'mockd ws faults MOCK_ID --clear'.",
                 "  mockd ws fault conn-... drop\n"
                 "  mockd ws fault conn-... close 4000 deploy\n"
                 "  mockd ws fault conn-... latency 200ms 50ms\n"
                 "  mockd ws fault conn-... throttle 50000\n"
                 "  mockd ws fault conn-... badFrame invalidUtf8\n"
                 "  mockd ws fault --after-messages 3 conn-... close 1012\n"
                 "  mockd ws fault --probability 0.5 conn-... drop\n"
                 "  mockd ws fault conn-... '{type: latency, jitter: 50ms}'\n",
                 before=_fault_kinds_help())
    fault.add_argument("connection_id", metavar="ID", help="the connection id (conn-...; see 'mockd ws connections')")
    fault.add_argument("kind", metavar="KIND", help="the fault, one of the kinds below")
    fault.add_argument("values", metavar="ARG", nargs="*", help="the kind's arguments")
    when = fault.add_mutually_exclusive_group()
    when.add_argument("--after-messages", metavar="N", type=_positive_int,
                      help="apply once the connection has received N messages since its upgrade (at once "
                           "if it already has)")
    when.add_argument("--after", metavar="DURATION", type=_duration_text,
                      help="apply DURATION after the connection's upgrade (5s, 500ms; at once if that is past)")
    fault.add_argument("--probability", metavar="P", type=_probability,
                       help="apply only with probability P, from 0 to 1 (drawn once, from the server's seed)")
    _admin_options(fault)
    _json_option(fault, "print the API's answer")

    faults = _sub(sub, "faults", "list, add or clear a mock's faults",
                  "List the faults in force on a mock (GET /mocks/MOCK_ID/faults): its config's and "
                  "those added at run time, one a line, with their 'after' and 'probability' and, for "
                  "a handshake fault given a count, the handshakes it has 'remaining'. --add adds one "
                  "entry, written as in a config file's websocket.faults: it applies to the mock's "
                  "live connections at once (each drawing its probability) and to every new one; a "
                  "refuse fault applies to the next handshakes. --clear removes them all and lifts "
                  "latency, throttle, fragment and stopPongs on the live connections. Neither changes "
                  "the mock's definition: no client is closed.",
                  "  mockd ws faults chat\n"
                  "  mockd ws faults chat --add '{type: refuse, status: 503, retryAfter: 2, count: 2}'\n"
                  "  mockd ws faults chat --add '{type: refuse, reset: true}'\n"
                  "  mockd ws faults chat --add '{type: latency, fixed: 200ms, jitter: 50ms}'\n"
                  "  mockd ws faults chat --add '{type: close, code: 1012, after: {duration: 5s}}'\n"
                  "  mockd ws faults chat --clear\n")
    faults.add_argument("mock_id", metavar="MOCK_ID", help="the mock's id (see 'mockd ws status')")
    action = faults.add_mutually_exclusive_group()
    action.add_argument("--add", metavar="ENTRY",
                        help="add one fault: a YAML flow mapping or JSON object such as "
                             "'{type: drop, probability: 0.1}'")
    action.add_argument("--clear", action="store_true", help="remove every fault of the mock")
    _admin_options(faults)
    _json_option(faults, "print the API's answer")

    handshakes = _sub(sub, "handshakes", "show the handshake journal",
                      "Print the upgrade attempts the server saw (GET /websocket/handshakes), oldest first, "
                      "one a line: time, path, mock ('-' for none), HTTP status ('-' for a reset or a hang), "
                      "and what refused it (fault, maxConnections, subprotocol, origin, notFound, upstream, "
                      "handshake) or 'accepted' and the connection id. The times show a client's back-off.",
                      "  mockd ws handshakes\n"
                      "  mockd ws handshakes --mock chat --limit 10\n"
                      "  mockd ws handshakes --path /ws/chat --json\n")
    handshakes.add_argument("--mock", metavar="ID", help="only attempts routed to this mock")
    handshakes.add_argument("--path", metavar="PATH", help="only attempts at this path")
    handshakes.add_argument("--limit", metavar="N", type=non_negative_int, help="only the last N attempts")
    _admin_options(handshakes)
    _json_option(handshakes, "print the API's answer")


def add_websocket_parser(subparsers):
    """Add ``websocket`` (alias ``ws``) and its subcommands to ``mockd``'s subparsers."""
    ws = subparsers.add_parser(
        "websocket", aliases=["ws"], help="talk to WebSocket endpoints and to a running server's admin API",
        description=_wrap("A WebSocket client (connect, send, listen) and admin API commands (add, status, "
                          "connections, stats, messages, fault, faults, handshakes) for a running mockd."),
        epilog="examples:\n  mockd ws connect ws://localhost:4280/ws\n"
               "  mockd ws send --wait ws://localhost:4280/ws/chat ping\n"
               "  mockd ws add --path /ws/echo --echo\n"
               "  mockd ws status\n"
               "  mockd ws fault conn-... close 4000 deploy\n"
               "\nRun 'mockd websocket COMMAND --help' for the options of one command.",
        formatter_class=_Formatter)
    sub = ws.add_subparsers(dest="ws_command", required=True, metavar="COMMAND")
    _add_client_commands(sub)
    _add_admin_commands(sub)
    _add_fault_commands(sub)
    return ws
