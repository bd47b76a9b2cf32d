"""Matchers: the ``match.type`` values of matchers and wait steps.

Each built-in is registered through :func:`mockd_register_matchers`, the hook plugins use.
Comparison is case-sensitive and byte-wise on the raw payload (behaviour.md §5.2); values are
compiled once at load (regexes, JSON paths, the bytes form of a value).

Patterns come from configs and the admin API, payloads from any client, and both meet on the
event loop: a regex search has a time budget (:data:`REGEX_TIME_BUDGET`), and a pattern nested
too deeply to compile is a :class:`ConfigError` like any other invalid value.
"""
import logging
import re
import sys

import regex

from . import schema
from .errors import ConfigError
from .hookspecs import hookimpl
from .jsonpaths import JsonPath
from .message import NOT_JSON, Message, config_text
from .schema import excerpt, join_where
from .textrender import to_text

__all__ = ["Matcher", "Message", "NOT_JSON", "REGEX_TIME_BUDGET", "render_json_scalar"]

log = logging.getLogger("mockd.matching")

MATCHED = {}  # the captures of a match that captures nothing; shared, never mutated
#: Seconds of CPU time one regex search may take (the ``regex`` package's ``timeout``). A
#: backtracking pattern such as ``^(a|a)+$`` takes exponential time in the message length, and
#: it runs on the event loop: an overrun is no match, so every other client keeps being served.
#: A linear search of a 64 KB message takes about a millisecond; staying under the 100 ms of
#: ``--warn-blocking`` keeps an overrun from also being reported as a stall on every message.
REGEX_TIME_BUDGET = 0.05
# The budget's clock costs two system calls a search (a few times the search of a short
# message), so a search that cannot overrun goes without it: see _unbudgeted_below.
_FREE_STEPS = 10_000_000  # backtracking steps: about the budget at worst
_QUANTIFIER = re.compile(r"[*+?]|\{[\d,]")
_MAY_NEST = re.compile(r"[(|]|\{(?![\d,])")  # groups, alternation, regex's {e<=1} and \p{..}


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
        return cls(config_text(schema.string(spec, "value", where, default=""), join_where(where, "value")))

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
    """An unanchored search (``regex.search``, Python ``re`` syntax); named groups become
    captures. A search that overruns :data:`REGEX_TIME_BUDGET` is no match, logged once."""

    name = "regex"

    def __init__(self, pattern, where):
        self.where = where
        self.pattern = pattern
        try:
            self.regex = regex.compile(pattern, regex.V0)
            self.regex_bytes = regex.compile(pattern.encode("utf-8"), regex.V0)
        except (regex.error, ValueError, OverflowError) as exc:  # ValueError: (?u) in the bytes form
            raise ConfigError(f"invalid regular expression {excerpt(pattern)}: {exc}",
                              where=join_where(where, "value")) from None
        except RecursionError:
            raise ConfigError(f"regular expression {excerpt(pattern)} is nested too deeply to compile",
                              where=join_where(where, "value")) from None
        self.unbudgeted_below = _unbudgeted_below(pattern)
        self._warned = False

    @classmethod
    def from_config(cls, spec, where, build):
        schema.check_keys(spec, cls.keys + ("type", "messageType"), where)
        pattern = schema.string(spec, "value", where, required=True)
        return cls(config_text(pattern, join_where(where, "value")), where)

    def match(self, message, context=None):
        compiled = self.regex_bytes if message.is_binary else self.regex
        data = message.data
        if len(data) < self.unbudgeted_below:
            m = compiled.search(data)
        else:
            try:
                m = compiled.search(data, timeout=REGEX_TIME_BUDGET)
            except TimeoutError:
                self._overrun(message, context)
                return None
        if m is None:
            return None
        return m.groupdict() or MATCHED

    def _overrun(self, message, context):
        # One line per matcher, not per message: a client repeating the message must not be
        # able to flood the log as well.
        if self._warned:
            return
        self._warned = True
        mock_id = getattr(context, "mock_id", None)
        log.warning("regex matcher %s%s: searching a %d-byte message took more than %d ms, treated as no "
                    "match (pattern %s backtracks; nested repeats such as (a+)+ take exponential time). "
                    "Further overruns of this matcher are not logged.",
                    self.where or "match", f" of mock {mock_id!r}" if mock_id is not None else "",
                    len(message), REGEX_TIME_BUDGET * 1000, excerpt(self.pattern),
                    extra={"mock_id": mock_id, "connection_id": getattr(context, "id", None)})


def _unbudgeted_below(pattern):
    """The message length below which a search of ``pattern`` cannot overrun the budget.

    Without groups or alternation no repeat contains another (``(a+)+``, ``(a|a)+`` are the
    exponential cases): each of ``k`` repeats of one character or class takes one of ``n + 1``
    lengths, so a search tries at most ``n`` starts, ``(n + 1) ** k`` paths, ``n + m`` steps
    each. Anything the scan cannot rule out (escaped or bracketed ``*``, ``(``) counts against.
    """
    if _MAY_NEST.search(pattern):
        return 0
    repeats = len(_QUANTIFIER.findall(pattern))
    if not repeats:
        return sys.maxsize  # linear: at most the pattern's length at each position
    n = 0
    while (n + 1) * (n + 2) ** repeats * (n + 1 + len(pattern)) <= _FREE_STEPS:
        n += 1
    return n


def render_json_scalar(value):
    """A JSON value as the string a ``json`` matcher compares (behaviour.md §5.3); null is None."""
    return None if value is None else to_text(value)


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
        value = config_text(schema.string(spec, "value", where, default=""), join_where(where, "value"))
        return cls(JsonPath(path, join_where(where, "path")), value)

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
