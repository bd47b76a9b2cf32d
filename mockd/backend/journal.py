"""The cluster's journal: every node's frames in one capped Redis stream (``mockd:journal``),
so that ``GET /websocket/messages`` on any node lists them all, each naming its ``node``, and
``POST /websocket/messages/wait`` on one node returns when a frame arrives on another.

A node still records each frame in its own ring first (:class:`~mockd.journal.Journal`, the
hot path, unchanged); the ring also hands the item to :class:`SharedJournal`, whose writer
greenlet sends what gathered in :data:`FLUSH` seconds to Redis in one script call. That keeps
Redis off the per-message path: a frame costs the node an append, and its JSON once per batch.

Sequence numbers are the cluster's: the script numbers a batch from one counter and uses each
number as the entry's stream id (``<seq>-0``), so ``since`` is a plain stream position for
every node, a read is one ``XRANGE`` and a wait one ``XREAD`` from where the read ended. A node
reading the journal first sends its own pending frames, so it sees what it just recorded.

While Redis cannot be reached the frames wait (at most the journal's size of them, oldest
dropped first) and go when it is back; reads then answer from this node's ring, partial, with
this node's own numbering.
"""
import base64
import collections
import functools
import json
import logging
import time
from operator import itemgetter

import gevent
from gevent.event import Event
from gevent.lock import Semaphore

from ..errors import MockdError
from ..journal import Entry, select

__all__ = ["ClusterEntry", "JournalUnavailable", "SharedJournal"]

log = logging.getLogger("mockd.cluster")

STREAM = "mockd:journal"
SEQ = "mockd:journal:seq"
FLUSH = 0.005        # seconds a node gathers frames before sending them as one batch
BATCH = 2_000        # frames a script call carries at most
READ_CHUNK = 1_000   # entries an XRANGE/XREAD returns at a time
BLOCK = 1.0          # seconds one XREAD of a wait blocks (below the client's socket timeout)
RETRY = 1.0          # seconds between two tries of a batch while Redis is away

# Numbers a batch from the cluster's counter, never below what the stream already holds or the
# node has seen (``floor``: a Redis restarted without its data starts the counter again, and a
# wait reading from seq N must still see what comes next), and appends it.
_APPEND = """
local n = #ARGV - 3
local floor = tonumber(ARGV[3])
local top = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if top[1] then
  local topseq = tonumber(string.match(top[1][1], '^(%d+)'))
  if topseq > floor then floor = topseq end
end
local last = redis.call('INCRBY', KEYS[2], n)
if last - n < floor then
  last = floor + n
  redis.call('SET', KEYS[2], last)
end
for i = 1, n do
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], string.format('%d-0', last - n + i),
             'n', ARGV[1], 'f', ARGV[3 + i])
end
return last
"""


class ClusterEntry(Entry):
    """A journal entry read from the cluster's stream: an :class:`~mockd.journal.Entry` that
    also names the node whose connection it belongs to."""

    __slots__ = ()
    FIELDS = Entry.FIELDS + ("node",)
    node = property(itemgetter(10))

    def to_json(self):
        entry = Entry.to_json(self)
        entry["node"] = self[10]
        return entry


def _encode(item):
    """A ring item as the stream keeps it: JSON without its seq (the stream id is the seq)."""
    _, moment, connection_id, mock_id, path, direction, is_binary, size, body, matched = item
    if body.__class__ is bytes:  # binary, or a non-ASCII text kept as its UTF-8
        body = base64.b64encode(body).decode("ascii") if is_binary else body.decode("utf-8", "surrogatepass")
    return json.dumps((moment, connection_id, mock_id, path, direction, is_binary, size, body, matched))


def _decode(stream_id, fields):
    moment, connection_id, mock_id, path, direction, is_binary, size, body, matched = json.loads(fields[b"f"])
    if is_binary:
        body = base64.b64decode(body)
    elif not body.isascii():  # kept as the ring keeps it, so that ``truncated`` compares bytes
        body = body.encode("utf-8", "surrogatepass")
    return ClusterEntry((_seq(stream_id), moment, connection_id, mock_id, path, direction, is_binary, size, body,
                         matched, fields[b"n"].decode("utf-8", "replace")))


def _seq(stream_id):
    return int(stream_id.split(b"-", 1)[0])


class JournalUnavailable(MockdError):
    """Redis could not be reached for a read of the shared journal: answer from this node's."""


def _reaching_redis(method):
    """A read that fails with Redis marks the cluster apart and raises :class:`JournalUnavailable`
    (the admin API, which never imports redis, then answers from the node's own ring)."""
    @functools.wraps(method)
    def guarded(self, *args, **kwargs):
        import redis
        try:
            return method(self, *args, **kwargs)
        except redis.RedisError as exc:
            self._backend._lost(exc)
            raise JournalUnavailable(str(exc)) from None
    return guarded


class SharedJournal:
    """The journal as the cluster sees it (``backend.journal`` of a node with ``--cluster``)."""

    def __init__(self, backend, journal):
        self._backend = backend
        self._redis = backend._redis
        self._local = journal
        self._size = journal.entries.maxlen
        self._pending = collections.deque(maxlen=self._size)
        self._ready = Event()
        self._sending = Semaphore()  # one batch at a time: batches are numbered in order
        self._floor = 0              # the highest seq this node assigned or read
        self._append = self._redis.register_script(_APPEND)
        journal.tee(self._pending, self._ready.set)

    # ------------------------------------------------------------ writing

    def run(self):
        """The writer greenlet: a batch every :data:`FLUSH` seconds while frames come."""
        import redis
        while True:
            if not self._pending:
                self._ready.wait()
            gevent.sleep(FLUSH)
            self._ready.clear()
            try:
                self.flush()
            except redis.RedisError as exc:
                self._backend._lost(exc)
                gevent.sleep(RETRY)

    def flush(self):
        """Send this node's pending frames now (a read does, to see its own writes). Raises
        ``redis.RedisError`` with the frames kept for the next try."""
        with self._sending:
            pending = self._pending
            while pending:
                batch = [pending.popleft() for _ in range(min(len(pending), BATCH))]
                try:
                    last = self._append(keys=[STREAM, SEQ],
                                        args=[self._backend.node_id, self._size, self._floor, *map(_encode, batch)])
                except Exception:
                    kept = batch + list(pending)  # oldest first; past the size the oldest go
                    pending.clear()
                    pending.extend(kept)
                    raise
                self._floor = max(self._floor, int(last))

    # ------------------------------------------------------------ reading

    def _read(self, since):
        """Every entry after seq ``since`` (all when None), oldest first, a chunk at a time."""
        start = "-" if not since or since < 0 else f"{since + 1}-0"
        while True:
            rows = self._redis.xrange(STREAM, start, "+", count=READ_CHUNK)
            for stream_id, fields in rows:
                yield _decode(stream_id, fields)
            if len(rows) < READ_CHUNK:
                return
            start = f"{_seq(rows[-1][0]) + 1}-0"

    @_reaching_redis
    def query(self, mock_id=None, connection_id=None, direction=None, matched=None, since=None, limit=None):
        """As :meth:`mockd.journal.Journal.query`, over every node's frames."""
        self.flush()
        return select(self._read(since), mock_id, connection_id, direction, matched, since, limit)

    @_reaching_redis
    def last_seq(self):
        rows = self._redis.xrevrange(STREAM, "+", "-", count=1)
        return _seq(rows[0][0]) if rows else 0

    @_reaching_redis
    def clear(self):
        """Empty the stream and every node's ring (``DELETE /websocket/messages``)."""
        self._backend.ask("clear_journal")
        self._redis.delete(STREAM)

    def clear_here(self):
        """This node's part of :meth:`clear`: its ring and the frames it has not sent."""
        self._pending.clear()
        self._local.clear()

    @_reaching_redis
    def wait(self, filters, count, timeout):
        """``POST /websocket/messages/wait`` across the cluster: the entries after
        ``filters.since`` first (``filters.scan``), then each new one as the stream gets it, until
        ``count`` are accepted or ``timeout`` seconds pass. Returns ``(complete, entries, last
        seq read)``."""
        deadline = time.monotonic() + timeout
        self.flush()
        recorded = list(self._read(filters.since))
        last = recorded[-1].seq if recorded else max(filters.since or 0, 0)
        found = list(filters.scan(recorded, count))
        while len(found) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            answer = self._redis.xread({STREAM: f"{last}-0"}, count=READ_CHUNK, block=max(1, int(min(left, BLOCK) * 1000)))
            for _, rows in answer or ():
                for stream_id, fields in rows:
                    entry = _decode(stream_id, fields)
                    last = entry.seq
                    if len(found) < count and filters.accept(entry, entry.body):
                        found.append(entry)
        self._floor = max(self._floor, last)
        complete = len(found) >= count
        return complete, (found[:count] if complete else found), last
