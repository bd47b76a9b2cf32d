"""Issue 10 items 9, 10 and 11: patterns in a config, and client messages run against them.

A regex, template or JSONPath nested deeply enough to exhaust the compiler's recursion was a
500 from the admin API (and a traceback from ``mockd check``); a backtracking regex stalled
every connection; ``$..deep`` was quietly ``$.deep``. Each test runs a real ``mockd serve`` or
``mockd check``.
"""
import json
import time
import urllib.request

import gevent
import pytest
import websocket

from _attack import ECHO, served
from _cli import mockd
from mockd.admin.client import AdminClient

DEEP_REGEX = "(" * 3000 + "a" + ")" * 3000
DEEP_TEMPLATE = "{{" + "upper(" * 3000 + "'a'" + ")" * 3000 + "}}"
WIDE_JSONPATH = "$" + "[0]" * 3000  # compiled, it was then recursed per segment on every message
NESTED_JSONPATH = "$" + "[?(@.a" * 3000 + ")]" * 3000  # filters in filters

# (where in the mock, the mock's websocket block)
DEEP = {
    "regex": ("matchers[0].match.value",
              {"matchers": [{"match": {"type": "regex", "value": DEEP_REGEX}}]}),
    "template": ("matchers[0].response.value",
                 {"matchers": [{"match": {"type": "exact", "value": "x"},
                                "response": {"type": "text", "value": DEEP_TEMPLATE}}]}),
    "json value": ("defaultResponse.value.a",
                   {"defaultResponse": {"type": "json", "value": {"a": DEEP_TEMPLATE}}}),
    "jsonpath": ("matchers[0].match.path",
                 {"matchers": [{"match": {"type": "json", "path": WIDE_JSONPATH, "value": "x"}}]}),
    "jsonpath filter": ("matchers[0].match.path",
                        {"matchers": [{"match": {"type": "json", "path": NESTED_JSONPATH, "value": "x"}}]}),
    "scenario wait": ("scenario.steps[0].match.value",
                      {"scenario": {"steps": [{"type": "wait", "match": {"type": "regex", "value": DEEP_REGEX}}]}}),
}

REDOS = ECHO + """\
  - id: redos
    type: websocket
    websocket:
      path: /redos
      echoMode: true
      matchers:
        - match: {type: regex, value: "^(a+)+$"}
          response: {type: text, value: plus}
        - match: {type: regex, value: "^(a|a)+$"}
          response: {type: text, value: alternation}
        - match: {type: regex, value: "^b"}
          response: {type: text, value: b}
"""

DESCENT = ECHO + """\
  - id: descent
    type: websocket
    websocket:
      path: /descent
      matchers:
        - match: {type: json, path: "$..deep", value: "yes"}
          response: {type: text, value: found}
        - match: {type: json, path: "$.a..b.hit", value: "yes"}
          response: {type: text, value: found under a}
      defaultResponse: {type: text, value: missed}
"""


def mock(block, path="/p"):
    return {"id": "m", "type": "websocket", "websocket": dict(block, path=path)}


@pytest.mark.parametrize("kind", DEEP, ids=list(DEEP))
def test_mockd_check_locates_a_too_deep_pattern(tmp_path, kind):
    """Item 9, files: exit 2 and the located error, as for any other invalid value."""
    where, block = DEEP[kind]
    (tmp_path / "deep.json").write_text(json.dumps({"version": "1.0", "mocks": [mock(block)]}))
    done = mockd("check", "-c", tmp_path / "deep.json")
    assert done.returncode == 2, done.stderr[-2000:]
    assert f"mockd: error: {tmp_path / 'deep.json'}: mocks[0].websocket.{where}: " in done.stderr, done.stderr[:500]
    assert "Traceback" not in done.stderr and "nested too deep" in done.stderr, done.stderr[:500]
    assert len(done.stderr) < 1000  # the error quotes the start of the pattern, not 6,000 characters


def test_the_admin_api_answers_400_for_a_too_deep_pattern(target):
    """Item 9, API: each of the patterns above is a 400 validation error, never a 500, and
    the server serves on."""
    server = target(config=ECHO)
    for kind, (where, block) in DEEP.items():
        reply = AdminClient(server.admin_url, timeout=10).post("/mocks", mock(block, f"/{kind.replace(' ', '-')}"))
        assert reply.status == 400, (kind, reply)
        assert reply.json["error"] == "validation_error" and where in reply.json["message"], (kind, reply)
    assert served(server.url())
    _out, err = server.stop()
    assert "Traceback" not in err, err[-3000:]


def round_trip(url, payload):
    ws = websocket.create_connection(url, timeout=10)
    try:
        started = time.monotonic()
        ws.send(payload)
        return ws.recv(), time.monotonic() - started
    finally:
        ws.close()


def test_a_backtracking_regex_has_a_time_budget(target):
    """Item 10: ``^(a+)+$`` against 27 characters stalled every connection and the API for
    2 s (``^(a|a)+$`` even in the ``regex`` engine for ever). A regex gets 50 ms a message: an
    overrun is no match, logged once per matcher, and nobody else waits."""
    server = target(config=REDOS)
    evil = "a" * 27 + "!"
    assert round_trip(server.url("/redos"), "aaaa")[0] == "plus"  # matching as before

    delays = []

    def bystander():
        ws = websocket.create_connection(server.url(), timeout=10)
        try:
            while len(delays) < 40:
                started = time.monotonic()
                ws.send("tick")
                assert ws.recv() == "tick"
                delays.append(time.monotonic() - started)
                gevent.sleep(0.02)
        finally:
            ws.close()

    watcher = gevent.spawn(bystander)
    ws = websocket.create_connection(server.url("/redos"), timeout=10)
    for _ in range(5):
        started = time.monotonic()
        ws.send(evil)
        assert ws.recv() == evil  # no matcher matched within its budget: the echo
        assert time.monotonic() - started < 0.5
    ws.send("b")
    assert ws.recv() == "b"  # later matchers still run
    ws.close()
    watcher.get(timeout=30)
    assert max(delays) < 0.5, f"a bystander waited {max(delays):.2f}s"
    with urllib.request.urlopen(server.admin_url + "/health", timeout=5) as response:
        assert response.status == 200

    _out, err = server.stop()
    warnings = [line for line in err.splitlines() if " WARNING " in line and "regex" in line]
    assert len(warnings) == 1, err[-3000:]  # one per matcher, not one per message
    assert "'redos'" in warnings[0] and "matchers[1]" in warnings[0] and "50 ms" in warnings[0], warnings


def test_recursive_descent_searches_every_level(target):
    """Item 11: ``$..deep`` was walked as ``$.deep``; it is jsonpath-ng's recursive descent."""
    server = target(config=DESCENT)
    ws = websocket.create_connection(server.url("/descent"), timeout=5)
    for payload, expected in [
        ('{"deep":"yes"}', "found"),
        ('{"a":{"b":[{"c":{"deep":"yes"}}]}}', "found"),
        ('{"deep":"no","a":{"deep":"no"}}', "missed"),
        ('{"a":{"x":{"b":{"deep":"yes"}}}}', "found"),
        ('["not", {"deep": "yes"}]', "found"),
        ('{"a":{"x":{"y":{"b":{"hit":"yes"}}}}}', "found under a"),  # $.a..b.hit: b at any depth below a
        ('{"b":{"hit":"yes"}}', "missed"),
    ]:
        ws.send(payload)
        assert ws.recv() == expected, payload
    ws.close()
    assert served(server.url())
    _out, err = server.stop()
    assert "Traceback" not in err, err[-3000:]
