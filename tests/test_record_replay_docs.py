"""README.rst's "Record and replay" section, as written: the proxy config against a real
upstream, the ``mockd record``/``convert``/``check`` session with real subprocesses, the
recording file, the converted Chrome HAR and the replay config."""
import json
import re
import signal
import subprocess
import sys

import pytest
import websocket
import yaml

from _cli import MOCK_URL, ROOT, env, read_until
from mockd.proxy.files import load_recordings
from mockd.testing import recv_close
from test_proxy import Upstream
from test_readme_examples import block

SECTION = "Record and replay"


@pytest.fixture
def upstream():
    running = Upstream()
    yield running
    running.stop()


def test_readme_proxy_example(make_mockd_server, upstream, tmp_path, monkeypatch):
    monkeypatch.setenv("TOKEN", "t0ken")
    text = block(f"{SECTION} #1", "yaml").replace("wss://api.example.test/feed",
                                                    f"ws://127.0.0.1:{upstream.port}/echo")
    (tmp_path / "mockd.yaml").write_text(text)
    server = make_mockd_server(str(tmp_path / "mockd.yaml"))
    ws = server.connect("/live", header=["Cookie: a=1"])
    ws.send("ping")
    assert ws.recv() == "pong"                     # the matcher answers first (fallback)
    ws.send("to the real server")
    assert ws.recv() == "to the real server"       # the rest goes upstream
    headers = json.loads(upstream.wait_for("headers ")[len("headers "):])
    assert headers["authorization"] == "Bearer t0ken" and headers["cookie"] == "a=1"
    ws.close()
    recordings = server.admin.get("/recordings")
    for _ in range(100):
        if recordings.json["recordings"]:
            break
        recordings = server.admin.get("/recordings")
    [summary] = recordings.json["recordings"]
    assert "t0ken" not in json.dumps(server.admin.get(f"/recordings/{summary['id']}").json)
    har = server.admin.get(f"/recordings/{summary['id']}?format=har").json
    assert har["log"]["entries"][0]["_resourceType"] == "websocket"


def _commands(console):
    """``[(command, expected output lines)]`` of a console block."""
    steps = []
    for line in console.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            steps[-1][1].append(line)
    return steps


def _record_until(command, cwd, signum, while_serving=None):
    """Run ``mockd COMMAND`` (a ``record``) until its banner, call ``while_serving(banner
    lines)``, send ``signum``: ``(process, banner lines, stdout after, stderr)``."""
    proc = subprocess.Popen([sys.executable, "-m", "mockd", *command], cwd=cwd, env=env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        _found, lines = read_until(proc.stdout, "Press Ctrl\\+C to stop")
        if while_serving is not None:
            while_serving(lines)
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc, lines, out, err


def _run(command, cwd):
    return subprocess.run([sys.executable, "-m", "mockd", *command.split()[1:]], cwd=cwd, env=env(),
                          capture_output=True, text=True, timeout=60)


@pytest.mark.slow
def test_readme_record_session(upstream, tmp_path, make_mockd_server):
    (record, banner), (convert, converted), (check, checked) = _commands(block(f"{SECTION} #2", "console"))
    command = record.replace("9000", str(upstream.port)).split()[1:] + ["-p", "0", "-a", "0"]

    def session(lines):
        # The client of the text in brackets under the block.
        port = MOCK_URL.search("".join(lines)).group(2)
        normal = re.sub(r"localhost:\d+|127\.0\.0\.1:\d+", "HOST", "".join(lines)).splitlines()
        assert normal == [re.sub(r"localhost:\d+|127\.0\.0\.1:\d+", "HOST", line) for line in banner[:-1]]
        ws = websocket.create_connection(f"ws://127.0.0.1:{port}/push", timeout=5)
        assert ws.recv() == "hello"
        ws.send('{"type": "join", "nick": "ada"}')
        assert ws.recv() == '{"type": "join", "nick": "ada"}'
        ws.send("ping")
        assert ws.recv() == "ping"
        ws.close()

    proc, _lines, out, err = _record_until(command, tmp_path, signal.SIGINT, session)
    assert proc.returncode == 0, err
    assert out.strip().splitlines()[-1] == banner[-1]
    upstream.stop()  # from here on, the real server is gone
    for command, expected in ((convert, converted), (check, checked)):
        result = _run(command, tmp_path)
        assert result.returncode == 0, result.stderr
        assert (result.stdout + result.stderr).strip().splitlines() == expected, command
    served = make_mockd_server(str(tmp_path / "mocks.yaml"))
    ws = served.connect("/push")
    assert ws.recv() == "hello"
    ws.send('{"nick":"ada", "type":"join"}')     # the same JSON, spaced and ordered otherwise
    assert ws.recv() == '{"type": "join", "nick": "ada"}'
    ws.send("ping")
    assert ws.recv() == "ping"


def test_readme_recording_file(tmp_path):
    (tmp_path / "session.json").write_text(block(f"{SECTION} #3", "json"))
    [recording] = load_recordings(str(tmp_path / "session.json"))
    assert [(frame.sender, frame.type) for frame in recording.frames] == [
        ("server", "text"), ("client", "text"), ("server", "binary"), ("server", "close")]
    assert recording.frames[2].data == bytes.fromhex("89504e470d0a1a0a00ff")
    assert recording.frames[3].code == 1000 and recording.frames[3].data == "bye"


def test_readme_converted_chrome_har():
    result = subprocess.run([sys.executable, "-m", "mockd", "convert", "tests/data/chrome-chat.har",
                             "--timing-scale", "0"], cwd=ROOT, env=env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    written = yaml.safe_load(result.stdout)
    for mock in written["mocks"]:
        mock.pop("description")  # names the file and the day it was written
    assert written == yaml.safe_load(block(f"{SECTION} #4", "yaml"))


def test_readme_replay_example(tmp_path, make_mockd_server):
    (tmp_path / "session.json").write_text(block(f"{SECTION} #3", "json"))
    (tmp_path / "mockd.yaml").write_text(block(f"{SECTION} #5", "yaml").replace("timingScale: 1.0",
                                                                                "timingScale: 0.1"))
    server = make_mockd_server(str(tmp_path / "mockd.yaml"))
    ws = server.connect("/chat")
    assert ws.recv() == '{"type":"welcome"}'
    ws.send('{"type": "join"}')
    assert ws.recv() == bytes.fromhex("89504e470d0a1a0a00ff")
    assert recv_close(ws) == (1000, "bye")


@pytest.mark.slow
def test_mockd_record_checks_its_output_first_and_shows_no_secret(tmp_path):
    upstream = "ws://user:pw5ecret@127.0.0.1:9/feed?token=t0ken"
    refused = _run(f"mockd record --upstream {upstream} -o {tmp_path}/missing/out.json -p 0 -a 0", tmp_path)
    assert refused.returncode == 1 and "folder" in refused.stderr and "does not exist" in refused.stderr
    proc, lines, out, err = _record_until(["record", "--upstream", upstream, "-o", "out.json", "-p", "0", "-a", "0"],
                                          tmp_path, signal.SIGTERM)
    text = "".join(lines) + out + err
    assert "pw5ecret" not in text and "t0ken" not in text and "[redacted]" in text
    assert proc.returncode == 0 and json.loads((tmp_path / "out.json").read_text()) == {"recordings": []}
