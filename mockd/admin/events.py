"""``GET /events``: what changes on the server, as server-sent events, for the dashboard (and any
client that wants to follow the server without polling each route).

One stream is one request greenlet that looks every :data:`TICK` seconds: the journal entries
recorded since the last look (filtered by ``connectionId`` / ``mockId``; none with
``messages=false``), and, twice a second, whether the mocks or the connections changed; the
totals once a second. Looking, rather than hooking every connection's events, keeps the
per-message path untouched, works the same over a cluster (the backend answers) and costs
nothing while nobody watches.

Events (``event: NAME`` + ``data: JSON``): ``hello`` {node, lastSeq}; ``mocks`` {mocks} and
``connections`` {connections, stats} at start and on change; ``messages`` {messages};
``stats`` {time, activeConnections, totalMessagesSent, totalMessagesRecv} every second (which
also keeps the stream from going quiet, as proxies close silent ones). The token goes in a header, as for every route (a
browser reads the stream with ``fetch``: ``EventSource`` cannot send one).
"""
import json
import time

import gevent
from flask import Blueprint, Response, current_app, request

from .common import ApiError, query_bool, server
from .connections import listing
from .journal import read_messages
from .mocks import mock_json

bp = Blueprint("events", __name__)

TICK = 0.25        # seconds between two looks at the journal
CHECK = 0.5        # seconds between two looks at the mocks and connections
STATS = 1.0        # seconds between two stats events
MAX_STREAMS = 16   # streams open at once: each is a greenlet that looks four times a second
_OPEN = "mockd.events.open"


@bp.get("/events")
def events():
    srv = server()
    filters = {"connection_id": request.args.get("connectionId") or None,
               "mock_id": request.args.get("mockId") or None}
    if query_bool("messages") is False:  # ?messages=false: a page that shows no frames reads none
        filters = None
    open_streams = current_app.extensions.setdefault(_OPEN, [0])
    if open_streams[0] >= MAX_STREAMS:
        raise ApiError(503, "too_many_streams", f"{MAX_STREAMS} event streams are open already: close one "
                                                "(a dashboard tab) and retry")
    return Response(_stream(srv, filters, open_streams), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def _event(name, data):
    return f"event: {name}\ndata: {json.dumps(data, default=str, separators=(',', ':'))}\n\n"


def _stream(srv, filters, open_streams):
    open_streams[0] += 1  # here, not in the view: a stream never started is never counted down
    try:
        _, last_seq = read_messages(srv, False, limit=0)
        yield _event("hello", {"node": srv.backend.node_id, "lastSeq": last_seq})
        mocks = connections = None
        check = stats = time.monotonic()
        while True:
            now = time.monotonic()
            if now >= check:
                check = now + CHECK
                current = [mock_json(mock) for mock in srv.mocks.values()]
                if current != mocks:
                    mocks = current
                    yield _event("mocks", {"mocks": current})
                current = listing(srv)
                if current != connections:
                    connections = current
                    yield _event("connections", current)
            entries = read_messages(srv, False, since=last_seq, **filters)[0] if filters is not None else ()
            if entries:
                last_seq = entries[-1].seq
                yield _event("messages", {"messages": [entry.to_json() for entry in entries]})
            if now >= stats:
                stats = now + STATS
                totals = connections["stats"]
                yield _event("stats", {"time": int(time.time() * 1000),
                                       "activeConnections": totals["activeConnections"],
                                       "totalMessagesSent": totals["totalMessagesSent"],
                                       "totalMessagesRecv": totals["totalMessagesRecv"]})
            gevent.sleep(TICK)
    finally:
        open_streams[0] -= 1
