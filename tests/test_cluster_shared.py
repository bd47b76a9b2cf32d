"""What the nodes of a cluster share beyond the mocks (issue 16): the journal (a capped Redis
stream every node writes its frames to, read through any node's ``GET /websocket/messages``,
each frame naming its ``node``, and waited on by ``POST /websocket/messages/wait`` on one node
for a frame that arrives on another), the recordings, and the faults the admin API gave (for a
node that joins later). Real ``mockd serve --cluster`` processes, a real ``redis-server``,
real clients."""
import threading
import time

import pytest
import websocket

from _cluster import joined
from _helpers import wait_until

pytestmark = pytest.mark.slow


def test_every_nodes_frames_are_listed_by_any_node_with_their_node(nodes):
    a, b = nodes("a"), nodes("b")
    joined(a)
    on_a = websocket.create_connection(a.url("/echo"), timeout=5)
    on_b = websocket.create_connection(b.url("/echo"), timeout=5)
    on_a.send("from a")
    assert on_a.recv() == "from a"
    on_b.send("from b é")
    assert on_b.recv() == "from b é"
    on_b.send_binary(b"\x00\xff")
    assert on_b.recv() == b"\x00\xff"

    def frames(node, **query):
        return [(m["node"], m["direction"], m["body"]) for m in node.admin.get("/websocket/messages", query=query)
                .json["messages"] if m["direction"] != "event"]
    expected = [("a", "inbound", "from a"), ("a", "outbound", "from a"), ("b", "inbound", "from b é"),
                ("b", "outbound", "from b é"), ("b", "inbound", "AP8="), ("b", "outbound", "AP8=")]
    assert wait_until(lambda: frames(a) == expected, 2)  # b's reach a within its flush (ms)
    assert frames(b) == expected  # a node reading sends its own pending frames first: none missing
    listed = b.admin.get("/websocket/messages", query={"direction": "inbound"}).json
    assert [m["body"] for m in listed["messages"]] == ["from a", "from b é", "AP8="]
    assert listed["messages"][1]["truncated"] is False and listed["messages"][2]["type"] == "binary"
    # one numbering for the cluster: since and lastSeq mean the same on every node
    seqs = [m["seq"] for m in a.admin.get("/websocket/messages").json["messages"]]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    last = a.admin.get("/websocket/messages").json["lastSeq"]
    assert last == seqs[-1] == b.admin.get("/websocket/messages").json["lastSeq"]
    on_a.send("later")
    on_a.recv()
    assert wait_until(lambda: [m["body"] for m in b.admin.get("/websocket/messages", query={"since": last})
                               .json["messages"]] == ["later", "later"], 2)
    remote = next(c["id"] for c in a.admin.get("/websocket/connections").json["connections"] if c["node"] == "b")
    assert {m["node"] for m in a.admin.get("/websocket/messages", query={"connectionId": remote}).json["messages"]} \
        == {"b"}
    assert len(a.admin.get("/websocket/messages", query={"limit": 2}).json["messages"]) == 2
    # cleared through b: empty on every node, and the numbering goes on
    assert b.admin.delete("/websocket/messages").status == 204
    assert a.admin.get("/websocket/messages").json["messages"] == []
    on_b.send("after")
    on_b.recv()
    assert wait_until(lambda: len(a.admin.get("/websocket/messages").json["messages"]) == 2, 2)
    after = a.admin.get("/websocket/messages").json["messages"]
    assert [m["body"] for m in after] == ["after", "after"] and after[0]["seq"] > last
    for ws in (on_a, on_b):
        ws.close()


def test_a_read_on_one_node_lists_what_another_node_just_answered(nodes):
    a, b = nodes("a"), nodes("b")
    joined(a)
    on_b = websocket.create_connection(b.url("/echo"), timeout=5)
    for number in range(20):  # no wait between the answer and the read: the read asks b to send first
        on_b.send(f"n{number}")
        assert on_b.recv() == f"n{number}"
        bodies = [m["body"] for m in a.admin.get("/websocket/messages", query={"limit": 2}).json["messages"]]
        assert bodies == [f"n{number}", f"n{number}"]
    on_b.close()


def test_a_wait_on_one_node_returns_when_the_frame_arrives_on_another(nodes):
    a, b = nodes("a"), nodes("b")
    joined(a)
    on_b = websocket.create_connection(b.url("/echo"), timeout=5)
    answers = []
    waiting = threading.Thread(target=lambda: answers.append(a.admin.post("/websocket/messages/wait", {
        "direction": "inbound", "match": {"type": "json", "path": "$.type", "value": "order"}, "timeout": 5})))
    started = time.monotonic()
    waiting.start()
    time.sleep(0.3)  # the wait is blocked on the stream by now
    on_b.send('{"type": "chat"}')
    on_b.send('{"type": "order", "id": 7}')
    waiting.join(6)
    answer = answers[0]
    assert answer.status == 200, answer.json
    assert time.monotonic() - started < 2
    [message] = answer.json["messages"]
    assert (message["node"], message["body"]) == ("b", '{"type": "order", "id": 7}')
    # frames already in the journal count, from `since` on
    found = b.admin.post("/websocket/messages/wait", {"direction": "outbound", "count": 2, "since": 0, "timeout": 1})
    assert found.status == 200 and found.json["count"] == 2
    late = a.admin.post("/websocket/messages/wait", {"since": found.json["lastSeq"], "timeout": 0.3})
    assert late.status == 408 and late.json["count"] == 0
    on_b.close()


def test_frames_recorded_while_redis_is_away_reach_the_stream_when_it_is_back(tmp_path, nodes, redis_server):
    from _redis import RedisServer
    a, b = nodes("a"), nodes("b")
    joined(a)
    on_a = websocket.create_connection(a.url("/echo"), timeout=5)
    on_a.send("before")
    on_a.recv()
    assert wait_until(lambda: len(b.admin.get("/websocket/messages").json["messages"]) == 2, 2)  # in Redis
    redis_server.stop()
    on_a.send("during")  # the node serves on, and keeps the frame
    assert on_a.recv() == "during"

    def bodies(node):
        answer = node.admin.get("/websocket/messages", query={"direction": "inbound"})
        return answer, [m["body"] for m in answer.json["messages"]]
    assert wait_until(lambda: bodies(a)[0].headers.get("X-Mockd-Partial") == "true", 5)
    answer, seen = bodies(a)
    assert seen == ["before", "during"] and answer.json["partial"] is True  # this node's own ring
    waited = a.admin.post("/websocket/messages/wait", {"match": {"type": "exact", "value": "during"}, "timeout": 1})
    assert waited.status == 200 and waited.headers.get("X-Mockd-Partial") == "true"
    back = RedisServer(tmp_path, port=redis_server.port)  # empty: what it had is gone
    try:
        assert wait_until(lambda: "X-Mockd-Partial" not in b.admin.get("/websocket/messages").headers, 10)
        assert wait_until(lambda: bodies(b)[1] == ["during"], 5)  # kept by a, sent once Redis answered
        on_a.send("after")
        on_a.recv()
        assert wait_until(lambda: bodies(b)[1] == ["during", "after"], 2)
    finally:
        on_a.close()
        back.stop()


def test_journal_size_0_shares_nothing_and_waits_still_see_this_nodes_frames(nodes):
    a = nodes("a", "--journal-size", "0")
    on_a = websocket.create_connection(a.url("/echo"), timeout=5)
    answers = []
    waiting = threading.Thread(target=lambda: answers.append(a.admin.post("/websocket/messages/wait", {
        "direction": "inbound", "timeout": 5})))
    waiting.start()
    time.sleep(0.3)
    on_a.send("hi")
    waiting.join(6)
    assert answers[0].status == 200 and answers[0].json["messages"][0]["body"] == "hi"
    assert a.admin.get("/websocket/messages").json["messages"] == []
    on_a.close()


def test_a_recording_made_on_one_node_is_read_and_deleted_through_another(nodes):
    a, b = nodes("a"), nodes("b")
    joined(a)
    proxied = {"id": "rec", "websocket": {"path": "/rec", "proxy": {
        "url": f"ws://127.0.0.1:{a.port}/echo", "mode": "passthrough", "record": True}}}
    assert a.admin.post("/mocks", proxied).status == 201
    assert wait_until(lambda: b.admin.get("/mocks/rec").status == 200, 2)
    client = websocket.create_connection(b.url("/rec"), timeout=5)  # recorded on b
    client.send("hello upstream")
    assert client.recv() == "hello upstream"
    client.close()
    assert wait_until(lambda: len(a.admin.get("/recordings").json["recordings"]) == 1, 5)
    [summary] = a.admin.get("/recordings").json["recordings"]
    assert summary["mockId"] == "rec" and summary["frames"] >= 2
    document = a.admin.get(f"/recordings/{summary['id']}").json
    assert [f["data"] for f in document["frames"] if f["type"] == "text"] == ["hello upstream", "hello upstream"]
    har = a.admin.get(f"/recordings/{summary['id']}", query={"format": "har"})
    assert har.status == 200 and har.json["log"]["entries"]
    assert a.admin.delete(f"/recordings/{summary['id']}").status == 204
    assert b.admin.get("/recordings").json["recordings"] == []
    assert b.admin.get(f"/recordings/{summary['id']}").status == 404


def test_a_node_that_joins_later_gets_the_faults_the_api_gave(nodes):
    from mockd.testing import recv_close
    a = nodes("a")
    added = a.admin.post("/mocks/echo/faults", {"type": "close", "code": 4003, "reason": "later too"})
    assert added.status == 201
    b = nodes("b")
    joined(a)
    assert b.admin.get("/mocks/echo/faults").json["faults"] == [{"type": "close", "code": 4003, "reason": "later too"}]
    client = websocket.create_connection(b.url("/echo"), timeout=5)
    assert recv_close(client) == (4003, "later too")
    assert a.admin.delete("/mocks/echo/faults").status == 200
    c = nodes("c")
    assert c.admin.get("/mocks/echo/faults").json["faults"] == []
    assert b.admin.get("/mocks/echo/faults").json["faults"] == []


def test_the_shared_journal_keeps_the_last_journal_size_frames(nodes, redis_server):
    import msgpack
    import redis
    a = nodes("a", "--journal-size", "50")
    on_a = websocket.create_connection(a.url("/echo"), timeout=5)
    for number in range(120):
        on_a.send(str(number))
        assert on_a.recv() == str(number)
    messages = a.admin.get("/websocket/messages").json["messages"]
    assert len(messages) == 50 and messages[-1]["body"] == "119"
    assert [m["seq"] for m in messages] == list(range(messages[0]["seq"], messages[0]["seq"] + 50))
    stream = redis.Redis.from_url(redis_server.url)
    kept = sum(len(msgpack.unpackb(fields[b"f"])) for _, fields in stream.xrange("mockd:journal"))
    assert 50 <= kept < 50 + 241  # whole batches: at most one more than the size asks
    on_a.close()
