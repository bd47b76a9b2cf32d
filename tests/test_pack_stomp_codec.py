"""The STOMP pack's wire codec (mockd/protocols/stomp/codec.py) on its own: frames split at
every byte and packed together, heart-beat EOLs, content-length, the 1.1/1.2 header escapes,
every grammar error, and the version and heart-beat negotiations."""
import random

import pytest

from mockd.protocols.stomp.codec import (HEARTBEAT, Frame, FrameError, FrameParser, describe, encode_frame,
                                         negotiate_heart_beat, negotiate_version, parse_heart_beat, utf8)

BIG = 1 << 20


def parse(data, version="1.2", max_frame_size=BIG):
    parser = FrameParser(max_frame_size)
    parser.version = version
    return parser.feed(data)


def frames(items):
    return [(item.command, item.headers, item.body) for item in items if isinstance(item, Frame)]


def the_error(items):
    assert isinstance(items[-1], FrameError), items
    return items[-1]


SEND = b"SEND\ndestination:/app/chat\ncontent-type:text/plain\n\nhello\0"


def test_one_frame():
    assert frames(parse(SEND)) == [("SEND", {"destination": "/app/chat", "content-type": "text/plain"}, b"hello")]


def test_a_frame_split_at_every_byte_gives_the_same_frame():
    stream = SEND + b"\n" + b"SUBSCRIBE\r\nid:0\r\ndestination:/topic/a\r\n\r\n\0\r\n"
    whole = parse(stream)
    parser = FrameParser(BIG)
    parser.version = "1.2"
    pieces = []
    for index in range(len(stream)):
        pieces += parser.feed(stream[index:index + 1])
    assert frames(pieces) == frames(whole) and len(frames(whole)) == 2
    assert pieces.count(HEARTBEAT) == whole.count(HEARTBEAT) == 2
    assert not parser.pending


def test_random_splits_of_packed_frames():
    stream = b"\n".join([SEND, b"ACK\nid:7\n\n\0", b"SEND\ndestination:/b\ncontent-length:3\n\na\0b\0"])
    expected = frames(parse(stream))
    rng = random.Random(7)
    for _ in range(200):
        cuts = sorted(rng.sample(range(1, len(stream)), rng.randint(1, 6)))
        parser = FrameParser(BIG)
        got = []
        for start, end in zip([0] + cuts, cuts + [len(stream)]):
            got += parser.feed(stream[start:end])
        assert frames(got) == expected


def test_packed_frames_and_heart_beats():
    items = parse(b"\n\r\n" + SEND + b"\n\nDISCONNECT\nreceipt:77\n\n\0")
    assert items[:2] == [HEARTBEAT, HEARTBEAT]
    assert [item if item == HEARTBEAT else item.command for item in items[2:]] == \
        ["SEND", HEARTBEAT, HEARTBEAT, "DISCONNECT"]


def test_crlf_lines():
    assert frames(parse(b"CONNECT\r\naccept-version:1.2\r\nhost:x\r\n\r\n\0")) == \
        [("CONNECT", {"accept-version": "1.2", "host": "x"}, b"")]


def test_content_length_lets_the_body_hold_nuls():
    assert frames(parse(b"SEND\ndestination:/a\ncontent-length:5\n\na\0b\0c\0")) == \
        [("SEND", {"destination": "/a", "content-length": "5"}, b"a\0b\0c")]


def test_content_length_waits_for_its_bytes():
    parser = FrameParser(BIG)
    assert parser.feed(b"SEND\ncontent-length:4\n\nab") == []
    assert parser.pending
    assert parser.feed(b"\0d") == []
    assert frames(parser.feed(b"\0")) == [("SEND", {"content-length": "4"}, b"ab\0d")]


def test_content_length_not_followed_by_nul():
    error = the_error(parse(b"SEND\ncontent-length:2\n\nabc\0"))
    assert error.message == "malformed frame" and "content-length" in error.detail


def test_a_bad_content_length():
    assert "not a number" in the_error(parse(b"SEND\ncontent-length:x\n\n\0")).detail
    assert "not a number" in the_error(parse(b"SEND\ncontent-length:-1\n\n\0")).detail


def test_a_nul_before_the_blank_line():
    assert "NUL came before the blank line" in the_error(parse(b"CONNECT\naccept-version:1.2\0")).detail
    parser = FrameParser(BIG)
    assert parser.feed(b"CONNECT\naccept") == []
    assert "NUL" in the_error(parser.feed(b"-version:1.2\0")).detail


def test_a_header_line_without_a_colon():
    assert "has no ':'" in the_error(parse(b"SEND\ndestination\n\n\0")).detail


def test_a_first_line_that_is_not_a_command():
    assert "is not a command" in the_error(parse(b"hello world\n\n\0")).detail


def test_headers_that_are_not_utf8():
    assert "UTF-8" in the_error(parse(b"SEND\ndestination:\xff\n\n\0")).detail


def test_a_lone_cr_between_frames():
    assert "CR" in the_error(parse(b"\rX")).detail


def test_frames_before_an_error_come_first_and_nothing_after():
    parser = FrameParser(BIG)
    items = parser.feed(SEND + b"SEND\nbad\n\n\0" + SEND)
    assert frames(items) == frames(parse(SEND)) and isinstance(items[-1], FrameError)
    assert parser.feed(SEND) == [] and not parser.pending


def test_max_frame_size():
    assert the_error(parse(b"SEND\n\n" + b"x" * 200, max_frame_size=100)).message == "frame too large"
    assert the_error(parse(b"SEND\ncontent-length:500\n\n", max_frame_size=100)).message == "frame too large"
    assert the_error(parse(b"SEND\nh:" + b"x" * 200, max_frame_size=100)).message == "frame too large"


def test_the_first_of_repeated_headers_counts():
    assert frames(parse(b"SEND\nfoo:1\nfoo:2\n\n\0"))[0][1] == {"foo": "1"}


def test_values_may_hold_colons():
    assert frames(parse(b"SEND\nurl:http://x:1\n\n\0", version="1.0"))[0][1] == {"url": "http://x:1"}


@pytest.mark.parametrize("version, raw, headers", [
    ("1.2", rb"h\cx:a\nb\cc\\d\re", {"h:x": "a\nb:c\\d\re"}),
    ("1.1", rb"h\cx:a\nb\cc\\d", {"h:x": "a\nb:c\\d"}),
    ("1.0", rb"x:a\nb\cc", {"x": r"a\nb\cc"}),      # 1.0 has no escapes
    (None, rb"x:a\nb", {"x": r"a\nb"}),               # nor does anything before CONNECT
])
def test_header_unescaping(version, raw, headers):
    assert frames(parse(b"SEND\n" + raw + b"\n\n\0", version))[0][1] == headers


def test_connect_headers_are_never_unescaped():
    assert frames(parse(b"CONNECT\npasscode:a\\cb\n\n\0"))[0][1] == {"passcode": "a\\cb"}


@pytest.mark.parametrize("version, escape", [("1.2", rb"\t"), ("1.1", rb"\r"), ("1.2", b"\\")])
def test_undefined_escapes(version, escape):
    assert "not an escape" in the_error(parse(b"SEND\nx:a" + escape + b"\n\n\0", version)).detail


def test_encode_escapes_as_the_version_wants():
    headers = [("de:st", "a:b\nc\\d\re")]
    assert encode_frame("MESSAGE", headers, b"x", "1.2") == b"MESSAGE\nde\\cst:a\\cb\\nc\\\\d\\re\n\nx\0"
    assert encode_frame("MESSAGE", headers, b"x", "1.1") == b"MESSAGE\nde\\cst:a\\cb\\nc\\\\d\re\n\nx\0"
    assert encode_frame("MESSAGE", headers, b"x", "1.0") == b"MESSAGE\nde:st:a:b c\\d e\n\nx\0"
    assert encode_frame("CONNECTED", [("server", "a:b")], b"", "1.2") == b"CONNECTED\nserver:a:b\n\n\0"


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_encode_then_parse_round_trips(version):
    rng = random.Random(version)
    alphabet = "ab:\\\n\r é"
    for _ in range(100):
        headers = {"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6))):
                   "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6))) for _ in range(3)}
        if version == "1.1":  # 1.1 cannot carry a CR in a header
            headers = {k.replace("\r", ""): v.replace("\r", "") for k, v in headers.items() if k.replace("\r", "")}
        body = bytes(rng.randrange(256) for _ in range(rng.randint(0, 20)))
        data = encode_frame("MESSAGE", list(headers.items()) + [("content-length", str(len(body)))], body, version)
        ((command, parsed, got),) = frames(parse(data, version))
        assert (command, got) == ("MESSAGE", body)
        assert {k: v for k, v in parsed.items() if k != "content-length"} == \
            {k: v for k, v in headers.items() if k != "content-length"}


def test_negotiate_version():
    assert negotiate_version(None) == "1.0"
    assert negotiate_version("1.0,1.1,1.2") == "1.2"
    assert negotiate_version("1.1, 1.0") == "1.1"
    assert negotiate_version("2.0,1.0") == "1.0"
    assert negotiate_version("2.0") is None


def test_heart_beats():
    assert parse_heart_beat(None) == (0, 0)
    assert parse_heart_beat("100, 200") == (100, 200)
    for bad in ("100", "a,b", "1,2,3", "-1,0"):
        with pytest.raises(FrameError):
            parse_heart_beat(bad)
    # (cx, cy) of the client, (sx, sy) of the server -> (server sends every, server expects every)
    assert negotiate_heart_beat((0, 0), (100, 100)) == (0, 0)
    assert negotiate_heart_beat((50, 500), (100, 100)) == (500, 100)
    assert negotiate_heart_beat((5000, 10), (100, 0)) == (100, 0)
    assert negotiate_heart_beat((5000, 10), (0, 100)) == (0, 5000)


def test_describe():
    assert describe(Frame("SEND", {"destination": "/app/chat"})) == "SEND /app/chat"
    assert describe(Frame("ACK", {"message-id": "7"})) == "ACK 7"
    assert describe(Frame("DISCONNECT", {})) == "DISCONNECT"
    assert describe(Frame("SEND", {"destination": "a\nb" + "x" * 100})).startswith("SEND a b")
    assert describe(HEARTBEAT) == "heart-beat"
    assert describe(FrameError("malformed frame")) == "malformed frame"
    assert describe(FrameError("frame too large")) == "malformed frame (frame too large)"


def test_utf8_replaces_lone_surrogates():
    assert utf8("é") == "é".encode("utf-8")
    assert utf8("a\ud800b") == "a\ufffdb".encode("utf-8")
    assert utf8("\ud83d\ude00") == "\U0001f600".encode("utf-8")  # a pair is one character
    assert encode_frame("MESSAGE", [("k", "\udc00")], b"") == "MESSAGE\nk:\ufffd\n\n\0".encode("utf-8")
