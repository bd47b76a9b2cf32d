"""The inbound message as matchers, templates and plugins see it, and the :class:`MatchContext`
it is matched in."""
import re

from .depth import MAX_NESTING, deeper_than
from .errors import ConfigError
from .jsontext import loads_json

_UNPARSED = object()
NOT_JSON = object()  # ``Message.json()`` result for a payload that is not JSON

# A document nested deeper than MAX_NESTING has at least this many characters ("[[[...]]]").
_SHORTEST_TOO_DEEP = 2 * (MAX_NESTING + 1)
_SKELETON = bytes.maketrans(b"{}", b"[]")  # _too_deep's view of a text: brackets and quotes
_NOT_SKELETON = bytes(range(256)).translate(None, b'[]{}"')
_SURROGATE = re.compile("[\ud800-\udfff]")
_LONE_SURROGATE = re.compile("[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]")


class Message:
    """One WebSocket data message.

    ``data`` is ``str`` for a text frame and ``bytes`` for a binary frame. The JSON parse is
    done at most once per message and shared by every matcher and template that asks.
    """

    __slots__ = ("data", "is_binary", "_json", "_raw")

    def __init__(self, data, is_binary=None):
        if is_binary is None:
            is_binary = isinstance(data, (bytes, bytearray, memoryview))
        if is_binary and not isinstance(data, bytes):
            data = bytes(data)
        self.data = data
        self.is_binary = is_binary
        self._json = _UNPARSED
        self._raw = None

    @property
    def type(self):
        """``"binary"`` or ``"text"``, the names used by ``messageType``."""
        return "binary" if self.is_binary else "text"

    @property
    def text(self):
        """The payload as text (binary payloads decoded as UTF-8 with replacement)."""
        if self.is_binary:
            return self.data.decode("utf-8", "replace")
        return self.data

    @property
    def raw(self):
        """The payload as bytes, as it travelled on the wire."""
        if self._raw is None:
            self._raw = self.data if self.is_binary else self.data.encode("utf-8")
        return self._raw

    def __len__(self):
        return len(self.data) if self.is_binary else len(self.raw)

    def json(self):
        """The payload parsed as JSON, or :data:`NOT_JSON`. Parsed once, then cached.

        A document nested deeper than :data:`mockd.depth.MAX_NESTING` is not JSON either: no
        matcher, template or plugin has to survive walking it.
        """
        if self._json is _UNPARSED:
            data = self.data
            try:
                document = loads_json(data)
            except (ValueError, UnicodeDecodeError, RecursionError):
                document = NOT_JSON
            else:
                if len(data) >= _SHORTEST_TOO_DEEP and _too_deep(data, document):
                    document = NOT_JSON
            self._json = document
        return self._json

    def __repr__(self):
        return f"Message({self.data!r})"


class MatchContext:
    """What a match type's ``match(message, context)`` gets as ``context``: the same shape on a
    live connection and where no connection is (a journal search of ``POST
    /websocket/messages/wait`` or ``mockd.testing``'s ``wait_for``).

    :ivar message: the :class:`Message` being matched (also the first argument).
    :ivar path: the endpoint path the message came in on (``""`` when unknown).
    :ivar connection: the live :class:`mockd.connection.Connection`, or ``None`` outside one.
    :ivar server: the :class:`mockd.server.MockServer`.

    A context is valid during the ``match()`` call it is passed to: keep what you need from it,
    not the context (a connection reuses one for each of its messages).

    .. versionadded:: 1.0
    """

    __slots__ = ("message", "path", "connection", "server")

    def __init__(self, message, path="", connection=None, server=None):
        self.message = message
        self.path = path
        self.connection = connection
        self.server = server


def _too_deep(data, document):
    """Whether ``document`` (parsed from ``data``) nests deeper than :data:`MAX_NESTING`.

    Each step settles most of what reaches it, cheapest first: counting opening brackets (at
    memchr speed; an array of 10,000 numbers has one), then the bracket structure of the text,
    then a walk of the parsed containers.
    """
    is_text = data.__class__ is str
    if data.count("[" if is_text else b"[") + data.count("{" if is_text else b"{") <= MAX_NESTING:
        return False
    if is_text and '\\"' not in data:  # no escaped quote: quotes pair up
        # Keep only brackets (all made "[]": only the depth counts) and quotes, in C. A string
        # without brackets becomes '""'; a quote outside such a pair means a string holds
        # brackets, which would fake the structure: the walk below decides then.
        skeleton = data.encode("utf-8", "surrogatepass").translate(_SKELETON, _NOT_SKELETON)
        if 2 * skeleton.count(b'""') == skeleton.count(b'"'):
            skeleton = skeleton.translate(None, b'"')
            for _ in range(MAX_NESTING):  # each pass removes the innermost level everywhere
                if not skeleton:
                    return False
                skeleton = skeleton.replace(b"[]", b"")
            return bool(skeleton)
    return deeper_than(document, MAX_NESTING)


def as_frame(payload, what):
    """``payload`` as a frame's data: ``str`` (text), bytes-like (binary), or a ``dict``/``list``
    as compact JSON text. ``what`` names the caller for the TypeError on anything else."""
    if isinstance(payload, (str, bytes)):
        return payload
    if isinstance(payload, (bytearray, memoryview)):
        return bytes(payload)
    if isinstance(payload, (dict, list)):
        from .jsontext import dumps_json
        return dumps_json(payload)
    raise TypeError(f"{what} takes str (a text frame), bytes (a binary frame), a dict or list (JSON text) "
                    f"or a Response, not {type(payload).__name__}")


def sendable(text):
    """``text`` as a text frame can carry it: UTF-16 surrogate pairs (two code points, as
    PyYAML reads ``"\\ud83d\\ude00"``) become their character and lone surrogates (JSON's
    ``"\\ud800"``) become U+FFFD. Call it only after ``text.encode()`` failed: it costs a copy.
    """
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def config_text(text, where):
    """``text`` from a config, with surrogate pairs joined into their character; a lone
    surrogate, which no frame can carry, is a :class:`ConfigError` located at ``where``."""
    if _SURROGATE.search(text) is None:
        return text
    lone = _LONE_SURROGATE.search(text)
    if lone is not None:
        raise ConfigError(f"lone UTF-16 surrogate {lone.group()!r} at character {lone.start()} is not a "
                          "character and cannot be sent; write the character itself, or both halves of "
                          "a surrogate pair", where=where)
    return sendable(text)
