"""Issue 10 item 3: a frame header costs nothing until its payload arrives, and
``maxMessageSize`` has a ceiling (``mockd serve --max-message-size-limit``, 64 MiB).

Before the fix the payload buffer was sized (and zero-filled) from the declared length: 20
clients sending a header that declares 16 MiB, and nothing after it, raised the server's RSS
by 320 MiB.
"""
import json
import time
import urllib.error
import urllib.request

import gevent
import pytest

from _attack import ECHO, served
from _cli import mockd
from _rawws import OP_BINARY, Client, frame

MIB = 1 << 20
BIG = ECHO + "      maxMessageSize: 16777216\n"  # the echo mock of _attack.py, taking 16 MiB


def settled_rss(target, seconds=0.5):
    """The server's largest RSS over ``seconds`` (KiB): what it reaches once it has read
    everything sent to it."""
    peak = target.rss_kib()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        gevent.sleep(0.05)
        peak = max(peak, target.rss_kib())
    return peak


@pytest.mark.slow
def test_frame_headers_declaring_16_mib_cost_no_memory(target):
    server = target(config=BIG)
    assert served(server.url())  # warm: the first echo's allocations are not the attack's
    before = settled_rss(server, 0.2)
    clients = [Client(server.port, "/ws") for _ in range(20)]
    for client in clients:
        # A 14-byte header (with its mask key) declaring 16 MiB, plus a few payload bytes,
        # so that the server is inside the payload read when RSS is measured.
        client.sock.sendall(frame(OP_BINARY, b"", length=16 * MIB) + b"x" * 100)
    assert served(server.url())  # the loop got past all 20 headers, and still serves
    growth_mib = (settled_rss(server) - before) / 1024
    assert growth_mib < 20, f"20 headers declaring 16 MiB each cost {growth_mib:.0f} MiB"
    for client in clients:
        client.sock.close()
    assert served(server.url())


@pytest.mark.slow
def test_a_real_16_mib_message_still_echoes_fast(target):
    server = target(config=BIG)
    client = Client(server.port, "/ws", timeout=10)
    payload = bytes(range(256)) * (16 * MIB // 256)
    started = time.monotonic()
    client.send(OP_BINARY, payload)
    assert client.recv_data() == payload
    assert time.monotonic() - started < 2.0  # ~0.1 s here, with the raw client's own masking
    client.close()


def _config(size):
    return BIG.replace("16777216", str(size))


@pytest.mark.slow
def test_check_refuses_max_message_size_above_the_ceiling(tmp_path):
    path = tmp_path / "mockd.yaml"
    path.write_text(_config(64 * MIB + 1), encoding="utf-8")
    result = mockd("check", "-c", path)
    assert result.returncode == 2, result
    assert "mocks[0].websocket.maxMessageSize" in result.stderr
    assert "67108864" in result.stderr and "--max-message-size-limit" in result.stderr
    assert "Traceback" not in result.stderr
    path.write_text(_config(64 * MIB), encoding="utf-8")  # the ceiling itself is allowed
    assert mockd("check", "-c", path).returncode == 0
    path.write_text(_config(2 * MIB), encoding="utf-8")
    result = mockd("check", "--max-message-size-limit", str(MIB), "-c", path)
    assert result.returncode == 2 and "mocks[0].websocket.maxMessageSize" in result.stderr


def test_serve_refuses_a_config_above_its_ceiling(tmp_path):
    path = tmp_path / "mockd.yaml"
    path.write_text(_config(2 * MIB), encoding="utf-8")
    result = mockd("serve", "-p", "0", "--no-admin", "--max-message-size-limit", str(MIB), "-c", path)
    assert result.returncode == 2
    assert "mocks[0].websocket.maxMessageSize: must be at most 1048576 bytes" in result.stderr


def _admin(server, method, path, body):
    request = urllib.request.Request(server.admin_url + path, data=json.dumps(body).encode(), method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


@pytest.mark.slow
def test_admin_api_refuses_max_message_size_above_the_ceiling(target):
    server = target("--max-message-size-limit", str(MIB), config=ECHO)
    too_big = {"path": "/ws", "echoMode": True, "maxMessageSize": MIB + 1}
    status, body = _admin(server, "PUT", "/mocks/echo", {"type": "websocket", "websocket": too_big})
    assert status == 400 and "maxMessageSize" in body["message"], body
    status, body = _admin(server, "POST", "/mocks", {"type": "websocket", "websocket": dict(too_big, path="/b")})
    assert status == 400 and "maxMessageSize" in body["message"], body
    status, body = _admin(server, "POST", "/config", {"config": {"version": "1.0", "mocks": [
        {"id": "c", "type": "websocket", "websocket": dict(too_big, path="/c")}]}})
    assert status == 400 and "config.mocks[0].websocket.maxMessageSize" in body["message"], body
    status, _ = _admin(server, "PUT", "/mocks/echo", {"type": "websocket", "websocket": dict(too_big,
                                                                                             maxMessageSize=MIB)})
    assert status == 200
    assert served(server.url())
