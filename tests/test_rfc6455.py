"""RFC 6455 conformance of a real mockd echo mock (issue 7, item 1).

``test_ws_protocol.py`` proves each fix of the ``mockd/ws/`` layer against a bare test app;
these run through the whole server (config, ``Connection``, registry, journal): the conformance
tool in ``--strict`` mode, and one regression per failure class checking what the client sees
*and* what mockd keeps (close code on the connection, nothing journaled, counts, no leak).
"""
import os
import pathlib
import subprocess
import sys

import pytest

from _helpers import only_connection, wait_until
from _rawws import OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, Client, close_payload, frame
from mockd.testing import websocket_mock

pytestmark = pytest.mark.usefixtures("no_unhandled_errors")

HERE = pathlib.Path(__file__).resolve().parent
LIMIT = 1024  # maxMessageSize of the mock under test


def conformance_tool():
    """``ws_conformance.py`` from the ``shared/`` folder beside this checkout (CI lays one there);
    ``MOCKD_WS_CONFORMANCE`` overrides. Missing is a skip locally and a failure under CI."""
    for candidate in (os.environ.get("MOCKD_WS_CONFORMANCE"), HERE.parents[1] / "shared/tools/ws_conformance.py"):
        if candidate and pathlib.Path(candidate).is_file():
            return pathlib.Path(candidate)
    if os.environ.get("CI"):
        raise AssertionError("ws_conformance.py not found beside the checkout (../shared/tools)")
    pytest.skip("ws_conformance.py not found: put shared/ beside the checkout or set MOCKD_WS_CONFORMANCE")


@pytest.fixture
def echo(make_mockd_server):
    return make_mockd_server(websocket_mock("/ws", echoMode=True, maxMessageSize=LIMIT))


# ---------------------------------------------------------------------------- the tool, strict

@pytest.mark.slow
def test_conformance_tool_strict_against_a_mockd_echo_mock(make_mockd_server):
    running = make_mockd_server(websocket_mock("/ws", echoMode=True, maxMessageSize=16 << 20))
    tool = conformance_tool()
    result = subprocess.run([sys.executable, str(tool), running.url("/ws"), "--strict", "-q"],
                            capture_output=True, text=True, timeout=240)
    summary = result.stdout.strip().splitlines()[-1]
    assert " 0 failed" in summary, result.stdout[-4000:]
    assert result.returncode == 0, result.stdout[-4000:]
    passed = int(summary.split(" passed")[0].split()[-1])
    assert passed >= 140, summary  # 141 of 141 with the tool's 2026 case list (X.1 is UNIMPL)
    # The tool leaves nothing behind: every one of its connections was closed and forgotten.
    assert wait_until(lambda: len(running.server.connections) == 0), list(running.server.connections)
    stats = running.server.connections.stats()
    assert stats["activeConnections"] == 0 and stats["totalConnections"] >= 100


# ---------------------------------------------------------------------------- one regression per fix

FAILURES = {
    "unmasked-frame": (frame(OP_TEXT, b"x", masked=False), 1002),
    "rsv1-without-extension": (frame(OP_TEXT, b"x", rsv=4), 1002),
    "rsv3-on-ping": (frame(OP_PING, b"x", rsv=1), 1002),
    "reserved-data-opcode-3": (frame(3, b"x"), 1002),
    "reserved-control-opcode-11": (frame(11), 1002),
    "ping-over-125-bytes": (frame(OP_PING, b"p" * 126), 1002),
    "fragmented-ping": (frame(OP_PING, b"p", fin=False), 1002),
    "orphan-continuation": (frame(OP_CONT, b"x"), 1002),
    "new-message-inside-fragmented-one": (frame(OP_TEXT, b"a", fin=False) + frame(OP_BINARY, b"b"), 1002),
    "close-with-1-byte-payload": (frame(OP_CLOSE, b"\x03"), 1002),
    "close-code-1005": (frame(OP_CLOSE, close_payload(1005)), 1002),
    "close-code-1004": (frame(OP_CLOSE, close_payload(1004)), 1002),
    "close-code-2999": (frame(OP_CLOSE, close_payload(2999)), 1002),
    "close-code-5000": (frame(OP_CLOSE, close_payload(5000)), 1002),
    "close-reason-not-utf8": (frame(OP_CLOSE, close_payload(1000, b"\xce\xba\xff")), 1007),
    "text-not-utf8": (frame(OP_TEXT, "κόσμε".encode() + b"\xed\xa0\x80edited"), 1007),
    # Fail fast: the message is never finished, the bad byte alone must fail it.
    "unfinished-fragmented-text-not-utf8": (frame(OP_TEXT, b"ok \xf4\x90\x80\x80", fin=False), 1007),
    "unfinished-frame-not-utf8": (frame(OP_TEXT, b"\xc0\xaf" + b"a" * 1000)[:300], 1007),
    # Checked against the declared length: the 1 MiB is never sent, nor buffered.
    "declared-length-over-limit": (frame(OP_BINARY, b"y" * 10, length=1 << 20), 1009),
    "fragments-over-limit": (frame(OP_TEXT, b"a" * 1000, fin=False) + frame(OP_CONT, b"a" * (LIMIT - 999)), 1009),
}


@pytest.mark.parametrize("name", list(FAILURES))
def test_protocol_violation_fails_the_connection_and_mockd_forgets_it(echo, name):
    data, code = FAILURES[name]
    client = Client(echo.port)
    connection = only_connection(echo)
    client.send_text("fine")
    assert client.recv_data() == "fine"
    witness = Client(echo.port)
    witness.send_text("before")
    assert witness.recv_data() == "before"
    client.sock.sendall(data)
    (got, reason), skipped = client.skip_to_close()
    assert (got, skipped) == (code, 0), reason
    if code == 1009:
        assert reason == f"read limited at {LIMIT + 1} bytes".encode()
    assert client.at_eof()  # the server closes TCP after failing the connection
    assert wait_until(lambda: len(echo.server.connections) == 1)
    assert connection.close_code == code and connection.closed
    stats = echo.server.connections.stats()
    assert (stats["totalConnections"], stats["activeConnections"]) == (2, 1)
    assert (stats["totalMessagesRecv"], stats["totalMessagesSent"]) == (2, 2)  # the bad one is not counted
    assert [e.body for e in echo.server.journal.query(direction="inbound")] == ["fine", "before"]
    witness.send_text("after")
    assert witness.recv_data() == "after"
    assert witness.close() == 1000


def test_close_handshake_is_answered_with_the_peers_code(echo):
    client = Client(echo.port)
    connection = only_connection(echo)
    client.send(OP_CLOSE, close_payload(4321, "bye".encode()))
    (code, reason), skipped = client.skip_to_close()
    assert (code, reason, skipped) == (4321, b"", 0)
    assert client.at_eof()
    assert wait_until(lambda: len(echo.server.connections) == 0)
    assert (connection.close_code, connection.close_reason) == (4321, "bye")


def test_empty_close_is_answered_with_an_empty_close(echo):
    client = Client(echo.port)
    connection = only_connection(echo)
    client.send(OP_CLOSE)
    assert client.skip_to_close() == ((None, b""), 0)
    assert wait_until(lambda: len(echo.server.connections) == 0)
    assert connection.close_code == 1005  # "no status", never on the wire


def test_fragmented_message_with_interleaved_pings_is_echoed_and_journaled_once(echo):
    client = Client(echo.port)
    client.send(OP_TEXT, "héllo ".encode()[:2], fin=False)  # splits the é between fragments
    client.send(OP_PING, b"p1")
    client.send(OP_CONT, "héllo ".encode()[2:], fin=False)
    client.send(OP_PING, b"p2")
    client.send(OP_CONT, b"world")
    assert client.recv_frame() == (OP_PONG, b"p1")
    assert client.recv_frame() == (OP_PONG, b"p2")
    assert client.recv_frame() == (OP_TEXT, "héllo world".encode())
    entries = [(e.direction, e.body) for e in echo.server.journal.query()]
    assert entries == [("inbound", "héllo world"), ("outbound", "héllo world")]
    connection = only_connection(echo)
    assert (connection.messages_received, connection.messages_sent) == (1, 1)


def test_message_of_exactly_the_limit_passes_and_keeps_its_type(echo):
    client = Client(echo.port)
    client.send(OP_BINARY, b"\x00\xff" * (LIMIT // 2))
    assert client.recv_frame() == (OP_BINARY, b"\x00\xff" * (LIMIT // 2))
    client.send(OP_TEXT, "é".encode() * (LIMIT // 2))
    assert client.recv_frame() == (OP_TEXT, "é".encode() * (LIMIT // 2))
    assert client.close() == 1000


def test_server_close_carries_code_and_reason_for_mock_removal(echo):
    client = Client(echo.port)
    only_connection(echo)
    echo.server.mocks.remove("test-mock")
    (code, reason), _ = client.skip_to_close()
    assert (code, reason) == (1012, b"mock updated")
    client.send(OP_CLOSE, close_payload(1012))
    assert client.at_eof()
    assert wait_until(lambda: len(echo.server.connections) == 0)
