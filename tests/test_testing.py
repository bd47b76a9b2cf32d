"""mockd.testing, the pytest plugin users load: its fixtures and the server conveniences.

The README's example is run as a user's suite would run it (its own conftest.py, a pytest
subprocess), which also shows that the fixture stops its servers at teardown.
"""
import json
import os
import pathlib
import re
import socket
import subprocess
import sys
import textwrap
import time

import gevent
import pytest
import websocket

from mockd.testing import assert_silent, recv_close, recv_text, websocket_mock

ROOT = pathlib.Path(__file__).resolve().parents[1]


def readme_block(containing):
    """The ``.. code-block:: python`` of README.rst that contains ``containing``, dedented."""
    text = (ROOT / "README.rst").read_text(encoding="utf-8")
    for block in re.findall(r"\.\. code-block:: python\n\n((?:(?:   .*)?\n)+)", text):
        if containing in block:
            return textwrap.dedent(block)
    raise AssertionError(f"README.rst has no python block with {containing!r}")


# A pytest subprocess: seconds of interpreter and plugin start-up.
@pytest.mark.slow
def test_readme_example_runs_and_servers_stop_at_teardown(tmp_path):
    (tmp_path / "conftest.py").write_text(readme_block('pytest_plugins = ["mockd.testing"]'))
    ports = tmp_path / "ports.json"
    (tmp_path / "test_user.py").write_text(readme_block("def test_pong(mockd_server):") + textwrap.dedent(f"""

        def test_records_ports(mockd_server):
            import json
            server = mockd_server({{"version": "1.0", "mocks": []}})
            with open({str(ports)!r}, "w") as fh:
                json.dump([server.port, server.server.admin_port_bound], fh)
        """))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout
    for port in json.loads(ports.read_text()):
        with pytest.raises(ConnectionRefusedError):  # both listeners were closed at teardown
            socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_url_journal_and_wait_for(make_mockd_server):
    server = make_mockd_server(websocket_mock("/echo", echoMode=True))
    assert server.url("/echo") == f"ws://127.0.0.1:{server.port}/echo"
    ws = websocket.create_connection(server.url("/echo"), timeout=5)
    ws.send('{"type": "hello"}')
    assert ws.recv() == '{"type": "hello"}'
    [entry] = server.wait_for({"type": "json", "path": "$.type", "value": "hello"})
    assert (entry["direction"], entry["body"], entry["matched"]) == ("inbound", '{"type": "hello"}', "echo")
    assert [e["direction"] for e in server.journal] == ["inbound", "outbound"]
    assert server.wait_for(direction="outbound")[0]["body"] == '{"type": "hello"}'
    ws.close()


def test_wait_for_counts_later_frames_and_reports_a_timeout(make_mockd_server):
    server = make_mockd_server(websocket_mock(echoMode=True))
    ws = server.connect()
    ws.send("first")
    ws.recv()
    with pytest.raises(AssertionError, match=r"1 of 2 inbound frames .* arrived within 0.2s") as info:
        server.wait_for(count=2, timeout=0.2)
    assert "'first'" in str(info.value)
    since = server.journal[-1]["seq"]
    ws.send("second")
    assert [e["body"] for e in server.wait_for(since=since)] == ["second"]


def test_push_sends_to_a_path_or_one_connection(make_mockd_server):
    server = make_mockd_server({"version": "1.0", "mocks": [
        {"id": "a", "websocket": {"path": "/a", "echoMode": True}},
        {"id": "b", "websocket": {"path": "/b", "echoMode": True}}]})
    a1, a2, b = server.connect("/a"), server.connect("/a"), server.connect("/b")
    assert server.push("to a", path="/a") == 2
    assert [a1.recv(), a2.recv()] == ["to a", "to a"]
    assert server.push({"n": 1}, path="/b") == 1 and b.recv() == '{"n":1}'
    b.send("who am i")
    b.recv()
    b_id = server.wait_for({"type": "exact", "value": "who am i"})[0]["connectionId"]
    assert server.push(b"\x00\x01", connection_id=b_id) == 1
    assert b.recv_data() == (websocket.ABNF.OPCODE_BINARY, b"\x00\x01")
    assert server.push("nobody", path="/none", timeout=0.05) == 0


def test_mockd_server_loads_installed_plugins_and_make_mockd_server_does_not(mockd_server, make_mockd_server,
                                                                             monkeypatch, tmp_path):
    site = tmp_path / "site"
    (site / "mockd_hi-1.0.dist-info").mkdir(parents=True)
    (site / "mockd_hi-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: mockd-hi\nVersion: 1.0\n")
    (site / "mockd_hi-1.0.dist-info" / "entry_points.txt").write_text("[mockd]\nhi = mockd_hi\n")
    (site / "mockd_hi.py").write_text("from mockd import hookimpl\n\n\n@hookimpl\n"
                                      "def mockd_register_template_functions():\n    return {'hi': lambda: 'hi'}\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "mockd_hi", raising=False)
    config = websocket_mock(defaultResponse={"type": "text", "value": "{{ hi() }}"})
    ws = mockd_server(config).connect()
    ws.send("?")
    assert ws.recv() == "hi"
    with pytest.raises(Exception, match="unknown template function 'hi'"):
        make_mockd_server(config)


def test_recv_close_returns_code_and_reason(make_mockd_server):
    server = make_mockd_server(websocket_mock(echoMode=True))
    ws = server.connect()
    strict = server.connect()
    for client in (ws, strict):
        client.send("unread echo")
    server.wait_for(count=2, direction="outbound")  # both echoes are on their way
    stopping = gevent.spawn(server.server.stop)
    assert recv_close(ws) == (1001, "server shutdown")  # the echo before the close is skipped
    with pytest.raises(AssertionError, match="expected the server's close, got a text frame b'unread echo'"):
        recv_close(strict, allow_data=False)
    stopping.join(5)


# Pings every 100 ms, answered by websocket-client: the helpers skip them, and they do not
# push a helper's deadline back.
PINGING_ECHO = websocket_mock(echoMode=True, heartbeat={"enabled": True, "interval": "100ms"})


def test_recv_close_gives_up_at_its_deadline_despite_pings(make_mockd_server):
    ws = make_mockd_server(PINGING_ECHO).connect()
    started = time.monotonic()
    with pytest.raises(AssertionError, match="no close frame within 0.3s"):
        recv_close(ws, timeout=0.3)  # two or three pings come meanwhile
    assert time.monotonic() - started < 1.0
    assert ws.gettimeout() == 5.0  # the connection's own timeout is back


def test_recv_text_skips_pings_and_fails_on_binary_or_silence(make_mockd_server):
    ws = make_mockd_server(PINGING_ECHO).connect()
    gevent.sleep(0.15)  # a ping is waiting in front of the echo
    ws.send("hi")
    assert recv_text(ws) == "hi"
    ws.send_binary(b"\x00")
    with pytest.raises(AssertionError, match=r"expected a text message, got a binary frame b'\\x00'"):
        recv_text(ws)
    with pytest.raises(AssertionError, match="no message within 0.15s"):
        recv_text(ws, timeout=0.15)


def test_assert_silent_skips_pings_and_ignored_messages_only(make_mockd_server):
    ws = make_mockd_server(PINGING_ECHO).connect()
    assert_silent(ws, 0.25)  # two pings came and went
    ws.send("tick")
    assert_silent(ws, 0.1, ignore=lambda message: message == "tick")
    ws.send("tock")
    with pytest.raises(AssertionError, match="expected silence for 0.5s, got a text frame b'tock'"):
        assert_silent(ws, 0.5, ignore=lambda message: message == "tick")
    assert ws.gettimeout() == 5.0
