"""mockd.ws.protocol and mockd.ws.handler against a real server, with real clients.

Each test of a fault that gevent-websocket had (#1-#10, the reasons mockd owns its socket class) names it.
The server runs in this process (conftest.py patched gevent in); clients are
``websocket-client`` or the raw-socket client of ``_rawws.py``, which can send malformed frames.

Run as a script, this module serves the echo app used here, for benchmarks:
``PYTHONPATH=. python tests/test_ws_protocol.py PORT`` (from the checkout).
"""
import functools
import os
import sys
import time

import gevent
import pytest
import websocket
from gevent.event import Event
from gevent.pywsgi import WSGIServer

from _rawws import Client, close_payload, frame
from mockd.ws import frames
from mockd.ws.handler import MockdWebSocketHandler, Rejection
from mockd.ws.protocol import ConnectionClosed


# ---------------------------------------------------------------------------- the echo app

def echo(ws):
    while (message := ws.receive_message()) is not None:
        ws.send(message)


class Session:
    """A session as handler.py expects it; ``body(ws)`` defaults to the echo loop."""

    def __init__(self, body=echo, subprotocol=None, max_message_size=65536):
        self.body = body
        self.subprotocol = subprotocol
        self.max_message_size = max_message_size
        self.ws = None
        self.cancelled = False
        self.done = Event()

    def run(self, ws):
        self.ws = ws
        try:
            self.body(ws)
        finally:
            self.done.set()

    def cancel(self):
        self.cancelled = True


class EchoApp:
    """WSGI app: 404 for plain HTTP; ``open_websocket`` asks ``factory(environ)``."""

    def __init__(self, factory=None):
        self.factory = factory or (lambda environ: Session())
        self.sessions = []

    def __call__(self, environ, start_response):
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "10")])
        return [b"not found\n"]

    def open_websocket(self, environ):
        outcome = self.factory(environ)
        if isinstance(outcome, Session):
            self.sessions.append(outcome)
        return outcome

    @property
    def session(self):
        assert self.sessions, "no session was opened"
        return self.sessions[-1]


@pytest.fixture
def serve():
    servers = []

    def start(factory=None, **server_attributes):
        app = EchoApp(factory)
        server = WSGIServer(("127.0.0.1", 0), app, handler_class=MockdWebSocketHandler, log=None)
        for name, value in server_attributes.items():
            setattr(server, name, value)
        server.start()
        servers.append(server)
        app.port = server.server_port
        app.url = f"ws://127.0.0.1:{app.port}/"
        return app

    yield start
    for server in servers:
        server.stop(timeout=1)


# ---------------------------------------------------------------------------- the raw client

@pytest.fixture
def raw(raw):
    """conftest.py's ``raw`` (the client of ``_rawws.py``), for the test app: requests to ``/``
    and 3 s socket timeouts unless told."""
    return functools.partial(raw, path="/", timeout=3.0)


# ---------------------------------------------------------------------------- fault 1 / 9: close codes

def test_server_close_frame_carries_code_and_reason(serve, raw):  # fault 1
    def body(ws):
        ws.send_text("hi")
        ws.close(4001, "bye")
        assert ws.receive_message() is None
    app = serve(lambda env: Session(body))
    client = raw(app.port)
    client.handshake()
    assert client.recv_frame() == (frames.OP_TEXT, b"hi")
    assert client.expect_close() == (4001, b"bye")
    client.send(frames.OP_CLOSE, close_payload(4001))
    assert client.at_eof(drain=False)
    assert app.session.done.wait(2)
    assert (app.session.ws.close_code, app.session.ws.close_reason) == (4001, "bye")


def test_peer_close_code_is_echoed_then_tcp_closed(serve, raw):  # fault 1
    app = serve()
    client = raw(app.port)
    client.handshake()
    client.send(frames.OP_CLOSE, close_payload(1000, b"bye"))
    assert client.expect_close() == (1000, b"")
    assert client.at_eof(drain=False)
    assert app.session.done.wait(2)
    assert (app.session.ws.close_code, app.session.ws.close_reason) == (1000, "bye")


def test_empty_close_is_answered_with_empty_close(serve, raw):
    app = serve()
    client = raw(app.port)
    client.handshake()
    client.send(frames.OP_CLOSE)
    assert client.expect_close() == (None, b"")
    assert app.session.done.wait(2)
    assert app.session.ws.close_code == 1005


@pytest.mark.parametrize("payload, code", [
    (b"\x03", 1002),                               # 1-byte close payload
    (close_payload(1005), 1002),                      # code that must not be sent
    (close_payload(2999), 1002),
    (close_payload(5000), 1002),
    (close_payload(1000, b"\xed\xa0\x80"), 1007),     # reason not UTF-8
])
def test_invalid_close_from_peer_fails_connection(serve, raw, payload, code):  # fault 9
    app = serve()
    client = raw(app.port)
    client.handshake()
    client.send(frames.OP_CLOSE, payload)
    assert client.expect_close()[0] == code
    assert app.session.done.wait(2)
    assert app.session.ws.close_code == code


def test_close_reason_is_cut_at_a_character_boundary():  # fault 1
    payload = frames.close_payload(1000, "é" * 100)  # 200 bytes of UTF-8
    assert len(payload) <= 125
    assert payload[:2] == b"\x03\xe8"
    assert payload[2:].decode("utf-8") == "é" * 61
    with pytest.raises(ValueError):
        frames.close_payload(1006)


# ---------------------------------------------------------------------------- fault 2, 3, 10: failing

@pytest.mark.parametrize("frame", [
    frame(frames.OP_TEXT, b"unmasked", masked=False),        # fault 2
    frame(frames.OP_TEXT, b"rsv", rsv=4),
    frame(3, b"reserved opcode"),
    frame(frames.OP_PING, b"x" * 126),                     # control frame too long
    frame(frames.OP_PING, b"x", fin=False),                # fragmented control frame
    frame(frames.OP_CONT, b"orphan"),                      # continuation without a start
    frame(frames.OP_TEXT, b"a", fin=False) + frame(frames.OP_BINARY, b"b"),
], ids=["unmasked", "rsv", "opcode", "long-ping", "fragmented-ping", "orphan-cont", "interleaved"])
def test_protocol_errors_fail_with_1002(serve, raw, frame):
    app = serve()
    client = raw(app.port)
    client.handshake()
    client.sock.sendall(frame)
    assert client.expect_close()[0] == 1002
    assert client.at_eof(drain=False)
    assert app.session.done.wait(2)
    assert app.session.ws.close_code == 1002


def test_message_size_limit_is_checked_before_reading(serve, raw):  # fault 3
    app = serve(lambda env: Session(max_message_size=1024))
    client = raw(app.port)
    client.handshake()
    client.send(frames.OP_BINARY, b"x" * 1024)  # exactly the limit: accepted
    assert client.recv_frame() == (frames.OP_BINARY, b"x" * 1024)
    # A header declaring 1 MiB, followed by only 10 bytes: the 1009 must come without
    # waiting for (or buffering) the rest.
    client.sock.sendall(frame(frames.OP_BINARY, b"y" * 10, length=1 << 20))
    code, reason = client.expect_close()
    assert (code, reason) == (1009, b"read limited at 1025 bytes")
    assert app.session.done.wait(2)
    assert app.session.ws.close_code == 1009


def test_message_size_limit_counts_all_fragments(serve, raw):  # fault 3
    app = serve(lambda env: Session(max_message_size=1024))
    client = raw(app.port)
    client.handshake()
    client.send(frames.OP_TEXT, b"a" * 1000, fin=False)
    client.send(frames.OP_CONT, b"a" * 25)
    assert client.expect_close()[0] == 1009


def test_small_fragments_count_64_bytes_each(serve, raw):
    # Review of issue 10: empty continuation frames were free and 1-byte ones cost ~56 times
    # their size in Python objects. Each fragment now counts 64 bytes at least: 16 one-byte
    # fragments fill a 1024-byte limit, a 17th is 1009.
    app = serve(lambda env: Session(max_message_size=1024))
    client = raw(app.port)
    client.handshake()
    fragments = [frame(frames.OP_BINARY, b"0", fin=False)]
    fragments += [frame(frames.OP_CONT, b"%x" % i, fin=False) for i in range(1, 15)] + [frame(frames.OP_CONT, b"f")]
    client.sock.sendall(b"".join(fragments))
    assert client.recv_frame() == (frames.OP_BINARY, b"0123456789abcdef")
    assert app.session.ws.max_message_size == 1024
    client.sock.sendall(b"".join(fragments[:-1]) + frame(frames.OP_CONT, b"", fin=False) + fragments[-1])
    assert client.expect_close() == (1009, b"read limited at 1025 bytes (a fragment counts 64 at least)")
    assert app.session.done.wait(2)


def test_fragments_are_reassembled_as_bytes_and_text(serve, raw):
    received = []

    def keep(ws):
        while (message := ws.receive_message()) is not None:
            received.append(message)
            ws.send(message)

    app = serve(lambda env: Session(keep, max_message_size=1 << 20))
    client = raw(app.port)
    client.handshake()
    big = os.urandom(300_000)  # partly buffered pieces go through _read_payload
    client.sock.sendall(frame(frames.OP_BINARY, big[:100_000], fin=False) + frame(frames.OP_CONT, big[100_000:]))
    assert client.recv_frame() == (frames.OP_BINARY, big)
    text = "κόσμε 😀 " * 20000
    data = text.encode("utf-8")
    client.sock.sendall(frame(frames.OP_TEXT, data[:1001], fin=False) + frame(frames.OP_CONT, data[1001:-3], fin=False)
                        + frame(frames.OP_CONT, data[-3:]))
    assert client.recv_data() == text
    assert [type(message) for message in received] == [bytes, str]  # bytes, not a bytearray


@pytest.mark.slow
def test_a_client_that_pings_without_reading_stalls_its_reader(serve, raw):
    # Review of issue 10: every ping's pong was queued for a client that never reads, without
    # bound. The reader now answers the next ping only once the waiting pong is taken, and
    # such a client is closed with 1008 after send_timeout.
    class Slow(Session):
        send_timeout = 0.5

    app = serve(lambda env: Slow())
    client = Client(app.port, "/", timeout=1.0, rcvbuf=4096)  # a small window: pongs back up at once
    pings = frame(frames.OP_PING, b"p" * 125) * 10_000
    sent = 0
    with pytest.raises((TimeoutError, OSError)):
        while sent < 200 * len(pings):  # 260 MB: far more than the socket buffers take
            client.sock.sendall(pings)
            sent += len(pings)
    ws = app.session.ws
    assert ws._out_bytes <= 127  # one pong waits, not one per ping
    assert app.session.done.wait(5)
    assert (ws.close_code, ws.close_reason) == (1008, "outbound buffer full")
    client.sock.close()


def test_invalid_utf8_fails_with_1007(serve, raw):  # fault 10
    app = serve()
    client = raw(app.port)
    client.handshake()
    client.send(frames.OP_TEXT, "κόσμε".encode() + b"\xed\xa0\x80")
    assert client.expect_close()[0] == 1007
    assert app.session.done.wait(2)
    assert app.session.ws.close_code == 1007


def test_invalid_utf8_fails_fast_inside_a_fragmented_message(serve, raw):  # fault 10
    app = serve()
    client = raw(app.port)
    client.handshake()
    client.send(frames.OP_TEXT, b"ok \xf4\x90\x80\x80", fin=False)  # message never finished
    assert client.expect_close()[0] == 1007


def test_invalid_utf8_fails_fast_inside_a_partly_sent_frame(serve, raw):  # fault 10
    app = serve()
    client = raw(app.port)
    client.handshake()
    invalid = frame(frames.OP_TEXT, b"\xc0\xaf" + b"a" * 5000)
    client.sock.sendall(invalid[:1000])  # the rest never comes
    assert client.expect_close()[0] == 1007


# ---------------------------------------------------------------------------- fault 4: speed

def test_16_mib_binary_echo(serve, raw):  # fault 4
    app = serve(lambda env: Session(max_message_size=16 << 20))
    client = raw(app.port, timeout=10)
    client.handshake()
    data = os.urandom(16 << 20)
    message = frame(frames.OP_BINARY, data)  # masked before the clock starts
    started = time.monotonic()
    client.sock.sendall(message)
    echoed = client.recv_frame()
    elapsed = time.monotonic() - started
    assert echoed == (frames.OP_BINARY, data)
    # ~0.1 s here; a per-byte Python unmasking loop needs over 1 s, the library's 3-9 s
    assert elapsed < 0.5, f"16 MiB echo took {elapsed:.2f} s"


def test_payload_buffer_grows_with_the_bytes_that_came(serve, raw, monkeypatch):
    # Issue 10 item 3: the buffer was sized from the declared length, so a header alone cost
    # the whole message. It now doubles as bytes arrive; each piece below crosses a growth
    # step, an unmasking phase and a UTF-8 sequence at odd offsets.
    from mockd.ws import inbound
    sizes = []
    grow = inbound._grow
    monkeypatch.setattr(inbound, "_grow", lambda store, size: (sizes.append(size), grow(store, size)))
    app = serve(lambda env: Session(max_message_size=1 << 20))
    client = raw(app.port)
    client.handshake()
    text = ("κόσμε 😀 " * 60000)[:(1 << 20) // 2]
    data = frame(frames.OP_TEXT, text.encode("utf-8"))
    sent = 100_003
    client.sock.sendall(data[:sent])
    gevent.sleep(0.1)
    assert sizes and max(sizes) <= 2 * sent, sizes  # not the 600 KiB the header declares
    for start in range(sent, len(data), 77_777):
        client.sock.sendall(data[start:start + 77_777])
        gevent.sleep(0.005)
    assert client.recv_data() == text
    assert max(sizes) == len(data) - 14  # grown to the payload's length, not beyond


def test_large_text_echo_with_websocket_client(serve):
    app = serve(lambda env: Session(max_message_size=16 << 20))
    client = websocket.create_connection(app.url, timeout=10)
    text = "κόσμε 😀 " * (1 << 17)  # 2.4 MB of UTF-8, mostly multi-byte
    client.send(text)
    assert client.recv() == text
    client.close()


def test_unmasker_handles_every_phase():
    data = os.urandom(1000)
    key = b"\x01\x02\x03\xf4"
    expected = frames.unmask(data, key)
    view = memoryview(bytearray(data))
    unmasker = frames.Unmasker(key)
    for start, end in [(0, 1), (1, 6), (6, 7), (7, 999), (999, 1000)]:
        unmasker.apply(view, start, end)
    assert view.tobytes() == expected
    assert frames.unmask(expected, key) == data


def test_frames_sent_right_after_the_handshake_are_read(serve, raw):
    # pywsgi's buffered reader may already hold them: they must not be lost
    app = serve()
    client = raw(app.port)
    early = frame(frames.OP_TEXT, b"early")
    status_line, _, _ = client.request(after=early + early)
    assert status_line.startswith("HTTP/1.1 101")
    assert client.recv_frame() == (frames.OP_TEXT, b"early")
    assert client.recv_frame() == (frames.OP_TEXT, b"early")


# ---------------------------------------------------------------------------- fault 5: ping / pong

def test_ping_sends_payload_and_pong_reaches_callback(serve, raw):  # fault 5
    pongs = []

    def body(ws):
        ws.on_pong = pongs.append
        ws.ping(b"hb\x00\xff")
        echo(ws)
    app = serve(lambda env: Session(body))
    client = raw(app.port)
    client.handshake()
    assert client.recv_frame() == (frames.OP_PING, b"hb\x00\xff")  # the bytes, not their repr
    client.send(frames.OP_PONG, b"hb\x00\xff")
    client.send(frames.OP_TEXT, b"x")
    assert client.recv_frame() == (frames.OP_TEXT, b"x")
    assert pongs == [b"hb\x00\xff"]


def test_ping_from_client_is_answered_inside_a_fragmented_message(serve, raw):
    app = serve()
    client = raw(app.port)
    client.handshake()
    client.send(frames.OP_TEXT, b"frag1", fin=False)
    client.send(frames.OP_PING, b"p")
    client.send(frames.OP_CONT, b"frag2")
    assert client.recv_frame() == (frames.OP_PONG, b"p")
    assert client.recv_frame() == (frames.OP_TEXT, b"frag1frag2")


# ---------------------------------------------------------------------------- fault 6: subprotocol

def test_subprotocol_chosen_by_app_is_echoed(serve):  # fault 6
    app = serve(lambda env: Session(subprotocol="chat.v2"))
    client = websocket.create_connection(app.url, subprotocols=["chat.v2", "chat"], timeout=3)
    assert client.getsubprotocol() == "chat.v2"
    client.send("hello")
    assert client.recv() == "hello"
    client.close()
    assert app.session.ws.protocol == app.session.ws.subprotocol == "chat.v2"


def test_no_subprotocol_header_when_none_chosen(serve, raw):  # fault 6
    app = serve()
    headers = raw(app.port).handshake(headers=["Sec-WebSocket-Protocol: chat.v2"])
    assert "sec-websocket-protocol" not in headers
    assert "sec-websocket-extensions" not in headers


# ---------------------------------------------------------------------------- fault 7: write lock

def test_concurrent_sends_from_two_greenlets(serve, raw):  # fault 7
    block = b"A" * 65536, b"B" * 65536
    count = 100

    def body(ws):
        def sender(payload):
            for _ in range(count):
                ws.send_binary(payload)
                ws.drain()  # paced by the client, as a scenario is (else: 1008 past max_outbound)
        workers = [gevent.spawn(sender, payload) for payload in block]
        gevent.joinall(workers, raise_error=True)  # ConcurrentObjectUseError without the lock
        ws.send_text("done")
        echo(ws)
    app = serve(lambda env: Session(body))
    client = raw(app.port, timeout=10)
    client.handshake()
    gevent.sleep(0.2)  # let the socket buffers fill so that both senders block mid-write
    seen = {block[0]: 0, block[1]: 0}
    while True:
        opcode, payload = client.recv_frame()
        if opcode == frames.OP_TEXT:
            break
        seen[payload] += 1  # KeyError if two frames were interleaved
    assert opcode == frames.OP_TEXT and payload == b"done"
    assert list(seen.values()) == [count, count]


# ---------------------------------------------------------------------------- fault 8: handshake

@pytest.mark.parametrize("request_kw, status, header", [
    ({"key": "!!not*base64"}, 400, None),
    ({"key": "dGVzdA=="}, 400, None),                        # 4 bytes, not 16
    ({"key": ""}, 400, None),                                # missing
    ({"version": "14"}, 400, ("sec-websocket-version", "13")),
    ({"version": None}, 400, ("sec-websocket-version", "13")),
    ({"method": "POST"}, 405, ("allow", "GET")),
    ({"http": "HTTP/1.0"}, 426, ("upgrade", "websocket")),   # the library said "402 Bad Request"
])
def test_bad_handshake_is_refused_with_text_answer(serve, raw, capfd, request_kw, status, header):  # fault 8
    app = serve()
    client = raw(app.port)
    status_line, headers, body = client.request(**request_kw)
    assert status_line.split(" ", 2)[1] == str(status)
    assert headers["content-type"] == "text/plain; charset=utf-8"
    assert headers["connection"] == "close"
    assert body and body.endswith(b"\n")
    if header:
        assert headers[header[0]] == header[1]
    assert client.at_eof(drain=False)
    assert app.session.cancelled and app.session.ws is None
    assert "Traceback" not in capfd.readouterr().err


def test_rejection_from_app_is_a_complete_bytes_response(serve, raw, capfd):  # fault 8
    app = serve(lambda env: Rejection(503, "max connections reached — sorry\n", [("X-Why", "full")]))
    status_line, headers, body = raw(app.port).request()
    assert status_line == "HTTP/1.1 503 Service Unavailable"
    assert body == "max connections reached — sorry\n".encode("utf-8")
    assert headers["content-length"] == str(len(body))
    assert (headers["content-type"], headers["connection"], headers["x-why"]) == \
        ("text/plain; charset=utf-8", "close", "full")
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.slow
def test_plain_http_goes_to_the_app_with_keep_alive(serve, raw):
    app = serve(handshake_timeout=0.5)
    client = raw(app.port)
    for _ in range(2):
        client.sock.sendall(b"GET /x HTTP/1.1\r\nHost: localhost\r\n\r\n")
        status_line, _, body = client.response()
        assert (status_line, body) == ("HTTP/1.1 404 Not Found", b"not found\n")
        gevent.sleep(0.3)  # idle between requests, under the timeout each time


# ---------------------------------------------------------------------------- handshake timeout

@pytest.mark.slow
@pytest.mark.parametrize("sent", [b"", b"GET / HTTP/1.1\r\nHost: x\r\n"], ids=["silent", "partial"])
def test_handshake_timeout_closes_a_stalled_client(serve, raw, capfd, sent):
    app = serve(handshake_timeout=0.3)
    client = raw(app.port)
    client.sock.sendall(sent)
    started = time.monotonic()
    assert client.at_eof(drain=False)
    assert time.monotonic() - started < 1.5
    gevent.sleep(0.05)
    err = capfd.readouterr().err
    assert "Traceback" not in err and "Timeout" not in err


@pytest.mark.slow
def test_handshake_timeout_does_not_limit_the_websocket(serve):
    app = serve(handshake_timeout=0.2)
    client = websocket.create_connection(app.url, timeout=3)
    gevent.sleep(0.5)
    client.send("still here")
    assert client.recv() == "still here"
    client.close()


# ---------------------------------------------------------------------------- close() from elsewhere

@pytest.mark.slow
@pytest.mark.parametrize("peer_answers", [True, False])
def test_close_from_another_greenlet_wakes_the_reader(serve, raw, peer_answers):
    timings = {}

    def body(ws):
        ws.close_timeout = 0.4

        def closer():
            started = time.monotonic()
            ws.close(1001, "idle timeout")
            timings["close"] = time.monotonic() - started
        gevent.spawn_later(0.1, closer)
        started = time.monotonic()
        timings["result"] = ws.receive_message()
        timings["reader"] = time.monotonic() - started
    app = serve(lambda env: Session(body))
    client = raw(app.port)
    client.handshake()
    assert client.expect_close() == (1001, b"idle timeout")
    if peer_answers:
        client.send(frames.OP_CLOSE, close_payload(1001))
    assert client.at_eof(drain=False)
    assert app.session.done.wait(2)
    assert timings["result"] is None and timings["close"] < 0.05
    if peer_answers:
        assert timings["reader"] < 0.35
    else:
        assert 0.4 <= timings["reader"] < 0.9
    assert app.session.ws.close_code == 1001


def test_close_is_idempotent_and_sending_after_it_raises(serve, raw):
    errors = []

    def body(ws):
        ws.close()
        ws.close(4000)
        for send in (lambda: ws.send("x"), lambda: ws.send_binary(b"x"), ws.ping):
            try:
                send()
            except ConnectionClosed:
                errors.append(True)
    app = serve(lambda env: Session(body))
    client = raw(app.port)
    client.handshake()
    assert client.expect_close() == (1000, b"")
    client.send(frames.OP_CLOSE, close_payload(1000))
    assert client.at_eof(drain=False)
    assert errors == [True, True, True]


def test_data_after_our_close_is_discarded(serve, raw):
    def body(ws):
        ws.close(1000)
        body.received = ws.receive_message()
    app = serve(lambda env: Session(body))
    client = raw(app.port)
    client.handshake()
    assert client.expect_close()[0] == 1000
    client.send(frames.OP_TEXT, b"late")
    client.send(frames.OP_CLOSE, close_payload(1000))
    assert client.at_eof(drain=False)
    assert app.session.done.wait(2) and body.received is None


# ---------------------------------------------------------------------------- vanishing clients

def test_vanished_client_ends_session_quietly(serve, raw, capfd):
    sent = []

    def body(ws):
        echo(ws)
        try:
            ws.send_text("anyone?")
        except ConnectionClosed:
            sent.append("refused")
    app = serve(lambda env: Session(body))
    client = raw(app.port)
    client.handshake()
    client.sock.sendall(frame(frames.OP_TEXT, b"x" * 100)[:20])  # half a frame, then RST
    client.reset()
    assert app.session.done.wait(2)
    assert app.session.ws.close_code == 1006 and app.session.ws.closed
    assert sent == ["refused"]
    gevent.sleep(0.1)
    err = capfd.readouterr().err
    assert "Traceback" not in err and "crashed" not in err


def test_session_error_is_logged_and_closed_with_1011(serve, raw, caplog):
    def body(ws):
        raise RuntimeError("boom")
    app = serve(lambda env: Session(body))
    client = raw(app.port)
    client.handshake()
    assert client.expect_close() == (1011, b"internal error")
    client.send(frames.OP_CLOSE, close_payload(1011))
    assert client.at_eof(drain=False)
    assert any(r.name == "mockd.ws" and "boom" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)


# The conformance tool runs against a real mockd echo mock in test_rfc6455.py.


if __name__ == "__main__":  # PYTHONPATH=. python tests/test_ws_protocol.py PORT: echo app, for benchmarks
    echo_server = WSGIServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0),
                             EchoApp(lambda env: Session(max_message_size=16 << 20)),
                             handler_class=MockdWebSocketHandler, log=None, backlog=4096)
    echo_server.start()
    print(f"mockd echo on ws://127.0.0.1:{echo_server.server_port}/", flush=True)
    echo_server.serve_forever()
