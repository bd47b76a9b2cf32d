"""Config loading and validation: every error is located and names the allowed values."""
import pytest

from mockd.config import build_config
from mockd.configfile import expand_env, load_config, parse_config_text
from mockd.durations import parse_duration
from mockd.errors import ConfigError


def ws(**spec):
    spec.setdefault("path", "/ws")
    return {"version": "1.0", "mocks": [{"id": "m", "type": "websocket", "websocket": spec}]}


def error_of(registry, data):
    with pytest.raises(ConfigError) as info:
        build_config(data, registry)
    return str(info.value)


@pytest.mark.parametrize("text,seconds", [
    ("500ms", 0.5), ("1.5s", 1.5), ("5m", 300), ("1h30m", 5400), ("0", 0), ("2h0m0.5s", 7200.5),
    ("100us", 0.0001), ("10ns", 1e-8),
])
def test_duration_grammar(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["500", "1.5", "s", "5 m", "1d", "", "abc", "1h30"])
def test_duration_rejects(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_bare_number_duration_is_located(registry):
    message = error_of(registry, ws(idleTimeout=300))
    assert message.startswith("mocks[0].websocket.idleTimeout: ")
    assert "'300s'" in message


def test_version_required_and_exact(registry):
    assert "version: version is required" in error_of(registry, {"mocks": []})
    assert "unsupported version '2.0'" in error_of(registry, {"version": "2.0", "mocks": []})
    config = parse_config_text("version: '1.0'\nmocks: []\n", registry, "x.yaml")
    assert config.version == "1.0" and config.mocks == []
    # A number cannot tell 1.10 from 1.1: the version is text, and the message says how to write it.
    for text in ("version: 1.0\nmocks: []\n", '{"version": 1.0, "mocks": []}', "version: 1\nmocks: []\n"):
        with pytest.raises(ConfigError, match=r'^x.yaml: version: write it as the string "1.0" \(in quotes\)'):
            parse_config_text(text, registry, "x.yaml")


def test_unknown_matcher_type_names_path_and_allowed(registry):
    message = error_of(registry, ws(matchers=[
        {"match": {"type": "exact", "value": "a"}, "response": {"type": "text", "value": "b"}},
        {"match": {"type": "regexp", "value": "a"}}]))
    assert message.startswith("mocks[0].websocket.matchers[1].match.type: unknown matcher type 'regexp'")
    assert "contains, exact, json, prefix, regex, suffix" in message
    assert "did you mean 'regex'" in message


def test_jsonpath_type_is_not_a_matcher(registry):
    assert "unknown matcher type 'jsonpath'" in error_of(registry, ws(matchers=[{"match": {"type": "jsonpath"}}]))


def test_file_errors_name_the_file(registry, write_config):
    path = write_config('version: "1.0"\nmocks:\n  - websocket:\n      path: ws\n')
    with pytest.raises(ConfigError) as info:
        load_config(path, registry)
    assert str(info.value) == f"{path}: mocks[0].websocket.path: path must start with / (got 'ws')"


@pytest.mark.parametrize("text,fragment", [
    ("", "configuration file is empty"),
    ("version: [1\n", "invalid YAML"),
    ("version: '1.0'\nmocks:\n  - {id: a, websocket: {path: /a}}\n  - {id: a, websocket: {path: /b}}\n",
     "mocks[1].id: duplicate mock id 'a'"),
    ("version: '1.0'\nmocks: [{websocket: {path: /a, paht: /b}}]\n",
     "mocks[0].websocket.paht: unknown key 'paht'"),
    ("version: '1.0'\nmocks: [{type: http}]\n", "mocks[0].type: unsupported mock type 'http'"),
    ("version: '1.0'\nmocks: [{type: websocket}]\n", "websocket spec is required"),
    ("version: '1.0'\nendpoints: []\n", "NativeV1"),
    ("version: '1.0'\nversion: '1.0'\n", "duplicate key 'version'"),
    ("version: '1.0'\nmocks: [{websocket: {path: /a, matchers: [{match: {type: regex, value: '(a'}}]}}]\n",
     "mocks[0].websocket.matchers[0].match.value: invalid regular expression"),
    ("version: '1.0'\nmocks: [{websocket: {path: /a, matchers: [{match: {type: json, path: '$[?(@.a'}}]}}]\n",
     "mocks[0].websocket.matchers[0].match.path: invalid JSONPath"),
    ("version: '1.0'\nmocks: [{websocket: {path: /a, defaultResponse: {type: binary, value: 'abc!'}}}]\n",
     "mocks[0].websocket.defaultResponse.value: value is not valid base64"),
    ("version: '1.0'\nmocks: [{websocket: {path: /a, defaultResponse: {type: xml, value: a}}}]\n",
     "mocks[0].websocket.defaultResponse.type: unknown response type 'xml' (allowed: binary, json, text)"),
    ("version: '1.0'\nmocks: [{websocket: {path: /a, scenario: {steps: [{type: jump}]}}}]\n",
     "mocks[0].websocket.scenario.steps[0].type: unknown step type 'jump'"),
    ("version: '1.0'\nmocks: [{websocket: {path: /a, scenario: {steps: [{type: send}]}}}]\n",
     "mocks[0].websocket.scenario.steps[0].message: a send step needs a 'message'"),
    ("version: '1.0'\nmocks: [{websocket: {path: /a, scenario: {steps: [{type: delay}]}}}]\n",
     "mocks[0].websocket.scenario.steps[0].duration"),
    ("version: '1.0'\nmocks: [{websocket: {path: /a, scenario: {steps: [{type: delay, duration: 0s}]}}}]\n",
     "duration must be positive"),
    ("version: '1.0'\nmocks: [{websocket: {path: /a, matchers: [{response: {type: text, value: a}}]}}]\n",
     "mocks[0].websocket.matchers[0].match: a matcher needs a 'match' block"),
    ("version: '1.0'\nmocks: [{websocket: {path: /a, maxConnections: many}}]\n",
     "mocks[0].websocket.maxConnections: expected a whole number"),
    ("version: '1.0'\nmocks: [{websocket: {path: /a, echoMode: maybe}}]\n",
     "mocks[0].websocket.echoMode: expected true or false"),
])
def test_bad_files_fail_whole_and_located(registry, write_config, text, fragment):
    path = write_config(text)
    with pytest.raises(ConfigError) as info:
        load_config(path, registry)
    assert fragment in str(info.value)
    assert str(info.value).startswith(str(path))


def test_missing_file(registry, tmp_path):
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_config(tmp_path / "nope.yaml", registry)


def test_ids_types_and_defaults(registry):
    config = parse_config_text(
        "version: '1.0'\nmocks:\n  - websocket: {path: /a}\n"
        "  - websocket: {path: /b, matchers: [{match: {type: exact, value: x}}]}\n"
        "  - websocket: {path: /c, enabled: true, echoMode: false}\n".replace(", enabled: true", ""),
        registry, "c.yaml")
    a, b, c = config.mocks
    assert a.id.startswith("ws_") and len(a.id) == 3 + 16 and a.id != b.id
    assert a.type == "websocket" and a.enabled
    assert a.endpoint.echo is True        # no matchers, no scenario
    assert b.endpoint.echo is False       # matchers present
    assert c.endpoint.echo is False       # explicit value wins
    assert a.endpoint.max_message_size == 65536 and a.endpoint.max_connections == 0


def test_yaml_scalars_keep_their_literal_text(registry):
    config = parse_config_text(
        "version: '1.0'\nmocks:\n  - websocket:\n      path: /a\n      matchers:\n"
        "        - match: {type: json, path: $.id, value: 42}\n"
        "        - match: {type: json, path: $.ok, value: true}\n"
        "        - match: {type: exact, value: yes}\n", registry, "c.yaml")
    rules = config.mocks[0].endpoint.rules
    assert rules[0].criteria.match_type.value == "42"
    assert rules[1].criteria.match_type.value == "true"
    assert rules[2].criteria.match_type.value == "yes"


def test_heartbeat_defaults(registry):
    config = build_config(ws(heartbeat={"enabled": True}), registry)
    assert (config.mocks[0].endpoint.heartbeat.interval, config.mocks[0].endpoint.heartbeat.timeout) == (30, 10)
    assert build_config(ws(heartbeat={"enabled": False, "interval": "1s"}), registry).mocks[0].endpoint.heartbeat is None


def test_env_expansion():
    env = {"PORT": "4280", "NAME": "x"}
    assert expand_env("a: $NAME ${PORT} ${MISSING:-dflt} $$5 ^total$ \\$price $UNDEFINED", env) == \
        "a: x 4280 dflt $5 ^total$ \\$price $UNDEFINED"


def test_env_expansion_in_file(registry, write_config, monkeypatch):
    monkeypatch.setenv("MOCKD_TEST_PATH", "/from-env")
    config = load_config(write_config("version: '1.0'\nmocks: [{websocket: {path: $MOCKD_TEST_PATH}}]\n"), registry)
    assert config.mocks[0].endpoint.path == "/from-env"


def test_json_config_file(registry, write_config):
    path = write_config('{"version": "1.0", "mocks": [{"websocket": {"path": "/j"}}]}', name="mockd.json")
    assert load_config(path, registry).mocks[0].endpoint.path == "/j"


def test_doc_step_spellings_all_accepted(registry):
    from mockd.scenario import ExpectStep, PauseStep, SendStep
    config = build_config(ws(scenario={"steps": [
        {"type": "send", "message": {"type": "text", "value": "hi"}},
        {"type": "wait", "match": {"type": "exact", "value": "go"}, "timeout": "1s"},
        {"type": "wait", "duration": "1s"},
        {"type": "delay", "duration": "2s"},
        {"type": "expect", "timeout": "5s", "optional": True},
    ]}), registry)
    steps = config.mocks[0].endpoint.scenario.steps
    assert [type(s) for s in steps] == [SendStep, ExpectStep, PauseStep, PauseStep, ExpectStep]
    assert steps[1].timeout == 1 and steps[4].optional and steps[4].criteria is None
