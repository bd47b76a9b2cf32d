"""The message journal: a bounded ring of every inbound and outbound data frame.

Recording costs one plain tuple and a deque append per frame (about 0.5 us): a tuple is the
cheapest object to build, and one of strings and numbers is untracked by the garbage collector
after its first collection, so a full ring is not traversed again by every full collection.
Readers get :class:`Entry` views of those tuples. Bodies are kept
as they are (truncated) and only turned into JSON when somebody asks. Waiters (``POST
/websocket/messages/wait``) are checked on append only while there are any.

Memory is bounded by the body limit in bytes: an ASCII text is kept as it came (one byte a
character), any other text as its UTF-8 bytes, decoded when read. A ``str`` holding one
character beyond Latin-1 takes four bytes for every character, so 10,000 entries of 10 KB text
with one emoji each took 400 MB instead of 100 MB.
"""
import base64
import collections
import datetime
import itertools
import time
from operator import itemgetter

from gevent.event import Event

from .options import DEFAULTS


class Entry(tuple):
    """One journaled frame, read-only: a view of the tuple the ring stores."""

    __slots__ = ()
    FIELDS = ("seq", "time", "connection_id", "mock_id", "path", "direction", "is_binary", "size",
              "body", "matched")
    seq = property(itemgetter(0))
    time = property(itemgetter(1))
    connection_id = property(itemgetter(2))
    mock_id = property(itemgetter(3))
    path = property(itemgetter(4))
    direction = property(itemgetter(5))
    is_binary = property(itemgetter(6))
    size = property(itemgetter(7))
    matched = property(itemgetter(9))

    @property
    def body(self):
        """``str`` for a text frame (truncated at a character boundary), ``bytes`` for binary."""
        body = self[8]
        if body.__class__ is bytes and not self[6]:
            return body.decode("utf-8", "surrogatepass")
        return body

    def __repr__(self):
        return f"Entry(seq={self.seq}, {self.direction}, {self.body!r:.60})"

    def to_json(self):
        stored = self[8]
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
            "truncated": len(stored) < self.size,  # stored is bytes, or an ASCII str
        }
        if self.direction == "inbound" or self.matched is not None:  # outbound: only a proxied frame's
            entry["matched"] = self.matched
        return entry


def _utf8_body(text, limit):
    """A non-ASCII text body as it is kept: its UTF-8 bytes cut at ``limit`` on a character
    boundary (see :func:`_utf8_cut`), and its full size in bytes."""
    body = text.encode("utf-8", "surrogatepass")
    size = len(body)
    return (_utf8_cut(body, limit) if size > limit else body), size


def _utf8_cut(raw, limit):
    """The first ``limit`` bytes of a non-ASCII text's UTF-8, cut on a character boundary so that
    they always decode. (Surrogates, which no frame carries, are encoded with surrogatepass
    rather than making the journal fail the send that recorded them.)"""
    end = limit
    while end and raw[end] & 0xC0 == 0x80:  # raw[end] continues a character begun before the cut
        end -= 1
    return raw[:end]


def select(items, mock_id=None, connection_id=None, direction=None, matched=None, since=None, limit=None):
    """The journal items (tuples in the order of :attr:`Entry.FIELDS`, oldest first) that pass
    the filters of ``GET /websocket/messages``: this node's ring, or the cluster's stream."""
    result = []
    for item in items:  # (seq, time, connection_id, mock_id, path, direction, ...)
        if since is not None and item[0] <= since:
            continue
        if mock_id is not None and item[3] != mock_id:
            continue
        if connection_id is not None and item[2] != connection_id:
            continue
        if direction is not None and item[5] != direction:
            continue
        if matched is not None:
            is_matched = item[5] == "inbound" and item[9] not in (None, "unmatched")
            if matched != is_matched:
                continue
        result.append(item)
    if limit is not None:
        result = result[-limit:] if limit > 0 else []
    return result


class _Waiter:
    __slots__ = ("accept", "count", "found", "event")

    def __init__(self, accept, count):
        self.accept = accept
        self.count = count
        self.found = []
        self.event = Event()


class _Ring:
    """``Journal.entries``: the ring seen as :class:`Entry` objects (``len``, ``maxlen``,
    indexing, iteration oldest first, ``clear``)."""

    __slots__ = ("_items",)

    def __init__(self, items):
        self._items = items

    @property
    def maxlen(self):
        return self._items.maxlen

    def __len__(self):
        return len(self._items)

    def __getitem__(self, index):
        return Entry(self._items[index])

    def __iter__(self):
        return map(Entry, self._items)

    def clear(self):
        self._items.clear()


_time = time.time


class Journal:
    def __init__(self, size=DEFAULTS.journal_size, body_limit=DEFAULTS.journal_body_limit):
        self._ring = collections.deque(maxlen=max(0, size))
        self.entries = _Ring(self._ring)
        self.body_limit = body_limit
        self._seq = itertools.count(1)
        self._waiters = []
        self._tee = None  # see tee()
        self._tee_ready = None

    def tee(self, pending, ready):
        """Also append every recorded item to the list ``pending`` (the cluster's journal writer
        drains it into the shared stream: mockd/backend/journal.py), calling ``ready()`` when an
        item goes into it while it is empty (so the writer wakes once per batch, not per frame)."""
        self._tee, self._tee_ready = pending, ready

    def record(self, connection, direction, data, matched=None):
        """Append one frame. ``data`` is ``str`` (text) or ``bytes`` (binary). Returns the
        :class:`Entry` while somebody waits on the journal, else None (no view is built)."""
        ring = self._ring
        if not ring.maxlen and not self._waiters:
            return None
        limit = self.body_limit
        if data.__class__ is bytes:
            size = len(data)
            item = (next(self._seq), _time(), connection.id, connection.mock_id, connection.path, direction,
                    True, size, data[:limit] if size > limit else data, matched)
        else:
            if data.isascii():  # the common case, inline: one byte a character as it is
                size = len(data)
                body = data if size <= limit else data[:limit]
            else:
                body, size = _utf8_body(data, limit)
            item = (next(self._seq), _time(), connection.id, connection.mock_id, connection.path, direction,
                    False, size, body, matched)
        ring.append(item)
        tee = self._tee
        if tee is not None:
            if not tee:
                self._tee_ready()
            tee.append(item)
        if self._waiters:
            entry = Entry(item)
            self._feed_waiters(entry, data)
            return entry
        return None

    def record_exchange(self, connection, data, matched, reply):
        """Append an inbound frame and the reply already sent for it: the same two entries as
        two :meth:`record` calls (inbound first), in one call with one clock read when both are
        the same text (an echo's hot path), whose body the two entries then share."""
        ring = self._ring
        if reply is data and data.__class__ is str and ring.maxlen and not self._waiters:
            if data.isascii():
                size = len(data)
                body = data if size <= self.body_limit else data[:self.body_limit]
            else:  # encoded once, and the bytes shared by both entries
                body, size = _utf8_body(data, self.body_limit)
            now = _time()
            cid, mid, path = connection.id, connection.mock_id, connection.path
            inbound = (next(self._seq), now, cid, mid, path, "inbound", False, size, body, matched)
            outbound = (next(self._seq), now, cid, mid, path, "outbound", False, size, body, None)
            ring.append(inbound)
            ring.append(outbound)
            tee = self._tee
            if tee is not None:
                if not tee:
                    self._tee_ready()
                tee.append(inbound)
                tee.append(outbound)
            return
        self.record(connection, "inbound", data, matched)
        self.record(connection, "outbound", reply)

    def _feed_waiters(self, entry, data):
        for waiter in list(self._waiters):
            if waiter.accept(entry, data):
                waiter.found.append(entry)
                if len(waiter.found) >= waiter.count:
                    waiter.event.set()

    def clear(self):
        self._ring.clear()

    def query(self, mock_id=None, connection_id=None, direction=None, matched=None, since=None, limit=None):
        """Entries oldest first, filtered; ``since`` is a sequence number (exclusive)."""
        return [Entry(item) for item in select(self._ring, mock_id, connection_id, direction, matched, since, limit)]

    def wait(self, accept, count, timeout, include_existing=()):
        """Block this greenlet until ``count`` entries accepted by ``accept(entry, data)`` were
        recorded (counting ``include_existing`` first) or ``timeout`` passes.

        ``include_existing`` may be a generator that yields to the hub while it tests the
        entries already recorded (a long scan): the waiter is registered before it runs, so the
        entries recorded meanwhile are tested as they come, after the existing ones, none twice.
        Build its list of entries before calling (``query`` does not yield), not inside it.

        :return: ``(complete, entries)``.
        """
        waiter = _Waiter(accept, count)
        self._waiters.append(waiter)
        try:
            existing = list(include_existing)
            if existing:
                waiter.found[:0] = existing
                if len(waiter.found) >= count:
                    waiter.event.set()
            complete = waiter.event.wait(timeout)
        finally:
            self._waiters.remove(waiter)
        return bool(complete), waiter.found[:count] if complete else waiter.found
