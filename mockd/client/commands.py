"""``mockd websocket add|status|connections|stats|messages|fault|faults|handshakes``: admin API
calls and their output (README.rst, "Command line"). Text goes to standard output; ``--json``
prints the API's answer (or the documented object) indented, and ``messages --json`` one object
a line. What the fault commands make of their arguments is in ``faults``.
"""
import base64
import binascii
import datetime
import json
import time
import urllib.parse

from ..adminclient import AdminAPIError, AdminClient, connection_path
from .common import ClientError, UsageError, admin_settings, option
from .faults import connection_fault, describe, handshake_line, parse_entry
from .terminal import printable, printable_json

#: Seconds an admin API call may take.
TIMEOUT = 10.0


def _client(args):
    settings = admin_settings(args)
    del settings["token_source"]
    url, cacert = settings["base_url"], settings["cacert"]
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"--admin-url must start with http:// or https:// (got {url!r})")
    try:
        return AdminClient(**settings, timeout=TIMEOUT)
    except OSError as exc:  # --cacert unreadable or not PEM (ssl.SSLError is an OSError)
        raise UsageError(f"--cacert {cacert}: {exc.strerror or exc}") from None


def _client_error(exc, settings):
    """The :class:`ClientError` for an :class:`AdminAPIError`, with the command line's hints."""
    if exc.status == 401:
        # The API answers the same 401 to no token and to a wrong one; only the client
        # knows which it was, and the fixes differ. (A 403 is about Host or Origin, and
        # says what to do itself.)
        if settings["token"]:
            return ClientError(f"the admin API at {exc.url} refused the token from "
                               f"{settings['token_source']}: check it ({exc.detail})")
        return ClientError(f"the admin API at {exc.url} needs a token: pass --admin-token or set "
                           f"MOCKD_ADMIN_TOKEN ({exc.detail})")
    if exc.status is not None and exc.status < 400:  # an answer, but not JSON
        return ClientError(f"{exc}; is --admin-url right?")
    return ClientError(str(exc))


def _print_json(value):
    print(printable_json(json.dumps(value, indent=2, ensure_ascii=False)))


def _shown(value):
    """A value the server returned (paths and subprotocols come from clients) as one safe line."""
    return printable(str(value), newlines=False)


def _ago(timestamp):
    """``45s``, ``3m12s``, ``2h5m`` since an RFC 3339 timestamp (``?`` when unreadable)."""
    try:
        then = datetime.datetime.fromisoformat(str(timestamp).replace("Z", "+00:00"))
    except ValueError:
        return "?"
    seconds = max(0, int((datetime.datetime.now(datetime.timezone.utc) - then).total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m"
    if minutes:
        return f"{minutes}m{seconds}s"
    return f"{seconds}s"


def _table(header, rows):
    rows = [tuple(_shown(cell) for cell in row) for row in rows]
    widths = [max(len(str(row[i])) for row in [header] + rows) for i in range(len(header))]
    for row in [header] + rows:
        print("   ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())


# ---------------------------------------------------------------- add, status, stats


def _reply(message, as_text):
    """The ``defaultResponse`` for ``--message``: a JSON value when the text parses as JSON
    (as upstream's ``add`` does), else the text itself, so that ``--message hello`` replies ``hello``
    and not ``"hello"``. Text that starts like a JSON object or array but does not parse is
    refused rather than sent as text: it is far more often a typo than a wish."""
    if as_text:
        return {"type": "text", "value": message}
    try:
        return {"type": "json", "value": json.loads(message)}
    except ValueError as exc:
        if message.lstrip().startswith(("{", "[")):
            raise UsageError(f"--message looks like JSON but does not parse ({exc}); fix it, or add --text "
                             "to reply with it as it is") from None
    return {"type": "text", "value": message}


def add(args):
    if not args.path:
        raise UsageError("--path is required for WebSocket mocks (e.g. --path /ws/echo)")
    if not args.path.startswith("/"):
        raise UsageError(f"--path must start with / (got {args.path!r})")
    websocket = {"path": args.path}
    if args.echo:
        websocket["echoMode"] = True
    if args.message is not None:
        websocket["defaultResponse"] = _reply(args.message, option(args, "text", False))
    spec = {"type": "websocket", "enabled": True, "websocket": websocket}
    if args.name:
        spec["name"] = args.name
    answer = _client(args).call("POST", "/mocks", spec) or {}
    mock = answer.get("mock") or {}
    mock_id = answer.get("id") or mock.get("id", "")
    echo = bool((mock.get("websocket") or websocket).get("echoMode"))
    if option(args, "json"):
        _print_json({"id": mock_id, "type": "websocket", "action": answer.get("action", "created"),
                     "path": args.path, "echo": echo})
        return 0
    print(f"Created mock: {_shown(mock_id)}")
    print("  Type: websocket")
    print(f"  Path: {args.path}")
    if echo:
        print("  Echo: enabled")
    return 0


def status(args):
    answer = _client(args).call("GET", "/mocks", query={"type": "websocket"}) or {}
    mocks = answer.get("mocks") or []
    if option(args, "json"):
        _print_json({"count": len(mocks), "enabled": len(mocks) > 0, "endpoints": mocks})
        return 0
    if not mocks:
        print("WebSocket: no mocks configured")
        return 0
    print(f"WebSocket: {len(mocks)} mock(s) configured")
    for mock in mocks:
        path = (mock.get("websocket") or {}).get("path", "")
        state = "disabled" if mock.get("enabled") is False else "enabled"
        print(f"  - {_shown(path)} ({_shown(mock.get('id', ''))}) [{state}]")
    return 0


def stats(args):
    answer = _client(args).call("GET", "/websocket/stats") or {}
    if option(args, "json"):
        _print_json(answer)
        return 0
    print("WebSocket Statistics")
    print(f"  Active Connections:  {_shown(answer.get('activeConnections', 0))}")
    print(f"  Total Connections:   {_shown(answer.get('totalConnections', 0))}")
    print(f"  Total Messages Sent: {_shown(answer.get('totalMessagesSent', 0))}")
    print(f"  Total Messages Recv: {_shown(answer.get('totalMessagesRecv', 0))}")
    by_mock = answer.get("connectionsByMock") or {}
    if by_mock:
        print("  Connections by Mock:")
        for mock_id, count in sorted(by_mock.items()):
            print(f"    {_shown(mock_id)}: {_shown(count)}")
    return 0


# ---------------------------------------------------------------- connections


def connections(args):
    action = option(args, "action") or "list"
    client = _client(args)
    as_json = option(args, "json")
    if action in ("list", "ls"):
        answer = client.call("GET", "/websocket/connections") or {}
        conns = answer.get("connections") or []
        if as_json:
            _print_json(answer)
        elif not conns:
            print("No active WebSocket connections")
        else:
            _table(("ID", "PATH", "MOCK ID", "CONNECTED", "MSG SENT", "MSG RECV", "STATUS"),
                   [(c.get("id", ""), c.get("path", ""), c.get("mockId", ""), _ago(c.get("connectedAt")),
                     c.get("messagesSent", 0), c.get("messagesRecv", 0), c.get("status", ""))
                    for c in conns])
            print(f"\nTotal: {len(conns)} connection(s)")
        return 0
    connection_id = args.connection_id
    if action == "get":
        conn = client.call("GET", connection_path(connection_id)) or {}
        if as_json:
            _print_json(conn)
            return 0
        conn = {key: _shown(value) for key, value in conn.items()}
        print(f"WebSocket Connection: {conn.get('id', connection_id)}")
        print(f"  Path:          {conn.get('path', '')}")
        print(f"  Mock ID:       {conn.get('mockId', '')}")
        if conn.get("subprotocol"):
            print(f"  Subprotocol:   {conn['subprotocol']}")
        print(f"  Connected:     {conn.get('connectedAt', '')} ({_ago(conn.get('connectedAt'))} ago)")
        print(f"  Messages Sent: {conn.get('messagesSent', 0)}")
        print(f"  Messages Recv: {conn.get('messagesRecv', 0)}")
        print(f"  Status:        {conn.get('status', '')}")
        return 0
    if action == "close":
        client.call("DELETE", connection_path(connection_id))
        if as_json:
            _print_json({"id": connection_id, "closed": True})
        else:
            print(f"Closed WebSocket connection: {connection_id}")
        return 0
    kind = "binary" if args.binary else "text"
    if args.binary:
        try:
            base64.b64decode(args.message, validate=True)
        except (binascii.Error, ValueError):
            raise UsageError("invalid base64 data: --binary needs MESSAGE in standard base64") from None
    client.call("POST", connection_path(connection_id, "/send"), {"type": kind, "data": args.message})
    if as_json:
        _print_json({"id": connection_id, "sent": True, "type": kind})
    else:
        print(f"Sent {kind} message to connection {connection_id}")
    return 0


# ---------------------------------------------------------------- messages (the journal)


def _journal_line(entry, raw=False):
    stamp = str(entry.get("time", ""))
    # "event" entries (a close for a full buffer, a protocol's ctx.record) are neither frame.
    arrow = {"inbound": ">", "outbound": "<"}.get(entry.get("direction"), "*")
    body = entry.get("body", "")
    if entry.get("type") == "binary":
        body = f"[binary {entry.get('size', '?')} bytes] {body}"
    elif entry.get("truncated"):
        body = f"{body}... [{entry.get('size')} bytes, truncated]"
    handled = f" [{entry['matched']}]" if entry.get("direction") == "inbound" and entry.get("matched") else ""
    line = f"{stamp} {entry.get('connectionId', '')} {entry.get('path', '')} {arrow}{handled} {body}"
    # One entry, one line: a newline in a body is written \n as well, unless --raw.
    return line if raw else printable(line, newlines=False)


def _entries(answer):
    """The entries of a ``GET /websocket/messages`` answer and its ``lastSeq`` (or None)."""
    if isinstance(answer, list):
        return answer, None
    answer = answer or {}
    last = answer.get("lastSeq")
    return list(answer.get("messages") or []), last if isinstance(last, int) else None


def messages(args):
    client = _client(args)
    as_json = option(args, "json")
    raw = option(args, "raw", False)
    query = {"mockId": args.mock, "connectionId": args.connection, "direction": args.direction,
             "limit": args.limit}
    since = None
    try:
        while True:
            entries, last_seq = _entries(client.call("GET", "/websocket/messages", query={"since": since, **query}))
            for entry in entries:
                if as_json:
                    text = json.dumps(entry, ensure_ascii=False, separators=(",", ":"))
                    print(text if raw else printable_json(text), flush=True)
                else:
                    print(_journal_line(entry, raw), flush=True)
                if isinstance(entry.get("seq"), int):
                    since = max(since or 0, entry["seq"])
            if not args.follow:
                return 0
            # Filtered-out entries still move the cursor: the next poll asks only for newer ones.
            since = max(since or 0, last_seq or 0)
            query["limit"] = None  # --limit trims the first page only
            time.sleep(args.interval)
    except KeyboardInterrupt:
        return 0


# ---------------------------------------------------------------- faults and the handshake journal


def fault(args):
    entry = connection_fault(args)
    answer = _client(args).call("POST", connection_path(args.connection_id, "/faults"), entry) or {}
    if option(args, "json"):
        _print_json(answer)
    elif answer.get("connections"):
        print(f"Applied {describe(answer.get('applied', entry))} to {_shown(args.connection_id)}")
    else:
        why = "probability" if "probability" in entry else "the connection is closing"
        print(f"{describe(answer.get('applied', entry))} not applied to {_shown(args.connection_id)} ({why})")
    return 0


def faults(args):
    client = _client(args)
    path = "/mocks/" + urllib.parse.quote(args.mock_id, safe="") + "/faults"
    mock = _shown(args.mock_id)
    if args.add is not None:
        answer = client.call("POST", path, parse_entry(args.add, "--add")) or {}
        line = f"Added {describe(answer.get('applied'))} to mock {mock}"
        if answer.get("connections"):
            line += f" (applied to {answer['connections']} live connection(s))"
    elif args.clear:
        answer = client.call("DELETE", path) or {}
        line = (f"Cleared {_shown(answer.get('cleared', 0))} fault(s) from mock {mock}; lifted on "
                f"{_shown(answer.get('connections', 0))} connection(s)")
    else:
        answer = client.call("GET", path) or {}
        entries = answer.get("faults") or []
        line = "\n".join(describe(entry) for entry in entries) or f"No faults on mock {mock}"
    if option(args, "json"):
        _print_json(answer)
    else:
        print(line)
    return 0


def handshakes(args):
    query = {"mockId": args.mock, "path": args.path, "limit": args.limit}
    answer = _client(args).call("GET", "/websocket/handshakes", query=query) or {}
    if option(args, "json"):
        _print_json(answer)
        return 0
    for entry in answer.get("handshakes") or []:
        print(handshake_line(entry))
    return 0


def run(command, args):
    handlers = {"add": add, "status": status, "stats": stats, "connections": connections, "messages": messages,
                "fault": fault, "faults": faults, "handshakes": handshakes}
    try:
        return handlers[command](args)
    except AdminAPIError as exc:
        raise _client_error(exc, admin_settings(args)) from None
