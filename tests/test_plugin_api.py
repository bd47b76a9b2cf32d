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
