"""The message journal: a bounded ring of every inbound and outbound data frame.

Recording costs one small object and a deque append per frame; bodies are kept as they are
(truncated) and only turned into JSON when somebody asks. Waiters (``POST
/websocket/messages/wait``) are checked on append only while there are any.
"""
import base64
import collections
import datetime
import itertools
import time

from gevent.event import Event

DEFAULT_SIZE = 10_000
DEFAULT_BODY_LIMIT = 10_240


class Entry:
    __slots__ = ("seq", "time", "connection_id", "mock_id", "path", "direction", "is_binary", "size",
                 "body", "matched")

    def to_json(self):
        body = self.body
        entry = {
            "seq": self.seq,
            "time": datetime.datetime.fromtimestamp(self.time, datetime.timezone.utc)
            .isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "connectionId": self.connection_id,
            "mockId": self.mock_id,
            "path": self.path,
            "direction": self.direction,
            "type": "binary" if self.is_binary else "text",
            "size": self.size,
            "body": base64.b64encode(body).decode("ascii") if self.is_binary else body,
            "truncated": len(body) < self.size if self.is_binary else len(body.encode("utf-8")) < self.size,
        }
        if self.direction == "inbound":
            entry["matched"] = self.matched
        return entry


class _Waiter:
    __slots__ = ("accept", "count", "found", "event")

    def __init__(self, accept, count):
        self.accept = accept
        self.count = count
        self.found = []
        self.event = Event()


class Journal:
    def __init__(self, size=DEFAULT_SIZE, body_limit=DEFAULT_BODY_LIMIT):
        self.entries = collections.deque(maxlen=max(0, size))
        self.body_limit = body_limit
        self._seq = itertools.count(1)
        self._waiters = []

    def record(self, connection, direction, data, matched=None):
        """Append one frame. ``data`` is ``str`` (text) or ``bytes`` (binary)."""
        if self.entries.maxlen == 0 and not self._waiters:
            return None
        entry = Entry()
        entry.seq = next(self._seq)
        entry.time = time.time()
        entry.connection_id = connection.id
        entry.mock_id = connection.mock_id
        entry.path = connection.path
        entry.direction = direction
        is_binary = data.__class__ is bytes
        entry.is_binary = is_binary
        limit = self.body_limit
        if is_binary:
            entry.size = len(data)
            entry.body = data[:limit] if len(data) > limit else data
        else:
            # Text sizes are UTF-8 bytes; only long texts pay for the encode.
            entry.size = len(data) if data.isascii() else len(data.encode("utf-8"))
            entry.body = data if entry.size <= limit else data.encode("utf-8")[:limit].decode("utf-8", "ignore")
        entry.matched = matched
        self.entries.append(entry)
        if self._waiters:
            self._feed_waiters(entry, data)
        return entry

    def _feed_waiters(self, entry, data):
        for waiter in list(self._waiters):
            if waiter.accept(entry, data):
                waiter.found.append(entry)
                if len(waiter.found) >= waiter.count:
                    waiter.event.set()

    def clear(self):
        self.entries.clear()

    def query(self, mock_id=None, connection_id=None, direction=None, matched=None, since=None, limit=None):
        """Entries oldest first, filtered; ``since`` is a sequence number (exclusive)."""
        result = []
        for entry in self.entries:
            if since is not None and entry.seq <= since:
                continue
            if mock_id is not None and entry.mock_id != mock_id:
                continue
            if connection_id is not None and entry.connection_id != connection_id:
                continue
            if direction is not None and entry.direction != direction:
                continue
            if matched is not None:
                is_matched = entry.direction == "inbound" and entry.matched not in (None, "unmatched")
                if matched != is_matched:
                    continue
            result.append(entry)
        if limit is not None:
            result = result[-limit:] if limit > 0 else []
        return result

    def wait(self, accept, count, timeout, include_existing=()):
        """Block this greenlet until ``count`` entries accepted by ``accept(entry, data)`` were
        recorded (counting ``include_existing`` first) or ``timeout`` passes.

        :return: ``(complete, entries)``.
        """
        waiter = _Waiter(accept, count)
        waiter.found.extend(include_existing)
        if len(waiter.found) >= count:
            return True, waiter.found[:count]
        self._waiters.append(waiter)
        try:
            complete = waiter.event.wait(timeout)
        finally:
            self._waiters.remove(waiter)
        return bool(complete), waiter.found[:count] if complete else waiter.found
