"""The plugin hooks and their plumbing, observed from outside: real servers, real clients.

``tests/plugins/example_plugin.py`` implements every hook and is loaded with ``plugins_dir``
(datasette's ``my_plugin.py`` pattern). Each hook has a ``test_hook_<name>``;
``test_plugin_hooks_have_tests`` and ``test_every_hook_is_documented`` keep it that way.
"""
import importlib
import inspect
import json
import logging
import os
import pathlib
import re
import subprocess
import sys
import time

import gevent
import pytest

from mockd import hookspecs
from mockd.config import build_config
from mockd.errors import ConfigError, PluginError
from mockd.hookspecs import hookimpl
from mockd.matching import Matcher
from mockd.plugins import DEFAULT_PLUGINS, Registry, get_plugin_manager, list_plugins
from mockd.testing import recv_close

ROOT = pathlib.Path(__file__).resolve().parents[1]
PLUGINS_DIR = ROOT / "tests" / "plugins"
EXAMPLE = "example_plugin"
HOOK_NAMES = sorted(name for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
                    if hasattr(function, "mockd_spec"))


def config(*mocks, **plugin_settings):
    # A plugins: block for a plugin that is not loaded is an error: only with settings.
    return {"version": "1.0", "plugins": {EXAMPLE: plugin_settings} if plugin_settings else {},
            "mocks": [{"id": f"m{i}", "websocket": spec} for i, spec in enumerate(mocks)]}


def mock(path="/ws", **spec):
    return dict(spec, path=path)


def text(value):
    return {"type": "text", "value": value}


@pytest.fixture
def serve(make_mockd_server):
    def serve(*mocks, **plugin_settings):
        return make_mockd_server(config(*mocks, **plugin_settings), plugins_dir=PLUGINS_DIR)
    return serve


def ask(ws, payload):
    if isinstance(payload, bytes):
        ws.send_binary(payload)
    else:
        ws.send(payload)
    return ws.recv()


def events(ws):
    """What the example plugin's observers recorded on this server (the ``events`` response)."""
    return [tuple(event) for event in json.loads(ask(ws, "events"))]


EVENTS_RULE = {"match": {"type": "exact", "value": "events"}, "response": {"type": "events"}}


def mockd_cli(*args, **environ):
    env = {key: value for key, value in os.environ.items() if not key.startswith("MOCKD_")}
    env.update(environ)
    return subprocess.run([sys.executable, "-m", "mockd", *map(str, args)], capture_output=True, text=True,
                          timeout=60, cwd=ROOT, env=env)


# ---------------------------------------------------------------- one test per hook


def test_hook_mockd_register_matchers(serve):
    server = serve(mock(matchers=[{"match": {"type": "length", "value": 3}, "response": text("three")}],
                        defaultResponse=text("other")))
    ws = server.connect()
    assert [ask(ws, "abc"), ask(ws, "abcd"), ask(ws, b"\x00\x01\x02")] == ["three", "other", "three"]


def test_hook_mockd_register_template_functions(serve):
    server = serve(mock(defaultResponse=text("{{ example.reverse(message) }}|{{ EXAMPLE.REVERSE('ab') }}")))
    assert ask(server.connect(), "hello") == "olleh|ba"


def test_hook_mockd_register_step_types(serve):
    server = serve(mock(scenario={"steps": [{"type": "repeat", "text": "tick {{ sequence('example-tick') }}",
                                             "times": 3}]}))
    ws = server.connect()
    first = int(ws.recv().split()[1])
    assert [ws.recv(), ws.recv()] == [f"tick {first + 1}", f"tick {first + 2}"]


def test_hook_mockd_register_response_types(serve):
    server = serve(mock(matchers=[{"match": {"type": "prefix", "value": "r"},
                                   "response": {"type": "reverse", "prefix": "{{ upper('re') }}:"}}]))
    assert ask(server.connect(), "race") == "RE:ecar"


def test_hook_mockd_register_protocols(serve):
    """The example protocol owns the conversation: its greeting, answers, a stream from a
    greenlet of its own beside the loop, receive() timeouts, and closing; the journal labels
    what it took with its name."""
    server = serve(mock("/count", protocol="example-counter", counter={"start": 41, "idle": 0.2}))
    ws = server.connect("/count", subprotocols=["other", "counter.v1"])
    assert ws.subprotocol == "counter.v1"  # offered by the protocol: the mock lists none
    assert json.loads(ws.recv()) == {"hello": "counter.v1"}
    assert [ask(ws, "inc"), ask(ws, "inc")] == ["42", "43"]
    ws.send("tick 3")
    assert [ws.recv() for _ in range(3)] == ["tick 0", "tick 1", "tick 2"]
    assert ws.recv() == "still there?"  # receive(timeout=idle) came back empty
    assert ask(ws, "inc") == "44"
    ws.send("bye")
    assert recv_close(ws) == (4000, "bye")
    inbound = [entry for entry in server.journal if entry["direction"] == "inbound"]
    assert {entry["matched"] for entry in inbound} == {"example-counter"}
    assert [entry["body"] for entry in inbound][:2] == ["inc", "inc"]
    ender = server.connect("/count", subprotocols=["counter.v1"])
    ender.recv()
    ender.send("end")  # run() returns: the core closes with 1000
    assert recv_close(ender) == (1000, "")
    faulty = server.connect("/count", subprotocols=["counter.v1"])
    faulty.recv()
    faulty.send("raise in protocol")
    assert recv_close(faulty) == (1011, "plugin example_plugin failed")


def test_hook_mockd_register_fault_types(serve):
    """The example fault type applies through the same list as the built-ins: in a config
    (after the first message, journaled as an event), through the admin API on a live
    connection, located errors for its own keys, and a raising apply() ends only that
    connection with 1011 naming the plugin."""
    server = serve(mock("/burst", echoMode=True, faults=[
        {"type": "example-burst", "text": "flood", "times": 2, "code": 4002, "after": {"messages": 1}}]))
    ws = server.connect("/burst")
    assert ask(ws, "hi") == "hi"  # the first message is answered, then the fault applies
    assert [ws.recv(), ws.recv()] == ["flood 0", "flood 1"]
    assert recv_close(ws) == (4002, "burst of 2")
    assert any(entry["direction"] == "event" and entry["body"].startswith('fault {"type":"example-burst"')
               for entry in server.journal)
    other = serve(mock("/live", echoMode=True))
    live = other.connect("/live")
    connection = other.admin.get("/websocket/connections").json["connections"][0]["id"]
    answer = other.admin.post(f"/websocket/connections/{connection}/faults", {"type": "example-burst", "times": 1})
    assert answer.status == 200 and answer.json["connections"] == 1
    assert live.recv() == "burst 0" and recv_close(live) == (4001, "burst of 1")
    bad = other.admin.post("/mocks/m0/faults", {"type": "example-burst", "times": 0, "colour": "red"})
    assert bad.status == 400 and "colour" in bad.json["message"] and "times" in bad.json["message"]
    faulty = other.connect("/live")
    connection = next(c["id"] for c in other.admin.get("/websocket/connections").json["connections"])
    other.admin.post(f"/websocket/connections/{connection}/faults", {"type": "example-burst", "text": "raise in fault"})
    assert recv_close(faulty) == (1011, "plugin example_plugin failed")


def test_a_protocols_admin_routes_and_decoded_journal_labels(serve):
    """A protocol adds admin routes (admin_routes), behind the API's checks and in its OpenAPI
    document; they reach its live connections through server.protocol_contexts(); what it
    sends with decoded= is journaled with that beside the raw frame."""
    server = serve(mock("/count", protocol="example-counter", counter={"idle": 30}))
    first, second = (server.connect("/count", subprotocols=["counter.v1"]) for _ in range(2))
    for ws in (first, second):
        assert json.loads(ws.recv()) == {"hello": "counter.v1"}
    answer = server.admin.post("/example/counter/announce", {"text": "maintenance", "path": "/count"})
    assert (answer.status, answer.json) == (200, {"sent": 2})
    assert [json.loads(ws.recv()) for ws in (first, second)] == [{"announce": "maintenance"}] * 2
    assert server.admin.post("/example/counter/announce", {"text": 5}).json == {
        "error": "validation_error", "message": "text: a string is required"}
    assert server.admin.post("/example/counter/announce", {"text": "x", "path": "/none"}).status == 404
    assert server.admin.get("/openapi.json").json["paths"]["/example/counter/announce"]["post"]["summary"].startswith(
        "Send {\"announce\": text}")
    assert ask(first, "inc") == "1"
    outbound = [entry for entry in server.journal if entry["direction"] == "outbound" and entry["body"] == "1"]
    assert [entry["matched"] for entry in outbound] == ["example-counter: count 1"]


def test_a_protocol_and_rules_do_not_mix(serve):
    with pytest.raises(ConfigError) as error:
        build_config(config(mock(protocol="example-counter", matchers=[{"match": {"type": "exact", "value": "x"}}]),
                            mock("/b", protocol="example-counter", counter={"start": 1, "typo": 2}),
                            mock("/c", protocol="example-countr")),
                     Registry.from_plugin_manager(get_plugin_manager(load_entrypoints=False,
                                                                     plugins_dir=PLUGINS_DIR)))
    text = str(error.value)
    assert "mocks[0].websocket.matchers: protocol 'example-counter' answers every message itself" in text
    assert "mocks[1].websocket.counter.typo: unknown key 'typo'" in text
    assert "mocks[2].websocket.protocol: unknown protocol type 'example-countr'" in text
    assert "did you mean 'example-counter'?" in text


def test_hook_mockd_configure(serve):
    server = serve(mock(defaultResponse=text("{{ example.greeting() }}, {{ message }}")), greeting="hola")
    assert ask(server.connect(), "ann") == "hola, ann"
    with pytest.raises(ConfigError) as info:
        serve(mock(), greeting=42)
    assert str(info.value) == f"<test>: plugins.{EXAMPLE}.greeting: greeting must be a string"


@pytest.mark.slow
def test_hook_mockd_configure_config_error_makes_serve_exit_2(tmp_path):
    path = tmp_path / "mockd.yaml"
    path.write_text(f'version: "1.0"\nplugins:\n  {EXAMPLE}:\n    greeting: [1]\nmocks: []\n')
    for command in (["serve", "--port", "0", "--host", "127.0.0.1", "--no-admin"], ["check"]):
        done = mockd_cli(*command, "-c", path, "--plugins-dir", PLUGINS_DIR)
        assert done.returncode == 2, done.stderr
        assert f"mockd: error: {path}: plugins.{EXAMPLE}.greeting: greeting must be a string" in done.stderr


def test_hook_mockd_unconfigure(serve, tmp_path):
    journal = tmp_path / "events.log"
    server = serve(mock(echoMode=True), journal=str(journal))
    ws = server.connect()
    assert ask(ws, "hi") == "hi"
    # stop() closes the client with 1001, then unconfigures: the plugin closes its file
    stopping = gevent.spawn(server.server.stop)
    assert recv_close(ws) == (1001, "server shutdown")
    stopping.join(5)
    assert journal.read_text().splitlines() == ["opened /ws", "received hi", "closed 1001", "unconfigure"]


def test_hook_mockd_connection_opened(serve):
    server = serve(mock(matchers=[EVENTS_RULE]))
    first, second = server.connect(), server.connect()
    assert events(second) == [("opened", "/ws"), ("opened", "/ws"), ("received", "events")]
    first.close()


def test_hook_mockd_message_received(serve):
    server = serve(mock(matchers=[EVENTS_RULE], echoMode=True))
    ws = server.connect()
    assert [ask(ws, "one"), ask(ws, b"two")] == ["one", b"two"]
    # observers see every message before matching, the one asking included
    assert events(ws)[1:] == [("received", "one"), ("received", "two"), ("received", "events")]


def test_hook_mockd_connection_closed(serve):
    server = serve(mock(matchers=[EVENTS_RULE]))
    leaving = server.connect()
    leaving.close(status=4001)
    watcher = server.connect()
    deadline = time.monotonic() + 5
    while ("closed", 4001) not in events(watcher) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert ("closed", 4001) in events(watcher)


# ---------------------------------------------------------------- a raising plugin: 1011, the rest carries on


FAULTS = [
    ("mockd_message_received", "/ws", "raise in mockd_message_received"),
    ("a matcher's match()", "/ws", "raise in match"),
    ("a template function", "/ws", "raise in template function"),
    ("a response type's render()", "/ws", "raise in render"),
]


def faulty_server(serve):
    return serve(mock(matchers=[{"match": {"type": "length", "value": 99}},
                                {"match": {"type": "exact", "value": "raise in template function"},
                                 "response": text("{{ example.reverse(message) }}")},
                                {"match": {"type": "exact", "value": "raise in render"},
                                 "response": {"type": "reverse"}}],
                      echoMode=True),
                 mock("/raise-on-open", echoMode=True),
                 mock("/step", scenario={"steps": [{"type": "repeat", "text": "raise in step"}]}),
                 mock("/raise-on-close", echoMode=True))


def assert_blamed(caplog):
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR and r.name == "mockd.ws"]
    assert failures, caplog.text
    assert failures[-1].plugin == EXAMPLE and "PluginFault" in caplog.text, caplog.text


@pytest.mark.parametrize("place, path, payload", FAULTS, ids=[f[0] for f in FAULTS])
def test_a_raising_plugin_closes_only_that_connection_1011(serve, caplog, place, path, payload):
    server = faulty_server(serve)
    bystander, victim = server.connect(), server.connect(path)
    victim.send(payload)
    assert recv_close(victim) == (1011, f"plugin {EXAMPLE} failed")
    assert_blamed(caplog)
    assert ask(bystander, "still here") == "still here"
    assert ask(server.connect(), "new client") == "new client"


@pytest.mark.parametrize("path", ["/raise-on-open", "/step"])
def test_a_raising_open_hook_or_step_closes_1011(serve, caplog, path):
    server = faulty_server(serve)
    bystander = server.connect()
    assert recv_close(server.connect(path)) == (1011, f"plugin {EXAMPLE} failed")
    assert_blamed(caplog)
    assert ask(bystander, "fine") == "fine"


def test_a_raising_close_hook_is_logged_with_the_plugin_name(serve, caplog):
    server = faulty_server(serve)
    server.connect("/raise-on-close").close()
    deadline = time.monotonic() + 5
    while "mockd_connection_closed" not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.02)
    assert f"plugin '{EXAMPLE}' raised in mockd_connection_closed" in caplog.text
    assert ask(server.connect(), "alive") == "alive"


# ---------------------------------------------------------------- registry, checks, blocking


class Copycat:
    """Registers names the example plugin (and a built-in) already has."""

    def __init__(self, kind):
        self.kind = kind

    @hookimpl
    def mockd_register_matchers(self):
        class Length(Matcher):
            name = "length" if self.kind == "plugin" else "json"
        return [Length]


@pytest.mark.parametrize("kind, other", [("plugin", EXAMPLE), ("builtin", "mockd.matching")])
def test_duplicate_names_fail_at_startup_naming_both_plugins(kind, other):
    pm = get_plugin_manager(load_entrypoints=False, plugins_dir=PLUGINS_DIR)
    pm.register(Copycat(kind), name="copycat")
    with pytest.raises(PluginError) as info:
        Registry.from_plugin_manager(pm)
    assert repr(other) in str(info.value) and "'copycat'" in str(info.value)


def test_check_pending_catches_a_misspelled_hook(tmp_path):
    (tmp_path / "typo.py").write_text("from mockd import hookimpl\n\n\n@hookimpl\n"
                                      "def mockd_register_matcher():\n    return []\n")
    with pytest.raises(PluginError, match="mockd_register_matcher"):
        get_plugin_manager(load_entrypoints=False, plugins_dir=tmp_path)
    done = mockd_cli("plugins", "--plugins-dir", tmp_path)
    assert done.returncode == 2 and "mockd: error:" in done.stderr and "mockd_register_matcher" in done.stderr


def test_a_disabled_plugin_is_blocked(monkeypatch):
    def loaded(**kwargs):
        pm = get_plugin_manager(load_entrypoints=False, plugins_dir=PLUGINS_DIR, **kwargs)
        return [row["name"] for row in list_plugins(pm)], Registry.from_plugin_manager(pm)

    assert loaded()[0] == [EXAMPLE]
    names, registry = loaded(disabled=[EXAMPLE])
    assert names == [] and "length" not in registry.match_types
    monkeypatch.setenv("MOCKD_DISABLED_PLUGINS", f"other, {EXAMPLE}")
    assert loaded()[0] == []
    with pytest.raises(ConfigError, match="unknown matcher type 'length'"):
        build_config(config(mock(matchers=[{"match": {"type": "length"}}])), loaded()[1])


def test_builtins_register_through_the_same_hooks():
    pm = get_plugin_manager(load_entrypoints=False)
    registry = Registry.from_plugin_manager(pm)
    assert registry.owner("matcher", "json") == "mockd.matching"
    assert registry.owner("template function", "uuid") == "mockd.templatefuncs"
    assert registry.owner("response type", "text") == "mockd.responses"
    assert registry.owner("step type", "send") == "mockd.scenario"
    assert [row["name"] for row in list_plugins(pm, include_builtin=True)] == sorted(DEFAULT_PLUGINS)


# ---------------------------------------------------------------- entry points


@pytest.fixture
def fake_distribution(tmp_path, monkeypatch):
    """An installed distribution ``mockd-fake`` 1.2.3 with entry point ``fake`` in group
    ``mockd``, as pip would leave it: a ``*.dist-info`` folder beside the module."""
    site = tmp_path / "site"
    info = site / "mockd_fake-1.2.3.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mockd-fake\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text("[mockd]\nfake = mockd_fake_plugin\n")
    (site / "mockd_fake_plugin.py").write_text(
        "from mockd import hookimpl\n\n\n@hookimpl\ndef mockd_register_template_functions():\n"
        "    return {'fake.hello': lambda: 'hello from an entry point'}\n")
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    yield site
    sys.modules.pop("mockd_fake_plugin", None)


def test_entry_point_plugins_are_discovered(fake_distribution, mockd_server, monkeypatch):
    rows = {row["name"]: row for row in list_plugins(get_plugin_manager())}
    assert rows["fake"] == {"name": "fake", "distribution": "mockd-fake", "version": "1.2.3",
                            "hooks": ["mockd_register_template_functions"]}
    server = mockd_server(config(mock(defaultResponse=text("{{ fake.hello() }}"))))
    assert ask(server.connect(), "?") == "hello from an entry point"
    assert "fake" not in [row["name"] for row in list_plugins(get_plugin_manager(disabled=["fake"]))]
    assert "fake" not in [row["name"] for row in list_plugins(get_plugin_manager(load_entrypoints=False))]
    monkeypatch.setenv("MOCKD_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert "fake" not in [row["name"] for row in list_plugins(get_plugin_manager())]


# ---------------------------------------------------------------- the CLI and the admin API


@pytest.mark.slow
def test_mockd_plugins_lists_and_disable_plugin_hides():
    done = mockd_cli("plugins", "--plugins-dir", PLUGINS_DIR, "--no-plugin-autoload")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [{"name": EXAMPLE, "distribution": None, "version": None,
                                        "hooks": HOOK_NAMES}]
    done = mockd_cli("plugins", "--plugins-dir", PLUGINS_DIR, "--no-plugin-autoload", "--disable-plugin", EXAMPLE)
    assert done.returncode == 0 and json.loads(done.stdout) == []
    done = mockd_cli("plugins", "--plugins-dir", PLUGINS_DIR, "--no-plugin-autoload",
                     MOCKD_DISABLED_PLUGINS=EXAMPLE)
    assert json.loads(done.stdout) == []
    done = mockd_cli("plugins", "--all", "--no-plugin-autoload")
    assert [row["name"] for row in json.loads(done.stdout)] == sorted(DEFAULT_PLUGINS)


@pytest.mark.slow
def test_mockd_trace_plugins_traces_hook_calls(tmp_path):
    path = tmp_path / "mockd.yaml"
    path.write_text('version: "1.0"\nmocks: []\n')
    done = mockd_cli("check", "-c", path, "--plugins-dir", PLUGINS_DIR, MOCKD_TRACE_PLUGINS="1")
    assert done.returncode == 0, done.stderr
    assert re.search(r"mockd_configure \[hook\]\n\s+server: <mockd.server.MockServer", done.stderr)
    assert "mockd_configure" not in mockd_cli("check", "-c", path, "--plugins-dir", PLUGINS_DIR).stderr


def test_admin_get_plugins(make_mockd_server):
    server = make_mockd_server(config(mock(echoMode=True)), plugins_dir=PLUGINS_DIR)
    reply = server.admin.get("/plugins")
    assert reply.status == 200
    assert reply.json == {"plugins": [{"name": EXAMPLE, "distribution": None, "version": None,
                                       "hooks": HOOK_NAMES}]}
    names = [row["name"] for row in server.admin.get("/plugins", query={"all": "true"}).json["plugins"]]
    assert names == sorted(DEFAULT_PLUGINS + (EXAMPLE,))


# ---------------------------------------------------------------- meta-tests (datasette's pattern)


def test_example_plugin_implements_every_hook():
    pm = get_plugin_manager(load_entrypoints=False, plugins_dir=PLUGINS_DIR)
    assert sorted(h.name for h in pm.get_hookcallers(pm.get_plugin(EXAMPLE))) == HOOK_NAMES


def test_plugin_hooks_have_tests():
    assert "mockd_register_matchers" in HOOK_NAMES  # the hookspecs were found at all
    missing = [name for name in HOOK_NAMES if f"test_hook_{name}" not in globals()]
    assert not missing, f"hooks without a test_hook_<name> test: {missing}"
