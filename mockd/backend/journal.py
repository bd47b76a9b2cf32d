"""The cluster's journal: every node's frames in one capped Redis stream (``mockd:journal``),
so that ``GET /websocket/messages`` on any node lists them all, each naming its ``node``, and
``POST /websocket/messages/wait`` on one node returns when a frame arrives on another.

A node still records each frame in its own ring first (:class:`~mockd.journal.Journal`, the
hot path, unchanged); the ring also hands the item to :class:`SharedJournal`, whose writer
greenlet sends what gathered in :data:`FLUSH` seconds to Redis in one script call. That keeps
Redis off the per-message path: a frame costs the node an append, and its JSON once per batch.

Sequence numbers are the cluster's: the script numbers a batch from one counter and appends
it as one stream entry whose id is the batch's last number (``<seq>-0``), so ``since`` is a
plain stream position for every node: a read is one ``XRANGE`` and a wait one ``XREAD`` from
where the read ended. One entry a batch, not one a frame, in MessagePack, is what keeps the
cluster's journal cheap: a frame costs Redis nothing of its own and the node about 0.2 us of
``msgpack.packb`` (per-frame entries, or the batch as JSON at 1.5 us a frame, cost the node
and Redis about as much as the echo itself: the bench's ``--cluster`` echo fell to 0.62 of one
process). MessagePack keeps the ring's tuples as they are: text as ``str``, binary and non-ASCII
text (which the ring keeps as UTF-8) as ``bytes``. The stream is
trimmed by id (``MINID``) to the batches of the last ``--journal-size`` frames. A node reading the journal first
sends its own pending frames, so it sees what it just recorded.

While Redis cannot be reached the frames wait (at most the journal's size of them, oldest
dropped first) and go when it is back; reads then answer from this node's ring, partial, with
this node's own numbering.
"""
import functools
import logging
from operator import itemgetter

import gevent
import msgpack
from gevent.event import Event
from gevent.lock import Semaphore

from ..greenlets import spawn
from ..journal import Entry, select
from .base import JournalUnavailable

__all__ = ["ClusterEntry", "JournalUnavailable", "SharedJournal"]

log = logging.getLogger("mockd.cluster")

STREAM = "mockd:journal"
SEQ = "mockd:journal:seq"
FLUSH = 0.02         # seconds a node gathers frames before sending them as one batch
BATCH = 2_000        # frames a script call carries at most
READ_CHUNK = 100     # stream entries (batches) an XRANGE/XREAD returns at a time
BLOCK = 1.0          # seconds one XREAD of a wait blocks (below the client's socket timeout)
RETRY = 1.0          # seconds between two tries of a batch while Redis is away

# Numbers a batch of ARGV[4] frames from the cluster's counter, never below what the stream already
# holds or the node has seen (``floor``: a Redis restarted without its data starts the counter
# again, and a wait reading from seq N must still see what comes next), appends it as one entry
# and trims what is older than the last ARGV[2] frames.
_APPEND = """
local n = tonumber(ARGV[4])
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
redis.call('XADD', KEYS[1], 'MINID', string.format('%d', math.max(0, last - tonumber(ARGV[2]))),
           string.format('%d-0', last), 'n', ARGV[1], 'f', ARGV[5])
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


def _encode(batch):
    """Ring items as the stream keeps them: one MessagePack array of the tuples (their own seq
    is left in, and read past: the stream entry's id numbers them)."""
    try:
        return msgpack.packb(batch)
    except UnicodeEncodeError:  # a lone surrogate in a name (a body's is in its bytes already)
        return msgpack.packb([tuple(_scrub(value) for value in item) for item in batch])


def _scrub(value):
    return value.encode("utf-8", "backslashreplace").decode("utf-8") if value.__class__ is str else value


def _decode(stream_id, fields, since):
    """The entries of one stream entry (a batch) numbered after ``since``; none, said in the log,
    for an entry that is not mockd's (another program's, or garbage written to the stream)."""
    try:
        frames = msgpack.unpackb(fields[b"f"])
        node = fields[b"n"].decode("utf-8", "replace")
        seq = _seq(stream_id) - len(frames)
        entries = []
        for _, moment, connection_id, mock_id, path, direction, is_binary, size, body, matched in frames:
            seq += 1
            if seq > since:
                entries.append(ClusterEntry((seq, float(moment), connection_id, mock_id, path, direction,
                                             bool(is_binary), int(size), body, matched, node)))
        return entries
    except Exception as exc:  # noqa: BLE001 (msgpack's errors, KeyError, a bad shape: all the same here)
        log.warning("cluster: the journal entry %s in Redis is not mockd's (%s): left out",
                    stream_id.decode("ascii", "replace"), exc)
        return []


def _seq(stream_id):
    return int(stream_id.split(b"-", 1)[0])


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
        self._pending = []  # what the ring recorded since the last batch (Journal.tee)
        self._ready = Event()
        self._sending = Semaphore()  # one batch at a time: batches are numbered in order
        self._floor = 0              # the highest seq this node assigned or read
        self._waiters = []           # the waits on the stream (wait())
        self._follower = None        # the greenlet reading new entries for them
        self._followed = 0           # the last seq it read
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
            # The list the ring appends to is swapped for an empty one (not emptied item by item).
            pending, self._pending = self._pending, []
            self._local.tee(self._pending, self._ready.set)
            start = 0
            try:
                for start in range(0, len(pending), BATCH):
                    batch = pending[start:start + BATCH]
                    last = self._append(keys=[STREAM, SEQ], args=[self._backend.node_id, self._size, self._floor,
                                                                  len(batch), _encode(batch)])
                    self._floor = max(self._floor, int(last))
            except Exception:
                # Kept for the next try, oldest first, at most the journal's size of them.
                kept = pending[start:] + self._pending
                self._pending[:] = kept[-self._size:]
                raise

    # ------------------------------------------------------------ reading

    def _read(self, since):
        """Every entry after seq ``since`` (all when None), oldest first, a chunk at a time."""
        since = max(since or 0, 0)
        start = f"{since + 1}-0"  # the batches whose last frame is past ``since``
        while True:
            rows = self._redis.xrange(STREAM, start, "+", count=READ_CHUNK)
            for stream_id, fields in rows:
                yield from _decode(stream_id, fields, since)
            if len(rows) < READ_CHUNK:
                return
            start = f"{_seq(rows[-1][0]) + 1}-0"

    @_reaching_redis
    def query(self, mock_id=None, connection_id=None, direction=None, matched=None, since=None, limit=None,
              fresh=True):
        """As :meth:`mockd.journal.Journal.query`, over every node's frames: every node sends its
        pending ones first (``flush_journal``), so that a frame a client has had answered on any
        node is listed (a node's batch would otherwise come up to :data:`FLUSH` seconds later).
        Without ``fresh`` (the dashboard's stream, four reads a second) only this node's are."""
        if fresh:
            self._backend.ask("flush_journal")
        else:
            self.flush()
        recorded = list(self._read(since))
        if recorded:  # the stream keeps whole batches: the oldest may reach past the size
            oldest = recorded[-1].seq - self._size
            recorded = [entry for entry in recorded if entry.seq > oldest]
        return select(recorded, mock_id, connection_id, direction, matched, since, limit)

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
        del self._pending[:]
        self._local.clear()

    @_reaching_redis
    def wait(self, filters, count, timeout):
        """``POST /websocket/messages/wait`` across the cluster: the entries after
        ``filters.since`` (``filters.scan``), and each new one as the stream gets it, until
        ``count`` are accepted or ``timeout`` seconds pass. Returns ``(complete, entries, last
        seq read)``.

        New entries come from one reader of the stream, :meth:`_follow`, however many waits
        there are (a blocking read each would take a connection each). The wait is registered
        with it before the entries already there are read, so none falls between the two (one
        seen by both counts once)."""
        self.flush()
        waiter = _Waiter(filters, count)
        self._start_follower()
        self._waiters.append(waiter)
        try:
            recorded = list(self._read(filters.since))
            for entry in filters.scan(recorded, count):
                waiter.take(entry)
            waiter.event.wait(timeout)
        finally:
            self._waiters.remove(waiter)
        if waiter.failed:
            raise JournalUnavailable("the stream could not be read")
        found = sorted(waiter.found, key=lambda entry: entry.seq)
        complete = len(found) >= count
        last = max(self._followed, recorded[-1].seq if recorded else 0)
        return complete, (found[:count] if complete else found), last

    def _start_follower(self):
        if self._follower is None:
            rows = self._redis.xrevrange(STREAM, "+", "-", count=1)
            self._followed = max(self._followed, _seq(rows[0][0]) if rows else 0)
            self._follower = spawn(self._follow)  # runs once this greenlet yields: after the wait is registered

    def _follow(self):
        """Read the stream's new entries while anybody waits, and offer each to every wait."""
        import redis
        try:
            while self._waiters:
                try:
                    answer = self._redis.xread({STREAM: f"{self._followed}-0"}, count=READ_CHUNK,
                                               block=int(BLOCK * 1000))
                except redis.RedisError as exc:
                    self._backend._lost(exc)
                    for waiter in self._waiters:
                        waiter.failed = True
                        waiter.event.set()
                    return
                for _, rows in answer or ():
                    for stream_id, fields in rows:
                        for entry in _decode(stream_id, fields, self._followed):
                            for waiter in list(self._waiters):
                                if waiter.filters.accept(entry, entry.body):
                                    waiter.take(entry)
                        self._followed = max(self._followed, _seq(stream_id))
        finally:
            self._follower = None
            self._floor = max(self._floor, self._followed)


class _Waiter:
    """One ``POST /websocket/messages/wait`` on the shared journal."""

    __slots__ = ("filters", "count", "found", "seqs", "event", "failed")

    def __init__(self, filters, count):
        self.filters = filters
        self.count = count
        self.found = []
        self.seqs = set()
        self.event = Event()
        self.failed = False

    def take(self, entry):
        if entry.seq not in self.seqs:
            self.seqs.add(entry.seq)
            self.found.append(entry)
            if len(self.found) >= self.count:
                self.event.set()
