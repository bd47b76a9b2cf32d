"""A connection's idle timeout and heartbeat: libev timers, not greenlets, so an idle connection
costs no greenlet stack of its own. Mixed into :class:`mockd.connection.Connection`, whose
``endpoint``, ``last_activity``, ``ws`` and ``close`` they use."""
import time

import gevent

from .closecodes import CLOSE_GOING_AWAY
from .greenlets import spawn
from .ws.protocol import ConnectionClosed

__all__ = ["KeepAliveTimers"]


class KeepAliveTimers:
    """``_start_timers`` after the upgrade, ``_stop_timers`` at teardown; ``_on_pong`` is the
    socket's pong callback. The owner sets ``_timers = {}`` and ``_ping_sent_at = None``."""

    def _start_timers(self):
        endpoint = self.endpoint
        if endpoint.idle_timeout:
            self._set_timer("idle", endpoint.idle_timeout, 0.0, self._idle_check)
        if endpoint.heartbeat is not None:
            interval = endpoint.heartbeat.interval
            self._set_timer("heartbeat", interval, interval, self._heartbeat_due)

    def _set_timer(self, slot, after, repeat, callback):
        old = self._timers.get(slot)
        if old is not None:
            old.close()
        timer = gevent.get_hub().loop.timer(after, repeat)
        timer.start(callback)
        self._timers[slot] = timer

    def _idle_check(self):
        # Runs in the hub: must not block, so the close itself gets a greenlet.
        remaining = self.endpoint.idle_timeout - (time.monotonic() - self.last_activity)
        if remaining <= 0:
            spawn(self.close, CLOSE_GOING_AWAY, "idle timeout")
        else:
            self._set_timer("idle", remaining, 0.0, self._idle_check)

    def _heartbeat_due(self):
        if self._ping_sent_at is not None:
            return  # still waiting for the previous pong; the pong timer decides
        self._ping_sent_at = time.monotonic()
        spawn(self._ping)
        self._set_timer("pong", self.endpoint.heartbeat.timeout, 0.0, self._pong_check)

    def _ping(self):
        try:
            self.ws.ping(b"mockd")
        except ConnectionClosed:
            pass

    def _pong_check(self):
        if self._ping_sent_at is not None:
            spawn(self.close, CLOSE_GOING_AWAY, "ping timeout")

    def _on_pong(self, payload):
        self._ping_sent_at = None

    def _stop_timers(self):
        for timer in self._timers.values():
            timer.close()
        self._timers.clear()
