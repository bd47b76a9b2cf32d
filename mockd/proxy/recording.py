"""A recording: what flowed through one proxied session, as a JSON document.

``{"id", "mockId", "path", "upstream", "subprotocol", "startedAt", "requestHeaders",
"responseHeaders", "frames": [{"t": ms since open, "from": "client"|"server",
"type": "text"|"binary"|"close", "data": text or base64, "code": close code}]}``

Secrets never reach it: handshake headers are redacted when the recording is made
(:func:`redact_headers`), so neither the admin API nor a file written from it can leak them.
"""
import base64
import binascii
import datetime
import itertools
import os
import re
import time
from collections import OrderedDict
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..errors import ConfigError

__all__ = ["DEFAULT_REDACTED", "Frame", "Recording", "RecordingStore", "redact_headers", "redact_url"]

#: Handshake headers whose values never reach a recording, a log line or the journal.
DEFAULT_REDACTED = ("authorization", "cookie", "set-cookie", "sec-websocket-key", "proxy-authorization",
                    "sec-websocket-accept")
REDACTED = "[redacted]"
SENDERS = ("client", "server")
MAX_T = 1e10  # ms: about 115 days; beyond (or infinite, as JSON's 1e999 reads) is no real session
FRAME_TYPES = ("text", "binary", "close")

_counter = itertools.count(1)


def new_recording_id():
    return f"rec-{time.time_ns():016x}-{next(_counter) & 0xFFFF:04x}-{os.urandom(2).hex()}"


_SECRET_PARAMETER = re.compile(r"token|key|secret|pass|auth|sig|session|credential|jwt|code|bearer", re.IGNORECASE)
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 7230 token: what a subprotocol name is


def redact_url(url):
    """``url`` for a recording or a log line: a password in it and the values of query
    parameters named like secrets (``token``, ``api_key``, ``signature``...) replaced."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:  # user:password@ or a bare key@ (both are credentials)
        netloc = f"{REDACTED}@{netloc.rpartition('@')[2]}"
    query = urlencode([(name, REDACTED if _SECRET_PARAMETER.search(name) else value)
                       for name, value in parse_qsl(parts.query, keep_blank_values=True)], safe="[]")
    return urlunsplit((parts.scheme, netloc, parts.path, query, REDACTED if parts.fragment else ""))


def redact_headers(headers, extra=()):
    """``[[name, value], ...]`` with the values of secret headers replaced; ``extra`` names more
    (``--redact-header``), case-insensitively."""
    secret = set(DEFAULT_REDACTED) | {name.lower() for name in extra}
    return [[name, REDACTED if name.lower() in secret else value] for name, value in headers]


class Frame:
    """One frame of a recording. ``data`` is ``str`` for text (and a close's reason), ``bytes``
    for binary; ``t`` is milliseconds since the session opened."""

    __slots__ = ("t", "sender", "type", "data", "code")

    def __init__(self, t, sender, type, data, code=None):
        self.t = t
        self.sender = sender
        self.type = type
        self.data = data
        self.code = code

    def to_json(self):
        entry = {"t": self.t, "from": self.sender, "type": self.type,
                 "data": base64.b64encode(self.data).decode("ascii") if self.type == "binary" else self.data}
        if self.type == "close":
            entry["code"] = self.code
        return entry

    @classmethod
    def from_json(cls, entry, where):
        """Read one ``frames[i]`` entry; :class:`ConfigError` at ``where`` when it is not one."""
        if not isinstance(entry, dict):
            raise ConfigError("a frame is an object with t, from, type and data", where=where)
        t = entry.get("t", 0)
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 <= t <= MAX_T:
            raise ConfigError(f"t must be milliseconds since the session opened, not {t!r}", where=f"{where}.t")
        sender = entry.get("from")
        if sender not in SENDERS:
            raise ConfigError(f"from must be client or server, not {sender!r}", where=f"{where}.from")
        kind = entry.get("type")
        if kind not in FRAME_TYPES:
            raise ConfigError(f"type must be text, binary or close, not {kind!r}", where=f"{where}.type")
        data = entry.get("data", "")
        if not isinstance(data, str):
            raise ConfigError("data must be a string (base64 for a binary frame)", where=f"{where}.data")
        code = None
        if kind == "binary":
            try:
                data = base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError):
                raise ConfigError("data of a binary frame must be standard base64", where=f"{where}.data") from None
        elif kind == "close":
            code = entry.get("code")
            if code is not None and (isinstance(code, bool) or not isinstance(code, int)):
                raise ConfigError(f"code must be a close code such as 1000, not {code!r}", where=f"{where}.code")
        return cls(t, sender, kind, data, code)


class Recording:
    """One proxied session, in the making (the relay appends frames) or loaded from a file."""

    def __init__(self, mock_id, path, upstream, subprotocol=None, request_headers=(), response_headers=(),
                 recording_id=None, started_at=None):
        self.id = recording_id or new_recording_id()
        self.mock_id = mock_id
        self.path = path
        self.upstream = upstream
        self.subprotocol = subprotocol
        self.started_at = started_at or datetime.datetime.now(datetime.timezone.utc)
        self.request_headers = [list(pair) for pair in request_headers]
        self.response_headers = [list(pair) for pair in response_headers]
        self.frames = []
        self._opened = time.monotonic()

    def add(self, sender, kind, data, code=None):
        """Append a frame that flowed now."""
        t = round((time.monotonic() - self._opened) * 1000, 3)
        self.frames.append(Frame(t, sender, kind, data, code))

    def summary(self):
        return {"id": self.id, "mockId": self.mock_id, "path": self.path, "upstream": self.upstream,
                "subprotocol": self.subprotocol or "", "startedAt": _iso(self.started_at),
                "frames": len(self.frames)}

    def to_json(self):
        document = self.summary()
        document.update(requestHeaders=self.request_headers, responseHeaders=self.response_headers,
                        frames=[frame.to_json() for frame in self.frames])
        return document

    @classmethod
    def from_json(cls, document, where="recording"):
        """A recording from its document; :class:`ConfigError` located at the bad entry."""
        if not isinstance(document, dict) or not isinstance(document.get("frames"), list):
            raise ConfigError("not a mockd recording: an object with a 'frames' list is expected", where=where)
        path = document.get("path") or "/"
        if not isinstance(path, str) or not path.startswith("/"):
            raise ConfigError(f"path must start with /, not {path!r}", where=f"{where}.path")
        started = document.get("startedAt")
        try:
            started_at = datetime.datetime.fromisoformat(started.replace("Z", "+00:00")) if started else None
        except (AttributeError, ValueError):
            raise ConfigError(f"startedAt must be an ISO 8601 time, not {started!r}",
                              where=f"{where}.startedAt") from None
        for key in ("id", "mockId", "upstream", "subprotocol"):
            if document.get(key) is not None and not isinstance(document[key], str):
                raise ConfigError(f"{key} must be a string, not {document[key]!r}", where=f"{where}.{key}")
        subprotocol = document.get("subprotocol") or None
        if subprotocol is not None and not _TOKEN.fullmatch(subprotocol):
            raise ConfigError(f"subprotocol {subprotocol!r} is not a subprotocol name (RFC 6455 token)",
                              where=f"{where}.subprotocol")
        recording = cls(document.get("mockId"), path, document.get("upstream"), subprotocol,
                        _headers(document.get("requestHeaders")), _headers(document.get("responseHeaders")),
                        recording_id=document.get("id"), started_at=started_at)
        recording.frames = [Frame.from_json(entry, f"{where}.frames[{index}]")
                            for index, entry in enumerate(document["frames"])]
        return recording


def _headers(value):
    if isinstance(value, list):
        return [pair for pair in value if isinstance(pair, list) and len(pair) == 2]
    return []


def _iso(moment):
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class RecordingStore:
    """The recordings of one server, oldest dropped first past ``limit`` (``--max-recordings``)."""

    def __init__(self, limit=100):
        self.limit = limit
        self._items = OrderedDict()

    def add(self, recording):
        if self.limit <= 0:
            return
        self._items[recording.id] = recording
        while len(self._items) > self.limit:
            self._items.popitem(last=False)

    def get(self, recording_id):
        return self._items.get(recording_id)

    def remove(self, recording_id):
        return self._items.pop(recording_id, None)

    def __iter__(self):
        return iter(list(self._items.values()))

    def __len__(self):
        return len(self._items)
