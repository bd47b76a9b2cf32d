"""Matchers (README.rst, "Matchers") and the first-match rule index, without sockets."""
import logging
import time

import pytest

from mockd.build import Build
from mockd.depth import MAX_NESTING
from mockd.rules import RuleIndex
from mockd.config import Rule
from mockd.errors import ConfigError
from mockd.jsonpaths import MAX_JSONPATH_NODES, JsonPath, PathTooCostly
from mockd.budget import REGEX_TIME_BUDGET, Budget, budget_scope
from mockd.matching import MAX_PATTERN_LENGTH
from mockd import regexcost
from mockd.regexcost import LiteralCost, literal_cost
from mockd.message import NOT_JSON, MatchContext, Message


@pytest.fixture
def build(registry):
    return Build(registry)


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
    # `..` is jsonpath-ng's recursive descent, never the dotted walk of `$.deep` (issue 10.11)
    ({"type": "json", "path": "$..deep", "value": "x"}, '{"a": {"b": [{"deep": "x"}]}}', True),
    ({"type": "json", "path": "$..deep", "value": "x"}, '{"deep": "x"}', True),
    ({"type": "json", "path": "$..deep", "value": "x"}, '{"a": {"deep": "y"}}', False),
    ({"type": "json", "path": "$.a..id", "value": "7"}, '{"a": {"b": {"id": 7}}, "id": 6}', True),
    ({"type": "json", "path": "$.a..id", "value": "6"}, '{"a": {"b": {"id": 7}}, "id": 6}', False),
    ({"type": "regex", "value": "^(a|a)+$"}, "a" * 8, True),  # budgeted, and matching as before
    ({"type": "regex", "value": "(?P<n>\\d+)"}, b"id 42", True),
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
    return RuleIndex([Rule(build.criteria(spec, f"r{i}"), None, f"matchers[{i}]") for i, spec in enumerate(specs)])


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
        original = rule.criteria.match_type.match
        object.__setattr__(rule.criteria.match_type, "match",
                           lambda m, c=None, _o=original: calls.append(1) or _o(m, c))
    rule, _ = ruleset.first_match(Message("cmd-199"))
    assert rule.label == "matchers[199]"
    assert len(calls) == 1


# ---------------------------------------------------------------- hostile input (issue 10)


def nested(depth, opening="[", closing="]"):
    return opening * depth + closing * depth


@pytest.mark.parametrize("data, is_json", [
    (nested(MAX_NESTING), True),
    (nested(MAX_NESTING + 1), False),
    ('{"a":' * MAX_NESTING + "1" + "}" * MAX_NESTING, True),
    ('{"a":' * (MAX_NESTING + 1) + "1" + "}" * (MAX_NESTING + 1), False),
    ('{"a":[' * (MAX_NESTING // 2) + "]}" * (MAX_NESTING // 2), True),  # alternating kinds
    ('{"a":[' * (MAX_NESTING // 2) + '{"b":1}' + "]}" * (MAX_NESTING // 2), False),
    ('{"s":"[","a":' + nested(MAX_NESTING) + "}", False),  # a bracket in a string: the walk decides
    ('{"s":"\\"","a":' + nested(MAX_NESTING - 1) + "}", True),  # so does an escaped quote
    ('{"s":"]]","a":' + nested(MAX_NESTING) + ',"t":"[["}', False),  # fake closes cannot hide depth
    (nested(30_000), False),  # RecursionError inside the C decoder
    (nested(30_000).encode(), False),  # binary frames are parsed too
    ("[" + ",".join(["[[{}]]"] * 5000) + "]", True),  # many brackets, shallow
    ('["' + "[" * 5000 + '"]', True),  # brackets in a string
])
def test_json_deeper_than_the_limit_is_not_json(data, is_json):
    assert (Message(data).json() is not NOT_JSON) is is_json


def test_a_too_deep_message_matches_no_json_matcher(build):
    deep = '{"type": "ping", "x": ' + nested(MAX_NESTING + 1) + "}"
    assert not hit(build, {"type": "json", "path": "$.type", "value": "ping"}, deep)
    assert not hit(build, {"type": "json", "path": "$..type", "value": "ping"}, deep)


@pytest.mark.parametrize("spec, where, words", [
    ({"type": "regex", "value": "(" * 3000 + ")" * 3000}, "m.value", "nested too deeply"),
    ({"type": "regex", "value": "a{99999999999}"}, "m.value", "invalid regular expression"),
    ({"type": "regex", "value": "(?u)x"}, "m.value", "invalid regular expression"),  # not as bytes
    ({"type": "regex", "value": "x\ud800"}, "m.value", "surrogate"),
    ({"type": "exact", "value": "\udc00"}, "m.value", "surrogate"),
    ({"type": "json", "path": "$.a", "value": "\ud800"}, "m.value", "surrogate"),
    ({"type": "json", "path": "$" + "[0]" * 3000, "value": "x"}, "m.path", "nested too deeply"),
    ({"type": "json", "path": "$[?(@.a =~ 'x+')]", "value": "x"}, "m.path", "regex"),
    ({"type": "json", "path": "$.a.`sub(/x+/, y)`", "value": "x"}, "m.path", "regex"),
    ({"type": "json", "path": "$['a'] & $.b", "value": "x"}, "m.path", "intersection"),
    ({"type": "regex", "value": "a|" * 5000 + "a"}, "m.value", "more than 10000"),  # compiled on the loop
])
def test_patterns_that_cannot_run_safely_are_located_config_errors(build, spec, where, words):
    spec = {key: value.encode().decode("unicode_escape", "surrogatepass") if "\\u" in value else value
            for key, value in spec.items()}
    with pytest.raises(ConfigError) as info:
        build.criteria(spec, "m")
    assert info.value.where == where and words in str(info.value), str(info.value)
    assert len(str(info.value)) < 400  # a 6,000-character pattern is quoted cut


def test_a_surrogate_pair_in_a_matcher_value_is_its_character(build):
    assert hit(build, {"type": "exact", "value": "\ud83d\ude00"}, "\U0001F600")


def test_the_dotted_walk_is_only_for_plain_paths(build):
    def keys(path):
        return build.criteria({"type": "json", "path": path, "value": "x"}, "m").match_type.path.keys
    assert keys("$.a.b") == ("a", "b") and keys("a.b") == ("a", "b") and keys("$.") == ()
    assert keys("$..b") is None and keys("a..b") is None and keys("$.a[0]") is None


def test_a_jsonpath_failing_on_a_clients_document_is_no_match(build):
    # jsonpath-ng's `sorted` compares the client's values: mixed types raise TypeError.
    assert not hit(build, {"type": "json", "path": "$['a'].`sorted`", "value": "1"}, '{"a": [1, "x"]}')
    assert hit(build, {"type": "json", "path": "$['a'].`sorted`", "value": "[1,2]"}, '{"a": [2, 1]}')


def test_a_backtracking_regex_overruns_its_budget_once_logged(build, caplog):
    criteria = build.criteria({"type": "regex", "value": "^(a|a)+$"}, "mocks[3].websocket.matchers[1].match")
    evil = Message("a" * 40 + "!")

    class Connection:
        mock_id, id = "chat", "c1"

    def on_connection(message):
        return MatchContext(message, "/chat", Connection())

    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="mockd.matching"):
        for _ in range(3):
            assert criteria.test(evil, on_connection(evil)) is None
            binary = Message(b"a" * 40 + b"!")
            assert criteria.test(binary, on_connection(binary)) is None  # bytes too
    assert time.monotonic() - started < 6 * (REGEX_TIME_BUDGET + 0.2)
    records = [r for r in caplog.records if r.name == "mockd.matching"]
    assert len(records) == 1, caplog.text
    assert "mocks[3].websocket.matchers[1].match of mock 'chat'" in records[0].getMessage()
    assert records[0].mock_id == "chat"
    assert criteria.test(Message("aaaa"), on_connection(Message("aaaa"))) is not None  # it still matches what it can


def test_only_searches_that_cannot_overrun_go_without_the_budget(build):
    def below(pattern):
        return build.criteria({"type": "regex", "value": pattern}, "m").match_type.unbudgeted_below
    assert below("^ping$") > 10**9  # no repeat: linear
    assert 50 < below("^user_\\d+$") < 1000  # one repeat: quadratic, fine for short messages
    assert below("^.*a.*b$") < below("^user_\\d+$")
    for pattern in ("^(a+)+$", "^(ping|pong)$", "ab|cd", "a?" * 20, "x{e<=1}", "\\p{L}+", "x." * 150 + "$"):
        assert below(pattern) == 0, pattern  # may nest, too many repeats, or long: always budgeted


def test_a_pattern_at_the_length_cap_compiles(build):
    pattern = "|".join(f"a{i:05}b" for i in range(1251))[:MAX_PATTERN_LENGTH]  # literals of 7 characters
    assert len(pattern) == MAX_PATTERN_LENGTH
    assert hit(build, {"type": "regex", "value": pattern}, "xa01110b")


def test_the_rules_of_one_message_share_the_budget(build, caplog):
    """Twenty backtracking rules took 50 ms each; together they get 50 ms. The first one that
    runs out logs; those after it are not tried and do not."""
    ruleset = rules(build, [{"type": "regex", "value": f"^(a|a)+{i}$"} for i in range(20)]
                    + [{"type": "exact", "value": "a" * 40 + "!"}])
    evil = Message("a" * 40 + "!")
    with caplog.at_level(logging.WARNING, logger="mockd.matching"):
        started = time.monotonic()
        rule, _ = ruleset.first_match(evil)
        took = time.monotonic() - started
    assert rule.label == "matchers[20]"  # an indexed matcher after them still answers
    assert took < 4 * REGEX_TIME_BUDGET + 0.1, f"{took:.2f}s"
    records = [r.getMessage() for r in caplog.records if r.name == "mockd.matching"]
    assert len(records) == 1 and "r0" in records[0] and "ms of one message's matchers" in records[0], records
    rule, _ = ruleset.first_match(Message("aaa7"))
    assert rule.label == "matchers[7]"  # the next message has its own budget


def test_a_budget_belongs_to_its_greenlet():
    import gevent
    from mockd.budget import current_budget

    seen = {}

    def other():
        seen["other"] = current_budget()

    with budget_scope(Budget()) as mine:
        gevent.spawn(other).join()
        assert current_budget() is mine
    assert seen["other"] is None and current_budget() is None


@pytest.mark.slow
@pytest.mark.parametrize("path, document", [
    ("$..items..id", '{"items":' * 190 + "[" + ",".join(["0"] * 25_000) + "]" + "}" * 190),  # 18 s before
    ("$..*..*..*", "[" * 190 + "]" * 190),  # 380 bytes: 9 s before
    ("$..x", "[" + ",".join(["0"] * 30_000) + "]"),  # one array: its children are made as they are reached
])
def test_a_costly_jsonpath_is_no_match_within_its_steps(build, caplog, path, document):
    criteria = build.criteria({"type": "json", "path": path, "value": "7"}, "mocks[0].websocket.matchers[2].match")
    message = Message(document)
    message.json()  # parsing is not the path's cost
    with caplog.at_level(logging.WARNING, logger="mockd.matching"):
        for _ in range(2):
            started = time.monotonic()
            assert criteria.test(message) is None
            assert time.monotonic() - started < 0.5
    records = [r.getMessage() for r in caplog.records if r.name == "mockd.matching"]
    assert len(records) == 1 and "json matcher mocks[0].websocket.matchers[2].match" in records[0], records
    with pytest.raises(PathTooCostly):
        list(JsonPath(path, "m").values(message.json()))  # with no time budget, the steps decide


def test_a_jsonpath_within_its_steps_finds_everything(build):
    document = {"k%d" % i: {"id": i, "v": [1, 2]} for i in range(MAX_JSONPATH_NODES // 10)}
    assert len(list(JsonPath("$..id", "m").values(document))) == MAX_JSONPATH_NODES // 10


# A differential test over 200 random documents; the other jsonpath tests are quick.
@pytest.mark.slow
def test_metered_recursive_descent_finds_what_jsonpath_ng_finds():
    import random

    from jsonpath_ng.ext import parse

    rng = random.Random(5)

    def value(depth=0):
        roll = rng.random()
        if depth > 5 or roll < 0.3:
            return rng.choice([1, "x", None, 2.5, True])
        if roll < 0.65:
            return [value(depth + 1) for _ in range(rng.randint(0, 4))]
        return {rng.choice("abcid"): value(depth + 1) for _ in range(rng.randint(0, 4))}

    paths = ["$..a", "$..*", "$..a..b", "$.a..c", "$..[0]", "$..[*].a", "$..a[?(@.b)]", "$..[?(@ == 1)]",
             "$..a..*..b", "$[*]..i", "$..`len`"]
    for _ in range(200):
        document = value()
        for path in paths:
            assert list(JsonPath(path, "m").values(document)) == [d.value for d in parse(path).find(document)]


X250 = "x" * 250


@pytest.mark.parametrize("pattern, longest, weight, unit", [
    ("x" * 999 + "$", 999, 999, "characters"),  # held the server 0.28 s at its first 1,000-character message
    ("(?:" + "x" * 200 + ")(?:" + "x" * 200 + ")", 400, 400, "characters"),  # the package joins them
    ("id=" + "\\." * 300, 303, 303, "characters"),  # escaped characters are literal
    ("(?x)" + "x " * 300, 300, 300, "characters"),  # verbose: the spaces go
    ("(?#[)" + "x" * 300 + "(?#])", 300, 300, "characters"),  # comments go
    ("(?#|)".join([X250] * 2), 500, 500, "characters"),
    ("x{1}".join([X250] * 2), 501, 501, "characters"),  # a repeat of one is no repeat
    ("(?:)*".join([X250] * 2), 500, 500, "characters"),
    ("[x]".join([X250] * 2), 501, 501, "characters"),  # a class of one character is that character
    ("x" * 200 + "{}" + "x" * 200, 402, 402, "characters"),  # {} is no quantifier
    ("\U0001F600" * 100 + "$", 400, 400, "bytes"),  # binary messages are searched as UTF-8
    (("a.*?" + "x" * 200) * 4, 201, 319, "characters"),  # each is prepared when reached
])
def test_literals_too_long_to_prepare_are_refused_at_load(build, pattern, longest, weight, unit):
    """The regex package builds a literal's fast-search tables at its first search, in time
    cubic in its length, outside the search's timeout: 4,000 x's held the server 17.6 s."""
    with pytest.raises(ConfigError) as info:
        build.criteria({"type": "regex", "value": pattern}, "m")
    assert info.value.where == "m.value"
    message = str(info.value)
    assert f"has {longest} {unit}" in message and "more than 256" in message, message
    assert (f"and its literals cost as much as one of {weight}," in message) is (weight != longest), message
    assert "'exact', 'contains', 'prefix' or 'suffix' matcher" in message


@pytest.mark.parametrize("pattern, data", [
    ("x" * 256 + "$", "x" * 300),  # at the limit
    ("x" * 200 + "{2}" + "x" * 50, "x" * 252),  # a quantifier ends a literal: 199, the repeat, 50
    ("(" + "x" * 200 + ")" + "x{300}", "x" * 500),
    ("[" + "a" * 500 + "]" + "b" * 10, "ab" + "b" * 9),  # a class is no literal
    ("|".join(["y" * 200] * 40), "a" + "y" * 200),  # the package makes one literal of the same forty
    ("\u00e9" * 128, "\u00e9" * 128),  # 256 bytes
])
def test_literals_up_to_the_limit_load_and_match(build, pattern, data):
    assert hit(build, {"type": "regex", "value": pattern}, data)


def test_the_literal_check_reads_the_installed_regex_package():
    """mockd reads the literals through the package's parser (a private API): an upgrade that
    changes it must fail here, not silently stop the check."""
    cost = literal_cost("(?#x)ab(?:cd)[e]f{1}" + "g" * 100 + "|" + "\u00e9" * 50)
    assert cost == LiteralCost(weight=130, longest=106, text="abcdef" + "g" * 100, unit="bytes")
    assert literal_cost("x" * 85) is None  # too short to weigh more than 256, even folded


def test_an_unforeseen_regex_parser_leaves_literals_unchecked(monkeypatch, caplog, build):
    monkeypatch.setattr(regexcost, "_unforeseen", [])

    def changed(source, info):
        raise AttributeError("'Source' object has no attribute 'ignore_space'")
    monkeypatch.setattr(regexcost._regex_core, "_parse_pattern", changed)
    with caplog.at_level(logging.WARNING, logger="mockd.matching"):
        for _ in range(2):
            assert hit(build, {"type": "regex", "value": "x" * 300}, "x" * 300)  # loads, as before the check
    warnings = [r.getMessage() for r in caplog.records if r.name == "mockd.matching"]
    assert len(warnings) == 1 and "the cost of long literals in regex matchers is not checked" in warnings[0]


@pytest.mark.parametrize("calls", [2, 8])
def test_each_copy_of_a_literal_a_group_call_needs_is_weighed(build, calls):
    """A group called from a lookbehind is compiled again, reversed, with a literal of its own:
    200 x's called 8 times took 90 ms at the first message when only the first was weighed."""
    pattern = ("(?<=" + "".join(f"(?<!(?{i}))" for i in range(1, calls + 1)) + ")(?:" + "(" * calls
               + "(?>" + "x" * 200 + ".*?)" + ")" * calls + ")?")
    with pytest.raises(ConfigError) as info:
        build.criteria({"type": "regex", "value": pattern}, "m")
    assert "has 200 characters, and its literals cost as much as one of" in str(info.value)


def test_a_literal_in_a_class_is_no_literal(build):
    members = "".join(chr(c) for c in range(0x4E00, 0x4E00 + 400))  # 400 CJK ideographs
    assert hit(build, {"type": "regex", "value": f"^[{members}]+$"}, "\u4e01\u4e02")


def test_nesting_at_the_parsers_limit_is_refused_not_let_through(build):
    """The literals are weighed by parsing the pattern again, a few calls deeper than it was
    compiled: a nesting that compiles but cannot be parsed there is refused, never unweighed."""
    for depth in range(180, 200):
        for around in ("", "(", "((", "(?=", "(?>"):
            pattern = "(?:" * depth + around + "x" * 2000 + "$" + ")" * around.count("(") + ")" * depth
            with pytest.raises(ConfigError) as info:
                build.criteria({"type": "regex", "value": pattern}, "m")
            assert "nested too deeply" in str(info.value) or "has 2000 characters" in str(info.value)


def test_a_recursion_error_weighing_the_literals_refuses_the_pattern(monkeypatch, build):
    def too_deep(source, info):
        raise RecursionError("maximum recursion depth exceeded")
    monkeypatch.setattr(regexcost._regex_core, "_parse_pattern", too_deep)
    with pytest.raises(ConfigError) as info:
        build.criteria({"type": "regex", "value": "x" * 300}, "m")
    assert "nested too deeply" in str(info.value)
