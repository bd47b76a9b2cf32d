"""Issue 10 items 14 and 7 (the admin API's side), against a real ``mockd serve``.

14: a mock id with ``/`` (or ``.``/``..``, or a control character) could be created and then
never addressed as ``/mocks/{id}``; it is refused wherever mocks are made.
7: a JSON body may escape a lone surrogate (``"\\ud800"``), which is no text: sent in a frame it
gave a 500 or ``"sent": 0`` with a traceback. The API answers 400 and nothing is sent.
"""
import json
import time
import urllib.parse

import gevent
import pytest
import websocket

from _attack import ECHO, served
from _cli import mockd
from mockd.adminclient import AdminClient
from test_messages_patterns import EVIL, Bystander

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


@pytest.mark.slow
@pytest.mark.parametrize("bad_id", ["a/b", "..", "tab\tin"])
def test_a_config_file_with_an_unaddressable_id_is_refused(tmp_path, bad_id):
    config = tmp_path / "mockd.yaml"
    config.write_text(ECHO + f"  - id: {json.dumps(bad_id)}\n    websocket: {{path: /other}}\n", encoding="utf-8")
    result = mockd("check", "-c", config)
    assert result.returncode == 2 and f"mockd: error: {config}: mocks[1].id: " in result.stderr, result.stderr


@pytest.mark.slow
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


@pytest.mark.slow
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


# ---------------------------------------------------------------- what a request may cost the loop


@pytest.mark.slow
def test_a_wait_scans_the_journal_within_a_budget(target):
    """``POST /websocket/messages/wait`` tests its ``match`` on every entry already journaled:
    a backtracking regex over 400 entries took 50 ms each, 20 s in which no client was served.
    The scan has one second in all, lets the loop run every 10 ms, and logs the overrun once."""
    server = target(config=ECHO)
    ws = websocket.create_connection(server.url("/ws"), timeout=10)
    for _ in range(200):
        ws.send(EVIL)
        assert ws.recv() == EVIL
    bystander = Bystander(server.url())
    admin = AdminClient(server.admin_url, timeout=30)
    started = time.monotonic()
    reply = admin.post("/websocket/messages/wait", {"match": {"type": "regex", "value": "^(a|a)+$"}, "timeout": 0.5})
    took = time.monotonic() - started
    assert reply.status == 408 and reply.json["count"] == 0, reply
    # The filter still works on what arrives: a message it matches in time completes a wait.
    waiter = gevent.spawn(admin.post, "/websocket/messages/wait",
                          {"match": {"type": "regex", "value": "^(a|a)+$"}, "since": 400, "timeout": 10})
    gevent.sleep(0.2)
    ws.send("aaaa")
    assert ws.recv() == "aaaa"
    reply = waiter.get(timeout=20)
    assert reply.status == 200 and [m["body"] for m in reply.json["messages"]] == ["aaaa"], reply
    worst = bystander.stop()
    ws.close()
    assert took < 4, f"the wait took {took:.1f}s (20 s before)"
    assert worst < 0.5, f"a bystander waited {worst:.2f}s"
    _out, err = server.stop()
    overruns = [line for line in err.splitlines() if " WARNING " in line and "regex matcher" in line]
    assert len(overruns) == 1 and "ms of one search in a wait's scan of the journal" in overruns[0], overruns


@pytest.mark.slow
def test_a_regex_too_long_to_compile_quickly_is_a_400(target):
    """A 200,000-branch alternation compiled on the loop for 5.7 s. Patterns are capped at
    10,000 characters: a located validation error, answered at once."""
    server = target(config=ECHO)
    admin = AdminClient(server.admin_url, timeout=30)
    huge = {"type": "websocket", "websocket": {"path": "/huge", "matchers": [
        {"match": {"type": "regex", "value": "a|" * 200_000 + "a"}, "response": {"type": "text", "value": "x"}}]}}
    started = time.monotonic()
    reply = admin.post("/mocks", huge)
    took = time.monotonic() - started
    assert_400(reply, "validation_error", "websocket.matchers[0].match.value", "more than 10000")
    assert took < 1, f"{took:.1f}s"
    huge["websocket"]["matchers"][0]["match"]["value"] = "|".join(f"w{i}" for i in range(1500))  # 8,889 characters
    assert admin.post("/mocks", huge).status == 201
    assert served(server.url("/ws"))


PLUGIN = '''\
from mockd import hookimpl
from mockd.matching import Matcher


class Exit(Matcher):
    name = "exit"

    @classmethod
    def from_config(cls, spec, where, build):
        raise SystemExit(5)


class ReadFine(Matcher):
    @classmethod
    def from_config(cls, spec, where, build):
        return cls()


class ExitOnIndex(ReadFine):
    """The dispatcher's look at ``index``, when the mock goes live, raises."""
    name = "exitindex"

    @property
    def index(self):
        raise SystemExit(7)


class ExitLater(ReadFine):
    name = "exitlater"

    def match(self, message, context=None):
        raise SystemExit(6)


@hookimpl
def mockd_register_matchers():
    return (Exit, ExitOnIndex, ExitLater)
'''


@pytest.mark.slow
def test_a_plugin_exiting_through_the_admin_api_does_not_end_the_server(target, tmp_path):
    """Issue 10 item 12 through the admin API: a matcher's ``from_config`` raising SystemExit
    (POST /mocks), or its ``match`` raising it in a wait, answered 500 and then the process
    exited. Whatever a plugin raises in a request is that request's failure (a 500, or a 400
    where it is validating a value), logged with the plugin's name; the server and its clients
    carry on."""
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "rogue.py").write_text(PLUGIN)
    server = target("--plugins-dir", str(plugins), config=ECHO)
    admin = AdminClient(server.admin_url, timeout=10)
    client = websocket.create_connection(server.url("/ws"), timeout=5)

    def mock_with(matcher_type):
        return {"type": "websocket", "websocket": {"path": f"/{matcher_type}", "matchers": [
            {"match": {"type": matcher_type}, "response": {"type": "text", "value": "x"}}]}}

    reply = admin.post("/mocks", mock_with("exit"))  # from_config: the value is refused
    assert reply.status == 400 and "plugin 'rogue'" in reply.json["message"], reply
    assert server.alive() and served(server.url("/ws"))
    reply = admin.post("/mocks", mock_with("exitindex"))  # after validation, while the mock is set up
    assert reply.status == 500 and reply.json["error"] == "internal_error", reply
    assert server.alive() and served(server.url("/ws"))

    client.send("before")
    assert client.recv() == "before"
    # match() raising SystemExit: on the entries already there, and on live ones (in the
    # receive loop of the client whose message is recorded, which must not get 1011 either).
    waiter = gevent.spawn(admin.post, "/websocket/messages/wait", {"match": {"type": "exitlater"}, "timeout": 1})
    gevent.sleep(0.2)
    client.send("during")
    assert client.recv() == "during"
    assert waiter.get(timeout=10).status == 408
    assert server.alive() and served(server.url("/ws"))
    client.send("after")
    assert client.recv() == "after"
    client.close()
    _out, err = server.stop()
    failures = [line for line in err.splitlines() if " ERROR " in line]
    assert len(failures) == 2 and all("'rogue'" in line for line in failures), failures
    assert "raised in admin request POST /mocks: SystemExit(7)" in failures[0], failures
    assert "wait matcher failed" in failures[1], failures  # once per wait, not per entry
