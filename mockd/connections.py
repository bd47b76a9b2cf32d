"""The connection table: live connections by id, and the totals that outlive them.

Everything here is touched from greenlets of one thread, so plain dicts suffice; nothing
here blocks.
"""
import itertools
import os
import time

_counter = itertools.count(1)


def new_connection_id():
    """``conn-<16 hex ns time>-<8 hex counter>-<8 hex random>``, unique in the process."""
    return f"conn-{time.time_ns():016x}-{next(_counter) & 0xFFFFFFFF:08x}-{os.urandom(4).hex()}"


class ConnectionTable:
    """Live connections by id, and the totals that outlive them.

    A connection leaves in two steps: :meth:`remove` when it is decided closed (it is no longer
    listed or counted as active), :meth:`retire` when its socket is wound down (frames still
    queued at the close may reach the client until then, so its counters are summed live
    until that moment, and folded into the totals after it)."""

    def __init__(self):
        self._by_id = {}
        self._leaving = set()
        self.total_connections = 0
        self._closed_sent = 0
        self._closed_received = 0

    def add(self, connection):
        self._by_id[connection.id] = connection
        self.total_connections += 1

    def remove(self, connection):
        if self._by_id.pop(connection.id, None) is not None:
            self._leaving.add(connection)

    def retire(self, connection):
        if connection in self._leaving:
            self._leaving.discard(connection)
            self._closed_sent += connection.messages_sent
            self._closed_received += connection.messages_received

    def unfinished(self):
        """Connections listed, or decided closed but not yet wound down."""
        return len(self._by_id) + len(self._leaving)

    def get(self, connection_id):
        return self._by_id.get(connection_id)

    def __len__(self):
        return len(self._by_id)

    def __iter__(self):
        return iter(list(self._by_id.values()))

    def for_mock(self, mock_id):
        return [c for c in self._by_id.values() if c.mock_id == mock_id]

    def stats(self):
        live = list(self._by_id.values())
        counted = live + list(self._leaving)
        by_mock = {}
        for connection in live:
            by_mock[connection.mock_id] = by_mock.get(connection.mock_id, 0) + 1
        return {
            "totalConnections": self.total_connections,
            "activeConnections": len(live),
            "totalMessagesSent": self._closed_sent + sum(c.messages_sent for c in counted),
            "totalMessagesRecv": self._closed_received + sum(c.messages_received for c in counted),
            "connectionsByMock": by_mock,
        }
