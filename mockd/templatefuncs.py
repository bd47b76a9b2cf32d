"""The built-in template functions (README.rst, "Responses and templates"), registered through the same
``mockd_register_template_functions()`` hook that plugins implement."""
import collections
import hashlib
import itertools
import os
import random
import time

from .fakerfuncs import FAKER_FUNCTIONS
from .hookspecs import hookimpl
from .textrender import to_text

__all__ = ["MAX_SEQUENCES", "MAX_SEQUENCE_NAME", "reseed", "reset_sequences", "share_sequences"]

# What random.*, uuid, uuid.short and random draw from: one generator of their own (not the
# random module's, which plugins and libraries share) that mockd.randomness.install() reseeds
# for --seed. Seeded from os.urandom until then. Its methods are bound once: they stay valid
# across reseeds (setstate changes the generator in place) and cost no attribute lookup.
_rng = random.Random()
_getrandbits, _randint, _uniform, _choices, _choice = (
    _rng.getrandbits, _rng.randint, _rng.uniform, _rng.choices, _rng.choice)
# As the random module does for its own: a forked child (a plugin's worker, say) that kept the
# parent's state would hand out the parent's next uuids again.
os.register_at_fork(after_in_child=_rng.seed)

_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}
_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_now_cache = (None, "")
#: ``sequence()`` counters kept at most; past that, the least recently used name is forgotten
#: (it restarts at its ``start`` when it comes back). Names come from client messages, so the
#: table must not grow with whatever a client sends.
MAX_SEQUENCES = 10_000
#: Longer names are kept as their SHA-256 digest: 10,000 names of 60 KB would be 600 MB.
MAX_SEQUENCE_NAME = 256
# name (or digest) -> itertools.count, least recently used first. An OrderedDict: moving a
# name to the end and dropping the first are single C calls, atomic for threads too.
_sequences = collections.OrderedDict()
# Only a table big enough to be trimmed soon keeps the recency order (a hit moves its name to
# the end): the usual few names pay nothing for it.
_KEEP_ORDER_ABOVE = MAX_SEQUENCES // 2


def reseed(source):
    """Make the template functions draw what the :class:`random.Random` ``source`` would draw
    next (its state is copied). Called by :func:`mockd.randomness.install`."""
    _rng.setstate(source.getstate())


def _uuid():
    # The format of str(uuid.uuid4()): its version and variant bits are set below.
    h = f"{_getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


def _now():
    global _now_cache
    sec = int(time.time())
    cached = _now_cache
    if cached[0] != sec:
        cached = _now_cache = (sec, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(sec)))
    return cached[1]


def _timestamp_iso():
    sec, frac = divmod(time.time_ns(), 1_000_000_000)
    digits = f"{frac:09d}".rstrip("0")  # RFC 3339 with nanoseconds, trailing zeros dropped
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + (f".{digits}Z" if digits else "Z")


def _number(value, kind):
    # Arguments may come from message fields: "5", 5.0 and 5 all count; garbage gives None.
    if value.__class__ is int:
        return value if kind is int else float(value)  # no float round trip for big ints
    try:
        return kind(value) if kind is float else int(float(value))
    except (TypeError, ValueError, OverflowError):
        return None


def _random_int(low=0, high=100):
    low, high = _number(low, int), _number(high, int)
    if low is None or high is None or low > high:
        return ""  # REAL renders an empty range as ""
    return _randint(low, high)


def _random_float(low=0.0, high=1.0, precision=6):
    low, high, precision = _number(low, float), _number(high, float), _number(precision, int)
    if low is None or high is None or precision is None:
        return ""
    if low >= high:
        high = low + 1  # as REAL does
    return f"{_uniform(low, high):.{max(0, min(precision, 17))}f}"


def _random_string(length=10):
    n = _number(length, int)
    if not n or n <= 0:
        n = 10
    return "".join(_choices(_ALNUM, k=min(n, 65536)))  # capped: n may come from a message


def _sequence(name, start=1):
    # itertools.count's next() runs in C under the GIL: atomic for threads and greenlets.
    key = to_text(name)
    counter = _sequences.get(key)  # a name past MAX_SEQUENCE_NAME is never found as such
    if counter is None or len(_sequences) > _KEEP_ORDER_ABOVE:
        counter = _counter(key, counter, start)
    return next(counter)


def _counter(key, counter, start):
    """The counter of a name that is new, too long, or in a table big enough to be trimmed."""
    if counter is None and len(key) > MAX_SEQUENCE_NAME:  # a bytes digest never equals a str name
        key = hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()
        counter = _sequences.get(key)
    if counter is None:
        first = _number(start, int)
        counter = _sequences.setdefault(key, _make_counter(key, 1 if first is None else first))
        if len(_sequences) > MAX_SEQUENCES:
            _sequences.popitem(last=False)
    else:
        try:
            _sequences.move_to_end(key)
        except KeyError:  # another thread evicted it meanwhile; this counter still counts
            pass
    return counter


def reset_sequences():
    """Forget every ``sequence()`` counter (they are shared process-wide)."""
    _sequences.clear()


#: Makes a name's counter: ``(key, first) -> iterator``. In-process by default; the cluster
#: backend shares them (``share_sequences``).
def _local_counter(key, first):
    return itertools.count(first)


_make_counter = _local_counter


def share_sequences(make_counter):
    """Count ``sequence()`` with ``make_counter(key, first)`` (an iterator) from now on, e.g.
    the cluster's Redis counters, so that the values are unique across nodes; the counters
    made so far are forgotten."""
    global _make_counter
    _make_counter = make_counter
    _sequences.clear()


def _default(value, fallback=""):
    return value if to_text(value) != "" else fallback


def _random_element(*items):
    return _choice(items) if items else ""


def _timestamp():
    return str(int(time.time()))


_BUILTINS = {
    "uuid": _uuid,
    "uuid.short": lambda: f"{_getrandbits(32):08x}",  # the first 8 characters of a v4 UUID
    "now": _now,
    "timestamp": _timestamp,
    "timestamp.unix": _timestamp,
    "timestamp.unix_ms": lambda: str(time.time_ns() // 1_000_000),
    "timestamp.iso": _timestamp_iso,
    "random": lambda: f"{_getrandbits(32):08x}",
    "random.int": _random_int, "randomInt": _random_int,
    "random.float": _random_float, "randomFloat": _random_float,
    "random.string": _random_string, "randomString": _random_string,
    "random.element": _random_element, "randomElement": _random_element,
    "sequence": _sequence,
    "upper": lambda value: to_text(value).upper(),
    "lower": lambda value: to_text(value).lower(),
    "default": _default,
    **FAKER_FUNCTIONS,
}


@hookimpl
def mockd_register_template_functions():
    """Register the built-in template functions."""
    return dict(_BUILTINS)
