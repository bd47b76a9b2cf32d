"""What code running in connection and request greenlets shares about gevent itself."""
import gevent

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
