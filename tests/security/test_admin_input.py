"""Issue 10 items 14 and 7 (the admin API's side), against a real ``mockd serve``.

14: a mock id with ``/`` (or ``.``/``..``, or a control character) could be created and then
never addressed as ``/mocks/{id}``; it is refused wherever mocks are made.
7: a JSON body may escape a lone surrogate (``"\\ud800"``), which is no text: sent in a frame it
gave a 500 or ``"sent": 0`` with a traceback. The API answers 400 and nothing is sent.
"""
import json
import urllib.parse

import pytest
import websocket

from _attack import ECHO, served
from _cli import mockd
from mockd.admin.client import AdminClient

BAD_IDS = ["a/b", "/", "..", ".", "bell\x07", "esc\x1b[31m", "nul\x00", "c1\x85"]
LONE = '"\\ud800"'  # JSON text: the escape itself, as a page or a script would send it


def mock(mock_id, path="/x"):
    return {"id": mock_id, "type": "websocket", "websocket": {"path": path}}


def ids(admin):
    return [m["id"] for m in admin.get("/mocks").json["mocks"]]


def assert_400(reply, code, *words):
    assert reply.status == 400 and reply.json["error"] == code, reply
    for word in words:
        assert word in reply.json["message"], reply.json["message"]


@pytest.mark.parametrize("bad_id", ["a/b", "..", "tab\tin"])
def test_a_config_file_with_an_unaddressable_id_is_refused(tmp_path, bad_id):
    config = tmp_path / "mockd.yaml"
    config.write_text(ECHO + f"  - id: {json.dumps(bad_id)}\n    websocket: {{path: /other}}\n", encoding="utf-8")
    result = mockd("check", "-c", config)
    assert result.returncode == 2 and f"mockd: error: {config}: mocks[1].id: " in result.stderr, result.stderr


def test_the_api_refuses_unaddressable_ids_and_addresses_the_others(target):
    server = target(config=ECHO)
    admin = AdminClient(server.admin_url, timeout=5)
    for bad_id in BAD_IDS:
        assert_400(admin.post("/mocks", mock(bad_id)), "validation_error", "id")
        assert_400(admin.post("/mocks/bulk", [mock("fine", "/fine"), mock(bad_id)]), "validation_error", "[1].id")
        assert_400(admin.post("/config", {"config": {"version": "1.0", "mocks": [mock(bad_id)]}}),
                   "validation_error", "config.mocks[0].id")
    assert ids(admin) == ["echo"]
    # Any other character is addressed percent-encoded.
    odd = "q?x#y%z w\u00e9"
    assert admin.post("/mocks", mock(odd)).status == 201
    url = "/mocks/" + urllib.parse.quote(odd, safe="")
    assert admin.get(url).json["id"] == odd
    assert admin.delete(url).status == 204 and ids(admin) == ["echo"]
    assert served(server.url("/ws"))


def test_lone_surrogates_in_admin_bodies_are_400_and_nothing_is_sent(target):
    server = target(config=ECHO)
    admin = AdminClient(server.admin_url, timeout=5)
    client = websocket.create_connection(server.url("/ws"), timeout=2)
    try:
        (connection,) = admin.get("/websocket/connections").json["connections"]
        for path, body in (("/websocket/broadcast", '{"path": "/ws", "data": %s}' % LONE),
                           (f"/websocket/connections/{connection['id']}/send", '{"data": "a%s"}' % LONE[1:-1]),
                           ("/mocks", '{"type": "websocket", "websocket": {"path": "/s", "defaultResponse": '
                                      '{"type": "text", "value": %s}}}' % LONE),
                           ("/mocks", '{"type": "websocket", %s: 1, "websocket": {"path": "/s"}}' % LONE),
                           ("/config", '{"config": {"version": "1.0", "mocks": [{"id": %s, "websocket": '
                                       '{"path": "/s"}}]}}' % LONE)):
            assert_400(admin.post(path, data=body.encode()), "invalid_json", "lone surrogate"), path
        assert ids(admin) == ["echo"]
        # A pair of escapes is one character, and is sent.
        reply = admin.post("/websocket/broadcast", data=b'{"path": "/ws", "data": "\\ud83d\\ude00"}')
        assert reply.status == 200 and reply.json["sent"] == 1, reply
        assert client.recv() == "\U0001F600"  # the first frame: none of the refused ones was sent
        client.send("echo?")
        assert client.recv() == "echo?"
    finally:
        client.close()
    assert served(server.url("/ws"))
    _out, err = server.stop()
    assert "Traceback" not in err and " ERROR " not in err
