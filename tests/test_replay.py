"""``websocket.replay``: a recording played back by a real server to real clients, in its three
modes, and driven through ``POST /websocket/connections/{id}/replay/advance``.

Configs are written to files in ``tmp_path`` beside their recordings: a recording's path is
read from the config file's folder. Timings are bounded generously (two cores, other suites
running): recorded gaps of a few hundred milliseconds, checked for order and rough length.
"""
import base64
import json
import pathlib
import time

import pytest
import yaml

from _helpers import only_connection, wait_until
from mockd.errors import ConfigError
from mockd.testing import assert_silent, check_config, recv_close, recv_text

pytestmark = pytest.mark.usefixtures("no_unhandled_errors")


def frame(t, sender, data="", kind="text", code=None):
    entry = {"t": t, "from": sender, "type": kind, "data": data}
    if code is not None:
        entry["code"] = code
    return entry


def server(t, data, **kw):
    return frame(t, "server", data, **kw)


def client(t, data, **kw):
    return frame(t, "client", data, **kw)


def recording(frames, path="/replay", **document):
    return dict({"id": "rec-1", "mockId": "live", "path": path, "upstream": "wss://api.example.test/feed",
                 "subprotocol": "", "startedAt": "2025-01-02T03:04:05.000Z", "frames": frames}, **document)


def write_setup(tmp_path, replay, document=None, path="/replay", name="session.json", **websocket):
    """Write ``document`` (a recording) to ``name`` and a config replaying it to mockd.yaml."""
    if document is not None:
        (tmp_path / name).write_text(json.dumps(document), encoding="utf-8")
    mock = {"id": "replayed", "websocket": dict({"path": path, "replay": dict({"recording": name}, **replay)},
                                                 **websocket)}
    config = tmp_path / "mockd.yaml"
    config.write_text(yaml.safe_dump({"version": "1.0", "mocks": [mock]}), encoding="utf-8")
    return config


@pytest.fixture
def replay(tmp_path, make_mockd_server):
    """``replay(frames_or_document, mode=..., timingScale=...)``: a started server replaying it."""
    def start(document, **settings):
        if isinstance(document, list):
            document = recording(document)
        return make_mockd_server(write_setup(tmp_path, settings, document))
    return start


def advance(running, connection_id, body=None):
    return running.admin.post(f"/websocket/connections/{connection_id}/replay/advance",
                              {} if body is None else body)


# ---------------------------------------------------------------- pure


@pytest.mark.slow
def test_pure_plays_the_server_frames_at_their_recorded_times(replay):
    running = replay([server(0, "first"), client(50, "ignored"), server(150, "second"),
                      server(300, base64.b64encode(b"\x00\x01").decode(), kind="binary"), server(450, "third")],
                     mode="pure")
    ws = running.connect("/replay")
    started = time.monotonic()
    assert recv_text(ws) == "first"
    ws.send("anything")  # taken and dropped: the recording goes on at its own times
    assert recv_text(ws) == "second"
    assert ws.recv() == b"\x00\x01"
    assert recv_text(ws) == "third"
    assert 0.35 <= time.monotonic() - started < 3.0
    assert_silent(ws, 0.2)  # played to the end: the connection stays open for the client to close
    inbound = running.wait_for(direction="inbound")
    assert [(entry["body"], entry["matched"]) for entry in inbound] == [("anything", "replay")]


def test_timing_scale_zero_leaves_the_gaps_out_and_a_fraction_shortens_them(replay, tmp_path):
    frames = [server(0, "a"), server(1000, "b"), server(2000, "c")]
    fast = replay(frames, mode="pure", timingScale=0)
    ws = fast.connect("/replay")
    started = time.monotonic()
    assert [recv_text(ws) for _ in range(3)] == ["a", "b", "c"]
    assert time.monotonic() - started < 0.8  # recorded: 2 s

    scaled = replay([server(0, "a"), server(500, "b"), server(1000, "c")], mode="pure", timingScale=0.2)
    ws = scaled.connect("/replay")
    assert recv_text(ws) == "a"
    started = time.monotonic()
    assert [recv_text(ws) for _ in range(2)] == ["b", "c"]
    assert 0.15 <= time.monotonic() - started < 0.8  # recorded: 1 s; scaled: 0.2 s


def test_a_recorded_server_close_closes_the_client_with_its_code_and_reason(replay):
    running = replay([server(0, "bye soon"), server(20, "going away", kind="close", code=4002)], mode="pure")
    ws = running.connect("/replay")
    assert recv_text(ws) == "bye soon"
    assert recv_close(ws, allow_data=False) == (4002, "going away")
    # A close the proxy recorded without a code (the upstream vanished) replays as it reached
    # the client then: no code is a plain 1000, 1006 is 1014.
    for code, expected in ((None, 1000), (1006, 1014)):
        running = replay([server(0, "gone", kind="close", code=code)], mode="pure")
        assert recv_close(running.connect("/replay")) == (expected, "gone")


# ---------------------------------------------------------------- synchronized


SESSION = [server(0, "welcome"), client(100, '{"op": "subscribe", "channel": "prices"}'),
           server(150, '{"subscribed": "prices"}'), server(300, '{"price": 1}'), client(400, "bye"),
           server(410, "done", kind="close", code=4001)]


@pytest.mark.slow
def test_synchronized_waits_for_each_recorded_client_frame(replay):
    running = replay(SESSION, mode="synchronized", timingScale=0.5)
    ws = running.connect("/replay")
    assert recv_text(ws) == "welcome"
    assert_silent(ws, 0.3)  # the recording's client spoke next: nothing until this one does
    ws.send('{"channel":"prices","op":"subscribe"}')  # json-equal: key order and spaces differ
    started = time.monotonic()
    assert json.loads(recv_text(ws)) == {"subscribed": "prices"}
    assert json.loads(recv_text(ws)) == {"price": 1}
    assert 0.05 <= time.monotonic() - started < 2.0  # 75 ms after the message arrived, then 75 more
    ws.send("hello?")  # not the recorded message: dropped, and the journal says what is awaited
    assert_silent(ws, 0.3)
    events = running.wait_for(direction="event")
    assert "waiting for the recorded client frame 4 ('bye'), got 'hello?'" in events[0]["body"]
    ws.send("bye")
    assert recv_close(ws, allow_data=False) == (4001, "done")


def test_synchronized_keeps_a_client_frame_that_comes_early(replay):
    running = replay([server(0, "a"), server(300, "b"), client(400, "go"), server(450, "c")])  # the default mode
    ws = running.connect("/replay")
    assert recv_text(ws) == "a"
    ws.send("go")  # before "b": kept until the recording gets there
    assert [recv_text(ws), recv_text(ws)] == ["b", "c"]


def test_synchronized_match_any_takes_whatever_the_client_sends(replay):
    running = replay(SESSION, timingScale=0, match="any")
    ws = running.connect("/replay")
    assert recv_text(ws) == "welcome"
    ws.send('{"op": "subscribe", "channel": "prices", "requestId": 7}')
    assert [recv_text(ws), recv_text(ws)] == ['{"subscribed": "prices"}', '{"price": 1}']
    ws.send_binary(b"\x07")
    assert recv_close(ws, allow_data=False) == (4001, "done")


# ---------------------------------------------------------------- triggered and the admin API


def test_triggered_sends_nothing_until_advanced_by_count_or_until(replay):
    running = replay([server(0, "s1"), client(10, "ignored"), server(20, "s2"), server(5000, "s3 ready"),
                      server(6000, "s4"), server(7000, "end", kind="close", code=4000)], mode="triggered")
    ws = running.connect("/replay")
    connection = only_connection(running)
    assert_silent(ws, 0.3)
    reply = advance(running, connection.id, {"count": 2})
    assert (reply.status, reply.json) == (200, {"sent": 2, "remaining": 3})
    assert [recv_text(ws), recv_text(ws)] == ["s1", "s2"]
    reply = advance(running, connection.id, {"until": "ready"})  # sent at once: the gaps are left out
    assert reply.json == {"sent": 1, "remaining": 2}
    assert recv_text(ws, timeout=1.0) == "s3 ready"
    reply = advance(running, connection.id, {"until": "nothing like it"})
    assert (reply.status, reply.json["error"]) == (409, "no_match")
    assert "none of the 2 server frames left in the recording contains 'nothing like it'" in reply.json["message"]
    assert advance(running, connection.id).json == {"sent": 1, "remaining": 1}  # count defaults to 1
    assert recv_text(ws) == "s4"
    assert advance(running, connection.id, {"count": 10}).json == {"sent": 1, "remaining": 0}
    assert recv_close(ws, allow_data=False) == (4000, "end")
    assert advance(running, connection.id, {"count": 1}).status == 404  # closed: gone from the listings


def test_advance_refuses_what_is_not_a_triggered_replay(replay, make_mockd_server):
    pure = replay([server(0, "a")], mode="pure")
    pure.connect("/replay")
    reply = advance(pure, only_connection(pure).id)
    assert (reply.status, reply.json["error"]) == (409, "not_triggered")
    assert "replays in pure mode" in reply.json["message"] and "mode: triggered" in reply.json["message"]
    echo = make_mockd_server({"version": "1.0", "mocks": [{"id": "echo", "websocket": {"path": "/ws"}}]})
    echo.connect("/ws")
    reply = advance(echo, only_connection(echo).id)
    assert (reply.status, reply.json["error"]) == (409, "not_triggered")
    assert "replays no recording" in reply.json["message"]
    assert advance(echo, "nope").status == 404
    triggered = replay([server(0, "a")], mode="triggered")
    triggered.connect("/replay")
    connection_id = only_connection(triggered).id
    for body, code in (({"count": 0}, "invalid_parameter"), ({"count": "2"}, "invalid_parameter"),
                       ({"until": 3}, "validation_error"), ({"count": 1, "until": "a"}, "validation_error")):
        reply = advance(triggered, connection_id, body)
        assert (reply.status, reply.json["error"]) == (400, code), body


def test_each_connection_plays_the_recording_afresh(replay):
    running = replay([server(0, "one"), server(10, "two")], mode="triggered")
    first = running.connect("/replay")
    assert wait_until(lambda: len(running.server.connections) == 1)
    first_id = next(iter(running.server.connections)).id
    second = running.connect("/replay")
    assert wait_until(lambda: len(running.server.connections) == 2)
    second_id = next(c.id for c in running.server.connections if c.id != first_id)
    assert advance(running, first_id, {"count": 2}).json == {"sent": 2, "remaining": 0}
    assert advance(running, second_id).json == {"sent": 1, "remaining": 1}
    assert [recv_text(first), recv_text(first), recv_text(second)] == ["one", "two", "one"]


# ---------------------------------------------------------------- the recording file


def test_a_file_of_several_sessions_replays_the_one_on_the_mocks_path(tmp_path, make_mockd_server):
    sessions = [recording([server(0, "from /other")], path="/other"),
                recording([server(0, "from /replay")], path="/replay", subprotocol="feed.v1")]
    (tmp_path / "sessions.json").write_text(json.dumps({"recordings": sessions}), encoding="utf-8")
    running = make_mockd_server(write_setup(tmp_path, {"mode": "pure"}, name="sessions.json"))
    ws = running.connect("/replay", subprotocols=["feed.v1"])
    assert ws.subprotocol == "feed.v1"  # the recorded one is offered: the mock lists none
    assert recv_text(ws) == "from /replay"
    first = make_mockd_server(write_setup(tmp_path, {"mode": "pure"}, name="sessions.json", path="/elsewhere"))
    assert recv_text(first.connect("/elsewhere")) == "from /other"  # no session on its path: the first


def test_a_har_saved_from_chrome_replays_as_our_recordings_do(tmp_path, make_mockd_server):
    har = pathlib.Path(__file__).parent / "data" / "chrome-chat.har"
    (tmp_path / "chat.har").write_bytes(har.read_bytes())
    running = make_mockd_server(write_setup(tmp_path, {"timingScale": 0}, name="chat.har", path="/chat"))
    ws = running.connect("/chat")
    assert json.loads(recv_text(ws))["type"] == "welcome"
    ws.send('{"nick":"ada","type":"join"}')
    assert json.loads(recv_text(ws))["type"] == "joined"
    assert ws.recv() == base64.b64decode("iVBORw0KGgoA/w==")
    ws.send("ping")
    assert recv_text(ws) == "pong"
    ws.send_binary(b"\x01\x02\xfe\xff")
    assert json.loads(recv_text(ws)) == {"type": "ack", "bytes": 4}


def test_bad_replay_blocks_are_located_config_errors(tmp_path):
    def problems(replay, document=None, **websocket):
        with pytest.raises(ConfigError) as info:
            check_config(write_setup(tmp_path, replay, document, **websocket))
        return str(info.value)

    at = "mocks[0].websocket.replay"
    text = problems({}, None)
    assert f"mockd.yaml: {at}.recording: recording file 'session.json' not found" in text
    assert "relative path is read from the config file's folder" in text
    text = problems({"mode": "fast", "timingScale": -1, "speed": 2}, recording([server(0, "a")]))
    assert f"{at}.mode: unknown value 'fast'" in text and "pure, synchronized, triggered" in text
    assert f"{at}.timingScale: timingScale is a number, 0 or more" in text
    assert f"{at}.speed: unknown key 'speed'" in text
    text = problems({}, recording([server(0, "a"), {"t": 5, "from": "server", "type": "ping", "data": ""}]))
    assert f"{at}.recording: in session.json: " in text
    assert "frames[1].type: type must be text, binary or close, not 'ping'" in text
    text = problems({}, recording([server(0, "a"), server(9, "%%%", kind="binary")]))
    assert "frames[1].data: data of a binary frame must be standard base64" in text
    (tmp_path / "session.json").write_text("{not json", encoding="utf-8")
    assert f"{at}.recording: in session.json: " in problems({})
    text = problems({}, recording([server(0, "a")]), matchers=[{"match": {"type": "exact", "value": "x"},
                                                              "response": {"type": "text", "value": "y"}}])
    assert "mocks[0].websocket.matchers: replay answers every message itself: matchers cannot be used" in text
    text = problems({}, recording([server(0, "a")]), proxy={"url": "ws://127.0.0.1:9/"})
    assert "mocks[0].websocket.proxy: replay answers every message itself" in text


def test_a_recording_without_server_frames_loads_with_a_warning(tmp_path):
    config = check_config(write_setup(tmp_path, {"mode": "pure", "match": "any"}, recording([client(0, "hi")])))
    warnings = [str(warning) for warning in config.warnings]
    assert any("replay.recording: the recording has no server frame" in warning for warning in warnings)
    assert any("replay.match: match is only read in synchronized mode, not in pure" in warning
               for warning in warnings)
