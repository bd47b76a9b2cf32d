"""Matchers: the ``match.type`` values of matchers and wait steps.

Each built-in is registered through :func:`mockd_register_matchers`, the hook plugins use.
Comparison is case-sensitive and byte-wise on the raw payload (behaviour.md §5.2); values are
compiled once at load (regexes, JSON paths, the bytes form of a value).
"""
import re

from . import schema
from .errors import ConfigError
from .hookspecs import hookimpl
from .message import NOT_JSON, Message
from .schema import join_where
from .textrender import to_text

__all__ = ["Matcher", "Message", "NOT_JSON", "render_json_scalar"]

MATCHED = {}  # the captures of a match that captures nothing; shared, never mutated


class Matcher:
    """Base class of match types.

    Subclasses set ``name`` (the YAML ``match.type``) and ``keys`` (the keys they accept
    besides ``type`` and ``messageType``), and implement :meth:`from_config` and :meth:`match`.

    A matcher whose hit depends only on one key computed from the message may also set
    ``index`` to ``(group, key)``: ``group`` is a hashable object with ``key_of(message)``,
    and the matcher hits exactly when ``group.key_of(message) == key``. The rule dispatcher
    then finds such matchers by dictionary lookup instead of trying them one by one.
    """

    name = None
    keys = ("value",)
    index = None

    @classmethod
    def from_config(cls, spec, where, build):
        """Validate ``spec`` (the ``match`` block without ``type``/``messageType``)."""
        raise NotImplementedError

    def match(self, message, context=None):
        """Return a mapping of captures (empty for a plain hit) or ``None`` for no match."""
        raise NotImplementedError


class _StringMatcher(Matcher):
    """Shared by the matchers that compare the payload with one string value."""

    def __init__(self, value):
        self.value = value
        self.value_bytes = value.encode("utf-8")

    @classmethod
    def from_config(cls, spec, where, build):
        schema.check_keys(spec, cls.keys + ("type", "messageType"), where)
        return cls(schema.string(spec, "value", where, default=""))

    def _operand(self, message):
        return self.value_bytes if message.is_binary else self.value


class _DataKey:
    """Index group: the whole payload (``exact``) or its first ``length`` characters/bytes."""

    __slots__ = ("length",)

    def __init__(self, length=None):
        self.length = length

    def key_of(self, message):
        data = message.data
        if self.length is None:
            return data
        if message.is_binary:
            return data[:self.length] if len(data) >= self.length else None
        # A text prefix is compared by bytes in upstream; characters are equivalent for UTF-8.
        return data[:self.length] if len(data) >= self.length else None

    def __eq__(self, other):
        return type(other) is _DataKey and other.length == self.length

    def __hash__(self):
        return hash((_DataKey, self.length))


class ExactMatcher(_StringMatcher):
    name = "exact"

    def __init__(self, value):
        super().__init__(value)
        self.index = (_DataKey(None), value)

    def match(self, message, context=None):
        return MATCHED if message.data == self._operand(message) else None


class ContainsMatcher(_StringMatcher):
    name = "contains"

    def match(self, message, context=None):
        return MATCHED if self._operand(message) in message.data else None


class PrefixMatcher(_StringMatcher):
    name = "prefix"

    def __init__(self, value):
        super().__init__(value)
        if value and value.isascii():
            # Only ASCII: then character and byte prefixes have the same length.
            self.index = (_DataKey(len(value)), value)

    def match(self, message, context=None):
        return MATCHED if message.data.startswith(self._operand(message)) else None


class SuffixMatcher(_StringMatcher):
    name = "suffix"

    def match(self, message, context=None):
        return MATCHED if message.data.endswith(self._operand(message)) else None


class RegexMatcher(Matcher):
    """An unanchored search (``re.search``); named groups become captures."""

    name = "regex"

    def __init__(self, pattern, where):
        try:
            self.regex = re.compile(pattern)
            self.regex_bytes = re.compile(pattern.encode("utf-8"))
        except re.error as exc:
            raise ConfigError(f"invalid regular expression {pattern!r}: {exc}", where=join_where(where, "value")) from None

    @classmethod
    def from_config(cls, spec, where, build):
        schema.check_keys(spec, cls.keys + ("type", "messageType"), where)
        return cls(schema.string(spec, "value", where, required=True), where)

    def match(self, message, context=None):
        m = (self.regex_bytes if message.is_binary else self.regex).search(message.data)
        if m is None:
            return None
        return m.groupdict() or MATCHED


def render_json_scalar(value):
    """A JSON value as the string a ``json`` matcher compares (behaviour.md §5.3); null is None."""
    return None if value is None else to_text(value)


_DOTTED = re.compile(r"^[^\[\]*?@()]*$")


class JsonPath:
    """A compiled ``path``: a dotted key walk (upstream's semantics), or jsonpath-ng.

    ``$.a.b``, ``a.b`` and ``$.`` are walked over object keys; anything with brackets,
    wildcards or filters is real JSONPath, compiled once with jsonpath-ng.
    """

    __slots__ = ("text", "keys", "expr")

    def __init__(self, text, where):
        self.text = text
        self.expr = None
        if _DOTTED.match(text):
            stripped = text[2:] if text.startswith("$.") else ("" if text == "$" else text)
            self.keys = tuple(part for part in stripped.split(".") if part)
        else:
            self.keys = None
            try:
                from jsonpath_ng.ext import parse
                self.expr = parse(text)
            except Exception as exc:  # jsonpath-ng raises several unrelated types
                raise ConfigError(f"invalid JSONPath {text!r}: {exc}", where=where) from None

    def values(self, document):
        """Yield the values found in ``document``."""
        if self.keys is not None:
            if not isinstance(document, dict):
                return
            node = document
            for key in self.keys:
                if not isinstance(node, dict) or key not in node:
                    return
                node = node[key]
            yield node
        else:
            for found in self.expr.find(document):
                yield found.value

    def __eq__(self, other):
        return isinstance(other, JsonPath) and other.text == self.text

    def __hash__(self):
        return hash((JsonPath, self.text))


class _JsonKey:
    """Index group: the rendered value at one JSON path (dotted paths only)."""

    __slots__ = ("path",)

    def __init__(self, path):
        self.path = path

    def key_of(self, message):
        document = message.json()
        if document is NOT_JSON:
            return None
        for value in self.path.values(document):
            return render_json_scalar(value)
        return None

    def __eq__(self, other):
        return type(other) is _JsonKey and other.path == self.path

    def __hash__(self):
        return hash((_JsonKey, self.path))


class JsonMatcher(Matcher):
    """``path`` + ``value``: the payload parses as JSON and the value at path equals ``value``."""

    name = "json"
    keys = ("path", "value")

    def __init__(self, path, value):
        self.path = path
        self.value = value
        if path.keys is not None:
            self.index = (_JsonKey(path), value)

    @classmethod
    def from_config(cls, spec, where, build):
        schema.check_keys(spec, cls.keys + ("type", "messageType"), where)
        path = schema.string(spec, "path", where, required=True)
        return cls(JsonPath(path, join_where(where, "path")), schema.string(spec, "value", where, default=""))

    def match(self, message, context=None):
        document = message.json()
        if document is NOT_JSON:
            return None
        for found in self.path.values(document):
            if render_json_scalar(found) == self.value:
                return MATCHED
        return None


BUILTIN_MATCHERS = (ExactMatcher, ContainsMatcher, PrefixMatcher, SuffixMatcher, RegexMatcher, JsonMatcher)


@hookimpl
def mockd_register_matchers():
    return BUILTIN_MATCHERS
