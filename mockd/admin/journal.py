"""``/websocket/messages``: read, clear and wait on the message journal.

``POST /websocket/messages/wait`` blocks its own request greenlet on a gevent Event that the
journal sets as frames are recorded: no thread, no polling. Entries already in the journal
(after ``since``) count, so a reply that arrived before the wait started is not missed.
"""
import logging

from flask import Blueprint, request

from ..config import Build
from ..errors import ConfigError
from ..message import Message
from .common import ApiError, bounded_int, field, invalid, json_object, no_content, query_bool, query_choice, \
    query_int, seconds, server

log = logging.getLogger("mockd.admin")

bp = Blueprint("journal", __name__)

DIRECTIONS = ("inbound", "outbound", "event")  # "event": what mockd did to a connection, e.g. a close
DEFAULT_WAIT = 5.0
MAX_WAIT = 300.0
MAX_COUNT = 1_000_000


def _last_seq(journal):
    return journal.entries[-1].seq if journal.entries else 0


@bp.get("/websocket/messages")
def list_messages():
    journal = server().journal
    entries = journal.query(mock_id=request.args.get("mockId") or None,
                            connection_id=request.args.get("connectionId") or None,
                            direction=query_choice("direction", DIRECTIONS),
                            matched=query_bool("matched"),
                            since=query_int("since"),
                            limit=query_int("limit"))
    return {"messages": [e.to_json() for e in entries], "count": len(entries), "lastSeq": _last_seq(journal)}


@bp.delete("/websocket/messages")
def clear_messages():
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
        self.since = None if since is None else bounded_int(since, "since")
        self.criteria = None
        if body.get("match") is not None:
            try:
                srv = server()
                self.criteria = Build(srv.registry, srv.config.plugins).criteria(body["match"], "match")
            except ConfigError as exc:
                raise invalid(str(exc)) from None

    def accept(self, entry, data):
        # Called inside Journal.record, i.e. in a connection's receive loop: it must never raise,
        # or a bad matcher here would break that client's connection.
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
            return self.criteria is None or self.criteria.test(Message(data, entry.is_binary)) is not None
        except Exception:
            log.exception("a message wait matcher failed")
            return False


@bp.post("/websocket/messages/wait")
def wait_for_messages():
    body = json_object(default={})
    count = bounded_int(body.get("count", 1), "count", minimum=1, maximum=MAX_COUNT)
    timeout = DEFAULT_WAIT if body.get("timeout") is None else seconds(body["timeout"], "timeout", MAX_WAIT)
    filters = _Filters(body)
    journal = server().journal
    # Entries still in the ring only keep a (possibly truncated) body; live ones are tested whole.
    existing = [e for e in journal.query(since=filters.since) if filters.accept(e, e.body)]
    complete, entries = journal.wait(filters.accept, count, timeout, include_existing=existing)
    messages = [e.to_json() for e in entries]
    if not complete:
        raise ApiError(408, "timeout", f"{len(entries)} of {count} messages arrived within {timeout:g}s",
                       messages=messages, count=len(messages))
    return {"messages": messages, "count": len(messages), "lastSeq": _last_seq(journal)}
