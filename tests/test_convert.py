"""``mockd convert``: recordings and Chrome HARs become mocks that pass ``mockd check`` and, served,
give a client that sends the recorded client frames the recorded server frames, in order."""
import base64
import json
import pathlib
import time

import pytest
import websocket
import yaml

from _cli import mockd
from mockd.configfile import parse_config_data
from mockd.errors import ConfigError
from mockd.proxy.convert import convert_recordings, dump_yaml, escape_template
from mockd.proxy.files import load_recordings, write_recordings
from mockd.proxy.recording import Frame, Recording
from mockd.regexcost import MAX_LITERAL_WEIGHT, literal_cost
from mockd.testing import check_config
from mockd.message import Message
from mockd.templating import compile_template

CHROME_HAR = pathlib.Path(__file__).resolve().parent / "data" / "chrome-chat.har"


def recording(path, *frames, recording_id="rec-1", subprotocol=None):
    made = Recording("mock", path, "wss://api.example.test" + path, subprotocol, recording_id=recording_id)
    made.frames = [Frame(*frame) for frame in frames]
    return made


def conversation(recordings):
    """The text and binary frames of the first session, up to its close."""
    frames = []
    for frame in recordings[0].frames:
        if frame.type == "close":
            break
        frames.append(frame)
    return frames


def respaced(text):
    """The same JSON document written otherwise (keys reversed, spaces added); other text as is."""
    def reorder(value):
        if isinstance(value, dict):
            return {key: reorder(value[key]) for key in reversed(list(value))}
        if isinstance(value, list):
            return [reorder(item) for item in value]
        return value
    try:
        document = json.loads(text)
    except ValueError:
        return text
    if not isinstance(document, (dict, list)):
        return text
    return json.dumps(reorder(document), indent=1, separators=(" ,", " : "))


def play(url, frames, subprotocol=None, rewrite=respaced):
    """Send the recorded client frames, and read each recorded server frame in its turn."""
    options = {"subprotocols": [subprotocol]} if subprotocol else {}
    ws = websocket.create_connection(url, timeout=5, **options)
    try:
        assert ws.subprotocol == subprotocol
        for frame in frames:
            if frame.sender == "client":
                if frame.type == "binary":
                    ws.send_binary(frame.data)
                else:
                    ws.send(rewrite(frame.data))
                continue
            opcode, data = ws.recv_data()
            if frame.type == "binary":
                assert (opcode, data) == (websocket.ABNF.OPCODE_BINARY, frame.data)
            else:
                assert (opcode, data.decode("utf-8")) == (websocket.ABNF.OPCODE_TEXT, frame.data)
    finally:
        ws.close(timeout=1)


def convert(tmp_path, source, *args, out="mocks.yaml"):
    result = mockd("convert", source, "-o", out, *args, cwd=tmp_path)
    assert result.returncode == 0, result
    checked = mockd("check", "-c", out, cwd=tmp_path)
    assert checked.returncode == 0, checked
    assert checked.stdout.startswith(f"{out}: OK"), checked
    return result, tmp_path / out


# ------------------------------------------------------------------ served

@pytest.mark.slow
def test_a_chrome_har_converted_as_a_scenario_replays_every_frame(tmp_path, make_mockd_server, monkeypatch):
    result, out = convert(tmp_path, CHROME_HAR)
    assert result.stdout == f"mocks.yaml: 1 mock from 1 recording of {CHROME_HAR} (--as scenario)\n"
    assert result.stderr == ""
    text = out.read_text(encoding="utf-8")
    assert '\nversion: "1.0"\n' in text
    assert "$$USD" in text and '{{\\"{{\\"}}nick}}' in text  # a $ and a {{ written so they stay text
    monkeypatch.setenv("USD", "dollars")  # a $USD left unescaped would become this
    server = make_mockd_server(out)
    frames = conversation(load_recordings(CHROME_HAR))
    assert "{{nick}}" in frames[0].data and "$USD" in frames[0].data
    play(server.url("/chat"), frames, "chat.v1")
    play(server.url("/chat"), frames, "chat.v1", rewrite=lambda text: text)  # each connection from step 0


@pytest.mark.slow
def test_a_chrome_har_converted_as_matchers_answers_with_the_first_reply(tmp_path, make_mockd_server):
    result, out = convert(tmp_path, CHROME_HAR, "--as", "matchers")
    assert result.stderr == ("mockd: warning: mocks.yaml: mocks[0]: 1 client message was followed by several server "
                             "frames: a matcher answers with one, the first; --as scenario replays them all.\n")
    server = make_mockd_server(out)
    frames = conversation(load_recordings(CHROME_HAR))
    assert frames[3].type == "binary" and frames[2].sender == "server"
    play(server.url("/chat"), frames[:3] + frames[4:], "chat.v1")  # the join's second reply is the one left out


@pytest.mark.slow
def test_our_recording_converted_either_way_replays_in_order(tmp_path, make_mockd_server):
    session = recording(
        "/feed",
        (5, "server", "text", "hello"),
        (10, "client", "text", '{"op":"subscribe","topics":["a","b"],"opts":{"depth":2,"snapshot":true}}'),
        (15, "server", "text", '{"op":"subscribed"}'),
        (20, "client", "text", '[1,{"b":2,"a":1},"x"]'),
        (21, "server", "binary", b"\x00\x01\xff"),
        (30, "client", "binary", b"\xc3\x28"),  # not UTF-8
        (32, "server", "text", "got it"),
        (40, "client", "binary", b"utf-8 bytes \xc3\xa9"),
        (41, "server", "text", "also"),
        (50, "client", "text", "42"),
        (52, "server", "text", "the answer"),
        (60, "client", "text", "bye"),
        (70, "server", "close", "done", 1000),
        subprotocol="feed.v3")
    write_recordings(tmp_path / "session.json", [session])
    frames = conversation([session])
    for mode in ("scenario", "matchers"):
        _result, out = convert(tmp_path, "session.json", "--as", mode, out=f"{mode}.yaml")
        server = make_mockd_server(out)
        play(server.url("/feed"), frames, "feed.v3")
    # Matchers answer in any order: the last exchanges first, then the first.
    play(server.url("/feed"), frames[0:1] + frames[9:11] + frames[1:3], "feed.v3")


@pytest.mark.slow
def test_json_matching_ignores_spacing_and_key_order_but_not_values(tmp_path, make_mockd_server):
    session = recording("/j", (0, "client", "text", '{"a": 1, "b": [1, 2]}'), (1, "server", "text", "yes"))
    write_recordings(tmp_path / "j.json", [session])
    _result, out = convert(tmp_path, "j.json", "--as", "matchers")
    server = make_mockd_server(out)
    ws = server.connect("/j")
    for sent, answered in (('{"b":[1,2],"a":1}', True), ('{"a": 1, "b": [2, 1]}', False), ('{"a": "1", "b": [1, 2]}', False),
                           ('{ "a" : 1 , "b" : [ 1 , 2 ] }', True)):
        ws.send(sent)
        ws.settimeout(0.3 if not answered else 5)
        if answered:
            assert ws.recv() == "yes"
        else:
            with pytest.raises(websocket.WebSocketTimeoutException):
                ws.recv()


@pytest.mark.slow
def test_recorded_gaps_are_kept_or_scaled(tmp_path, make_mockd_server):
    session = recording("/slow", (0, "client", "text", "go"), (400, "server", "text", "late"))
    write_recordings(tmp_path / "slow.json", [session])
    for args, least, most in (((), 0.35, 3.0), (("--timing-scale", "0.25"), 0.08, 0.35), (("--timing-scale", "0"), 0, 0.25)):
        _result, out = convert(tmp_path, "slow.json", *args)
        server = make_mockd_server(out)
        ws = server.connect("/slow")
        started = time.monotonic()
        ws.send("go")
        assert ws.recv() == "late"
        assert least <= time.monotonic() - started <= most, args
    assert "duration" not in out.read_text(encoding="utf-8")


# ------------------------------------------------------------------ the YAML

@pytest.mark.parametrize("text", ["plain", "{{", "{{{", "{{{{{", "a{{b}}c{{", "}}{{}}", '{{"x"}}', "{{'", "{{ uuid }}",
                                  '{"motd": "say {{nick}}"}', "{", "{{\n{{", ""])
def test_escaped_templates_render_to_the_recorded_text(text):
    assert compile_template(escape_template(text), {}).render(None) == text


def test_the_yaml_reads_back_as_written_through_mockds_loader(monkeypatch):
    monkeypatch.setenv("HOME", "/home/someone")
    tricky = ["0o17", "1_000", "yes", "no", "on", "null", "~", "true", "- item", "key: value", "# not a comment",
              "line\nbreak\r\n", "tab\there", "\x00\x01\x7f", "\u2028\u2029\x85\ufeff", "$HOME", "${HOME:-x}", "$$",
              "trailing ", " leading", "'single'", '"double"', "é✓😀", "1.0", "0x1F", ".inf", "@", "*alias", "&anchor",
              "!tag", "%percent", "`back`", "|", ">", "[a]", "{b: c}", "a" * 300]
    document = {"version": "1.0", "values": tricky, "plain": "/ws/chat", "flag": True, "size": 70000}
    text = dump_yaml(document, "header with $HOME\nsecond line")
    assert text.startswith("# header with $HOME\n# second line\nversion: \"1.0\"\n")
    assert parse_config_data(text, "x.yaml") == document


def test_what_convert_writes_per_mock():
    first = recording("/chat", (0, "server", "text", "hi"), (10, "client", "text", "x" * 70_000),
                      (15, "server", "close", "", 4000), recording_id="one", subprotocol="p1")
    second = recording("/chat", (0, "server", "text", "other"), recording_id="two")
    third = recording("/", (1, "client", "binary", b"\xff" * 3000))
    config, notes = convert_recordings([first, second, third])
    chat, root = config["mocks"]
    assert (chat["id"], root["id"]) == ("chat", "root")
    assert chat["websocket"]["subprotocols"] == ["p1"]
    assert chat["websocket"]["maxMessageSize"] == 70_000  # else the replaying client would get 1009
    assert chat["websocket"]["scenario"]["steps"] == [
        {"type": "send", "message": {"type": "text", "value": "hi"}},
        {"type": "wait", "match": {"type": "exact", "value": "x" * 70_000, "messageType": "text"}}]
    assert [index for index, _note in notes] == [0, 0, 1]
    assert "1 other session of this path (two) is left out" in notes[0][1]
    assert "The server closed session one with 4000 after 15ms" in notes[1][1]
    assert "matched on its first 2400 bytes" in notes[2][1]
    assert all(note in chat["description"] for _index, note in notes[:2])
    [wait] = root["websocket"]["scenario"]["steps"]
    assert wait["match"]["type"] == "regex" and wait["match"]["messageType"] == "binary"
    assert wait["match"]["value"].startswith("\\A\\xff\\xff") and not wait["match"]["value"].endswith("\\Z")


@pytest.mark.parametrize("data", [b"\xff" * 3000, b"\x00\xff" * 1200, bytes(range(256)) * 2 + b"\xc3"])
def test_a_binary_message_is_matched_by_a_regex_that_loads(data):
    """Its bytes are spelt in literals short enough for mockd to load (the regex package
    prepares a long one in cubic time: 2,400 bytes of 0xff held the server 3.9 s), and match
    the recorded message exactly, on its first 2400 bytes."""
    config, _notes = convert_recordings([recording("/", (1, "client", "binary", data))])
    [wait] = config["mocks"][0]["websocket"]["scenario"]["steps"]
    matcher = check_config(config).mocks[0].endpoint.scenario.steps[0].criteria  # as mockd loads it
    assert literal_cost(wait["match"]["value"]).weight <= MAX_LITERAL_WEIGHT
    assert matcher.test(Message(data)) is not None
    for changed in sorted({0, 62, 63, 64, 1000, 2399} & set(range(len(data)))):
        other = bytearray(data)
        other[changed] ^= 1
        assert matcher.test(Message(bytes(other))) is None, changed
    assert (matcher.test(Message(data + b"\x00")) is None) is (len(data) <= 2400)  # \Z when it is whole


def test_matchers_merge_sessions_and_say_what_they_cannot_answer():
    first = recording("/m", (0, "server", "text", "welcome"), (5, "client", "text", "next"),
                      (6, "server", "text", "1"), (7, "client", "text", "quiet"), (9, "client", "text", "next"),
                      (10, "server", "text", "2"), recording_id="a")
    second = recording("/m", (0, "server", "text", "welcome again"), (3, "client", "text", "late"),
                       (4, "server", "text", "ok"), (5, "server", "text", "ok too"), recording_id="b")
    config, notes = convert_recordings([first, second], "matchers", timing_scale=2)
    websocket_block = config["mocks"][0]["websocket"]
    assert websocket_block["scenario"] == {"name": "greeting", "steps": [
        {"type": "send", "message": {"type": "text", "value": "welcome"}}]}  # the first session's only
    assert websocket_block["matchers"] == [
        {"match": {"type": "exact", "value": "next", "messageType": "text"},
         "response": {"type": "text", "value": "1", "delay": "2ms"}},
        {"match": {"type": "exact", "value": "quiet", "messageType": "text"}, "noResponse": True},
        {"match": {"type": "exact", "value": "late", "messageType": "text"},
         "response": {"type": "text", "value": "ok", "delay": "2ms"}}]
    assert [note for _index, note in notes] == [
        "1 client message was followed by several server frames: a matcher answers with one, the first; "
        "--as scenario replays them all.",
        "1 repeated client message got a different reply than the first time: a matcher answers the same each "
        "time, with the first reply."]


def test_a_path_whose_sessions_said_nothing_gets_a_silent_mock():
    config, _notes = convert_recordings([recording("/a", (0, "server", "text", "x")), recording("/b")])
    assert config["mocks"][1]["websocket"] == {"path": "/b", "echoMode": False}


def test_durations_are_go_style():
    steps = convert_recordings([recording("/d", (0.4, "server", "text", "a"), (250, "server", "text", "b"),
                                          (1750, "server", "text", "c"), (61750, "server", "text", "d"),
                                          (100000, "client", "text", "e"))])[0]["mocks"][0]["websocket"]["scenario"]["steps"]
    assert [step.get("duration") or step.get("timeout") for step in steps if "message" not in step] == [
        "250ms", "1.5s", "60s", "77s"]  # 0.4 ms: no pause; a 38 s wait gets twice that as its timeout


# ------------------------------------------------------------------ the command

def test_without_an_output_the_yaml_goes_to_stdout(tmp_path):
    result = mockd("convert", CHROME_HAR, "--timing-scale", "0", cwd=tmp_path)
    assert result.returncode == 0, result
    document = yaml.safe_load(result.stdout)
    steps = document["mocks"][0]["websocket"]["scenario"]["steps"]
    assert [step["type"] for step in steps] == ["send", "wait", "send", "send", "wait", "send", "wait", "send"]
    assert steps[3]["message"] == {"type": "binary", "value": base64.b64encode(b"\x89PNG\r\n\x1a\n\x00\xff").decode()}
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args, says", [
    (("--timing-scale", "-1"), "mockd: error: --timing-scale must be 0 or more (0.5: twice as fast, 0: no gaps), not -1\n"),
    (("--timing-scale", "nan"), "mockd: error: --timing-scale must be 0 or more"),
    (("missing.json",), "mockd: error: missing.json: no such file; give the path of a recording (.json) or a HAR"),
    (("empty.json",), "mockd: error: empty.json: nothing to convert: no recording in it holds a text or binary message"),
])
def test_bad_arguments_exit_2(tmp_path, args, says):
    write_recordings(tmp_path / "empty.json", [recording("/x", (0, "client", "close", "", 1000))])
    if args[0].startswith("--"):
        args = ("empty.json",) + args
    result = mockd("convert", *args, "-o", "out.yaml", cwd=tmp_path)
    assert result.returncode == 2, result
    assert result.stderr.startswith(says), result.stderr
    assert not (tmp_path / "out.yaml").exists()


def test_an_output_that_cannot_be_written_exits_1(tmp_path):
    result = mockd("convert", CHROME_HAR, "-o", "no/such/mocks.yaml", cwd=tmp_path)
    assert result.returncode == 1, result
    assert result.stderr.startswith("mockd: error: no/such/mocks.yaml: cannot write it: No such file or directory")


def test_help_shows_examples():
    result = mockd("convert", "--help")
    assert result.returncode == 0
    assert "mockd convert chat.har -o mocks.yaml --as matchers" in result.stdout
    assert "--timing-scale X" in result.stdout


def test_errors_name_the_file_when_a_recording_is_bad(tmp_path):
    with pytest.raises(ConfigError) as info:
        convert_recordings([recording("/x")], origin="x.json")
    assert str(info.value) == "x.json: nothing to convert: no recording in it holds a text or binary message"
