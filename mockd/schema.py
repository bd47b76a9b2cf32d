"""Field readers for config validation: each one checks a value and says where it is wrong.

Every reader takes ``where`` (``mocks[2].websocket.path``) and raises :class:`ConfigError`
located there, naming the allowed values when there is a closed set.
"""
import base64
import binascii
import difflib
import math
import re

from .durations import parse_duration
from .errors import ConfigError
from .yamlload import scalar_text

_MISSING = object()
_TOP_KEY = re.compile(r"[^.\[]*")  # "mocks" of "mocks[2].websocket.path"
_UNADDRESSABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")  # control characters, lone surrogates


def type_name(value, in_json=False):
    """How error messages name the type of ``value``: a list and a mapping are "an array" and
    "an object" ``in_json`` (request bodies), as YAML has them otherwise (config files)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array" if in_json else "a list"
    if isinstance(value, dict):
        return "an object" if in_json else "a mapping"
    return type(value).__name__


def join_where(where, key):
    if isinstance(key, int):
        return f"{where}[{key}]"
    return f"{where}.{key}" if where else key


def one_of_hint(value, choices, label="allowed"):
    """``(allowed: a, b, c)`` plus a did-you-mean when one is close."""
    choices = sorted(choices)
    hint = f"({label}: {', '.join(choices)})"
    close = difflib.get_close_matches(str(value), choices, n=1, cutoff=0.6)
    if close:
        hint += f"; did you mean {close[0]!r}?"
    return hint


def excerpt(text, limit=60):
    """``repr(text)`` for an error message, cut after ``limit`` characters: a rejected pattern
    may be 6,000 characters long."""
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}... ({len(text)} characters)"


def mapping(value, where, what="a mapping"):
    if not isinstance(value, dict):
        raise ConfigError(f"expected {what}, got {type_name(value)}", where=where)
    return value


def sequence(value, where):
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError(f"expected a list, got {type_name(value)}", where=where)
    return value


def check_keys(spec, allowed, where, accepted=(), moved=None):
    """Reject keys outside ``allowed`` and ``accepted``, each unknown key an error of its own: a
    typo must not be silently ignored.

    :param allowed: the documented keys, listed in the message.
    :param accepted: keys read without being advertised (upstream's bookkeeping such as
        ``metaSortKey``): a file exported by the Go tool loads, but nobody is told to write them.
    :param moved: ``{key: "websocket.path"}`` for keys that belong elsewhere, suggested instead
        of the closest allowed key.
    """
    errors = []
    for key in spec:
        if key in allowed or key in accepted:
            continue
        if moved and key in moved:
            hint = f"{one_of_hint('', allowed)}; did you mean {moved[key]!r}?"
        else:
            hint = one_of_hint(key, allowed)
        errors.append(ConfigError(f"unknown key {key!r} {hint}", where=join_where(where, key)))
    if errors:
        raise ConfigError.combine(errors)


class Problems:
    """The errors found so far in one document, so that one run reports them all.

    Independent parts (each mock, each matcher, each field) are validated through
    :meth:`attempt`; :meth:`check` then raises one :class:`ConfigError` standing for all.
    """

    def __init__(self):
        self.errors = []

    def attempt(self, func, *args, **kwargs):
        """``func(*args, **kwargs)``, or None once its :class:`ConfigError` is kept."""
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            self.errors.append(exc)
            return None

    def add(self, message, where):
        self.errors.append(ConfigError(message, where=where))

    def check(self, order=None, where=None):
        """Raise the errors found, if any, in the order of the file when ``order`` is given: the
        keys of the mapping at ``where``, each error ranked by the key below ``where`` it is under."""
        if not self.errors:
            return
        leaves = [leaf for error in self.errors for leaf in error.errors]
        if order is not None:
            rank = {key: index for index, key in enumerate(order)}
            skip = len(where) + 1 if where else 0  # "mocks[0].websocket" and the dot
            leaves.sort(key=lambda error: rank.get(_TOP_KEY.match(error.where or "", skip).group(), -1))
        combined = ConfigError.combine(leaves)
        combined.omitted += sum(error.omitted for error in self.errors)  # beyond the cap already
        raise combined


def string(spec, key, where, required=False, default=None, allow_empty=True):
    """A string field; YAML scalars keep their literal text (``42`` reads as ``"42"``)."""
    value = spec.get(key, _MISSING)
    at = join_where(where, key)
    if value is _MISSING or value is None:
        if required:
            raise ConfigError(f"{key} is required", where=at)
        return default
    if isinstance(value, (dict, list)):
        raise ConfigError(f"expected a string, got {type_name(value)}", where=at)
    if not isinstance(value, str):
        value = scalar_text(value)
    if not value and not allow_empty:
        raise ConfigError(f"{key} must not be empty", where=at)
    return value


def path_segment(spec, key, where):
    """A non-empty string that names a thing in an admin URL (a mock id in ``/mocks/{id}``).

    ``/`` would split the segment and ``.``/``..`` are removed by URL normalisation (curl,
    browsers), so no client could address such an id; control characters and lone surrogates
    cannot be written in a URL (or as UTF-8) at all. Every other character can: ``?``, ``#``,
    ``%`` or a space as ``%3F``, ``%23``, ``%25``, ``%20``.
    """
    value = string(spec, key, where, allow_empty=False)
    if value is None:
        return None
    at = join_where(where, key)
    if "/" in value or value in (".", ".."):
        raise ConfigError(f"{key} {value!r} cannot be addressed as /mocks/{{{key}}} on the admin API: "
                          f"it must not contain '/' nor be '.' or '..'", where=at)
    bad = _UNADDRESSABLE.search(value)
    if bad:
        raise ConfigError(f"{key} must not contain control characters or lone surrogates "
                          f"(found {bad.group()!r} at index {bad.start()})", where=at)
    return value


def boolean(spec, key, where, default=None):
    value = spec.get(key, _MISSING)
    if value is _MISSING or value is None:
        return default
    if not isinstance(value, bool):
        raise ConfigError(f"expected true or false, got {value!r}", where=join_where(where, key))
    return value


def integer(spec, key, where, default=None, minimum=None):
    value = spec.get(key, _MISSING)
    at = join_where(where, key)
    if value is _MISSING or value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"expected a whole number, got {value!r}", where=at)
    if minimum is not None and value < minimum:
        raise ConfigError(f"must be at least {minimum}, got {value}", where=at)
    return int(value)


def duration(spec, key, where, default=None, positive=False):
    """A Go-style duration string in seconds; ``""`` or absent means ``default``."""
    value = spec.get(key, _MISSING)
    at = join_where(where, key)
    if value is _MISSING or value is None or value == "":
        return default
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ConfigError(f"expected a duration string like '500ms' or '30s', got {type_name(value)}", where=at)
    if not isinstance(value, str):
        if value == 0:
            return 0.0
        if isinstance(value, float) and not math.isfinite(value):  # JSON's NaN, Infinity
            raise ConfigError(f"expected a duration string like '500ms' or '30s', got {value!r}", where=at)
        raise ConfigError(
            f"a duration needs a unit: write '{scalar_text(value)}s' or '{scalar_text(value)}ms', "
            f"not a bare number", where=at)
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise ConfigError(str(exc), where=at) from None
    if seconds < 0 or (positive and seconds == 0):
        raise ConfigError(f"duration must be {'positive' if positive else 'zero or more'}, got {value!r}", where=at)
    return seconds


def choice(spec, key, where, choices, default=None):
    value = string(spec, key, where, default=default)
    if value is not None and value not in choices:
        raise ConfigError(f"unknown value {value!r} {one_of_hint(value, choices)}", where=join_where(where, key))
    return value


def base64_bytes(text, where):
    """Standard base64 with padding, strictly: a typo must not be sent as garbage."""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise ConfigError("value is not valid base64 (standard alphabet, with '=' padding)", where=where) from None
