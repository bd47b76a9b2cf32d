"""Every ```yaml example of docs/websocket-mocking.md, served and driven with a real client.

The examples are extracted from the document at collection time (a regex on the ```yaml
fences), so the tests follow the documentation: a new example fails
``test_every_example_is_exercised`` until it gets an exercise here. Fragments are wrapped into complete configs the
way a reader would paste them (see :func:`wrap`), served with ``make_mockd_server`` on
127.0.0.1 and driven with ``websocket-client`` through a real socket. Each example has one
exercise in ``EXERCISES`` (keyed by its index, with the heading it must sit under) that checks
what the document says it does, and the rules README.rst adds where the document is silent
(matching, templates, echo precedence, scenarios).

The doc's "Integration Tests (Python)" code, its wscat session and its ``mockd websocket
connect`` session run against the built-in demo config (what ``mockd serve`` serves without
``--config``).
"""
import base64
import datetime
import functools
import hashlib
import importlib.resources
import json
import pathlib
import re
import textwrap
import time
import uuid

import pytest
import websocket
import yaml

from mockd.testing import assert_silent, recv_close, recv_text

DOC = pathlib.Path(__file__).resolve().parents[1] / "docs" / "websocket-mocking.md"
EXPECTED_BLOCKS = 28
TIMEOUT = 3.0    # default receive timeout of every client here: a failing test never hangs

TEXT = websocket.ABNF.OPCODE_TEXT
BINARY = websocket.ABNF.OPCODE_BINARY


# ---------------------------------------------------------------------------- the document

def _doc_text():
    return DOC.read_text(encoding="utf-8")


def extract_yaml_blocks(doc):
    """``[(heading, yaml text), ...]`` for every ```yaml fence, in document order."""
    blocks = []
    for match in re.finditer(r"^```yaml[ \t]*\n(.*?)^```[ \t]*$", doc, re.M | re.S):
        headings = re.findall(r"^#{2,6} +(.+?)\s*$", doc[:match.start()], re.M)
        blocks.append((headings[-1] if headings else "", match.group(1)))
    return blocks


def fenced_block(doc, heading, language):
    """The first ```language block after the ``heading`` line."""
    start = re.search(rf"^#+ +{re.escape(heading)}\s*$", doc, re.M)
    assert start, f"the doc has no heading {heading!r}"
    block = re.compile(rf"^```{language}[ \t]*\n(.*?)^```", re.M | re.S).search(doc, start.end())
    assert block, f"no ```{language} block after {heading!r}"
    return block.group(1)


BLOCKS = extract_yaml_blocks(_doc_text())


def _mock_head(index):
    return f'version: "1.0"\nmocks:\n  - id: doc-example-{index}\n    name: doc example {index}\n' \
           f'    type: websocket\n'


def wrap(block, index):
    """Turn an example into a complete config text (the example's own text kept verbatim).

    - ``version:`` - already a full config;
    - ``websocket:`` - the block of one mock;
    - ``matchers:`` / ``scenario:`` - go into a websocket block with path ``/ws``;
    - ``response:`` - the response of a matcher that matches everything (regex ``""``);
    - ``- type:`` - a scenario with that one step; after a ``wait``/``delay`` step a
      ``send`` of the text ``step done`` is added, so the test can see the step completed.
    """
    first = next(line for line in block.splitlines() if line.strip() and not line.lstrip().startswith("#"))
    if first.startswith("version:"):
        return block
    head = _mock_head(index)
    if first.startswith("websocket:"):
        return head + textwrap.indent(block, " " * 4)
    head += "    websocket:\n      path: /ws\n"
    if first.startswith(("matchers:", "scenario:")):
        return head + textwrap.indent(block, " " * 6)
    if first.startswith("response:"):
        return head + ('      matchers:\n        - match:\n            type: regex\n'
                       '            value: ""\n') + textwrap.indent(block, " " * 10)
    if first.startswith("- type:"):
        step_type = yaml.safe_load(block)[0]["type"]
        if step_type != "send":
            block += '- type: send\n  message:\n    type: text\n    value: "step done"\n'
        return head + "      scenario:\n        name: doc-step\n        steps:\n" + textwrap.indent(block, " " * 10)
    raise AssertionError(f"yaml example {index} starts with {first!r}: teach wrap() that kind of fragment")


# ---------------------------------------------------------------------------- client helpers

class Example:
    """One example in a test: its text, its wrapped config, and ways to serve and connect."""

    def __init__(self, index, heading, block, config, make_server, clients):
        self.index, self.heading, self.block, self.config = index, heading, block, config
        self._make_server = make_server
        self._clients = clients
        self.server = None

    def shrink(self, old, new):
        """Edit the config text before serving (shorter durations); the text must be there."""
        assert self.config.count(old) == 1, f"{old!r} is not (exactly once) in example {self.index}"
        self.config = self.config.replace(old, new)

    def serve(self, text=None):
        self.server = self._make_server(self.config if text is None else text)
        return self.server

    def connect(self, path="/ws", server=None, **options):
        server = server or self.server or self.serve()
        return self._clients(server.url(path), **options)


def recv_frame(ws):
    """``(opcode, payload)`` of the next data (or close) frame."""
    return ws.recv_data()


def recv_json(ws):
    text = recv_text(ws)
    try:
        return json.loads(text)
    except ValueError:
        pytest.fail(f"not JSON: {text!r}")


def send_json(ws, value):
    ws.send(json.dumps(value))


def assert_answered(ws, messages, reply, recv=recv_text):
    """Each of ``messages``, sent in turn, is answered with ``reply`` (as ``recv`` reads it)."""
    for message in messages:
        ws.send(message)
        assert recv(ws) == reply


def assert_ignored(ws, messages):
    """None of ``messages`` gets a reply."""
    for message in messages:
        ws.send(message)
    assert_silent(ws)


def _maybe_json(data):
    try:
        return json.loads(data)
    except ValueError:
        return None


def next_json(ws, want, skip, timeout=TIMEOUT):
    """The next JSON text message for which ``want`` holds, skipping those ``skip`` accepts
    (interleaved scenario sends); anything else fails. Returns ``(message, skipped)``."""
    skipped = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"no wanted message within {timeout}s (skipped {skipped})"
            ws.settimeout(left)
            message = recv_json(ws)
            if want(message):
                return message, skipped
            assert skip(message), f"unexpected message {message!r}"
            skipped.append(message)
    finally:
        ws.settimeout(TIMEOUT)


def handshake_error(url, **options):
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        websocket.create_connection(url, timeout=TIMEOUT, **options).close()
    return info.value.status_code, (info.value.resp_body or b"").decode("utf-8", "replace")


def assert_now_iso(text):
    """A ``{{now}}``: UTC RFC 3339, second precision, ``Z``, within a few seconds of now."""
    assert isinstance(text, str) and text.endswith("Z"), text
    parsed = datetime.datetime.fromisoformat(text)
    assert parsed.utcoffset() == datetime.timedelta(0)
    assert parsed.microsecond == 0
    assert abs((datetime.datetime.now(datetime.timezone.utc) - parsed).total_seconds()) < 5


def assert_uuid(text):
    assert isinstance(text, str)
    parsed = uuid.UUID(text)
    assert str(parsed) == text and parsed.version == 4, text


def assert_open(ws):
    """The connection still answers a ping (our pong proves the server reads and writes)."""
    ws.ping(b"alive?")
    opcode, data = ws.recv_data(control_frame=True)
    assert (opcode, data) == (websocket.ABNF.OPCODE_PONG, b"alive?")


def doc_value(block, *keys):
    """A value out of the example's own YAML (what the doc promises is sent)."""
    value = yaml.safe_load(block)
    for key in keys:
        value = value[key]
    return value


# ---------------------------------------------------------------------------- the exercises

def ex_quick_start(ex):
    # "In echo mode, any message you send is echoed back" - same frame type.
    ws = ex.connect("/ws")
    for message in ("hello", '{"type": "ping"}', "ünïcødé ✓"):
        ws.send(message)
        assert recv_text(ws) == message
    ws.send_binary(b"\x00\x01\xfe\xff")
    assert recv_frame(ws) == (BINARY, b"\x00\x01\xfe\xff")
    assert handshake_error(ex.server.url("/other"))[0] == 404


def ex_full_spec(ex):
    server = ex.serve()
    ws = ex.connect("/ws/chat", subprotocols=["chat.v2"])
    assert ws.getsubprotocol() == "chat.v2"
    assert recv_json(ws) == {"type": "welcome"}  # the scenario's send, first thing on connect
    ws.send("ping")
    assert recv_text(ws) == "pong"
    ws.send("hello")  # echoMode: false, no matcher: the default response
    assert recv_json(ws) == {"error": "Unknown message"}
    assert_silent(ws)
    # Server preference order wins.
    both = ex.connect("/ws/chat", subprotocols=["chat.v2", "chat.v1"])
    assert both.getsubprotocol() == "chat.v1"
    assert recv_json(both) == {"type": "welcome"}
    # requireSubprotocol: true rejects the handshake before the upgrade.
    status, body = handshake_error(server.url("/ws/chat"))
    assert status == 400 and "subprotocol not supported" in body
    assert handshake_error(server.url("/ws/chat"), subprotocols=["chat.v3"])[0] == 400
    # maxMessageSize: 65536 - exactly the limit is accepted, one byte more is close 1009.
    ws.send("x" * 65536)
    assert recv_json(ws) == {"error": "Unknown message"}
    ws.send("x" * 65537)
    assert recv_close(ws, allow_data=False)[0] == 1009

    # The limits and timers, shrunk so that they are reached quickly: maxConnections 100 -> 2,
    # idleTimeout "5m" -> "600ms" (heartbeat pings do not count as activity).
    base = ex.config
    ex.shrink("maxConnections: 100", "maxConnections: 2")
    ex.shrink('idleTimeout: "5m"', 'idleTimeout: "600ms"')
    server = ex.serve()
    first = ex.connect("/ws/chat", server=server, subprotocols=["chat.v1"])
    started = time.monotonic()
    second = ex.connect("/ws/chat", server=server, subprotocols=["chat.v1"])
    status, body = handshake_error(server.url("/ws/chat"), subprotocols=["chat.v1"])
    assert status == 503 and "max connections reached" in body
    assert recv_json(first) == {"type": "welcome"}
    assert recv_close(first, allow_data=False) == (1001, "idle timeout")
    assert 0.5 <= time.monotonic() - started < 2.5
    second.close()
    # The slots free once the server has seen the closes.
    deadline = time.monotonic() + 2
    while True:
        try:
            third = ex.connect("/ws/chat", server=server, subprotocols=["chat.v1"])
            break
        except websocket.WebSocketBadStatusException as exc:
            assert exc.status_code == 503 and time.monotonic() < deadline
            time.sleep(0.05)
    assert recv_json(third) == {"type": "welcome"}
    # heartbeat interval "30s" -> "200ms", timeout "10s" -> "300ms": pinged while answering,
    # closed 1001 "ping timeout" once pongs stop (websocket-client answers pings in recv()).
    ex.config = base
    ex.shrink('interval: "30s"', 'interval: "200ms"')
    ex.shrink('timeout: "10s"', 'timeout: "300ms"')
    ws = ex.connect("/ws/chat", server=ex.serve(), subprotocols=["chat.v2"])
    assert recv_json(ws) == {"type": "welcome"}
    for _ in range(3):
        opcode, _payload = ws.recv_data(control_frame=True)
        assert opcode == websocket.ABNF.OPCODE_PING  # answered with a pong by websocket-client
    ws.send("ping")
    assert recv_text(ws) == "pong"  # still open after several ping rounds
    time.sleep(1.0)  # no recv(): the next ping goes unanswered
    assert recv_close(ws, allow_data=False) == (1001, "ping timeout")


def ex_exact(ex):
    ws = ex.connect()
    ws.send("ping")
    assert recv_text(ws) == "pong"
    # matchers present, echoMode unset: no echo, no default
    assert_ignored(ws, ("PING", "ping ", "xping", "pin"))
    ws.send("ping")
    assert recv_text(ws) == "pong"
    ws.send_binary(b"ping")  # no messageType: a binary frame is compared by its bytes
    assert recv_frame(ws) == (TEXT, b"pong")


def ex_contains(ex):
    ws = ex.connect()
    assert_answered(ws, ("hello", "oh hello there", '{"greeting":"hello"}'), "Hello from mockd!")
    assert_ignored(ws, ("Hello", "HELLO", "hel lo"))


def ex_prefix(ex):
    ws = ex.connect()
    assert_answered(ws, ("CMD:", "CMD:restart now"), "Command received")
    assert_ignored(ws, ("cmd:restart", " CMD:x", "run CMD:"))


def ex_suffix(ex):
    ws = ex.connect()
    assert_answered(ws, ("?", "is it working?"), "That's a question!")
    assert_ignored(ws, ("?no", "is it working? ", "yes."))


def ex_regex(ex):
    ws = ex.connect()
    # YAML "user_\\d+" is the regex user_\d+, searched anywhere in the message.
    assert_answered(ws, ("user_42", "lookup user_7 please", "user_123456"), {"matched": True, "pattern": "user ID"},
                    recv=recv_json)
    assert_ignored(ws, ("user_", "user_x1", "USER_1", "user\\d+"))


def ex_json_path(ex):
    ws = ex.connect()
    send_json(ws, {"type": "ping"})
    reply = recv_json(ws)
    assert set(reply) == {"type", "timestamp"} and reply["type"] == "pong"
    assert_now_iso(reply["timestamp"])
    send_json(ws, {"action": "subscribe", "channel": "news"})
    assert recv_json(ws) == {"action": "subscribed", "channel": "news"}
    send_json(ws, {"action": "subscribe", "channel": "prices/EUR", "extra": [1, 2]})
    assert recv_json(ws) == {"action": "subscribed", "channel": "prices/EUR"}
    # Field rendering: numbers as their text, missing/null as "", a string
    # with quotes still valid JSON.
    for channel, rendered in ((7, "7"), (2.50, "2.5"), (True, "true"), (None, ""), ('a"b', 'a"b')):
        send_json(ws, {"action": "subscribe", "channel": channel})
        assert recv_json(ws) == {"action": "subscribed", "channel": rendered}
    send_json(ws, {"action": "subscribe"})
    assert recv_json(ws) == {"action": "subscribed", "channel": ""}
    # No match: another value, the key elsewhere, not JSON, a JSON array, a plain "ping".
    assert_ignored(ws, ('{"type": "pong"}', '{"data": {"type": "ping"}}', "ping", '[{"type": "ping"}]',
                        '{"type": "ping"', '{"action": "unsubscribe", "channel": "news"}'))


def ex_message_type(ex):
    ws = ex.connect()
    ws.send("ping")
    assert recv_frame(ws) == (TEXT, b"pong")
    ws.send_binary(b"ping")  # the exact matcher is text-only; the regex catches it as binary
    assert recv_frame(ws) == (TEXT, b"Binary message received")
    ws.send_binary(b"\x00\xff\x80")
    assert recv_text(ws) == "Binary message received"
    ws.send("anything else")  # the regex ".*" is binary-only: a text message gets nothing
    assert_silent(ws)


def ex_no_response(ex):
    ws = ex.connect()
    send_json(ws, {"type": "heartbeat"})
    assert_silent(ws)
    assert_open(ws)
    # noResponse stops processing: no echo even with echoMode on, no default.
    text = ex.config.replace("      path: /ws\n", "      path: /ws\n      echoMode: true\n", 1)
    assert text != ex.config
    ws = ex.connect(server=ex.serve(text))
    send_json(ws, {"type": "heartbeat", "n": 1})
    assert_silent(ws)
    ws.send('{"type": "other"}')  # not matched: echoed, so the silence above is the matcher's
    assert recv_text(ws) == '{"type": "other"}'


def ex_priority(ex):
    ws = ex.connect()
    ws.send("ping")
    assert recv_text(ws) == "pong"  # both match "ping": the first one wins
    assert_answered(ws, ("pong", "ping!", "", "PING"), "Unknown command")


def ex_text_response(ex):
    ws = ex.connect()
    assert_answered(ws, ("hi", '{"a": 1}'), (TEXT, b"Hello, World!"), recv=recv_frame)
    ws.send_binary(b"\x01\x02")
    assert recv_frame(ws) == (TEXT, b"Hello, World!")


def ex_json_response(ex):
    ws = ex.connect()
    ws.send("hi")
    reply = recv_json(ws)
    assert_now_iso(reply.pop("timestamp"))
    assert reply == {"status": "ok", "data": {"message": "Welcome!"}}


def ex_binary_response(ex):
    ws = ex.connect()
    ws.send("give me bytes")
    expected = base64.b64decode(doc_value(ex.block, "response", "value"))
    assert expected == b"Hello World!"
    assert recv_frame(ws) == (BINARY, expected)


def ex_delay(ex):
    ws = ex.connect()
    started = time.monotonic()
    ws.send("a")
    ws.send("b")
    assert recv_json(ws) == {"status": "processed"}
    assert 0.45 <= time.monotonic() - started < 2.0
    # Replies keep request order; the delay is paid per message.
    assert recv_json(ws) == {"status": "processed"}
    assert 0.9 <= time.monotonic() - started < 3.0


def ex_templated(ex):
    ws = ex.connect()
    seen = set()
    # {{message}} is the raw text; quotes and backslashes still give valid JSON (D9).
    for message in ("hello", 'he said "hi" \\o/', '{"type": "x", "n": 42}', "ünï ✓"):
        ws.send(message)
        reply = recv_json(ws)
        assert set(reply) == {"id", "timestamp", "echo"}
        assert reply["echo"] == message
        assert_uuid(reply["id"])
        assert_now_iso(reply["timestamp"])
        seen.add(reply["id"])
    assert len(seen) == 4  # a fresh uuid per reply


def ex_default_response(ex):
    ws = ex.connect()
    ws.send("ping")
    assert recv_text(ws) == "pong"
    for message in ("foo", '{"type": "ping"}', 'quote " and \\ backslash'):
        ws.send(message)
        assert recv_json(ws) == {"type": "error", "message": "Unknown command", "received": message}


def ex_echo_mode(ex):
    server = ex.serve()
    ws = ex.connect("/ws/echo")
    ws.send("echo me")
    assert recv_frame(ws) == (TEXT, b"echo me")
    ws.send("{{message}}")  # echo is never templated
    assert recv_text(ws) == "{{message}}"
    ws.send_binary(b"\x00bin\xff")
    assert recv_frame(ws) == (BINARY, b"\x00bin\xff")
    assert handshake_error(server.url("/ws"))[0] == 404  # exact path only
    # "Echo mode works alongside matchers. Matchers are checked first; if none match and no
    # default response is configured, the message is echoed."
    matchers = ('      matchers:\n        - match:\n            type: exact\n            value: "ping"\n'
                '          response:\n            type: text\n            value: "pong"\n')
    assert ex.config.endswith("echoMode: true\n")
    ws = ex.connect("/ws/echo", server=ex.serve(ex.config + matchers))
    ws.send("ping")
    assert recv_text(ws) == "pong"
    ws.send("pong")
    assert recv_text(ws) == "pong"
    ws.send("not a command")
    assert recv_text(ws) == "not a command"
    default = '      defaultResponse:\n        type: text\n        value: "default {{message}}"\n'
    ws = ex.connect("/ws/echo", server=ex.serve(ex.config + matchers + default))
    ws.send("ping")
    assert recv_text(ws) == "pong"
    ws.send("not a command")  # a default response wins over the echo
    assert recv_text(ws) == "default not a command"
    assert_silent(ws)


def ex_basic_scenario(ex):
    ex.serve()
    ws = ex.connect("/ws/onboarding")
    assert recv_json(ws) == {"type": "welcome", "message": "Connected to server"}
    assert_silent(ws)  # nothing more before "ready"
    send_json(ws, {"type": "hello"})  # not the awaited message: no reply, no progress
    assert_silent(ws)
    send_json(ws, {"type": "ready"})
    reply = recv_json(ws)
    assert set(reply) == {"type", "sessionId"} and reply["type"] == "session_start"
    assert_uuid(reply["sessionId"])
    assert_silent(ws)  # the scenario is over (no loop)
    send_json(ws, {"type": "ready"})
    assert_silent(ws)
    # Another connection plays its own copy from step 0, with its own session id.
    other = ex.connect("/ws/onboarding")
    assert recv_json(other)["type"] == "welcome"
    send_json(other, {"type": "ready"})
    second = recv_json(other)
    assert second["type"] == "session_start" and second["sessionId"] != reply["sessionId"]
    # A message taken by the wait step goes nowhere else, even with echo on;
    # one arriving while the scenario is not waiting for it is echoed.
    text = re.sub(r"^( +)path: /ws/onboarding\n", r"\g<0>\1echoMode: true\n", ex.config, count=1, flags=re.M)
    assert text != ex.config
    ws = ex.connect("/ws/onboarding", server=ex.serve(text))
    assert recv_json(ws)["type"] == "welcome"
    send_json(ws, {"type": "hello"})
    assert recv_json(ws) == {"type": "hello"}
    send_json(ws, {"type": "ready"})
    assert recv_json(ws)["type"] == "session_start"
    assert_silent(ws)
    send_json(ws, {"type": "ready"})  # the scenario is over: now an ordinary, echoed message
    assert recv_json(ws) == {"type": "ready"}


def ex_send_step(ex):
    ws = ex.connect()
    assert recv_json(ws) == {"event": "notification", "data": "Hello!"}
    assert_silent(ws)


def ex_wait_step(ex):
    ws = ex.connect()
    assert_silent(ws)
    send_json(ws, {"type": "other"})
    ws.send("acknowledge")  # not JSON: the json matcher does not accept it
    assert_silent(ws)
    send_json(ws, {"type": "acknowledge", "id": 7})
    assert recv_text(ws) == "step done"
    assert_silent(ws)
    # optional: false - when the timeout expires the scenario stops; the connection stays open.
    # (timeout "5s" shortened to "300ms" to keep the test fast.)
    ex.shrink('timeout: "5s"', 'timeout: "300ms"')
    ws = ex.connect(server=ex.serve())
    assert_silent(ws, 0.6)
    send_json(ws, {"type": "acknowledge"})
    assert_silent(ws)
    assert_open(ws)
    # optional: true - the timeout skips to the next step.
    ex.shrink("optional: false", "optional: true")
    ws = ex.connect(server=ex.serve())
    started = time.monotonic()
    assert recv_text(ws) == "step done"
    assert 0.2 <= time.monotonic() - started < 2.0


def ex_delay_step(ex):
    # duration "2s" shortened to "600ms" to keep the file fast; the pause is measured the same.
    ex.shrink('duration: "2s"', 'duration: "600ms"')
    ex.serve()
    started = time.monotonic()  # before the handshake: the pause starts after the 101
    ws = ex.connect()
    assert_silent(ws, 0.4)  # nothing during the pause
    assert recv_text(ws) == "step done"
    assert 0.58 <= time.monotonic() - started < 2.5


def ex_looping(ex):
    # duration "5s" shortened to "200ms" so that the loop is seen several times quickly.
    ex.shrink('duration: "5s"', 'duration: "200ms"')
    ws = ex.connect()
    arrivals = []
    started = time.monotonic()
    for _ in range(3):
        message = recv_json(ws)
        arrivals.append(time.monotonic() - started)
        assert set(message) == {"type", "timestamp"} and message["type"] == "heartbeat"
        assert_now_iso(message["timestamp"])
    gaps = [b - a for a, b in zip([0.0] + arrivals, arrivals)]
    assert all(0.15 <= gap < 1.5 for gap in gaps), gaps


def ex_reset_on_reconnect(ex):
    welcome = "Welcome! Let's begin the tutorial..."
    first = ex.connect()
    assert recv_text(first) == welcome
    assert_silent(first)
    second = ex.connect()  # while the first is still open
    assert recv_text(second) == welcome
    first.close()
    third = ex.connect()  # a reconnect starts again at step 0
    assert recv_text(third) == welcome
    assert_silent(third)


def ex_chat(ex):
    server = ex.serve()
    ws = ex.connect("/ws/chat")  # subprotocols are offered, not required
    assert ws.getsubprotocol() is None
    preferred = ex.connect("/ws/chat", subprotocols=["json", "chat"])
    assert preferred.getsubprotocol() == "chat"
    assert ex.connect("/ws/chat", subprotocols=["json"]).getsubprotocol() == "json"

    send_json(ws, {"type": "join", "username": "alice"})
    joined = recv_json(ws)
    assert_now_iso(joined.pop("timestamp"))
    assert joined == {"type": "joined", "message": "Welcome to the chat room!"}
    send_json(ws, {"type": "message", "content": "hi all"})
    ack = recv_json(ws)
    assert set(ack) == {"type", "id", "timestamp"} and ack["type"] == "message_ack"
    assert_uuid(ack["id"])
    assert_now_iso(ack["timestamp"])
    send_json(ws, {"type": "leave"})
    assert recv_json(ws) == {"type": "left", "message": "Goodbye!"}
    send_json(ws, {"type": "typing"})
    assert_silent(ws)
    ws.send("status")
    status = recv_json(ws)
    assert status["type"] == "status" and status["users"] == 42 and set(status) == {"type", "users", "uptime"}
    assert isinstance(status["uptime"], str) and abs(int(status["uptime"]) - time.time()) < 5
    ws.send("help")
    help_text = doc_value(ex.block, "mocks", 0, "websocket", "matchers", 5, "response", "value")
    assert help_text.startswith("Available commands:") and help_text.endswith("help: Show this help\n")
    assert recv_text(ws) == help_text
    error = {"type": "error", "message": "Unknown command. Type 'help' for available commands."}
    # This example has no ping matcher: the default answers.
    assert_answered(ws, ("ping", "Help", '{"type": "dance"}', "not json"), error, recv=recv_json)
    assert handshake_error(server.url("/ws/chat/"))[0] == 404


def _typed(kind):
    """Whether a parsed JSON message is an object with ``"type": kind``: tells a scenario's
    periodic sends from the replies."""
    return lambda message: isinstance(message, dict) and message.get("type") == kind


def ex_notifications(ex):
    is_notification = _typed("notification")
    # duration "10s" shortened to "200ms" to see the periodic notifications quickly.
    ex.shrink('duration: "10s"', 'duration: "200ms"')
    ws = ex.connect("/ws/notifications")
    started = time.monotonic()
    first = recv_json(ws)  # nothing is sent before the first pause is over
    assert time.monotonic() - started >= 0.15
    ids = set()
    for note in [first] + [recv_json(ws) for _ in range(2)]:
        assert is_notification(note)
        assert set(note) == {"type", "id", "title", "body", "timestamp"}
        assert (note["title"], note["body"]) == ("New update available", "Check out the latest features")
        assert_uuid(note["id"])
        assert_now_iso(note["timestamp"])
        ids.add(note["id"])
    assert len(ids) == 3
    # Matchers answer while the scenario loops; notifications may come in between.
    send_json(ws, {"action": "subscribe", "channel": "alerts"})
    reply, _ = next_json(ws, lambda m: not is_notification(m), is_notification)
    assert reply == {"action": "subscribed", "channel": "alerts"}
    send_json(ws, {"action": "unsubscribe", "channel": "alerts"})
    reply, _ = next_json(ws, lambda m: not is_notification(m), is_notification)
    assert reply == {"action": "unsubscribed", "channel": "alerts"}
    send_json(ws, {"action": "publish", "channel": "alerts"})  # unmatched: nothing but notifications
    ws.send("hello")
    assert_silent(ws, 0.5, ignore=lambda text: is_notification(_maybe_json(text)))


def ex_stock_ticker(ex):
    is_price = _typed("price_update")
    # duration "1s" shortened to "400ms" (the loop is watched twice); the demo serves it as written.
    ex.shrink('duration: "1s"', 'duration: "400ms"')
    ws = ex.connect("/ws/stocks")
    started = time.monotonic()
    send_json(ws, {"action": "subscribe", "symbol": "AAPL"})
    assert recv_json(ws) == {"action": "subscribed", "symbol": "AAPL",
                             "message": "You will receive updates for this symbol"}
    assert time.monotonic() - started < 0.3  # answered at once, not after the scenario's pause
    arrivals = []
    for _ in range(2):
        update = recv_json(ws)
        arrivals.append(time.monotonic() - started)
        assert_now_iso(update.pop("timestamp"))
        assert update == {"type": "price_update", "symbol": "MOCK", "price": 123.45, "change": 1.23,
                          "volume": 1000000}
    assert 0.35 <= arrivals[0] < 1.5 and 0.35 <= arrivals[1] - arrivals[0] < 1.5, arrivals
    send_json(ws, {"action": "unsubscribe", "symbol": "AAPL"})  # no matcher, no default, no echo
    assert_silent(ws, ignore=lambda text: is_price(_maybe_json(text)))


def ex_graphql(ex):
    server = ex.serve()
    ws = ex.connect("/graphql", subprotocols=["graphql-transport-ws"])
    assert ws.getsubprotocol() == "graphql-transport-ws"
    send_json(ws, {"type": "connection_init", "payload": {}})
    assert recv_json(ws) == {"type": "connection_ack"}
    send_json(ws, {"id": "sub-1", "type": "subscribe",
                   "payload": {"query": "subscription { onMessage { id content } }"}})
    reply = recv_json(ws)
    assert reply["type"] == "next" and reply["id"] == "sub-1"
    message = reply["payload"]["data"]["onMessage"]
    assert message["content"] == "Subscription active" and set(reply) == {"type", "id", "payload"}
    assert_uuid(message["id"])
    send_json(ws, {"type": "ping"})
    assert recv_json(ws) == {"type": "pong"}
    send_json(ws, {"id": "sub-1", "type": "complete"})  # no matcher: nothing
    assert_silent(ws)
    # Server order wins when both are offered; no subprotocol at all is refused.
    assert ex.connect("/graphql", subprotocols=["graphql-transport-ws", "graphql-ws"]).getsubprotocol() \
        == "graphql-ws"
    status, body = handshake_error(server.url("/graphql"))
    assert status == 400 and "subprotocol not supported" in body


EXERCISES = {
    0: ("Quick Start", ex_quick_start),
    1: ("Full WebSocket Spec", ex_full_spec),
    2: ("Exact Match", ex_exact),
    3: ("Contains Match", ex_contains),
    4: ("Prefix Match", ex_prefix),
    5: ("Suffix Match", ex_suffix),
    6: ("Regex Match", ex_regex),
    7: ("JSON Path Match", ex_json_path),
    8: ("Message Type Filter", ex_message_type),
    9: ("No Response", ex_no_response),
    10: ("Matcher Priority", ex_priority),
    11: ("Text Response", ex_text_response),
    12: ("JSON Response", ex_json_response),
    13: ("Binary Response", ex_binary_response),
    14: ("Response Delay", ex_delay),
    15: ("Templated Responses", ex_templated),
    16: ("Default Response", ex_default_response),
    17: ("Echo Mode", ex_echo_mode),
    18: ("Basic Scenario", ex_basic_scenario),
    19: ("Send Step", ex_send_step),
    20: ("Wait Step", ex_wait_step),
    21: ("Delay Step", ex_delay_step),
    22: ("Looping Scenarios", ex_looping),
    23: ("Reset on Reconnect", ex_reset_on_reconnect),
    24: ("Chat Application", ex_chat),
    25: ("Notification Service", ex_notifications),
    26: ("Real-Time Data Feed", ex_stock_ticker),
    27: ("GraphQL Subscriptions", ex_graphql),
}


# ---------------------------------------------------------------------------- fixtures

@pytest.fixture
def clients(ws_client):
    """``clients(url, **options)`` opens a websocket-client connection, closed at teardown
    (before the servers stop)."""
    return functools.partial(ws_client, timeout=TIMEOUT)


@pytest.fixture
def demo(make_mockd_server):
    """The built-in demo config, served as ``mockd serve`` does without ``--config``."""
    return make_mockd_server(importlib.resources.files("mockd").joinpath("demo.yaml").read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------- the tests

def test_every_example_is_exercised():
    assert len(BLOCKS) == EXPECTED_BLOCKS, \
        f"docs/websocket-mocking.md has {len(BLOCKS)} yaml examples, expected {EXPECTED_BLOCKS}"
    assert sorted(EXERCISES) == list(range(EXPECTED_BLOCKS))


@pytest.mark.slow
def test_every_example_config_is_valid(make_mockd_server):
    """Each wrapped example loads (the server validates the whole file) and serves its path."""
    for index, (_heading, block) in enumerate(BLOCKS):
        config = yaml.safe_load(wrap(block, index))
        assert config["version"] == "1.0" and config["mocks"], index
        running = make_mockd_server(wrap(block, index))
        paths = {mock["websocket"]["path"] for mock in config["mocks"]}
        assert set(running.server.mocks.routes) == paths, index


# These wait for the examples' timers (idle and heartbeat timeouts, delays, pauses, loops) or
# watch many silences: from half a second to seconds each, so out of the edit-test loop.
SLOW_EXERCISES = {ex_full_spec, ex_no_response, ex_delay, ex_basic_scenario, ex_wait_step, ex_delay_step, ex_looping,
                  ex_reset_on_reconnect, ex_notifications, ex_stock_ticker}


@pytest.mark.parametrize("index", [pytest.param(i, marks=pytest.mark.slow) if EXERCISES[i][1] in SLOW_EXERCISES else i
                                   for i in range(EXPECTED_BLOCKS)],
                         ids=[f"{i:02d}-" + re.sub(r"\W+", "-", EXERCISES[i][0].lower()) for i in EXERCISES])
def test_doc_example(index, make_mockd_server, clients):
    assert index < len(BLOCKS), f"the doc lost yaml example {index}"
    heading, block = BLOCKS[index]
    expected_heading, exercise = EXERCISES[index]
    assert heading == expected_heading, \
        f"yaml example {index} now sits under {heading!r}, not {expected_heading!r}: renumber EXERCISES"
    exercise(Example(index, heading, block, wrap(block, index), make_mockd_server, clients))


def test_doc_python_integration_tests(demo):
    """The doc's "Integration Tests (Python)" code, run as written against the demo."""
    code = fenced_block(_doc_text(), "Integration Tests (Python)", "python")
    assert "ws://localhost:4280" in code
    namespace = {"__name__": "doc_integration_tests"}
    exec(compile(code.replace("ws://localhost:4280", f"ws://127.0.0.1:{demo.port}"),
                 f"{DOC.name}:Integration Tests (Python)", "exec"), namespace)
    tests = sorted(name for name in namespace if name.startswith("test_"))
    assert tests == ["test_websocket_json", "test_websocket_ping"]
    previous = websocket.getdefaulttimeout()
    websocket.setdefaulttimeout(TIMEOUT)  # the doc's code sets none: never hang here
    try:
        for name in tests:
            namespace[name]()
    finally:
        websocket.setdefaulttimeout(previous)


def _matches_doc_line(expected, got):
    """A ``< ...`` line of a doc session: JSON compared with "..." as any value; text ending in
    "..." as a prefix; anything else exactly."""
    try:
        want = json.loads(expected)
    except ValueError:
        if expected.endswith("..."):
            return got.startswith(expected[:-3].rstrip())
        return got == expected
    try:
        have = json.loads(got)
    except ValueError:
        return False

    def same(a, b):
        if a == "...":
            return True
        if isinstance(a, dict):
            return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
        return a == b
    return same(want, have)


def replay_session(server, heading, clients):
    """Replay the ``>``/``<`` lines of a doc session after its connect command."""
    block = fenced_block(_doc_text(), heading, "bash")
    lines = block.splitlines()
    start = next(i for i, line in enumerate(lines)
                 if re.search(r"(wscat -c|mockd websocket connect) +ws://", line))
    url = re.search(r"ws://localhost:4280(/\S*)", lines[start]).group(1)
    ws = clients(server.url(url))
    exchanged = 0
    for line in lines[start + 1:]:
        if line.startswith("> "):
            ws.send(line[2:])
        elif line.startswith("< "):
            got = recv_text(ws)
            assert _matches_doc_line(line[2:], got), f"{heading}: expected {line[2:]!r}, got {got!r}"
            exchanged += 1
    assert exchanged >= 2
    assert_silent(ws)
    return ws


def test_doc_wscat_session(demo, clients):
    replay_session(demo, "Using wscat", clients)


def test_doc_mockd_cli_session(demo, clients):
    replay_session(demo, "Using mockd CLI", clients)


def test_doc_curl_checks(demo):
    """"Using curl": a plain GET to a WebSocket path is 400; with the upgrade headers, 101."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", demo.port, timeout=TIMEOUT)
    conn.request("GET", "/ws")
    response = conn.getresponse()
    assert response.status == 400 and b"WebSocket upgrade required" in response.read()
    conn.close()
    conn = http.client.HTTPConnection("127.0.0.1", demo.port, timeout=TIMEOUT)
    key = base64.b64encode(b"0123456789abcdef").decode()
    conn.request("GET", "/ws", headers={"Connection": "Upgrade", "Upgrade": "websocket",
                                        "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": key})
    response = conn.getresponse()
    assert response.status == 101
    accept = hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()
    assert response.getheader("Sec-WebSocket-Accept") == base64.b64encode(accept).decode()
    conn.close()


def test_demo_chat_is_the_doc_chat_room(demo, clients):
    """The demo's /ws/chat is the doc's Chat Application plus ping -> pong (README)."""
    chat = doc_value(BLOCKS[24][1], "mocks", 0, "websocket")
    served = demo.server.mocks.routes["/ws/chat"].mock.spec["websocket"]
    assert {k: v for k, v in served.items() if k != "matchers"} == \
        {k: v for k, v in chat.items() if k != "matchers"}
    ping, *rest = served["matchers"]
    assert ping == {"match": {"type": "exact", "value": "ping"}, "response": {"type": "text", "value": "pong"}}
    assert [m["match"] for m in rest] == [m["match"] for m in chat["matchers"]]
    ws = clients(demo.url("/ws/chat"))
    ws.send("ping")
    assert recv_text(ws) == "pong"
    # ... and its /ws/stocks is the doc's Real-Time Data Feed as written.
    assert demo.server.mocks.routes["/ws/stocks"].mock.spec["websocket"] == \
        doc_value(BLOCKS[26][1], "mocks", 0, "websocket")


def test_doc_websocat_checks(demo, clients):
    """"Using websocat": the one-shot ping on /ws (echo) and --protocol chat on /ws/chat."""
    ws = clients(demo.url("/ws"))
    ws.send("ping")
    assert recv_text(ws) == "ping"
    chat = clients(demo.url("/ws/chat"), subprotocols=["chat"])
    assert chat.getsubprotocol() == "chat"
    chat.send("ping")
    assert recv_text(chat) == "pong"
