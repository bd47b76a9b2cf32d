"""Issue 11, config errors as a new user meets them (items 1, 2, 11, 13 to 17 and the ``mockd
check`` parts of 22): ``python -m mockd check/serve`` as subprocesses, and the admin API over
real HTTP. Each test asserts the exact line the user reads."""
import json
import os
import textwrap

import pytest

from _cli import ROOT, Serve, mockd
from mockd.version import __version__

# The README's own RepeatStep example ("Plugin hooks"), as a loose plugin file.
REPEAT_PLUGIN = '''
from mockd import StepType, hookimpl


class RepeatStep(StepType):
    """{type: repeat, text: "tick", times: 3}"""
    name = "repeat"

    def __init__(self, response, times):
        self.response, self.times = response, times

    @classmethod
    def from_config(cls, spec, where, build):
        if spec.get("exit"):
            raise SystemExit(3)  # a plugin must not be able to end mockd from a config
        response = build.response({"type": "text", "value": spec["text"]}, where)
        return cls(response, int(spec.get("times", 1)))

    def run(self, ctx):
        for _ in range(self.times):
            ctx.send(self.response)
        return True


@hookimpl
def mockd_register_step_types():
    return [RepeatStep]
'''

TICKER = """\
version: "1.0"
mocks:
  - id: ticker
    websocket:
      path: /tick
      scenario:
        steps:
          - type: repeat
            times: 3
"""


@pytest.fixture
def plugins_dir(tmp_path):
    """A ``--plugins-dir`` holding the RepeatStep example as ``repeat.py``: plugin ``repeat``."""
    plugin = tmp_path / "plugins" / "repeat.py"
    plugin.parent.mkdir()
    plugin.write_text(REPEAT_PLUGIN, encoding="utf-8")
    return plugin.parent


def write(tmp_path, text, name="mockd.yaml", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode(encoding))
    return path


def run(*args, **env):
    """``mockd ARGS`` without the installed plugins, whose types would join the allowed lists."""
    return mockd(*args, **dict({"MOCKD_DISABLE_PLUGIN_AUTOLOAD": "1"}, **env))


def check(path, *args, **env):
    return run("check", "-c", path, *args, **env)


def errors_of(done):
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    return done.stderr.splitlines()


# ---------------------------------------------------------------- item 1: a plugin's from_config


@pytest.mark.slow
def test_plugin_from_config_failure_is_a_located_error_from_check_and_serve(tmp_path, plugins_dir):
    path = write(tmp_path, TICKER)
    expected = (f"mockd: error: {path}: mocks[0].websocket.scenario.steps[0]: plugin 'repeat' failed to read "
                f"this 'repeat' step: KeyError: 'text'")
    assert errors_of(check(path, "--plugins-dir", plugins_dir)) == [expected]
    served = run("serve", "-c", path, "--plugins-dir", plugins_dir, "-p", "0", "-a", "0", "--host", "127.0.0.1")
    assert errors_of(served)[-1] == expected
    # SystemExit from from_config is a config error too, not the end of the process.
    path = write(tmp_path, TICKER.replace("times: 3", "exit: true"))
    assert errors_of(check(path, "--plugins-dir", plugins_dir)) == [
        f"mockd: error: {path}: mocks[0].websocket.scenario.steps[0]: plugin 'repeat' failed to read "
        f"this 'repeat' step: SystemExit: 3"]


def test_plugin_from_config_failure_is_a_400_from_the_admin_api(make_mockd_server, plugins_dir):
    srv = make_mockd_server({"version": "1.0", "mocks": [{"id": "echo", "websocket": {"path": "/ws"}}]},
                            plugins_dir=plugins_dir)
    for step, error in [({"type": "repeat"}, "KeyError: 'text'"),
                        ({"type": "repeat", "text": "x", "exit": True}, "SystemExit: 3")]:
        reply = srv.admin.post("/mocks", {"id": "t", "websocket": {"path": "/t", "scenario": {"steps": [step]}}})
        assert reply.status == 400 and reply.json["error"] == "validation_error", reply
        assert reply.json["message"] == (f"websocket.scenario.steps[0]: plugin 'repeat' failed to read this "
                                         f"'repeat' step: {error}")
    assert [m["id"] for m in srv.admin.get("/mocks").json["mocks"]] == ["echo"]
    ws = srv.connect("/ws")  # the server is still there and unchanged
    ws.send("hi")
    assert ws.recv() == "hi"


# ---------------------------------------------------------------- item 2: duplicate paths


@pytest.mark.slow
def test_duplicate_path_names_the_file_and_both_places(tmp_path):
    text = ('version: "1.0"\nmocks:\n  - websocket: {path: /ws}\n  - websocket: {path: /chat}\n'
            '  - {enabled: false, websocket: {path: /ws}}\n  - websocket: {path: /ws}\n')
    path = write(tmp_path, text)
    assert errors_of(check(path)) == [
        f"mockd: error: {path}: mocks[3].websocket.path: path '/ws' is already served by mocks[0]; "
        f"give one of them another path, or 'enabled: false'"]
    path = write(tmp_path, text.replace("  - websocket: {path: /ws}\n", "  - {id: one, websocket: {path: /ws}}\n", 1))
    assert errors_of(check(path))[0].endswith("path '/ws' is already served by mocks[0] (id 'one'); "
                                             "give one of them another path, or 'enabled: false'")


# ---------------------------------------------------------------- item 11: no response


@pytest.mark.slow
def test_matcher_without_response_loads_with_a_located_warning(tmp_path):
    text = textwrap.dedent("""\
        version: "1.0"
        mocks:
          - id: chat
            websocket:
              path: /chat
              matchers:
                - {match: {type: exact, value: ping}, response: {type: text, value: pong}}
                - match: {type: exact, value: quiet}
                - {match: {type: exact, value: hush}, noResponse: true}
        """)
    path = write(tmp_path, text)
    warning = (f"{path}: mocks[0].websocket.matchers[1]: this matcher has no 'response', so a message it matches "
               f"gets no reply; write 'noResponse: true' if that is meant, or add a response")
    done = check(path)
    assert done.returncode == 0 and done.stdout == f"{path}: OK (1 mock)\n"
    assert done.stderr.splitlines() == [f"mockd: warning: {warning}"]
    server = Serve("-c", path, "--no-admin", MOCKD_DISABLE_PLUGIN_AUTOLOAD="1")
    try:
        import websocket
        ws = websocket.create_connection(server.url("/chat"), timeout=5)
        ws.send("quiet")  # accepted as upstream does: matched, and nothing sent
        ws.send("ping")
        assert ws.recv() == "pong"
        ws.close()
    finally:
        _out, err = server.stop()
    assert f"WARNING mockd.config: {warning}" in err


# ---------------------------------------------------------------- item 13: every error


@pytest.mark.slow
def test_every_error_of_a_file_is_reported_each_on_its_own_line(tmp_path):
    path = write(tmp_path, textwrap.dedent("""\
        version: "1.0"
        mocks:
          - id: echo
            websocket:
              path: ws
              echoMode: yes
          - id: chat
            websocket:
              path: /chat
              idleTimeout: 30
              matchers:
                - match: {type: regexp, value: "^hi"}
                  response: {type: text, value: hello}
                - match: {type: exact, value: bye}
                  response: {type: txt, value: see you}
        """))
    for command in (["check"], ["serve", "-p", "0", "-a", "0", "--host", "127.0.0.1"]):
        assert errors_of(run(*command, "-c", path)) == [
            f"mockd: error: {path}: mocks[0].websocket.path: path must start with / (got 'ws')",
            f"mockd: error: {path}: mocks[0].websocket.echoMode: expected true or false, got 'yes'",
            f"mockd: error: {path}: mocks[1].websocket.idleTimeout: a duration needs a unit: write '30s' or '30ms', "
            f"not a bare number",
            f"mockd: error: {path}: mocks[1].websocket.matchers[0].match.type: unknown matcher type 'regexp' "
            f"(allowed: contains, exact, json, prefix, regex, suffix); did you mean 'regex'?",
            f"mockd: error: {path}: mocks[1].websocket.matchers[1].response.type: unknown response type 'txt' "
            f"(allowed: binary, json, text); did you mean 'text'?",
        ]


def test_errors_are_capped_at_twenty_and_the_rest_counted(tmp_path):
    mocks = "".join(f"  - websocket: {{path: p{i}}}\n" for i in range(25))
    path = write(tmp_path, f'version: "1.0"\nmocks:\n{mocks}')
    lines = errors_of(check(path))
    assert len(lines) == 21
    assert lines[0] == f"mockd: error: {path}: mocks[0].websocket.path: path must start with / (got 'p0')"
    assert lines[19].startswith(f"mockd: error: {path}: mocks[19].websocket.path: ")
    assert lines[20] == f"mockd: error: {path}: 5 more errors not shown (at most 20 are reported at once)"


def test_the_admin_api_reports_every_error_too(make_mockd_server):
    srv = make_mockd_server({"version": "1.0", "mocks": [{"id": "echo", "websocket": {"path": "/ws"}}]})
    bad = {"version": "1.0", "mocks": [{"websocket": {"path": "a"}}, {"websocket": {"path": "/b", "echoMode": 1}}]}
    reply = srv.admin.post("/config", {"config": bad})
    assert reply.status == 400 and reply.json["error"] == "validation_error"
    assert reply.json["message"].splitlines() == ["config.mocks[0].websocket.path: path must start with / (got 'a')",
                                                  "config.mocks[1].websocket.echoMode: expected true or false, got 1"]


# ---------------------------------------------------------------- item 14: YAML syntax


@pytest.mark.slow
@pytest.mark.parametrize("text,message", [
    ('version: "1.0"\nmocks:\n  - websocket:\n\tpath: /ws\n',
     "line 4, column 1: invalid YAML: found a tab; YAML does not allow tabs here: indent with spaces"),
    ('version: "1.0"\nmocks:\n  - id: a\n    websocket:\n      path: /ws\n     echoMode: true\n',
     "line 6, column 6: invalid YAML: this line is indented 5 spaces, which lines up with no block above it; "
     "indent it 6 spaces to line up with 'path' on line 5 or 4 spaces to line up with 'id' on line 3"),
    ('version: "1.0"\nmocks:\n  - id: a\n   websocket:\n      path: /ws\n',
     "line 4, column 4: invalid YAML: this line is indented 3 spaces, which lines up with no block above it; "
     "indent it 4 spaces to line up with 'id' on line 3"),
    ('version: "1.0"\nmocks:\n  - id: a\n    name: Chat: v2\n    websocket: {path: /ws}\n',
     "line 4, column 15: invalid YAML: a value containing ': ' must be quoted: name: \"Chat: v2\""),
    ('version: "1.0"\nmocks:\n  - id: a\n    websocket:\n      path: /ws\n        echoMode: true\n',
     "line 6, column 17: invalid YAML: this line is indented deeper than line 5 (path: /ws), so it continues "
     "that line's value; indent it 6 spaces to make it a key of its own"),
    ('version: "1.0"\nmocks:\n  - id: "a\n',
     "line 3, column 9: invalid YAML: this quoted string is never closed (the file ends first)"),
    ('version: "1.0"\nversion: "1.0"\n',
     "line 2, column 1: invalid YAML: found duplicate key 'version' (first at line 1, column 1); "
     "a key may appear once in a mapping"),
], ids=["tab", "dedent", "dedent-in-list", "colon-in-value", "over-indent", "open-quote", "duplicate-key"])
def test_yaml_syntax_errors_are_one_line_with_the_place_and_a_hint(tmp_path, text, message):
    path = write(tmp_path, text)
    assert errors_of(check(path)) == [f"mockd: error: {path}: {message}"]


# ---------------------------------------------------------------- item 15: not UTF-8


def test_a_file_that_is_not_utf8_names_the_first_bad_byte_and_the_fix(tmp_path):
    text = 'version: "1.0"\nmocks:\n  - websocket:\n      path: /caf\u00e9\n'
    path = write(tmp_path, text, encoding="latin-1")
    assert errors_of(check(path)) == [
        f"mockd: error: {path}: line 4, column 17: the byte 0xe9 here is not UTF-8 (is the file Latin-1 or "
        f"Windows-1252?); save the file as UTF-8"]


# ---------------------------------------------------------------- item 16: allowed keys


@pytest.mark.slow
def test_allowed_keys_are_the_documented_ones_and_misplaced_keys_are_pointed_home(tmp_path):
    path = write(tmp_path, 'version: "1.0"\nmockz: []\nmocks:\n  - id: a\n    path: /ws\n    echoMode: true\n'
                           '  - websocket: {path: /b, paht: /c}\n')
    assert errors_of(check(path)) == [
        f"mockd: error: {path}: mockz: unknown key 'mockz' (allowed: mocks, plugins, version); did you mean 'mocks'?",
        f"mockd: error: {path}: mocks[0].path: unknown key 'path' (allowed: description, enabled, id, name, type, "
        f"websocket); did you mean 'websocket.path'?",
        f"mockd: error: {path}: mocks[0].echoMode: unknown key 'echoMode' (allowed: description, enabled, id, name, "
        f"type, websocket); did you mean 'websocket.echoMode'?",
        f"mockd: error: {path}: mocks[1].websocket.paht: unknown key 'paht' (allowed: allowedOrigins, "
        f"defaultResponse, echoMode, faults, heartbeat, idleTimeout, matchers, maxConnections, maxMessageSize, path, "
        f"protocol, proxy, replay, requireSubprotocol, scenario, skipOriginVerify, subprotocols); did you mean 'path'?"]
    # Upstream's bookkeeping fields still load; they are just never advertised.
    exported = write(tmp_path, 'version: "1.0"\nkind: MockCollection\nname: x\nmetadata: {}\nserverConfig: {}\n'
                               'mocks:\n  - {id: a, parentId: p, metaSortKey: 1, workspaceId: w, createdAt: t, '
                               'updatedAt: t, websocket: {path: /a}}\n', name="exported.yaml")
    done = check(exported)
    assert done.returncode == 0 and done.stdout == f"{exported}: OK (1 mock)\n", done.stderr


# ---------------------------------------------------------------- item 17: plugins and version


@pytest.mark.slow
def test_settings_for_a_plugin_not_loaded_are_an_error_with_did_you_mean(tmp_path, plugins_dir):
    path = write(tmp_path, 'version: "1.0"\nplugins:\n  repaet: {}\nmocks: []\n')
    assert errors_of(check(path, "--plugins-dir", plugins_dir, "--no-plugin-autoload")) == [
        f"mockd: error: {path}: plugins.repaet: no plugin 'repaet' is loaded (loaded: repeat); did you mean 'repeat'?"]
    assert errors_of(check(path, "--no-plugin-autoload")) == [
        f"mockd: error: {path}: plugins.repaet: no plugin 'repaet' is loaded (no plugin is: 'mockd plugins' lists "
        f"them); install it, or remove these settings"]
    # A disabled plugin keeps its settings in the file: they are only a warning.
    path = write(tmp_path, 'version: "1.0"\nplugins:\n  repeat: {}\nmocks: []\n')
    done = check(path, "--plugins-dir", plugins_dir, "--disable-plugin", "repeat")
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        f"mockd: warning: {path}: plugins.repeat: plugin 'repeat' is disabled (--disable-plugin or "
        f"MOCKD_DISABLED_PLUGINS); its settings are not used"]


@pytest.mark.slow
def test_a_type_of_a_disabled_plugin_says_the_plugin_is_disabled(tmp_path, plugins_dir):
    path = write(tmp_path, TICKER.replace("times: 3", "text: tick"))
    assert check(path, "--plugins-dir", plugins_dir).returncode == 0
    assert errors_of(check(path, "--plugins-dir", plugins_dir, "--disable-plugin", "repeat")) == [
        f"mockd: error: {path}: mocks[0].websocket.scenario.steps[0].type: step type 'repeat' is not available: "
        f"plugin 'repeat' is disabled (--disable-plugin or MOCKD_DISABLED_PLUGINS)"]
    # A type named otherwise: the disabled plugins are named as where it may come from.
    path = write(tmp_path, TICKER.replace("type: repeat", "type: ticks"))
    assert errors_of(check(path, "--plugins-dir", plugins_dir, "--no-plugin-autoload",
                           MOCKD_DISABLED_PLUGINS="repeat")) == [
        f"mockd: error: {path}: mocks[0].websocket.scenario.steps[0].type: unknown step type 'ticks' "
        f"(allowed: delay, expect, send, wait); the disabled plugin repeat may provide it"]


WAVE_PLUGIN = """
from mockd import Matcher, hookimpl


class Wave(Matcher):  # {type: wave}: matches "~"
    name = "wave"
    from_config = classmethod(lambda cls, spec, where, build: cls())
    match = staticmethod(lambda message, context=None: {} if message.text == "~" else None)


@hookimpl
def mockd_register_matchers():
    return [Wave]
"""


@pytest.mark.slow
def test_an_installed_plugin_left_unloaded_is_named_with_the_option(tmp_path):
    site = tmp_path / "site"
    dist = site / "mockd_wave-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mockd-wave\nVersion: 1.0\n", encoding="utf-8")
    (dist / "entry_points.txt").write_text("[mockd]\nwave = mockd_wave\n", encoding="utf-8")
    (site / "mockd_wave.py").write_text(WAVE_PLUGIN, encoding="utf-8")
    env = {"PYTHONPATH": os.pathsep.join([str(ROOT), str(site)])}
    path = write(tmp_path, 'version: "1.0"\nplugins:\n  wave: {}\nmocks:\n'
                           '  - websocket: {path: /w, matchers: [{match: {type: wave}, noResponse: true}]}\n')
    assert mockd("check", "-c", path, **env).stdout == f"{path}: OK (1 mock)\n"
    assert errors_of(mockd("check", "-c", path, "--no-plugin-autoload", **env)) == [
        f"mockd: error: {path}: mocks[0].websocket.matchers[0].match.type: matcher type 'wave' is not available: "
        f"plugin 'wave' is installed but not loaded (--no-plugin-autoload or MOCKD_DISABLE_PLUGIN_AUTOLOAD)"]
    path = write(tmp_path, 'version: "1.0"\nplugins:\n  wave: {}\nmocks: []\n')
    done = mockd("check", "-c", path, MOCKD_DISABLE_PLUGIN_AUTOLOAD="1", **env)
    assert done.returncode == 0 and done.stderr.splitlines() == [
        f"mockd: warning: {path}: plugins.wave: plugin 'wave' is installed but not loaded (--no-plugin-autoload or "
        f"MOCKD_DISABLE_PLUGIN_AUTOLOAD); its settings are not used"]


def test_version_as_a_number_is_refused_with_the_fix(tmp_path):
    path = write(tmp_path, "version: 1.0\nmocks: []\n")
    assert errors_of(check(path)) == [
        f'mockd: error: {path}: version: write it as the string "1.0" (in quotes), not the number 1.0']


# ---------------------------------------------------------------- item 22: mockd check and plugins


@pytest.mark.slow
def test_check_reads_mockd_config_and_counts_in_the_singular(tmp_path):
    path = write(tmp_path, 'version: "1.0"\nmocks:\n  - websocket: {path: /ws}\n')
    done = run("check", MOCKD_CONFIG=str(path))
    assert done.returncode == 0 and done.stdout == f"{path}: OK (1 mock)\n", done.stderr
    two = write(tmp_path, 'version: "1.0"\nmocks:\n  - websocket: {path: /a}\n  - websocket: {path: /b}\n', "two.yaml")
    assert check(two, MOCKD_CONFIG=str(path)).stdout == f"{two}: OK (2 mocks)\n"  # -c wins
    done = run("check")
    assert errors_of(done) == ["mockd: error: no config file to check: give one with -c FILE (or set MOCKD_CONFIG)"]


def test_plugins_all_shows_mockds_own_version_for_the_built_ins():
    done = run("plugins", "--all")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [row["name"] for row in rows] == ["mockd.faults.builtin", "mockd.matching", "mockd.protocols.graphql_ws",
                                             "mockd.protocols.mqtt", "mockd.protocols.socketio",
                                             "mockd.protocols.stomp", "mockd.responses", "mockd.scenario",
                                             "mockd.templatefuncs"]
    assert {(row["distribution"], row["version"]) for row in rows} == {("mockd", __version__)}
