"""Matchers (behaviour.md §5) and the first-match dispatcher, without sockets."""
import pytest

from mockd.config import Build
from mockd.dispatch import RuleSet
from mockd.config import Rule
from mockd.errors import ConfigError
from mockd.message import Message
from mockd.plugins import Registry, get_plugin_manager


@pytest.fixture(scope="module")
def build():
    return Build(Registry.from_plugin_manager(get_plugin_manager(load_entrypoints=False)))


def hit(build, spec, data):
    return build.criteria(spec, "m").test(Message(data)) is not None


@pytest.mark.parametrize("spec,data,expected", [
    ({"type": "exact", "value": "ping"}, "ping", True),
    ({"type": "exact", "value": "ping"}, "ping ", False),
    ({"type": "exact", "value": "ping"}, "PING", False),
    ({"type": "exact", "value": ""}, "", True),
    ({"type": "exact", "value": ""}, "x", False),
    ({"type": "exact", "value": "ping"}, b"ping", True),
    ({"type": "contains", "value": "hello"}, "say hello there", True),
    ({"type": "contains", "value": "hello"}, "Hello", False),
    ({"type": "prefix", "value": "CMD:"}, "CMD:run", True),
    ({"type": "prefix", "value": "CMD:"}, "cmd:run", False),
    ({"type": "suffix", "value": "?"}, "really?", True),
    ({"type": "suffix", "value": "?"}, "?no", False),
    ({"type": "regex", "value": "user_\\d+"}, "hello user_42 bye", True),
    ({"type": "regex", "value": "^user_\\d+$"}, "hello user_42", False),
    ({"type": "regex", "value": ".*"}, b"\x00\xff", True),
    ({"type": "json", "path": "$.type", "value": "ping"}, '{"type": "ping"}', True),
    ({"type": "json", "path": "type", "value": "ping"}, '{"type": "ping"}', True),
    ({"type": "json", "path": "$.type", "value": "ping"}, '{"type": "pong"}', False),
    ({"type": "json", "path": "$.type", "value": "ping"}, '["ping"]', False),
    ({"type": "json", "path": "$.type", "value": "ping"}, 'not json', False),
    ({"type": "json", "path": "$.id", "value": "42"}, '{"id": 42}', True),
    ({"type": "json", "path": "$.id", "value": "42"}, '{"id": 42.0}', True),
    ({"type": "json", "path": "$.x", "value": "1.5"}, '{"x": 1.5}', True),
    ({"type": "json", "path": "$.ok", "value": "true"}, '{"ok": true}', True),
    ({"type": "json", "path": "$.ok", "value": "True"}, '{"ok": true}', False),
    ({"type": "json", "path": "$.n", "value": ""}, '{"n": null}', False),
    ({"type": "json", "path": "$.a.b", "value": "deep"}, '{"a": {"b": "deep"}}', True),
    ({"type": "json", "path": "$.a.b", "value": "deep"}, '{"a": "b"}', False),
    ({"type": "json", "path": "$.o", "value": '{"a":1,"b":2}'}, '{"o": {"b": 2, "a": 1}}', True),
    ({"type": "json", "path": "$.items[1].id", "value": "7"}, '{"items": [{"id": 6}, {"id": 7}]}', True),
    ({"type": "json", "path": "$.items[*].id", "value": "9"}, '{"items": [{"id": 6}, {"id": 7}]}', False),
])
def test_match_semantics(build, spec, data, expected):
    assert hit(build, spec, data) is expected


def test_message_type_filter(build):
    text_only = build.criteria({"type": "exact", "value": "ping", "messageType": "text"}, "m")
    binary_only = build.criteria({"type": "regex", "value": ".*", "messageType": "binary"}, "m")
    both = build.criteria({"type": "exact", "value": "ping", "messageType": "whatever"}, "m")
    assert text_only.test(Message("ping")) is not None and text_only.test(Message(b"ping")) is None
    assert binary_only.test(Message(b"x")) is not None and binary_only.test(Message("x")) is None
    assert both.test(Message(b"ping")) is not None and both.test(Message("ping")) is not None


def test_json_is_parsed_once_per_message(build, monkeypatch):
    import json
    calls = []
    real = json.loads
    monkeypatch.setattr(json, "loads", lambda *a, **k: calls.append(1) or real(*a, **k))
    message = Message('{"type": "c"}')
    for value in "abc":
        build.criteria({"type": "json", "path": "$.type", "value": value}, "m").test(message)
    assert len(calls) == 1


def test_unknown_key_in_match(build):
    with pytest.raises(ConfigError, match=r"m.vlaue: unknown key 'vlaue'.*did you mean 'value'"):
        build.criteria({"type": "exact", "vlaue": "x"}, "m")


def rules(build, specs):
    return RuleSet([Rule(build.criteria(spec, f"r{i}"), None, f"matchers[{i}]") for i, spec in enumerate(specs)])


@pytest.mark.parametrize("data,expected", [
    ("ping", "matchers[0]"), ("pingpong", "matchers[1]"), ("CMD:x", "matchers[2]"), ("xCMD:", None),
    ('{"type":"join"}', "matchers[3]"), ('{"type":"pong"}', "matchers[1]"), ("zzz", "matchers[5]"),
    ("exact-late", "matchers[4]"), (b"ping", "matchers[0]"), ("nothing", None),
])
def test_dispatch_is_first_match_wins(build, data, expected):
    ruleset = rules(build, [
        {"type": "exact", "value": "ping"},
        {"type": "contains", "value": "pong"},
        {"type": "prefix", "value": "CMD:"},
        {"type": "json", "path": "$.type", "value": "join"},
        {"type": "exact", "value": "exact-late"},
        {"type": "regex", "value": "^z+$"},
        {"type": "exact", "value": "zzz"},
    ])
    rule, _ = ruleset.first_match(Message(data))
    assert (rule.label if rule else None) == expected


def test_dispatch_agrees_with_linear_scan(build):
    import random
    rng = random.Random(7)
    specs = []
    for i in range(60):
        kind = rng.choice(["exact", "prefix", "contains", "json", "suffix"])
        word = rng.choice(["a", "ab", "abc", "b", "ba", "c"])
        spec = {"type": kind, "value": word}
        if kind == "json":
            spec["path"] = rng.choice(["$.t", "$.u"])
        if rng.random() < 0.2:
            spec["messageType"] = rng.choice(["text", "binary"])
        specs.append(spec)
    ruleset = rules(build, specs)
    for _ in range(500):
        word = "".join(rng.choice("abc") for _ in range(rng.randint(0, 4)))
        data = rng.choice([word, f'{{"t": "{word}"}}', f'{{"u": "{word}"}}', word.encode()])
        message = Message(data)
        linear = next((r for r in ruleset.rules if r.criteria.test(message) is not None), None)
        found, _ = ruleset.first_match(message)
        assert found is linear, (data, found and found.label, linear and linear.label)


def test_dispatch_of_many_exact_matchers_is_not_linear(build):
    ruleset = rules(build, [{"type": "exact", "value": f"cmd-{i}"} for i in range(200)])
    calls = []
    for rule in ruleset.rules:
        original = rule.criteria.matcher.match
        object.__setattr__(rule.criteria.matcher, "match",
                           lambda m, c=None, _o=original: calls.append(1) or _o(m, c))
    rule, _ = ruleset.first_match(Message("cmd-199"))
    assert rule.label == "matchers[199]"
    assert len(calls) == 1
