"""Issue 10 item 16: what a server sends must not drive the terminal of whoever runs
``mockd ws connect|send|listen|messages``: control characters print escaped, unless --raw."""
import json

import pytest

from _cli import mockd

# OSC 0 (set the window title, ended by BEL), CSI 2J (clear the screen), CR, a C1 CSI and a
# right-to-left override.
EVIL = "\x1b]0;pwned\x07 \x1b[2J\r\x9b31m \u202eevil"
ESCAPED = "\\x1b]0;pwned\\x07 \\x1b[2J\\r\\x9b31m \\u202eevil"
RAW_BYTES = ("\x1b", "\x07", "\r", "\x9b", "\u202e")
EVIL_READ = EVIL.replace("\r", "\n")  # as --raw output reads through a text-mode pipe

CONFIG = """\
version: "1.0"
mocks:
  - id: push
    websocket:
      path: /push
      scenario:
        steps:
          - type: send
            message: {type: text, value: "%(evil)s"}
  - id: reply
    websocket:
      path: /reply
      defaultResponse: {type: text, value: "%(evil)s"}
""" % {"evil": EVIL.encode("unicode_escape").decode("ascii")}  # YAML reads \x1b, \u202e too


@pytest.fixture
def server(target):
    return target(config=CONFIG)


def assert_escaped(out):
    assert not any(char in out for char in RAW_BYTES), repr(out)
    assert ESCAPED in out, repr(out)


@pytest.mark.slow
def test_listen_escapes_control_characters(server):
    result = mockd("ws", "listen", "-n", "1", server.url("/push"))
    assert result.returncode == 0, result.stderr
    assert_escaped(result.stdout)


@pytest.mark.slow
def test_listen_raw_prints_them_as_sent(server):
    result = mockd("ws", "listen", "--raw", "-n", "1", server.url("/push"))
    assert result.returncode == 0, result.stderr
    assert result.stdout == EVIL_READ + "\n"


@pytest.mark.slow
def test_listen_json_is_the_same_value_without_raw_c1_or_bidi(server):
    result = mockd("ws", "listen", "--json", "-n", "1", server.url("/push"))
    assert not any(char in result.stdout for char in RAW_BYTES), repr(result.stdout)
    assert json.loads(result.stdout)["data"] == EVIL


@pytest.mark.slow
def test_connect_escapes_replies_and_raw_passes_them(server):
    result = mockd("ws", "connect", server.url("/reply"), input="hello\n")
    assert result.returncode == 0, result.stderr
    assert "> hello\n" in result.stdout
    assert_escaped(result.stdout)
    assert f"< {ESCAPED}\n" in result.stdout

    result = mockd("ws", "connect", "--raw", server.url("/reply"), input="hello\n")
    assert f"< {EVIL_READ}\n" in result.stdout


@pytest.mark.slow
def test_send_wait_escapes_the_reply(server):
    result = mockd("ws", "send", "--wait", server.url("/reply"), "hello")
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith(f"< {ESCAPED}\n")
    assert_escaped(result.stdout)


@pytest.mark.slow
def test_messages_escapes_journal_bodies_and_newlines(server):
    result = mockd("ws", "send", "--wait", server.url("/reply"), "two\nlines")
    assert result.returncode == 0, result.stderr
    admin = ("--admin-url", server.admin_url)

    result = mockd("ws", "messages", *admin)
    assert result.returncode == 0, result.stderr
    assert_escaped(result.stdout)
    assert "> [defaultResponse] two\\nlines\n" in result.stdout  # one entry, one line
    assert len(result.stdout.splitlines()) == 2

    result = mockd("ws", "messages", "--json", *admin)
    assert not any(char in result.stdout for char in RAW_BYTES), repr(result.stdout)
    assert json.loads(result.stdout.splitlines()[1])["body"] == EVIL

    result = mockd("ws", "messages", "--raw", *admin)
    assert result.stdout.rstrip("\n").endswith(f"< {EVIL_READ}")
    assert "two\nlines" in result.stdout


@pytest.fixture
def hostile_admin():
    """A fake admin API (say, a local user's process that took port 4290 first) answering
    every GET with control characters in every field the client prints."""
    import http.server
    import threading

    connection = {"id": EVIL, "mockId": EVIL, "path": EVIL, "subprotocol": EVIL, "connectedAt": EVIL,
                  "messagesSent": EVIL, "messagesRecv": EVIL, "status": EVIL, "remoteAddr": EVIL}
    answer = {"activeConnections": EVIL, "totalConnections": EVIL, "totalMessagesSent": EVIL,
              "totalMessagesRecv": EVIL, "connectionsByMock": {EVIL: EVIL}, "connections": [connection],
              "stats": {"activeConnections": EVIL}, "status": EVIL, "uptime": EVIL, **connection}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.slow
@pytest.mark.parametrize("command", [["stats"], ["status"], ["connections"], ["connections", "get", "conn-1"]])
def test_admin_answers_are_escaped(hostile_admin, command):
    result = mockd("ws", *command, "--admin-url", hostile_admin)
    out = result.stdout + result.stderr
    assert not any(char in out for char in RAW_BYTES), (command, out)
