"""Recordings as HAR 1.2, in the form Chrome DevTools exports WebSocket sessions, and back.

Chrome (since 76) writes one entry per WebSocket: the handshake (``GET ws://...``, ``101``),
``"_resourceType": "websocket"`` and ``"_webSocketMessages"``, each message
``{"type": "send"|"receive", "time": epoch seconds, "opcode": 1|2|..., "data": ...}``. The data
is CDP's ``payloadData``: the text itself for opcode 1, base64 for every other opcode (binary,
close, ping, pong). Chrome reports frames, not messages: a fragmented message comes as its
first frame and continuation frames (opcode 0), which are joined here. ``"type": "error"``
entries (opcode -1) are Chrome's notes about protocol errors, not frames: they are skipped.

Firefox's HAR export (checked up to its current ``har-builder.js``) writes the handshake of a
WebSocket but none of its messages; such a file is refused with a message saying so rather
than read as sessions where nothing was said.

What we write adds ``"_mockd"`` (id, mockId, path, upstream, subprotocol) to each entry, so that
a recording makes the round trip through HAR whole; any other HAR is read from its URL and
headers. Headers read from a HAR are redacted as a recording's are: a HAR saved from a browser
holds the session's cookies.
"""
import base64
import binascii
import datetime
import math
from urllib.parse import urlsplit, urlunsplit

from ..errors import ConfigError
from ..message import config_text
from ..version import __version__
from .recording import Frame, Recording, redact_headers

__all__ = ["recordings_from_har", "recordings_to_har", "sendable_text"]

OPCODES = {"text": 1, "binary": 2, "close": 8}
CONTINUATION, PING, PONG = 0, 9, 10
SENDERS = {"send": "client", "receive": "server"}
#: What Chrome's export and ours can hold; anything else is an error, not a silent skip.
KNOWN_OPCODES = "0 continuation, 1 text, 2 binary, 8 close, 9 ping, 10 pong"


# ------------------------------------------------------------------ writing

def recordings_to_har(recordings):
    """A HAR 1.2 document (a dict) with one WebSocket entry per recording."""
    return {"log": {"version": "1.2", "creator": {"name": "mockd", "version": __version__},
                    "pages": [], "entries": [_entry(recording) for recording in recordings]}}


def _entry(recording):
    # Messages are timed from startedDateTime as written (to the millisecond), so that reading
    # the HAR back gives each frame its recorded t.
    started = recording.started_at.replace(microsecond=recording.started_at.microsecond // 1000 * 1000)
    start = started.timestamp()
    last = recording.frames[-1].t if recording.frames else 0
    url = recording.upstream or f"ws://localhost{recording.path}"
    return {
        "startedDateTime": _iso(started),
        "time": last,
        "request": {"method": "GET", "url": url, "httpVersion": "HTTP/1.1",
                    "headers": _har_headers(recording.request_headers), "queryString": [], "cookies": [],
                    "headersSize": -1, "bodySize": 0},
        "response": {"status": 101, "statusText": "Switching Protocols", "httpVersion": "HTTP/1.1",
                     "headers": _har_headers(recording.response_headers), "cookies": [],
                     "content": {"size": 0, "mimeType": "x-unknown"}, "redirectURL": "",
                     "headersSize": -1, "bodySize": 0},
        "cache": {},
        "timings": {"blocked": -1, "dns": -1, "ssl": -1, "connect": -1, "send": 0, "wait": 0, "receive": 0},
        "_resourceType": "websocket",
        "_webSocketMessages": [_message(frame, start) for frame in recording.frames],
        "_mockd": {"id": recording.id, "mockId": recording.mock_id, "path": recording.path,
                   "upstream": recording.upstream, "subprotocol": recording.subprotocol or ""},
    }


def _message(frame, start):
    if frame.type == "text":
        data = frame.data
    elif frame.type == "binary":
        data = base64.b64encode(frame.data).decode("ascii")
    else:  # a close frame's payload, as CDP reports it: the code (2 bytes) and the reason
        payload = b"" if frame.code is None else frame.code.to_bytes(2, "big") + (frame.data or "").encode("utf-8")
        data = base64.b64encode(payload).decode("ascii")
    return {"type": "send" if frame.sender == "client" else "receive",
            "time": round(start + frame.t / 1000, 6), "opcode": OPCODES[frame.type], "data": data}


def _har_headers(pairs):
    return [{"name": name, "value": value} for name, value in pairs]


def _iso(moment):
    return moment.astimezone(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ------------------------------------------------------------------ reading

def recordings_from_har(document, source=None):
    """One :class:`Recording` per WebSocket entry of a HAR document (a parsed dict).

    :param source: the file's name, for errors.
    :raises ConfigError: located in the document (``log.entries[3]._webSocketMessages[7].data``)
        for anything that is not what Chrome writes, and for a HAR without WebSocket messages.
    """
    log = document.get("log") if isinstance(document, dict) else None
    entries = log.get("entries") if isinstance(log, dict) else None
    if not isinstance(entries, list):
        raise ConfigError("not a HAR: log.entries, the list of requests, is missing", source=source,
                          where="log.entries")
    recordings, handshakes = [], 0
    for index, entry in enumerate(entries):
        where = f"log.entries[{index}]"
        if not isinstance(entry, dict):
            raise ConfigError("an entry must be an object (a request and its response)", source=source, where=where)
        if not _is_websocket(entry):
            continue
        handshakes += 1
        if "_webSocketMessages" in entry:
            recordings.append(_recording(entry, index, source))
    if not recordings:
        if handshakes:
            raise ConfigError(
                f"{handshakes} WebSocket handshake{'s' if handshakes > 1 else ''} but no _webSocketMessages: "
                "this HAR was saved without the frames (Firefox's export leaves them out); save the HAR from "
                "Chrome DevTools (Network panel, 'Export HAR'), or record the session with 'mockd record'",
                source=source, where="log.entries")
        raise ConfigError(f"no WebSocket entries among its {len(entries)} requests (none has _resourceType "
                          "'websocket', _webSocketMessages or a ws:// URL); in DevTools, open the page and let "
                          "its WebSocket talk before saving the HAR", source=source, where="log.entries")
    return recordings


def _is_websocket(entry):
    request, response = entry.get("request"), entry.get("response")
    url = request.get("url") if isinstance(request, dict) else None
    scheme = url.partition(":")[0].lower() if isinstance(url, str) else ""
    return (entry.get("_resourceType") == "websocket" or "_webSocketMessages" in entry or scheme in ("ws", "wss")
            or (isinstance(response, dict) and response.get("status") == 101))


def _recording(entry, index, source):
    where = f"log.entries[{index}]"
    request = entry.get("request") if isinstance(entry.get("request"), dict) else {}
    response = entry.get("response") if isinstance(entry.get("response"), dict) else {}
    request_headers = _pairs(request.get("headers"), f"{where}.request.headers", source)
    response_headers = _pairs(response.get("headers"), f"{where}.response.headers", source)
    ours = entry.get("_mockd") if isinstance(entry.get("_mockd"), dict) else {}
    ours = {key: value for key, value in ours.items() if value is None or isinstance(value, str)}
    url = request.get("url")
    if not isinstance(url, str) or not url:
        raise ConfigError("the WebSocket's URL is missing", source=source, where=f"{where}.request.url")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise ConfigError(f"not a URL ({exc})", source=source, where=f"{where}.request.url") from None
    path = ours.get("path") or parts.path or "/"
    if not isinstance(path, str) or not path.startswith("/"):
        raise ConfigError(f"path must start with /, not {path!r}", source=source, where=f"{where}._mockd.path")
    upstream = ours["upstream"] if "upstream" in ours else _upstream(parts)
    subprotocol = ours.get("subprotocol") or _header(response_headers, "sec-websocket-protocol")
    messages = entry["_webSocketMessages"]
    mwhere = f"{where}._webSocketMessages"
    if not isinstance(messages, list):
        raise ConfigError("must be a list of messages", source=source, where=mwhere)
    start = _started(entry.get("startedDateTime"), messages)
    try:
        started_at = datetime.datetime.fromtimestamp(start, datetime.timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise ConfigError(f"the session starts at {start!r} seconds since 1970, out of any calendar's range",
                          source=source, where=f"{mwhere}[0].time") from None
    recording = Recording(ours.get("mockId"), path, upstream or None, subprotocol or None,
                          redact_headers(request_headers), redact_headers(response_headers),
                          recording_id=ours.get("id") or f"har-entry-{index}",  # the same at each reading
                          started_at=started_at)
    for number, message in enumerate(messages):
        frame = _frame(message, start, f"{mwhere}[{number}]", source, recording.frames)
        if frame is not None:
            recording.frames.append(frame)
    return recording


def _frame(message, start, where, source, frames):
    """The :class:`Frame` of one ``_webSocketMessages`` item; ``None`` for what is not a frame of
    the conversation (pings, pongs, Chrome's error notes, a continuation joined to ``frames``)."""
    if not isinstance(message, dict):
        raise ConfigError("a message is an object with type, time, opcode and data", source=source, where=where)
    kind = message.get("type")
    if kind == "error":
        return None
    if kind not in SENDERS:
        raise ConfigError(f"type must be send or receive, not {kind!r}", source=source, where=f"{where}.type")
    opcode = message.get("opcode")
    if isinstance(opcode, bool) or not isinstance(opcode, int) or opcode not in (CONTINUATION, 1, 2, 8, PING, PONG):
        raise ConfigError(f"unknown opcode {opcode!r} (known: {KNOWN_OPCODES})", source=source,
                          where=f"{where}.opcode")
    moment = message.get("time")
    if isinstance(moment, bool) or not isinstance(moment, (int, float)) or not math.isfinite(moment):
        raise ConfigError(f"time must be seconds since 1970 (Chrome writes e.g. 1718000000.123), not {moment!r}",
                          source=source, where=f"{where}.time")
    data = message.get("data", "")
    if not isinstance(data, str):
        raise ConfigError("data must be a string (base64 for a binary message)", source=source, where=f"{where}.data")
    if opcode in (PING, PONG):
        return None
    sender = SENDERS[kind]
    if opcode != 1:
        try:
            data = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError("not valid base64 (Chrome writes the data of every message but a text one as "
                              "base64)", source=source, where=f"{where}.data") from None
    if opcode == CONTINUATION:
        previous = next((frame for frame in reversed(frames) if frame.sender == sender), None)
        if previous is None or previous.type == "close":
            raise ConfigError("a continuation frame (opcode 0) with no message of its sender before it",
                              source=source, where=f"{where}.opcode")
        if previous.type == "text":
            previous.data = (previous.data.encode("utf-8", "surrogatepass") + data).decode("utf-8", "replace")
        else:
            previous.data += data
        return None
    t = round(max(0.0, moment - start) * 1000, 3)
    if opcode == 1:
        return Frame(t, sender, "text", sendable_text(data, f"{where}.data", source))
    if opcode == 2:
        return Frame(t, sender, "binary", data)
    code = int.from_bytes(data[:2], "big") if len(data) >= 2 else None
    return Frame(t, sender, "close", data[2:].decode("utf-8", "replace"), code)


def sendable_text(text, where, source):
    """``text`` once it can travel in a text frame: a lone surrogate (``"\\ud800"`` alone in
    JSON) is no UTF-8 text, and a :class:`ConfigError` at ``where`` in ``source``."""
    try:
        return config_text(text, where)
    except ConfigError as exc:
        raise exc.located(source) from None


def _pairs(headers, where, source):
    if headers is None:
        return []
    if not isinstance(headers, list):
        raise ConfigError("headers must be a list of {name, value} objects", source=source, where=where)
    pairs = []
    for index, header in enumerate(headers):
        if not isinstance(header, dict) or not isinstance(header.get("name"), str):
            raise ConfigError("a header is an object with a name and a value", source=source,
                              where=f"{where}[{index}]")
        pairs.append([header["name"], str(header.get("value", ""))])
    return pairs


def _upstream(parts):
    """The URL without its query and without any user:password: both often carry a token."""
    try:
        host, port = parts.hostname, parts.port
    except ValueError:  # a port that is not a number
        host, port = parts.hostname, None
    if not host:
        return None
    netloc = f"[{host}]" if ":" in host else host
    return urlunsplit((parts.scheme, netloc if port is None else f"{netloc}:{port}", parts.path, "", ""))


def _header(pairs, name):
    return next((value for key, value in pairs if key.lower() == name), None)


def _started(text, messages):
    """The session's start in epoch seconds: the entry's ``startedDateTime`` (the handshake),
    or the first message's time when that is missing, unreadable or later than the message."""
    first = next((m.get("time") for m in messages if isinstance(m, dict) and isinstance(m.get("time"), (int, float))
                  and not isinstance(m.get("time"), bool) and math.isfinite(m.get("time"))), None)
    started = None
    if isinstance(text, str):
        try:
            moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=datetime.timezone.utc)
            started = moment.timestamp()
        except (ValueError, OverflowError, OSError):
            started = None
    if started is None or (first is not None and started > first):
        started = first if first is not None else 0.0
    return started
