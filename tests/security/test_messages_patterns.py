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
from mockd.adminclient import AdminClient

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


def json_mock(mock_id, rules, default):
    """A mock on ``/<mock_id>``: ``(path, value, reply)`` json rules, else ``default``."""
    matchers = "".join(f"""\
        - match: {{type: json, path: "{path}", value: "{value}"}}
          response: {{type: text, value: {reply}}}
""" for path, value, reply in rules)
    return f"""\
  - id: {mock_id}
    type: websocket
    websocket:
      path: /{mock_id}
      matchers:
{matchers}      defaultResponse: {{type: text, value: {default}}}
"""


DESCENT = ECHO + json_mock("descent", [("$..deep", "yes", "found"), ("$.a..b.hit", "yes", "found under a")], "missed")


def mock(block, path="/p"):
    return {"id": "m", "type": "websocket", "websocket": dict(block, path=path)}


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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


# ---------------------------------------------------------------- costs per message, not per search


class Bystander:
    """An established client of the echo mock that sends a tick every 20 ms while an attack
    goes on; :meth:`stop` returns its longest round trip. (A fresh connection per check, as
    :func:`_attack.served` makes, waits for several turns of the loop, not one.)"""

    def __init__(self, url):
        self.ws = websocket.create_connection(url, timeout=60)
        self.delays = []
        self._running = True
        self._greenlet = gevent.spawn(self._run)

    def _run(self):
        while self._running:
            started = time.monotonic()
            self.ws.send("tick")
            assert self.ws.recv() == "tick"
            self.delays.append(time.monotonic() - started)
            gevent.sleep(0.02)

    def stop(self):
        self._running = False
        self._greenlet.get(timeout=60)
        self.ws.close()
        return max(self.delays)


def pipelined(*payloads):
    """The frames of ``payloads`` in one write, as a client that does not wait for replies sends."""
    return b"".join(websocket.ABNF.create_frame(p, websocket.ABNF.OPCODE_TEXT).format() for p in payloads)


def warnings_in(server, word):
    _out, err = server.stop()
    assert "Traceback" not in err, err[-3000:]
    return [line for line in err.splitlines() if " WARNING " in line and word in line]


EVIL = "a" * 30 + "!"
TWENTY = ECHO + """\
  - id: twenty
    type: websocket
    websocket:
      path: /twenty
      matchers:
""" + "".join(f"""\
        - match: {{type: regex, value: '^(a|a)+{i}$'}}
          response: {{type: text, value: r{i}}}
""" for i in range(20))


@pytest.mark.slow
def test_the_regex_budget_is_shared_by_the_rules_of_a_message(target):
    """Item 10, continued: the 50 ms were per search, so 20 backtracking rules cost every
    client 1 s a message. The rules tried for one message share the 50 ms."""
    server = target(config=TWENTY)
    bystander = Bystander(server.url())
    ws = websocket.create_connection(server.url("/twenty"), timeout=60)
    started = time.monotonic()
    for _ in range(3):
        ws.send(EVIL)  # no rule matches in time: no reply
    ws.send("a1")
    assert ws.recv() == "r1"  # the rules still match what they can, in order
    took = time.monotonic() - started
    ws.close()
    worst = bystander.stop()
    assert took < 1.0, f"three messages through 20 rules took {took:.2f}s (3 s when the budget was per search)"
    assert worst < 0.5, f"a bystander waited {worst:.2f}s"
    overruns = warnings_in(server, "regex matcher")
    # The first rule used the message's time; the others were not tried and did not log.
    assert len(overruns) == 1 and "matchers[0]" in overruns[0], overruns
    assert "the 50 ms of one message's matchers ran out" in overruns[0], overruns


@pytest.mark.slow
def test_pipelined_messages_let_other_clients_in_between(target):
    """Reading a message the client already sent does not yield to other connections: 60
    pipelined messages, each taking the regex budget, held every client for 3.8 s. The loop
    lets the others in once a connection's messages took a few milliseconds."""
    server = target(config=REDOS)
    bystander = Bystander(server.url())
    gevent.sleep(0.1)
    ws = websocket.create_connection(server.url("/redos"), timeout=60)
    ws.sock.sendall(pipelined(*[EVIL] * 40))
    for _ in range(40):
        assert ws.recv() == EVIL  # echoed: no rule matched within the budget
    ws.close()
    worst = bystander.stop()
    assert worst < 0.5, f"a bystander waited {worst:.2f}s behind 40 pipelined messages (2.5 s before)"
    assert served(server.url())


D, W = 190, 25_000
ITEMS = '{"items":' * D + "[" + ",".join(["0"] * W) + "]" + "}" * D  # 52 KB
BRACKETS = "[" * 190 + "]" * 190  # 380 bytes
DESCENTS = ECHO + json_mock("descents", [("$..items..id", "7", "found"), ("$..*..*..*", "8", "star")], "nothing")


@pytest.mark.slow
def test_recursive_descent_has_a_step_budget(target):
    """Item 11, continued: ``$..items..id`` walks the subtree of every ``items`` again; on a
    52 KB message it stalled every client for 18 s, and ``$..*..*..*`` on 380 bytes for 9 s.
    An evaluation gets 20,000 steps (and the message's 50 ms): then it is no match, logged once
    per matcher."""
    server = target(config=DESCENTS)
    bystander = Bystander(server.url())
    ws = websocket.create_connection(server.url("/descents"), timeout=60)
    for payload in (ITEMS, BRACKETS, ITEMS):
        answer, took = round_trip_on(ws, payload)
        assert answer == "nothing" and took < 1.0, (len(payload), answer, took)
    assert round_trip_on(ws, '{"a":[{"items":{"b":{"id":7}}}]}')[0] == "found"  # real paths still work
    assert round_trip_on(ws, '{"a":[[{"x":8}]]}')[0] == "star"
    ws.close()
    worst = bystander.stop()
    assert worst < 0.5, f"a bystander waited {worst:.2f}s"
    overruns = warnings_in(server, "json matcher")
    assert len(overruns) == 2, overruns  # one per matcher, not one per message
    for line in overruns:  # which limit comes first depends on the machine's speed
        assert "'descents'" in line and ("20000 steps of one JSONPath" in line or "50 ms" in line), line


def round_trip_on(ws, payload):
    started = time.monotonic()
    ws.send(payload)
    return ws.recv(), time.monotonic() - started
