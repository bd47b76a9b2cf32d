"""The Socket.IO pack (docs/protocols.md, "Socket.IO") against a real server: the documented
example as written, driven by python-socketio's own client (in subprocesses: it runs on
threads, requests and websocket-client, without gevent), then raw Engine.IO over plain HTTP
and websocket-client for what that client never sends."""
import base64
import json
import pathlib
import subprocess
import sys
import urllib.error
import urllib.request

import gevent
import _docs
import pytest

from _cli import mockd
from mockd.protocols.socketio import polling
from mockd.testing import check_config, recv_close
from mockd.yamlload import load_yaml

pytestmark = pytest.mark.usefixtures("no_unhandled_errors")

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs" / "protocols.md"
SECTION = "Socket.IO"

# A python-socketio client driven through stdin: one JSON command a line; what it sees is
# printed as JSON lines ({"kind": "event"|"ack"|"connected"|"error"|...}). Bytes travel as
# {"$bytes": base64}.
DRIVER = r'''
import base64, json, sys, threading
import socketio

def enc(value):
    if isinstance(value, (bytes, bytearray)):
        return {"$bytes": base64.b64encode(value).decode()}
    if isinstance(value, (list, tuple)):
        return [enc(item) for item in value]
    if isinstance(value, dict):
        return {key: enc(item) for key, item in value.items()}
    return value

def dec(value):
    if isinstance(value, dict):
        return base64.b64decode(value["$bytes"]) if "$bytes" in value else {k: dec(v) for k, v in value.items()}
    if isinstance(value, list):
        return [dec(item) for item in value]
    return value

LOCK = threading.Lock()  # the client's threads print too: one whole line at a time

def out(**fields):
    with LOCK:
        sys.stdout.write(json.dumps(enc(fields)) + "\n")
        sys.stdout.flush()

sio = socketio.Client(reconnection=False)

@sio.on("*", namespace="*")
def on_event(event, namespace, *args):
    out(kind="event", event=event, namespace=namespace, args=list(args))

@sio.on("connect_error", namespace="*")
def on_connect_error(namespace, data=None):
    out(kind="connect_error", namespace=namespace, data=data)

@sio.on("disconnect", namespace="*")
def on_disconnect(namespace, *reason):
    out(kind="disconnect", namespace=namespace, reason=[str(r) for r in reason])

for line in sys.stdin:
    command = json.loads(line)
    op = command.pop("op")
    try:
        if op == "connect":
            sio.connect(command["url"], transports=command.get("transports"),
                        namespaces=command.get("namespaces"), wait_timeout=5)
            out(kind="connected", transport=sio.transport(),
                sids={ns: sio.get_sid(ns) for ns in (command.get("namespaces") or ["/"])})
        elif op == "emit":
            tag = command.get("tag")
            callback = (lambda *args: out(kind="ack", tag=tag, args=list(args))) if tag else None
            sio.emit(command["event"], tuple(dec(command.get("args", []))), namespace=command.get("namespace"),
                     callback=callback)
            out(kind="emitted", event=command["event"])
        elif op == "transport":
            out(kind="transport", transport=sio.transport())
        elif op == "disconnect":
            sio.disconnect()
            out(kind="disconnected")
        elif op == "exit":
            break
    except Exception as exc:
        out(kind="error", op=op, error=type(exc).__name__, message=str(exc))
'''


def docs_blocks(language):
    return _docs.section_blocks(SECTION, language)

def docs_config():
    blocks = docs_blocks("yaml")
    assert len(blocks) == 1, blocks
    return blocks[0]


class SioClient:
    """One python-socketio client in a subprocess of its own."""

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, "-c", DRIVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.seen = []  # lines read, not yet asked for

    def do(self, op, **command):
        self.proc.stdin.write(json.dumps({"op": op, **command}) + "\n")
        self.proc.stdin.flush()

    def expect(self, kind, timeout=10, **fields):
        """The first line of ``kind`` with ``fields``, waiting up to ``timeout`` seconds."""
        def fits(line):
            return line["kind"] == kind and all(line.get(key) == value for key, value in fields.items())
        for index, line in enumerate(self.seen):
            if fits(line):
                return self.seen.pop(index)
        with gevent.Timeout(timeout, AssertionError(f"no {kind} {fields} within {timeout}s; saw {self.seen}")):
            while True:
                text = self.proc.stdout.readline()
                assert text, f"the client ended: {self.proc.stderr.read()[-3000:]}"
                line = json.loads(text)
                if fits(line):
                    return line
                self.seen.append(line)

    def events(self, name):
        return [line for line in self.seen if line["kind"] == "event" and line["event"] == name]

    def connect(self, server, transports=None, namespaces=None):
        self.do("connect", url=f"http://127.0.0.1:{server.port}", transports=transports, namespaces=namespaces)
        line = self.expect("connected")
        return line

    def sync(self, tag):
        """Wait until the server has answered everything this client sent before (the mock
        answers in order on one session): a chat message it echoes, with its ack."""
        self.do("emit", event="chat message", args=[f"hi {tag}"], tag=tag)
        self.expect("ack", tag=tag)
        self.expect("event", event="chat message", args=[f"echo: hi {tag}"])

    def stop(self):
        try:
            self.do("exit")
            self.proc.wait(timeout=5)
        except Exception:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()


@pytest.fixture
def clients():
    started = []

    def make():
        client = SioClient()
        started.append(client)
        return client
    yield make
    for client in started:
        client.stop()


@pytest.fixture
def served(make_mockd_server):
    return make_mockd_server(docs_config())


def http(server, query, method="GET", body=None):
    """``(status, body text)`` of a plain HTTP request to /socket.io/."""
    request = urllib.request.Request(f"http://127.0.0.1:{server.port}/socket.io/?{query}", method=method,
                                     data=None if body is None else body.encode("utf-8"))
    try:
        with urllib.request.urlopen(request, timeout=15) as answer:
            return answer.status, answer.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read().decode("utf-8")


def handshake(server):
    status, body = http(server, "EIO=4&transport=polling")
    assert status == 200 and body.startswith("0{"), body
    return json.loads(body[1:])


def _sent(server, event):
    """The outbound journal entries of ``event``."""
    return [entry for entry in server.journal
            if entry["direction"] == "outbound" and entry.get("matched") == f"socket.io: event {event}"]


def journal_matched(server):
    return [entry.get("matched") for entry in server.journal]


# ---------------------------------------------------------------- the documented example


def test_docs_example_checks():
    config = check_config(docs_config())
    assert config.mocks[0].endpoint.protocol.name == "socket.io"


@pytest.mark.slow
def test_docs_client_as_written(served):
    """The docs' python-socketio client, its URL pointed at the test's port."""
    (script,) = docs_blocks("python")
    script = script.replace("http://localhost:4280", f"http://127.0.0.1:{served.port}")
    # The event handlers print from the client's threads, in any order, and print() writes its
    # words and its newline one by one, so two threads' lines can interleave ("chat {'ok':
    # True}" once in CI): a lock around print keeps each line whole without touching the script.
    whole_lines = ("import builtins, threading\n_lock, _print = threading.Lock(), builtins.print\n"
                   "def _locked_print(*args, **kwargs):\n    with _lock:\n        _print(*args, **kwargs)\n"
                   "builtins.print = _locked_print\n")
    done = subprocess.run([sys.executable, "-c", whole_lines + script], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert sorted(done.stdout.splitlines()) == ["chat echo: hi there", "websocket", "welcome {'text': 'hello'}",
                                                "{'ok': True}"]


@pytest.mark.slow
def test_docs_example_over_the_default_transports(served, clients):
    """polling first, then the upgrade to WebSocket; the welcome, the echo and its ack, no echo
    without "hi"."""
    client = clients()
    connected = client.connect(served)
    assert connected["transport"] == "websocket"  # the client went polling -> websocket
    assert client.expect("event", event="welcome")["args"] == [{"text": "hello"}]
    client.do("emit", event="chat message", args=["hi there"], tag="first")
    assert client.expect("event", event="chat message")["args"] == ["echo: hi there"]
    assert client.expect("ack", tag="first")["args"] == [{"ok": True}]
    client.do("emit", event="chat message", args=["hello"], tag="second")
    client.sync("third")
    assert client.events("chat message") == [] and not [line for line in client.seen if line.get("tag") == "second"]
    assert not [entry for entry in served.journal if "echo: hello" in str(entry["body"])]  # the server's word

    # The upgrade, as mockd saw it: the polling handshake (an HTTP GET: the open packet
    # journaled under the Engine.IO sid), an accepted WebSocket handshake, then the probe.
    journal = served.journal
    opened = next(entry for entry in journal if entry.get("matched") == "socket.io: open")
    sid = json.loads(opened["body"][1:])["sid"]
    assert opened["connectionId"] == sid and json.loads(opened["body"][1:])["upgrades"] == ["websocket"]
    handshakes = served.admin.get("/websocket/handshakes").json["handshakes"]
    assert [(h["path"], h["status"], h["refusedBy"]) for h in handshakes] == [("/socket.io/", 101, None)]
    ws_id = handshakes[0]["connectionId"]
    on_ws = [entry.get("matched") for entry in journal if entry["connectionId"] == ws_id]
    assert on_ws[:3] == ["socket.io: ping probe", "socket.io: pong probe", "socket.io: upgrade"]
    assert any(entry["direction"] == "event" and f"session {sid}: upgraded from polling to websocket" in entry["body"]
               for entry in journal)
    assert "socket.io: event chat message (ack 1)" in on_ws
    assert "socket.io: ack 1" in on_ws


@pytest.mark.slow
@pytest.mark.parametrize("transports", [["polling"], ["websocket"]])
def test_docs_example_on_one_transport(served, clients, transports):
    client = clients()
    assert client.connect(served, transports=transports)["transport"] == transports[0]
    assert client.expect("event", event="welcome")["args"] == [{"text": "hello"}]
    client.do("emit", event="chat message", args=["hi there"], tag="one")
    assert client.expect("event", event="chat message")["args"] == ["echo: hi there"]
    assert client.expect("ack", tag="one")["args"] == [{"ok": True}]
    assert served.admin.get("/websocket/handshakes").json["count"] == (0 if transports == ["polling"] else 1)


@pytest.mark.slow
def test_rooms_others_and_the_admin_emit(served, clients):
    """join a room; POST /socketio/emit to it reaches only its members; to: others reaches the
    other client and not the sender, across transports."""
    member, outsider = clients(), clients()
    member_sid = member.connect(served)["sids"]["/"]
    outsider.connect(served, transports=["polling"])
    member.do("emit", event="join", args=["lobby"], tag="join")
    assert member.expect("ack", tag="join")["args"] == ["joined lobby"]

    reply = served.admin.post("/socketio/emit", {"path": "/socket.io/", "room": "lobby", "event": "news",
                                                 "args": [{"headline": "hi"}]})
    assert reply.status == 200 and reply.json == {"sent": 1}
    assert member.expect("event", event="news")["args"] == [{"headline": "hi"}]
    reply = served.admin.post("/socketio/emit", {"event": "sync", "args": [1]})
    assert reply.json == {"sent": 2}
    outsider.expect("event", event="sync")
    assert outsider.events("news") == []
    assert len(_sent(served, "news")) == 1

    member.do("emit", event="typing", args=[])
    assert outsider.expect("event", event="typing")["args"] == [{"who": member_sid}]
    member.sync("after typing")
    assert member.events("typing") == [] and len(_sent(served, "typing")) == 1


@pytest.mark.slow
def test_namespaces_and_binary(served, clients):
    client = clients()
    with_admin = client.connect(served, namespaces=["/", "/admin"])
    assert set(with_admin["sids"]) == {"/", "/admin"} and with_admin["sids"]["/"] != with_admin["sids"]["/admin"]
    assert client.expect("event", event="ready")["args"] == ["/admin"]
    # The /admin onConnect joined the operators room: the admin emit finds it there.
    assert served.admin.post("/socketio/emit", {"namespace": "/admin", "room": "operators", "event": "x"}).json == {
        "sent": 1}
    assert client.expect("event", event="x")["namespace"] == "/admin"

    blob = {"$bytes": base64.b64encode(b"\x00\x01\xfe\xff").decode()}
    client.do("emit", event="upload", args=[blob, {"name": "a.bin"}], tag="up")
    assert client.expect("event", event="uploaded")["args"] == [blob]
    assert client.expect("ack", tag="up")["args"] == [{"name": "a.bin"}]
    matched = journal_matched(served)
    assert "socket.io: binary event upload (ack 1) (1 attachment)" in matched
    assert "socket.io: binary attachment 1/1" in matched
    assert "socket.io: binary event uploaded (1 attachment)" in matched


@pytest.mark.slow
def test_an_unknown_namespace_is_a_connect_error(served, clients):
    client = clients()
    client.do("connect", url=f"http://127.0.0.1:{served.port}", namespaces=["/", "/nope"])
    error = client.expect("connect_error", namespace="/nope")
    assert error["data"] == {"message": "Invalid namespace"}
    assert "/nope" in client.expect("error", op="connect")["message"]
    assert "socket.io: connect_error /nope: Invalid namespace" in journal_matched(served)


def test_admin_emit_errors(served):
    assert served.admin.post("/socketio/emit", {"args": []}).status == 400
    assert served.admin.post("/socketio/emit", {"event": "x", "args": "no"}).status == 400
    assert served.admin.post("/socketio/emit", {"event": "x", "colour": 1}).status == 400
    assert served.admin.post("/socketio/emit", {"event": "x", "path": "/elsewhere"}).status == 404
    assert served.admin.post("/socketio/emit", {"event": "x", "namespace": "/nope"}).status == 404
    assert served.admin.post("/socketio/emit", {"event": "x"}).json == {"sent": 0}


# ---------------------------------------------------------------- raw Engine.IO


def test_http_errors_are_engine_ios(served):
    assert http(served, "EIO=4&transport=polling&sid=nope") == (400, '{"code": 1, "message": "Session ID unknown"}')
    assert json.loads(http(served, "EIO=3&transport=polling")[1]) == {"code": 5,
                                                                        "message": "Unsupported protocol version"}
    assert json.loads(http(served, "EIO=4&transport=carrier-pigeon")[1])["code"] == 0
    assert json.loads(http(served, "EIO=4&transport=polling", "POST", "40")[1])["code"] == 2
    sid = handshake(served)["sid"]
    assert http(served, f"EIO=4&transport=polling&sid={sid}", "PUT", "x")[0] == 400


def test_polling_by_hand(served):
    opened = handshake(served)
    assert opened["upgrades"] == ["websocket"] and opened["pingInterval"] == 25000
    assert opened["pingTimeout"] == 20000 and opened["maxPayload"] == 65536
    query = f"EIO=4&transport=polling&sid={opened['sid']}"
    assert http(served, query, "POST", '40\x1e42["chat message","hi poll"]') == (200, "ok")
    status, body = http(served, query)
    packets = body.split("\x1e")
    assert packets[0].startswith('40{"sid":') and packets[1:] == ['42["welcome",{"text":"hello"}]',
                                                                  '42["chat message","echo: hi poll"]']
    assert http(served, query, "POST", "1") == (200, "ok")  # the client closes
    assert http(served, query)[0] == 400


@pytest.mark.slow
def test_the_upgrade_by_hand_answers_the_waiting_poll_with_a_noop(served, ws_client):
    sid = handshake(served)["sid"]
    query = f"EIO=4&transport=polling&sid={sid}"
    poll = gevent.spawn(http, served, query)  # waits: nothing to send yet
    gevent.sleep(0.2)
    assert not poll.ready()
    ws = ws_client(served.url(f"/socket.io/?EIO=4&transport=websocket&sid={sid}"))
    ws.send("2probe")
    assert ws.recv() == "3probe"
    assert poll.get(timeout=5) == (200, "6")
    assert http(served, query) == (200, "6")  # during the upgrade too
    ws.send("5")
    ws.send("40")
    assert ws.recv().startswith('40{"sid":')
    assert ws.recv() == '42["welcome",{"text":"hello"}]'
    assert http(served, query) == (200, "6")  # after it, polls get noops
    # A second upgrade of the same session is refused.
    again = ws_client(served.url(f"/socket.io/?EIO=4&transport=websocket&sid={sid}"))
    assert recv_close(again) == (1002, "Session ID unknown")


def test_websocket_refusals(served, ws_client):
    ws = ws_client(served.url("/socket.io/?EIO=4&transport=websocket&sid=nope"))
    assert recv_close(ws) == (1002, "Session ID unknown")
    ws = ws_client(served.url("/socket.io/?EIO=3&transport=websocket"))
    assert recv_close(ws) == (1002, "Unsupported protocol version")


def _open_ws(server, ws_client):
    ws = ws_client(server.url("/socket.io/?EIO=4&transport=websocket"))
    opened = ws.recv()
    assert opened.startswith('0{"sid"') and json.loads(opened[1:])["upgrades"] == []
    return ws


@pytest.mark.parametrize("packet, reason", [
    ("9", "unknown Engine.IO packet type '9'"),
    ('42["chat message"', "invalid JSON"),
    ("42{}", "array starting with the event name"),
    ("0", "a client does not send the open packet"),
    ("", "empty Engine.IO packet"),
])
def test_a_malformed_packet_closes_the_websocket_session_the_engine_io_way(served, ws_client, packet, reason):
    ws = _open_ws(served, ws_client)
    ws.send("40")
    assert ws.recv().startswith('40{"sid"')
    assert ws.recv().startswith('42["welcome"')
    ws.send(packet)
    assert ws.recv() == "1"
    code, text = recv_close(ws)
    assert code == 1000 and reason in text
    assert any(entry.get("matched", "").startswith("socket.io: malformed packet:") for entry in served.journal)


def test_a_malformed_polling_packet_closes_the_session(served):
    sid = handshake(served)["sid"]
    query = f"EIO=4&transport=polling&sid={sid}"
    assert http(served, query, "POST", '40\x1e42["chat') == (400, '{"code": 3, "message": "Bad request"}')
    status, body = http(served, query)
    assert status == 200 and body.split("\x1e")[-1] == "1"  # the answer to 40, then the close packet
    assert http(served, query)[0] == 400
    assert http(served, query, "POST", "40")[0] == 400


def test_binary_attachments_over_polling_are_base64(served):
    sid = handshake(served)["sid"]
    query = f"EIO=4&transport=polling&sid={sid}"
    http(served, query, "POST", "40")
    http(served, query)
    body = '451-["upload",{"_placeholder":true,"num":0},{"name":"p.bin"}]\x1ebAQI='
    assert http(served, query, "POST", body) == (200, "ok")
    status, answer = http(served, query)
    assert answer == '451-["uploaded",{"_placeholder":true,"num":0}]\x1ebAQI='


def test_two_polls_at_once_close_the_session(served):
    sid = handshake(served)["sid"]
    query = f"EIO=4&transport=polling&sid={sid}"
    first = gevent.spawn(http, served, query)
    gevent.sleep(0.1)
    assert http(served, query) == (400, '{"code": 3, "message": "Bad request"}')
    assert first.get(timeout=5) == (200, "1")


PINGING = """
version: "1.0"
mocks:
  - id: ping
    type: websocket
    websocket:
      path: /socket.io/
      protocol: socket.io
      socketio: {pingInterval: 200ms, pingTimeout: 200ms}
"""


@pytest.mark.slow
def test_ping_timeout_closes_a_silent_websocket_session(make_mockd_server, ws_client):
    server = make_mockd_server(PINGING)
    answering, silent = _open_ws(server, ws_client), _open_ws(server, ws_client)
    for _ in range(3):  # one that answers its pings stays
        assert answering.recv() == "2"
        answering.send("3")
    assert silent.recv() == "2"
    assert silent.recv() == "1"
    assert recv_close(silent) == (1000, "ping timeout (no pong within 200ms)")
    answering.send("40")
    assert answering.recv().startswith('40{"sid"')


@pytest.mark.slow
def test_ping_timeout_closes_a_silent_polling_session(make_mockd_server):
    server = make_mockd_server(PINGING)
    sid = handshake(server)["sid"]
    query = f"EIO=4&transport=polling&sid={sid}"
    assert http(server, query) == (200, "2")  # the ping, on the waiting poll
    gevent.sleep(0.4)  # no pong
    assert http(server, query) == (200, "1")
    assert http(server, query) == (400, '{"code": 1, "message": "Session ID unknown"}')
    events = [entry["body"] for entry in server.journal if entry["direction"] == "event"]
    assert events == [f"socket.io: session {sid}: closed: ping timeout (no pong within 200ms)"]


def test_a_poll_with_nothing_to_send_gets_a_noop(served, monkeypatch):
    # A poll waits min(pingInterval, 8 s); the 8 s made shorter for the test.
    monkeypatch.setattr(polling, "LONGEST_POLL", 0.2)
    sid = handshake(served)["sid"]
    query = f"EIO=4&transport=polling&sid={sid}"
    assert http(served, query) == (200, "6")
    assert http(served, query, "POST", "40") == (200, "ok")
    assert http(served, query)[1].startswith('40{"sid"')


@pytest.mark.slow
def test_the_ping_comes_on_a_poll_and_a_pong_keeps_the_session(make_mockd_server):
    server = make_mockd_server(PINGING.replace("pingTimeout: 200ms", "pingTimeout: 1s"))
    sid = handshake(server)["sid"]
    query = f"EIO=4&transport=polling&sid={sid}"
    for _ in range(3):
        assert http(server, query) == (200, "2")
        assert http(server, query, "POST", "3") == (200, "ok")
    assert http(server, query, "POST", "40") == (200, "ok")
    assert http(server, query)[1].startswith('40{"sid"')


def test_a_replaced_mock_forgets_its_polling_sessions(served):
    sid = handshake(served)["sid"]
    config = json.loads(json.dumps(load_yaml(docs_config())["mocks"][0]))  # YAML 1.2: "on" is a key
    assert served.admin.put("/mocks/chat", config).status == 200
    assert http(served, f"EIO=4&transport=polling&sid={sid}") == (400, '{"code": 1, "message": "Session ID unknown"}')
    handshake(served)


def test_payload_above_max_payload_is_refused(make_mockd_server):
    server = make_mockd_server(PINGING.replace("{pingInterval", "{maxPayload: 10, pingInterval"))
    sid = handshake(server)["sid"]
    assert http(server, f"EIO=4&transport=polling&sid={sid}", "POST", "4" + "x" * 20)[0] == 413


@pytest.mark.slow
def test_mockd_check_reports_located_errors(tmp_path):
    text = docs_config().replace("to: self", "to: everyone").replace('join: "{{args.0}}"', 'join: "{{argz.0}}"')
    path = tmp_path / "sio.yaml"
    path.write_text(text)
    done = mockd("check", "-c", path)
    assert done.returncode == 2, done.stdout + done.stderr
    errors = [line for line in (done.stdout + done.stderr).splitlines() if "mocks[0]" in line]
    assert len(errors) == 2, errors
    assert "mocks[0].websocket.socketio.namespaces./.events[0].to: unknown target 'everyone'" in errors[0]
    assert "mocks[0].websocket.socketio.namespaces./.events[1].join: template '{{argz.0}}'" in errors[1]


ROOMS = r"""
version: "1.0"
mocks:
  - id: rooms
    type: websocket
    websocket:
      path: /socket.io/
      protocol: socket.io
      socketio:
        namespaces:
          "/":
            events:
              - on: enter
                join: "{{args.0}}"
                emit: entered
                to: "room:{{args.0}}"
                args: ["{{sid}}"]
              - on: exit
                leave: "{{args.0}}"
                emit: left
                to: "room:{{args.0}}"
                args: ["{{sid}}"]
              - on: shout
                match: {type: regex, value: "^(\\w+)!$"}
                emit: "{{event}}ed"
                to: all
                args: ["{{match.1}}", "{{args.1.n}}"]
"""


def test_templated_rooms_leave_and_to_all(make_mockd_server, ws_client):
    server = make_mockd_server(ROOMS)
    a, b = _open_ws(server, ws_client), _open_ws(server, ws_client)
    sids = []
    for ws in (a, b):
        ws.send("40")
        sids.append(json.loads(ws.recv()[2:])["sid"])
    a.send('42["enter","r1"]')
    assert a.recv() == f'42["entered","{sids[0]}"]'  # the joiner is in the room it is told about
    b.send('42["enter","r1"]')
    assert a.recv() == b.recv() == f'42["entered","{sids[1]}"]'
    a.send('42["exit","r1"]')
    assert a.recv() == b.recv() == f'42["left","{sids[0]}"]'  # the leaver hears its own leave
    b.send('42["exit","r1"]')
    assert b.recv() == f'42["left","{sids[1]}"]'
    b.send('42["shout","hey!",{"n":3}]')
    # A got no "left" of B: not in r1 any more. {{args.1.n}} alone passes the number through.
    assert a.recv() == b.recv() == '42["shouted","hey",3]'
    b.send('42["shout","not a shout"]')  # no match: nothing
    b.send('42["shout","done!"]')
    assert b.recv() == '42["shouted","done",null]'


def test_an_event_before_its_namespace_connect_is_dropped(served, ws_client):
    ws = _open_ws(served, ws_client)
    ws.send('42["chat message","hi early"]')
    ws.send("40")
    assert ws.recv().startswith('40{"sid"')
    assert ws.recv() == '42["welcome",{"text":"hello"}]'
    ws.send('42["chat message","hi now"]')
    assert ws.recv() == '42["chat message","echo: hi now"]'
    events = [entry["body"] for entry in served.journal if entry["direction"] == "event"]
    assert any("event 'chat message' on /, which the client has not connected to: dropped" in text
               for text in events)


def test_a_polling_client_that_never_polls_cannot_pile_up_emits(make_mockd_server):
    """Found by a review: a long-polling session that pongs but never GETs kept every emit
    (112 of 500 KB: +56 MB). Its outbox is bounded like a WebSocket's outbound queue."""
    server = make_mockd_server({"version": "1.0", "mocks": [{"id": "io", "websocket": {
        "path": "/socket.io/", "protocol": "socket.io", "socketio": {"namespaces": {"/": {}}}}}]},
        max_outbound_buffer=100000)
    base = f"http://127.0.0.1:{server.port}/socket.io/?EIO=4&transport=polling"
    opened = urllib.request.urlopen(base, timeout=5).read().decode()
    sid = json.loads(opened[1:])["sid"]
    polled = f"{base}&sid={sid}"
    urllib.request.urlopen(urllib.request.Request(polled, data=b"40", method="POST"), timeout=5).read()
    sent = [server.admin.post("/socketio/emit", {"path": "/socket.io/", "event": "big", "args": ["x" * 30000]}).json
            for _ in range(5)]
    assert sent[:3] == [{"sent": 1}] * 3 and sent[-1] == {"sent": 0}  # the 4th passed 100 KB: session closed
    with pytest.raises(urllib.error.HTTPError) as gone:
        for _ in range(3):  # the close packet, then the session is forgotten
            urllib.request.urlopen(polled, timeout=5).read()
    assert gone.value.code == 400
