"""What the admin API asks of every node: the live connections, the totals, a frame or a close
for one connection, a broadcast. Each command runs on a node against its own connections and
answers JSON; :meth:`~mockd.backend.base.Backend.ask` runs it on this node alone (one
process) or on every node of the cluster, and the admin route combines the answers.
"""
import base64

import gevent

from ..closecodes import CLOSE_NORMAL
from ..greenlets import spawn

__all__ = ["COMMANDS", "merge_stats", "run_command"]

CLOSED_BY_API = "closed by API"
BROADCAST_TIMEOUT = 10.0  # a client that stops reading must not hold the request forever


def _described(connection, node):
    return dict(connection.describe(), node=node)


def connections(server, node, mockId=None):
    live = server.connections if mockId is None else server.connections.for_mock(mockId)
    return [_described(c, node) for c in live if not c.closed]


def stats(server, node):
    return server.connections.stats()


def listing(server, node):
    """The live connections and the totals in one answer: taken together, so that a listing
    never counts a connection it does not show (two questions could straddle an arrival)."""
    return {"connections": connections(server, node), "stats": stats(server, node)}


def describe(server, node, connectionId):
    connection = server.connections.get(connectionId)
    return None if connection is None or connection.closed else _described(connection, node)


def close(server, node, connectionId):
    connection = server.connections.get(connectionId)
    if connection is None or connection.closed:
        return False
    connection.close(CLOSE_NORMAL, CLOSED_BY_API)
    return True


def close_mock(server, node, mockId):
    closing = server.connections.for_mock(mockId)
    for connection in closing:
        connection.close(CLOSE_NORMAL, CLOSED_BY_API)
    return len(closing)


def send(server, node, connectionId, type, data):
    connection = server.connections.get(connectionId)
    if connection is None or connection.closed:
        return None
    return connection.send(_payload(type, data))


def broadcast(server, node, type, data, mockId=None, path=None):
    if mockId is not None:
        targets = server.connections.for_mock(mockId)
    else:
        route = server.mocks.routes.get(path)
        targets = list(route.connections) if route is not None else []
    payload = _payload(type, data)
    # One greenlet per client: a slow reader must not delay the others.
    sends = [spawn(connection.send, payload) for connection in targets]
    gevent.joinall(sends, timeout=BROADCAST_TIMEOUT)
    return {"sent": sum(1 for g in sends if g.successful() and g.value), "connections": len(targets)}


def compile_fault(server, spec):
    """A fault entry the asking node validated (with its file rules), compiled here."""
    from ..build import Build
    return Build(server.registry, plugins=server.config.plugins, source=server.config.source).fault(spec, "fault")


def fault(server, node, connectionId, spec):
    """One fault on one connection, if it is here: None when it is not, else whether it applies."""
    from ..faults.live import arm
    connection = server.connections.get(connectionId)
    if connection is None or connection.closed:
        return None
    return arm(connection, compile_fault(server, spec))


def _live(server, mock_id):
    route = next((route for route in server.mocks.routes.values() if route.id == mock_id), None)
    return route.connections if route is not None else ()


def mock_fault(server, node, mockId, spec):
    """Add a fault to the mock's list here; how many of this node's connections it reached."""
    return server.mocks.faults_of(mockId).add(compile_fault(server, spec), _live(server, mockId))


def mock_faults_clear(server, node, mockId):
    """``[faults removed, connections lifted]`` on this node."""
    return list(server.mocks.faults_of(mockId).clear(_live(server, mockId)))


def handshakes(server, node, mockId=None, path=None, limit=None):
    return [dict(entry, node=node) for entry in server.handshakes.entries(mock_id=mockId, path=path, limit=limit)]


def clear_handshakes(server, node):
    return server.handshakes.clear()


def flush_journal(server, node):
    """Send this node's pending journal frames to the cluster's stream now (a read on another
    node asks every node first, so that it lists what any client has had answered)."""
    import redis  # a flush_journal only comes with --cluster
    shared = server.backend.journal
    try:
        if shared is not None:
            shared.flush()
    except redis.RedisError:  # kept for the writer's next try; the reader answers partial
        return False
    return True


def clear_journal(server, node):
    shared = server.backend.journal
    if shared is not None:
        shared.clear_here()
    else:
        server.journal.clear()


def _payload(frame_type, data):
    """A frame as the commands carry it: text as it is, binary in base64 (JSON has no bytes)."""
    return base64.b64decode(data) if frame_type == "binary" else data


def encode_payload(payload):
    """``(type, data)`` of a frame for a command: the inverse of :func:`_payload`."""
    if isinstance(payload, bytes):
        return "binary", base64.b64encode(payload).decode("ascii")
    return "text", payload


COMMANDS = {"connections": connections, "stats": stats, "listing": listing, "describe": describe, "close": close,
            "close_mock": close_mock, "send": send, "broadcast": broadcast, "fault": fault,
            "mock_fault": mock_fault, "mock_faults_clear": mock_faults_clear, "handshakes": handshakes,
            "clear_handshakes": clear_handshakes, "clear_journal": clear_journal,
            "flush_journal": flush_journal}


def run_command(server, node, op, args):
    return COMMANDS[op](server, node, **args)


def merge_stats(answers):
    """The totals of several nodes' ``stats`` answers as one."""
    merged = {"totalConnections": 0, "activeConnections": 0, "totalMessagesSent": 0, "totalMessagesRecv": 0,
              "connectionsByMock": {}}
    for answer in answers:
        for key in ("totalConnections", "activeConnections", "totalMessagesSent", "totalMessagesRecv"):
            merged[key] += answer[key]
        for mock_id, count in answer["connectionsByMock"].items():
            merged["connectionsByMock"][mock_id] = merged["connectionsByMock"].get(mock_id, 0) + count
    return merged
