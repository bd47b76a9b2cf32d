"""The rules where the user documentation is silent (HTTP statuses, close codes, echo precedence,
scenarios), as README.rst states them, proven against real servers.

Every test starts an in-process server with ``make_mockd_server`` (127.0.0.1, port 0) and
talks to it with real clients: ``websocket-client``, or the raw-socket client of ``_rawws.py``
(the ``raw`` fixture) where a client library would refuse to misbehave (invalid UTF-8,
unmasked frames, unanswered pings, vanishing mid-frame). Durations are short; upper bounds
are generous.

The guard ``no_unhandled_errors`` (conftest.py) fails any test during which a ``mockd`` logger
recorded an ERROR, or the gevent hub printed a traceback (an unhandled exception in a greenlet).
"""
import base64
import json
import os
import struct
import time

import gevent
import pytest
import websocket

from _helpers import wait_until
from _rawws import OP_BINARY, OP_CLOSE, OP_PING, OP_TEXT, Client, frame
from mockd.testing import assert_silent, recv_close, recv_text, websocket_mock

pytestmark = pytest.mark.usefixtures("no_unhandled_errors")


# ---------------------------------------------------------------------------- helpers

@pytest.fixture
def connect(ws_client):
    """``connect(url, **kw)``: a websocket-client connection, closed before the server stops."""
    return ws_client


def http(port, path, upgrade=True, headers=()):
    """One HTTP request (a WebSocket handshake by default): (status, headers, body text)."""
    client = Client(port, path, handshake=False)
    try:
        status_line, response_headers, body = client.request(upgrade=upgrade, headers=headers)
        return int(status_line.split()[1]), response_headers, body.decode("utf-8")
    finally:
        client.sock.close()


def recv(ws, timeout=5.0):
    """The next data message, as ``(opcode, payload)``; pings are answered and skipped."""
    ws.settimeout(timeout)
    while True:
        opcode, data = ws.recv_data(control_frame=False)
        if opcode in (OP_TEXT, OP_BINARY):
            return opcode, data.decode("utf-8") if opcode == OP_TEXT else data
        assert opcode != OP_CLOSE, f"connection closed: {data!r}"


SYNC = {"match": {"type": "exact", "value": "sync"}, "response": {"type": "text", "value": "synced"}}


def reply_or_sync(ws, message):
    """Send ``message`` then ``sync``; return the first text that comes back.

    Replies keep request order, so ``"synced"`` means ``message`` got no reply at all."""
    ws.send(message)
    ws.send("sync")
    return recv_text(ws)


# ---------------------------------------------------------------------------- HTTP statuses

def test_handshake_to_unknown_path_is_404(make_mockd_server):
    running = make_mockd_server(websocket_mock("/ws"))
    status, _, body = http(running.port, "/nowhere")
    assert status == 404
    assert "websocket_endpoint_not_found" in body
    assert http(running.port, "/ws/")[0] == 404  # exact paths: no trailing-slash folding


def test_query_string_is_ignored_by_routing(make_mockd_server, connect):
    running = make_mockd_server(websocket_mock("/ws"))
    ws = connect(running.url("/ws?token=abc&x=1"))
    ws.send("routed")
    assert recv_text(ws) == "routed"


def test_plain_get_to_websocket_path_is_400(make_mockd_server):
    running = make_mockd_server(websocket_mock("/ws"))
    status, _, body = http(running.port, "/ws", upgrade=False)
    assert status == 400
    assert "WebSocket upgrade required" in body


def test_disabled_mock_is_404(make_mockd_server, connect):
    config = websocket_mock("/off", echoMode=True)
    config["mocks"][0]["enabled"] = False
    config["mocks"].append({"id": "on", "websocket": {"path": "/on"}})
    running = make_mockd_server(config)
    assert http(running.port, "/off")[0] == 404
    assert http(running.port, "/off", upgrade=False)[0] == 404
    ws = connect(running.url("/on"))  # the enabled neighbour is served
    ws.send("x")
    assert recv_text(ws) == "x"


def test_max_connections_503_and_slot_freed_after_close(make_mockd_server, connect):
    running = make_mockd_server(websocket_mock("/ws", maxConnections=2))
    first = connect(running.url())
    connect(running.url())
    status, _, body = http(running.port, "/ws")
    assert status == 503
    assert "max connections reached" in body
    first.close()
    # The slot frees once the server has noticed the close.
    assert wait_until(lambda: http(running.port, "/ws")[0] != 503, timeout=3)
    third = connect(running.url())
    third.send("again")
    assert recv_text(third) == "again"
    assert http(running.port, "/ws")[0] == 503
    third.sock.close()  # gone without a close frame: the slot frees as well
    assert wait_until(lambda: http(running.port, "/ws")[0] != 503, timeout=3)


def test_require_subprotocol(make_mockd_server, connect):
    running = make_mockd_server(websocket_mock("/ws", subprotocols=["chat", "json"], requireSubprotocol=True))
    for offered in ((), ("Sec-WebSocket-Protocol: mqtt, xmpp",)):
        status, headers, body = http(running.port, "/ws", headers=offered)
        assert (status, body.strip()) == (400, "subprotocol not supported")
        assert "sec-websocket-protocol" not in headers
    ws = connect(running.url(), subprotocols=["json", "chat"])  # the server's preference wins
    assert ws.getsubprotocol() == "chat"
    ws.send("hi")
    assert recv_text(ws) == "hi"


def test_require_subprotocol_with_empty_list_rejects_everything(make_mockd_server):
    running = make_mockd_server(websocket_mock("/ws", subprotocols=[], requireSubprotocol=True))
    for offered in ((), ("Sec-WebSocket-Protocol: chat",)):
        status, _, body = http(running.port, "/ws", headers=offered)
        assert (status, body.strip()) == (400, "subprotocol required")


# ---------------------------------------------------------------------------- close codes

def test_message_over_max_size_closes_1009_and_exact_limit_passes(make_mockd_server, connect):
    running = make_mockd_server(websocket_mock("/ws", maxMessageSize=1024))
    ws = connect(running.url())
    ws.send("a" * 1024)
    assert recv_text(ws) == "a" * 1024
    ws.send_binary(b"b" * 1024)
    assert recv(ws) == (OP_BINARY, b"b" * 1024)
    ws.send("c" * 1025)
    assert recv_close(ws, allow_data=False)[0] == 1009


def test_idle_timeout_closes_1001(make_mockd_server, connect):
    running = make_mockd_server(websocket_mock("/ws", idleTimeout="300ms"))
    ws = connect(running.url())
    started = time.monotonic()
    assert recv_close(ws, allow_data=False) == (1001, "idle timeout")
    assert 0.25 <= time.monotonic() - started < 2.5


@pytest.mark.slow
def test_idle_timeout_is_postponed_by_activity(make_mockd_server, connect):
    running = make_mockd_server(websocket_mock("/ws", idleTimeout="300ms"))
    ws = connect(running.url())
    started = time.monotonic()
    for i in range(6):  # 0.9 s of traffic, every 150 ms: never idle for 300 ms
        gevent.sleep(0.15)
        ws.send(f"m{i}")
        assert recv_text(ws) == f"m{i}"
    last = time.monotonic()
    assert recv_close(ws, allow_data=False) == (1001, "idle timeout")
    closed = time.monotonic()
    assert closed - started > 0.9
    assert 0.25 <= closed - last < 2.5


HEARTBEAT = {"enabled": True, "interval": "200ms", "timeout": "200ms"}


@pytest.mark.slow
def test_idle_timeout_is_not_postponed_by_pings_and_pongs(make_mockd_server, connect):
    running = make_mockd_server(websocket_mock("/ws", idleTimeout="500ms",
                                               heartbeat={"enabled": True, "interval": "100ms"}))
    ws = connect(running.url())
    started = time.monotonic()
    assert recv_close(ws, allow_data=False) == (1001, "idle timeout")  # recv_close answers every ping
    assert 0.45 <= time.monotonic() - started < 3.0


def test_heartbeat_unanswered_pings_close_1001(make_mockd_server, raw):
    running = make_mockd_server(websocket_mock("/ws", heartbeat=HEARTBEAT))
    client = raw(running.port)
    client.handshake("/ws")
    started = time.monotonic()
    opcode, _ = client.recv_frame()
    assert opcode == OP_PING  # the first ping comes one interval after the connect
    assert client.expect_close({OP_PING}) == (1001, b"ping timeout")
    assert 0.3 <= time.monotonic() - started < 3.0


@pytest.mark.slow
def test_heartbeat_answered_pings_keep_the_connection(make_mockd_server, connect):
    running = make_mockd_server(websocket_mock("/ws", heartbeat=HEARTBEAT))
    ws = connect(running.url())
    pings = 0
    deadline = time.monotonic() + 1.3  # more than six intervals (and timeouts)
    while (left := deadline - time.monotonic()) > 0:
        ws.settimeout(left)
        try:
            opcode, frame = ws.recv_data_frame(True)  # answers each ping with a pong
        except websocket.WebSocketTimeoutException:
            break
        assert opcode == OP_PING, (opcode, frame.data)
        pings += 1
    assert pings >= 3
    ws.send("still here")
    assert recv_text(ws) == "still here"


def test_server_shutdown_closes_1001(make_mockd_server, connect):
    running = make_mockd_server(websocket_mock("/ws"))
    clients = [connect(running.url()) for _ in range(3)]
    stopping = gevent.spawn(running.server.stop)
    for ws in clients:
        assert recv_close(ws, allow_data=False) == (1001, "server shutdown")
    stopping.get(timeout=5)
    assert len(running.server.connections) == 0
    with pytest.raises(OSError):  # the listener is gone
        http(running.port, "/ws")


def test_client_close_code_is_echoed(make_mockd_server, connect):
    running = make_mockd_server(websocket_mock("/ws"))
    ws = connect(running.url())
    ws.send("hello")
    assert recv_text(ws) == "hello"
    ws.close(status=1000, reason=b"bye")
    assert ws.close_frame is not None
    assert struct.unpack("!H", ws.close_frame.data[:2])[0] == 1000
    assert wait_until(lambda: len(running.server.connections) == 0, timeout=3)


@pytest.mark.slow
def test_required_scenario_wait_timeout_leaves_connection_open(make_mockd_server, connect):
    running = make_mockd_server(websocket_mock(
        "/ws",
        matchers=[{"match": {"type": "exact", "value": "ping"}, "response": {"type": "text", "value": "pong"}}],
        scenario={"steps": [
            {"type": "wait", "match": {"type": "exact", "value": "go"}, "timeout": "200ms"},
            {"type": "send", "message": {"type": "text", "value": "after the wait"}},
        ]}))
    ws = connect(running.url())
    assert_silent(ws, 0.5)  # the wait timed out: no close, no error frame
    ws.send("ping")
    assert recv_text(ws) == "pong"
    ws.send("go")  # too late: the scenario has stopped, so no matcher, no reply
    ws.send("ping")
    assert recv_text(ws) == "pong"
    assert_silent(ws, 0.2)
    assert len(running.server.connections) == 1


# ---------------------------------------------------------------------------- echo precedence

def test_echo_on_with_matchers_and_default_answers_default(make_mockd_server, connect):
    running = make_mockd_server(websocket_mock(
        "/ws", echoMode=True, matchers=[SYNC],
        defaultResponse={"type": "text", "value": "default for {{message}}"}))
    ws = connect(running.url())
    ws.send("unmatched")
    assert recv_text(ws) == "default for unmatched"
    assert reply_or_sync(ws, "other") == "default for other"
    assert recv_text(ws) == "synced"


def test_echo_on_with_matchers_without_default_echoes(make_mockd_server, connect):
    running = make_mockd_server(websocket_mock("/ws", echoMode=True, matchers=[SYNC]))
    ws = connect(running.url())
    assert reply_or_sync(ws, "unmatched") == "unmatched"
    assert recv_text(ws) == "synced"


def test_echo_omitted_with_matchers_gives_no_reply(make_mockd_server, connect):
    running = make_mockd_server(websocket_mock("/ws", matchers=[SYNC]))
    ws = connect(running.url())
    assert reply_or_sync(ws, "unmatched") == "synced"
    ws.send_binary(b"\x00\x01")
    ws.send("sync")
    assert recv_text(ws) == "synced"


def test_echo_omitted_with_scenario_gives_no_reply(make_mockd_server, connect):
    running = make_mockd_server(websocket_mock("/ws", scenario={"steps": [
        {"type": "wait", "match": {"type": "exact", "value": "sync"}},
        {"type": "send", "message": {"type": "text", "value": "synced"}}]}))
    ws = connect(running.url())
    assert reply_or_sync(ws, "unmatched") == "synced"


def test_echo_omitted_without_matchers_or_scenario_echoes(make_mockd_server, connect):
    running = make_mockd_server(websocket_mock("/ws"))
    ws = connect(running.url())
    ws.send("hello")
    assert recv_text(ws) == "hello"


def test_echo_mode_false_without_matchers_gives_no_reply(make_mockd_server, connect):
    running = make_mockd_server(websocket_mock("/ws", echoMode=False))
    ws = connect(running.url())
    ws.send("anyone?")
    ws.send_binary(b"\x01")
    assert_silent(ws, 0.3)


def test_echo_keeps_frame_type_and_is_never_templated(make_mockd_server, connect):
    running = make_mockd_server(websocket_mock("/ws", echoMode=True))
    ws = connect(running.url())
    payload = bytes(range(256)) + b"{{uuid}}"
    ws.send_binary(payload)
    assert recv(ws) == (OP_BINARY, payload)
    for text in ("{{uuid}}", "{{ now }} {{message}}", "héllo ✓ {{timestamp}}"):
        ws.send(text)
        assert recv(ws) == (OP_TEXT, text)
    ws.send_binary(b"")
    assert recv(ws) == (OP_BINARY, b"")


def test_no_response_stops_processing(make_mockd_server, connect):
    running = make_mockd_server(websocket_mock(
        "/ws", echoMode=True,
        matchers=[{"match": {"type": "prefix", "value": "quiet"}, "noResponse": True},
                  {"match": {"type": "contains", "value": "quiet"},
                   "response": {"type": "text", "value": "second matcher"}},
                  SYNC],
        defaultResponse={"type": "text", "value": "default"}))
    ws = connect(running.url())
    assert reply_or_sync(ws, "quiet please") == "synced"  # no later matcher, no default, no echo
    assert reply_or_sync(ws, "not quiet") == "second matcher"
    assert recv_text(ws) == "synced"
    assert reply_or_sync(ws, "loud") == "default"


def test_replies_keep_request_order_with_a_delay(make_mockd_server, connect):
    running = make_mockd_server(websocket_mock("/ws", matchers=[
        {"match": {"type": "exact", "value": "slow"},
         "response": {"type": "text", "value": "reply 1", "delay": "300ms"}},
        {"match": {"type": "exact", "value": "fast"}, "response": {"type": "text", "value": "reply 2"}},
    ]))
    ws = connect(running.url())
    started = time.monotonic()
    ws.send("slow")
    ws.send("fast")
    assert recv_text(ws) == "reply 1"
    assert time.monotonic() - started >= 0.25
    assert recv_text(ws) == "reply 2"


# ---------------------------------------------------------------------------- scenarios

def test_every_connection_starts_at_step_zero(make_mockd_server, connect):
    running = make_mockd_server(websocket_mock("/ws", scenario={"steps": [
        {"type": "send", "message": {"type": "text", "value": "step 0"}},
        {"type": "wait"},
        {"type": "send", "message": {"type": "text", "value": "step 2 after {{message}}"}},
    ]}))
    first = connect(running.url())
    assert recv_text(first) == "step 0"
    first.send("a")
    assert recv_text(first) == "step 2 after a"
    second = connect(running.url())  # while the first one has finished its scenario
    assert recv_text(second) == "step 0"
    first.close()
    third = connect(running.url())  # a reconnect
    assert recv_text(third) == "step 0"
    third.send("c")
    assert recv_text(third) == "step 2 after c"
    second.send("b")
    assert recv_text(second) == "step 2 after b"


def test_message_consumed_by_wait_is_not_answered_by_matchers(make_mockd_server, connect):
    running = make_mockd_server(websocket_mock(
        "/ws",
        matchers=[{"match": {"type": "prefix", "value": "m"},
                   "response": {"type": "text", "value": "matcher saw {{message}}"}}],
        defaultResponse={"type": "text", "value": "default saw {{message}}"},
        scenario={"steps": [
            {"type": "wait", "match": {"type": "prefix", "value": "m"}},
            {"type": "send", "message": {"type": "text", "value": "scenario saw {{message}}"}},
        ]}))
    ws = connect(running.url())
    ws.send("m1")
    # Had m1 also reached the matchers, their reply (sent synchronously by the receive loop)
    # would come before the scenario's.
    assert recv_text(ws) == "scenario saw m1"
    ws.send("m2")  # the scenario is done: matchers again
    assert recv_text(ws) == "matcher saw m2"
    assert_silent(ws, 0.2)


def test_wait_with_criteria_lets_other_messages_through(make_mockd_server, connect):
    running = make_mockd_server(websocket_mock(
        "/ws", matchers=[SYNC],
        defaultResponse={"type": "text", "value": "default saw {{message}}"},
        scenario={"steps": [
            {"type": "wait", "match": {"type": "json", "path": "$.type", "value": "start"}},
            {"type": "send", "message": {"type": "text", "value": "started"}},
        ]}))
    ws = connect(running.url())
    ws.send('{"type": "other"}')
    assert recv_text(ws) == 'default saw {"type": "other"}'
    ws.send('{"type": "start"}')
    assert recv_text(ws) == "started"


@pytest.mark.slow
def test_messages_during_pause_go_to_matchers_and_are_not_remembered(make_mockd_server, connect):
    running = make_mockd_server(websocket_mock(
        "/ws",
        matchers=[{"match": {"type": "prefix", "value": "m"},
                   "response": {"type": "text", "value": "matcher saw {{message}}"}}],
        scenario={"steps": [
            {"type": "delay", "duration": "400ms"},
            {"type": "wait", "timeout": "3s"},
            {"type": "send", "message": {"type": "text", "value": "scenario saw {{message}}"}},
        ]}))
    ws = connect(running.url())
    started = time.monotonic()
    ws.send("m1")  # the scenario is pausing
    assert recv_text(ws) == "matcher saw m1"
    gevent.sleep(max(0.0, 0.6 - (time.monotonic() - started)))
    assert_silent(ws, 0.2)  # m1 was not kept for the wait step
    ws.send("m2")
    assert recv_text(ws) == "scenario saw m2"


def test_optional_wait_timeout_skips_to_next_step(make_mockd_server, connect):
    running = make_mockd_server(websocket_mock("/ws", scenario={"steps": [
        {"type": "wait", "match": {"type": "exact", "value": "go"}, "timeout": "200ms", "optional": True},
        {"type": "send", "message": {"type": "text", "value": "moved on [{{message}}]"}},
    ]}))
    ws = connect(running.url())
    started = time.monotonic()
    assert recv_text(ws) == "moved on []"  # nothing consumed: the template context is empty
    assert 0.15 <= time.monotonic() - started < 2.5


def test_scenario_send_is_templated_with_last_consumed_message(make_mockd_server, connect):
    running = make_mockd_server(websocket_mock(
        "/ws", echoMode=True,
        scenario={"steps": [
            {"type": "send", "message": {"type": "text", "value": "before [{{message}}]"}},
            {"type": "wait", "match": {"type": "json", "path": "$.type", "value": "login"}},
            {"type": "delay", "duration": "200ms"},
            {"type": "send", "message": {"type": "json", "value": {
                "welcome": "{{message.user}}", "raw": "{{request.body.user}}", "level": "{{message.level}}"}}},
        ]}))
    ws = connect(running.url())
    assert recv_text(ws) == "before []"
    ws.send('{"type": "login", "user": "ann \\"the\\" admin", "level": 3}')
    ws.send('{"type": "chat", "user": "bob"}')  # during the pause: echoed, not consumed
    assert recv_text(ws) == '{"type": "chat", "user": "bob"}'
    assert json.loads(recv_text(ws)) == {"welcome": 'ann "the" admin', "raw": 'ann "the" admin', "level": "3"}


def test_loop_repeats_the_scenario(make_mockd_server, connect):
    running = make_mockd_server(websocket_mock("/ws", scenario={"loop": True, "steps": [
        {"type": "send", "message": {"type": "text", "value": "ready"}},
        {"type": "wait"},
        {"type": "send", "message": {"type": "text", "value": "ack {{message}}"}},
    ]}))
    ws = connect(running.url())
    for word in ("a", "b", "c", "d"):
        assert recv_text(ws) == "ready"
        ws.send(word)
        assert recv_text(ws) == f"ack {word}"
    assert recv_text(ws) == "ready"


def test_loop_with_pause_keeps_sending(make_mockd_server, connect):
    running = make_mockd_server(websocket_mock("/ws", scenario={"loop": True, "steps": [
        {"type": "send", "message": {"type": "text", "value": "tick {{sequence(\"ticks\")}}"}},
        {"type": "delay", "duration": "50ms"},
    ]}))
    ws = connect(running.url())
    ticks = [recv_text(ws) for _ in range(4)]
    numbers = [int(tick.split()[1]) for tick in ticks]
    assert numbers == list(range(numbers[0], numbers[0] + 4))


@pytest.mark.slow
def test_scenario_sends_and_matcher_replies_interleave_intact(make_mockd_server, connect):
    # Far more data than the socket buffers hold, in frames above the single-write limit: the
    # writers block mid-frame, and a frame is only intact if every writer keeps the socket
    # until its frame is complete. The pauses give the receive loop its turns.
    blob = os.urandom(100_000)
    filler = "R" * 100_000
    count = 30
    running = make_mockd_server(websocket_mock(
        "/ws",
        matchers=[{"match": {"type": "prefix", "value": "q"},
                   "response": {"type": "text", "value": filler + "{{message}}"}}],
        scenario={"steps": [{"type": "send", "message": {"type": "binary", "value": base64.b64encode(blob).decode()}},
                            {"type": "delay", "duration": "1ms"}] * count}))
    ws = connect(running.url(), timeout=10)
    for i in range(count):
        ws.send(f"q{i}")
    kinds = []
    texts = []
    while len(texts) < count or kinds.count(OP_BINARY) < count:
        opcode, data = recv(ws, timeout=10)
        kinds.append(opcode)
        if opcode == OP_BINARY:
            assert data == blob
        else:
            texts.append(data)
    assert texts == [filler + f"q{i}" for i in range(count)]
    # The writers really took turns (not all of one kind, then all of the other).
    first_text = kinds.index(OP_TEXT)
    assert OP_BINARY in kinds[first_text:], "".join("bt"[k == OP_TEXT] for k in kinds)
    ws.send("q-last")
    assert recv_text(ws) == filler + "q-last"


def test_concurrent_connections_with_scenarios_and_matchers(make_mockd_server, connect):
    running = make_mockd_server(websocket_mock(
        "/ws",
        matchers=[{"match": {"type": "regex", "value": "^n(\\d+)$"},
                   "response": {"type": "text", "value": "r{{message}}"}}],
        scenario={"loop": True, "steps": [
            {"type": "send", "message": {"type": "text", "value": "tick"}},
            {"type": "delay", "duration": "1ms"}]}))

    def client(index):
        ws = connect(running.url(), timeout=10)
        for i in range(50):
            ws.send(f"n{index * 1000 + i}")
        got = []
        while len(got) < 50:
            text = recv_text(ws, timeout=10)
            if text != "tick":
                got.append(text)
        return got

    jobs = [gevent.spawn(client, index) for index in range(8)]
    gevent.joinall(jobs, timeout=20, raise_error=True)
    for index, job in enumerate(jobs):
        assert job.value == [f"rn{index * 1000 + i}" for i in range(50)]


# ---------------------------------------------------------------------------- bad input, real sockets

def test_invalid_utf8_closes_1007(make_mockd_server, raw):
    running = make_mockd_server(websocket_mock("/ws"))
    client = raw(running.port)
    client.handshake("/ws")
    client.send(OP_TEXT, b"ok")
    assert client.recv_frame() == (OP_TEXT, b"ok")
    client.send(OP_TEXT, b"caf\xc3(")
    assert client.expect_close({OP_PING})[0] == 1007


def test_unmasked_frame_closes_1002(make_mockd_server, raw):
    running = make_mockd_server(websocket_mock("/ws"))
    client = raw(running.port)
    client.handshake("/ws")
    client.send(OP_TEXT, b"unmasked", masked=False)
    assert client.expect_close({OP_PING})[0] == 1002


def test_client_vanishing_mid_frame_does_not_disturb_others(make_mockd_server, connect, raw):
    running = make_mockd_server(websocket_mock("/ws"))
    survivor = connect(running.url())
    survivor.send("before")
    assert recv_text(survivor) == "before"
    for declared in (1000, 100_000):  # 16-bit and 64-bit lengths
        client = raw(running.port)
        client.handshake("/ws")
        client.sock.sendall(frame(OP_TEXT, b"x" * declared)[:40])  # header and a little payload
        gevent.sleep(0.05)
        client.sock.close()
    client = raw(running.port)
    client.handshake("/ws")
    client.sock.sendall(b"\x81")  # half a frame header
    client.sock.close()
    assert wait_until(lambda: len(running.server.connections) == 1, timeout=3)
    for i in range(3):
        survivor.send(f"after {i}")
        assert recv_text(survivor) == f"after {i}"


@pytest.mark.slow
def test_client_vanishing_during_delayed_reply_does_not_disturb_others(make_mockd_server, connect, raw):
    running = make_mockd_server(websocket_mock("/ws", echoMode=True, matchers=[
        {"match": {"type": "exact", "value": "slow"},
         "response": {"type": "text", "value": "late " + "z" * 100_000, "delay": "200ms"}}]))
    survivor = connect(running.url())
    for _ in range(3):
        client = raw(running.port)
        client.handshake("/ws")
        client.send(OP_TEXT, b"slow")
        client.send(OP_TEXT, b"slow")
        client.sock.close()
    gevent.sleep(0.5)  # the delayed replies are due and find their sockets gone
    assert wait_until(lambda: len(running.server.connections) == 1, timeout=3)
    survivor.send("hello")
    assert recv_text(survivor) == "hello"
    survivor.send("slow")
    assert recv_text(survivor) == "late " + "z" * 100_000


def test_client_vanishing_during_scenario_send_does_not_disturb_others(make_mockd_server, connect, raw):
    config = websocket_mock("/flood", scenario={"loop": True, "steps": [
        {"type": "send", "message": {"type": "binary", "value": base64.b64encode(b"\0" * 200_000).decode()}},
    ]})
    config["mocks"].append({"id": "echo", "websocket": {"path": "/echo"}})
    running = make_mockd_server(config)
    survivor = connect(running.url("/echo"))
    for _ in range(3):
        client = raw(running.port)
        client.handshake("/flood")
        gevent.sleep(0.1)  # the scenario has filled the socket buffers and is blocked writing
        client.sock.close()
    assert wait_until(lambda: len(running.server.connections) == 1, timeout=3)
    survivor.send("hello")
    assert recv_text(survivor) == "hello"


def test_back_to_back_messages_feed_consecutive_wait_steps(make_mockd_server, connect):
    # Upstream advances the step as the read loop consumes a message, so a client that sends
    # both expected messages in one go (one TCP segment) has both consumed.
    running = make_mockd_server(websocket_mock(
        "/ws", matchers=[SYNC],
        scenario={"steps": [
            {"type": "wait", "match": {"type": "exact", "value": "login"}, "timeout": "2s"},
            {"type": "wait", "match": {"type": "exact", "value": "subscribe"}, "timeout": "2s"},
            {"type": "send", "message": {"type": "text", "value": "subscribed after {{message}}"}},
        ]}))
    for _ in range(5):
        client = Client(running.port, handshake=False)
        try:
            client.handshake("/ws")
            client.sock.sendall(frame(OP_TEXT, b"login") + frame(OP_TEXT, b"subscribe"))
            assert client.recv_frame() == (OP_TEXT, b"subscribed after subscribe")
        finally:
            client.sock.close()
