"""The admin API's side of the dashboard (issue 17): the page's files at ``/ui/`` (no token,
a strict Content-Security-Policy, nothing outside the directory), ``GET /events`` (server-sent
events: hello, mocks, connections, messages, stats), and mocks written in YAML with each
validation error at its line. A real server on port 0, real clients, raw HTTP where the
stream needs it. The page itself is driven in a real browser by tests/test_dashboard.py."""
import http.client
import json
import time

import pytest
import websocket

from mockd.admin.dashboard import STATIC

CONFIG = {"version": "1.0", "mocks": [{"id": "echo", "name": "Echo", "websocket": {"path": "/echo", "echoMode": True}}]}
YAML = "application/yaml"


@pytest.fixture
def srv(make_mockd_server):
    return make_mockd_server(CONFIG)


def test_the_page_and_its_files_need_no_token_and_carry_a_strict_policy(make_mockd_server):
    srv = make_mockd_server(CONFIG, admin_token="s3cret")
    page = srv.admin.get("/ui/", headers={"Authorization": "none"})
    assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
    assert b'data-testid' in page.body
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    for name in sorted(path.name for path in STATIC.iterdir() if path.suffix in (".js", ".css")):
        asset = srv.admin.get(f"/ui/{name}", headers={"Authorization": "none"})
        assert asset.status == 200 and asset.headers["Content-Security-Policy"] == policy, name
        expected = "text/javascript" if name.endswith(".js") else "text/css"
        assert asset.headers["Content-Type"].startswith(expected), name
    raw = http.client.HTTPConnection("127.0.0.1", _admin_port(srv), timeout=5)
    raw.request("GET", "/ui")
    redirect = raw.getresponse()
    assert (redirect.status, redirect.headers["Location"]) == (308, "/ui/")
    raw.close()
    # the data is not open: the API still wants the token
    assert srv.admin.get("/events", headers={"Authorization": "none"}).status == 401
    assert srv.admin.get("/mocks", headers={"Authorization": "none"}).status == 401


@pytest.mark.parametrize("name", ["../dashboard.py", "..%2fdashboard.py", "%2e%2e/app.py", "nope.js"])
def test_nothing_outside_the_dashboards_directory_is_served(srv, name):
    answer = srv.admin.get(f"/ui/{name}")
    assert answer.status == 404 and b"import" not in answer.body


def test_the_ui_refuses_another_sites_page_like_the_api(srv):
    answer = srv.admin.get("/ui/", headers={"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"})
    assert answer.status == 403 and answer.json["error"] == "forbidden_origin"


def _admin_port(srv):
    return int(srv.admin_url.rsplit(":", 1)[1])


class EventStream:
    """``GET /events`` read over a raw HTTP connection: ``next_event(name)`` returns the data
    of the next event of that name (the others are kept in ``seen``)."""

    def __init__(self, srv, query="", timeout=5):
        self.conn = http.client.HTTPConnection("127.0.0.1", _admin_port(srv), timeout=timeout)
        self.conn.request("GET", f"/events{query}")
        self.response = self.conn.getresponse()
        self.seen = []

    def next_event(self, name, timeout=5):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            event, data = None, None
            while True:
                line = self.response.fp.readline().decode("utf-8").rstrip("\n")
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    data = json.loads(line[6:])
                elif line == "" and event is not None:
                    break
            self.seen.append(event)
            if event == name:
                return data
        raise AssertionError(f"no {name} event within {timeout}s; saw {self.seen}")

    def close(self):
        self.conn.close()


@pytest.mark.slow
def test_events_tell_the_mocks_connections_messages_and_stats_as_they_change(srv):
    stream = EventStream(srv)
    try:
        assert stream.response.status == 200
        assert stream.response.headers["Content-Type"] == "text/event-stream; charset=utf-8"
        assert stream.next_event("hello")["lastSeq"] == 0
        assert [m["id"] for m in stream.next_event("mocks")["mocks"]] == ["echo"]
        assert stream.next_event("connections")["connections"] == []
        client = websocket.create_connection(f"ws://127.0.0.1:{srv.port}/echo", timeout=5)
        listed = stream.next_event("connections")
        assert [c["mockId"] for c in listed["connections"]] == ["echo"] and listed["stats"]["activeConnections"] == 1
        client.send("hello")
        assert client.recv() == "hello"
        frames = stream.next_event("messages")["messages"]
        assert [(m["direction"], m["body"]) for m in frames] == [("inbound", "hello"), ("outbound", "hello")]
        stats = stream.next_event("stats")
        assert stats["totalMessagesRecv"] == 1 and stats["time"] > 1_700_000_000_000
        assert srv.admin.post("/mocks", {"id": "later", "websocket": {"path": "/later"}}).status == 201
        assert [m["id"] for m in stream.next_event("mocks")["mocks"]] == ["echo", "later"]
        client.close()
        assert stream.next_event("connections")["connections"] == []
    finally:
        stream.close()


@pytest.mark.slow
def test_events_filter_messages_by_connection_or_leave_them_out(srv):
    first = websocket.create_connection(f"ws://127.0.0.1:{srv.port}/echo", timeout=5)
    second = websocket.create_connection(f"ws://127.0.0.1:{srv.port}/echo", timeout=5)
    target = srv.admin.get("/websocket/connections").json["connections"][0]["id"]
    only, none = EventStream(srv, f"?connectionId={target}"), EventStream(srv, "?messages=false")
    try:
        only.next_event("hello")
        none.next_event("hello")
        for ws in (first, second):
            ws.send("x")
            ws.recv()
        assert {m["connectionId"] for m in only.next_event("messages")["messages"]} == {target}
        none.next_event("stats")
        none.next_event("stats")  # two seconds of a live stream, and no messages event in it
        assert "messages" not in none.seen
    finally:
        only.close()
        none.close()
        first.close()
        second.close()


@pytest.mark.slow
def test_at_most_16_event_streams_are_open_at_once(srv):
    streams = [EventStream(srv) for _ in range(16)]
    try:
        for stream in streams:
            stream.next_event("hello")
        refused = srv.admin.get("/events")
        assert refused.status == 503 and refused.json["error"] == "too_many_streams"
        streams.pop().close()
        assert _eventually(lambda: _stream_status(srv) == 200)  # the closed one's place is free again
    finally:
        for stream in streams:
            stream.close()


def _stream_status(srv):
    stream = EventStream(srv)
    try:
        return stream.response.status
    finally:
        stream.close()


def _eventually(predicate, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_a_mock_written_in_yaml_is_created_replaced_and_read_back(srv):
    text = "id: orders\nname: Orders\nwebsocket:\n  path: /orders\n  echoMode: true\n"
    created = srv.admin.request("POST", "/mocks", data=text.encode(), headers={"Content-Type": YAML})
    assert created.status == 201 and created.json["mock"]["websocket"] == {"path": "/orders", "echoMode": True}
    read = srv.admin.get("/mocks/orders", query={"format": "yaml"})
    assert read.status == 200 and read.headers["Content-Type"].startswith("application/yaml")
    assert "path: /orders" in read.body.decode() and "createdAt" not in read.body.decode()
    assert read.headers["ETag"] == srv.admin.get("/mocks/orders").headers["ETag"]
    replaced = srv.admin.request("PUT", "/mocks/orders", data=read.body.replace(b"true", b"false"),
                                 headers={"Content-Type": YAML, "If-Match": read.headers["ETag"]})
    assert replaced.status == 200 and replaced.json["mock"]["websocket"]["echoMode"] is False


def test_yaml_errors_name_their_line_and_column(srv):
    text = "id: orders\nwebsocket:\n  echoMode: yes\n  path: orders\n"
    answer = srv.admin.request("POST", "/mocks", data=text.encode(), headers={"Content-Type": YAML})
    assert answer.status == 400 and answer.json["error"] == "validation_error"
    places = {(e["where"], e["line"], e["column"]) for e in answer.json["errors"]}
    assert places == {("websocket.echoMode", 3, 13), ("websocket.path", 4, 9)}
    broken = srv.admin.request("POST", "/mocks", data=b"id: x\nwebsocket:\n  path: '/x\n",
                               headers={"Content-Type": YAML})
    assert broken.status == 400 and broken.json["error"] == "invalid_yaml"
    assert (broken.json["errors"][0]["line"], broken.json["errors"][0]["column"]) == (3, 9)
    listing = srv.admin.request("POST", "/mocks", data=b"- a\n- b\n", headers={"Content-Type": YAML})
    assert listing.status == 400 and listing.json["errors"][0]["line"] == 1
    # JSON bodies get the same list, without lines
    plain = srv.admin.post("/mocks", {"websocket": {"path": "x"}})
    assert plain.json["errors"] == [{"message": "path must start with / (got 'x')", "where": "websocket.path"}]


def test_yaml_is_taken_only_where_the_dashboard_sends_it(srv):
    answer = srv.admin.request("POST", "/mocks/bulk", data=b"- id: a\n", headers={"Content-Type": YAML})
    assert answer.status == 415 and answer.json["error"] == "unsupported_media_type"
    bomb = "a: &a [" + ", ".join(["x"] * 50) + "]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 50) + "]\n" for i in range(5))
    refused = srv.admin.request("POST", "/mocks", data=bomb.encode(), headers={"Content-Type": YAML})
    assert refused.status == 400 and refused.json["error"] == "invalid_yaml"  # the config loader's alias budget


def test_a_mock_from_a_yaml_file_is_read_back_as_yaml_with_its_numbers_as_written(make_mockd_server, tmp_path):
    path = tmp_path / "mockd.yaml"
    path.write_text('version: "1.0"\nmocks:\n  - id: feed\n    websocket:\n      path: /feed\n'
                    "      maxMessageSize: 65536\n      defaultResponse: {type: json, value: {price: 1.50, n: 0x1F}}\n")
    srv = make_mockd_server(str(path))
    read = srv.admin.get("/mocks/feed", query={"format": "yaml"})
    assert read.status == 200, read.body
    text = read.body.decode()
    assert "maxMessageSize: 65536" in text and "price: 1.50" in text and "n: 0x1F" in text
    again = srv.admin.request("PUT", "/mocks/feed", data=read.body, headers={"Content-Type": YAML})
    assert again.status == 200 and again.json["mock"]["websocket"]["maxMessageSize"] == 65536


def test_the_editors_usual_mistakes_are_said_as_such(srv):
    def post(text, method="POST", path="/mocks"):
        return srv.admin.request(method, path, data=text.encode(), headers={"Content-Type": YAML})
    entry = post("- id: a\n  websocket: {path: /a}\n")
    assert entry.status == 400 and "remove the leading '- '" in entry.json["message"]
    whole = post('version: "1.0"\nmocks:\n  - id: a\n    websocket: {path: /a}\n')
    assert whole.status == 400 and "whole config file" in whole.json["message"]
    renamed = post("name: Echo\nid: echo-v2\nwebsocket: {path: /echo, echoMode: true}\n", "PUT", "/mocks/echo")
    assert renamed.status == 400 and "cannot be changed" in renamed.json["message"]
    assert (renamed.json["errors"][0]["line"], renamed.json["errors"][0]["where"]) == (2, "id")
    assert srv.admin.get("/mocks/echo-v2").status == 404
    taken = post("id: other\nname: x\nwebsocket:\n  path: /echo\n")
    assert taken.status == 409 and taken.json["error"] == "duplicate_path"
    assert (taken.json["errors"][0]["where"], taken.json["errors"][0]["line"]) == ("websocket.path", 4)


@pytest.mark.slow
def test_a_large_yaml_body_with_errors_does_not_stop_the_server(srv):
    """PyYAML is pure Python: a 250 KB body is parsed (and its twenty errors placed, in one
    composition) in a worker thread, and the listeners keep answering meanwhile."""
    import threading
    lines = ["id: big", "websocket:", "  path: /big", "  matchers:"]
    for n in range(3000):
        lines.append(f"    - match: {{type: {'exakt' if n % 150 == 0 else 'exact'}, value: v{n}}}\n"
                     f"      response: {{type: text, value: r{n}}}")
    body = ("\n".join(lines) + "\n").encode()
    answers = []
    posting = threading.Thread(target=lambda: answers.append(srv.admin.request(
        "POST", "/mocks", data=body, headers={"Content-Type": YAML})))
    client = websocket.create_connection(f"ws://127.0.0.1:{srv.port}/echo", timeout=5)  # before the POST
    posting.start()
    slowest, ticks = 0.0, 0
    while posting.is_alive():
        started = time.monotonic()
        client.send("tick")
        assert client.recv() == "tick"
        slowest, ticks = max(slowest, time.monotonic() - started), ticks + 1
        time.sleep(0.05)
    posting.join()
    assert ticks >= 3  # the echo was asked while the body was parsed
    assert answers[0].status == 400 and len(answers[0].json["errors"]) == 20
    assert all("line" in error for error in answers[0].json["errors"])
    assert slowest < 1.0  # blocked for the whole parse before (seconds)
    client.close()
