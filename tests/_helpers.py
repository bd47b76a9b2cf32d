"""Helpers shared by the tests that run servers in this (gevent-patched) process."""
import time

import gevent


def wait_until(predicate, timeout=5.0):
    """Call ``predicate`` every 10 ms, sleeping cooperatively, until it returns something true
    or ``timeout`` seconds have passed; return its last value (``assert wait_until(...)``)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        gevent.sleep(0.01)


def only_connection(running):
    """The server side of the one connection of ``running``, once the server has registered it."""
    assert wait_until(lambda: len(running.server.connections) == 1)
    return next(iter(running.server.connections))
