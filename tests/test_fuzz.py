"""Fuzzing (issue 7, item 5) with hypothesis, bounded to run in seconds.

- The config loader: random YAML trees built from the schema's shapes (every key a mock may
  have, with plausible and implausible values), and random mutations of the examples of
  docs/websocket-mocking.md (text edits and tree edits). Loading either succeeds or raises
  ``ConfigError`` naming the file (and, inside a mock, the path); never anything else.
- Inbound frames: random opcodes, flags, masks, declared lengths and payloads on raw
  sockets to a real mockd echo mock. The server answers only with well-formed frames and
  valid close codes, forgets every fuzzed connection, and another client keeps echoing.
"""
import json
import os
import random
import socket
import struct

import gevent
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _rawws import OP_CLOSE, Client, frame
from mockd.config import HEARTBEAT_KEYS, MOCK_KEYS, RULE_KEYS, SCENARIO_KEYS, TOP_LEVEL_KEYS, WEBSOCKET_KEYS
from mockd.configfile import parse_config_text
from mockd.errors import ConfigError
from mockd.plugins import Registry, get_plugin_manager
from mockd.testing import start_server, websocket_mock
from test_doc_examples import BLOCKS, wrap

# Bounded, no example database written into the checkout, no per-example deadline (2 shared cores).
# MOCKD_FUZZ_SCALE=20 runs twenty times the examples, for a bug hunt outside the suite.
SCALE = max(1, int(os.environ.get("MOCKD_FUZZ_SCALE", "1")))
FAST = dict(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                                  HealthCheck.function_scoped_fixture])
REGISTRY = Registry.from_plugin_manager(get_plugin_manager(load_entrypoints=False))
SOURCE = "fuzz.yaml"

# ---------------------------------------------------------------------------- config trees

TEMPLATE_BITS = ["{{", "}}", "{{ message }}", "{{ message.a.b }}", "{{ now }}", "{{ uuid }}",
                 "{{ random.int(1, 10) }}", "{{ random.int(10, 1) }}", "{{ random.int( }}", "{{ nope() }}",
                 "{{ request.body.x }}", "{{ faker.name }}", "{{ 'a' }}", "{{ 1 + }}", "{{ lower(message) }}",
                 "{{ random.string(-5) }}", "{{ default(message.x, 'd') }}", "\\{{ x }}", "{{{{}}}}"]
WEIRD_STRINGS = ["", " ", "/", "/ws", "ws", "1s", "500ms", "-1s", "0", "0s", "1e309s", "10x", "1h2m3s", "μs",
                 "(", "[a-", "(?P<x>a)(?P=y)", "$.", "$..a[?(@.b", "$.a.b", "@@", "==", "text", "binary",
                 "exact", "regex", "json", "send", "wait", "delay", "expect", "true", "null", "~", "\x00",
                 "é" * 3, "\ud7ff", "\U0001f600", "aGVsbG8=", "aGVsbG8", "!!", "*a", "&a", "%", "${HOME}", "$$"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
                    st.sampled_from(WEIRD_STRINGS), st.sampled_from(TEMPLATE_BITS), st.text(max_size=12))
anything = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                           st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                        max_leaves=8)


def one_in(n):
    """True about once in ``n`` draws (hypothesis favours the first choice and small integers)."""
    return st.sampled_from([False] * (n - 1) + [True])


def maybe(value_strategy, wild_one_in=5):
    """A plausible value most of the time, anything at all sometimes."""
    return one_in(wild_one_in).flatmap(lambda wild: anything if wild else value_strategy)


def shaped(keys, values, required=()):
    """A mapping over a random subset of ``keys``: the ``required`` ones nearly always, so that
    most trees get past the outer checks, and, rarely, an unknown key."""
    @st.composite
    def build(draw):
        chosen = [key for key in required if not draw(one_in(20))]
        chosen += draw(st.lists(st.sampled_from([k for k in keys if k not in chosen] or [keys[0]]), unique=True,
                                max_size=len(keys)))
        tree = {key: draw(values.get(key, anything)) for key in dict.fromkeys(chosen)}
        if draw(one_in(30)):
            tree[draw(st.sampled_from(["typo", "Path", "echomode", "matcher", ""]))] = draw(anything)
        return tree
    return build()


durations = maybe(st.sampled_from(["0s", "10ms", "1s", "2m", "1.5s", "", "1", "-1s", "0.001ns"]))
match_block = shaped(("type", "messageType", "value", "path"), {
    "type": maybe(st.sampled_from(sorted(REGISTRY.match_types))),
    "messageType": maybe(st.sampled_from(["text", "binary", "both", ""])),
    "value": maybe(st.one_of(st.sampled_from(WEIRD_STRINGS + TEMPLATE_BITS), st.text(max_size=8))),
    "path": maybe(st.sampled_from(["$.type", "$.a[0].b", "type", "$..", "$[", "$.a[?(@.x == 1)]", ""]))},
    required=("type",))
response_block = shaped(("type", "value", "delay"), {
    "type": maybe(st.sampled_from(sorted(REGISTRY.response_types))),
    "value": maybe(st.one_of(st.sampled_from(TEMPLATE_BITS + WEIRD_STRINGS),
                             st.dictionaries(st.sampled_from(["a", "b", "{{ x }}"]),
                                             st.sampled_from(TEMPLATE_BITS + [1, None, True]), max_size=3))),
    "delay": durations}, required=("type",))
rule = shaped(RULE_KEYS, {"match": maybe(match_block), "response": maybe(response_block),
                          "noResponse": maybe(st.booleans())}, required=("match",))
step = shaped(("type", "message", "duration", "match", "timeout", "optional"), {
    "type": maybe(st.sampled_from(sorted(REGISTRY.step_types))), "message": maybe(response_block),
    "duration": durations, "match": maybe(match_block), "timeout": durations, "optional": maybe(st.booleans())},
    required=("type",))
scenario = shaped(SCENARIO_KEYS, {"name": maybe(st.text(max_size=5)), "loop": maybe(st.booleans()),
                                  "resetOnReconnect": maybe(st.booleans()),
                                  "steps": maybe(st.lists(step, max_size=3))})
heartbeat = shaped(HEARTBEAT_KEYS, {"enabled": maybe(st.booleans()), "interval": durations, "timeout": durations})
endpoint = shaped(WEBSOCKET_KEYS, {
    "path": maybe(st.sampled_from(["/ws", "/a/b", "/ws?x=1", "/é", "/ws", "ws", ""]), 20),
    "subprotocols": maybe(st.lists(st.sampled_from(["chat", "", "v2", None]), max_size=3)),
    "requireSubprotocol": maybe(st.booleans()),
    "maxMessageSize": maybe(st.integers(-10, 2**40)), "maxConnections": maybe(st.integers(-5, 10**6)),
    "idleTimeout": durations, "echoMode": maybe(st.booleans()), "heartbeat": maybe(heartbeat),
    "matchers": maybe(st.lists(rule, max_size=3)), "defaultResponse": maybe(response_block),
    "scenario": maybe(scenario), "skipOriginVerify": maybe(st.booleans())}, required=("path",))
mock = shaped(MOCK_KEYS, {"id": maybe(st.sampled_from(["m1", "m2", "m3", "m4", "x" * 40, ""]), 20),
                          "type": maybe(st.sampled_from(["websocket"] * 8 + ["http", ""]), 20),
                          "enabled": maybe(st.booleans()), "websocket": maybe(endpoint, 20)},
               required=("id", "type", "websocket"))
config_tree = shaped(TOP_LEVEL_KEYS, {"version": maybe(st.sampled_from(["1.0"] * 8 + ["1", "2.0"]), 20),
                                      "mocks": maybe(st.lists(mock, min_size=1, max_size=3)),
                                      "plugins": maybe(st.dictionaries(st.text(max_size=5), anything, max_size=2))},
                     required=("version", "mocks"))


def load(text):
    """Load ``text``; return the config or the ConfigError, and fail on any other exception."""
    try:
        return parse_config_text(text, REGISTRY, SOURCE)
    except ConfigError as exc:
        assert exc.source == SOURCE, exc
        assert str(exc).startswith(f"{SOURCE}: ") and exc.message, exc
        return exc


def dump(tree):
    """As JSON (valid YAML, and safe for any tree hypothesis builds), or YAML when possible."""
    try:
        return yaml.safe_dump(tree, allow_unicode=True, sort_keys=False)
    except yaml.YAMLError:
        return json.dumps(tree)


# Hypothesis runs of seconds each: the fuzz runs in the whole suite, not in the edit-test loop.
@pytest.mark.slow
@settings(max_examples=200 * SCALE, **FAST)
@given(config_tree)
def test_config_loader_on_schema_shaped_trees(tree):
    outcome = load(dump(tree))
    if isinstance(outcome, ConfigError):
        # A mapping always parses: the error names the field (an empty top-level key has no
        # path of its own; the message quotes it).
        assert outcome.where or outcome.message.startswith("unknown key ''"), outcome


FULL_EXAMPLES = [wrap(block, index) for index, (_heading, block) in enumerate(BLOCKS)]


def test_doc_examples_load_unmutated():
    assert FULL_EXAMPLES, "no yaml examples found in docs/websocket-mocking.md"
    for text in FULL_EXAMPLES:
        outcome = load(text)
        assert not isinstance(outcome, ConfigError), outcome


@st.composite
def text_mutation(draw):
    text = draw(st.sampled_from(FULL_EXAMPLES))
    lines = text.splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, max(0, len(lines) - 1)))
        kind = draw(st.sampled_from(["delete", "duplicate", "indent", "dedent", "replace", "insert", "truncate"]))
        if not lines:
            break
        if kind == "delete":
            del lines[i]
        elif kind == "duplicate":
            lines.insert(i, lines[i])
        elif kind == "indent":
            lines[i] = "  " + lines[i]
        elif kind == "dedent":
            lines[i] = lines[i][2:] if lines[i].startswith("  ") else lines[i]
        elif kind == "replace" and ":" in lines[i]:
            key, _sep, _value = lines[i].partition(":")
            lines[i] = f"{key}: {draw(st.sampled_from(WEIRD_STRINGS + TEMPLATE_BITS + ['[', '{', '- x', '|']))}\n"
        elif kind == "insert":
            at = draw(st.integers(0, len(lines[i])))
            junk = draw(st.sampled_from(["{{", "}}", ":", "- ", "'", '"', "\t", "#", "&x ", "*x"]))
            lines[i] = lines[i][:at] + junk + lines[i][at:]
        elif kind == "truncate":
            lines = lines[:i + 1]
    return "".join(lines)


@pytest.mark.slow
@settings(max_examples=300 * SCALE, **FAST)
@given(text_mutation())
def test_config_loader_on_mutated_doc_examples(text):
    load(text)


def _paths(tree, prefix=()):
    yield prefix
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            yield from _paths(value, prefix + (index,))


@st.composite
def tree_mutation(draw):
    from mockd.yamlload import load_yaml
    tree = json.loads(json.dumps(load_yaml(draw(st.sampled_from(FULL_EXAMPLES)))))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(list(_paths(tree))))
        if not path:
            continue
        parent = tree
        for key in path[:-1]:
            parent = parent[key]
        kind = draw(st.sampled_from(["replace", "delete", "wrap"]))
        if kind == "replace":
            parent[path[-1]] = draw(anything)
        elif kind == "delete":
            del parent[path[-1]]
        else:
            parent[path[-1]] = [parent[path[-1]]]
    return tree


@pytest.mark.slow
@settings(max_examples=200 * SCALE, **FAST)
@given(tree_mutation())
def test_config_loader_on_mutated_doc_example_trees(tree):
    load(dump(tree))


# ---------------------------------------------------------------------------- inbound frames

VALID_CLOSE = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014} | set(range(3000, 5000))


@pytest.fixture(scope="module")
def echo_server():
    running = start_server(websocket_mock("/ws", maxMessageSize=4096))
    yield running
    running.stop()


frames = st.builds(
    lambda opcode, fin, rsv, masked, payload, lie, cut: (frame(opcode, payload, fin=fin, rsv=rsv, masked=masked,
                                                          length=lie), cut),
    opcode=st.one_of(st.sampled_from([0, 1, 2, 8, 9, 10]), st.integers(0, 15)),
    fin=st.booleans(), rsv=st.one_of(st.just(0), st.just(0), st.integers(0, 7)),
    masked=st.one_of(st.just(True), st.just(True), st.just(True), st.booleans()),
    payload=st.one_of(st.binary(max_size=200), st.text(max_size=60).map(str.encode),
                      st.builds(lambda code, reason: struct.pack("!H", code) + reason,
                                st.integers(0, 65535), st.binary(max_size=20))),
    lie=st.one_of(st.none(), st.none(), st.none(), st.integers(0, 200), st.integers(0, 2**63 - 1)),
    cut=st.one_of(st.none(), st.none(), st.integers(0, 20)))


def read_answers(client, timeout):
    """Server frames until close/EOF/quiet; every one must be well formed."""
    client.sock.settimeout(timeout)
    answers = []
    try:
        while True:
            opcode, payload = client.recv_frame()  # asserts the frame is not masked
            assert opcode in (1, 2, 8, 9, 10), opcode
            if opcode == OP_CLOSE:
                if payload:
                    code = struct.unpack("!H", payload[:2])[0]
                    assert code in VALID_CLOSE, code
                    payload[2:].decode("utf-8")
                answers.append(opcode)
                return answers
            assert opcode != 9 and (opcode == 10 or len(payload) <= 4096)
            answers.append(opcode)
    except (socket.timeout, EOFError, ConnectionResetError):
        return answers


@pytest.mark.slow
@settings(max_examples=100 * SCALE, **FAST)
@given(st.lists(frames, min_size=1, max_size=4), st.booleans())
def test_inbound_frame_fuzz_never_disturbs_the_server(echo_server, sequence, reset):
    client = Client(echo_server.port, timeout=2)
    data = b""
    for raw, cut in sequence:
        data += raw if cut is None else raw[:cut]
    client.sock.sendall(data)
    read_answers(client, timeout=0.15)
    client.reset() if reset else client.sock.close()
    witness = Client(echo_server.port, timeout=2)
    token = "alive %d" % random.randrange(1 << 30)
    witness.send_text(token)
    assert witness.recv_data() == token
    assert witness.close() == 1000


# Checks what the fuzz above left behind: without it, it would prove nothing.
@pytest.mark.slow
def test_inbound_frame_fuzz_left_nothing_behind(echo_server):
    with gevent.Timeout(5, False):
        while len(echo_server.server.connections):
            gevent.sleep(0.02)
    assert len(echo_server.server.connections) == 0
    stats = echo_server.server.connections.stats()
    assert stats["activeConnections"] == 0 and stats["totalConnections"] > 0
