"""The proxy against a real upstream (the ``websockets`` server of tests/upstream_ws.py in a
subprocess), both ways, through real mockd servers and websocket-client clients."""
import json
import subprocess
import sys
import time

import gevent
import pytest
import websocket

from _cli import ROOT, self_signed_cert
from mockd.testing import recv_close


class Upstream:
    """tests/upstream_ws.py in a subprocess; ``lines`` collects what it printed."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "upstream_ws.py"), *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines = []
        self._reader = gevent.spawn(self._read)
        self.port = int(self.wait_for("port ").split()[1])

    def _read(self):
        for line in iter(self.proc.stdout.readline, ""):
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, prefix, timeout=10.0):
        """The first line starting with ``prefix`` not yet taken."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for index, line in enumerate(self.lines):
                if line.startswith(prefix):
                    return self.lines.pop(index)
            gevent.sleep(0.01)
        raise AssertionError(f"the upstream printed no {prefix!r} within {timeout}s: {self.lines}")

    def stop(self):
        self._reader.kill()  # before the pipe is closed: one reader at a time
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)


@pytest.fixture
def upstream():
    running = Upstream()
    yield running
    running.stop()


def proxied(make_mockd_server, url, **proxy):
    return make_mockd_server({"version": "1.0", "mocks": [{"id": "live", "websocket": {
        "path": "/live", "proxy": dict(proxy, url=url)}}]})


def test_frames_flow_both_ways_unchanged_and_are_journaled_as_proxy(make_mockd_server, upstream):
    server = proxied(make_mockd_server, f"ws://127.0.0.1:{upstream.port}/push", mode="passthrough")
    ws = server.connect("/live")
    assert ws.recv() == "hello"                       # server-initiated, before any client frame
    ws.send("hi")
    assert ws.recv() == "hi"
    ws.send_binary(b"\x00\xffbin")
    assert ws.recv() == b"\x00\xffbin"
    frame = websocket.ABNF.create_frame("frag", websocket.ABNF.OPCODE_TEXT, fin=0)
    ws.send_frame(frame)
    ws.send_frame(websocket.ABNF.create_frame("mented", websocket.ABNF.OPCODE_CONT, fin=1))
    assert ws.recv() == "fragmented"                 # reassembled before it went upstream
    assert upstream.wait_for("got text") == "got text 'hi'"
    ws.ping(b"are you there")
    assert ws.recv_data_frame(True)[0] == websocket.ABNF.OPCODE_PONG  # answered by mockd itself
    entries = [(entry["direction"], entry["body"], entry["matched"]) for entry in server.journal]
    assert ("outbound", "hello", "proxy") in entries and ("inbound", "hi", "proxy") in entries
    assert ("outbound", "hi", "proxy") in entries


def test_rules_answer_first_in_fallback_and_the_rest_goes_upstream(make_mockd_server, upstream):
    server = make_mockd_server({"version": "1.0", "mocks": [{"id": "live", "websocket": {
        "path": "/live", "proxy": {"url": f"ws://127.0.0.1:{upstream.port}/echo"},
        "matchers": [{"match": {"type": "exact", "value": "local"}, "response": {"type": "text", "value": "mock"}}]}}]})
    ws = server.connect("/live")
    ws.send("local")
    assert ws.recv() == "mock"
    ws.send("remote")
    assert ws.recv() == "remote"
    assert upstream.wait_for("got text") == "got text 'remote'"
    assert not [line for line in upstream.lines if line.startswith("got text 'local'")]


def test_subprotocol_and_headers_reach_upstream_and_come_back(make_mockd_server, upstream, monkeypatch):
    server = proxied(make_mockd_server, f"ws://127.0.0.1:{upstream.port}/echo", headers={"X-Api-Key": "k1"},
                     forwardHeaders=["Cookie"])
    ws = server.connect("/live", subprotocols=["chat.v1", "other"], header=["Cookie: session=abc"])
    assert ws.subprotocol == "chat.v1"               # the upstream's choice among the client's offer
    headers = json.loads(upstream.wait_for("headers ")[len("headers "):])
    assert headers["x-api-key"] == "k1" and headers["cookie"] == "session=abc"
    assert [item.strip() for item in headers["sec-websocket-protocol"].split(",")] == ["chat.v1", "other"]


def test_close_codes_are_mirrored_both_ways(make_mockd_server, upstream):
    server = proxied(make_mockd_server, f"ws://127.0.0.1:{upstream.port}/echo")
    ws = server.connect("/live")
    ws.send("close 4001 upstream says bye")
    assert recv_close(ws) == (4001, "upstream says bye")
    ws = server.connect("/live")
    ws.send("x")
    assert ws.recv() == "x"
    ws.close(status=4002, reason=b"client says bye")
    assert upstream.wait_for("closed 4002") == "closed 4002 client says bye"


def test_a_refused_or_unreachable_upstream_refuses_the_client(make_mockd_server, upstream, caplog):
    server = make_mockd_server({"version": "1.0", "mocks": [
        {"websocket": {"path": "/refused", "proxy": {"url": f"ws://127.0.0.1:{upstream.port}/refuse"}}},
        {"websocket": {"path": "/nowhere", "proxy": {"url": "ws://127.0.0.1:9/?access_token=t0ken"}}}]})
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        server.connect("/refused")
    assert refused.value.status_code == 403
    with pytest.raises(websocket.WebSocketBadStatusException) as unreachable:
        server.connect("/nowhere")
    assert unreachable.value.status_code == 502
    assert b"t0ken" not in (unreachable.value.resp_body or b"") and "t0ken" not in caplog.text
    assert "unreachable" in caplog.text
    assert server.server.connections.stats()["activeConnections"] == 0


def test_an_upstream_that_vanishes_closes_the_client_with_1014(make_mockd_server, upstream):
    server = proxied(make_mockd_server, f"ws://127.0.0.1:{upstream.port}/echo")
    ws = server.connect("/live")
    ws.send("vanish")
    assert recv_close(ws) == (1014, "upstream gone")


@pytest.mark.slow
def test_wss_upstream_with_a_test_ca(make_mockd_server, tmp_path):
    cert, key = self_signed_cert(tmp_path)
    secure = Upstream("--tls", str(cert), str(key))
    try:
        server = proxied(make_mockd_server, f"wss://localhost:{secure.port}/echo", tls={"ca": str(cert)})
        ws = server.connect("/live")
        ws.send("over tls")
        assert ws.recv() == "over tls"
        untrusted = proxied(make_mockd_server, f"wss://localhost:{secure.port}/echo")
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            untrusted.connect("/live")
        assert refused.value.status_code == 502
    finally:
        secure.stop()


@pytest.mark.slow
def test_a_slow_client_holds_the_upstream_back(make_mockd_server, upstream):
    """The upstream floods 200 x 256 KiB; the client reads nothing for a while: mockd reads no
    more of the upstream than its socket buffers hold, then everything arrives in order."""
    server = make_mockd_server({"version": "1.0", "mocks": [{"id": "live", "websocket": {
        "path": "/live", "maxMessageSize": 1 << 20, "proxy": {"url": f"ws://127.0.0.1:{upstream.port}/echo"}}}]})
    ws = server.connect("/live")
    ws.send("flood 200 262144")
    gevent.sleep(1.0)
    queued = server.server.connections.stats()
    connection = next(iter(server.server.connections))
    assert connection.ws.buffered_amount <= 4 << 20, connection.ws.buffered_amount  # not 50 MiB
    for number in range(200):
        assert ws.recv() == bytes([number % 256]) * 262144
    assert queued["activeConnections"] == 1


def test_a_recorded_session_keeps_frames_both_ways_with_secrets_redacted(make_mockd_server, upstream):
    server = make_mockd_server({"version": "1.0", "mocks": [{"id": "live", "websocket": {
        "path": "/live", "proxy": {"url": f"ws://127.0.0.1:{upstream.port}/push?token=t0ken", "record": True,
                                   "headers": {"Authorization": "Bearer s3cret", "X-Trace": "t1"},
                                   "forwardHeaders": ["Cookie"]}}}]},
        redact_headers=("X-Trace",))
    ws = server.connect("/live", header=["Cookie: session=abc", "Authorization: Bearer client-secret"])
    assert ws.recv() == "hello"
    ws.send("hi")
    assert ws.recv() == "hi"
    ws.send_binary(b"\x01\x02")
    assert ws.recv() == b"\x01\x02"
    ws.close(status=4003, reason=b"done")
    deadline = time.monotonic() + 5
    while not server.admin.get("/recordings").json["recordings"] and time.monotonic() < deadline:
        gevent.sleep(0.02)
    [summary] = server.admin.get("/recordings").json["recordings"]
    assert summary["mockId"] == "live" and summary["path"] == "/live" and summary["frames"] == 7
    assert summary["upstream"].endswith("/push?token=[redacted]")
    document = server.admin.get(f"/recordings/{summary['id']}").json
    frames = [(frame["from"], frame["type"], frame["data"], frame.get("code")) for frame in document["frames"]]
    assert frames == [("server", "text", "hello", None), ("client", "text", "hi", None),
                      ("server", "text", "hi", None), ("client", "binary", "AQI=", None),
                      ("server", "binary", "AQI=", None), ("client", "close", "done", 4003),
                      ("server", "close", "done", 4003)]
    times = [frame["t"] for frame in document["frames"]]
    assert times == sorted(times)
    text = json.dumps(document)
    assert "s3cret" not in text and "client-secret" not in text and "session=abc" not in text and "t0ken" not in text
    assert "t1" not in text and "Sec-WebSocket-Key" not in text.replace('"Sec-Websocket-Key", "[redacted]"', "")
    assert server.admin.delete(f"/recordings/{summary['id']}").status == 204
    assert server.admin.get(f"/recordings/{summary['id']}").status == 404


def test_the_admin_api_cannot_name_files_the_config_file_does_not(make_mockd_server, tmp_path):
    """A mock sent to the admin API may not make the server read a file of its choosing
    (replay.recording would replay it to any client); the config file's own names still work."""
    recording = tmp_path / "session.json"
    recording.write_text(json.dumps({"path": "/r", "frames": [{"t": 0, "from": "server", "type": "text",
                                                                "data": "hi"}]}))
    config = tmp_path / "mockd.yaml"
    config.write_text(json.dumps({"version": "1.0", "mocks": [{"id": "r", "websocket": {
        "path": "/r", "replay": {"recording": "session.json", "mode": "pure"}}}]}))
    server = make_mockd_server(str(config))
    answer = server.admin.post("/mocks", {"websocket": {"path": "/etc", "replay": {"recording": "/etc/passwd"}}})
    assert answer.status == 400 and "named in the config file only" in answer.json["message"], answer.body
    answer = server.admin.post("/mocks", {"websocket": {"path": "/tls", "proxy": {
        "url": "wss://127.0.0.1:9/", "tls": {"ca": str(tmp_path / "other.pem")}}}})
    assert answer.status == 400 and "named in the config file only" in answer.json["message"], answer.body
    answer = server.admin.post("/mocks", {"websocket": {"path": "/again", "replay": {"recording": "session.json"}}})
    assert answer.status == 201, answer.body
    assert server.admin.post("/mocks/r/toggle").status == 200


def test_an_upstream_message_over_max_message_size_closes_both_sides_1009(make_mockd_server, upstream):
    server = proxied(make_mockd_server, f"ws://127.0.0.1:{upstream.port}/echo")  # maxMessageSize 64 KiB
    ws = server.connect("/live")
    ws.send("flood 1 70000")
    assert recv_close(ws) == (1009, "upstream message too big")
    assert upstream.wait_for("closed 1009") == "closed 1009 message too big"


@pytest.mark.slow
def test_redirects_are_not_followed_and_a_slow_handshake_is_cut(make_mockd_server, upstream):
    """A 302 is not followed (the configured headers would go to wherever it points); an
    upstream that answers its handshake a byte at a time is cut at the handshake timeout."""
    import gevent.server

    def dribble(sock, _address):
        sock.recv(4096)
        try:
            for byte in b"HTTP/1.1 101 Switching Protocols\r\n":
                sock.sendall(bytes([byte]))
                gevent.sleep(0.3)
        except OSError:
            pass  # mockd cut it at its handshake timeout: the point of the test

    slow = gevent.server.StreamServer(("127.0.0.1", 0), dribble)
    slow.start()
    try:
        server = make_mockd_server({"version": "1.0", "mocks": [
            {"websocket": {"path": "/moved", "proxy": {"url": f"ws://127.0.0.1:{upstream.port}/redirect",
                                                       "headers": {"Authorization": "Bearer s"}}}},
            {"websocket": {"path": "/slow", "proxy": {"url": f"ws://127.0.0.1:{slow.server_port}/"}}}]},
            handshake_timeout=1.0)
        with pytest.raises(websocket.WebSocketBadStatusException) as moved:
            server.connect("/moved")
        assert moved.value.status_code == 502 and b"does not follow redirects" in moved.value.resp_body
        assert len([line for line in upstream.lines if line.startswith("headers ")]) == 1  # no second request
        started = time.monotonic()
        with pytest.raises(websocket.WebSocketBadStatusException) as cut:
            server.connect("/slow", timeout=10)
        assert cut.value.status_code == 502 and time.monotonic() - started < 4
    finally:
        slow.stop(timeout=0)  # its handler greenlets too: none may outlive the test


def test_max_recordings_keeps_the_newest(make_mockd_server, upstream):
    server = make_mockd_server({"version": "1.0", "mocks": [{"id": "live", "websocket": {
        "path": "/live", "proxy": {"url": f"ws://127.0.0.1:{upstream.port}/echo", "record": True}}}]},
        max_recordings=2)
    for number in range(3):
        ws = server.connect("/live")
        ws.send(f"session {number}")
        assert ws.recv() == f"session {number}"
        ws.close()
        deadline = time.monotonic() + 5  # a session's recording is kept once it is wound down
        while server.server.connections.unfinished() and time.monotonic() < deadline:
            gevent.sleep(0.02)
    kept = [server.admin.get(f"/recordings/{summary['id']}").json["frames"][0]["data"]
            for summary in server.admin.get("/recordings").json["recordings"]]
    assert kept == ["session 1", "session 2"]
