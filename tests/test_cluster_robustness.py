"""The cluster under the ways real use and a hostile or broken Redis go wrong (issue 16's
review): changes on two nodes at the same moment, many waits, a slow answer, garbage in
mockd's keys and channels. Real ``mockd serve --cluster`` nodes, a real ``redis-server``."""
import os
import signal
import threading
import time

import pytest
import redis
import websocket

from _cluster import joined
from _helpers import wait_until

pytestmark = pytest.mark.slow


def ids(node):
    return {mock["id"] for mock in node.admin.get("/mocks").json["mocks"]}


def echo(mock_id):
    return {"id": mock_id, "websocket": {"path": f"/{mock_id}", "echoMode": True}}


def test_mocks_created_on_two_nodes_at_the_same_moment_are_all_kept(nodes):
    a, b = nodes("a"), nodes("b")
    joined(a)
    created = []
    for round_ in range(8):
        pair = [threading.Thread(target=lambda node=node, name=name: created.append(
            node.admin.post("/mocks", echo(f"{name}{round_}")).status)) for node, name in ((a, "ra"), (b, "rb"))]
        for thread in pair:
            thread.start()
        for thread in pair:
            thread.join(5)
    assert created == [201] * 16
    wanted = {f"{name}{n}" for name in ("ra", "rb") for n in range(8)} | {"echo"}
    assert wait_until(lambda: ids(a) == wanted and ids(b) == wanted, 3), (ids(a) ^ wanted, ids(b) ^ wanted)


def test_garbage_on_mockds_channels_and_keys_is_ignored(nodes, redis_server):
    a, b = nodes("a"), nodes("b")
    joined(a)
    client = redis.Redis.from_url(redis_server.url)
    client.publish("mockd:changes", "not json")
    client.publish("mockd:commands", "[1]")
    client.publish("mockd:commands", '{"op": "nope", "args": {}, "reply": "x", "node": "evil"}')
    client.set("mockd:node:evil", "garbage", ex=20)
    client.hset("mockd:mocks:table", "broken", "{not json")
    client.xadd("mockd:journal", {"n": "evil", "f": "garbage"})
    assert b.admin.post("/mocks", echo("after")).status == 201
    assert wait_until(lambda: "after" in ids(a), 2)  # a's listener survived
    assert "broken" not in ids(a)
    assert sorted(n["id"] for n in a.admin.get("/cluster").json["nodes"]) == ["a", "b"]
    on_a = websocket.create_connection(a.url("/echo"), timeout=5)
    on_a.send("still")
    on_a.recv()
    assert wait_until(lambda: [m["body"] for m in b.admin.get("/websocket/messages").json["messages"]
                               if m["direction"] == "inbound"] == ["still"], 2)  # the bad entry left out
    started = time.monotonic()
    assert b.admin.get("/websocket/connections").json["stats"]["activeConnections"] == 1
    assert time.monotonic() - started < 1.5  # no wait for a node that is not one
    on_a.close()
    c = nodes("c")  # a node that joins with garbage in the faults it takes on
    client.hset("mockd:faults", "echo", "garbage")
    assert c.admin.get("/health").status == 200


def test_a_hundred_waits_on_one_node_do_not_cut_it_off(nodes):
    a, b = nodes("a"), nodes("b")
    joined(a)
    answers = []
    waits = [threading.Thread(target=lambda: answers.append(a.admin.post("/websocket/messages/wait", {
        "match": {"type": "exact", "value": "go"}, "timeout": 10}).status)) for _ in range(120)]
    for thread in waits:
        thread.start()
    time.sleep(1)
    assert a.admin.post("/mocks", echo("meanwhile")).status == 201  # not a 503: Redis is not "away"
    on_b = websocket.create_connection(b.url("/echo"), timeout=5)
    on_b.send("go")
    for thread in waits:
        thread.join(10)
    assert answers == [200] * 120
    assert a.admin.get("/cluster").status == 200
    on_b.close()


def test_a_broadcast_waiting_on_a_dead_node_does_not_look_like_redis_away(nodes):
    a, b = nodes("a"), nodes("b")
    joined(a)
    on_a = websocket.create_connection(a.url("/echo"), timeout=5)
    os.kill(b.proc.pid, signal.SIGKILL)
    b.proc.wait(5)
    answer = a.admin.post("/websocket/broadcast", {"mockId": "echo", "data": "hi"})
    assert answer.status == 200 and answer.json["sent"] == 1
    assert on_a.recv() == "hi"
    assert a.admin.post("/mocks", echo("later")).status == 201
    on_a.close()


def test_a_since_too_large_is_a_400_not_an_outage(nodes):
    a = nodes("a")
    answer = a.admin.get("/websocket/messages", query={"since": str(10 ** 20)})
    assert answer.status == 400 and answer.json["error"] == "invalid_parameter"
    waited = a.admin.post("/websocket/messages/wait", {"since": 2 ** 64, "timeout": 0.1})
    assert waited.status == 400
    assert a.admin.post("/mocks", echo("fine")).status == 201


def test_node_entries_expiring_while_listed_are_left_out(nodes, redis_server):
    """A dead node's entry expires when it will: between the scan that finds its key and the
    read of it, it is gone (a 500 of GET /cluster once, in a kill -9 test on a busy machine)."""
    a = nodes("a")
    client = redis.Redis.from_url(redis_server.url)
    entry = '{"id": "gone", "address": "127.0.0.1:1", "startedAt": "x", "lastHeartbeat": "x", "connections": 0}'
    statuses = set()
    for round_ in range(40):
        pipe = client.pipeline(transaction=False)
        for i in range(300):
            pipe.set(f"mockd:node:gone-{round_}-{i}", entry, px=1 + i % 20)
        pipe.execute()
        statuses.add(a.admin.get("/cluster").status)
    assert statuses == {200}
    assert wait_until(lambda: [n["id"] for n in a.admin.get("/cluster").json["nodes"]] == ["a"], 2)


def test_get_cluster_while_redis_is_away_answers_this_node_partial(nodes, redis_server):
    a = nodes("a")
    redis_server.stop()
    answer = a.admin.get("/cluster")
    assert answer.status == 200 and [n["id"] for n in answer.json["nodes"]] == ["a"]
    assert wait_until(lambda: a.admin.get("/cluster").json.get("partial") is True, 3)


def test_workers_keep_every_mock_one_client_creates_in_a_row(tmp_path):
    from _cluster import config_file
    from test_readme_examples import Served
    served = Served(tmp_path, "-c", config_file(tmp_path), "--workers", "2")
    try:
        assert wait_until(lambda: len(served.admin.get("/cluster").json["nodes"]) == 2, 10)
        for n in range(20):
            assert served.admin.post("/mocks", echo(f"m{n}")).status == 201
        wanted = {f"m{n}" for n in range(20)} | {"echo"}
        assert wait_until(lambda: all(ids(served) == wanted for _ in range(4)), 3)
    finally:
        served.stop()
