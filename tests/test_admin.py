"""The admin API (README.rst, "Admin API") through real servers and real clients.

Every test starts an in-process server on 127.0.0.1 port 0 with its admin API on another
port 0, talks to the admin over real HTTP (``srv.admin``, urllib) and to the mocks with
``websocket-client``. The guard ``no_unhandled_errors`` (conftest.py) fails a test during which
mockd logged an ERROR (the admin's last-resort handler logs one for every 500) or gevent printed
a traceback.
"""
import ast
import contextlib
import dataclasses
import http.client
import json
import pathlib
import re
import socket
import time

import gevent
import pytest
import requests
import schemathesis
import websocket
from hypothesis import HealthCheck, settings
from schemathesis.core import NotSet

from _cli import end, popen, read_until
from _helpers import wait_until
from mockd.admin.app import MAX_BODY
from mockd.adminclient import AdminClient
from mockd.cli import _admin_exposure_error, get_parser, main
from mockd.configfile import parse_config_text
from mockd.depth import MAX_NESTING
from mockd.durations import parse_duration
from mockd.errors import ConfigError
from mockd.testing import recv_close

CONFIG = {"version": "1.0", "mocks": [
    {"id": "echo", "type": "websocket", "name": "Echo", "websocket": {"path": "/echo", "echoMode": True}},
    {"id": "chat", "type": "websocket", "name": "Chat room", "description": "answers ping",
     "websocket": {"path": "/chat", "matchers": [
         {"match": {"type": "exact", "value": "ping"}, "response": {"type": "text", "value": "pong"}}]}},
]}

pytestmark = pytest.mark.usefixtures("no_unhandled_errors")


# ---------------------------------------------------------------------------- helpers

@pytest.fixture
def srv(make_mockd_server):
    return make_mockd_server(CONFIG)


@pytest.fixture
def connect(ws_client):
    return lambda server, path, **kw: ws_client(server.url(path), **kw)


def connection_id(srv, mock_id):
    """The id of the (single) live connection of ``mock_id``, once the server registered it."""
    def find():
        listed = srv.admin.get(f"/mocks/{mock_id}/websocket/connections").json["connections"]
        return listed[0]["id"] if listed else None
    found = wait_until(find, timeout=3)
    assert found, f"no connection of {mock_id} in time"
    return found


def assert_error(reply, status, code):
    assert reply.status == status, reply
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.json["error"] == code and isinstance(reply.json["message"], str) and reply.json["message"]


def mock_ids(srv):
    return [m["id"] for m in srv.admin.get("/mocks").json["mocks"]]


def handshake_status(srv, path):
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(srv.url(path), timeout=5)
    return refused.value.status_code


# ---------------------------------------------------------------------------- health, status, errors

def test_health_and_status(srv, connect):
    health = srv.admin.get("/health")
    assert health.status == 200 and health.json["status"] == "ok"
    assert isinstance(health.json["uptime"], int) and health.json["timestamp"].endswith("Z")
    connect(srv, "/echo")
    assert wait_until(lambda: srv.admin.get("/status").json["protocols"]["websocket"]["connections"] == 1, timeout=3)
    status = srv.admin.get("/status").json
    assert status["protocols"]["websocket"] == {"enabled": True, "port": srv.port, "connections": 1,
                                                "status": "running"}
    assert status["mocks"] == {"total": 2, "enabled": 2}


def test_unknown_route_and_wrong_method_answer_json(srv):
    assert_error(srv.admin.get("/nope"), 404, "not_found")
    wrong = srv.admin.put("/health", {})
    assert_error(wrong, 405, "method_not_allowed")
    assert "GET" in wrong.headers["Allow"]


def test_plugins_lists_loaded_plugins(srv):
    reply = srv.admin.get("/plugins")
    assert reply.status == 200 and reply.json == {"plugins": []}  # only built-ins, which are not listed


# ---------------------------------------------------------------------------- mocks

def test_list_mocks_filters_and_pages(srv):
    srv.admin.post("/mocks/bulk", [{"type": "websocket", "enabled": False, "name": f"off {i}",
                                    "websocket": {"path": f"/off/{i}"}} for i in range(3)])
    everything = srv.admin.get("/mocks").json
    assert (everything["total"], everything["count"]) == (5, 5)
    assert everything["mocks"][0] == {"id": "echo", "type": "websocket", "name": "Echo",
                                      "websocket": {"path": "/echo", "echoMode": True}, "enabled": True}
    assert srv.admin.get("/mocks", query={"enabled": "false"}).json["total"] == 3
    assert [m["id"] for m in srv.admin.get("/mocks", query={"enabled": "true"}).json["mocks"]] == ["echo", "chat"]
    assert [m["id"] for m in srv.admin.get("/mocks", query={"search": "PING"}).json["mocks"]] == ["chat"]
    assert srv.admin.get("/mocks", query={"search": "/off/"}).json["total"] == 3
    assert srv.admin.get("/mocks", query={"type": "http"}).json == {"mocks": [], "total": 0, "count": 0}
    page = srv.admin.get("/mocks", query={"offset": 1, "limit": 2}).json
    assert (page["total"], page["count"]) == (5, 2) and page["mocks"][0]["id"] == "chat"
    assert_error(srv.admin.get("/mocks", query={"enabled": "maybe"}), 400, "invalid_parameter")
    assert_error(srv.admin.get("/mocks", query={"limit": "ten"}), 400, "invalid_parameter")
    assert_error(srv.admin.get("/mocks", query={"offset": "-1"}), 400, "invalid_parameter")


def test_get_mock_with_etag_and_unknown_id(srv):
    reply = srv.admin.get("/mocks/chat")
    assert reply.status == 200 and reply.json["websocket"]["path"] == "/chat"
    assert re.fullmatch(r'"[0-9a-f]{24}"', reply.headers["ETag"])
    missing = srv.admin.get("/mocks/nope")
    assert missing.status == 404 and missing.json == {"error": "not_found", "message": "mock not found"}


def test_created_mock_serves_as_soon_as_201_returns(srv, connect):
    reply = srv.admin.post("/mocks", {"type": "websocket", "name": "New",
                                      "websocket": {"path": "/new", "defaultResponse": {"type": "text",
                                                                                         "value": "got {{message}}"}}})
    assert reply.status == 201
    assert re.fullmatch(r"websocket_[0-9a-f]{16}", reply.json["id"])
    assert {k: reply.json[k] for k in ("action", "message")} == {"action": "created",
                                                                 "message": "Created websocket mock"}
    assert reply.json["mock"]["id"] == reply.json["id"] and reply.json["mock"]["enabled"] is True
    ws = connect(srv, "/new")
    ws.send("hi")
    assert ws.recv() == "got hi"
    assert srv.admin.get(f"/mocks/{reply.json['id']}").json["createdAt"] == reply.json["mock"]["createdAt"]


def test_create_mock_without_type_infers_it_as_a_config_file_does(srv, connect, registry):
    """Issue 11 item 9: upstream answers 400 missing_type, but the README promises a config
    file's rules, and a file infers the type from the websocket block; so does the API now
    (POST, bulk). Neither type nor websocket is the file's error, at the same place."""
    reply = srv.admin.post("/mocks", {"id": "untyped", "websocket": {"path": "/untyped", "echoMode": True}})
    assert reply.status == 201 and reply.json["mock"]["type"] == "websocket"
    ws = connect(srv, "/untyped")
    ws.send("typed after all")
    assert ws.recv() == "typed after all"
    bulk = srv.admin.post("/mocks/bulk", [{"websocket": {"path": "/u1"}}, {"type": "websocket", "websocket": {
        "path": "/u2"}}])
    assert bulk.status == 201 and [m["type"] for m in bulk.json["mocks"]] == ["websocket", "websocket"]
    nothing = srv.admin.post("/mocks", {"name": "no websocket block"})
    assert_error(nothing, 400, "validation_error")
    with pytest.raises(ConfigError) as loading:
        parse_config_text('{"version": "1.0", "mocks": [{"name": "no websocket block"}]}', registry, "mockd.json")
    assert str(loading.value) == "mockd.json: mocks[0]." + nothing.json["message"]


def test_create_mock_bad_input_changes_nothing(srv):
    before = srv.admin.get("/config").json
    assert_error(srv.admin.request("POST", "/mocks", data=b'{"type": '), 400, "invalid_json")
    assert_error(srv.admin.request("POST", "/mocks", data=b"\xff\xfe"), 400, "invalid_json")
    for constant in (b"NaN", b"Infinity", b"-Infinity"):  # Python's, not JSON: a strict client chokes on them
        assert_error(srv.admin.request("POST", "/mocks", data=b'{"x": ' + constant + b"}"), 400, "invalid_json")
    assert_error(srv.admin.post("/mocks", ["not", "an", "object"]), 400, "validation_error")
    assert_error(srv.admin.post("/mocks", {"type": "websocket", "websocket": {"path": "no-slash"}}),
                 400, "validation_error")
    assert_error(srv.admin.post("/mocks", {"type": "websocket", "id": "chat", "websocket": {"path": "/y"}}),
                 409, "duplicate_id")
    assert_error(srv.admin.post("/mocks", {"type": "websocket", "websocket": {"path": "/chat"}}),
                 409, "duplicate_path")
    assert_error(srv.admin.post("/mocks", deep_mock(MAX_NESTING)), 400, "invalid_json")  # 3 + 200 levels
    assert srv.admin.get("/config").json == before


def deep_mock(levels):
    """A mock whose reply value nests ``levels`` objects below the mock's own three levels."""
    spec = {"type": "websocket", "websocket": {"path": "/deep", "defaultResponse": {"type": "json", "value": {}}}}
    node = spec["websocket"]["defaultResponse"]["value"]
    for _ in range(levels - 1):
        node["a"] = {}
        node = node["a"]
    return spec


def test_a_mock_as_deep_as_a_config_file_may_nest_is_taken_exported_and_served(srv, connect):
    reply = srv.admin.post("/mocks", deep_mock(MAX_NESTING - 3))  # as deep as a config file may nest
    assert reply.status == 201, reply
    assert srv.admin.get(f"/mocks/{reply.json['id']}").status == 200
    assert srv.admin.get("/config").status == 200
    ws = connect(srv, "/deep")
    ws.send("hi")
    assert ws.recv().count("{") == MAX_NESTING - 3


def test_validation_error_is_located_like_config_loading(srv, registry):
    bad = {"type": "websocket", "websocket": {"path": "/x", "matchers": [{"match": {"type": "regexp", "value": "a"}}]}}
    reply = srv.admin.post("/mocks", bad)
    assert_error(reply, 400, "validation_error")
    with pytest.raises(ConfigError) as loading:
        parse_config_text('{"version": "1.0", "mocks": [' + json.dumps(bad) + "]}", registry,
                          "mockd.json")
    # The file adds its name and the mock's index; the rest of the message is the same.
    assert str(loading.value) == "mockd.json: mocks[0]." + reply.json["message"]
    assert reply.json["message"].startswith("websocket.matchers[0].match.type: unknown matcher type 'regexp'")


def test_put_closes_live_clients_with_1012_and_new_clients_get_the_new_config(srv, connect):
    old = connect(srv, "/chat")
    old.send("ping")
    assert old.recv() == "pong"
    spec = {"type": "websocket", "name": "Chat v2",
            "websocket": {"path": "/chat", "defaultResponse": {"type": "text", "value": "v2"}}}
    reply = srv.admin.put("/mocks/chat", dict(spec, id="ignored"))
    assert reply.status == 200
    assert {k: reply.json[k] for k in ("id", "action", "message")} == {
        "id": "chat", "action": "updated", "message": "Updated websocket mock"}
    assert recv_close(old) == (1012, "mock updated")
    new = connect(srv, "/chat")
    new.send("ping")
    assert new.recv() == "v2"
    assert srv.admin.get("/mocks/chat").json["name"] == "Chat v2"
    assert_error(srv.admin.put("/mocks/nope", spec), 404, "not_found")
    assert_error(srv.admin.put("/mocks/chat", {"type": "websocket", "websocket": {"path": "/echo"}}),
                 409, "duplicate_path")
    assert_error(srv.admin.put("/mocks/chat", {"type": "websocket", "websocket": {"idleTimeout": "5"}}),
                 400, "validation_error")
    assert srv.admin.get("/mocks/chat").json["name"] == "Chat v2"


def test_patch_merges_and_closes_live_clients(srv, connect):
    ws = connect(srv, "/chat")
    reply = srv.admin.patch("/mocks/chat", {"description": None, "websocket": {"echoMode": True}})
    assert reply.status == 200 and reply.json["action"] == "updated"
    mock = reply.json["mock"]
    assert "description" not in mock and mock["name"] == "Chat room"
    assert mock["websocket"]["echoMode"] is True and mock["websocket"]["matchers"]  # merged, not replaced
    assert recv_close(ws) == (1012, "mock updated")
    ws = connect(srv, "/chat")
    ws.send("echo me")
    assert ws.recv() == "echo me"
    assert_error(srv.admin.patch("/mocks/chat", {"websocket": {"maxConnections": "many"}}), 400, "validation_error")
    assert_error(srv.admin.patch("/mocks/chat", [1]), 400, "validation_error")
    assert_error(srv.admin.patch("/mocks/nope", {}), 404, "not_found")


def test_delete_mock_closes_clients_and_handshakes_then_404(srv, connect):
    ws = connect(srv, "/echo")
    reply = srv.admin.delete("/mocks/echo")
    assert reply.status == 204 and reply.body == b""
    assert recv_close(ws) == (1012, "mock updated")
    assert handshake_status(srv, "/echo") == 404
    assert_error(srv.admin.delete("/mocks/echo"), 404, "not_found")


def test_toggle_off_closes_clients_and_answers_404_then_on_serves_again(srv, connect):
    ws = connect(srv, "/echo")
    off = srv.admin.post("/mocks/echo/toggle")
    assert off.status == 200
    assert {k: off.json[k] for k in ("id", "action", "message")} == {
        "id": "echo", "action": "toggled", "message": "Mock disabled"}
    assert off.json["mock"]["enabled"] is False
    assert recv_close(ws) == (1012, "mock updated")
    assert handshake_status(srv, "/echo") == 404
    on = srv.admin.post("/mocks/echo/toggle")
    assert on.json["message"] == "Mock enabled"
    ws = connect(srv, "/echo")
    ws.send("back")
    assert ws.recv() == "back"
    # Setting the state it already has changes nothing and closes nobody.
    same = srv.admin.post("/mocks/echo/toggle", {"enabled": True})
    assert same.status == 200 and same.json["mock"]["enabled"] is True
    ws.send("still here")
    assert ws.recv() == "still here"
    assert_error(srv.admin.post("/mocks/echo/toggle", {"enabled": "no"}), 400, "validation_error")
    assert_error(srv.admin.post("/mocks/nope/toggle"), 404, "not_found")


def test_toggle_on_into_a_taken_path_is_409(srv):
    srv.admin.post("/mocks/echo/toggle")
    srv.admin.post("/mocks", {"type": "websocket", "id": "echo2", "websocket": {"path": "/echo"}})
    assert_error(srv.admin.post("/mocks/echo/toggle"), 409, "duplicate_path")
    assert srv.admin.get("/mocks/echo").json["enabled"] is False


def test_delete_mocks_by_type_closes_everyone(srv, connect):
    clients = [connect(srv, "/echo"), connect(srv, "/chat")]
    assert srv.admin.delete("/mocks", query={"type": "http"}).status == 204
    assert mock_ids(srv) == ["echo", "chat"]
    assert srv.admin.delete("/mocks", query={"type": "websocket"}).status == 204
    assert mock_ids(srv) == []
    assert [recv_close(ws) for ws in clients] == [(1012, "mock updated")] * 2


def test_bulk_creates_all_or_nothing(srv, connect):
    good = [{"type": "websocket", "websocket": {"path": f"/b{i}"}} for i in range(3)]
    reply = srv.admin.post("/mocks/bulk", good)
    assert reply.status == 201 and reply.json["created"] == 3
    ws = connect(srv, "/b2")
    ws.send("x")
    assert ws.recv() == "x"
    before = mock_ids(srv)
    bad = [{"type": "websocket", "websocket": {"path": "/c0"}}, {"type": "websocket", "websocket": {}}]
    assert_error(srv.admin.post("/mocks/bulk", bad), 400, "validation_error")
    assert srv.admin.post("/mocks/bulk", bad).json["message"] == "[1].websocket.path: path is required"
    assert_error(srv.admin.post("/mocks/bulk", [{"websocket": {"path": "/c1"}}, {"name": "c"}]), 400,
                 "validation_error")  # the second has neither type nor websocket block (no missing_type: item 9)
    clash = [{"type": "websocket", "websocket": {"path": "/c2"}}, {"type": "websocket", "websocket": {"path": "/c2"}}]
    assert_error(srv.admin.post("/mocks/bulk", clash), 409, "duplicate_path")
    assert_error(srv.admin.post("/mocks/bulk", [{"type": "websocket", "id": "echo", "websocket": {"path": "/c3"}}]),
                 409, "duplicate_id")
    assert_error(srv.admin.post("/mocks/bulk", {"mocks": []}), 400, "validation_error")
    assert mock_ids(srv) == before


def test_config_export_and_import(srv, connect):
    exported = srv.admin.get("/config").json
    assert exported["version"] == "1.0" and [m["id"] for m in exported["mocks"]] == ["echo", "chat"]
    ws = connect(srv, "/chat")
    added = {"version": "1.0", "mocks": [{"id": "extra", "websocket": {"path": "/extra"}}]}
    upsert = srv.admin.post("/config", {"config": added})
    assert upsert.status == 200 and upsert.json["imported"] == 1 and upsert.json["total"] == 3
    ws.send("ping")
    assert ws.recv() == "pong"  # an import without replace leaves other mocks' clients alone
    bad = {"version": "1.0", "mocks": [{"id": "z", "websocket": {"path": "/z", "idleTimeout": 5}}]}
    reply = srv.admin.post("/config", {"config": bad, "replace": True})
    assert_error(reply, 400, "validation_error")
    assert reply.json["message"].startswith("config.mocks[0].websocket.idleTimeout: a duration needs a unit")
    assert_error(srv.admin.post("/config", {"config": added, "replace": "yes"}), 400, "validation_error")
    assert_error(srv.admin.post("/config", {"replace": True}), 400, "validation_error")
    clash = {"version": "1.0", "mocks": [{"id": "other", "websocket": {"path": "/echo"}}]}
    assert_error(srv.admin.post("/config", {"config": clash}), 409, "duplicate_path")
    assert mock_ids(srv) == ["echo", "chat", "extra"]
    replaced = srv.admin.post("/config", {"config": exported, "replace": True})
    assert replaced.status == 200 and replaced.json["replaced"] is True
    assert recv_close(ws) == (1012, "mock updated")
    assert srv.admin.get("/config").json == exported  # a round trip through export is lossless


def test_if_match_turns_a_lost_update_into_412(srv):
    etag = srv.admin.get("/mocks/chat").headers["ETag"]
    spec = {"type": "websocket", "websocket": {"path": "/chat"}}
    first = srv.admin.put("/mocks/chat", dict(spec, name="first"), headers={"If-Match": etag})
    assert first.status == 200
    second = srv.admin.put("/mocks/chat", dict(spec, name="second"), headers={"If-Match": etag})
    assert_error(second, 412, "precondition_failed")
    assert_error(srv.admin.patch("/mocks/chat", {"name": "third"}, headers={"If-Match": etag}),
                 412, "precondition_failed")
    assert_error(srv.admin.delete("/mocks/chat", headers={"If-Match": etag}), 412, "precondition_failed")
    assert srv.admin.get("/mocks/chat").json["name"] == "first"
    assert srv.admin.put("/mocks/chat", dict(spec, name="fresh"), headers={"If-Match": first.headers["ETag"]}).status \
        == 200


def test_concurrent_puts_of_one_mock(srv, connect):
    """Racing editors with the same ETag: one wins, every other gets 412 and changes nothing;
    without If-Match every PUT applies whole, never a mix of two bodies."""
    etag = srv.admin.get("/mocks/chat").headers["ETag"]
    bodies = [{"type": "websocket", "name": f"writer {i}",
               "websocket": {"path": "/chat", "defaultResponse": {"type": "text", "value": f"writer {i}"}}}
              for i in range(8)]
    racers = [gevent.spawn(srv.admin.put, "/mocks/chat", body, headers={"If-Match": etag}) for body in bodies]
    gevent.joinall(racers, timeout=10, raise_error=True)
    statuses = sorted(g.value.status for g in racers)
    assert statuses == [200] + [412] * 7
    winner = next(i for i, g in enumerate(racers) if g.value.status == 200)
    assert srv.admin.get("/mocks/chat").json["name"] == f"writer {winner}"
    free = [gevent.spawn(srv.admin.put, "/mocks/chat", body) for body in bodies]
    gevent.joinall(free, timeout=10, raise_error=True)
    assert all(g.value.status == 200 for g in free)
    final = srv.admin.get("/mocks/chat").json
    ws = connect(srv, "/chat")
    ws.send("who?")
    assert ws.recv() == final["name"] == final["websocket"]["defaultResponse"]["value"]


# ---------------------------------------------------------------------------- connections

def test_connections_list_get_and_stats(srv, connect):
    a, b = connect(srv, "/echo"), connect(srv, "/echo")
    connect(srv, "/chat").send("ping")
    a.send("1")
    a.recv()
    assert wait_until(lambda: srv.admin.get("/websocket/stats").json["activeConnections"] == 3, timeout=3)
    listed = srv.admin.get("/websocket/connections").json
    assert len(listed["connections"]) == 3
    first = next(c for c in listed["connections"] if c["mockId"] == "echo" and c["messagesRecv"] == 1)
    assert first["path"] == "/echo" and first["status"] == "connected" and first["messagesSent"] == 1
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", first["connectedAt"])
    assert srv.admin.get(f"/websocket/connections/{first['id']}").json["id"] == first["id"]
    missing = srv.admin.get("/websocket/connections/conn-nope")
    assert missing.status == 404 and missing.json == {"error": "not_found", "message": "Connection not found"}
    b.close()
    assert wait_until(lambda: srv.admin.get("/websocket/stats").json["activeConnections"] == 2, timeout=3)
    stats = srv.admin.get("/websocket/stats").json
    assert stats["totalConnections"] == 3 and stats["activeConnections"] == 2  # total is cumulative
    assert stats["connectionsByMock"] == {"echo": 1, "chat": 1}
    assert stats["totalMessagesRecv"] == 2
    assert srv.admin.get("/websocket/connections").json["stats"] == stats


def test_send_text_and_binary_reach_the_client(srv, connect):
    ws = connect(srv, "/chat")
    cid = connection_id(srv, "chat")
    reply = srv.admin.post(f"/websocket/connections/{cid}/send", {"type": "text", "data": "{{now}} as is"})
    assert reply.status == 200
    assert reply.json == {"message": "Message sent", "connection": cid, "type": "text"}
    assert ws.recv() == "{{now}} as is"  # never templated
    reply = srv.admin.post(f"/websocket/connections/{cid}/send", {"type": "binary", "data": "AAEC/w=="})
    assert reply.json["type"] == "binary"
    assert ws.recv() == b"\x00\x01\x02\xff"
    assert srv.admin.post(f"/websocket/connections/{cid}/send").status == 200  # no body: empty text
    assert ws.recv() == ""
    assert srv.admin.get(f"/websocket/connections/{cid}").json["messagesSent"] == 3


def test_send_bad_input_sends_nothing(srv, connect):
    ws = connect(srv, "/chat")
    cid = connection_id(srv, "chat")
    url = f"/websocket/connections/{cid}/send"
    assert_error(srv.admin.post(url, {"type": "binary", "data": "not base64!"}), 400, "invalid_base64")
    assert_error(srv.admin.post(url, {"type": "xml", "data": "x"}), 400, "invalid_type")
    assert_error(srv.admin.post(url, {"data": 42}), 400, "validation_error")
    assert_error(srv.admin.request("POST", url, data=b"{nope"), 400, "invalid_json")
    assert_error(srv.admin.post("/websocket/connections/conn-nope/send", {"data": "x"}), 404, "not_found")
    assert srv.admin.get(f"/websocket/connections/{cid}").json["messagesSent"] == 0
    ws.send("ping")
    assert ws.recv() == "pong"  # nothing was queued ahead of the reply


def test_send_to_a_closed_connection_is_404(srv, connect):
    ws = connect(srv, "/echo")
    cid = connection_id(srv, "echo")
    ws.close()
    assert wait_until(lambda: srv.admin.get(f"/websocket/connections/{cid}").status == 404, timeout=3)
    assert_error(srv.admin.post(f"/websocket/connections/{cid}/send", {"data": "late"}), 404, "not_found")
    assert_error(srv.admin.delete(f"/websocket/connections/{cid}"), 404, "not_found")


def test_delete_connection_closes_it_with_1000(srv, connect):
    ws = connect(srv, "/echo")
    other = connect(srv, "/echo")
    assert wait_until(lambda: len(srv.admin.get("/mocks/echo/websocket/connections").json["connections"]) == 2,
                      timeout=3)
    ws.send("me")
    ws.recv()
    cid = next(c["id"] for c in srv.admin.get("/websocket/connections").json["connections"]
               if c["messagesRecv"] == 1)
    reply = srv.admin.delete(f"/websocket/connections/{cid}")
    assert reply.status == 200 and reply.json == {"message": "Connection closed", "connection": cid}
    assert recv_close(ws) == (1000, "closed by API")
    other.send("still open")
    assert other.recv() == "still open"


def test_mock_connections_list_and_close(srv, connect):
    echoes = [connect(srv, "/echo") for _ in range(2)]
    chat = connect(srv, "/chat")
    assert wait_until(lambda: srv.admin.get("/mocks/echo/websocket/connections").json["count"] == 2, timeout=3)
    listed = srv.admin.get("/mocks/echo/websocket/connections").json
    assert listed["mockId"] == "echo" and {c["mockId"] for c in listed["connections"]} == {"echo"}
    closed = srv.admin.delete("/mocks/echo/websocket/connections")
    assert closed.json == {"message": "Connections closed", "closed": 2, "mockId": "echo"}
    assert [recv_close(ws) for ws in echoes] == [(1000, "closed by API")] * 2
    chat.send("ping")
    assert chat.recv() == "pong"
    assert_error(srv.admin.get("/mocks/nope/websocket/connections"), 404, "not_found")
    assert_error(srv.admin.delete("/mocks/nope/websocket/connections"), 404, "not_found")


def test_broadcast_by_mock_and_by_path(srv, connect):
    echoes = [connect(srv, "/echo") for _ in range(3)]
    chat = connect(srv, "/chat")
    assert wait_until(lambda: srv.admin.get("/websocket/stats").json["activeConnections"] == 4, timeout=3)
    reply = srv.admin.post("/websocket/broadcast", {"mockId": "echo", "data": "news"})
    assert reply.status == 200 and reply.json["sent"] == 3 and reply.json["mockId"] == "echo"
    assert [ws.recv() for ws in echoes] == ["news"] * 3
    reply = srv.admin.post("/websocket/broadcast", {"path": "/chat", "type": "binary", "data": "AQI="})
    assert reply.json["sent"] == 1 and chat.recv() == b"\x01\x02"
    chat.send("ping")
    assert chat.recv() == "pong"  # only the chat client got the binary frame, and nothing else
    assert_error(srv.admin.post("/websocket/broadcast", {"mockId": "nope", "data": "x"}), 404, "not_found")
    assert_error(srv.admin.post("/websocket/broadcast", {"path": "/nope", "data": "x"}), 404, "not_found")
    assert_error(srv.admin.post("/websocket/broadcast", {"data": "x"}), 400, "validation_error")
    assert_error(srv.admin.post("/websocket/broadcast", {"mockId": "echo", "path": "/echo"}), 400,
                 "validation_error")
    assert_error(srv.admin.post("/websocket/broadcast", {"mockId": "echo", "type": "binary", "data": "%"}),
                 400, "invalid_base64")
    assert srv.admin.post("/websocket/broadcast", {"mockId": "echo", "data": "x"}).json["sent"] == 3


# ---------------------------------------------------------------------------- journal

def test_journal_records_both_directions_with_filters(make_mockd_server, connect):
    srv = make_mockd_server(CONFIG, journal_body_limit=8)
    chat, echo = connect(srv, "/chat"), connect(srv, "/echo")
    chat.send("ping")
    chat.recv()
    chat.send("nobody answers this")
    echo.send_binary(b"\x00" * 20)
    echo.recv()
    assert wait_until(lambda: srv.admin.get("/websocket/messages").json["count"] == 5, timeout=3)
    entries = srv.admin.get("/websocket/messages").json["messages"]
    assert [e["seq"] for e in entries] == sorted(e["seq"] for e in entries)
    ping = entries[0]
    assert (ping["direction"], ping["matched"], ping["body"], ping["mockId"], ping["type"]) == \
        ("inbound", "matchers[0]", "ping", "chat", "text")
    long_one = next(e for e in entries if e["size"] == 19)
    assert long_one["body"] == "nobody a" and long_one["truncated"] is True and long_one["matched"] == "unmatched"
    binary = next(e for e in entries if e["type"] == "binary" and e["direction"] == "outbound")
    assert binary["size"] == 20 and binary["body"] == "AAAAAAAAAAA="  # 8 bytes kept, base64
    query = srv.admin.get
    assert [e["body"] for e in query("/websocket/messages", query={"direction": "outbound", "mockId": "chat"})
            .json["messages"]] == ["pong"]
    assert [e["matched"] for e in query("/websocket/messages", query={"matched": "true"}).json["messages"]] == \
        ["matchers[0]", "echo"]
    assert [e["body"] for e in query("/websocket/messages", query={"matched": "false", "direction": "inbound"})
            .json["messages"]] == ["nobody a"]
    echo_id = binary["connectionId"]
    assert {e["connectionId"] for e in query("/websocket/messages", query={"connectionId": echo_id})
            .json["messages"]} == {echo_id}
    assert len(query("/websocket/messages", query={"since": ping["seq"]}).json["messages"]) == 4
    newest = query("/websocket/messages", query={"limit": 1}).json
    assert newest["count"] == 1 and newest["messages"][0]["seq"] == newest["lastSeq"] == entries[-1]["seq"]
    assert_error(query("/websocket/messages", query={"direction": "up"}), 400, "invalid_parameter")
    assert_error(query("/websocket/messages", query={"matched": "perhaps"}), 400, "invalid_parameter")
    assert srv.admin.delete("/websocket/messages").status == 204
    assert query("/websocket/messages").json["messages"] == []


def test_wait_counts_recorded_entries_and_blocks_for_new_ones(srv, connect):
    ws = connect(srv, "/chat")
    ws.send("ping")
    ws.recv()
    already = srv.admin.post("/websocket/messages/wait", {"match": {"type": "exact", "value": "pong"}})
    assert already.status == 200 and [e["body"] for e in already.json["messages"]] == ["pong"]

    def reply_later():
        gevent.sleep(0.3)
        ws.send('{"type": "ack", "n": 1}')
        ws.send('{"type": "ack", "n": 2}')

    gevent.spawn(reply_later)
    started = time.monotonic()
    waited = srv.admin.post("/websocket/messages/wait", {
        "count": 2, "timeout": "5s", "direction": "inbound", "mockId": "chat", "since": already.json["lastSeq"],
        "match": {"type": "json", "path": "$.type", "value": "ack"}})
    assert waited.status == 200 and 0.25 < time.monotonic() - started < 4
    assert [e["body"] for e in waited.json["messages"]] == ['{"type": "ack", "n": 1}', '{"type": "ack", "n": 2}']


def test_wait_times_out_with_408_and_what_arrived(srv, connect):
    ws = connect(srv, "/echo")
    ws.send("one")
    ws.recv()
    started = time.monotonic()
    reply = srv.admin.post("/websocket/messages/wait", {"count": 3, "timeout": 0.3, "direction": "inbound"})
    assert 0.25 < time.monotonic() - started < 3
    assert_error(reply, 408, "timeout")
    assert [e["body"] for e in reply.json["messages"]] == ["one"]


def test_wait_bad_input(srv):
    wait = "/websocket/messages/wait"
    bad_matcher = srv.admin.post(wait, {"match": {"type": "regexp", "value": "a"}})
    assert_error(bad_matcher, 400, "validation_error")
    assert bad_matcher.json["message"].startswith("match.type: unknown matcher type 'regexp'")
    assert_error(srv.admin.post(wait, {"match": {"type": "regex", "value": "("}}), 400, "validation_error")
    assert_error(srv.admin.post(wait, {"timeout": "soon"}), 400, "validation_error")
    assert_error(srv.admin.post(wait, {"timeout": 10_000}), 400, "validation_error")
    assert_error(srv.admin.post(wait, {"count": 0}), 400, "invalid_parameter")
    assert_error(srv.admin.post(wait, {"count": "2"}), 400, "invalid_parameter")
    assert_error(srv.admin.post(wait, {"direction": "sideways"}), 400, "validation_error")
    assert_error(srv.admin.post(wait, [1]), 400, "validation_error")


def test_user_flow_create_connect_push_wait_assert_delete(srv, connect):
    """What a user's test does: script a mock, drive the client, verify what it said."""
    created = srv.admin.post("/mocks", {
        "type": "websocket", "name": "orders",
        "websocket": {"path": "/orders", "matchers": [
            {"match": {"type": "json", "path": "$.type", "value": "ack"}, "noResponse": True}]}})
    mock_id = created.json["id"]
    client = connect(srv, "/orders")
    cid = connection_id(srv, mock_id)
    srv.admin.post(f"/websocket/connections/{cid}/send", {"data": '{"type": "order", "id": 7}'})
    order = client.recv()  # the client under test answers what it got
    client.send('{"type": "ack", "id": %d}' % json.loads(order)["id"])
    waited = srv.admin.post("/websocket/messages/wait", {
        "mockId": mock_id, "direction": "inbound", "timeout": "3s",
        "match": {"type": "json", "path": "$.type", "value": "ack"}})
    assert waited.status == 200
    (ack,) = waited.json["messages"]
    assert (ack["direction"], ack["matched"], ack["body"], ack["connectionId"]) == \
        ("inbound", "matchers[0]", '{"type": "ack", "id": 7}', cid)
    journal = srv.admin.get("/websocket/messages", query={"mockId": mock_id}).json["messages"]
    assert [(e["direction"], e["body"]) for e in journal] == [
        ("outbound", '{"type": "order", "id": 7}'), ("inbound", '{"type": "ack", "id": 7}')]
    assert srv.admin.delete(f"/mocks/{mock_id}").status == 204
    assert recv_close(client) == (1012, "mock updated")


# ---------------------------------------------------------------------------- limits and security

def test_body_over_1_mib_is_413(srv):
    too_big = srv.admin.request("POST", "/mocks", data=b" " * (MAX_BODY + 1))
    assert_error(too_big, 413, "payload_too_large")
    assert_error(srv.admin.request("POST", "/websocket/broadcast", data=b"x" * (MAX_BODY + 1)), 413,
                 "payload_too_large")
    # At the limit the body is read and judged on its content.
    assert_error(srv.admin.request("POST", "/mocks", data=b"[" + b" " * (MAX_BODY - 1)), 400, "invalid_json")
    # Chunked, without a Content-Length: padding that would still parse as a valid mock.
    valid = b'{"type": "websocket", "websocket": {"path": "/sneaky"}}'
    for size, status in ((MAX_BODY + 1, 413), (MAX_BODY, 201)):
        connection = http.client.HTTPConnection("127.0.0.1", srv.server.admin_port_bound, timeout=10)
        body = iter([b" " * (size - len(valid)), valid])
        connection.request("POST", "/mocks", body=body, encode_chunked=True,
                           headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        assert (response.status, json.loads(response.read()).get("error")) == \
            (status, "payload_too_large" if status == 413 else None)
        connection.close()
    assert mock_ids(srv)[:2] == ["echo", "chat"] and len(mock_ids(srv)) == 3


def test_token_guards_every_route_but_health(make_mockd_server):
    srv = make_mockd_server(CONFIG, admin_token="s3cret-token")
    anonymous = type(srv.admin)(srv.admin_url)
    assert anonymous.get("/health").status == 200
    for method, path in (("GET", "/mocks"), ("GET", "/status"), ("POST", "/mocks"), ("DELETE", "/mocks"),
                         ("GET", "/openapi.json"), ("GET", "/websocket/connections"), ("GET", "/nope")):
        reply = anonymous.request(method, path)
        assert_error(reply, 401, "unauthorized")
        assert reply.headers["WWW-Authenticate"].startswith("Bearer")
    assert_error(anonymous.get("/mocks", headers={"Authorization": "Bearer wrong"}), 401, "unauthorized")
    assert_error(anonymous.get("/mocks", headers={"X-API-Key": "s3cret-toke"}), 401, "unauthorized")
    assert_error(anonymous.get("/mocks", headers={"Authorization": "Basic s3cret-token"}), 401, "unauthorized")
    assert anonymous.get("/mocks", headers={"Authorization": "Bearer s3cret-token"}).status == 200
    assert anonymous.get("/mocks", headers={"X-API-Key": "s3cret-token"}).status == 200
    assert srv.admin.delete("/mocks").status == 204  # the helper sends the server's token
    assert mock_ids(srv) == []


def test_admin_listens_on_127_0_0_1_only_by_default(srv):
    port = srv.server.admin_port_bound
    assert srv.admin.get("/health").status == 200
    # Another loopback address reaches a wildcard listener, but not one bound to 127.0.0.1.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.2", port), timeout=2).close()


# ---------------------------------------------------------------------------- command line

@pytest.mark.parametrize("host, refused", [
    ("127.0.0.1", False), ("127.0.0.2", False), ("::1", False), ("[::1]", False), ("localhost", False),
    ("0.0.0.0", True), ("::", True), ("192.168.1.5", True), ("mockd.example", True),
])
def test_serve_refuses_a_non_loopback_admin_without_a_token(host, refused, capfd, monkeypatch):
    monkeypatch.delenv("MOCKD_ADMIN_TOKEN", raising=False)
    args = get_parser().parse_args(["serve", "--admin-host", host])
    assert bool(_admin_exposure_error(args)) == refused
    if refused:
        assert main(["serve", "--admin-host", host, "--no-plugin-autoload"]) == 2
        err = capfd.readouterr().err
        assert err.startswith(f"mockd: error: --admin-host {host} exposes the admin API") and "--admin-token" in err
        for allowed in (["--admin-token", "t"], ["--admin-insecure"], ["--no-admin"]):
            assert _admin_exposure_error(get_parser().parse_args(["serve", "--admin-host", host, *allowed])) is None
        monkeypatch.setenv("MOCKD_ADMIN_TOKEN", "from-env")
        parsed = get_parser().parse_args(["serve", "--admin-host", host])
        assert parsed.admin_token is None  # the parser never captures the secret; main() reads it


@contextlib.contextmanager
def serving(cwd, *args, **env_extra):
    """``mockd serve ARGS`` as a user runs it, from ``cwd`` (no config file there: the built-in
    demo): yields its banner lines, up to "Press Ctrl+C to stop"; the process is ended after."""
    proc = popen("serve", "--host", "127.0.0.1", "-p", "0", *args, "--no-plugin-autoload", cwd=cwd, **env_extra)
    try:
        _, lines = read_until(proc.stdout, r"^Press Ctrl\+C to stop$", timeout=20)
        yield [line.rstrip("\n") for line in lines]
    finally:
        end(proc)


@pytest.mark.slow
def test_serve_options_reach_the_admin_api(tmp_path):
    """``mockd serve`` as a user runs it: banner line, token from the environment, journal size."""
    with serving(tmp_path, "-a", "0", "--journal-size", "3", "--journal-body-limit", "4",
                 MOCKD_ADMIN_TOKEN="env-token") as banner:
        admin_line = next(line for line in banner if line.startswith("  Admin API:"))
        match = re.fullmatch(r"  Admin API:   http://127\.0\.0\.1:(\d+)", admin_line)
        assert match and int(match.group(1)) != 0
        ws_port = int(re.search(r"Mock server: ws://[^:]+:(\d+)", "\n".join(banner)).group(1))
        admin = AdminClient(f"http://127.0.0.1:{match.group(1)}", token="env-token")
        assert AdminClient(admin.base_url).get("/health").status == 200
        assert AdminClient(admin.base_url).get("/mocks").status == 401
        assert admin.get("/mocks").json["total"] == 3  # the built-in demo
        ws = websocket.create_connection(f"ws://127.0.0.1:{ws_port}/ws", timeout=5)
        for word in ("alpha", "beta", "gamma"):
            ws.send(word)
            assert ws.recv() == word
        ws.close()
        journal = admin.get("/websocket/messages").json["messages"]
        assert [(e["direction"], e["body"]) for e in journal] == [
            ("outbound", "beta"), ("inbound", "gamm"), ("outbound", "gamm")]  # 3 kept, 4 bytes each
        assert admin.get("/status").json["journal"] == {"size": 3, "entries": 3, "bodyLimit": 4}


def test_serve_with_no_admin_prints_no_admin_line(tmp_path):
    with serving(tmp_path, "--no-admin", "--admin-host", "0.0.0.0") as banner:
        assert any(line.startswith("  Mock server:") for line in banner)
        assert not any("Admin API" in line for line in banner)


def test_readme_admin_examples_use_real_routes(srv):
    """Each curl line of README.rst's "Admin API" section names a route and method that exist,
    and together they cover every route group."""
    from mockd.admin.app import create_app

    text = (pathlib.Path(__file__).resolve().parents[1] / "README.rst").read_text(encoding="utf-8")
    section = text.split("\nAdmin API\n---------\n", 1)[1].split("\n---", 1)[0]
    adapter = create_app(srv.server).url_map.bind("localhost")
    groups = set()
    commands = [line.strip() for line in section.splitlines() if re.match(r"\s+(\S+=\S+ )?curl ", line)]
    assert len(commands) >= 15
    for command in commands:
        explicit = re.search(r"-X (\w+)", command)
        method = explicit.group(1) if explicit else "GET"
        path = re.search(r"localhost:4290(/[^\s'\"?]*)", command).group(1)
        endpoint, _ = adapter.match(path, method=method)  # raises NotFound / MethodNotAllowed
        groups.add(endpoint.split(".")[0])
    assert groups == {"mocks", "config", "connections", "faults", "journal", "system", "openapi"}


def _readme_admin_section():
    text = (pathlib.Path(__file__).resolve().parents[1] / "README.rst").read_text(encoding="utf-8")
    return text.split("\nAdmin API\n---------\n", 1)[1].split("\n**Mocks.**", 1)[0]


def _codes_raised_in(path):
    """The error codes ``path`` can answer with: the literal codes given to ApiError, invalid(),
    not_found(), MockConflict and the app's own _error() and _CODES."""
    codes = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "_CODES" for t in node.targets):
            codes |= {value.value for value in node.value.values}
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", getattr(node.func, "attr", None))
        position = {"ApiError": 1, "_error": 1, "invalid": 1, "MockConflict": 0}.get(name)
        if name == "not_found":
            codes.add("not_found")
        elif name == "invalid" and len(node.args) < 2:
            codes.add("validation_error")
        elif position is not None and len(node.args) > position:
            code = node.args[position]
            if isinstance(code, ast.Constant) and isinstance(code.value, str):
                codes.add(code.value)
    return codes


def test_readme_lists_every_error_code_the_api_answers(srv):
    """Issue 11 item 10: the README's table of error codes is exactly what the API can answer:
    the codes in the admin package and the server's conflicts, and Werkzeug's (an unknown route,
    a wrong method, a body too large), asked for real."""
    documented = re.findall(r"^``(\w+)`` +(\d{3}) ", _readme_admin_section(), re.M)
    assert len(documented) == len({code for code, _ in documented}) >= 15
    root = pathlib.Path(__file__).resolve().parents[1] / "mockd"
    raised = set().union(*(_codes_raised_in(path) for path in [*(root / "admin").glob("*.py"), root / "server.py"]))
    asked = {srv.admin.get("/nope").json["error"], srv.admin.put("/health", {}).json["error"],
             srv.admin.request("POST", "/mocks", data=b" " * (MAX_BODY + 1)).json["error"]}
    assert asked == {"not_found", "method_not_allowed", "payload_too_large"}
    assert {code for code, _ in documented} == raised | asked
    assert "missing_type" not in raised  # item 9: the type is inferred, as in a file


def test_every_answer_with_a_body_is_json_and_the_bodiless_ones_are_documented(srv):
    """The README names the routes that answer 204 without a body; the OpenAPI document agrees,
    and they do (the fuzz test below checks that every other answer is JSON)."""
    named = set(re.findall(r"``DELETE (/[\w/{}]+)``", _readme_admin_section().split("Every error is")[0]))
    doc = srv.admin.get("/openapi.json").json
    bodiless = {(path, method) for path, item in doc["paths"].items() for method, op in item.items()
                if "204" in op["responses"]}
    assert bodiless == {(path.replace("/mocks/{id}", "/mocks/{mock_id}").replace("/recordings/{id}",
                                                                                  "/recordings/{recording_id}"),
                         "delete") for path in named} and len(named) == 5
    for path in ("/websocket/messages", "/mocks/echo", "/mocks"):
        reply = srv.admin.delete(path)
        assert (reply.status, reply.body, reply.headers.get("Content-Type")) == (204, b"", None), path
    reply = srv.admin.get("/mocks")
    assert reply.headers["Content-Type"] == "application/json" and reply.json == {"mocks": [], "total": 0,
                                                                                "count": 0}


# ---------------------------------------------------------------------------- OpenAPI and fuzzing

def test_openapi_describes_every_route(srv):
    from mockd.admin.app import BLUEPRINTS, create_app

    doc = srv.admin.get("/openapi.json").json
    assert doc["openapi"].startswith("3.")
    described = {(path, method) for path, item in doc["paths"].items() for method in item}
    # the core's blueprints, and the routes protocols add (admin_routes(): "protocols.<name>:<path>")
    core = {blueprint.name for blueprint in BLUEPRINTS} | {"protocols"}
    rules = set()
    for rule in create_app(srv.server).url_map.iter_rules():
        if rule.endpoint.split(".")[0] not in core:
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        rules |= {(path, method.lower()) for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert rules and rules == described
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            params = {p["name"] for p in operation.get("parameters", ()) if p["in"] == "path"}
            assert params == set(re.findall(r"{(\w+)}", path)), (method, path)
    assert "security" not in doc  # no token, no requirement
    srv.server.options = dataclasses.replace(srv.server.options, admin_token="t")
    assert srv.admin.get("/openapi.json").json["security"] == [{"bearerAuth": []}, {"apiKey": []}]


FUZZ_CALLS = []


@pytest.fixture
def fuzz_server(make_mockd_server):
    return make_mockd_server(CONFIG)


@pytest.fixture
def admin_schema(fuzz_server):
    config = schemathesis.Config.from_dict({"phases": {"coverage": {"enabled": False}}})
    return schemathesis.openapi.from_url(fuzz_server.admin_url + "/openapi.json", config=config, timeout=10)


def _would_block(timeout):
    """Whether a wait with this (fuzzed) timeout is valid and so would block for it."""
    if timeout is None:
        return True  # the default, 5s
    if isinstance(timeout, str):
        try:
            timeout = parse_duration(timeout)
        except ValueError:
            return False
    return isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and 0 < timeout <= 300


# Coverage phase off and 12 examples per operation: about 300 requests, well under a minute.
@pytest.mark.slow
@schemathesis.pytest.from_fixture("admin_schema").parametrize()
@settings(max_examples=12, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_fuzzed_admin_api_never_answers_5xx(case, fuzz_server):
    if case.path == "/websocket/messages/wait":
        # A valid wait blocks for its timeout (5s without a body); the fuzz must stay quick.
        # Invalid timeouts are still sent as drawn.
        if isinstance(case.body, NotSet):
            case.body = {}
        if isinstance(case.body, dict) and _would_block(case.body.get("timeout")):
            case.body["timeout"] = 0
    if case.path == "/events":  # endless: its status and type are checked, then it is closed
        with requests.get(fuzz_server.admin_url + "/events", params=case.query, headers=case.headers, stream=True,
                          timeout=10) as stream:
            FUZZ_CALLS.append(stream.status_code)
            if stream.status_code == 400:  # a fuzzed ?messages= that is no boolean
                assert stream.json()["error"] == "invalid_parameter"
            else:
                assert stream.status_code == 200
                assert stream.headers["Content-Type"] == "text/event-stream; charset=utf-8"
        return
    response = case.call(base_url=fuzz_server.admin_url, timeout=10)
    FUZZ_CALLS.append(response.status_code)
    assert response.status_code < 500, case.as_curl_command()
    content_type = {name.lower(): values for name, values in response.headers.items()}.get("content-type", [""])
    if response.status_code < 400 and (case.path.startswith("/ui") or case.query and case.query.get("format")
                                       == "yaml"):
        return  # the dashboard's files and a mock as YAML: the README's exceptions to "JSON"
    if response.content:  # "Every answer with a body is JSON" (README); the others are 204s
        assert content_type == ["application/json"], case.as_curl_command()
    else:
        assert response.status_code == 204, case.as_curl_command()
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body["error"], str) and isinstance(body["message"], str)
