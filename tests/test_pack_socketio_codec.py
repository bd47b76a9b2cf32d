"""The Socket.IO pack's pure parts: the Engine.IO / Socket.IO codec, the template context, and the
``socketio:`` block's validation (every error located, as ``mockd check`` reports it)."""
import pytest

from mockd import ConfigError
from mockd.protocols.socketio import codec
from mockd.protocols.socketio.templates import compile_text, compile_tree, template_names, variables
from mockd.templating import RenderContext
from mockd.testing import check_config

# ---------------------------------------------------------------- Engine.IO


def test_open_frame_carries_the_session_settings():
    frame = codec.open_frame("SID", ("websocket",), 25, 0.5, 1000)
    assert frame == '0{"sid":"SID","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":500,"maxPayload":1000}'


@pytest.mark.parametrize("frame, expected", [
    ("2", (codec.PING, "")), ("2probe", (codec.PING, "probe")), ("3", (codec.PONG, "")), ("5", (codec.UPGRADE, "")),
    ('42["a"]', (codec.MESSAGE, '2["a"]')), ('4{"x":1}', (codec.MESSAGE, '{"x":1}')),
    (b"\x00\xff", (codec.MESSAGE, b"\x00\xff")), ("bAP8=", (codec.MESSAGE, b"\x00\xff")),
])
def test_decode_frame(frame, expected):
    assert codec.decode_frame(frame) == expected


@pytest.mark.parametrize("frame, why", [("", "empty"), ("9", "unknown Engine.IO packet type '9'"),
                                        ("x1", "unknown Engine.IO packet type 'x'")])
def test_decode_frame_refuses(frame, why):
    with pytest.raises(codec.ProtocolError, match=why):
        codec.decode_frame(frame)


def test_payloads_are_separated_by_record_separators_and_carry_binary_as_base64():
    body = codec.encode_payload(["2", b"\x00\x01", '40{"sid":"x"}'])
    assert body == '2\x1ebAAE=\x1e40{"sid":"x"}'
    assert codec.decode_payload(body) == ["2", b"\x00\x01", '40{"sid":"x"}']
    with pytest.raises(codec.ProtocolError, match="empty"):
        codec.decode_payload("")
    with pytest.raises(codec.ProtocolError, match="more than"):
        codec.decode_payload("\x1e".join(["3"] * (codec.MAX_PAYLOAD_PACKETS + 1)))


def test_http_errors_are_engine_io_json():
    error = codec.HttpError(*codec.UNKNOWN_SID)
    assert error.status == "400 Bad Request" and error.body() == '{"code": 1, "message": "Session ID unknown"}'


# ---------------------------------------------------------------- Socket.IO


def test_encode_event_ack_and_namespaces():
    assert codec.encode_packet(codec.EVENT, "/", ["chat message", "hi"]) == ['42["chat message","hi"]']
    assert codec.encode_packet(codec.ACK, "/admin", [{"ok": True}], 7) == ['43/admin,7[{"ok":true}]']
    assert codec.encode_packet(codec.CONNECT_ERROR, "/x", {"message": "Invalid namespace"}) == [
        '44/x,{"message":"Invalid namespace"}']


def test_binary_data_becomes_placeholders_and_attachments():
    frames = codec.encode_packet(codec.EVENT, "/", ["up", b"\x01", {"raw": b"\x02"}])
    assert frames == ['452-["up",{"_placeholder":true,"num":0},{"raw":{"_placeholder":true,"num":1}}]',
                      b"\x01", b"\x02"]


def test_decoder_reassembles_binary_packets():
    decoder = codec.PacketDecoder()
    assert decoder.feed('52-3["up",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]') is None
    assert decoder.waiting == 2
    assert decoder.feed(b"a") is None
    packet = decoder.feed(b"b")
    assert (packet.packet_type, packet.id, packet.data) == (codec.BINARY_EVENT, 3, ["up", b"a", b"b"])
    assert codec.describe_packet(packet) == "binary event up (ack 3) (2 attachments)"
    assert decoder.waiting == 0


@pytest.mark.parametrize("data, why", [
    ("", "empty"),
    ("9", "unknown Socket.IO packet type 9"),
    ('4{"message":"x"}', "unknown Socket.IO packet type 4"),
    ('2["chat"', "invalid JSON"),
    ("2{}", "array starting with the event name"),
    ("2[1]", "array starting with the event name"),
    ("3[]", "an ACK packet has an id"),
    ('0"token"', "auth"),
    ("x", "unknown packet type"),
    ('599-["a"]', "attachments announced"),
    ("2" + "[" * 300 + "]" * 300, "nested too deeply"),
    (b"\x00", "no binary packet"),
])
def test_decoder_refuses(data, why):
    with pytest.raises(codec.ProtocolError, match=why):
        codec.PacketDecoder().feed(data)


def test_decoder_refuses_attachments_that_do_not_match():
    decoder = codec.PacketDecoder()
    decoder.feed('51-["up",{"_placeholder":true,"num":4}]')
    with pytest.raises(codec.ProtocolError, match="placeholders"):
        decoder.feed(b"x")
    decoder = codec.PacketDecoder()
    decoder.feed('51-["up",{"_placeholder":true,"num":0}]')
    with pytest.raises(codec.ProtocolError, match="binary attachment was expected"):
        decoder.feed('2["next"]')


def test_labels():
    assert codec.label(codec.CONNECT, "/") == "connect /"
    assert codec.label(codec.EVENT, "/admin", ["x"], 2) == "event x on /admin (ack 2)"
    assert codec.label(codec.ACK, "/", [], 2) == "ack 2"
    assert codec.label(codec.EVENT, "/", ["x", b""], None, 1) == "binary event x (1 attachment)"
    assert codec.label(codec.CONNECT_ERROR, "/x", {"message": "Invalid namespace"}) == (
        "connect_error /x: Invalid namespace")
    assert codec.describe_frame(codec.PING, "probe") == "ping probe"
    assert codec.describe_frame(codec.NOOP, "") == "noop"


# ---------------------------------------------------------------- templates


def test_template_context(registry):
    names = template_names(registry.template_functions)
    ctx = RenderContext(variables=variables(["hi there", {"user": {"name": "ann"}}, b"\x00"], "chat", "/", "S1"))
    assert compile_text("echo: {{args.0}}", names, "w").render(ctx) == "echo: hi there"
    assert compile_text("{{args.1.user.name}} {{event}} {{namespace}} {{sid}}", names, "w").render(ctx) == (
        "ann chat / S1")
    assert compile_text("{{upper(args.0)}}|{{vars.args.0}}|{{args.7}}", names, "w").render(ctx) == "HI THERE|hi there|"
    tree = compile_tree([{"text": "{{args.0}}", "n": 1}, "{{args.1}}", "{{args.2}}", "size {{args.1.user}}"],
                        names, "w")
    assert tree.render(ctx) == [{"text": "hi there", "n": 1}, {"user": {"name": "ann"}}, b"\x00",
                                'size {"name":"ann"}']
    static = compile_tree([{"ok": True}], names, "w")
    assert static.render(ctx) == [{"ok": True}]


def test_unknown_template_names_are_refused(registry):
    with pytest.raises(ConfigError, match="unknown template name 'argz.0'"):
        compile_text("{{argz.0}}", template_names(registry.template_functions), "w")


# ---------------------------------------------------------------- config


def _config(socketio):
    return {"version": "1.0", "mocks": [{"id": "s", "type": "websocket", "websocket": {
        "path": "/socket.io/", "protocol": "socket.io", "socketio": socketio}}]}


def test_a_bare_block_serves_the_default_namespace():
    config = check_config(_config(None))
    settings = config.mocks[0].endpoint.protocol.settings
    assert list(settings.namespaces) == ["/"]
    assert (settings.ping_interval, settings.ping_timeout, settings.max_payload) == (25.0, 20.0, None)


def test_every_problem_is_reported_located():
    where = "mocks[0].websocket.socketio"
    with pytest.raises(ConfigError) as caught:
        check_config(_config({
            "pingInterval": "soon", "pingTimeout": 0, "maxPayload": 0, "extra": 1,
            "namespaces": {
                "chat": {},
                "/": {"onConnect": [{"args": [1]}, {"emit": "hi", "to": "nobody"}],
                      "events": [{"emit": "x"}, {"on": "a", "to": "room:", "emit": "b", "args": "x"},
                                 {"on": "connect"}, {"on": "b", "match": {"type": "nope"}, "ack": {"a": 1}},
                                 {"on": "c", "emit": "{{bogus}}", "bad": 1}, {"on": "d", "args": [1]}]},
                "/x": {"events": {"on": "a"}, "other": 1},
            }}))
    found = {(error.where, error.message.split(" (")[0].split(";")[0]) for error in caught.value.errors}
    wheres = {where_ for where_, _ in found}
    expected = {f"{where}.extra", f"{where}.pingInterval", f"{where}.pingTimeout", f"{where}.maxPayload",
                f"{where}.namespaces.chat",
                f"{where}.namespaces./.onConnect[0]", f"{where}.namespaces./.onConnect[1].to",
                f"{where}.namespaces./.events[0].on", f"{where}.namespaces./.events[1].to",
                f"{where}.namespaces./.events[1].args", f"{where}.namespaces./.events[2].on",
                f"{where}.namespaces./.events[3].match.type", f"{where}.namespaces./.events[3].ack",
                f"{where}.namespaces./.events[4].bad", f"{where}.namespaces./.events[4].emit",
                f"{where}.namespaces./.events[5].args",
                f"{where}.namespaces./x.events", f"{where}.namespaces./x.other"}
    assert expected <= wheres, sorted(wheres - expected) + ["missing:"] + sorted(expected - wheres)


def test_reserved_event_names_cannot_be_emitted():
    with pytest.raises(ConfigError, match="reserved") as caught:
        check_config(_config({"namespaces": {"/": {"onConnect": [{"emit": "disconnect"}]}}}))
    assert caught.value.where == "mocks[0].websocket.socketio.namespaces./.onConnect[0].emit"


def test_socketio_settings_sit_in_their_own_block():
    config = _config(None)
    config["mocks"][0]["websocket"]["matchers"] = [{"match": {"type": "exact", "value": "x"}}]
    with pytest.raises(ConfigError, match="answers every message itself"):
        check_config(config)


def test_an_entry_that_does_nothing_is_a_warning():
    config = check_config(_config({"namespaces": {"/": {"events": [{"on": "ping"}, {"on": "x", "ack": []}]}}}))
    assert [(warning.where, warning.message) for warning in config.warnings] == [
        ("mocks[0].websocket.socketio.namespaces./.events[0]",
         "this entry takes the 'ping' events it matches and does nothing (no emit, ack, join or leave)")]
