"""``mockd websocket add|status|connections|stats|messages`` as real subprocesses against the
admin API of a real in-process server (README.rst, "Command line")."""
import json
import re

import pytest

from _cli import end, mockd, popen, read_until
from _helpers import wait_until
from mockd.testing import recv_close

CONFIG = """\
version: "1.0"
mocks:
  - id: chat
    name: Chat
    websocket:
      path: /ws/chat
      matchers:
        - match: {type: exact, value: ping}
          response: {type: text, value: pong}
  - id: off
    enabled: false
    websocket: {path: /ws/off, echoMode: true}
"""


@pytest.fixture
def server(make_mockd_server):
    return make_mockd_server(CONFIG)


@pytest.fixture
def clients(ws_client):
    return ws_client


def admin(server, *args, **kw):
    return mockd("ws", *args, "--admin-url", server.admin_url, **kw)


@pytest.mark.slow
def test_add_then_status(server):
    result = admin(server, "add", "--path", "/ws/echo", "--echo")
    assert result.returncode == 0, result
    lines = result.stdout.splitlines()
    assert re.fullmatch(r"Created mock: websocket_[0-9a-f]{16}", lines[0]), lines
    assert lines[1:] == ["  Type: websocket", "  Path: /ws/echo", "  Echo: enabled"]
    mock_id = lines[0].split(": ")[1]

    result = admin(server, "status")
    assert result.returncode == 0, result
    assert result.stdout.splitlines() == [
        "WebSocket: 3 mock(s) configured",
        "  - /ws/chat (chat) [enabled]",
        "  - /ws/off (off) [disabled]",
        f"  - /ws/echo ({mock_id}) [enabled]",
    ]
    # The new endpoint is live: the CLI client reaches it.
    result = mockd("ws", "send", "--wait", server.url("/ws/echo"), "hi")
    assert result.stdout.splitlines()[-1] == "< hi"


def test_add_json_and_message(server, clients):
    result = admin(server, "add", "--path", "/ws/hello", "--message", '{"hello": "world"}', "--name", "Hello",
                   "--json")
    assert result.returncode == 0, result
    answer = json.loads(result.stdout)
    assert list(answer) == ["id", "type", "action", "path", "echo"]
    assert answer["type"] == "websocket" and answer["action"] == "created"
    assert answer["path"] == "/ws/hello" and answer["echo"] is False
    ws = clients(server.url("/ws/hello"))
    ws.send("anything")
    assert json.loads(ws.recv()) == {"hello": "world"}
    assert server.server.mocks.get_mock(answer["id"]).name == "Hello"
    result = admin(server, "add", "--path", "/ws/echo2")
    assert "Echo:" not in result.stdout


@pytest.mark.slow
def test_add_errors(server):
    result = admin(server, "add", "--echo")
    assert result.returncode == 2
    assert "mockd: error: --path is required for WebSocket mocks" in result.stderr
    result = admin(server, "add", "--path", "/ws/x", "--message", "{not json")
    assert result.returncode == 2 and "--message looks like JSON but does not parse" in result.stderr
    result = admin(server, "add", "--path", "/ws/chat", "--echo")  # the path is taken
    assert result.returncode == 1
    assert result.stderr.startswith("mockd: error: admin API: ") and "(HTTP 409" in result.stderr


def test_status_json(server):
    result = admin(server, "status", "--json")
    answer = json.loads(result.stdout)
    assert answer["count"] == 2 and answer["enabled"] is True
    assert [m["id"] for m in answer["endpoints"]] == ["chat", "off"]


def test_status_without_mocks(make_mockd_server):
    running = make_mockd_server({"version": "1.0", "mocks": []})
    result = admin(running, "status")
    assert result.stdout == "WebSocket: no mocks configured\n"


def test_admin_url_from_the_environment_and_unreachable_admin(server):
    result = mockd("ws", "status", MOCKD_ADMIN_URL=server.admin_url)
    assert result.returncode == 0 and "2 mock(s)" in result.stdout
    import socket
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = mockd("ws", "status", "--admin-url", f"http://127.0.0.1:{port}")
    assert result.returncode == 1
    assert f"mockd: error: cannot reach the admin API at http://127.0.0.1:{port}" in result.stderr


@pytest.mark.slow
def test_admin_token(make_mockd_server):
    running = make_mockd_server(CONFIG, admin_token="s3cret")
    denied = admin(running, "status")
    assert denied.returncode == 1 and "(HTTP 401" in denied.stderr and "needs a token" in denied.stderr
    assert admin(running, "status", "--admin-token", "s3cret").returncode == 0
    assert mockd("ws", "stats", "--admin-url", running.admin_url, MOCKD_ADMIN_TOKEN="s3cret").returncode == 0


@pytest.mark.slow
def test_connections_list_get_send_close(server, clients):
    result = admin(server, "connections")
    assert result.stdout == "No active WebSocket connections\n"
    ws = clients(server.url("/ws/chat"))
    ws.send("ping")
    assert ws.recv() == "pong"
    (conn,) = list(server.server.connections)

    result = admin(server, "connections", "list")
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["ID", "PATH", "MOCK", "ID", "CONNECTED", "MSG", "SENT", "MSG", "RECV", "STATUS"]
    row = lines[1].split()
    assert row[:3] == [conn.id, "/ws/chat", "chat"] and row[-3:] == ["1", "1", "connected"]
    assert lines[-1] == "Total: 1 connection(s)"
    assert json.loads(admin(server, "connections", "--json", "ls").stdout)["connections"][0]["id"] == conn.id

    result = admin(server, "connections", "get", conn.id)
    assert result.stdout.splitlines()[0] == f"WebSocket Connection: {conn.id}"
    assert "  Mock ID:       chat" in result.stdout.splitlines()

    result = admin(server, "connections", "send", conn.id, "from the admin")
    assert result.stdout == f"Sent text message to connection {conn.id}\n"
    assert ws.recv() == "from the admin"
    result = admin(server, "connections", "send", "--binary", conn.id, "aGVsbG8=")
    assert result.stdout == f"Sent binary message to connection {conn.id}\n"
    assert ws.recv() == b"hello"
    assert admin(server, "connections", "send", "--binary", conn.id, "!!").returncode == 2

    result = admin(server, "connections", "close", conn.id)
    assert result.stdout == f"Closed WebSocket connection: {conn.id}\n"
    assert recv_close(ws, allow_data=False)[0] == 1000
    result = admin(server, "connections", "get", conn.id)
    assert result.returncode == 1 and "Connection not found (HTTP 404 not_found)" in result.stderr


def test_stats(server, clients):
    ws = clients(server.url("/ws/chat"))
    ws.send("ping")
    ws.recv()
    result = admin(server, "stats")
    assert result.stdout.splitlines() == [
        "WebSocket Statistics",
        "  Active Connections:  1",
        "  Total Connections:   1",
        "  Total Messages Sent: 1",
        "  Total Messages Recv: 1",
        "  Connections by Mock:",
        "    chat: 1",
    ]
    assert json.loads(admin(server, "stats", "--json").stdout)["activeConnections"] == 1


@pytest.mark.slow
def test_messages_filters(server, clients):
    ws = clients(server.url("/ws/chat"))
    for text in ("ping", "nothing matches this"):
        ws.send(text)
    assert ws.recv() == "pong"
    assert wait_until(lambda: len(server.server.journal.query()) == 3)
    conn_id = next(iter(server.server.connections)).id

    lines = admin(server, "messages").stdout.splitlines()
    assert len(lines) == 3
    assert lines[0].endswith(f"{conn_id} /ws/chat > [matchers[0]] ping")
    assert lines[1].endswith(f"{conn_id} /ws/chat < pong")
    assert lines[2].endswith("> [unmatched] nothing matches this")

    inbound = admin(server, "messages", "--direction", "inbound", "--json", "--mock", "chat").stdout.splitlines()
    assert [json.loads(line)["body"] for line in inbound] == ["ping", "nothing matches this"]
    assert len(admin(server, "messages", "--limit", "1").stdout.splitlines()) == 1
    assert admin(server, "messages", "--connection", "conn-nobody").stdout == ""


def test_messages_follow(server, clients):
    proc = popen("ws", "messages", "--follow", "--json", "--interval", "100ms", "--admin-url", server.admin_url)
    try:
        ws = clients(server.url("/ws/chat"))
        ws.send("ping")
        found, _ = read_until(proc.stdout, '"body":"pong"')
        ws.send("ping")
        found, seen = read_until(proc.stdout, '"body":"pong"')
    finally:
        out, err = end(proc)
    assert json.loads(seen[-1])["seq"] == 4  # each entry printed once: the cursor moves
