"""The end of a connection, exact (issue 18): through real sockets and the real admin API.

1. Once mockd decides to close a connection it leaves the listings, the active count and its
   mock's maxConnections slots at once; the closing handshake finishes behind.
2. ``messagesSent``, the stats and the journal count the frames that reached the socket, not
   those accepted into the outbound queue and dropped when a client is cut off.
3. A closed connection is freed by reference counting alone: no cycles for the collector.
"""
import collections
import gc

import pytest

from _helpers import wait_until
from _rawws import Client

pytestmark = pytest.mark.usefixtures("no_unhandled_errors")

ECHO = {"version": "1.0", "mocks": [
    {"id": "echo", "type": "websocket", "websocket": {"path": "/ws", "echoMode": True, "maxConnections": 1}},
]}


def _listed(running):
    return [c["id"] for c in running.admin.get("/websocket/connections").json["connections"]]


def _only_id(running):
    assert wait_until(lambda: len(_listed(running)) == 1)
    return _listed(running)[0]


@pytest.mark.slow
@pytest.mark.parametrize("how", ["connection", "mock", "mock-change"])
def test_a_closed_connection_leaves_the_listings_at_once(make_mockd_server, raw, how):
    """The client never answers the close frame: it is still unlisted at once, its slot is free
    (maxConnections: 1 admits a new client), and a second DELETE is 404."""
    running = make_mockd_server(ECHO)
    silent = raw(running.port)
    silent.handshake()
    connection_id = _only_id(running)
    admin = running.admin
    if how == "connection":
        assert admin.delete(f"/websocket/connections/{connection_id}").status == 200
    elif how == "mock":
        assert admin.delete("/mocks/echo/websocket/connections").json["closed"] == 1
    else:
        changed = {"type": "websocket", "websocket": {"path": "/ws", "echoMode": True, "maxConnections": 1,
                                                      "idleTimeout": "1h"}}
        assert admin.put("/mocks/echo", changed).status == 200
    assert _listed(running) == []  # no wait: the client has not answered (it never will)
    stats = admin.get("/websocket/stats").json
    assert stats["activeConnections"] == 0 and stats["connectionsByMock"] == {}
    assert admin.get(f"/websocket/connections/{connection_id}").status == 404
    assert admin.delete(f"/websocket/connections/{connection_id}").status == 404
    assert admin.get("/mocks/echo/websocket/connections").json["connections"] == []
    newcomer = raw(running.port)
    newcomer.handshake()  # the slot of maxConnections: 1 is free although the old socket lingers
    newcomer.send_text("hi")
    assert newcomer.recv_data() == "hi"
    # The old socket still gets its close frame, and TCP is cut after the close timeout.
    expected = 1012 if how == "mock-change" else 1000
    assert silent.expect_close()[0] == expected
    assert silent.at_eof()


def test_shutdown_unlists_at_once(make_mockd_server, raw):
    running = make_mockd_server(ECHO)
    raw(running.port).handshake()
    assert wait_until(lambda: len(running.server.connections) == 1)
    connection = next(iter(running.server.connections))
    connection.close(1001, "server shutdown")
    assert len(running.server.connections) == 0 and running.server.connections.stats()["activeConnections"] == 0


@pytest.mark.slow
def test_counters_count_what_reached_the_client(make_mockd_server, raw):
    """A client that reads nothing while 12 MiB are pushed: the kernel takes a few MiB, the rest
    waits in the queue; it is closed and cut off after the close timeout with frames still
    queued. What it then reads is exactly what the stats, its connection and the journal say."""
    running = make_mockd_server(ECHO, max_outbound_buffer=64 << 20, send_timeout=0)
    client = Client(running.port, timeout=20, rcvbuf=4096)
    connection_id = _only_id(running)
    connection = running.server.connections.get(connection_id)
    frame = "x" * (60 << 10)
    for _ in range(200):
        assert running.admin.post(f"/websocket/connections/{connection_id}/send",
                                  {"type": "text", "data": frame}).status == 200
    assert connection.ws.buffered_amount > 0, "nothing waits in the queue: the test proves nothing"
    assert 0 < connection.messages_sent < 200
    assert running.admin.delete(f"/websocket/connections/{connection_id}").status == 200
    assert wait_until(lambda: connection.ws is None or connection.ws.handler is None, timeout=10)  # released
    received = 0
    try:
        while True:
            opcode, payload = client.recv_frame()
            if opcode == 8:
                break
            assert payload == frame.encode()
            received += 1
    except (EOFError, ConnectionResetError):
        pass  # cut off mid-frame: that frame was never counted either
    stats = running.admin.get("/websocket/stats").json
    journal = [e for e in running.journal if e["connectionId"] == connection_id and e["direction"] == "outbound"]
    assert 0 < received < 200
    assert connection.messages_sent == received
    assert stats["totalMessagesSent"] == received
    assert len(journal) == received


SCENARIO = {"version": "1.0", "mocks": [
    {"id": "echo", "type": "websocket", "websocket": {"path": "/ws", "echoMode": True}},
    {"id": "rich", "type": "websocket", "websocket": {
        "path": "/rich", "heartbeat": {"enabled": True, "interval": "1h", "timeout": "1h"}, "idleTimeout": "1h",
        "matchers": [{"match": {"type": "json", "path": "$.type", "value": "ping"},
                      "response": {"type": "json", "value": {"pong": "{{message.id}}", "n": "{{sequence('n')}}"}}}],
        "scenario": {"name": "greet", "steps": [
            {"type": "send", "message": {"type": "text", "value": "hello"}},
            {"type": "wait", "match": {"type": "exact", "value": "go"}, "timeout": "1h"},
            {"type": "send", "message": {"type": "text", "value": "gone"}}]}}},
]}


def _mockd_objects():
    return collections.Counter(type(o).__qualname__ for o in gc.get_objects()
                               if str(getattr(type(o), "__module__", "")).startswith("mockd"))


@pytest.mark.slow
def test_closed_connections_are_freed_without_the_cycle_collector(make_mockd_server):
    """1,000 connections opened and closed with the collector off: no mockd object is left
    behind (each close path: the client's close, an admin DELETE, a scenario, matchers)."""
    running = make_mockd_server(SCENARIO)

    def one_round(index):
        if index % 4 == 0:  # scenario, heartbeat and idle timers, a matcher with templates
            client = Client(running.port, "/rich")
            assert client.recv_data() == "hello"
            client.send_text('{"type": "ping", "id": 7}')
            assert '"pong"' in client.recv_data()
            client.send_text("go")
            assert client.recv_data() == "gone"
            client.close()
        elif index % 50 == 1:  # closed through the admin API
            client = Client(running.port, "/ws")
            assert wait_until(lambda: len(running.server.connections) == 1)
            (connection,) = running.server.connections
            assert running.admin.delete(f"/websocket/connections/{connection.id}").status == 200
            client.expect_close()
            client.close()
        else:
            client = Client(running.port, "/ws")
            client.send_text("hi")
            assert client.recv_data() == "hi"
            client.close()
        assert wait_until(lambda: not running.server.connections.stats()["activeConnections"])

    for index in range(20):  # warm up: lazily built tables, first-use caches
        one_round(index)
    assert wait_until(lambda: not running.server.connections._leaving)
    gc.collect()
    gc.disable()
    try:
        before = _mockd_objects()
        for index in range(1000):
            one_round(index)
        assert wait_until(lambda: not running.server.connections._leaving)
        after = _mockd_objects()
    finally:
        gc.enable()
    grown = {name: after[name] - before[name] for name in after if after[name] > before[name]}
    assert not grown, f"objects left for the cycle collector per 1,000 connections: {grown}"
