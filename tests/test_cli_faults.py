"""``mockd websocket fault|faults|handshakes`` as real subprocesses against the admin API of a
real in-process server, with real clients (websocket-client) on the receiving end."""
import json
import re
import time

import pytest
import websocket

from _cli import mockd
from _helpers import only_connection, wait_until
from mockd.client.faults import describe, handshake_line
from mockd.client.parser import FAULT_KINDS
from mockd.faults.builtin import BAD_FRAME_KINDS, BUILTIN_FAULT_TYPES
from mockd.testing import recv_close, recv_text

CONFIG = """\
version: "1.0"
mocks:
  - id: chat
    websocket:
      path: /ws/chat
      matchers:
        - match: {type: exact, value: ping}
          response: {type: text, value: pong}
"""
NO_ADMIN = "http://127.0.0.1:9"  # usage errors are found before any call
KIND_USAGES = ("drop", "close [CODE [REASON]]", "silence", "stopPongs", "latency FIXED [JITTER]",
               "throttle BYTES_PER_SECOND", "fragment SIZE", "badFrame KIND")


@pytest.fixture
def server(make_mockd_server):
    return make_mockd_server(CONFIG)


@pytest.fixture
def chat(server, ws_client):
    """A client of /ws/chat past one ping, and its connection's id."""
    ws = ws_client(server.url("/ws/chat"))
    ws.send("ping")
    assert ws.recv() == "pong"
    return ws, only_connection(server).id


def admin(server, *args, **kw):
    return mockd("ws", *args, "--admin-url", server.admin_url, **kw)


def live_ids(server):
    return [conn["id"] for conn in server.admin.call("GET", "/websocket/connections")["connections"]]


def test_drop_resets_the_client_and_ends_the_connection(server, chat):
    ws, conn_id = chat
    result = admin(server, "fault", conn_id, "drop")
    assert result.returncode == 0, result
    assert result.stdout == f"Applied drop to {conn_id}\n"
    with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionError)):
        ws.recv()  # reset: no close frame
    assert wait_until(lambda: conn_id not in live_ids(server))


def test_close_with_code_and_reason(server, chat):
    ws, conn_id = chat
    result = admin(server, "fault", conn_id, "close", "4000", "deploy")
    assert result.returncode == 0, result
    assert result.stdout == f"Applied close code=4000 reason=deploy to {conn_id}\n"
    assert recv_close(ws, allow_data=False) == (4000, "deploy")


@pytest.mark.slow
def test_latency_delays_replies(server, chat):
    ws, conn_id = chat
    result = admin(server, "fault", conn_id, "latency", "200ms")
    assert result.stdout == f"Applied latency fixed=200ms to {conn_id}\n", result
    started = time.monotonic()
    ws.send("ping")
    assert recv_text(ws) == "pong"
    assert time.monotonic() - started >= 0.15


def test_after_messages_probability_entry_and_json(server, chat):
    ws, conn_id = chat
    result = admin(server, "fault", conn_id, "stop-pongs", "--probability", "0")
    assert result.returncode == 0, result
    assert result.stdout == f"stopPongs probability=0 not applied to {conn_id} (probability)\n"

    # A whole entry as KIND; the connection has had 1 message: the 2nd one triggers it.
    result = admin(server, "fault", conn_id, "{type: close, code: 4001}", "--after-messages", "2", "--json")
    assert result.returncode == 0, result
    assert json.loads(result.stdout) == {"applied": {"type": "close", "code": 4001, "after": {"messages": 2}},
                                         "connection": conn_id, "connections": 1}
    ws.send("ping")
    assert recv_text(ws) == "pong"
    assert recv_close(ws, allow_data=False) == (4001, "")


@pytest.mark.slow
def test_mock_faults_refuse_listing_handshakes_and_clear(server, ws_client):
    result = admin(server, "faults", "chat")
    assert result.returncode == 0 and result.stdout == "No faults on mock chat\n", result
    result = admin(server, "faults", "chat", "--add", "{type: refuse, status: 503, count: 1}")
    assert result.returncode == 0, result
    assert result.stdout == "Added refuse status=503 count=1 to mock chat\n"
    assert admin(server, "faults", "chat").stdout == "refuse status=503 count=1 remaining=1\n"

    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(server.url("/ws/chat"), timeout=5)
    assert refused.value.status_code == 503
    ws = ws_client(server.url("/ws/chat"))  # count: 1, so the next one gets through
    conn_id = only_connection(server).id

    lines = admin(server, "handshakes", "--mock", "chat").stdout.splitlines()
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
    assert len(lines) == 2, lines
    assert re.fullmatch(stamp + " /ws/chat chat 503 fault", lines[0]), lines
    assert re.fullmatch(stamp + f" /ws/chat chat 101 accepted {conn_id}", lines[1]), lines
    assert admin(server, "handshakes", "--mock", "other").stdout == ""
    answer = json.loads(admin(server, "handshakes", "--path", "/ws/chat", "--limit", "1", "--json").stdout)
    assert answer["count"] == 1 and answer["handshakes"][0]["connectionId"] == conn_id

    result = admin(server, "faults", "chat", "--add",
                   '{"type": "latency", "fixed": "200ms", "jitter": "50ms", "after": {"messages": 3}}')
    assert result.stdout == ("Added latency fixed=200ms jitter=50ms after.messages=3 to mock chat "
                             "(applied to 1 live connection(s))\n"), result
    assert admin(server, "faults", "chat").stdout.splitlines() == [
        "refuse status=503 count=1 remaining=0", "latency fixed=200ms jitter=50ms after.messages=3"]
    listed = json.loads(admin(server, "faults", "chat", "--json").stdout)
    assert listed["mockId"] == "chat" and listed["faults"][0]["remaining"] == 0

    result = admin(server, "faults", "chat", "--clear")
    assert result.stdout == "Cleared 2 fault(s) from mock chat; lifted on 1 connection(s)\n", result
    assert admin(server, "faults", "chat").stdout == "No faults on mock chat\n"
    ws.send("ping")
    assert recv_text(ws) == "pong"


@pytest.mark.slow
def test_usage_errors():
    result = mockd("ws", "fault", "conn-x", "explode", "--admin-url", NO_ADMIN)
    assert result.returncode == 2 and result.stdout == ""
    assert "mockd: error: unknown fault kind 'explode'; the kinds are: " in result.stderr
    assert all(usage in result.stderr for usage in KIND_USAGES), result.stderr
    for argv, message in ((["close", "abc"], "close CODE: expected a whole number, got 'abc'"),
                          (["drop", "now"], "drop takes no arguments (got 1: now)"),
                          (["latency"], "latency takes FIXED [JITTER] (got 0)"),
                          (["refuse"], "mockd ws faults MOCK_ID --add '{type: refuse"),
                          (["{type: close", "x"], "a fault entry takes no further arguments"),
                          (["drop", "--probability", "2"], "--probability: must be from 0 to 1"),
                          (["drop", "--after", "5"], "--after: invalid duration '5': missing unit"),
                          (["drop", "--after", "5s", "--after-messages", "2"], "not allowed with argument")):
        result = mockd("ws", "fault", "conn-x", *argv, "--admin-url", NO_ADMIN)
        assert result.returncode == 2 and message in result.stderr, (argv, result.stderr)
    result = mockd("ws", "faults", "chat", "--add", "[1]", "--admin-url", NO_ADMIN)
    assert result.returncode == 2 and "--add: expected a mapping such as '{type: drop}'" in result.stderr


@pytest.mark.slow
def test_the_servers_message_for_a_bad_value(server, chat):
    ws, conn_id = chat
    result = admin(server, "fault", conn_id, "close", "1006")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("mockd: error: admin API: fault.code: close code 1006 may not be sent")
    assert "(HTTP 400 validation_error)" in result.stderr
    result = admin(server, "fault", conn_id, "badFrame", "garbled")
    assert result.returncode == 1 and "fault.kind: " in result.stderr and "invalidUtf8" in result.stderr
    result = admin(server, "fault", "conn-nobody", "drop")
    assert result.returncode == 1 and "(HTTP 404 not_found)" in result.stderr
    result = admin(server, "faults", "nobody")
    assert result.returncode == 1 and "mock not found (HTTP 404 not_found)" in result.stderr
    ws.send("ping")  # nothing was applied
    assert recv_text(ws) == "pong"


def test_help_lists_the_kinds():
    result = mockd("ws", "fault", "--help")
    assert result.returncode == 0
    kinds = result.stdout[result.stdout.index("fault kinds (KIND [ARG...]):"):result.stdout.index("examples:")]
    assert re.findall(r"^  (\w.*?)  ", kinds, re.MULTILINE) == list(KIND_USAGES)
    assert all(name in " ".join(kinds.split()) for name in BAD_FRAME_KINDS)
    assert "  mockd ws fault conn-... close 4000 deploy\n" in result.stdout
    for command, example in (("faults", "--add '{type: refuse, status: 503"), ("handshakes", "--mock chat")):
        result = mockd("ws", command, "--help")
        assert result.returncode == 0 and "examples:" in result.stdout and example in result.stdout
    assert {"fault", "faults", "handshakes"} <= set(mockd("ws", "--help").stdout.split())


def test_the_kinds_are_the_builtin_connection_faults():
    builtin = {kind.name: kind for kind in BUILTIN_FAULT_TYPES if kind.stage == "connection"}
    assert sorted(kind for kind, _params, _help in FAULT_KINDS) == sorted(builtin)
    for kind, params, _help in FAULT_KINDS:
        assert [key for _metavar, key, _convert, _optional in params] == list(builtin[kind].keys)


def test_lines():
    assert describe({"type": "close", "code": 4000, "reason": "going away", "probability": 0.5}) == \
        'close code=4000 reason="going away" probability=0.5'
    assert describe({"type": "refuse", "reset": True, "count": 2, "remaining": 1}) == \
        "refuse reset=true count=2 remaining=1"
    assert describe({"type": "x", "after": {"duration": "5s"}, "reason": "\x1b[2J"}) == \
        "x reason=\\x1b[2J after.duration=5s"
    assert handshake_line({"at": "T", "path": "/ws", "mockId": None, "status": None, "refusedBy": "notFound"}) == \
        "T /ws - - notFound"
    assert handshake_line({"at": "T", "path": "/a\x1b", "mockId": "m", "status": 101, "refusedBy": None,
                           "connectionId": "conn-1"}) == "T /a\\x1b m 101 accepted conn-1"
