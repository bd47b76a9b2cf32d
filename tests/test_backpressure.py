"""Backpressure (issue 7, item 2): a client that stops reading costs bounded memory, is closed
with 1008 ``outbound buffer full`` (log and journal say why), and never stalls anyone else.

The limits are made small here (``max_outbound_buffer``, ``send_timeout``), and so are the
kernel's buffers of a stuck connection (loopback autotunes them to megabytes), so that the
limits are reached in well under a second.
"""
import base64
import socket

import gevent
import pytest

from _helpers import wait_until
from _rawws import OP_BINARY, OP_CLOSE, OP_TEXT, Client, close_payload
from mockd.cli import get_parser
from mockd.testing import websocket_mock
from mockd.options import DEFAULTS

LIMIT = 256 << 10
CHUNK = 64 << 10
SMALL_RCVBUF = 4096

# The guard also sets the mockd log to WARNING for ``caplog`` (the tests read its warnings).
pytestmark = pytest.mark.usefixtures("no_unhandled_errors")


def connection_of(running, path, small_buffers=False):
    """The server side of the one client on ``path``; ``small_buffers`` pins the server's
    send buffer at a few KiB (the client asks for a small receive buffer itself)."""
    assert wait_until(lambda: any(c.path == path for c in running.server.connections))
    connection = next(c for c in running.server.connections if c.path == path)
    if small_buffers:
        connection.ws._sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SMALL_RCVBUF)
    return connection


def two_mocks(stream_spec):
    config = websocket_mock("/stream", **stream_spec)
    config["mocks"].append({"id": "echo", "type": "websocket", "websocket": {"path": "/echo", "echoMode": True}})
    return config


def assert_told_why(running, connection, caplog):
    warnings = [r.getMessage() for r in caplog.records if "outbound buffer full" in r.getMessage()]
    assert warnings and connection.id in warnings[0], warnings
    events = [e for e in running.server.journal.query(connection_id=connection.id) if e.direction == "event"]
    assert len(events) == 1 and events[0].body.startswith("close 1008 outbound buffer full: "), events


def test_defaults_and_options():
    assert (DEFAULTS.max_outbound_buffer, DEFAULTS.send_timeout) == (1 << 20, 10.0)
    args = get_parser().parse_args(["serve"])
    assert (args.max_outbound_buffer, args.send_timeout) == (DEFAULTS.max_outbound_buffer, DEFAULTS.send_timeout)
    args = get_parser().parse_args(["serve", "--max-outbound-buffer", "4096", "--send-timeout", "2.5"])
    assert (args.max_outbound_buffer, args.send_timeout) == (4096, 2.5)


def test_settings_reach_the_socket(make_mockd_server):
    running = make_mockd_server(websocket_mock("/ws"), max_outbound_buffer=12345, send_timeout=3.5)
    client = Client(running.port)
    connection = connection_of(running, "/ws")
    assert (connection.ws.max_outbound, connection.ws.send_timeout) == (12345, 3.5)
    assert client.close() == 1000


@pytest.mark.slow
def test_scenario_stream_to_a_client_that_stops_reading(make_mockd_server, caplog):
    payload = base64.b64encode(b"s" * CHUNK).decode()
    running = make_mockd_server(two_mocks({"scenario": {"loop": True, "steps": [
        {"type": "send", "message": {"type": "binary", "value": payload}}]}}),
        max_outbound_buffer=LIMIT, send_timeout=0.5)
    other = Client(running.port, "/echo")
    stuck = Client(running.port, "/stream", rcvbuf=SMALL_RCVBUF)  # reads nothing from here on
    connection = connection_of(running, "/stream", small_buffers=True)
    peak = 0
    with gevent.Timeout(5):
        while not connection.closed:
            peak = max(peak, connection.ws.buffered_amount)
            other.send_text("still served")  # another connection is never held up
            assert other.recv_data() == "still served"
            gevent.sleep(0.02)
    assert connection.ws.close_code == 1008
    assert peak <= CHUNK + 16, peak  # the scenario waited for the client: one frame at most
    assert_told_why(running, connection, caplog)
    # The client reads again (within the close timeout): every counted frame, then the close.
    (code, reason), frames = stuck.skip_to_close()
    assert (code, reason) == (1008, b"outbound buffer full")
    stuck.send(OP_CLOSE, close_payload(1008))
    assert stuck.at_eof()
    assert wait_until(lambda: len(running.server.connections) == 1)
    assert frames == connection.messages_sent > 0
    assert other.close() == 1000


def test_broadcast_never_waits_for_a_stuck_client(make_mockd_server, caplog):
    running = make_mockd_server(websocket_mock("/ws"), max_outbound_buffer=LIMIT, send_timeout=30)
    stuck = Client(running.port, rcvbuf=SMALL_RCVBUF)
    stuck_connection = connection_of(running, "/ws", small_buffers=True)
    readers = [Client(running.port) for _ in range(3)]
    assert wait_until(lambda: len(running.server.connections) == 4)
    rounds = 40
    received = [gevent.spawn(lambda c=c: [c.recv_data() for _ in range(rounds)]) for c in readers]
    results, slowest = [], 0.0
    for i in range(rounds):
        block = bytes([i]) * CHUNK
        started = gevent.get_hub().loop.now()
        results.append([c.send(block) for c in list(running.server.connections)])
        gevent.get_hub().loop.update_now()
        slowest = max(slowest, gevent.get_hub().loop.now() - started)
        assert stuck_connection.ws.buffered_amount <= LIMIT + CHUNK + 16
        gevent.sleep(0)
    assert slowest < 0.25, f"a broadcast round took {slowest:.3f} s"
    gevent.joinall(received, timeout=10, raise_error=True)
    for job in received:
        assert job.value == [bytes([i]) * CHUNK for i in range(rounds)]
    # The stuck client was closed once its queue would pass the limit; the rest got everything.
    assert stuck_connection.ws.close_code == 1008
    assert_told_why(running, stuck_connection, caplog)
    assert stuck_connection.messages_sent < rounds
    assert wait_until(lambda: len(running.server.connections) == 3, timeout=5)  # close timer cut it
    stats = running.server.connections.stats()
    assert stats["totalMessagesSent"] == 3 * rounds + stuck_connection.messages_sent
    stuck.sock.close()
    for client in readers:
        assert client.close() == 1000


@pytest.mark.slow
def test_echo_to_a_client_that_never_reads_is_paced_then_closed(make_mockd_server, caplog):
    running = make_mockd_server(websocket_mock("/ws"), max_outbound_buffer=LIMIT, send_timeout=0.5)
    client = Client(running.port, rcvbuf=SMALL_RCVBUF)
    connection = connection_of(running, "/ws", small_buffers=True)
    block = b"e" * CHUNK

    def flood():  # bounded; blocks in sendall once the server stops reading
        for _ in range(400):
            client.send(OP_BINARY, block)
    sender = gevent.spawn(flood)
    peak = 0
    with gevent.Timeout(5):
        while not connection.closed:
            peak = max(peak, connection.ws.buffered_amount)
            gevent.sleep(0.01)
    sender.kill()
    assert connection.ws.close_code == 1008
    assert peak <= CHUNK + 16, peak  # the reader paused: never more than one reply waiting
    assert connection.messages_received < 400
    assert_told_why(running, connection, caplog)
    assert wait_until(lambda: len(running.server.connections) == 0, timeout=5)
    client.sock.close()


@pytest.mark.slow
def test_slow_reader_of_a_pauseless_loop_is_paced_not_closed(make_mockd_server):
    running = make_mockd_server(websocket_mock("/ws", scenario={"loop": True, "steps": [
        {"type": "send", "message": {"type": "text", "value": "t" * 1000}}]}),
        max_outbound_buffer=LIMIT, send_timeout=2.0)
    client = Client(running.port, rcvbuf=SMALL_RCVBUF)
    connection = connection_of(running, "/ws", small_buffers=True)
    gevent.sleep(0.5)  # not reading for a while: the loop must wait, not flood or fail
    assert not connection.closed
    assert connection.ws.buffered_amount <= LIMIT
    for _ in range(3000):
        assert client.recv_data() == "t" * 1000
    client.send(OP_CLOSE, close_payload(1000))
    (code, _reason), _skipped = client.skip_to_close()
    assert code == 1000
    assert wait_until(lambda: len(running.server.connections) == 0)
    assert connection.messages_sent >= 3000


def test_sending_text_while_a_big_frame_waits_keeps_frames_whole(make_mockd_server):
    running = make_mockd_server(websocket_mock("/ws"), max_outbound_buffer=LIMIT)
    client = Client(running.port, rcvbuf=SMALL_RCVBUF)
    connection = connection_of(running, "/ws", small_buffers=True)
    big = bytes(range(256)) * (1 << 12)  # 1 MiB: more than the limit, taken because nothing waits
    assert connection.send(big)
    assert connection.ws.buffered_amount > LIMIT
    assert not connection.send("x" * 10)  # would pass the limit while something waits: 1008
    assert connection.ws.close_code == 1008
    assert client.recv_frame() == (OP_BINARY, big)
    (code, _reason), skipped = client.skip_to_close()
    assert (code, skipped) == (1008, 0)
    client.send(OP_CLOSE, close_payload(1008))
    assert client.at_eof()
    assert connection.messages_sent == 1


def test_text_and_control_frames_queue_in_order(make_mockd_server):
    running = make_mockd_server(websocket_mock("/ws"), max_outbound_buffer=4 << 20)
    client = Client(running.port, rcvbuf=SMALL_RCVBUF)
    connection = connection_of(running, "/ws", small_buffers=True)
    sent = []
    for i in range(200):
        text = f"{i:04d}" + "q" * 3000
        assert connection.send(text)
        sent.append(text)
        if i % 50 == 0:
            connection.ws.ping(b"%d" % i)
    assert connection.ws.buffered_amount > 0  # some of it had to wait for the writer
    got, pings = [], []
    while len(got) < len(sent):
        opcode, payload = client.recv_frame()
        if opcode == OP_TEXT:
            got.append(payload.decode())
        else:
            pings.append(payload)
    assert got == sent and pings == [b"0", b"50", b"100", b"150"]
    assert client.close() == 1000
