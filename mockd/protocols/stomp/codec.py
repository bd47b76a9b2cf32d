"""STOMP 1.0/1.1/1.2 frames on the wire: an incremental parser and an encoder.

Pure bytes in and out (no gevent, no mockd state), so it is unit-tested on its own. Over
WebSocket a frame may be split across messages and one message may pack several frames (and
heart-beat EOLs), so the parser is fed the bytes of each message and returns what completed.

Grammar (STOMP 1.2, "Augmented BNF"): ``command EOL *(header EOL) EOL body NUL *(EOL)``, EOL
being LF or CR LF. A ``content-length`` header says how many body bytes there are (the body may
then hold NULs); without it the body ends at the first NUL. Header values are escaped
(``\\n \\c \\\\``, and ``\\r`` in 1.2) from 1.1 on, except in CONNECT, STOMP and CONNECTED,
whose headers predate the version being known. A repeated header: the first one counts.
"""
import re

__all__ = ["HEARTBEAT", "SUPPORTED_VERSIONS", "Frame", "FrameError", "FrameParser", "describe", "encode_frame",
           "negotiate_heart_beat", "negotiate_version", "parse_heart_beat", "utf8"]

SUPPORTED_VERSIONS = ("1.0", "1.1", "1.2")
#: Commands whose headers are never escaped (the version is not agreed yet, or is being agreed).
UNESCAPED = frozenset({"CONNECT", "STOMP", "CONNECTED"})
HEARTBEAT = "heart-beat"  # what the parser returns for an EOL between frames

_HEAD_END = re.compile(rb"\n\r?\n")  # the EOL that ends the last header line, then the blank line
_COMMAND = re.compile(r"[A-Z][A-Z0-9_-]*\Z")
_ESCAPED = re.compile(r"\\(.?)", re.S)
_UNESCAPES = {"1.1": {"n": "\n", "c": ":", "\\": "\\"},
              "1.2": {"n": "\n", "c": ":", "\\": "\\", "r": "\r"}}
_ESCAPES = {"1.1": str.maketrans({"\\": "\\\\", "\n": "\\n", ":": "\\c"}),
            "1.2": str.maketrans({"\\": "\\\\", "\n": "\\n", ":": "\\c", "\r": "\\r"}),
            # 1.0 has no escapes: a line break cannot be carried, a colon in a value can.
            "1.0": str.maketrans({"\n": " ", "\r": " "})}


class FrameError(Exception):
    """A frame that breaks the grammar: ``message`` is the short text of the ERROR frame's
    ``message`` header, ``detail`` the explanation its body carries."""

    def __init__(self, message, detail=""):
        super().__init__(message)
        self.message = message
        self.detail = detail


class Frame:
    """One parsed frame: ``command`` (str), ``headers`` (dict, first occurrence of each name),
    ``body`` (bytes)."""

    __slots__ = ("command", "headers", "body")

    def __init__(self, command, headers, body=b""):
        self.command = command
        self.headers = headers
        self.body = body

    def __repr__(self):
        return f"Frame({self.command!r}, {self.headers!r}, {self.body!r})"


class FrameParser:
    """Feed it each WebSocket message's bytes; it returns the frames (and :data:`HEARTBEAT`
    markers) that completed, keeping a partial frame for the next message.

    :param max_frame_size: the largest frame (command, headers and body) it buffers; a larger
        one is a :class:`FrameError`, never unbounded memory.
    :ivar version: the negotiated version (``None`` before CONNECT): it decides the escapes.
    """

    def __init__(self, max_frame_size):
        self.max_frame_size = max_frame_size
        self.version = None
        self._buffer = bytearray()
        self._scanned = 0    # how far the search for the current frame's end got already
        self._head = None    # (command, headers, body start, content-length) once the headers are read
        self.failed = None   # the FrameError that ended the stream: nothing is parsed after it

    @property
    def pending(self):
        """Whether a frame has begun and not ended (a heart-beat's lone CR counts too)."""
        return bool(self._buffer) and self.failed is None

    def feed(self, data):
        """The frames completed by ``data``, then, if the stream broke, the :class:`FrameError`
        as the last item (the frames before it are still valid and are to be handled first)."""
        if self.failed is not None:
            return []
        self._buffer += data
        items = []
        try:
            while self._buffer:
                item = self._next()
                if item is None:
                    break
                items.append(item)
        except FrameError as exc:
            self.failed = exc
            self._buffer.clear()
            items.append(exc)
        return items

    def _next(self):
        buffer = self._buffer
        if self._head is None:
            first = buffer[0]
            if first == 0x0A:  # LF: a heart-beat (or the EOLs allowed after a NUL)
                del buffer[:1]
                return HEARTBEAT
            if first == 0x0D:
                if len(buffer) < 2:
                    return None
                if buffer[1] != 0x0A:
                    raise FrameError("malformed frame", "a CR between frames must be followed by LF (CR LF is an EOL)")
                del buffer[:2]
                return HEARTBEAT
            found = _HEAD_END.search(buffer, max(0, self._scanned - 2))
            end = found.start() if found else len(buffer)
            if buffer.find(0, self._scanned, end) >= 0:
                raise FrameError("malformed frame", "a NUL came before the blank line that ends the command and "
                                 "headers: a frame is COMMAND, header lines, an empty line, the body, then NUL")
            if found is None:
                self._scanned = len(buffer)
                self._check_size(len(buffer))
                return None
            self._head = self._parse_head(bytes(buffer[:found.start()]), found.end())
            self._scanned = found.end()
        command, headers, start, length = self._head
        if length is not None:
            if len(buffer) < start + length + 1:
                return None
            if buffer[start + length] != 0:
                raise FrameError("malformed frame", f"{command}: the byte after the {length} body bytes that "
                                 "content-length announced is not the NUL that ends a frame")
            end = start + length
        else:
            end = buffer.find(0, self._scanned)
            if end < 0:
                self._scanned = len(buffer)
                self._check_size(len(buffer))
                return None
        frame = Frame(command, headers, bytes(buffer[start:end]))
        del buffer[:end + 1]
        self._head, self._scanned = None, 0
        return frame

    def _check_size(self, size):
        if size > self.max_frame_size:
            raise FrameError("frame too large", f"a frame over {self.max_frame_size} bytes (the mock's maxFrameSize), "
                             "or one whose NUL never came")

    def _parse_head(self, head, body_start):
        try:
            text = head.decode("utf-8")
        except UnicodeDecodeError:
            raise FrameError("malformed frame", "the command and headers must be UTF-8") from None
        lines = [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]
        command = lines[0]
        if not _COMMAND.match(command):
            raise FrameError("malformed frame", f"{_excerpt(command)} is not a command (an upper-case word such "
                             "as SEND on the frame's first line)")
        unescape = None if command in UNESCAPED else _UNESCAPES.get(self.version)
        headers = {}
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not colon:
                raise FrameError("malformed frame", f"{command}: header line {_excerpt(line)} has no ':'")
            if unescape is not None:
                name, value = _unescape(name, unescape, command), _unescape(value, unescape, command)
            headers.setdefault(name, value)
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit() or not length.isascii() or len(length) > 18:  # int() refuses 4,300 digits
                raise FrameError("malformed frame", f"{command}: content-length {_excerpt(length)} is not a "
                                 "number of bytes")
            length = int(length)
            self._check_size(body_start + length)
        return command, headers, body_start, length


def _unescape(text, table, command):
    if "\\" not in text:
        return text

    def replace(match):
        value = table.get(match.group(1))
        if value is None:
            known = ", ".join("\\" + key for key in table)
            raise FrameError("malformed frame", f"{command}: {_excerpt(match.group())} is not an escape STOMP "
                             f"defines in a header ({known})")
        return value
    return _ESCAPED.sub(replace, text)


#: The header that says what a client frame is about, for its one-line description.
_SUBJECT = {"SEND": "destination", "SUBSCRIBE": "destination", "UNSUBSCRIBE": "id", "ACK": "id", "NACK": "id",
            "BEGIN": "transaction", "COMMIT": "transaction", "ABORT": "transaction", "MESSAGE": "destination",
            "RECEIPT": "receipt-id", "ERROR": "message", "CONNECTED": "version"}


def describe(item):
    """A frame in one line, as the journal shows it: ``SEND /app/chat``, ``ACK 7``,
    ``heart-beat``, ``malformed frame``."""
    if item == HEARTBEAT:
        return HEARTBEAT
    if isinstance(item, FrameError):
        return f"malformed frame ({item.message})" if item.message != "malformed frame" else item.message
    subject = _SUBJECT.get(item.command)
    value = item.headers.get(subject) if subject else None
    if value is None and item.command in ("ACK", "NACK"):
        value = item.headers.get("message-id")  # 1.0 and 1.1 name the message, 1.2 its ack id
    if not value:
        return item.command
    value = " ".join(value.split())  # one line, whatever the header held
    return f"{item.command} {value if len(value) <= 80 else value[:80] + '...'}"


def _excerpt(text, limit=40):
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}..."


def utf8(text):
    """``text`` as UTF-8; a lone surrogate (a client's JSON ``"\\ud800"`` rendered by a template)
    becomes U+FFFD instead of failing, as mockd does for every text frame."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace").encode("utf-8")


def encode_frame(command, headers=(), body=b"", version="1.2"):
    """The bytes of a frame: ``headers`` are ``(name, value)`` pairs (str), escaped as
    ``version`` wants (not at all in CONNECTED), ``body`` bytes. Nobody adds content-length
    for the caller: frames that carry a body should list it."""
    table = None if command in UNESCAPED else _ESCAPES.get(version or "1.0")
    lines = [command]
    for name, value in headers:
        if table is not None:
            name, value = name.translate(table), value.translate(table)
        lines.append(f"{name}:{value}")
    return utf8("\n".join(lines)) + b"\n\n" + body + b"\0"


def negotiate_version(accept_version):
    """The highest version both sides speak, from a CONNECT's ``accept-version`` header
    (absent: the client speaks 1.0), or ``None``."""
    if accept_version is None:
        return "1.0"
    offered = {part.strip() for part in accept_version.split(",")}
    common = [version for version in SUPPORTED_VERSIONS if version in offered]
    return common[-1] if common else None


def parse_heart_beat(value):
    """``(cx, cy)`` in milliseconds from a ``heart-beat`` header (absent: ``(0, 0)``)."""
    if value is None:
        return 0, 0
    parts = value.split(",")
    if len(parts) != 2 or not all(part.strip().isdigit() and part.strip().isascii() and len(part.strip()) <= 18
                                  for part in parts):
        raise FrameError("malformed heart-beat", f"heart-beat {_excerpt(value)} is not two numbers of milliseconds "
                         "'cx,cy' (0,0: none)")
    return int(parts[0]), int(parts[1])


def negotiate_heart_beat(client, server):
    """``(send, receive)`` milliseconds for the server: how often it sends heart-beats, how
    often it expects them (0: never). ``client`` is the CONNECT's ``(cx, cy)``, ``server`` the
    server's own ``(sx, sy)``; per the spec each direction is the larger of the two sides'
    values, and off when either side says 0."""
    cx, cy = client
    sx, sy = server
    send = max(sx, cy) if sx and cy else 0
    receive = max(sy, cx) if sy and cx else 0
    return send, receive
