"""``mockd serve --cluster redis://...`` (issue 16), through real ``mockd serve`` processes,
a real ``redis-server``, real clients and the real admin API: the nodes serve the same mocks,
a change on one is live on the others within a second (with 1012 for the changed mock's
clients everywhere), ``GET /cluster`` lists them, and a node killed with -9 leaves the list."""
import os
import signal
import threading
import time

import pytest
import websocket

from _cluster import CONFIG, drain, joined
from _helpers import wait_until
from mockd.testing import recv_close

@pytest.mark.slow
def test_two_nodes_serve_the_same_mocks_and_list_each_other(nodes):
    a, b = nodes("a"), nodes("b")
    listed = wait_until(lambda: sorted(n["id"] for n in a.admin.get("/cluster").json["nodes"]) == ["a", "b"], 5)
    assert listed
    cluster = b.admin.get("/cluster").json
    assert cluster["self"] == "b"
    entry = next(node for node in cluster["nodes"] if node["id"] == "a")
    assert entry["address"] == f"127.0.0.1:{a.port}" and entry["startedAt"].endswith("Z")
    # a mock created through a's admin API serves on b within a second
    created = a.admin.post("/mocks", {"id": "orders", "websocket": {"path": "/orders", "echoMode": True}})
    assert created.status == 201
    started = time.monotonic()
    assert wait_until(lambda: b.admin.get("/mocks/orders").status == 200, 1.0)
    assert time.monotonic() - started < 1.0
    ws = websocket.create_connection(b.url("/orders"), timeout=5)
    ws.send("hi")
    assert ws.recv() == "hi"
    accepted = a.admin.get("/websocket/handshakes", query={"mockId": "orders"}).json["handshakes"]
    assert [(h["node"], h["status"]) for h in accepted] == [("b", 101)]  # b's journal, read through a
    assert wait_until(lambda: next(n for n in a.admin.get("/cluster").json["nodes"] if n["id"] == "b")["connections"]
                      == 1, 3)
    # changed through a: b's client gets 1012, as a's would
    assert a.admin.put("/mocks/orders", {"websocket": {"path": "/orders", "echoMode": False}}).status == 200
    assert recv_close(ws) == (1012, "mock updated")
    assert wait_until(lambda: b.admin.get("/mocks/orders").json["websocket"]["echoMode"] is False, 1.0)
    # deleted through b: gone from a
    assert b.admin.delete("/mocks/orders").status == 204
    assert wait_until(lambda: a.admin.get("/mocks/orders").status == 404, 1.0)


@pytest.mark.slow
def test_a_node_killed_with_9_and_its_connections_leave_the_lists_within_10_s(nodes):
    a, b = nodes("a"), nodes("b")
    joined(a)
    on_a = websocket.create_connection(a.url("/echo"), timeout=5)
    on_b = websocket.create_connection(b.url("/echo"), timeout=5)
    assert sorted(c["node"] for c in a.admin.get("/websocket/connections").json["connections"]) == ["a", "b"]
    os.kill(b.proc.pid, signal.SIGKILL)
    b.proc.wait(5)
    started = time.monotonic()
    time.sleep(3)  # two heartbeats missed, still listed: its connections already leave the listings
    assert [c["node"] for c in a.admin.get("/websocket/connections").json["connections"]] == ["a"]
    assert wait_until(lambda: [n["id"] for n in a.admin.get("/cluster").json["nodes"]] == ["a"], 10)
    asked = time.monotonic()
    assert [c["node"] for c in a.admin.get("/websocket/connections").json["connections"]] == ["a"]
    assert time.monotonic() - asked < 1.5  # the dead node's answer is not waited for
    assert a.admin.get("/websocket/stats").json["activeConnections"] == 1
    assert time.monotonic() - started < 10
    on_a.send("still served")
    assert on_a.recv() == "still served"
    on_a.close()
    on_b.close()


@pytest.mark.slow
def test_a_later_node_with_another_config_follows_the_cluster_or_resets_it(nodes):
    a = nodes("a")
    other = {"version": "1.0", "mocks": [{"id": "other", "websocket": {"path": "/other", "echoMode": True}}]}
    b = nodes("b", config=other)
    assert [m["id"] for m in b.admin.get("/mocks").json["mocks"]] == ["echo"]  # follows the cluster
    b.log.seek(0)
    assert "differs from the cluster's mocks; following the cluster" in b.log.read()
    c = nodes("c", "--cluster-reset", config=other)
    assert [m["id"] for m in c.admin.get("/mocks").json["mocks"]] == ["other"]
    assert wait_until(lambda: [m["id"] for m in a.admin.get("/mocks").json["mocks"]] == ["other"], 1.0)


@pytest.mark.slow
def test_without_redis_the_node_says_so_and_exits(tmp_path):
    from _cli import mockd
    from _redis import free_port
    done = mockd("serve", "-p", "0", "-a", "0", "--cluster", f"redis://127.0.0.1:{free_port()}/0", timeout=30)
    assert done.returncode != 0
    assert "Redis cannot be reached" in done.stderr and "start redis-server" in done.stderr


def test_a_cluster_url_that_is_not_redis_is_a_usage_error():
    from _cli import mockd
    done = mockd("serve", "--cluster", "http://127.0.0.1:6379")
    assert done.returncode == 2 and "expected redis://HOST:PORT/DB" in done.stderr


def test_one_process_lists_itself_as_the_only_node(make_mockd_server):
    server = make_mockd_server(CONFIG)
    cluster = server.admin.get("/cluster").json
    assert [node["id"] for node in cluster["nodes"]] == [cluster["self"]]
    assert cluster["nodes"][0]["address"] == f"127.0.0.1:{server.port}"


@pytest.mark.slow
def test_any_node_lists_sends_to_closes_and_broadcasts_to_every_nodes_clients(nodes):
    a, b = nodes("a"), nodes("b")
    joined(a)
    on_a = websocket.create_connection(a.url("/echo"), timeout=5)
    on_b = [websocket.create_connection(b.url("/echo"), timeout=5) for _ in range(2)]
    listed = a.admin.get("/websocket/connections").json
    assert sorted(c["node"] for c in listed["connections"]) == ["a", "b", "b"]
    assert listed["stats"]["activeConnections"] == 3 and b.admin.get("/websocket/stats").json["activeConnections"] == 3
    assert a.admin.get("/mocks/echo/websocket/connections").json["count"] == 3
    remote = next(c["id"] for c in listed["connections"] if c["node"] == "b")
    assert a.admin.get(f"/websocket/connections/{remote}").json["node"] == "b"
    assert a.admin.post(f"/websocket/connections/{remote}/send", {"type": "text", "data": "from a"}).status == 200
    answer = a.admin.post("/websocket/broadcast", {"mockId": "echo", "data": "to all"}).json
    assert (answer["sent"], answer["connections"]) == (3, 3)
    assert on_a.recv() == "to all"
    assert sorted(drain(on_b[0]) + drain(on_b[1])) == ["from a", "to all", "to all"]
    assert a.admin.delete(f"/websocket/connections/{remote}").status == 200
    assert a.admin.get(f"/websocket/connections/{remote}").status == 404
    assert a.admin.delete("/mocks/echo/websocket/connections").json["closed"] == 2
    for ws in (on_a, *on_b):
        ws.close()


@pytest.mark.slow
def test_faults_posted_to_one_node_reach_every_nodes_clients(nodes):
    a, b = nodes("a"), nodes("b")
    joined(a)
    on_b = websocket.create_connection(b.url("/echo"), timeout=5)
    on_a = websocket.create_connection(a.url("/echo"), timeout=5)
    remote = next(c["id"] for c in a.admin.get("/websocket/connections").json["connections"] if c["node"] == "b")
    answer = a.admin.post(f"/websocket/connections/{remote}/faults", {"type": "close", "code": 4001, "reason": "x"})
    assert answer.status == 200 and answer.json["connections"] == 1
    assert recv_close(on_b) == (4001, "x")
    again = websocket.create_connection(b.url("/echo"), timeout=5)
    added = a.admin.post("/mocks/echo/faults", {"type": "close", "code": 4002, "reason": "all"})
    assert added.status == 201 and added.json["connections"] == 2  # one live client on each node
    assert recv_close(again) == (4002, "all") and recv_close(on_a) == (4002, "all")
    assert b.admin.get("/mocks/echo/faults").json["faults"] == [{"type": "close", "code": 4002, "reason": "all"}]
    cleared = b.admin.delete("/mocks/echo/faults").json
    assert cleared["cleared"] == 1 and a.admin.get("/mocks/echo/faults").json["faults"] == []


@pytest.mark.slow
def test_without_redis_the_nodes_serve_refuse_changes_and_resynchronise_when_it_is_back(tmp_path, nodes,
                                                                                          redis_server):
    from _redis import RedisServer
    a, b = nodes("a"), nodes("b")
    joined(a)
    client = websocket.create_connection(b.url("/echo"), timeout=5)
    traffic = Traffic(a.url("/echo"))  # a client of a that talks all along, through the restart
    redis_server.stop()
    assert wait_until(lambda: a.admin.post("/mocks", {"id": "late", "websocket": {"path": "/late"}}).status == 503,
                      5)
    refused = a.admin.post("/mocks", {"id": "late", "websocket": {"path": "/late"}})
    assert refused.json["error"] == "cluster_unavailable" and redis_server.url in refused.json["message"]
    listed = a.admin.get("/mocks")
    assert listed.status == 200 and listed.headers.get("X-Mockd-Partial") == "true" and listed.json["partial"] is True
    client.send("still here")  # the node serves the mocks it has
    assert client.recv() == "still here"
    # Redis back on its port, empty: the nodes reconnect, one seeds the mocks, changes work again
    back = RedisServer(tmp_path, port=redis_server.port)
    try:
        assert wait_until(lambda: a.admin.post("/mocks", {"id": "late", "websocket": {
            "path": "/late", "echoMode": True}}).status == 201, 10)
        assert wait_until(lambda: b.admin.get("/mocks/late").status == 200, 2)
        assert "X-Mockd-Partial" not in b.admin.get("/mocks").headers
        assert sorted(n["id"] for n in b.admin.get("/cluster").json["nodes"]) == ["a", "b"]
        sent, answered = traffic.stop()
        assert sent > 20 and answered == sent  # every message answered, before, during and after
    finally:
        back.stop()


class Traffic:
    """A client that sends a numbered message every 20 ms and checks each echo, in a thread
    (a greenlet: the tests are patched) until :meth:`stop`."""

    def __init__(self, url):
        self.ws = websocket.create_connection(url, timeout=5)
        self.sent = self.answered = 0
        self.running = True
        self.thread = threading.Thread(target=self._run)
        self.thread.start()

    def _run(self):
        while self.running:
            self.sent += 1
            self.ws.send(str(self.sent))
            if self.ws.recv() == str(self.sent):
                self.answered += 1
            time.sleep(0.02)

    def stop(self):
        self.running = False
        self.thread.join(5)
        self.ws.close()
        return self.sent, self.answered


@pytest.mark.slow
def test_sequence_counters_are_unique_across_nodes(nodes):
    config = {"version": "1.0", "mocks": [{"id": "seq", "websocket": {"path": "/seq", "defaultResponse": {
        "type": "text", "value": "{{sequence('orders', 100)}}"}}}]}
    a, b = nodes("a", config=config), nodes("b", config=config)
    on_a = websocket.create_connection(a.url("/seq"), timeout=5)
    on_b = websocket.create_connection(b.url("/seq"), timeout=5)
    drawn = []
    for _ in range(5):
        for ws in (on_a, on_b):
            ws.send("next")
            drawn.append(int(ws.recv()))
    assert sorted(drawn) == list(range(100, 110))  # one counter for the cluster, starting at 100
