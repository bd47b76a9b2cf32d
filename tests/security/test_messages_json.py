"""Issue 10 items 6, 7 and 8: client messages that cost a real ``mockd serve`` more than they
should. JSON nested 30,000 deep, lone surrogates echoed into a template, and a ``sequence()``
name table that kept every name a client ever chose.

Each test attacks the subprocess, checks the documented answer, and that a bystander on the
plain echo mock kept being served.
"""
import json

import pytest
import websocket

from _attack import ECHO, served
from _cli import mockd
from mockd.adminclient import AdminClient

# One server config for every test here: each attack has its own path beside /ws (echo).
CONFIG = ECHO + """\
  - id: deep
    type: websocket
    websocket:
      path: /json
      matchers:
        - match: {type: json, path: "$.type", value: ping}
          response: {type: text, value: pong}
        - match: {type: json, path: "$..kind", value: deep}
          response: {type: text, value: deep pong}
      defaultResponse: {type: text, value: "default [{{message.x}}]"}
  - id: say
    type: websocket
    websocket:
      path: /say
      matchers:
        - {match: {type: json, path: "$.as", value: text}, response: {type: text, value: "you said {{message.text}}"}}
        - {match: {type: json, path: "$.as", value: json}, response: {type: json, value: {said: "{{message.text}}"}}}
  - {id: literal, type: websocket, websocket: {path: /literal,
     defaultResponse: {type: text, value: "\\ud83d\\ude00 {{message}}"}}}
  - {id: seq, type: websocket, websocket: {path: /seq,
     defaultResponse: {type: text, value: "{{sequence(message.name)}}"}}}
"""


def connect(target, path):
    return websocket.create_connection(target.url(path), timeout=5)


def nested(depth):
    """A JSON object whose ``type`` would match, with ``x`` nested ``depth`` arrays deep."""
    return '{"type":"ping","kind":"deep","x":' + "[" * depth + "]" * depth + "}"


def assert_quiet(target):
    """Nothing on the server's stderr at ERROR, and no traceback: the attack was no failure."""
    _out, err = target.stop()
    assert "Traceback" not in err and " ERROR " not in err, err[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize("depth", [30_000, 990, 201])
def test_too_deep_json_is_not_json_and_closes_nothing(target, depth):
    """Item 6: 30,000 levels ended in RecursionError, 1011 and a traceback blaming
    ``mockd.responses``; 990 parsed but broke whatever walked it. Deeper than 200 levels is
    now not JSON: the json matchers miss, ``{{message.x}}`` is empty, the default answers."""
    server = target(config=CONFIG)
    ws = connect(server, "/json")
    for _ in range(3):  # the same answer every time: nothing cached, nothing broken
        ws.send(nested(depth))
        assert ws.recv() == "default []"
    ws.send('{"type":"ping"}')
    assert ws.recv() == "pong"  # the same connection: no 1011
    ws.send(nested(5))
    assert ws.recv() == "pong"  # a normal nesting is JSON as before
    assert served(server.url())
    ws.close()
    assert_quiet(server)


@pytest.mark.slow
@pytest.mark.parametrize("kind, expected", [
    ("text", "you said \ufffd"),
    ("json", '{"said":"\ufffd"}'),
])
def test_a_lone_surrogate_in_client_json_is_sent_as_replacement_character(target, kind, expected):
    """Item 7: ``"\\ud800"`` parses into a str no UTF-8 encoder takes; echoed into a reply it
    closed the connection with 1011. It goes out as U+FFFD; a surrogate pair is its character."""
    server = target(config=CONFIG)
    ws = connect(server, "/say")
    ws.send('{"as":"%s","text":"\\ud800"}' % kind)
    assert ws.recv() == expected
    ws.send('{"as":"%s","text":"\\ud83d\\ude00 \\udfff\\ud800"}' % kind)
    assert ws.recv() == expected.replace("\ufffd", "\U0001F600 \ufffd\ufffd")
    ws.send('{"as":"text","text":"fine"}')
    assert ws.recv() == "you said fine"
    assert served(server.url())
    ws.close()
    assert_quiet(server)


@pytest.mark.slow
def test_a_surrogate_pair_written_as_escapes_in_yaml_is_its_character(target):
    """PyYAML keeps ``"\\ud83d\\ude00"`` as two code points, which no encoder takes: a config
    that a JSON tool wrote with escaped emoji used to fail on every reply."""
    server = target(config=CONFIG)
    ws = connect(server, "/literal")
    ws.send("hi")
    assert ws.recv() == "\U0001F600 hi"
    ws.close()
    assert_quiet(server)


@pytest.mark.slow
@pytest.mark.parametrize("where, spec", [
    ("defaultResponse.value", 'defaultResponse: {type: text, value: "a \\ud800 b"}'),
    ("matchers[0].match.value", 'matchers: [{match: {type: exact, value: "\\udc00"}}]'),
    ("matchers[0].response.value", 'matchers: [{match: {type: exact, value: x}, '
                                   'response: {type: text, value: "{{upper(\\"\\\\ud800\\")}}"}}]'),
])
def test_a_lone_surrogate_in_a_config_literal_is_a_located_config_error(tmp_path, where, spec):
    """A template literal or matcher value holding a lone surrogate could never be sent (or, as
    a matcher value, crashed the load with UnicodeEncodeError): ``mockd check`` says where."""
    (tmp_path / "bad.yaml").write_text(f'version: "1.0"\nmocks:\n  - id: m\n    type: websocket\n'
                                       f'    websocket:\n      path: /m\n      {spec}\n')
    done = mockd("check", "-c", tmp_path / "bad.yaml")
    assert done.returncode == 2, done
    assert f"mocks[0].websocket.{where}: " in done.stderr and "surrogate" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_a_lone_surrogate_in_a_mock_sent_to_the_api_is_a_400(target):
    """The admin API's side of the same rule: refused where it is, never a 500 or a 1011 later;
    a pair written as escapes (``json.dumps`` writes an emoji so) serves its character."""
    server = target(config=CONFIG)
    client = AdminClient(server.admin_url, timeout=10)
    def text_mock(path, value):
        return {"type": "websocket", "websocket": {"path": path, "defaultResponse": {"type": "text", "value": value}}}

    reply = client.post("/mocks", text_mock("/bad", "a\ud800"))
    assert reply.status == 400 and "surrogate" in reply.json["message"], reply
    assert "websocket.defaultResponse.value" in reply.json["message"], reply
    assert '\\ud83d\\ude00' in json.dumps(text_mock("/good", "\U0001F600"))
    assert client.post("/mocks", text_mock("/good", "\U0001F600")).status in (200, 201)
    ws = connect(server, "/good")
    ws.send("x")
    assert ws.recv() == "\U0001F600"
    ws.close()
    assert_quiet(server)


@pytest.mark.slow
def test_sequence_names_from_clients_do_not_grow_the_server(target):
    """Item 8: 1,500 messages with unique 60 KB names kept +86 MiB forever. Long names are kept
    as a digest and the table is bounded, so the growth is a few hundred KiB."""
    server = target("--journal-size", "0", config=CONFIG)  # the journal's own memory apart
    ws = connect(server, "/seq")
    ws.send('{"name":"orders"}')
    assert ws.recv() == "1"
    before = server.rss_kib()
    for i in range(1500):
        ws.send(json.dumps({"name": f"{i:06d}" + "n" * 60_000}))
        assert ws.recv() == "1"
    grown = server.rss_kib() - before
    ws.send('{"name":"orders"}')
    assert ws.recv() == "2"  # a normal name keeps counting
    long_name = json.dumps({"name": "000007" + "n" * 60_000})
    ws.send(long_name)
    assert ws.recv() == "2"  # and so does a long one: the digest is the name
    assert grown < 15 * 1024, f"server RSS grew {grown} KiB"
    assert served(server.url())
    ws.close()
    assert_quiet(server)


def test_a_failure_inside_a_built_in_type_blames_no_plugin():
    """The 1011 of item 6 was logged as ``plugin 'mockd.responses' raised``: a built-in type's
    frame on the traceback named its module as the plugin. Built-ins are not plugins; mockd's
    own failures are logged as mockd's."""
    from mockd.blame import blame
    from mockd.plugins import Registry, get_plugin_manager
    from mockd.responses import TextResponse

    class Broken:
        is_static, source = False, "{{x}}"

        def render(self, ctx):
            raise RecursionError("as json.loads raised it for 30,000 levels")

    pm = get_plugin_manager(load_entrypoints=False)
    with pytest.raises(RecursionError) as info:
        TextResponse(Broken()).render(None)
    assert blame(info.value, pm, Registry.from_plugin_manager(pm)) is None
