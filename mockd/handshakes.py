"""The handshake journal: every upgrade attempt of the mock listener, accepted or refused.

An entry is ``{"at", "path", "mockId", "remoteAddr", "status", "refusedBy"}`` (``status`` is
None for a reset or a hang, ``refusedBy`` None for an accepted upgrade, else ``fault``,
``maxConnections``, ``subprotocol``, ``origin``, ``notFound``, ``upstream`` (a proxied mock's
upstream refused or could not be reached) or ``handshake`` (not a valid RFC 6455 handshake)),
plus ``connectionId`` for an accepted one. Bounded like the message journal (``--journal-size``),
oldest dropped first. A client's back-off can be read from the ``at`` times alone.
"""
import collections
import datetime
import time

__all__ = ["HandshakeJournal"]


class HandshakeJournal:
    def __init__(self, capacity):
        self._ring = collections.deque(maxlen=capacity)

    def record(self, environ, status, refused_by, mock_id, connection_id=None, at=None):
        """One attempt; ``at`` (seconds since the epoch) is when it came, now by default."""
        if not self._ring.maxlen:
            return
        when = datetime.datetime.fromtimestamp(time.time() if at is None else at, datetime.timezone.utc)
        entry = {
            "at": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "path": environ.get("PATH_INFO", ""),
            "mockId": mock_id,
            "remoteAddr": environ.get("REMOTE_ADDR", ""),
            "status": status,
            "refusedBy": refused_by,
        }
        if connection_id is not None:
            entry["connectionId"] = connection_id
        self._ring.append(entry)

    def entries(self, mock_id=None, path=None, limit=None):
        """Oldest first; ``limit`` keeps the newest N of those that match."""
        found = [entry for entry in self._ring
                 if (mock_id is None or entry["mockId"] == mock_id) and (path is None or entry["path"] == path)]
        return found[-limit:] if limit else found if limit is None else []

    def clear(self):
        count = len(self._ring)
        self._ring.clear()
        return count

    def __len__(self):
        return len(self._ring)
