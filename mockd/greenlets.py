"""What code running in connection and request greenlets shares about gevent itself: what may
unwind untouched, how to let other connections run, :func:`in_thread` for long pure-Python work,
and :func:`spawn`, the one way mockd starts a greenlet (so that none of them loses an exception)."""
import logging

import gevent

log = logging.getLogger("mockd.greenlets")

#: What may unwind through mockd's and plugins' code untouched: the greenlet being killed
#: (server stop, a scenario ending with its connection) and a gevent.Timeout, which whoever
#: started it catches further up. Anything else that escapes is that one connection's or
#: request's failure, SystemExit from a plugin included.
UNWIND = (gevent.GreenletExit, gevent.Timeout)

# gevent.sleep(0) only runs greenlets that are ready already: the hub polls no socket first. A
# timer, however short, comes after the poll (and, unlike gevent.idle(), is not put off for as
# long as other connections keep the loop busy).
_PAUSE = 1e-6


def let_others_run():
    """Yield to the hub so that other connections' sockets are polled and served too."""
    gevent.sleep(_PAUSE)


def in_thread(function, *args):
    """``function(*args)`` in gevent's worker threads, for pure-Python work that takes seconds
    (PyYAML parses 3 s for a 640 KB file): the loop keeps serving meanwhile, switching with it
    every few ms under the GIL. Its exceptions are raised here."""
    return gevent.get_hub().threadpool.apply(function, args)


def spawn(function, *args, **kwargs):
    """``gevent.spawn`` with an exception logger linked, as locust does: gevent itself only
    prints a dead greenlet's traceback to stderr, which a ``--log-format json`` log, a journal
    reader or a systemd unit never sees. A kill (GreenletExit) is no failure."""
    greenlet = gevent.spawn(function, *args, **kwargs)
    greenlet.link_exception(_log_failure)
    return greenlet


def _log_failure(greenlet):
    log.error("greenlet %s failed: %r", getattr(greenlet, "_run", greenlet), greenlet.exception,
              exc_info=greenlet.exc_info if any(greenlet.exc_info or ()) else None)
