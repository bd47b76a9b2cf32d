"""Recording files (mockd.proxy.files, mockd.proxy.har): ours and HAR, read and written, and every
bad input reported with the file and the place in it."""
import base64
import datetime
import json
import os
import pathlib

import pytest

from _cli import mockd
from mockd.errors import ConfigError, MockdError
from mockd.proxy import files
from mockd.proxy.files import load_recordings, write_recordings
from mockd.testing import check_config
from mockd.proxy.har import recordings_from_har, recordings_to_har
from mockd.proxy.recording import Frame, Recording

DATA = pathlib.Path(__file__).resolve().parent / "data"
CHROME_HAR = DATA / "chrome-chat.har"
STARTED = datetime.datetime(2024, 6, 10, 10, 0, 0, 250000, tzinfo=datetime.timezone.utc)


def sample(path="/chat", upstream="wss://api.example.test/chat", recording_id="rec-1"):
    recording = Recording("chat-mock", path, upstream, "chat.v1", [["Host", "api.example.test"], ["Cookie", "[redacted]"]],
                          [["Sec-WebSocket-Protocol", "chat.v1"]], recording_id=recording_id, started_at=STARTED)
    recording.frames = [Frame(0, "server", "text", "hello {{name}} $HOME"),
                        Frame(12.5, "client", "text", '{"op": "join"}'),
                        Frame(20.25, "server", "binary", b"\x00\xff\x10"),
                        Frame(31, "client", "binary", b""),
                        Frame(1234.567, "server", "close", "bye", 1000)]
    return recording


def frames_of(recording):
    return [frame.to_json() for frame in recording.frames]


def har_entry(messages, url="wss://api.example.test/chat?token=s3cret", started="2024-06-10T10:00:00.000Z", **extra):
    return {"startedDateTime": started, "time": 1.5, "_resourceType": "websocket",
            "request": {"method": "GET", "url": url, "headers": [{"name": "Cookie", "value": "id=s3cret"},
                                                               {"name": "Origin", "value": "https://app.example"}]},
            "response": {"status": 101, "headers": [{"name": "Sec-WebSocket-Protocol", "value": "v2"}]},
            "_webSocketMessages": messages, **extra}


def message(kind, seconds, opcode, data):
    return {"type": kind, "time": 1718013600 + seconds, "opcode": opcode, "data": data}


def har(*entries):
    return {"log": {"version": "1.2", "creator": {"name": "WebInspector", "version": "537.36"},
                    "entries": list(entries)}}


def write_json(tmp_path, name, document):
    path = tmp_path / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def error_of(path, **kw):
    with pytest.raises(ConfigError) as info:
        load_recordings(path, **kw)
    return info.value


# ------------------------------------------------------------------ round trips

@pytest.mark.parametrize("name", ["session.json", "session.har", "SESSION.HAR"])
def test_a_recording_makes_the_round_trip_through_a_file(tmp_path, name):
    recording = sample()
    write_recordings(tmp_path / name, [recording])
    [back] = load_recordings(tmp_path / name)
    assert back.summary() == recording.summary()
    assert back.request_headers == recording.request_headers
    assert back.response_headers == recording.response_headers
    for got, want in zip(back.frames, recording.frames, strict=True):
        assert (got.sender, got.type, got.data, got.code) == (want.sender, want.type, want.data, want.code)
        assert got.t == pytest.approx(want.t, abs=0.01)  # HAR times are epoch seconds


def test_our_json_is_always_a_list_of_recordings_and_a_single_document_reads_too(tmp_path):
    write_recordings(tmp_path / "one.json", [sample()])
    document = json.loads((tmp_path / "one.json").read_text(encoding="utf-8"))
    assert list(document) == ["recordings"] and document["recordings"][0]["id"] == "rec-1"
    single = write_json(tmp_path, "single.json", sample().to_json())  # GET /recordings/{id} saved as is
    [back] = load_recordings(single)
    assert frames_of(back) == frames_of(sample())


def test_several_recordings_keep_their_order_and_paths_in_both_formats(tmp_path):
    recordings = [sample("/a", recording_id="r1"), sample("/b", None, "r2"), sample("/a", recording_id="r3")]
    for name in ("all.json", "all.har"):
        write_recordings(tmp_path / name, recordings)
        back = load_recordings(tmp_path / name)
        assert [(r.id, r.path, r.upstream) for r in back] == [("r1", "/a", "wss://api.example.test/chat"),
                                                              ("r2", "/b", None), ("r3", "/a", "wss://api.example.test/chat")]


def test_har_we_write_is_chromes_shape():
    document = recordings_to_har([sample(upstream=None)])
    log = document["log"]
    assert log["version"] == "1.2" and log["creator"]["name"] == "mockd"
    [entry] = log["entries"]
    assert entry["_resourceType"] == "websocket"
    assert entry["request"]["method"] == "GET" and entry["request"]["url"] == "ws://localhost/chat"
    assert entry["response"]["status"] == 101
    assert entry["request"]["headers"][0] == {"name": "Host", "value": "api.example.test"}
    assert entry["startedDateTime"] == "2024-06-10T10:00:00.250Z"
    start = STARTED.timestamp()
    messages = entry["_webSocketMessages"]
    assert [(m["type"], m["opcode"]) for m in messages] == [("receive", 1), ("send", 1), ("receive", 2), ("send", 2),
                                                           ("receive", 8)]
    assert messages[0]["data"] == "hello {{name}} $HOME"
    assert messages[2]["data"] == base64.b64encode(b"\x00\xff\x10").decode()
    assert base64.b64decode(messages[4]["data"]) == (1000).to_bytes(2, "big") + b"bye"  # CDP's close payload
    assert [m["time"] for m in messages] == pytest.approx([start, start + 0.0125, start + 0.02025, start + 0.031,
                                                           start + 1.234567])


def test_chromes_export_reads_as_one_recording_with_secrets_redacted():
    [recording] = load_recordings(CHROME_HAR)  # the page's own entry is not a WebSocket: skipped
    assert recording.path == "/chat"
    assert recording.upstream == "ws://localhost:8080/chat"
    assert recording.subprotocol == "chat.v1"
    assert recording.id == "har-entry-1"
    headers = dict(recording.request_headers)
    assert headers["Cookie"] == headers["Sec-WebSocket-Key"] == "[redacted]"
    assert headers["Origin"] == "http://localhost:8080"
    assert dict(recording.response_headers)["Sec-WebSocket-Accept"] == "[redacted]"
    assert [(f.sender, f.type) for f in recording.frames] == [
        ("server", "text"), ("client", "text"), ("server", "text"), ("server", "binary"),
        ("client", "text"), ("server", "text"), ("client", "binary"), ("server", "text")]
    assert recording.frames[0].data.startswith('{"type":"welcome"')
    assert recording.frames[3].data == b"\x89PNG\r\n\x1a\n\x00\xff"
    assert recording.frames[6].data == b"\x01\x02\xfe\xff"
    # t: milliseconds from the handshake (startedDateTime 10:00:00.000Z)
    assert [f.t for f in recording.frames] == pytest.approx([31.254, 52.871, 61.303, 83.117, 104.55, 108.021,
                                                            121.406, 132.98], abs=0.002)
    assert recording.summary()["startedAt"] == "2024-06-10T10:00:00.000Z"


def test_chromes_export_survives_our_har_and_our_json(tmp_path):
    [original] = load_recordings(CHROME_HAR)
    for name in ("again.har", "again.json"):
        write_recordings(tmp_path / name, [original])
        [back] = load_recordings(tmp_path / name)
        assert (back.path, back.upstream, back.subprotocol, back.id) == ("/chat", "ws://localhost:8080/chat", "chat.v1",
                                                                         "har-entry-1")
        assert [(f.sender, f.type, f.data) for f in back.frames] == [(f.sender, f.type, f.data) for f in original.frames]


def test_har_messages_chrome_reports_frame_by_frame():
    entry = har_entry([
        message("receive", 0.010, 1, "hel"), message("receive", 0.011, 0, base64.b64encode(b"lo").decode()),
        message("send", 0.020, 9, ""), message("receive", 0.021, 10, ""),  # ping, pong: not conversation
        message("error", 0.022, -1, "Invalid frame header"),  # Chrome's note of a protocol error
        message("send", 0.030, 2, base64.b64encode(b"\x01").decode()),
        message("send", 0.031, 0, base64.b64encode(b"\x02").decode()),
        message("receive", 0.040, 8, base64.b64encode((4001).to_bytes(2, "big") + b"gone").decode()),
        message("send", 0.041, 8, "")])
    [recording] = recordings_from_har(har(entry), "x.har")
    assert frames_of(recording) == [
        {"t": 10.0, "from": "server", "type": "text", "data": "hello"},
        {"t": 30.0, "from": "client", "type": "binary", "data": base64.b64encode(b"\x01\x02").decode()},
        {"t": 40.0, "from": "server", "type": "close", "data": "gone", "code": 4001},
        {"t": 41.0, "from": "client", "type": "close", "data": "", "code": None}]
    assert recording.upstream == "wss://api.example.test/chat"  # no query: it holds the token
    assert recording.request_headers == [["Cookie", "[redacted]"], ["Origin", "https://app.example"]]
    assert recording.subprotocol == "v2"


def test_har_times_count_from_the_first_message_when_the_start_is_unusable():
    for started in (None, "yesterday", "2030-01-01T00:00:00Z"):
        [recording] = recordings_from_har(har(har_entry([message("receive", 5, 1, "a"), message("send", 5.5, 1, "b")],
                                                        started=started)))
        assert [f.t for f in recording.frames] == [0.0, 500.0]


def test_a_har_with_a_websocket_that_said_nothing_is_an_empty_recording():
    [recording] = recordings_from_har(har(har_entry([])))
    assert recording.frames == [] and recording.path == "/chat"


# ------------------------------------------------------------------ bad input

def test_a_har_without_websocket_entries_says_so(tmp_path):
    path = write_json(tmp_path, "page.har", har({"request": {"method": "GET", "url": "https://x.test/"},
                                                 "response": {"status": 200}}))
    error = error_of(path)
    assert str(error).startswith(f"{path}: log.entries: no WebSocket entries among its 1 requests")


def test_a_har_with_handshakes_but_no_messages_names_the_cause(tmp_path):
    # What Firefox saves: the 101 handshake of each WebSocket, none of its frames.
    path = write_json(tmp_path, "firefox.har", har({"request": {"method": "GET", "url": "wss://x.test/live"},
                                                    "response": {"status": 101}}))
    error = error_of(path)
    assert error.source == str(path) and error.where == "log.entries"
    assert "1 WebSocket handshake but no _webSocketMessages" in error.message
    assert "Firefox" in error.message and "mockd record" in error.message


@pytest.mark.parametrize("messages, where, says", [
    ([message("receive", 0, 1, "ok"), message("receive", 1, 2, "not base64!")],
     "log.entries[1]._webSocketMessages[1].data", "not valid base64"),
    ([message("send", 0, 5, "x")], "log.entries[1]._webSocketMessages[0].opcode", "unknown opcode 5 (known: 0 continuation"),
    ([message("send", 0, True, "x")], "log.entries[1]._webSocketMessages[0].opcode", "unknown opcode True"),
    ([message("sent", 0, 1, "x")], "log.entries[1]._webSocketMessages[0].type", "type must be send or receive"),
    ([{"type": "send", "time": "noon", "opcode": 1, "data": "x"}], "log.entries[1]._webSocketMessages[0].time",
     "time must be seconds since 1970"),
    ([message("send", 0, 1, 42)], "log.entries[1]._webSocketMessages[0].data", "data must be a string"),
    ([message("send", 0, 0, "AA==")], "log.entries[1]._webSocketMessages[0].opcode", "continuation frame (opcode 0)"),
    ([message("send", 0, 1, "\ud800")], "log.entries[1]._webSocketMessages[0].data", "lone UTF-16 surrogate"),
    ("all", "log.entries[1]._webSocketMessages", "must be a list of messages"),
    (["x"], "log.entries[1]._webSocketMessages[0]", "a message is an object"),
])
def test_bad_har_messages_are_located(tmp_path, messages, where, says):
    page = {"request": {"method": "GET", "url": "https://x.test/"}, "response": {"status": 200}}
    path = write_json(tmp_path, "bad.har", har(page, har_entry(messages)))
    error = error_of(path)
    assert (error.source, error.where) == (str(path), where)
    assert says in error.message, error.message


@pytest.mark.parametrize("document, where, says", [
    ({"recordings": [{"frames": [{"t": 0, "from": "server", "type": "text", "data": "a"},
                                 {"t": 1, "from": "server", "type": "txt", "data": "b"}]}]},
     "recordings[0].frames[1].type", "type must be text, binary or close"),
    ({"frames": [{"t": 0, "from": "nobody", "type": "text", "data": "a"}]}, "frames[0].from", "from must be client"),
    ({"frames": [{"t": 0, "from": "client", "type": "binary", "data": "%%%"}]}, "frames[0].data", "standard base64"),
    ({"path": "chat", "frames": []}, "path", "path must start with /"),
    ({"frames": [{"t": 0, "from": "client", "type": "text", "data": "\ud800"}]}, "frames[0].data", "lone UTF-16"),
    ({"recordings": {"a": 1}}, "recordings", "must be a list of recordings"),
    ({"recordings": [[]]}, "recordings[0]", "not a mockd recording"),
    ({"hello": "world"}, None, "neither a mockd recording"),
    ([1, 2], None, "neither a mockd recording"),
])
def test_bad_recordings_of_ours_are_located(tmp_path, document, where, says):
    path = write_json(tmp_path, "bad.json", document)
    error = error_of(path)
    assert (error.source, error.where) == (str(path), where)
    assert says in error.message, error.message


@pytest.mark.parametrize("content, where, says", [
    (b'{"frames": [', "line 1, column 13", "not JSON: Expecting value"),
    (b"", None, "the file is empty"),
    (b'{"frames": [], "x": NaN}', None, "NaN is not JSON"),
    (b'{"frames": "\xff"}', None, "not UTF-8 (the byte 0xff at offset 12)"),
    (b"[" * 100_000, None, "nested thousands of levels deep"),
])
def test_files_that_are_not_json_are_refused(tmp_path, content, where, says):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    error = error_of(path)
    assert (error.source, error.where) == (str(path), where)
    assert says in error.message, error.message


def test_a_bom_is_accepted(tmp_path):
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(sample().to_json()).encode())
    assert len(load_recordings(path)[0].frames) == 5


def test_files_that_cannot_be_read(tmp_path, monkeypatch):
    assert error_of(tmp_path / "missing.json").message.startswith("no such file")
    assert "not a regular file" in error_of(tmp_path).message
    fifo = tmp_path / "fifo.har"
    os.mkfifo(fifo)
    assert "not a regular file" in error_of(fifo).message  # refused at once, never waited on
    big = write_json(tmp_path, "big.json", sample().to_json())
    monkeypatch.setattr(files, "MAX_RECORDING_BYTES", 100)
    assert error_of(big).message == "cannot read it: larger than 100 bytes, the most a recording file may have"


def test_a_setting_that_names_a_missing_file_is_located_at_the_setting(tmp_path):
    error = error_of(tmp_path / "nope.json", where="mocks[0].websocket.replay.recording")
    assert (error.source, error.where, error.message) == (None, "mocks[0].websocket.replay.recording", "not found")
    bad = write_json(tmp_path, "bad.json", {"frames": [{"from": "x"}]})
    error = error_of(bad, where="mocks[0].websocket.replay.recording", source="bad.json")
    assert (error.source, error.where) == ("bad.json", "frames[0].from")


# ------------------------------------------------------------------ writing

def test_writing_replaces_the_file_at_once_and_keeps_its_mode(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("old", encoding="utf-8")
    target.chmod(0o600)
    write_recordings(target, [sample()])
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    assert load_recordings(target)[0].id == "rec-1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]  # no temporary file left


def test_a_new_file_gets_the_umasks_mode(tmp_path):
    old = os.umask(0o022)
    try:
        write_recordings(tmp_path / "new.har", [sample()])
    finally:
        os.umask(old)
    assert oct((tmp_path / "new.har").stat().st_mode & 0o777) == "0o644"


def test_a_file_that_cannot_be_written_is_named(tmp_path):
    target = tmp_path / "no" / "such" / "folder.json"
    with pytest.raises(MockdError) as info:
        write_recordings(target, [sample()])
    assert str(info.value).startswith(f"{target}: cannot write it: No such file or directory; check that its folder")


def test_mockd_convert_names_the_file_and_the_place_of_a_bad_input(tmp_path):
    path = write_json(tmp_path, "bad.har", har(har_entry([message("receive", 0, 2, "@@")])))
    result = mockd("convert", "bad.har", "-o", "mocks.yaml", cwd=tmp_path)
    assert result.returncode == 2, result
    assert result.stderr == ("mockd: error: bad.har: log.entries[0]._webSocketMessages[0].data: not valid base64 "
                             "(Chrome writes the data of every message but a text one as base64)\n")
    assert not (tmp_path / "mocks.yaml").exists()
    assert path.exists()


@pytest.mark.parametrize("document, place", [
    ('{"frames": [{"t": 1e999, "from": "server", "type": "text", "data": "a"}]}', "frames[0].t"),
    ('{"frames": [{"t": 1e300, "from": "server", "type": "text", "data": "a"}]}', "frames[0].t"),
    ('{"subprotocol": 7, "frames": []}', "subprotocol"),
    ('{"subprotocol": "a\\n: {x}", "frames": []}', "subprotocol"),
    ('{"upstream": 5, "frames": []}', "upstream"),
])
def test_recording_fields_of_the_wrong_kind_are_located_errors(tmp_path, document, place):
    (tmp_path / "bad.json").write_text(document)
    with pytest.raises(ConfigError) as error:
        load_recordings(str(tmp_path / "bad.json"))
    assert place in str(error.value) and "bad.json" in str(error.value)


@pytest.mark.parametrize("url, says", [
    ("ws://[x", "url is not a URL (Invalid IPv6 URL)"),  # a 500 of the fuzzed POST /mocks/bulk
    ("ws://h:99999/", "url is not a URL (Port out of range"),
    ("ws://h:abc/", "url is not a URL (Port could not be cast"),
    ("http://h/", "url must be a ws:// or wss:// URL with a host"),
    ("ws://h:0/", "url must be a ws:// or wss:// URL with a host"),
])
def test_a_proxy_url_that_is_no_websocket_url_is_a_located_error(url, says):
    with pytest.raises(ConfigError) as error:
        check_config({"version": "1.0", "mocks": [{"websocket": {"path": "/p", "proxy": {"url": url}}}]})
    assert error.value.where == "mocks[0].websocket.proxy.url" and says in str(error.value)
