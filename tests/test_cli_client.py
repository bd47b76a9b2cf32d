"""``mockd websocket connect|send|listen`` as real subprocesses against a real server.

The server runs in this (gevent-patched) process through ``make_mockd_server`` on
127.0.0.1 port 0; the CLI runs as ``python -m mockd`` with a timeout.
"""
import base64
import json
import signal
import subprocess
import sys
import time

import pytest

from _cli import end, env, mockd, popen, read_until
from _helpers import wait_until
from mockd import hookimpl
from mockd.client.parser import parse_header, parse_timeout

CONFIG = """\
version: "1.0"
mocks:
  - id: chat
    websocket:
      path: /ws/chat
      subprotocols: [chat]
      matchers:
        - match: {type: exact, value: ping}
          response: {type: text, value: pong}
        - match: {type: json, path: "$.type", value: join}
          response:
            type: json
            value: {type: joined, message: "Welcome to the chat room!"}
        - match: {type: exact, value: bin}
          response: {type: binary, value: aGVsbG8=}
  - id: echo
    websocket: {path: /ws/echo, echoMode: true}
  - id: ticker
    websocket:
      path: /ws/ticker
      scenario:
        name: tick
        steps:
          - type: send
            message: {type: text, value: one}
          - type: send
            message: {type: json, value: {n: 2}}
          - type: send
            message: {type: text, value: three}
"""


class CloseRecorder:
    """A plugin that records how each connection ended, and its handshake headers."""

    def __init__(self):
        self.closed = []

    @hookimpl
    def mockd_connection_closed(self, server, connection):
        self.closed.append((connection.path, connection.close_code, connection.user_agent))


@pytest.fixture
def recorder():
    return CloseRecorder()


@pytest.fixture
def server(make_mockd_server, recorder):
    return make_mockd_server(CONFIG, plugins=[recorder])


# ---------------------------------------------------------------- argument parsing


def test_timeout_accepts_durations_and_bare_seconds():
    assert parse_timeout("30s") == 30.0
    assert parse_timeout("500ms") == 0.5
    assert parse_timeout("1m") == 60.0
    assert parse_timeout("2.5") == 2.5
    for bad in ("0", "-1", "soon", "5x"):
        with pytest.raises(Exception):
            parse_timeout(bad)


def test_header_splits_at_the_first_colon():
    assert parse_header("Authorization:Bearer token") == ("Authorization", "Bearer token")
    assert parse_header("X-Time: 12:30 ") == ("X-Time", "12:30")
    with pytest.raises(Exception):
        parse_header("no colon")


@pytest.mark.parametrize("argv, message", [
    (["ws", "connect"], "the following arguments are required: URL"),
    (["ws", "connect", "-H", "nocolon", "ws://127.0.0.1:1/ws"], "header must be Key:Value"),
    (["ws", "connect", "-t", "soon", "ws://127.0.0.1:1/ws"], "invalid duration"),
    (["ws", "listen", "-n", "-2", "ws://127.0.0.1:1/ws"], "must be 0 or more"),
    (["ws", "send", "--binary", "ws://127.0.0.1:1/ws", "not base64!"], "standard base64"),
    (["ws", "send", "http://127.0.0.1:1/ws", "hi"], "URL must start with ws:// or wss://"),
    (["ws", "bogus"], "invalid choice"),
])
def test_usage_errors_exit_2(argv, message):
    result = mockd(*argv)
    assert result.returncode == 2, result
    assert message in result.stderr


# ---------------------------------------------------------------- connect


@pytest.mark.slow
def test_connect_fed_from_a_pipe(server):
    url = server.url("/ws/chat")
    started = time.monotonic()
    result = mockd("websocket", "connect", url, input='{"type": "join", "username": "testuser"}\n\nping\n')
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result
    lines = result.stdout.splitlines()
    assert lines[:2] == [f"Connecting to {url}...",
                         "Connected. Type messages and press Enter to send. Ctrl+C to exit."]
    # The empty line is not sent; replies may interleave with later lines (see the next test).
    assert sorted(lines[2:]) == sorted(['> {"type": "join", "username": "testuser"}',
                                        '< {"type":"joined","message":"Welcome to the chat room!"}',
                                        "> ping", "< pong"])
    assert result.stderr == ""
    assert elapsed < 10, "a piped session ends soon after stdin closes"
    assert wait_until(lambda: server.server.connections.__len__() == 0)


@pytest.mark.slow
def test_connect_orders_each_sent_line_before_its_reply(server):
    result = mockd("ws", "connect", server.url("/ws/echo"), input="a\nb\nc\n")
    lines = result.stdout.splitlines()[2:]
    for text in "abc":
        assert lines.index(f"> {text}") < lines.index(f"< {text}")


@pytest.mark.slow
def test_connect_json_lines(server):
    result = mockd("ws", "connect", "--json", server.url("/ws/chat"), input="ping\nbin\n")
    assert result.returncode == 0, result
    records = [json.loads(line) for line in result.stdout.splitlines()]
    summary = [(r["type"], r.get("direction"), r["data"]) for r in records]
    # Each reply follows its request; a later request may go out before an earlier reply.
    assert [item for item in summary if item[1] == "sent"] == [("text", "sent", "ping"), ("text", "sent", "bin")]
    assert [item for item in summary if item[1] is None] == [("text", None, "pong"), ("binary", None, "aGVsbG8=")]
    assert summary.index(("text", "sent", "ping")) < summary.index(("text", None, "pong"))
    assert summary.index(("text", "sent", "bin")) < summary.index(("binary", None, "aGVsbG8="))
    assert all(set(r) == {"data", "timestamp", "type"} | ({"direction"} if "direction" in r else set())
               for r in records)
    assert "Connecting to" in result.stderr and "Connected." in result.stderr


@pytest.mark.slow
def test_connect_shows_binary_frames_as_base64(server):
    result = mockd("ws", "connect", server.url("/ws/chat"), input="bin\n")
    assert "< [binary 5 bytes] aGVsbG8=" in result.stdout.splitlines()


@pytest.mark.slow
def test_connect_headers_and_subprotocol(server, recorder):
    result = mockd("ws", "connect", "-H", "User-Agent: mockd-cli-test", "--subprotocol", "chat",
                   server.url("/ws/chat"), input="ping\n")
    assert result.returncode == 0, result
    assert result.stdout.splitlines()[1] == "Connected (subprotocol: chat)"
    assert wait_until(lambda: recorder.closed)
    assert recorder.closed[0] == ("/ws/chat", 1000, "mockd-cli-test")


def test_connect_ctrl_c_closes_with_1000(server, recorder):
    # SIGINT as on a terminal, even when the runner ignores it (nohup, CI): a child inherits
    # SIG_IGN, and Popen's restore_signals does not cover SIGINT. test_first_hour_client.py
    # runs the same session with SIGINT ignored.
    proc = subprocess.Popen([sys.executable, "-m", "mockd", "ws", "connect", server.url("/ws/echo")],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env(), preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        read_until(proc.stdout, "^Connected")
        proc.stdin.write("hello\n")
        proc.stdin.flush()
        read_until(proc.stdout, "^< hello")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        end(proc)
    assert proc.returncode == 0, err
    assert out.strip() == "Disconnecting..."
    assert wait_until(lambda: recorder.closed)
    assert recorder.closed[0][:2] == ("/ws/echo", 1000)


def test_connect_reports_the_servers_close(server):
    proc = popen("ws", "connect", server.url("/ws/echo"))
    try:
        read_until(proc.stdout, "^Connected")
        assert wait_until(lambda: len(server.server.connections) == 1)
        server.stop()  # closes every client with 1001 "server shutdown"
        out, err = proc.communicate(timeout=10)  # stdin still open: the close alone ends it
    finally:
        end(proc)
    assert proc.returncode == 0, err
    assert out.splitlines()[-1] == "Connection closed by server (1001 server shutdown)"


def test_connect_close_with_another_code_exits_1(server):
    proc = popen("ws", "connect", server.url("/ws/echo"))
    try:
        read_until(proc.stdout, "^Connected")
        assert wait_until(lambda: len(server.server.connections) == 1)
        server.server.mocks.remove("echo")  # live clients get 1012 "mock updated"
        out, err = proc.communicate(timeout=10)
    finally:
        end(proc)
    assert proc.returncode == 1
    assert out.splitlines()[-1] == "Connection closed by server (1012 mock updated)"
    assert "mockd: error: connection closed by server with 1012 mock updated" in err


def test_connect_handshake_failure(server):
    result = mockd("ws", "connect", server.url("/nope"), input="")
    assert result.returncode == 1
    assert result.stdout.startswith("Connecting to")
    assert "mockd: error: connection failed: " in result.stderr
    assert result.stderr.rstrip().endswith("(HTTP 404)")
    assert "websocket_endpoint_not_found" in result.stderr


def test_connection_refused_exits_1():
    import socket
    with socket.socket() as probe:  # a port that nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = mockd("ws", "send", "-t", "2s", f"ws://127.0.0.1:{port}/ws", "hi")
    assert result.returncode == 1
    assert "mockd: error: connection failed:" in result.stderr


# ---------------------------------------------------------------- send


def test_send(server):
    url = server.url("/ws/echo")
    result = mockd("websocket", "send", url, "test message")
    assert result.returncode == 0, result
    assert result.stdout == f"Sent to {url}: test message\n"
    inbound = [e.body for e in server.server.journal.query(direction="inbound")]
    assert inbound == ["test message"]


def test_send_wait_prints_the_first_reply(server):
    url = server.url("/ws/chat")
    result = mockd("ws", "send", "--wait", url, "ping")
    assert result.returncode == 0, result
    assert result.stdout.splitlines() == [f"Sent to {url}: ping", "< pong"]


def test_send_json_and_file(server, tmp_path):
    message = tmp_path / "message.json"
    message.write_text('{"type": "join", "username": "alice"}', encoding="utf-8")
    url = server.url("/ws/chat")
    result = mockd("ws", "send", "--json", "--wait", url, f"@{message}")
    assert result.returncode == 0, result
    answer = json.loads(result.stdout)
    assert answer["success"] is True and answer["url"] == url
    assert answer["message"] == '{"type": "join", "username": "alice"}'
    assert json.loads(answer["reply"]["data"])["type"] == "joined"
    assert mockd("ws", "send", url, "@/does/not/exist").returncode == 1


def test_send_binary(server, tmp_path):
    blob = tmp_path / "blob.bin"
    blob.write_bytes(b"\x00\xffraw")
    url = server.url("/ws/echo")
    result = mockd("ws", "send", "--binary", "--wait", url, f"@{blob}")
    encoded = base64.b64encode(b"\x00\xffraw").decode()
    assert result.stdout.splitlines() == [f"Sent to {url}: [binary 5 bytes] {encoded}",
                                          f"< [binary 5 bytes] {encoded}"]
    result = mockd("ws", "send", "--binary", url, "aGVsbG8=")
    assert result.returncode == 0
    bodies = [(e.is_binary, e.body) for e in server.server.journal.query(direction="inbound")]
    assert bodies == [(True, b"\x00\xffraw"), (True, b"hello")]


@pytest.mark.slow
def test_send_wait_times_out_without_a_reply(make_mockd_server):
    running = make_mockd_server({"version": "1.0", "mocks": [
        {"id": "silent", "websocket": {"path": "/silent", "matchers": [
            {"match": {"type": "exact", "value": "x"}, "noResponse": True}]}}]})
    started = time.monotonic()
    result = mockd("ws", "send", "--wait", "-t", "500ms", running.url("/silent"), "hello")
    assert result.returncode == 1
    assert "no reply within 0.5s" in result.stderr
    assert time.monotonic() - started < 10


# ---------------------------------------------------------------- listen


def test_listen_n_2_on_a_scenario(server):
    url = server.url("/ws/ticker")
    result = mockd("websocket", "listen", "-n", "2", url)
    assert result.returncode == 0, result
    assert result.stdout.splitlines() == ["one", '{"n":2}']
    assert result.stderr.splitlines() == [f"Connecting to {url}...", "Listening for 2 messages (Ctrl+C to stop)",
                                          "Received 2 messages"]


def test_listen_json(server):
    result = mockd("ws", "listen", "--json", "--count", "3", server.url("/ws/ticker"))
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["index"], r["type"], r["data"]) for r in records] == [
        (0, "text", "one"), (1, "text", '{"n":2}'), (2, "text", "three")]
    assert all(set(r) == {"data", "index", "timestamp", "type"} for r in records)


def test_listen_until_the_server_closes(server):
    proc = popen("ws", "listen", server.url("/ws/ticker"))
    try:
        read_until(proc.stderr, "Listening for messages")
        assert wait_until(lambda: len(server.server.connections) == 1)
        server.stop()
        out, err = proc.communicate(timeout=10)
    finally:
        end(proc)
    assert proc.returncode == 0, err
    assert out.splitlines() == ["one", '{"n":2}', "three"]
    assert err.splitlines()[-1] == "Connection closed by server (1001 server shutdown)"


def test_client_commands_do_not_import_gevent(server):
    script = ("import sys; from mockd.cli import main; "
              f"rc = main(['ws', 'send', '--wait', {server.url('/ws/chat')!r}, 'ping']); "
              "print('gevent' in sys.modules, rc)")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=20,
                            env=env())
    assert result.stdout.splitlines()[-1] == "False 0", result


# ---------------------------------------------------------------- the documentation's command lines


def doc_cli_lines():
    """Every ``mockd ...`` line of the "CLI Commands" and "Testing WebSocket Mocks" sections."""
    import pathlib
    import shlex
    text = (pathlib.Path(__file__).resolve().parents[1] / "docs" / "websocket-mocking.md").read_text("utf-8")
    section = text[text.index("## CLI Commands"):text.index("### Using wscat")]
    lines, fenced = [], False
    for line in section.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif fenced and line.startswith("mockd "):
            lines.append(shlex.split(line.strip().rstrip("&")))
    return lines


def test_every_doc_cli_line_parses():
    from mockd.cli import get_parser
    lines = doc_cli_lines()
    assert len(lines) >= 20
    commands = set()
    for argv in lines:
        args = get_parser().parse_args(argv[1:])  # SystemExit(2) if a flag or command is unknown
        commands.add(getattr(args, "ws_command", args.command))
    assert commands == {"serve", "add", "connect", "send", "listen", "status"}


@pytest.mark.slow
def test_doc_send_lines_work_as_written(server, tmp_path):
    (tmp_path / "message.json").write_text('{"action":"ping"}', encoding="utf-8")
    here = f"127.0.0.1:{server.port}"
    sends = [argv for argv in doc_cli_lines() if argv[1:3] == ["websocket", "send"]]
    assert len(sends) == 5
    for argv in sends:
        argv = [arg.replace("localhost:4280/ws", f"{here}/ws/echo").replace("/ws/echo/echo", "/ws/echo")
                for arg in argv[1:]]
        result = subprocess.run([sys.executable, "-m", "mockd", *argv], capture_output=True, text=True,
                                timeout=20, env=env(), cwd=tmp_path)
        assert result.returncode == 0, result
        assert result.stdout.startswith(f"Sent to ws://{here}/ws/echo: ")
    bodies = [e.body for e in server.server.journal.query(direction="inbound")]
    assert bodies == ["hello", '{"action":"ping"}', '{"action":"ping"}', "hello", "test message"]
