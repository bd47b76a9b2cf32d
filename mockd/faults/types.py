"""The fault seam: :class:`FaultType`, what a plugin subclasses to add a fault, and
:class:`Fault`, one entry of a mock's ``websocket.faults`` as the core compiled it.

A fault entry is one flat mapping: the type's own keys plus the core's ``type``,
``probability`` (per connection, 0..1) and ``after`` (``{messages: N}`` or ``{duration: 5s}``);
a handshake fault takes ``count`` (the next N upgrades) instead of ``after``.
Pure: ``mockd check`` validates faults without gevent.
"""
import math

from .. import schema
from ..errors import ConfigError
from ..schema import excerpt, join_where

__all__ = ["COMMON_KEYS", "Fault", "FaultType", "build_fault", "build_faults"]

COMMON_KEYS = ("type", "probability", "after")
_AFTER_KEYS = ("messages", "duration")


class FaultType:
    """Base class of fault types (``websocket.faults: [{type: NAME, ...}]``).

    Subclasses set ``name`` (the ``type`` value), ``keys`` (the keys of their own that an
    entry may carry; the core refuses others and handles ``type``, ``probability`` and
    ``after``) and ``stage``:

    - ``"connection"``: :meth:`apply` gets a :class:`mockd.faults.FaultContext` for one live
      connection, when the fault's trigger fires;
    - ``"handshake"``: :meth:`apply` gets a :class:`mockd.faults.HandshakeContext` for each
      upgrade attempt of the mock, before it is answered, and returns what the context's
      ``refuse()``, ``reset()`` or ``hang()`` returned to stop the upgrade, or None to let it be.

    :meth:`from_config` validates an entry (called once, at load or on an admin POST).

    .. versionadded:: 1.1
    """

    name = None
    keys = ()
    stage = "connection"

    @classmethod
    def from_config(cls, spec, where, build):
        """Validate ``spec`` (the entry's own keys) and return the instance that applies it."""
        return cls()

    def apply(self, ctx):
        raise NotImplementedError


class Fault:
    """One compiled fault entry: the type's instance and the core's trigger settings."""

    __slots__ = ("spec", "type", "stage", "instance", "probability", "after_messages", "after_seconds", "count")

    def __init__(self, spec, instance, probability, after_messages, after_seconds, count=None):
        self.spec = spec                  # as written (JSON-safe), for the admin API and the journal
        self.type = spec["type"]
        self.stage = getattr(type(instance), "stage", "connection")
        self.instance = instance
        self.probability = probability    # None: always
        self.after_messages = after_messages
        self.after_seconds = after_seconds
        self.count = count                # handshake faults: how many upgrades, from when applied

    def __repr__(self):
        return f"Fault({self.spec!r})"


def _probability(spec, where):
    value = spec.get("probability")
    if value is None:
        return None
    at = join_where(where, "probability")
    # (isfinite of a 400-digit int raises OverflowError: ints are compared, never converted)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            isinstance(value, float) and not math.isfinite(value)):
        raise ConfigError(f"expected a number from 0 to 1, got {excerpt(repr(value))}", where=at)
    if not 0 <= value <= 1:
        raise ConfigError(f"must be from 0 to 1 (a share of connections), got {excerpt(repr(value))}", where=at)
    return float(value)


def _after(spec, where, stage):
    value = spec.get("after")
    if value is None:
        return None, None
    at = join_where(where, "after")
    if stage == "handshake":
        raise ConfigError("a handshake fault applies to the next upgrades, it has no 'after' (use 'count')", where=at)
    value = schema.mapping(value, at, "a mapping like {messages: 3} or {duration: 5s}")
    schema.check_keys(value, _AFTER_KEYS, at)
    given = [key for key in _AFTER_KEYS if value.get(key) is not None]
    if len(given) != 1:
        raise ConfigError("give one of 'messages' (after the N-th message) or 'duration' (after that long "
                          "since the upgrade)", where=at)
    messages = schema.integer(value, "messages", at, minimum=1)
    seconds = bounded_seconds(value, "duration", at)
    return messages, seconds


#: The longest duration a fault takes (latency, after, hang): longer is a typo, and a frame
#: held for 100,000 hours is a connection wedged for good.
MAX_SECONDS = 86400.0


def bounded_seconds(spec, key, where, default=None):
    """A duration of at most :data:`MAX_SECONDS` (a day)."""
    seconds = schema.duration(spec, key, where, default=default)
    if seconds is not None and seconds > MAX_SECONDS:
        raise ConfigError(f"at most 24h, got {excerpt(str(spec.get(key)))}", where=join_where(where, key))
    return seconds


def build_fault(spec, where, build):
    """Compile one fault entry; a located :class:`ConfigError` names every problem of it."""
    spec = schema.mapping(spec, where, "a mapping like {type: close, code: 4000}")
    name = spec.get("type")
    stage = getattr(build.registry.fault_types.get(name) if isinstance(name, str) else None, "stage", "connection")
    problems = schema.Problems()
    typed = problems.attempt(build._typed, spec, where, "fault", COMMON_KEYS + (("count",) if stage == "handshake" else ()))
    probability = problems.attempt(_probability, spec, where)
    after = problems.attempt(_after, spec, where, stage)
    count = problems.attempt(schema.integer, spec, "count", where, minimum=1)
    problems.check()
    return Fault(_json_safe(spec), typed[1], probability, *after, count)


def build_faults(value, build, where):
    """``websocket.faults``: a list of entries, every wrong one reported."""
    problems = schema.Problems()
    faults = tuple(problems.attempt(build_fault, item, join_where(where, i), build)
                   for i, item in enumerate(schema.sequence(value, where) or []))
    problems.check()
    return faults


def _json_safe(value):
    """The entry as the admin API shows it (YAML may give dates or sets: made strings)."""
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
