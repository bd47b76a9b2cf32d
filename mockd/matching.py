"""Matchers: the ``match.type`` values of matchers and wait steps.

Each built-in is registered through :func:`mockd_register_matchers`, the hook plugins use.
Comparison is case-sensitive and byte-wise on the raw payload (README.rst, "Matchers"); values are
compiled once at load (regexes, JSON paths, the bytes form of a value).

Patterns come from configs and the admin API, payloads from any client, and both meet on the
event loop: the regex and real-JSONPath matchers of one message share a time budget
(:mod:`mockd.budget`), a pattern longer than :data:`MAX_PATTERN_LENGTH`, with literals too long
to prepare (:mod:`mockd.regexcost` says why) or nested too deeply to compile is a
:class:`ConfigError` like any other invalid value.
"""
import logging

import regex

from . import schema
from .budget import _BUDGET, Budget
from .errors import ConfigError
from .hookspecs import hookimpl
from .jsonpaths import MAX_JSONPATH_NODES, JsonPath, PathTooCostly
from .message import NOT_JSON, config_text
from .regexcost import MAX_LITERAL_WEIGHT, literal_cost, unbudgeted_below
from .schema import excerpt, join_where
from .textrender import to_text

__all__ = ["MATCHED", "MAX_PATTERN_LENGTH", "MatchType", "Matcher", "render_json_scalar"]

log = logging.getLogger("mockd.matching")

MATCHED = {}  # the captures of a match that captures nothing; shared, never mutated
#: Characters of a regex pattern. Compiling runs on the event loop at about 10 us a character
#: (both the text and the bytes form, and as much again to weigh its literals: mockd.regexcost):
#: 10,000 is 0.25 s, and far beyond any hand-written pattern;
#: the 200,000-branch alternation that took 5.7 s is refused with a located error instead.
MAX_PATTERN_LENGTH = 10_000


def _one_search():
    return Budget(name="one search")


class MatchType:
    """Base class of match types.

    Subclasses set ``name`` (the YAML ``match.type``) and ``keys`` (the keys they accept
    besides ``type`` and ``messageType``: the core refuses others with a did-you-mean; ``None``
    leaves the check to :meth:`from_config`), and implement :meth:`from_config` and :meth:`match`.

    A matcher whose hit depends only on one key computed from the message may also set
    ``index`` to ``(group, key)``: ``group`` is a hashable object with ``key_of(message)``,
    and the matcher hits exactly when ``group.key_of(message) == key``. The rule dispatcher
    then finds such matchers by dictionary lookup instead of trying them one by one.
    """

    name = None
    keys = None
    index = None
    #: True when ``match`` spends the shared time budget (:func:`current_budget`): the
    #: dispatcher only opens a budget per message for rule sets that have such a matcher.
    budgeted = False

    @classmethod
    def from_config(cls, spec, where, build):
        """Validate ``spec`` (the ``match`` block without ``type``/``messageType``)."""
        raise NotImplementedError

    def match(self, message, context):
        """Return a mapping of captures (empty for a plain hit) or ``None`` for no match.

        :param message: the :class:`mockd.message.Message`.
        :param context: the :class:`mockd.message.MatchContext` (its ``connection`` is ``None``
            when a journal is searched). Captures become ``{{match.NAME}}`` in the reply.
        """
        raise NotImplementedError


#: The name of :class:`MatchType` before 1.0, kept so that 0.x plugins still load.
Matcher = MatchType


class _StringMatcher(MatchType):
    """Shared by the matchers that compare the payload with one string value."""

    keys = ("value",)

    def __init__(self, value):
        self.value = value
        self.value_bytes = value.encode("utf-8")

    @classmethod
    def from_config(cls, spec, where, build):
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
        # The same cut for text and binary: a text prefix is compared by bytes in upstream, and
        # the index only takes ASCII text prefixes, where characters and bytes are the same.
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


class RegexMatcher(MatchType):
    """An unanchored search (``regex.search``, Python ``re`` syntax); named groups become
    captures. A search that overruns :data:`mockd.budget.REGEX_TIME_BUDGET` is no match, logged once."""

    name = "regex"
    keys = ("value",)
    budgeted = True

    def __init__(self, pattern, where):
        self.where = where
        self.pattern = pattern
        if len(pattern) > MAX_PATTERN_LENGTH:
            raise ConfigError(f"regular expression {excerpt(pattern)} is {len(pattern)} characters long, more "
                              f"than {MAX_PATTERN_LENGTH}: compiling it would stall the server; match a prefix, "
                              "split it over several matchers, or use a 'json' matcher",
                              where=join_where(where, "value"))
        try:
            self.regex = regex.compile(pattern, regex.V0)
            self.regex_bytes = regex.compile(pattern.encode("utf-8"), regex.V0)
            self._refuse_costly_literals(where)  # a ConfigError, or a RecursionError parsing it again
        except (regex.error, ValueError, OverflowError) as exc:  # ValueError: (?u) in the bytes form
            raise ConfigError(f"invalid regular expression {excerpt(pattern)}: {exc}",
                              where=join_where(where, "value")) from None
        except RecursionError:
            raise ConfigError(f"regular expression {excerpt(pattern)} is nested too deeply to compile",
                              where=join_where(where, "value")) from None
        self.unbudgeted_below = unbudgeted_below(pattern)
        self._group_keys = tuple(str(number) for number in range(1, self.regex.groups + 1))
        self._named_groups = bool(self.regex.groupindex)
        self._warned = False

    def _refuse_costly_literals(self, where):
        cost = literal_cost(self.pattern)
        if cost is None or cost.weight <= MAX_LITERAL_WEIGHT:
            return
        together = "" if cost.weight == cost.longest else f", and its literals cost as much as one of {cost.weight}"
        raise ConfigError(f"regular expression {excerpt(self.pattern)} has literal text too long to search safely: "
                          f"the longest literal, {excerpt(cost.text)}, has {cost.longest} {cost.unit}{together}, more "
                          f"than {MAX_LITERAL_WEIGHT}. The regex package prepares a literal at its first search in time "
                          "that grows with the cube of its length, holding up the server; match long literal text "
                          "with an 'exact', 'contains', 'prefix' or 'suffix' matcher, or repeat a character with {n}",
                          where=join_where(where, "value"))

    @classmethod
    def from_config(cls, spec, where, build):
        pattern = schema.string(spec, "value", where, required=True)
        return cls(config_text(pattern, join_where(where, "value")), where)

    def match(self, message, context=None):
        compiled = self.regex_bytes if message.is_binary else self.regex
        data = message.data
        if len(data) < self.unbudgeted_below:
            m = compiled.search(data)
        else:
            budget = _BUDGET.get() or _one_search()
            timeout = budget.remaining()
            if timeout <= 0:  # spent by the matchers before this one, which said so
                return None
            try:
                m = compiled.search(data, timeout=timeout)
            except TimeoutError:
                _overrun(self, "regex", message, context, budget.describe(timeout),
                         f"(pattern {excerpt(self.pattern)} backtracks; nested repeats such as (a+)+ take "
                         "exponential time)")
                return None
        if m is None:
            return None
        # {{match.0}} the whole match, {{match.1}}... the groups, {{match.NAME}} the named ones;
        # a group that took no part is "". The keys are made at load (_group_keys).
        captures = dict(zip(self._group_keys, m.groups("")))
        captures["0"] = m.group(0)
        if self._named_groups:
            captures.update(m.groupdict(""))
        return captures


def _overrun(matcher, kind, message, context, limit, why):
    """Log that ``matcher`` ran out of ``limit``: once per matcher, not per message, so that a
    client repeating the message cannot flood the log as well."""
    if matcher._warned:
        return
    matcher._warned = True
    connection = getattr(context, "connection", None)
    mock_id = getattr(connection, "mock_id", None)
    log.warning("%s matcher %s%s: %s ran out while it searched a %d-byte message, treated as no match %s. "
                "Further overruns of this matcher are not logged.",
                kind, matcher.where or "match", f" of mock {mock_id!r}" if mock_id is not None else "",
                limit, len(message), why,
                extra={"mock_id": mock_id, "connection_id": getattr(connection, "id", None)})


def render_json_scalar(value):
    """A JSON value as the string a ``json`` matcher compares (README.rst, "Matchers"); null is None."""
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


class JsonMatcher(MatchType):
    """``path`` + ``value``: the payload parses as JSON and the value at path equals ``value``."""

    name = "json"
    keys = ("path", "value")

    def __init__(self, path, value, where=None):
        self.path = path
        self.value = value
        self.where = where
        self._warned = False
        if path.keys is not None:
            self.index = (_JsonKey(path), value)
        else:
            self.budgeted = True  # a real JSONPath: metered (jsonpaths.py), and on the clock

    @classmethod
    def from_config(cls, spec, where, build):
        path = schema.string(spec, "path", where, required=True)
        value = config_text(schema.string(spec, "value", where, default=""), join_where(where, "value"))
        return cls(JsonPath(path, join_where(where, "path")), value, where)

    def match(self, message, context=None):
        document = message.json()
        if document is NOT_JSON:
            return None
        if self.path.keys is not None:
            for found in self.path.values(document):
                if render_json_scalar(found) == self.value:
                    return {"value": found}  # {{match.value}}
            return None
        budget = _BUDGET.get() or _one_search()
        if budget.remaining() <= 0:  # spent by the matchers before this one, which said so
            return None
        try:
            for found in self.path.values(document, budget):
                if render_json_scalar(found) == self.value:
                    return {"value": found}
        except PathTooCostly as exc:
            limit = (budget.describe() if budget.remaining() <= 0
                     else f"the {MAX_JSONPATH_NODES} steps of one JSONPath evaluation")
            _overrun(self, "json", message, context, limit,
                     f"({exc}; path {excerpt(self.path.text)}: each '..' walks the whole document below it)")
        return None


BUILTIN_MATCHERS = (ExactMatcher, ContainsMatcher, PrefixMatcher, SuffixMatcher, RegexMatcher, JsonMatcher)


@hookimpl
def mockd_register_matchers():
    return BUILTIN_MATCHERS
