"""``python -m mockd`` as real subprocesses: the banner, exit codes, signals, help texts.

Every process runs with a timeout and is always ended (terminate, then kill). Servers listen
on 127.0.0.1 (``--host localhost``) with ``--port 0``; the port is read from the banner.
"""
import json
import re
import signal
import socket
import struct
import subprocess
import sys
import time

import gevent
import pytest
import websocket

from _cli import ROOT, end, env, mockd
from mockd.testing import recv_close
from mockd.version import __version__

BANNER_PORT = re.compile(r"^  Mock server: ws://localhost:(\d+)$")

GOOD = """\
version: "1.0"
mocks:
  - id: echo
    websocket:
      path: /echo
  - id: greeter
    websocket:
      path: /greet
      matchers:
        - match: {type: exact, value: hi}
          response: {type: text, value: hello}
"""

BAD = """\
version: "1.0"
mocks:
  - id: broken
    websocket:
      path: /ws
      matchers:
        - match: {type: regexp, value: "a+"}
          response: {type: text, value: b}
"""


@pytest.fixture
def serve(tmp_path):
    """``serve(*args)`` starts ``mockd serve --host localhost --port 0 ARGS`` and waits for its
    banner; returns ``(proc, port, banner_lines)``. Every process is ended at teardown."""
    procs = []

    def start(*args, startup_timeout=20):
        proc = subprocess.Popen([sys.executable, "-m", "mockd", "serve", "--host", "localhost", "--port", "0",
                                 "--admin-port", "0", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=env(), cwd=tmp_path)
        procs.append(proc)
        lines = []
        port = None
        with gevent.Timeout(startup_timeout, AssertionError(f"no banner within {startup_timeout}s: {lines}")):
            while True:
                line = proc.stdout.readline()
                if not line:
                    raise AssertionError(f"serve exited early ({proc.wait()}): {lines} {proc.stderr.read()}")
                line = line.rstrip("\n")
                lines.append(line)
                match = BANNER_PORT.match(line)
                if match:
                    port = int(match.group(1))
                if line == "Press Ctrl+C to stop":
                    break
        assert port, lines
        return proc, port, lines

    yield start
    for proc in procs:
        end(proc)


# ---------------------------------------------------------------------------- serve

def test_serve_without_config_serves_the_demo_on_the_printed_port(serve):
    proc, port, banner = serve()
    assert banner[0].startswith("mockd server started (3 mocks from the built-in demo")
    assert f"  Mock server: ws://localhost:{port}" in banner
    assert banner[banner.index("  Endpoints:") + 1:][:3] == ["    /ws         Echo", "    /ws/chat    Chat Room",
                                                           "    /ws/stocks  Stock Ticker"]
    assert port != 0
    ws = websocket.create_connection(f"ws://127.0.0.1:{port}/ws", timeout=5)
    try:
        ws.send("hello demo")
        assert ws.recv() == "hello demo"
        ws.send_binary(b"\x00\xff")
        assert ws.recv() == b"\x00\xff"
    finally:
        ws.close(timeout=2)
    chat = websocket.create_connection(f"ws://127.0.0.1:{port}/ws/chat", timeout=5, subprotocols=["chat"])
    try:
        chat.send("ping")
        assert chat.recv() == "pong"
    finally:
        chat.close(timeout=2)
    assert proc.poll() is None


@pytest.mark.slow
def test_serve_with_config_names_the_file(serve, tmp_path):
    (tmp_path / "good.yaml").write_text(GOOD)
    _proc, port, banner = serve("-c", "good.yaml")
    assert banner[0] == "mockd server started (2 mocks from good.yaml)"
    # The file's paths with their mocks' ids (names where given), as the demo's are listed.
    assert banner[banner.index("  Endpoints:") + 1:][:3] == ["    /echo   echo", "    /greet  greeter", ""]
    ws = websocket.create_connection(f"ws://127.0.0.1:{port}/greet", timeout=5)
    try:
        ws.send("hi")
        assert ws.recv() == "hello"
    finally:
        ws.close(timeout=2)


def test_serve_bad_config_exits_2_with_located_error(tmp_path):
    (tmp_path / "bad.yaml").write_text(BAD)
    result = mockd("serve", "--port", "0", "--host", "localhost", "--no-admin", "-c", "bad.yaml", cwd=tmp_path)
    assert result.returncode == 2, result
    assert result.stderr.startswith("mockd: error: bad.yaml: mocks[0].websocket.matchers[0].match.type: "), \
        result.stderr
    assert "did you mean 'regex'" in result.stderr
    assert "Traceback" not in result.stderr
    assert "Mock server" not in result.stdout


@pytest.mark.slow
def test_serve_missing_config_file_exits_2(tmp_path):
    result = mockd("serve", "--port", "0", "--host", "localhost", "--no-admin", "-c", "nowhere.yaml", cwd=tmp_path)
    assert result.returncode == 2, result
    assert result.stderr.startswith("mockd: error: "), result.stderr
    assert "nowhere.yaml" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_check_good_and_bad(tmp_path):
    (tmp_path / "good.yaml").write_text(GOOD)
    (tmp_path / "bad.yaml").write_text(BAD)
    good = mockd("check", "-c", "good.yaml", cwd=tmp_path)
    assert good.returncode == 0, good
    assert "good.yaml" in good.stdout
    bad = mockd("check", "-c", "bad.yaml", cwd=tmp_path)
    assert bad.returncode == 2, bad
    assert bad.stderr.startswith("mockd: error: bad.yaml: mocks[0]."), bad.stderr
    assert "Traceback" not in bad.stderr


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_closes_every_client_with_1001_and_exits_0(serve, tmp_path, signum):
    (tmp_path / "good.yaml").write_text(GOOD)
    proc, port, _ = serve("-c", "good.yaml")
    clients = [websocket.create_connection(f"ws://127.0.0.1:{port}/{path}", timeout=5)
               for path in ("echo", "echo", "greet")]
    # And one that never reads, so never answers the server's close.
    mute = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        mute.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        for ws in clients:  # all are really up before the signal
            ws.send("hi")
            assert ws.recv() in ("hi", "hello")
        assert mute.recv(12) == b"HTTP/1.1 101"
        started = time.monotonic()
        proc.send_signal(signum)
        for ws in clients:
            assert recv_close(ws, allow_data=False) == (1001, "server shutdown")
        assert proc.wait(timeout=5) == 0
        assert time.monotonic() - started < 5
        data = b""
        while chunk := mute.recv(4096):
            data += chunk
        close_frame = b"\x88" + bytes([2 + len(b"server shutdown")]) + struct.pack("!H", 1001) + b"server shutdown"
        assert data.endswith(close_frame), data
    finally:
        mute.close()
        for ws in clients:
            ws.shutdown()
    stderr = proc.stderr.read()
    assert "Traceback" not in stderr, stderr
    assert "KeyboardInterrupt" not in stderr, stderr


@pytest.mark.slow
def test_signal_with_no_clients_exits_0(serve):
    proc, _port, _ = serve()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=5) == 0


@pytest.mark.slow
def test_port_in_use_exits_1_naming_the_port(tmp_path):
    blocker = socket.socket()
    try:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        result = mockd("serve", "--host", "127.0.0.1", "--port", str(port), "--admin-port", "0", cwd=tmp_path)
    finally:
        blocker.close()
    assert result.returncode == 1, result
    assert result.stderr.startswith("mockd: error: ") or "\nmockd: error: " in result.stderr, result.stderr
    assert result.stderr.splitlines()[-1].endswith(
        f"127.0.0.1:{port} (mock listener): Address already in use; choose another port with -p/--port "
        f"(-p 0 picks a free one)"), result.stderr
    assert "Traceback" not in result.stderr


# ---------------------------------------------------------------------------- help, version, plugins

def _command_paths():
    """Every command line of the parser tree: [], [serve], ..., [websocket, connect], ...
    (an alias such as ``ws`` shares its parser with ``websocket`` and is listed once)."""
    import argparse

    from mockd.cli import get_parser

    paths, seen = [], set()

    def walk(parser, path):
        if id(parser) in seen:
            return
        seen.add(id(parser))
        paths.append(path)
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, path + [name])

    walk(get_parser(), [])
    return paths


@pytest.mark.slow
def test_help_of_every_command_exits_0_and_shows_an_example():
    paths = _command_paths()
    assert ["serve"] in paths and ["check"] in paths and ["plugins"] in paths
    procs = [(path, subprocess.Popen([sys.executable, "-m", "mockd", *path, "--help"], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env(), cwd=ROOT))
             for path in paths]
    problems = []
    for path, proc in procs:
        try:
            out, err = proc.communicate(timeout=20)
        finally:
            end(proc)
        command = " ".join(["mockd", *path])
        if proc.returncode != 0:
            problems.append(f"{command} --help: exit {proc.returncode}: {err}")
        elif not out.startswith(f"usage: {command}"):
            problems.append(f"{command} --help: no usage line: {out[:80]!r}")
        elif not re.search(r"^examples?:\n  mockd \S", out, re.M):
            problems.append(f"{command} --help: no example")
    assert not problems, "\n".join(problems)


def test_version():
    result = mockd("--version")
    assert result.returncode == 0, result
    assert result.stdout.strip() == f"mockd {__version__}"


def test_no_command_is_a_usage_error():
    result = mockd()
    assert result.returncode == 2, result
    assert "usage: mockd" in result.stderr


@pytest.mark.slow
def test_plugins_prints_json():
    result = mockd("plugins", "--no-plugin-autoload")
    assert result.returncode == 0, result
    assert json.loads(result.stdout) == []
    everything = mockd("plugins", "--all", "--no-plugin-autoload")
    assert everything.returncode == 0, everything
    listed = json.loads(everything.stdout)
    names = {plugin["name"] for plugin in listed}
    assert {"mockd.matching", "mockd.scenario"} <= names
    assert all(isinstance(plugin["hooks"], list) and plugin["hooks"] for plugin in listed)
    autoload = mockd("plugins")
    assert autoload.returncode == 0, autoload
    assert isinstance(json.loads(autoload.stdout), list)
