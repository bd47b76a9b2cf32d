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
    # Entries are kept as tuples (about 120 bytes, their strings shared with the request) and
    # made dicts when read: a dict each was 0.6 KiB per handshake, with 10,000 kept.
    def __init__(self, capacity):
        self._ring = collections.deque(maxlen=capacity)

    def record(self, environ, status, refused_by, mock_id, connection_id=None, at=None):
        """One attempt; ``at`` (seconds since the epoch) is when it came, now by default."""
        if self._ring.maxlen:
            self._ring.append((time.time() if at is None else at, environ.get("PATH_INFO", ""), mock_id,
                               environ.get("REMOTE_ADDR", ""), status, refused_by, connection_id))

    def entries(self, mock_id=None, path=None, limit=None):
        """Oldest first; ``limit`` keeps the newest N of those that match."""
        found = [item for item in self._ring
                 if (mock_id is None or item[2] == mock_id) and (path is None or item[1] == path)]
        if limit is not None:
            found = found[-limit:] if limit else []
        return [_entry(item) for item in found]

    def clear(self):
        count = len(self._ring)
        self._ring.clear()
        return count

    def __len__(self):
        return len(self._ring)


def _entry(item):
    at, path, mock_id, remote_addr, status, refused_by, connection_id = item
    entry = {"at": datetime.datetime.fromtimestamp(at, datetime.timezone.utc).isoformat(timespec="milliseconds")
             .replace("+00:00", "Z"),
             "path": path, "mockId": mock_id, "remoteAddr": remote_addr, "status": status, "refusedBy": refused_by}
    if connection_id is not None:
        entry["connectionId"] = connection_id
    return entry
