"""A matcher's captures in its reply: ``{{match.NAME}}``, ``{{match.0}}``, ``{{match.value}}``,
through a real server and client."""
import json

import yaml

from test_plugins import ask
from test_readme_examples import block


def serve_rules(make_mockd_server, rules):
    return make_mockd_server({"version": "1.0", "mocks": [{"id": "m", "websocket": {
        "path": "/ws", "matchers": rules, "defaultResponse": {"type": "text", "value": "none"}}}]})


def test_readme_captures_example(make_mockd_server):
    server = serve_rules(make_mockd_server, yaml.safe_load(block("Responses and templates #1", "yaml"))["matchers"])
    ws = server.connect("/ws")
    assert ask(ws, "join lobby") == "joined lobby (join lobby)"
    assert json.loads(ask(ws, '{"order": {"qty": 3}}')) == {"accepted": "3"}  # templated text: a JSON string
    assert ask(ws, "join two words") == "none"


def test_regex_groups_numbered_and_named(make_mockd_server):
    server = serve_rules(make_mockd_server, [
        {"match": {"type": "regex", "value": r"(\w+)@(?P<host>[\w.]+)(?P<port>:\d+)?"},
         "response": {"type": "text", "value": "[{{match.0}}] user={{match.1}} host={{match.host}}/{{match.2}} "
                                               "port={{match.port}}"}},
    ])
    ws = server.connect("/ws")
    assert ask(ws, "mail ann@example.org now") == "[ann@example.org] user=ann host=example.org/example.org port="
    assert ask(ws, "bob@h:25") == "[bob@h:25] user=bob host=h/h port=:25"
    # A binary frame is matched by bytes; its captures render as text.
    assert ask(ws, b"x cy@z.io") == "[cy@z.io] user=cy host=z.io/z.io port="


def test_json_value_and_captures_in_a_json_reply(make_mockd_server):
    server = serve_rules(make_mockd_server, [
        {"match": {"type": "json", "path": "$.items[0].id", "value": "7"},   # a real JSONPath
         "response": {"type": "json", "value": {"first": "{{match.value}}", "all": "{{match}}"}}},
        {"match": {"type": "json", "path": "user.name", "value": "ann"},     # a dotted (indexed) path
         "response": {"type": "text", "value": "hi {{match.value}}{{match.missing}}"}},
        {"match": {"type": "exact", "value": "plain"},                       # captures nothing
         "response": {"type": "text", "value": "[{{match.0}}]"}},
    ])
    ws = server.connect("/ws")
    assert json.loads(ask(ws, '{"items": [{"id": 7}]}')) == {"first": "7", "all": '{"value":7}'}
    assert ask(ws, '{"user": {"name": "ann"}}') == "hi ann"
    assert ask(ws, "plain") == "[]"
