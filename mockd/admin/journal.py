"""``/websocket/messages``: read, clear and wait on the message journal.

``POST /websocket/messages/wait`` blocks its own request greenlet on a gevent Event that the
journal sets as frames are recorded: no thread, no polling. Entries already in the journal
(after ``since``) count, so a reply that arrived before the wait started is not missed.

That scan runs the request's matcher over up to the whole journal, on the event loop: its
regex and JSONPath matchers share one budget (:data:`SCAN_TIME_BUDGET`, at most
:data:`~mockd.budget.REGEX_TIME_BUDGET` a search) and it lets the hub run every
:data:`SCAN_SLICE`, so a backtracking pattern over 400 entries is about a second of the
request's time, not 20 s of every connection's.
"""
import logging
import time

from flask import Blueprint, request

from ..backend.base import JournalUnavailable
from ..blame import blame
from ..build import Build
from ..errors import ConfigError
from ..greenlets import UNWIND, let_others_run
from ..budget import REGEX_TIME_BUDGET, Budget, budget_scope, current_budget
from ..message import MatchContext, Message
from .common import ApiError, bounded_int, field, invalid, json_object, no_content, query_bool, query_choice, \
    query_int, seconds, server

log = logging.getLogger("mockd.admin")

bp = Blueprint("journal", __name__)

DIRECTIONS = ("inbound", "outbound", "event")  # "event": what mockd did to a connection, e.g. a close
DEFAULT_WAIT = 5.0
MAX_WAIT = 300.0
MAX_COUNT = 1_000_000
#: The largest ``since``: sequence numbers stay below it (2**53, what JavaScript counts exactly;
#: the cluster's stream ids would refuse a larger one).
MAX_SEQ = 2 ** 53
#: Seconds the budgeted matchers of one wait may spend on the entries already recorded.
SCAN_TIME_BUDGET = 1.0
#: Seconds of scanning between two turns of the hub (a timer: sleep(0) would not poll sockets).
SCAN_SLICE = 0.01


def _last_seq(journal):
    return journal.entries[-1].seq if journal.entries else 0


def _shared(srv=None):
    """The cluster's journal (``--cluster``) while its Redis answers; else None: this node's
    ring is all there is, and the answer says it is partial (mockd/admin/cluster.py)."""
    backend = (srv or server()).backend
    return backend.journal if backend.journal is not None and backend.available else None


def read_messages(srv, fresh=True, **filters):
    """``(entries, lastSeq)`` of the journal (:meth:`~mockd.journal.Journal.query`'s filters):
    the cluster's, or this node's while Redis is away. ``GET /websocket/messages`` and the
    dashboard's event stream (events.py) read it so; ``fresh`` first has every node send its
    pending frames (the stream, which reads four times a second, takes them as they come)."""
    shared = _shared(srv)
    if shared is not None:
        try:
            return shared.query(fresh=fresh, **filters), shared.last_seq()
        except JournalUnavailable:
            pass  # this node's own, marked partial
    return srv.journal.query(**filters), _last_seq(srv.journal)


@bp.get("/websocket/messages")
def list_messages():
    entries, last_seq = read_messages(server(), mock_id=request.args.get("mockId") or None,
                                      connection_id=request.args.get("connectionId") or None,
                                      direction=query_choice("direction", DIRECTIONS),
                                      matched=query_bool("matched"),
                                      since=query_int("since", maximum=MAX_SEQ),
                                      limit=query_int("limit"))
    return {"messages": [e.to_json() for e in entries], "count": len(entries), "lastSeq": last_seq}


@bp.delete("/websocket/messages")
def clear_messages():
    shared = _shared()
    if shared is not None:
        try:
            shared.clear()
            return no_content()
        except JournalUnavailable:
            pass
    server().journal.clear()
    return no_content()


class _Filters:
    """The body of a wait request, checked: what an entry must be to count."""

    def __init__(self, body):
        self.mock_id = field(body, "mockId", (str,), "a string")
        self.connection_id = field(body, "connectionId", (str,), "a string")
        self.direction = field(body, "direction", (str,), "a string")
        if self.direction is not None and self.direction not in DIRECTIONS:
            raise invalid(f"direction: expected one of {', '.join(DIRECTIONS)}, got {self.direction!r}")
        self.matched = field(body, "matched", (bool,), "true or false")
        since = body.get("since")
        self.since = None if since is None else bounded_int(since, "since", maximum=MAX_SEQ)
        self.criteria = None
        self._server = srv = server()  # accept() runs in connections' greenlets, without the app
        self._failed = False
        if body.get("match") is not None:
            try:
                self.criteria = Build(srv.registry, srv.config.plugins).criteria(body["match"], "match")
            except ConfigError as exc:
                raise invalid(str(exc)) from None

    def accept(self, entry, data):
        # Called inside Journal.record, i.e. in a connection's receive loop: it must never raise,
        # or a bad matcher here would break that client's connection (SystemExit from a plugin's
        # matcher included: it would end the server).
        if self.criteria is not None and current_budget() is None:  # a live entry: its own budget
            with budget_scope(Budget()):
                return self._accept(entry, data)
        return self._accept(entry, data)

    def _accept(self, entry, data):
        try:
            if self.mock_id is not None and entry.mock_id != self.mock_id:
                return False
            if self.connection_id is not None and entry.connection_id != self.connection_id:
                return False
            if self.direction is not None and entry.direction != self.direction:
                return False
            if self.matched is not None:
                is_matched = entry.direction == "inbound" and entry.matched not in (None, "unmatched")
                if is_matched != self.matched:
                    return False
            if self.criteria is None:
                return True
            message = Message(data, entry.is_binary)
            return self.criteria.test(message, MatchContext(message, entry.path, None, self._server)) is not None
        except UNWIND:
            raise
        except BaseException as exc:
            if not self._failed:  # once per wait, not once per entry
                self._failed = True
                srv = self._server
                culprit = blame(exc, srv.plugin_manager, srv.registry)
                log.error("a message wait matcher failed%s; it matches nothing for this wait: %r",
                          f" (plugin {culprit!r})" if culprit else "", exc, exc_info=exc,
                          extra={"plugin": culprit})
            return False

    def scan(self, entries, count):
        """Yield the first ``count`` of ``entries`` (already recorded) this filter accepts,
        within :data:`SCAN_TIME_BUDGET`, letting the hub run every :data:`SCAN_SLICE`."""
        if count <= 0:
            return
        clock = time.monotonic
        with budget_scope(Budget(SCAN_TIME_BUDGET, per_search=REGEX_TIME_BUDGET, name="a wait's scan of the journal")):
            turn = clock() + SCAN_SLICE
            for entry in entries:
                # Entries still in the ring only keep a (possibly truncated) body.
                if self._accept(entry, entry.body):
                    yield entry
                    count -= 1
                    if not count:
                        return
                if clock() > turn:
                    let_others_run()  # the budget is this greenlet's: the others have their own
                    turn = clock() + SCAN_SLICE


@bp.post("/websocket/messages/wait")
def wait_for_messages():
    body = json_object(default={})
    count = bounded_int(body.get("count", 1), "count", minimum=1, maximum=MAX_COUNT)
    timeout = DEFAULT_WAIT if body.get("timeout") is None else seconds(body["timeout"], "timeout", MAX_WAIT)
    filters = _Filters(body)
    shared = _shared()
    if shared is not None:
        started = time.monotonic()
        try:
            complete, entries, last_seq = shared.wait(filters, count, timeout)
            return _waited(complete, entries, count, timeout, last_seq)
        except JournalUnavailable:  # the rest of the wait on this node's own frames, partial
            left = max(0.0, timeout - (time.monotonic() - started))
    else:
        left = timeout
    journal = server().journal
    # Live entries are tested whole, as they are recorded, also while the scan yields.
    existing = filters.scan(journal.query(since=filters.since), count)
    complete, entries = journal.wait(filters.accept, count, left, include_existing=existing)
    return _waited(complete, entries, count, timeout, _last_seq(journal))


def _waited(complete, entries, count, timeout, last_seq):
    messages = [e.to_json() for e in entries]
    if not complete:
        raise ApiError(408, "timeout", f"{len(entries)} of {count} messages arrived within {timeout:g}s",
                       messages=messages, count=len(messages))
    return {"messages": messages, "count": len(messages), "lastSeq": last_seq}
