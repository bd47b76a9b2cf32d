"""The cluster's mock table: one Redis hash of the mocks by id (``mockd:mocks:table``, each the
spec as written), their order (``mockd:mocks:order``) and a version that every write moves on.

A node never writes the whole table: it writes what changed here since it last agreed with the
cluster (the mocks it added, replaced or removed), then reads the cluster's table and serves
it. Two nodes changing different mocks at the same moment (two test suites, or ``--workers``
taking one client's requests in turn) so both keep their change; the same mock changed on two
nodes at once ends as the last write. Both directions are one step, :meth:`SharedTable.sync`,
run under a lock: after a local change (once for a burst) and on another node's notice on
``mockd:changes``. A local change made while the step waits on Redis is written before the
cluster's table is applied, so it is never lost.

The first node to find no table seeds it with its own mocks (``mockd:mocks:owner``, SET NX); a
later one follows the cluster (it logs when its config differs), and ``--cluster-reset``
replaces the cluster's mocks with its own. A Redis that comes back empty is seeded again the
same way, with the changes made meanwhile on every node.
"""
import json
import logging

import gevent
from gevent.lock import Semaphore

from ..config import build_mock
from ..errors import ConfigError
from ..greenlets import spawn

__all__ = ["SharedTable"]

log = logging.getLogger("mockd.cluster")

TABLE = "mockd:mocks:table"
ORDER = "mockd:mocks:order"
VERSION = "mockd:mocks:version"
POSITION = "mockd:mocks:position"
OWNER = "mockd:mocks:owner"
CHANNEL = "mockd:changes"
COALESCE = 0.02  # seconds a burst of local changes is gathered into one write


class SharedTable:
    def __init__(self, backend):
        self._backend = backend
        self._redis = backend._redis
        self._server = None
        self._lock = Semaphore()
        self._shared = {}        # id -> spec: the cluster's table as this node last agreed with it
        self._foreign = set()    # ids of the cluster's mocks that do not build here (kept, not served)
        self._changes = 0        # local changes so far (a change during a sync is written before applying)
        self._pending = None     # the greenlet that will sync a burst of local changes
        self._applying = False   # the cluster's table is being applied: not a local change

    # ------------------------------------------------------------ joining

    def join(self, server, reset):
        """Seed the cluster's mocks, or take them (raises ``redis.RedisError``)."""
        self._server = server
        ours = _specs(server)
        if reset:
            self._redis.delete(TABLE, ORDER, OWNER)
        if self._redis.set(OWNER, self._backend.node_id, nx=True):
            log.info("cluster %s: this node's mocks are the cluster's (%d mocks)%s", self._backend.url, len(ours),
                     " (--cluster-reset)" if reset else "")
            self._shared = {}  # everything here is to be written
        else:
            self._shared = dict(ours)  # nothing here is to be written: the cluster's table is taken
            theirs = self._read()[0]
            if [(mock_id, spec) for mock_id, spec in theirs] != list(ours.items()):
                log.warning("cluster %s: this node's config differs from the cluster's mocks; following the "
                            "cluster (%d mocks; --cluster-reset replaces them with this node's)",
                            self._backend.url, len(theirs))
        self.sync()
        server.mocks.on_change = self.local_changed

    # ------------------------------------------------------------ changes

    def local_changed(self):
        """The mock table's hook: a local change (an admin write, a reload). Synced a moment
        later, once for a burst, in a greenlet of its own: the caller does not wait (nor yield)."""
        if self._applying:
            return
        self._changes += 1
        if self._pending is None:
            self._pending = spawn(self._sync_soon)

    def _sync_soon(self):
        import redis
        gevent.sleep(COALESCE)
        self._pending = None
        try:
            self.sync()
        except redis.RedisError as exc:  # written when Redis is back (the backend syncs then)
            self._backend._lost(exc)

    def sync(self):
        """Write what changed here since this node last agreed with the cluster, then serve the
        cluster's table. Raises ``redis.RedisError``; what was not written stays to be written."""
        with self._lock:
            if not self._redis.exists(OWNER) and self._redis.set(OWNER, self._backend.node_id, nx=True):
                log.warning("cluster: Redis at %s has no mocks (it restarted empty?): seeding them from this node",
                            self._backend.url)
                self._shared = {}
            while True:
                changes = self._changes
                self._write()
                table, version = self._read()
                if changes == self._changes:  # nothing changed here while Redis answered: apply
                    break
            self._apply(table, version)

    def _write(self):
        ours = _specs(self._server)
        changed = {mock_id: spec for mock_id, spec in ours.items() if self._shared.get(mock_id) != spec}
        removed = [mock_id for mock_id in self._shared if mock_id not in ours and mock_id not in self._foreign]
        if not changed and not removed:
            return
        new = [mock_id for mock_id in changed if mock_id not in self._shared]
        first = int(self._redis.incrby(POSITION, len(new))) - len(new) + 1 if new else 0
        pipe = self._redis.pipeline()  # MULTI: a reader sees all of this change or none
        if changed:
            pipe.hset(TABLE, mapping={mock_id: json.dumps(spec) for mock_id, spec in changed.items()})
        if new:
            pipe.zadd(ORDER, {mock_id: first + index for index, mock_id in enumerate(new)}, nx=True)
        if removed:
            pipe.hdel(TABLE, *removed)
            pipe.zrem(ORDER, *removed)
        pipe.incr(VERSION)
        version = pipe.execute()[-1]
        self._shared.update(changed)
        for mock_id in removed:
            self._shared.pop(mock_id, None)
        self._redis.publish(CHANNEL, json.dumps({"node": self._backend.node_id, "version": version}))

    def _read(self):
        """``([(id, spec)] in order, version)``; a mock whose document is not JSON is left out."""
        pipe = self._redis.pipeline(transaction=True)
        pipe.zrange(ORDER, 0, -1)
        pipe.hgetall(TABLE)
        pipe.get(VERSION)
        order, documents, version = pipe.execute()
        ids = [raw.decode() for raw in order]
        ids += sorted(raw.decode() for raw in documents if raw.decode() not in set(ids))  # order lost: at the end
        table = []
        for mock_id in ids:
            raw = documents.get(mock_id.encode())
            try:
                spec = json.loads(raw) if raw is not None else None
            except ValueError:
                spec = None
            if isinstance(spec, dict):
                table.append((mock_id, spec))
            elif raw is not None:
                log.error("cluster: the mock %r in Redis (%s) is not a mock's JSON: left out", mock_id, TABLE)
        return table, int(version or 0)

    def _apply(self, table, version):
        """Serve the cluster's table (a reload: changed mocks' clients get 1012)."""
        server = self._server
        mocks, foreign = [], set()
        for mock_id, spec in table:
            try:
                mocks.append(build_mock(spec, server.registry, f"cluster mock {mock_id}", plugins=server.config.plugins,
                                        source=server.config.source))
            except ConfigError as exc:
                log.error("cluster: mock %s does not load here (different plugins?): %s; not served here", mock_id, exc)
                foreign.add(mock_id)
        self._applying = True
        try:
            report = server.mocks.reload(mocks)
        except ConfigError as exc:
            log.error("cluster: the cluster's mocks cannot be served here: %s; keeping this node's", exc)
            self._shared = _specs(server)  # not written back: this node differs until the next change
            return
        finally:
            self._applying = False
        self._shared = dict(table)
        self._foreign = foreign
        changed = ", ".join(f"{len(ids)} {what}" for what, ids in report.items() if ids and what != "unchanged")
        if changed:
            log.info("cluster: the cluster's mocks applied (version %d): %s", version, changed)


def _specs(server):
    # The specs as written, not to_json() (which adds "enabled": true): a node that applies them
    # holds the very specs a reload of the same file builds, so that a SIGHUP changing nothing
    # closes no client with 1012 there.
    return {mock.id: mock.spec for mock in server.mocks.values()}
