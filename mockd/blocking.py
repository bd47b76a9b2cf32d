"""``mockd serve --warn-blocking``: name the code that keeps the event loop from serving.

Every connection and the admin API share one thread, so a plugin that computes for a second
stalls all of them, and nothing else would say so. gevent's hub monitor (a native thread,
``gevent.config.monitor_thread``) looks every ``max_blocking_time`` seconds whether the loop
switched greenlets since its last look; when it did not, it emits
``gevent.events.EventLoopBlocked`` with a report. :func:`warn_blocking` turns that into one
WARNING of logger ``mockd.blocking`` per stall, with the greenlet and the stack it was running.

Importing this module imports no gevent: :func:`parse_threshold` is an argparse type.
"""
import logging
import time

__all__ = ["parse_threshold", "warn_blocking"]

log = logging.getLogger("mockd.blocking")


def parse_threshold(text):
    """``100ms``, ``1s`` (Go durations); ``0`` or ``off`` turn the warnings off. Seconds."""
    from .durations import parse_duration
    if text.strip().lower() in ("off", "0"):
        return 0.0
    seconds = parse_duration(text)
    if seconds <= 0:
        raise ValueError(f"must be a positive duration such as 100ms, or 0 or off (got {text!r})")
    return seconds


def warn_blocking(seconds):
    """Log a WARNING whenever the event loop is blocked for more than ``seconds``; 0 does nothing.

    Call it before the hub first runs: gevent starts the monitor thread in ``Hub.run()``, with
    the config of that moment.
    """
    if not seconds:
        return
    import warnings

    import gevent
    from gevent import events
    gevent.config.monitor_thread = True
    gevent.config.max_blocking_time = seconds
    # gevent prints the whole greenlet tree on each look (every `seconds` while a stall lasts);
    # the log line below says what matters once.
    gevent.config.print_blocking_reports = False
    # The monitor would also watch memory with psutil, which mockd does not need (nor install).
    warnings.filterwarnings("ignore", message="Unable to monitor memory usage")
    log.isEnabledFor(logging.WARNING)  # fills the level cache here, not in the monitor thread
    events.subscribers.append(_Reporter(seconds, events.EventLoopBlocked))


class _Reporter:
    """The ``EventLoopBlocked`` subscriber; runs in gevent's monitor thread (logging's locks,
    gevent's when patched, work across threads)."""

    def __init__(self, seconds, event_type):
        self.seconds = seconds
        self.event_type = event_type
        self._last = None  # (greenlet, the loop's clock) of the last stall reported

    def __call__(self, event):
        if not isinstance(event, self.event_type):
            return
        # The monitor looks every `seconds` and reports at each look while a stall lasts. The
        # loop's clock (libev's ev_now) only moves when the loop iterates, so the same greenlet
        # at the same clock is the stall already reported.
        stall = (event.greenlet, _loop_clock(event.hub))
        if stall == self._last:
            return
        self._last = stall
        log.warning("the event loop was blocked for more than %s by %s: no client was served "
                    "meanwhile; code that computes this long (a plugin?) should yield "
                    "(gevent.sleep(0)) or run in gevent's threadpool. Its stack:\n%s",
                    _format_seconds(self.seconds), _describe(event.greenlet), _stack(event.info))


def _loop_clock(hub):
    try:
        return hub.loop.now()
    except Exception:  # a hub gone meanwhile: report the stall anyway
        return time.monotonic()


def _describe(greenlet):
    """``greenlet Greenlet-3 (busy)``: gevent's repr lists every argument of the function run."""
    name = getattr(greenlet, "name", None) or type(greenlet).__name__
    function = getattr(getattr(greenlet, "_run", None), "__qualname__", None)
    return f"greenlet {name} ({function})" if function else f"greenlet {name}"


def _format_seconds(seconds):
    from .durations import format_duration
    return format_duration(seconds)


def _stack(report):
    """The blocked thread's stack from gevent's report (a list of lines); the report without
    its greenlet tree if its shape is not the one expected."""
    for index, line in enumerate(report):
        if str(line).startswith("Blocked Stack") and index + 1 < len(report):
            return str(report[index + 1]).rstrip("\n")
    return "\n".join(str(line) for line in report).split("\nInfo:")[0].strip()
