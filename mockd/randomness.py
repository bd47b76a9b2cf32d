"""Reproducible randomness: ``mockd serve --seed N`` (env ``MOCKD_SEED``).

One seed per process, resolved at start (:func:`resolve_seed`) and logged as ``seed N``, so a
run that drew an unlucky value can be repeated. Each purpose draws from a generator of its own,
:func:`stream` ``(seed, name)``: adding draws for one purpose (fault injection, say) does not
shift what another (the template functions) draws.

Pure: importing this module reads nothing and changes nothing; only :func:`install` does.
"""
import os
import random

__all__ = ["SEED_BITS", "install", "resolve_seed", "stream"]

#: A seed picked for a run without ``--seed`` has this many bits: short enough to retype.
SEED_BITS = 32


def resolve_seed(value):
    """The seed to use: ``value`` (an int 0 or more) as given, or a fresh one in 0 .. 2**32-1
    from ``os.urandom`` for None. A decimal string is taken too: ``mockd.cli.main()`` hands an
    option's environment variable (``MOCKD_SEED``) over as text. ValueError for anything else."""
    if value is None:
        return int.from_bytes(os.urandom(SEED_BITS // 8), "big")
    if isinstance(value, str):
        text = value.strip()
        # isdecimal() alone would take "٣" (int() reads any Unicode digit): seeds are ASCII.
        if not (text.isascii() and text.isdecimal()):
            raise ValueError(f"not a whole number 0 or more: {value!r}")
        return int(text)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"not a whole number 0 or more: {value!r}")
    return value


def stream(seed, name):
    """A new :class:`random.Random` for one purpose: the same ``(seed, name)`` always gives the
    same sequence, on every platform and Python run (a str seed is hashed with SHA-512, not
    ``hash()``, so PYTHONHASHSEED does not matter); different names give unrelated sequences."""
    return random.Random(f"{seed}/{name}")


def install(seed):
    """Reseed what the template functions draw from (``random.*``, ``uuid``, ``uuid.short``,
    ``random``) and the shared Faker instance (``faker.*``) from ``stream(seed, "templates")``.

    Process-global by nature: template functions are plain module functions, shared by every
    server in the process, so the last ``install`` wins. ``mockd serve`` and ``mockd record``
    call it once at start; a test that needs repeatable templates in-process may call it too.
    """
    # Imported here: this module stays importable (and pure) without the template machinery.
    from . import fakerfuncs, templatefuncs
    templates = stream(seed, "templates")
    # Faker's seed is drawn first, then the template generator takes over the rest of the
    # stream: neither depends on whether Faker is ever built.
    fakerfuncs.reseed(templates.getrandbits(64))
    templatefuncs.reseed(templates)
