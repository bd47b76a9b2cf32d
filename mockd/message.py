"""The inbound message as matchers, templates and plugins see it."""
import json

_UNPARSED = object()
NOT_JSON = object()  # ``Message.json()`` result for a payload that is not JSON


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
        """The payload parsed as JSON, or :data:`NOT_JSON`. Parsed once, then cached."""
        if self._json is _UNPARSED:
            try:
                self._json = json.loads(self.data)
            except (ValueError, UnicodeDecodeError):
                self._json = NOT_JSON
        return self._json

    def __repr__(self):
        return f"Message({self.data!r})"
