"""Issue 11, the CLI client (items 7, 18, 19, 20 and 21): ``python -m mockd ws ...`` as a
subprocess against a real ``mockd serve`` subprocess, as a new user meets them."""
import json
import signal
import subprocess
import sys

import pytest
import websocket

from _cli import ADMIN_URL, ROOT, Serve, end, env, mockd, read_until, self_signed_cert
from _helpers import wait_until

CONFIG = """\
version: "1.0"
mocks:
  - id: echo
    websocket: {path: /ws/echo, echoMode: true}
  - id: silent
    websocket:
      path: /silent
      matchers:
        - match: {type: exact, value: never}
          noResponse: true
"""


@pytest.fixture
def serve(tmp_path):
    """``serve(*args)``: ``mockd serve -c CONFIG -p 0 -a 0 ARGS`` with ``url()`` and ``admin_url``."""
    started = []

    def start(*args):
        config = tmp_path / "mockd.yaml"
        config.write_text(CONFIG, encoding="utf-8")
        server = Serve("-a", "0", "-c", str(config), *args)
        started.append(server)
        found, _ = read_until(server.proc.stdout, ADMIN_URL.pattern)
        server.admin_url = f"{found.group(1)}://127.0.0.1:{found.group(2)}"
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def server(serve):
    return serve()


def ws_cli_ignoring_sigint(*args):
    """``mockd ws ARGS`` started with SIGINT ignored, as under nohup, ``cmd &`` in a script or
    some CI runners: a child inherits SIG_IGN, and Python keeps it unless told otherwise."""
    return subprocess.Popen([sys.executable, "-m", "mockd", "ws", *args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(), cwd=ROOT,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))


# ---------------------------------------------------------------- 7: Ctrl+C under an ignored SIGINT


def test_the_child_really_starts_with_sigint_ignored():
    """The control for the next test: Python keeps an inherited SIG_IGN."""
    script = "import signal; print(signal.getsignal(signal.SIGINT) is signal.SIG_IGN)"
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=20,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    assert proc.stdout == "True\n", proc


@pytest.mark.slow
@pytest.mark.parametrize("command, status_stream", [("connect", "stdout"), ("listen", "stderr")])
def test_ctrl_c_ends_a_session_started_with_sigint_ignored(server, command, status_stream):
    proc = ws_cli_ignoring_sigint(command, server.url("/ws/echo"))
    try:
        read_until(getattr(proc, status_stream), r"^(Connected\.|Listening for messages)")
        # Live, as the server sees it; stdin stays open, so only Ctrl+C can end connect.
        listing = mockd("ws", "connections", "--admin-url", server.admin_url)
        assert "/ws/echo" in listing.stdout, listing
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        end(proc)
    assert proc.returncode == 0, err
    status = out if status_stream == "stdout" else err
    assert status.splitlines()[-1] == "Disconnecting..."
    assert "Traceback" not in err
    assert wait_until(lambda: mockd("ws", "connections", "--admin-url", server.admin_url).stdout
                      == "No active WebSocket connections\n")


# ---------------------------------------------------------------- 18: send --wait that times out


@pytest.mark.slow
def test_send_wait_timeout_prints_the_error_only(server):
    url = server.url("/silent")
    for extra in ([], ["--json"]):
        result = mockd("ws", "send", "--wait", "-t", "500ms", *extra, url, "never")
        assert result.returncode == 1
        assert result.stdout == ""  # no "Sent to" line: that line reads as success
        assert result.stderr == f"mockd: error: no reply within 0.5s (the message was sent to {url})\n"
    # A reply: the documented two lines, unchanged (README.rst, "Command line").
    url = server.url("/ws/echo")
    result = mockd("ws", "send", "--wait", url, "ping")
    assert result.returncode == 0, result
    assert result.stdout == f"Sent to {url}: ping\n< ping\n"


# ---------------------------------------------------------------- 19: the wrong scheme


@pytest.mark.slow
def test_ws_url_to_a_tls_server_names_wss(serve, tmp_path):
    cert, key = self_signed_cert(tmp_path)
    tls = serve("--tls-cert", cert, "--tls-key", key)
    assert tls.scheme == "wss"
    wrong, right = f"ws://127.0.0.1:{tls.port}/ws/echo", f"wss://127.0.0.1:{tls.port}/ws/echo"
    for argv in (["send", wrong, "hi"], ["connect", wrong], ["listen", wrong]):
        result = mockd("ws", *argv, input="")
        assert result.returncode == 1
        assert result.stderr.endswith(f"mockd: error: connection failed: {wrong} looks like a TLS (wss://) "
                                      f"server; use {right}\n"), argv
    result = mockd("ws", "send", "--wait", "--cacert", cert, right, "hi")  # the advice works
    assert result.stdout == f"Sent to {right}: hi\n< hi\n", result


@pytest.mark.slow
def test_wss_url_to_a_plain_server_names_ws(server):
    right = server.url("/ws/echo")
    wrong = right.replace("ws://", "wss://")
    for argv in (["send", wrong, "hi"], ["connect", wrong], ["listen", wrong]):
        result = mockd("ws", *argv, input="")
        assert result.returncode == 1
        assert result.stderr.endswith(f"mockd: error: connection failed: {wrong} looks like a plain (ws://) "
                                      f"server, without TLS; use {right}\n"), argv
    assert mockd("ws", "send", "--wait", right, "hi").stdout.endswith("< hi\n")


# ---------------------------------------------------------------- 20: ws add --message TEXT


ADDED = [
    (["--message", "hello"], "hello"),                                      # plain text, no quotes
    (["--message", "hello world, 42"], "hello world, 42"),
    (["--message", '{"hello": "world"}'], '{"hello":"world"}'),             # parses: JSON
    (["--message", "42"], "42"),
    (["--message", '"quoted"'], '"quoted"'),                                # a JSON string
    (["--message", '{"hello": "world"}', "--text"], '{"hello": "world"}'),  # text, as written
]


@pytest.mark.slow
def test_add_message_replies_text_or_json(server):
    for index, (add_args, reply) in enumerate(ADDED):
        path = f"/added/{index}"
        result = mockd("ws", "add", "--admin-url", server.admin_url, "--path", path, *add_args)
        assert result.returncode == 0, result
        ws = websocket.create_connection(server.url(path), timeout=5)
        try:
            ws.send("anything")
            assert ws.recv() == reply, add_args
        finally:
            ws.close()


@pytest.mark.slow
def test_add_message_sends_a_text_response_to_the_admin_api(server):
    result = mockd("ws", "add", "--admin-url", server.admin_url, "--path", "/hi", "--message", "hello", "--json")
    mock_id = json.loads(result.stdout)["id"]
    ws = websocket.create_connection(server.url("/hi"), timeout=5)
    try:
        ws.send("anything")
        assert ws.recv() == "hello"
    finally:
        ws.close()
    listed = json.loads(mockd("ws", "status", "--json", "--admin-url", server.admin_url).stdout)
    (mock,) = [m for m in listed["endpoints"] if m["id"] == mock_id]
    assert mock["websocket"]["defaultResponse"] == {"type": "text", "value": "hello"}


@pytest.mark.slow
def test_add_message_that_looks_like_broken_json_is_refused(server):
    result = mockd("ws", "add", "--admin-url", server.admin_url, "--path", "/x", "--message", "{not json")
    assert result.returncode == 2
    assert result.stderr == ("mockd: error: --message looks like JSON but does not parse (Expecting property "
                             "name enclosed in double quotes: line 1 column 2 (char 1)); fix it, or add --text "
                             "to reply with it as it is\n")


# ---------------------------------------------------------------- 21: missing and wrong admin tokens


@pytest.mark.slow
def test_missing_and_wrong_admin_tokens_read_differently(serve):
    server = serve("--admin-token", "s3cret")
    url = server.admin_url
    missing = mockd("ws", "status", "--admin-url", url)
    assert (missing.returncode, missing.stderr) == (1, (
        f"mockd: error: the admin API at {url} needs a token: pass --admin-token or set MOCKD_ADMIN_TOKEN "
        "(HTTP 401 unauthorized)\n"))
    wrong = mockd("ws", "status", "--admin-url", url, "--admin-token", "s3cert")
    assert (wrong.returncode, wrong.stderr) == (1, (
        f"mockd: error: the admin API at {url} refused the token from --admin-token: check it "
        "(HTTP 401 unauthorized)\n"))
    wrong = mockd("ws", "status", "--admin-url", url, MOCKD_ADMIN_TOKEN="s3cert")
    assert wrong.stderr == (f"mockd: error: the admin API at {url} refused the token from MOCKD_ADMIN_TOKEN: "
                            "check it (HTTP 401 unauthorized)\n")
    right = mockd("ws", "status", "--admin-url", url, MOCKD_ADMIN_TOKEN="s3cret")
    assert right.returncode == 0 and "2 mock(s) configured" in right.stdout, right
