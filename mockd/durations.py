"""Durations: Go-style strings (``500ms``, ``1.5s``, ``1h30m``) as upstream mockd accepts them, and
seconds given to the plugin API."""
import re

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
ALLOWED_UNITS = "ns, us, ms, s, m, h"


def parse_duration(text):
    """Return seconds as a float; raise ``ValueError`` with a readable reason.

    A bare number is rejected (only ``"0"`` may go without a unit), like Go's
    ``time.ParseDuration``: ``"500"`` is far more often a mistake than a meaning.
    """
    original = text
    text = text.strip()
    if text in ("0", "+0", "-0"):
        return 0.0
    sign = 1.0
    if text[:1] in "+-" and text:
        sign = -1.0 if text[0] == "-" else 1.0
        text = text[1:]
    if not text:
        raise ValueError(f"invalid duration {original!r}")
    total = 0.0
    pos = 0
    while pos < len(text):
        m = _PART.match(text, pos)
        if not m:
            if re.fullmatch(r"\d+(\.\d*)?", text[pos:]):
                raise ValueError(
                    f"invalid duration {original!r}: missing unit (use e.g. '{text[pos:]}s' or "
                    f"'{text[pos:]}ms'; units: {ALLOWED_UNITS})")
            raise ValueError(f"invalid duration {original!r} (examples: '500ms', '1.5s', '1h30m'; units: {ALLOWED_UNITS})")
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    return sign * total


def format_duration(seconds):
    """Render seconds back in the same grammar (used in messages, exports and the YAML that
    ``mockd convert`` writes), to the millisecond."""
    if seconds == int(seconds):
        return f"{int(seconds)}s"
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    return f"{seconds:.3f}".rstrip("0").rstrip(".") + "s"


def check_seconds(value, what, optional=False):
    """``value`` if it is a number of seconds (or ``None`` when ``optional``); a TypeError
    naming ``what`` otherwise, rather than one from deep inside gevent."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{what} is a number of seconds{' or None' if optional else ''}, not {value!r}")
    return value
