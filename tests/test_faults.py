"""Faults (issue 7, item 4): clients that vanish, half-open and half-closed TCP, a reset during
a delayed reply, handshakes that never finish, and mock deletion racing sends.

Each test checks the three promises: no unhandled greenlet exception (no ERROR log, no gevent
traceback), no leaked connection (the registry, ``/websocket/connections``, maxConnections
slots), and correct counts (``stats()`` / ``/websocket/stats`` against what clients saw).
"""
import os
import socket

import gevent
import pytest

from _helpers import only_connection, wait_until
from _rawws import OP_BINARY, OP_CLOSE, OP_CONT, OP_TEXT, Client, close_payload, frame, raise_nofile
from mockd.config import build_mock
from mockd.testing import websocket_mock

pytestmark = pytest.mark.usefixtures("no_unhandled_errors")


def stats(running):
    return running.server.connections.stats()


def open_fds():
    return len(os.listdir("/proc/self/fd"))


# ---------------------------------------------------------------------------- vanishing clients

VANISH_POINTS = {
    "inside-the-handshake-response": None,
    "half-a-header": b"\x81",
    "header-without-mask-key": frame(OP_TEXT, b"x" * 300)[:4],
    "inside-a-16-bit-payload": frame(OP_TEXT, b"x" * 300)[:100],
    "inside-a-64-bit-payload": frame(OP_BINARY, b"x" * 70_000)[:30_000],
    "between-fragments": frame(OP_TEXT, b"part one", fin=False) + frame(OP_CONT, b"part two", fin=False),
}


@pytest.mark.parametrize("how", ["reset", "fin"])
def test_clients_vanishing_mid_frame_are_forgotten_and_counted(make_mockd_server, how):
    running = make_mockd_server(websocket_mock("/ws", maxMessageSize=1 << 20))
    survivor = Client(running.port)
    for data in VANISH_POINTS.values():
        client = Client(running.port, handshake=data is not None)
        if data is None:
            client.sock.sendall(client.request_bytes()[:-10])
        else:
            client.send_text("complete")
            assert client.recv_data() == "complete"
            client.sock.sendall(data)
        gevent.sleep(0.02)
        client.reset() if how == "reset" else client.sock.close()
    assert wait_until(lambda: len(running.server.connections) == 1)
    survivor.send_text("still here")
    assert survivor.recv_data() == "still here"
    counts = stats(running)
    vanished = len(VANISH_POINTS) - 1  # the first never got past its handshake
    assert counts["totalConnections"] == vanished + 1 and counts["activeConnections"] == 1
    assert counts["totalMessagesRecv"] == counts["totalMessagesSent"] == vanished + 1
    assert running.server.mocks.routes["/ws"].pending == 0
    assert survivor.close() == 1000


def test_half_closed_client_gets_its_reply_then_the_connection_ends(make_mockd_server):
    running = make_mockd_server(websocket_mock("/ws"))
    client = Client(running.port)
    client.send_text("last words")
    client.sock.shutdown(socket.SHUT_WR)  # FIN, but still reading
    assert client.recv_data() == "last words"
    assert client.at_eof()
    assert wait_until(lambda: len(running.server.connections) == 0)
    counts = stats(running)
    assert (counts["totalMessagesRecv"], counts["totalMessagesSent"]) == (1, 1)


@pytest.mark.slow
def test_half_open_client_is_found_by_the_heartbeat(make_mockd_server):
    # A peer that is gone without FIN or RST looks like one that never answers: only the
    # heartbeat notices. Ping, no pong: close 1001, no close reply: TCP cut after close_timeout.
    running = make_mockd_server(websocket_mock("/ws", heartbeat={
        "enabled": True, "interval": "200ms", "timeout": "200ms"}))
    silent = Client(running.port)
    connection = only_connection(running)
    assert wait_until(lambda: connection.closed, timeout=3)
    assert (connection.ws.close_code, connection.ws.close_reason) == (1001, "ping timeout")
    assert wait_until(lambda: len(running.server.connections) == 0, timeout=4)  # close_timeout is 2 s
    assert stats(running)["activeConnections"] == 0
    silent.sock.close()


@pytest.mark.slow
def test_reset_during_a_delayed_reply(make_mockd_server):
    running = make_mockd_server(websocket_mock("/ws", matchers=[
        {"match": {"type": "exact", "value": "slow"},
         "response": {"type": "text", "value": "late", "delay": "300ms"}}]))
    other = Client(running.port)
    for _ in range(5):
        client = Client(running.port)
        client.send_text("slow")
        gevent.sleep(0.05)  # the reply is being delayed now
        client.reset()
    gevent.sleep(0.5)  # every delayed reply is due and finds its socket reset
    assert wait_until(lambda: len(running.server.connections) == 1)
    other.send_text("slow")
    assert other.recv_data() == "late"
    counts = stats(running)
    assert (counts["totalConnections"], counts["activeConnections"]) == (6, 1)
    assert (counts["totalMessagesRecv"], counts["totalMessagesSent"]) == (6, 1)
    outbound = running.server.journal.query(direction="outbound")
    assert [e.body for e in outbound] == ["late"]
    assert other.close() == 1000


@pytest.mark.slow
def test_thousands_of_unfinished_handshakes_are_closed_by_the_timeout(make_mockd_server):
    count = 1500
    if raise_nofile(2 * count + 512) < 2 * count + 256:
        pytest.skip("open-file limit too low for this test")
    running = make_mockd_server(websocket_mock("/ws", maxConnections=50), handshake_timeout=0.5)
    before = open_fds()
    stalled = []
    for i in range(count):
        sock = socket.create_connection(("127.0.0.1", running.port), timeout=10)
        if i % 3 == 1:
            sock.sendall(b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n")  # never finished
        elif i % 3 == 2:
            sock.sendall(b"GET /ws HT")
        stalled.append(sock)
    started = gevent.get_hub().loop.now()
    client = Client(running.port)  # a real client is served meanwhile
    for i in range(20):
        client.send_text(f"m{i}")
        assert client.recv_data() == f"m{i}"

    def eof(sock):
        try:
            return sock.recv(1) == b""
        except OSError:
            return True
    closed = gevent.joinall([gevent.spawn(eof, sock) for sock in stalled], timeout=10)
    gevent.get_hub().loop.update_now()
    assert all(job.value for job in closed) and len(closed) == count
    assert gevent.get_hub().loop.now() - started < 8
    for sock in stalled:
        sock.close()
    assert client.close() == 1000
    assert wait_until(lambda: len(running.server.connections) == 0)
    assert running.server.mocks.routes["/ws"].pending == 0  # no maxConnections slot leaked
    assert stats(running)["totalConnections"] == 1
    assert wait_until(lambda: open_fds() <= before + 5), (before, open_fds())


# ---------------------------------------------------------------------------- deletion racing sends

def _racing_round(running, index, clients_per_round=4):
    spec = {"id": f"race-{index}", "type": "websocket",
            "websocket": {"path": f"/race{index}", "echoMode": True,
                          "scenario": {"loop": True, "steps": [
                              {"type": "send", "message": {"type": "text", "value": "tick"}}]}}}
    running.server.mocks.add(build_mock(spec, running.server.registry))
    clients = [Client(running.port, f"/race{index}") for _ in range(clients_per_round)]
    assert wait_until(lambda: len(running.server.connections.for_mock(f"race-{index}")) == clients_per_round)
    connections = running.server.connections.for_mock(f"race-{index}")

    def pusher(connection):  # an admin send / broadcast hammering the connection
        results = []
        while True:
            ok = connection.send(b"push")
            results.append(ok)
            if not ok:
                return results
            gevent.sleep(0)

    def reader(client):
        frames = 0
        while True:
            opcode, payload = client.recv_frame()
            if opcode == OP_CLOSE:
                client.send(OP_CLOSE, payload[:2])
                return frames, payload
            frames += 1

    pushers = [gevent.spawn(pusher, c) for c in connections]
    readers = [gevent.spawn(reader, c) for c in clients]
    gevent.sleep(0.01 * (index % 5))
    running.server.mocks.remove(f"race-{index}")
    gevent.joinall(pushers + readers, timeout=10, raise_error=True)
    for job in pushers:
        assert job.value[-1] is False and all(job.value[:-1])  # True until the close, then False
    by_client = {}
    for connection, client_job in zip(connections, readers):
        by_client[connection.id] = client_job.value
    for connection in connections:
        frames, payload = by_client[connection.id]
        assert payload == close_payload(1012, b"mock updated")
    assert sorted(job.value[0] for job in readers) == sorted(c.messages_sent for c in connections)
    return clients


@pytest.mark.slow
def test_mock_removal_racing_sends(make_mockd_server):
    running = make_mockd_server({"version": "1.0", "mocks": []})
    for index in range(25):
        for client in _racing_round(running, index):
            assert client.at_eof()
            client.sock.close()
    assert wait_until(lambda: len(running.server.connections) == 0)
    counts = stats(running)
    assert counts["totalConnections"] == 100 and counts["activeConnections"] == 0
    assert counts["connectionsByMock"] == {}


def test_admin_delete_racing_sends_leaves_no_connection_and_exact_stats(make_mockd_server):
    running = make_mockd_server(websocket_mock("/ws", scenario={"loop": True, "steps": [
        {"type": "send", "message": {"type": "text", "value": "tick"}}]}))
    admin = running.admin
    clients = [Client(running.port) for _ in range(10)]
    assert wait_until(lambda: len(running.server.connections) == 10)
    received = [gevent.spawn(lambda c=c: c.skip_to_close()) for c in clients]
    gevent.sleep(0.05)
    assert admin.delete("/mocks/test-mock").status in (200, 204)
    gevent.joinall(received, timeout=10, raise_error=True)
    assert all(job.value[0] == (1012, b"mock updated") for job in received)
    for client in clients:
        client.send(OP_CLOSE, close_payload(1012))
    assert wait_until(lambda: admin.get("/websocket/connections").json["connections"] == [])
    counts = admin.get("/websocket/stats").json
    assert counts["activeConnections"] == 0 and counts["totalConnections"] == 10
    assert counts["totalMessagesSent"] == sum(job.value[1] for job in received)
    for client in clients:
        client.sock.close()
