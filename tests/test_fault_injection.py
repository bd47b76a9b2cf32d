"""Fault injection (issue 14) through the real thing: a server on port 0, real clients.

Each connection fault type is checked by what a client sees on the wire (``_rawws.Client``
reads exact frame headers and notices an RST), by ``websocket-client``, and, for the frames
a correct client must reject, by the ``websockets`` library run in a subprocess (asyncio has
no place in this gevent-patched process; tests/upstream_ws.py runs it the same way). Then the
triggers (``after``, ``probability``, ``--seed``), the admin API, the handshake faults and
their journal, the journal's fault events and the validation of bad entries.

Every test also checks that no fault crashes anything (``no_unhandled_errors``), and those
that drop or silence a connection that it leaves the listings and its maxConnections slot.
"""
import json
import re
import struct
import subprocess
import sys
import textwrap
import time
from typing import NamedTuple

import gevent
import pytest
import websocket

from _helpers import only_connection, wait_until
from _rawws import OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, Client, parse_close
from mockd import ConfigError
from mockd.testing import check_config, recv_close, recv_text

pytestmark = pytest.mark.usefixtures("no_unhandled_errors")

MOCK = "m"
TIMESTAMP_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def mock(*faults, path="/ws", mock_id=MOCK, **spec):
    """One websocket mock entry: an echo on ``path`` with ``faults``."""
    spec.setdefault("echoMode", True)
    return {"id": mock_id, "type": "websocket", "websocket": dict(spec, path=path, faults=list(faults))}


def config(*faults, **spec):
    return {"version": "1.0", "mocks": [mock(*faults, **spec)]}


@pytest.fixture
def serve(make_mockd_server):
    """``serve(*faults, **mock_spec)``: a server with one echo mock ``m`` on /ws."""
    def serve(*faults, server_options=None, **spec):
        return make_mockd_server(config(*faults, **spec), **(server_options or {}))
    return serve


@pytest.fixture
def client(raw):
    """``client(running, path="/ws")``: a raw client past its handshake."""
    def connect(running, path="/ws", timeout=5.0):
        opened = raw(running.port, path, timeout=timeout)
        opened.handshake()
        return opened
    return connect


# ---------------------------------------------------------------- reading the wire

class Frame(NamedTuple):
    fin: bool
    rsv: int
    opcode: int
    masked: bool
    length: int      # as the header says
    payload: bytes   # unmasked


def read_frame(client, timeout=5.0):
    """The next frame exactly as the server put it on the wire (FIN, RSV, mask bit, length)."""
    client.sock.settimeout(timeout)
    b0, b1 = client.read(2)
    length = b1 & 0x7F
    if length == 126:
        length = struct.unpack("!H", client.read(2))[0]
    elif length == 127:
        length = struct.unpack("!Q", client.read(8))[0]
    key = client.read(4) if b1 & 0x80 else None
    payload = client.read(length)
    if key is not None:
        payload = bytes(byte ^ key[i % 4] for i, byte in enumerate(payload))
    return Frame(bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0x0F, bool(b1 & 0x80), length, payload)


def frames_within(client, seconds):
    """Every frame that arrives within ``seconds`` (one deadline for all); the socket must
    stay open meanwhile."""
    deadline = time.monotonic() + seconds
    got = []
    while (left := deadline - time.monotonic()) > 0:
        try:
            got.append(read_frame(client, timeout=left))
        except TimeoutError:
            break
    client.sock.settimeout(5.0)
    return got


def nothing_within(client, seconds):
    """True when the server sends nothing for ``seconds`` and leaves TCP open."""
    if client.buf:
        return False
    client.sock.settimeout(seconds)
    try:
        chunk = client.sock.recv(1 << 16)
    except TimeoutError:
        return True
    finally:
        client.sock.settimeout(5.0)
    client.buf += chunk
    raise AssertionError(f"expected nothing for {seconds:g}s, got {chunk[:60]!r}" if chunk else
                         f"expected nothing for {seconds:g}s, the server closed TCP")


def ends_with_reset(client, timeout=3.0):
    """Read until the stream ends: (bytes read, True when it ended with an RST)."""
    client.sock.settimeout(timeout)
    data = client.buf
    client.buf = b""
    try:
        while chunk := client.sock.recv(1 << 16):
            data += chunk
    except ConnectionResetError:
        return data, True
    return data, False


def echo(client, text):
    client.send_text(text)
    return client.recv_data()


def answer_close(client, code):
    """Reply to the server's close frame; True when the server then ends TCP (FIN, nothing more)."""
    client.send(OP_CLOSE, struct.pack("!H", code))
    return client.at_eof(drain=False)


def listed(running):
    """The connection ids of GET /websocket/connections."""
    return [c["id"] for c in running.admin.get("/websocket/connections").json["connections"]]


def handshake_status(running, path="/ws"):
    """Status code of a fresh raw handshake on ``path`` (the socket is closed after)."""
    probe = Client(running.port, path, handshake=False)
    try:
        return int(probe.request()[0].split()[1])
    finally:
        probe.sock.close()


def fault_events(running):
    """The bodies' JSON of the journal's ``fault {...}`` events, oldest first."""
    entries = running.admin.get("/websocket/messages").json["messages"]
    events = [e for e in entries if e["direction"] == "event"]
    assert all(e["body"].startswith("fault {") for e in events), events
    return [json.loads(e["body"][len("fault "):]) for e in events]


# ---------------------------------------------------------------- one test per connection fault

def test_close_is_a_clean_close_with_its_code_and_reason(serve, client, ws_client):
    fault = {"type": "close", "code": 4000, "reason": "going away now"}
    running = serve(fault)
    first = client(running)
    close = read_frame(first)
    assert (close.fin, close.opcode, parse_close(close.payload)) == (True, OP_CLOSE, (4000, b"going away now"))
    assert answer_close(first, 4000)  # our reply completes the closing handshake
    # websocket-client sees the same clean close
    assert recv_close(ws_client(running.url()), allow_data=False) == (4000, "going away now")
    assert wait_until(lambda: not listed(running))
    assert running.server.connections.stats()["activeConnections"] == 0


def test_drop_resets_tcp_without_a_close_frame_and_frees_the_slot(serve, client, ws_client):
    running = serve({"type": "drop", "after": {"messages": 1}}, maxConnections=1)
    dropped = client(running)
    assert echo(dropped, "last words") == "last words"  # the 1st message is answered, then the drop
    assert ends_with_reset(dropped) == (b"", True), "an RST and no close frame"
    assert wait_until(lambda: not listed(running), timeout=2)
    assert running.server.connections.stats()["activeConnections"] == 0
    # maxConnections: 1 still counts right: the dropped one's slot is free, and the next one
    # holds it while it lives
    following = ws_client(running.url())
    assert handshake_status(running) == 503
    following.send("again")
    assert recv_text(following) == "again"
    with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionResetError)):
        following.recv()  # websocket-client: no close frame, the stream just ends
    assert wait_until(lambda: not listed(running), timeout=2)
    assert echo(client(running), "third") == "third"


def test_drop_without_after_resets_right_after_the_upgrade(serve, raw):
    running = serve({"type": "drop"})
    dropped = raw(running.port)
    dropped.handshake()  # the 101 comes first: connection faults apply to upgraded connections
    assert ends_with_reset(dropped) == (b"", True)
    assert wait_until(lambda: not listed(running), timeout=2)


@pytest.mark.slow
def test_silence_reads_and_writes_nothing_until_the_client_leaves(serve, client):
    running = serve({"type": "silence", "after": {"messages": 1}}, maxConnections=1)
    silenced = client(running)
    assert echo(silenced, "before") == "before"
    silenced.send_text("after")
    silenced.send(OP_PING, b"anyone?")
    assert nothing_within(silenced, 0.5)  # no reply, no pong, and TCP still open
    (connection,) = running.admin.get("/websocket/connections").json["connections"]
    assert connection["status"] == "connected"
    assert handshake_status(running) == 503  # it still holds the maxConnections slot
    silenced.sock.close()  # the client gives up: FIN
    started = time.monotonic()
    assert wait_until(lambda: not listed(running), timeout=2)
    assert time.monotonic() - started < 2
    # the slot is free again; a client that vanishes with an RST is noticed as well
    second = client(running)
    assert echo(second, "one") == "one"
    second.reset()
    assert wait_until(lambda: not listed(running), timeout=2)
    assert running.server.connections.stats()["activeConnections"] == 0
    assert echo(client(running), "three") == "three"


@pytest.mark.slow
def test_stop_pongs_leaves_pings_unanswered_while_data_flows(serve, client):
    running = serve({"type": "stopPongs", "after": {"messages": 1}})
    pinged = client(running)
    pinged.send(OP_PING, b"before")
    assert read_frame(pinged)[2:] == (OP_PONG, False, 6, b"before")  # pongs until the fault
    assert echo(pinged, "one") == "one"
    pinged.send(OP_PING, b"after")
    pinged.send_text("two")
    pinged.send(OP_PING, b"again")
    got = frames_within(pinged, 0.5)
    assert [(f.opcode, f.payload) for f in got] == [(OP_TEXT, b"two")]  # the echo, no pong
    assert echo(pinged, "three") == "three"
    assert pinged.close() == 1000


@pytest.mark.slow
def test_latency_holds_each_frame_and_keeps_their_order(serve, client):
    running = serve({"type": "latency", "fixed": "200ms"})
    slow = client(running)
    started = time.monotonic()
    assert echo(slow, "hello") == "hello"
    assert 0.18 <= time.monotonic() - started <= 1.5
    slow.send(OP_PING, b"p")
    started = time.monotonic()
    assert read_frame(slow)[2:] == (OP_PONG, False, 1, b"p")  # control frames are held too
    assert 0.18 <= time.monotonic() - started <= 1.5
    started = time.monotonic()
    assert slow.close() == 1000  # the reply to our close is held too
    assert 0.18 <= time.monotonic() - started <= 1.5
    assert wait_until(lambda: not listed(running), timeout=2)
    # with jitter each frame is held a different time, yet they arrive in order
    jittery = serve({"type": "latency", "fixed": "20ms", "jitter": "200ms"}, path="/jitter")
    other = client(jittery, "/jitter")
    sent = [f"m{i}" for i in range(10)]
    started = time.monotonic()
    for text in sent:
        other.send_text(text)
    assert [other.recv_data() for _ in sent] == sent
    assert 0.02 <= time.monotonic() - started <= 2.5


@pytest.mark.slow
def test_throttle_paces_outbound_bytes(serve, client):
    running = serve({"type": "throttle", "bytesPerSecond": 40000})
    paced = client(running)
    payload = bytes(range(256)) * 78 + b"x" * 32  # 20000 bytes
    assert len(payload) == 20000
    started = time.monotonic()
    paced.send(OP_BINARY, payload)
    assert paced.recv_data() == payload
    elapsed = time.monotonic() - started
    assert 0.4 <= elapsed <= 3.0, elapsed


def test_fragment_splits_data_messages_into_continuation_frames(serve, client, ws_client):
    running = serve({"type": "fragment", "size": 10})
    split = client(running)
    split.send_text("abcdefghij" * 3 + "xyz")
    got = [read_frame(split) for _ in range(4)]
    assert [(f.fin, f.opcode, f.length) for f in got] == [
        (False, OP_TEXT, 10), (False, OP_CONT, 10), (False, OP_CONT, 10), (True, OP_CONT, 3)]
    assert b"".join(f.payload for f in got) == b"abcdefghij" * 3 + b"xyz"
    split.send(OP_BINARY, bytes(25))
    got = [read_frame(split) for _ in range(3)]
    assert [(f.fin, f.opcode, f.length) for f in got] == [(False, OP_BINARY, 10), (False, OP_CONT, 10),
                                                            (True, OP_CONT, 5)]
    split.send_text("0123456789")  # no more than the size: one frame
    assert read_frame(split)[:5] == (True, 0, OP_TEXT, False, 10)
    split.send(OP_PING, b"p" * 20)  # control frames are never fragmented
    assert read_frame(split)[:5] == (True, 0, OP_PONG, False, 20)
    assert split.close() == 1000
    # websocket-client puts the message together again, multi-byte characters cut included
    ws = ws_client(running.url())
    text = "é" * 40 + "ok"
    ws.send(text)
    assert recv_text(ws) == text


# What the raw wire shows for each kind: (FIN, RSV, opcode, mask bit, header length).
BAD_FRAME_BITS = {
    "invalidUtf8": (True, 0, OP_TEXT, False, 4),
    "reservedBit": (True, 4, OP_TEXT, False, 3),
    "maskedFrame": (True, 0, OP_TEXT, True, 4),
    "badOpcode": (True, 0, 3, False, 3),
    "oversizeControl": (True, 0, OP_PING, False, 126),
}
BAD_FRAME_CODES = {"invalidUtf8": 1007, "reservedBit": 1002, "maskedFrame": 1002, "badOpcode": 1002,
                   "oversizeControl": 1002}


@pytest.mark.parametrize("kind", sorted(BAD_FRAME_BITS))
def test_bad_frame_is_on_the_wire_as_described(serve, client, kind):
    running = serve({"type": "badFrame", "kind": kind, "after": {"messages": 1}})
    victim = client(running)
    assert echo(victim, "fine") == "fine"
    bad = read_frame(victim)
    assert bad[:5] == BAD_FRAME_BITS[kind]
    if kind == "invalidUtf8":
        with pytest.raises(UnicodeDecodeError):
            bad.payload.decode("utf-8")
    if kind == "maskedFrame":
        assert bad.payload == b"mask"
    # the client fails the connection as it should; the server answers with its close
    victim.send(OP_CLOSE, struct.pack("!H", BAD_FRAME_CODES[kind]))
    assert read_frame(victim).opcode == OP_CLOSE
    assert wait_until(lambda: not listed(running), timeout=2)


WEBSOCKETS_CLIENT = textwrap.dedent("""
    import json, sys
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    results = {}
    for url in sys.argv[1:]:
        with connect(url, open_timeout=5, close_timeout=2) as ws:
            ws.send("hello")
            result = results[url] = {"echo": ws.recv(timeout=5)}
            try:
                result["unexpected"] = repr(ws.recv(timeout=5))
            except ConnectionClosed as exc:
                result["error"] = type(exc).__name__
                result["sent"] = exc.sent and [exc.sent.code, exc.sent.reason]
                result["rcvd"] = exc.rcvd and [exc.rcvd.code, exc.rcvd.reason]
    print(json.dumps(results))
""")


def websockets_client(*urls):
    """What the ``websockets`` sync client (in a subprocess) sees on each URL after sending
    ``hello``: ``{"echo", "error", "sent", "rcvd"}`` (its close, the server's close)."""
    done = subprocess.run([sys.executable, "-c", WEBSOCKETS_CLIENT, *urls], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.slow
def test_bad_frames_are_rejected_by_websockets_and_websocket_client(make_mockd_server):
    kinds = sorted(BAD_FRAME_CODES)
    running = make_mockd_server({"version": "1.0", "mocks": [
        mock({"type": "badFrame", "kind": kind, "after": {"messages": 1}}, path=f"/{kind}", mock_id=kind)
        for kind in kinds] + [mock({"type": "drop", "after": {"messages": 1}}, path="/drop", mock_id="drop")]})
    seen = websockets_client(*(running.url(f"/{kind}") for kind in kinds), running.url("/drop"))
    for kind in kinds:
        result = seen[running.url(f"/{kind}")]
        assert result["echo"] == "hello", (kind, result)
        assert result["error"] == "ConnectionClosedError", (kind, result)
        assert result["sent"][0] == BAD_FRAME_CODES[kind], (kind, result)  # the client failed the connection
    # a drop: neither side's close frame, what websockets reports as 1006
    assert seen[running.url("/drop")] == {"echo": "hello", "error": "ConnectionClosedError", "sent": None,
                                          "rcvd": None}
    # websocket-client checks all but the mask bit of a server frame
    for kind in kinds:
        if kind == "maskedFrame":
            continue
        ws = websocket.create_connection(running.url(f"/{kind}"), timeout=5)
        ws.send("hello")
        assert ws.recv() == "hello"
        with pytest.raises(websocket.WebSocketException):
            ws.recv()
        ws.close(timeout=1)
    assert wait_until(lambda: not listed(running), timeout=3)


# ---------------------------------------------------------------- triggers

def test_after_messages_answers_the_nth_message_then_applies(serve, client):
    running = serve({"type": "close", "code": 4001, "reason": "after two", "after": {"messages": 2}})
    counted = client(running)
    assert echo(counted, "one") == "one"
    counted.send_text("two")
    got = [read_frame(counted), read_frame(counted)]
    assert [(f.opcode, f.payload) for f in got] == [(OP_TEXT, b"two"),
                                                    (OP_CLOSE, struct.pack("!H", 4001) + b"after two")]
    assert answer_close(counted, 4001)


@pytest.mark.parametrize("kind", ["drop", pytest.param("silence", marks=pytest.mark.slow), "badFrame"])
def test_after_messages_waits_for_the_reply_held_by_latency(serve, client, kind):
    # "the N-th message is handled as usual (its reply goes out), then the fault applies",
    # also when latency holds that reply: the fault does not overtake it nor swallow it.
    fault = {"type": kind, "after": {"messages": 1}, **({"kind": "badOpcode"} if kind == "badFrame" else {})}
    running = serve({"type": "latency", "fixed": "150ms"}, fault)
    held = client(running)
    started = time.monotonic()
    held.send_text("reply first")
    first = read_frame(held)
    assert (first.opcode, first.payload) == (OP_TEXT, b"reply first")
    assert 0.13 <= time.monotonic() - started <= 1.5
    if kind == "drop":
        assert ends_with_reset(held) == (b"", True)
    elif kind == "silence":
        held.send_text("anyone?")
        assert nothing_within(held, 0.4)
    else:
        assert read_frame(held)[:5] == BAD_FRAME_BITS["badOpcode"]


def test_after_messages_drop_lets_a_large_reply_reach_the_client_first(serve, client):
    # The RST of a drop discards what the kernel has not sent yet: the drop waits for the
    # reply to be out of mockd's queue and the kernel's, then resets.
    running = serve({"type": "drop", "after": {"messages": 1}}, maxMessageSize=4 << 20)
    big = client(running)
    payload = bytes(range(256)) * 4096  # 1 MiB
    big.send(OP_BINARY, payload)
    gevent.sleep(0.3)  # the client reads late: the reply waits in queues meanwhile
    assert big.recv_data() == payload
    assert ends_with_reset(big) == (b"", True)


@pytest.mark.slow
def test_a_bad_frame_posted_while_latency_holds_frames_comes_after_them(serve, client):
    running = serve({"type": "latency", "fixed": "300ms"})
    held = client(running)
    held.send_text("sent before")
    connection = only_connection(running)
    assert wait_until(lambda: connection.messages_received == 1)
    reply = running.admin.post(f"/websocket/connections/{connection.id}/faults",
                               {"type": "badFrame", "kind": "reservedBit"})
    assert reply.json["connections"] == 1
    first = read_frame(held)
    assert (first.opcode, first.payload) == (OP_TEXT, b"sent before")
    assert read_frame(held)[:5] == BAD_FRAME_BITS["reservedBit"]
    # in silence a bad frame is not written either
    running.admin.post(f"/websocket/connections/{connection.id}/faults", {"type": "silence"})
    running.admin.post(f"/websocket/connections/{connection.id}/faults", {"type": "badFrame", "kind": "badOpcode"})
    assert nothing_within(held, 0.5)


def test_after_duration_applies_that_long_after_the_upgrade(serve, client):
    running = serve({"type": "close", "code": 4002, "after": {"duration": "300ms"}})
    started = time.monotonic()
    timed = client(running)
    assert echo(timed, "in time") == "in time"
    close = read_frame(timed, timeout=3)
    elapsed = time.monotonic() - started
    assert parse_close(close.payload) == (4002, b"")
    assert 0.28 <= elapsed <= 1.5, elapsed


def test_probability_zero_never_applies_and_one_always_does(make_mockd_server, client):
    running = make_mockd_server({"version": "1.0", "mocks": [
        mock({"type": "close", "code": 4000, "probability": 0}, path="/never", mock_id="never"),
        mock({"type": "close", "code": 4000, "probability": 1}, path="/always", mock_id="always")]})
    for i in range(8):
        spared = client(running, "/never")
        assert echo(spared, f"n{i}") == f"n{i}"
        assert spared.close() == 1000
        hit = client(running, "/always")
        assert parse_close(read_frame(hit).payload) == (4000, b"")
        hit.close()
    applied = fault_events(running)
    assert applied == [{"type": "close", "code": 4000, "probability": 1}] * 8


def fault_pattern(make_mockd_server, seed, count=12):
    """Which of ``count`` connections in a row get a fault of probability 0.5 with ``seed``."""
    running = make_mockd_server(config({"type": "close", "code": 4000, "probability": 0.5}), seed=seed)
    pattern = []
    for i in range(count):
        one = Client(running.port)
        one.send_text(f"c{i}")
        first = read_frame(one)
        pattern.append(first.opcode == OP_CLOSE)
        one.close()
    return pattern


@pytest.mark.slow
def test_a_seed_repeats_the_fault_decisions(make_mockd_server):
    first = fault_pattern(make_mockd_server, 7)
    assert fault_pattern(make_mockd_server, 7) == first
    assert 0 < sum(first) < len(first)  # a pattern, not all or none
    assert fault_pattern(make_mockd_server, 8) != first


# ---------------------------------------------------------------- the admin API

def test_posting_a_fault_reaches_live_and_new_connections(serve, ws_client):
    running = serve()
    live = [ws_client(running.url()) for _ in range(2)]
    for ws in live:
        ws.send("hi")
        assert recv_text(ws) == "hi"
    assert wait_until(lambda: len(listed(running)) == 2)
    fault = {"type": "close", "code": 4003, "reason": "from the admin API"}
    reply = running.admin.post(f"/mocks/{MOCK}/faults", fault)
    assert reply.status == 201
    assert reply.json == {"applied": fault, "mockId": MOCK, "connections": 2}
    for ws in live:
        assert recv_close(ws, allow_data=False) == (4003, "from the admin API")
    assert recv_close(ws_client(running.url()), allow_data=False) == (4003, "from the admin API")
    assert running.admin.get(f"/mocks/{MOCK}/faults").json == {"mockId": MOCK, "faults": [fault]}
    # not a change of the mock's definition: its config (no faults) is what GET /mocks/{id} shows
    assert running.admin.get(f"/mocks/{MOCK}").json["websocket"].get("faults", []) == []
    assert running.admin.delete(f"/mocks/{MOCK}/faults").json == {"cleared": 1, "mockId": MOCK, "connections": 0}
    spared = ws_client(running.url())
    spared.send("free")
    assert recv_text(spared) == "free"
    assert running.admin.post("/mocks/nope/faults", fault).status == 404


def test_delete_lifts_latency_stop_pongs_and_fragment_on_a_live_connection(serve, client):
    running = serve()
    impaired = client(running)
    assert echo(impaired, "warm") == "warm"
    for fault in ({"type": "latency", "fixed": "300ms"}, {"type": "stopPongs"}, {"type": "fragment", "size": 2}):
        assert running.admin.post(f"/mocks/{MOCK}/faults", fault).json["connections"] == 1
    impaired.send(OP_PING, b"hello?")
    started = time.monotonic()
    impaired.send_text("slow")
    got = [read_frame(impaired), read_frame(impaired)]
    assert time.monotonic() - started >= 0.28
    assert [(f.fin, f.opcode, f.payload) for f in got] == [(False, OP_TEXT, b"sl"), (True, OP_CONT, b"ow")]
    cleared = running.admin.delete(f"/mocks/{MOCK}/faults")
    assert cleared.json == {"cleared": 3, "mockId": MOCK, "connections": 1}
    assert running.admin.get(f"/mocks/{MOCK}/faults").json["faults"] == []
    impaired.send(OP_PING, b"there?")
    started = time.monotonic()
    impaired.send_text("fast")
    got = [read_frame(impaired), read_frame(impaired)]
    assert time.monotonic() - started < 0.25
    assert [(f.fin, f.opcode, f.payload) for f in got] == [(True, OP_PONG, b"there?"), (True, OP_TEXT, b"fast")]
    assert impaired.close() == 1000


@pytest.mark.slow
def test_delete_releases_frames_latency_holds_and_a_throttled_backlog_at_once(serve, client):
    """Found by a review: a lift left held frames to their due time (fixed: 6s: 5.5 s after the
    DELETE), and a writer kept pacing a backlog at the old rate (at 1 byte a second, forever)."""
    running = serve(maxMessageSize=200000)
    held = client(running)
    assert echo(held, "warm") == "warm"
    running.admin.post(f"/mocks/{MOCK}/faults", {"type": "latency", "fixed": "6s"})
    held.send_text("held")
    time.sleep(0.2)
    started = time.monotonic()
    running.admin.delete(f"/mocks/{MOCK}/faults")
    held.send_text("after the lift")
    assert [held.recv_data(), held.recv_data()] == ["held", "after the lift"]
    assert time.monotonic() - started < 1.0
    running.admin.post(f"/mocks/{MOCK}/faults", {"type": "throttle", "bytesPerSecond": 1000})
    slow = client(running)
    slow.send_text("x" * 100000)  # 100 s at the throttled rate
    time.sleep(0.3)
    started = time.monotonic()
    running.admin.delete(f"/mocks/{MOCK}/faults")
    assert slow.recv_data() == "x" * 100000
    assert time.monotonic() - started < 2.0


def test_a_fault_posted_to_one_connection_applies_now(serve, client):
    running = serve()
    target, bystander = client(running), client(running)
    assert echo(target, "a") == "a" and echo(target, "b") == "b" and echo(bystander, "c") == "c"
    assert wait_until(lambda: len(listed(running)) == 2)
    target_id = next(c["id"] for c in running.admin.get("/websocket/connections").json["connections"]
                     if c["messagesRecv"] == 2)
    reply = running.admin.post(f"/websocket/connections/{target_id}/faults", {"type": "drop"})
    assert reply.status == 200
    assert reply.json == {"applied": {"type": "drop"}, "connection": target_id, "connections": 1}
    data, reset = ends_with_reset(target, timeout=1.0)
    assert (data, reset) == (b"", True)
    assert echo(bystander, "still here") == "still here"
    assert wait_until(lambda: len(listed(running)) == 1 and target_id not in listed(running), timeout=2)


def test_a_handshake_fault_posted_to_a_connection_is_a_400(serve, client):
    running = serve()
    live = client(running)
    connection = only_connection(running)
    reply = running.admin.post(f"/websocket/connections/{connection.id}/faults", {"type": "refuse", "count": 1})
    assert reply.status == 400
    assert reply.json["error"] == "validation_error"
    assert "applies to a mock's handshakes" in reply.json["message"]
    assert f"POST it to /mocks/{MOCK}/faults" in reply.json["message"]
    assert echo(live, "unharmed") == "unharmed"
    assert running.admin.post("/websocket/connections/nope/faults", {"type": "drop"}).status == 404


# ---------------------------------------------------------------- handshake faults

def test_refuse_with_count_and_retry_after_then_the_journal(make_mockd_server, raw):
    running = make_mockd_server({"version": "1.0", "mocks": [
        mock({"type": "refuse", "status": 503, "count": 2, "retryAfter": 1}),
        mock(path="/other", mock_id="other")]})
    for _ in range(2):
        status_line, headers, body = raw(running.port).request()
        assert status_line.startswith("HTTP/1.1 503 ")
        assert headers["retry-after"] == "1"
        assert headers["connection"] == "close"
        assert body
    accepted = raw(running.port)
    accepted.handshake()
    assert echo(accepted, "third") == "third"
    raw(running.port, "/other").handshake()
    assert running.admin.get(f"/mocks/{MOCK}/faults").json["faults"] == [
        {"type": "refuse", "status": 503, "count": 2, "retryAfter": 1, "remaining": 0}]

    journal = running.admin.get("/websocket/handshakes").json
    assert journal["count"] == 4
    ours = journal["handshakes"][:3]
    assert [(h["status"], h["refusedBy"], h["mockId"], h["path"]) for h in ours] == [
        (503, "fault", MOCK, "/ws"), (503, "fault", MOCK, "/ws"), (101, None, MOCK, "/ws")]
    assert all(TIMESTAMP_MS.match(h["at"]) for h in journal["handshakes"])
    assert [h["at"] for h in journal["handshakes"]] == sorted(h["at"] for h in journal["handshakes"])
    assert ours[2]["connectionId"] and "connectionId" not in ours[0]
    assert ours[0]["remoteAddr"] == "127.0.0.1"
    events = running.admin.get("/websocket/messages", query={"direction": "event"}).json["messages"]
    assert [(e["connectionId"], e["mockId"], e["path"], e["body"]) for e in events] == [
        (None, MOCK, "/ws", 'fault {"type":"refuse","status":503,"count":2,"retryAfter":1} refused a handshake '
                            'from 127.0.0.1')] * 2

    def query(**params):
        return running.admin.get("/websocket/handshakes", query=params).json["handshakes"]
    assert query(mockId=MOCK) == ours
    assert query(mockId="other") == journal["handshakes"][3:]
    assert query(path="/ws") == ours
    assert query(path="/nowhere") == []
    assert query(limit=1) == journal["handshakes"][3:]
    assert query(mockId=MOCK, limit=2) == ours[1:]
    assert running.admin.get("/websocket/handshakes", query={"limit": "-1"}).status == 400
    cleared = running.admin.delete("/websocket/handshakes")
    assert (cleared.status, cleared.body) == (204, b"")
    assert running.admin.get("/websocket/handshakes").json == {"handshakes": [], "count": 0}


def test_refused_handshakes_as_websocket_client_sees_them(serve, ws_client):
    running = serve({"type": "refuse", "status": 429, "retryAfter": "2s", "count": 1})
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(running.url(), timeout=5)
    assert refused.value.status_code == 429
    assert refused.value.resp_headers["retry-after"] == "2"
    ws = ws_client(running.url())
    ws.send("now")
    assert recv_text(ws) == "now"


def test_refuse_with_reset_answers_nothing(serve, raw):
    running = serve({"type": "refuse", "reset": True, "count": 1})
    refused = raw(running.port)
    refused.sock.sendall(refused.request_bytes())
    data, reset = ends_with_reset(refused)
    assert (data, reset) == (b"", True)
    accepted = raw(running.port)
    accepted.handshake()
    assert echo(accepted, "after the reset") == "after the reset"
    entries = running.admin.get("/websocket/handshakes").json["handshakes"]
    assert [(h["status"], h["refusedBy"]) for h in entries] == [(None, "fault"), (101, None)]


@pytest.mark.slow
def test_refuse_with_hang_answers_nothing_until_it_closes(serve, raw):
    running = serve({"type": "refuse", "hang": "1s", "count": 2})
    patient, impatient = raw(running.port), raw(running.port)
    started = time.monotonic()
    patient.sock.sendall(patient.request_bytes())
    impatient.sock.sendall(impatient.request_bytes())
    assert nothing_within(impatient, 0.2)
    impatient.sock.close()  # gives up early: the server just lets it go
    assert nothing_within(patient, 0.5)
    data, reset = ends_with_reset(patient, timeout=3)
    elapsed = time.monotonic() - started
    assert data == b"" and not reset  # closed (FIN) without an HTTP answer
    assert 0.9 <= elapsed <= 2.5, elapsed
    accepted = raw(running.port)
    accepted.handshake()  # count: 2 used up
    assert echo(accepted, "at last") == "at last"
    entries = running.admin.get("/websocket/handshakes").json["handshakes"]
    assert [(h["status"], h["refusedBy"]) for h in entries] == [(None, "fault")] * 2 + [(101, None)]


# ---------------------------------------------------------------- journal and validation

def test_each_applied_fault_is_a_journal_event(serve, client):
    configured = {"type": "latency", "fixed": "1ms"}
    running = serve(configured, {"type": "close", "code": 4000, "probability": 0})
    first = client(running)
    assert echo(first, "a") == "a"
    posted = {"type": "close", "code": 4005, "reason": "posted"}
    running.admin.post(f"/mocks/{MOCK}/faults", posted)
    assert parse_close(read_frame(first).payload) == (4005, b"posted")
    entries = [e for e in running.admin.get("/websocket/messages").json["messages"] if e["direction"] == "event"]
    assert [e["body"] for e in entries] == [f"fault {json.dumps(configured, separators=(',', ':'))}",
                                            f"fault {json.dumps(posted, separators=(',', ':'))}"]
    connection_id = entries[0]["connectionId"]
    assert all(e["connectionId"] == connection_id and e["mockId"] == MOCK and e["path"] == "/ws" for e in entries)
    assert fault_events(running) == [configured, posted]


BAD_FAULTS = [
    ({"type": "nope"}, "type", "unknown fault type 'nope'"),
    ({"type": "close", "colour": "red"}, "colour", "unknown key 'colour'"),
    ({"type": "close", "code": 1005}, "code", "close code 1005 may not be sent"),
    ({"type": "close", "code": 1006}, "code", "close code 1006 may not be sent"),
    ({"type": "close", "code": 1015}, "code", "close code 1015 may not be sent"),
    ({"type": "close", "code": 999}, "code", "close code 999 may not be sent"),
    ({"type": "close", "code": 5000}, "code", "close code 5000 may not be sent"),
    ({"type": "close", "reason": "x" * 124}, "reason", "at most 123 bytes"),
    ({"type": "drop", "probability": 1.5}, "probability", "must be from 0 to 1"),
    ({"type": "drop", "probability": -0.1}, "probability", "must be from 0 to 1"),
    ({"type": "drop", "probability": "half"}, "probability", "expected a number from 0 to 1"),
    ({"type": "fragment", "size": 0}, "size", "must be at least 1, got 0"),
    ({"type": "fragment", "size": -16}, "size", "must be at least 1, got -16"),
    ({"type": "fragment"}, "", "'size' is required"),
    ({"type": "throttle", "bytesPerSecond": 0}, "bytesPerSecond", "must be at least 1, got 0"),
    ({"type": "latency", "fixed": "-5ms"}, "fixed", "zero or more"),
    ({"type": "latency"}, "", "give 'fixed'"),
    ({"type": "badFrame", "kind": "weird"}, "kind", "unknown value 'weird'"),
    ({"type": "drop", "after": {"messages": 0}}, "after.messages", "must be at least 1, got 0"),
    ({"type": "drop", "after": {"seconds": 1}}, "after.seconds", "unknown key 'seconds'"),
    ({"type": "drop", "count": 2}, "count", "unknown key 'count'"),
    ({"type": "refuse", "status": 200}, "status", "400-599"),
    ({"type": "refuse", "count": 0}, "count", "must be at least 1, got 0"),
    ({"type": "refuse", "after": {"messages": 1}}, "after", "has no 'after'"),
    ({"type": "refuse", "reset": True, "hang": "1s"}, "hang", "exclude each other"),
    # found by a review: a 400-digit probability was a 500 (OverflowError), huge values were taken
    ({"type": "drop", "probability": 10 ** 400}, "probability", "must be from 0 to 1"),
    ({"type": "drop", "after": {"messages": None}}, "after", "give one of 'messages'"),
    ({"type": "latency", "fixed": "100000h"}, "fixed", "at most 24h"),
    ({"type": "latency", "fixed": float("nan")}, "fixed", "expected a duration string"),
    ({"type": "close", "after": {"duration": "25h"}}, "after.duration", "at most 24h"),
    ({"type": "refuse", "hang": "100000000000000000000h"}, "hang", "at most 24h"),
    ({"type": "refuse", "retryAfter": 10 ** 100}, "retryAfter", "must be 0 to 86400 seconds"),
    ({"type": "throttle", "bytesPerSecond": 10 ** 400}, "bytesPerSecond", "a number of 401 digits"),
    ({"type": "fragment", "size": 10 ** 30}, "size", "at most 1099511627776"),
]


@pytest.mark.parametrize("fault, key, message", BAD_FAULTS,
                         ids=[f"{i}-{fault['type']}-{key or 'entry'}" for i, (fault, key, _) in enumerate(BAD_FAULTS)])
def test_bad_fault_entries_are_located_config_errors(fault, key, message):
    where = "mocks[0].websocket.faults[0]" + (f".{key}" if key else "")
    with pytest.raises(ConfigError) as error:
        check_config(config(fault))
    assert error.value.where == where
    assert str(error.value).startswith(f"{where}: ") and message in str(error.value)


def test_every_problem_of_a_fault_list_is_located_in_the_yaml(write_config):
    path = write_config(textwrap.dedent("""\
        version: "1.0"
        mocks:
          - id: m
            websocket:
              path: /ws
              echoMode: true
              faults:
                - {type: latency, fixed: 10ms}
                - {type: close, code: 1006, probability: 2}
                - {type: refuse, status: 503, after: {duration: 1s}}
        """))
    with pytest.raises(ConfigError) as error:
        check_config(path)
    text = str(error.value)
    for expected in ("mocks[0].websocket.faults[1].code: close code 1006 may not be sent",
                     "mocks[0].websocket.faults[1].probability: must be from 0 to 1",
                     "mocks[0].websocket.faults[2].after: a handshake fault applies to the next upgrades"):
        assert expected in text, text
    assert "faults[0]" not in text


def test_bad_fault_entries_are_400s_from_the_admin_api(serve, client):
    running = serve()
    live = client(running)
    for fault, key, message in BAD_FAULTS:
        reply = running.admin.post(f"/mocks/{MOCK}/faults", fault)
        if any(value != value for value in fault.values() if isinstance(value, float)):  # NaN: not JSON at all
            assert (reply.status, reply.json["error"]) == (400, "invalid_json"), (fault, reply)
            continue
        assert (reply.status, reply.json["error"]) == (400, "validation_error"), (fault, reply)
        where = "fault" + (f".{key}" if key else "")  # the request body is the entry
        assert reply.json["message"].startswith(f"{where}: ") and message in reply.json["message"], (fault, reply)
    assert running.admin.get(f"/mocks/{MOCK}/faults").json["faults"] == []
    assert echo(live, "untouched") == "untouched"
