"""The plugin API's contexts through a real server: what ``StepContext.send``/``receive``
take, and the one ``MatchContext`` a match type sees on a connection and in a journal search."""
import json

import pytest

from mockd.plugin import MatchContext, MatchType, StepType, hookimpl
from mockd.testing import recv_close

SEEN = []  # (path, has connection, has server) for each MatchContext the spy matcher got


class SpyMatcher(MatchType):
    """match: {type: spy, value: X}: the payload is X; records the context it was given."""
    name = "spy"
    keys = ("value",)

    def __init__(self, value):
        self.value = value

    @classmethod
    def from_config(cls, spec, where, build):
        return cls(spec.get("value", ""))

    def match(self, message, context):
        assert isinstance(context, MatchContext) and context.message is message
        SEEN.append((context.path, context.connection is not None, context.server is not None))
        return {"seen": "yes"} if message.data == self.value else None


class SendEveryKind(StepType):
    """Sends one frame of each kind ``ctx.send`` takes, then what a receive of each kind got."""
    name = "send-every-kind"
    keys = ("reply",)

    def __init__(self, reply):
        self.reply = reply

    @classmethod
    def from_config(cls, spec, where, build):
        return cls(build.response({"type": "text", "value": spec.get("reply", "")}, where))

    def run(self, ctx):
        ctx.send("text")
        ctx.send(b"\x00bin")
        ctx.send({"a": [1, "é"]})
        ctx.send([1, 2])
        ctx.send(self.reply)  # a Response: templated for the last message taken (none yet)
        by_spec = ctx.receive({"type": "json", "path": "op", "value": "join"}, timeout=5)
        by_type = ctx.receive(SpyMatcher("second"), timeout=5)
        anything = ctx.receive(timeout=5)
        ctx.send(f"{by_spec.json()['op']} {by_type.text} {anything.text}")
        ctx.send(self.reply)  # now it sees the last message taken
        ctx.send(42)  # not a frame: TypeError, the connection closes with 1011 naming the plugin
        return True


class ApiPlugin:
    @hookimpl
    def mockd_register_matchers(self):
        return [SpyMatcher]

    @hookimpl
    def mockd_register_step_types(self):
        return [SendEveryKind]


def frames(ws, count):
    out = []
    for _ in range(count):
        opcode, data = ws.recv_data()
        out.append(data if opcode == 2 else data.decode())
    return out


def test_step_context_send_and_receive_take_every_documented_kind(make_mockd_server):
    server = make_mockd_server({"version": "1.0", "mocks": [{"websocket": {"path": "/s", "echoMode": True, "scenario": {"steps": [
        {"type": "send-every-kind", "reply": "last={{message}}"}]}}}]}, plugins=[ApiPlugin()])
    ws = server.connect("/s")
    assert frames(ws, 5) == ["text", b"\x00bin", json.dumps({"a": [1, "é"]}, separators=(",", ":"),
                                                               ensure_ascii=False), "[1,2]", "last="]
    ws.send("ignored by the json wait")  # not {"op": "join"}: left to the rules (echo)
    assert ws.recv() == "ignored by the json wait"
    ws.send('{"op":"join"}')
    ws.send("second")
    ws.send("third")
    assert frames(ws, 2) == ["join second third", "last=third"]
    code, reason = recv_close(ws)
    assert code == 1011 and reason.startswith("plugin ") and reason.endswith(" failed"), reason


def test_a_match_type_gets_the_same_context_on_a_connection_and_in_a_journal_search(make_mockd_server):
    SEEN.clear()
    server = make_mockd_server({"version": "1.0", "mocks": [{"websocket": {"path": "/m", "matchers": [
        {"match": {"type": "spy", "value": "hit"}, "response": {"type": "text", "value": "{{match.seen}}"}}]}}]},
        plugins=[ApiPlugin()])
    ws = server.connect("/m")
    ws.send("hit")
    assert ws.recv() == "yes"
    assert SEEN == [("/m", True, True)]
    server.wait_for({"type": "spy", "value": "hit"})
    assert SEEN[-1] == ("/m", False, True)  # the journal entry's path; no live connection
    answer = server.admin.post("/websocket/messages/wait", {"match": {"type": "spy", "value": "hit"},
                                                             "timeout": "1s"})
    assert answer.status == 200, answer.body
    assert SEEN[-1] == ("/m", False, True)


def test_a_bad_payload_names_what_ctx_send_takes():
    from mockd.message import as_frame

    with pytest.raises(TypeError, match=r"ctx.send\(\) takes str .* not int"):
        as_frame(42, "ctx.send()")


# ---------------------------------------------------------------- an author's mistakes, named


def plugin_with(**hooks):
    """A plugin object whose hooks return what ``hooks`` says (hook name without ``mockd_``)."""
    namespace = {}
    for hook, value in hooks.items():
        def implementation(_value=value):
            return _value
        implementation.__name__ = f"mockd_{hook}"
        namespace[f"mockd_{hook}"] = staticmethod(hookimpl(implementation))
    return type("AuthorPlugin", (), namespace)()


class NoneFromConfig(StepType):
    name = "none-step"
    keys = ()

    @classmethod
    def from_config(cls, spec, where, build):
        return None


class FalseMatcher(MatchType):
    name = "false"
    keys = ()

    @classmethod
    def from_config(cls, spec, where, build):
        return cls()

    def match(self, message, context):
        return False


@pytest.mark.parametrize("hooks, message", [
    ({"register_step_types": SendEveryKind}, "must return a list of StepType subclasses for its step types, "
                                             "got <class 'test_plugin_api.SendEveryKind'>: write 'return [SendEveryKind]'"),
    ({"register_step_types": ["ticker"]}, "registered 'ticker' as a step type: a StepType subclass is expected"),
    ({"register_step_types": [SpyMatcher]}, "registered SpyMatcher as a step type, but it has no run() and "
                                            "from_config(): subclass StepType from mockd.plugin"),
])
def test_registrations_of_the_wrong_shape_are_refused_naming_the_plugin(hooks, message):
    from mockd.errors import PluginError
    from mockd.testing import check_config

    with pytest.raises(PluginError) as error:
        check_config({"version": "1.0", "mocks": []}, plugins=[plugin_with(**hooks)])
    assert message in str(error.value) and "plugin " in str(error.value)


def test_an_unknown_hook_gets_a_did_you_mean(tmp_path):
    from mockd.errors import PluginError
    from mockd.plugins import get_plugin_manager

    (tmp_path / "typo.py").write_text("from mockd.plugin import hookimpl\n\n@hookimpl\n"
                                      "def mockd_register_matcher():\n    return []\n")
    with pytest.raises(PluginError, match=r"plugin 'typo' implements 'mockd_register_matcher', which is no mockd "
                                          r"hook; did you mean 'mockd_register_matchers'\?"):
        get_plugin_manager(load_entrypoints=False, plugins_dir=tmp_path)
    with pytest.raises(PluginError, match="--plugins-dir .*nowhere: no such directory"):
        get_plugin_manager(load_entrypoints=False, plugins_dir=tmp_path / "nowhere")


def test_a_from_config_that_returns_nothing_is_a_load_error():
    from mockd.errors import ConfigError
    from mockd.testing import check_config

    with pytest.raises(ConfigError) as error:
        check_config({"version": "1.0", "mocks": [{"websocket": {"path": "/x", "scenario": {"steps": [
            {"type": "none-step"}]}}}]}, plugins=[plugin_with(register_step_types=[NoneFromConfig])])
    assert "mocks[0].websocket.scenario.steps[0]: plugin " in str(error.value)
    assert "NoneFromConfig.from_config() returned None, which has no run()" in str(error.value)


def test_a_protocol_nobody_provides_says_so():
    from mockd.errors import ConfigError
    from mockd.testing import check_config

    with pytest.raises(ConfigError, match="unknown protocol type 'signalr' .*graphql-transport-ws"):
        check_config({"version": "1.0", "mocks": [{"websocket": {"path": "/x", "protocol": "signalr"}}]})


def test_a_match_that_returns_false_is_no_hit_but_a_plugin_error(make_mockd_server):
    server = make_mockd_server({"version": "1.0", "mocks": [{"websocket": {"path": "/f", "matchers": [
        {"match": {"type": "false"}, "response": {"type": "text", "value": "hit"}}]}}]},
        plugins=[plugin_with(register_matchers=[FalseMatcher])])
    ws = server.connect("/f")
    ws.send("anything")
    code, reason = recv_close(ws)
    assert code == 1011 and reason.endswith(" failed")
    assert not [entry for entry in server.journal if entry["direction"] == "outbound"]


def test_registration_hooks_go_through_pluggy_so_hookwrappers_see_them():
    """README: registration hooks honour pluggy's hookwrappers (and tryfirst/trylast, tracing),
    because they are called through ``pm.hook``, not one implementation at a time."""
    from mockd.plugins import Registry, get_plugin_manager

    seen = []

    class Wrapper:
        @hookimpl(hookwrapper=True)
        def mockd_register_step_types(self):
            outcome = yield
            seen.append([cls.name for result in outcome.get_result() for cls in result])

    registry = Registry.from_plugin_manager(get_plugin_manager(load_entrypoints=False,
                                                               plugins=[ApiPlugin(), Wrapper()]))
    assert seen and "send-every-kind" in seen[0] and "send" in seen[0]
    assert registry.owner("step type", "send-every-kind") != registry.owner("step type", "send")


class WhereAmI(StepType):
    name = "where-am-i"
    keys = ()

    @classmethod
    def from_config(cls, spec, where, build):
        return cls()

    def run(self, ctx):
        ctx.send(f"{ctx.path} {ctx.closed} {ctx.server is ctx.connection.server}")
        ctx.close(4001, "done")
        return True


def test_step_context_knows_its_path_server_and_whether_it_is_closed(make_mockd_server):
    server = make_mockd_server({"version": "1.0", "mocks": [{"websocket": {"path": "/here", "scenario": {
        "steps": [{"type": "where-am-i"}]}}}]}, plugins=[plugin_with(register_step_types=[WhereAmI])])
    ws = server.connect("/here")
    assert ws.recv() == "/here False True"
    assert recv_close(ws) == (4001, "done")
