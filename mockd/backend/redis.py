"""The Redis backend of ``mockd serve --cluster redis://HOST:PORT/DB``: several processes, on
one machine or many, serve as one mock server.

Through Redis (redis-py; its sockets are gevent's once the process is patched, so every call
here yields instead of blocking the hub):

- the mock table is one JSON document (``mockd:mocks``: the mocks as written, id and type filled in,
  a version and the node that wrote it). A node whose table changes writes it and publishes
  its version on ``mockd:changes``; every other node reads it and applies it as a config reload
  does (a changed mock's clients get 1012). Changes in a burst (``DELETE /mocks``, an import)
  go out as one write. The first node seeds the document from its config; a later one with a
  different file says so and follows the cluster, unless ``--cluster-reset``.
- membership: each node refreshes ``mockd:node:<id>`` (its address, start, connection count)
  every second with a time to live of :data:`NODE_TTL` seconds, so a node killed with -9
  leaves ``GET /cluster`` within that.
"""
import json
import logging
import os
import socket
import time
import uuid

import gevent

from ..config import build_mock
from ..errors import ConfigError, MockdError
from ..greenlets import spawn
from ..templatefuncs import share_sequences
from .base import Backend
from .commands import run_command
from .node import node_entry

__all__ = ["RedisBackend"]

log = logging.getLogger("mockd.cluster")

MOCKS_KEY = "mockd:mocks"
VERSION_KEY = "mockd:mocks:version"
CHANNEL = "mockd:changes"
COMMANDS = "mockd:commands"  # what a node asks the others (GET /websocket/connections...)
ASK_TIMEOUT = 2.0     # seconds a node waits for the others' answers (a broadcast: BROADCAST_WAIT)
BROADCAST_WAIT = 12.0
NODE_PREFIX = "mockd:node:"
NODE_TTL = 5          # seconds a node stays listed after its last heartbeat
HEARTBEAT = 1.0       # seconds between heartbeats
COALESCE = 0.02       # seconds a burst of local changes is gathered into one write
MINIMUM_REDIS = (6, 2)
FAULTS_KEY = "mockd:faults"  # mock id -> its faults as this node last had them (for later nodes)


class RedisBackend(Backend):
    def __init__(self, url, node_id=None, reset=False):
        import redis  # only with --cluster: a single process never imports it
        self.url = url
        self.node_id = node_id or f"{socket.gethostname()}-{os.getpid()}"
        self.reset = reset
        self._redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._server = None
        self._greenlets = []
        self._dirty = None          # an Event-like flag: a local change waits to be written
        self._applying = False      # a remote table is being applied: not a local change
        self._seen_version = None   # the table version this node serves
        self._unpublished = False   # a change made here has not reached Redis (it went away)
        #: False while Redis cannot be reached: the node serves what it has, admin writes of
        #: the mock table answer 503, reads say they are partial (mockd/admin/app.py).
        self.available = True
        self.journal = None
        self._recordings = None

    # ------------------------------------------------------------ joining and leaving

    def start(self, server):
        import redis
        self._server = server
        try:
            self._redis.ping()
        except redis.RedisError as exc:
            raise MockdError(f"--cluster {self.url}: Redis cannot be reached ({exc}); start redis-server or "
                             "check the URL") from None
        version = str(self._redis.info("server").get("redis_version", "0"))
        if tuple(int(part) for part in version.split(".")[:2] if part.isdigit()) < MINIMUM_REDIS:
            raise MockdError(f"--cluster {self.url}: Redis {version} is too old: mockd needs "
                             f"{'.'.join(map(str, MINIMUM_REDIS))} or later (streams trimmed by id)")
        ours = _table(server)
        document = json.dumps({"version": self._next_version(), "node": self.node_id, "mocks": ours})
        if self.reset or self._redis.set(MOCKS_KEY, document, nx=True):
            log.info("cluster %s: this node's mocks are the cluster's (%d mocks)%s", self.url, len(ours),
                     " (--cluster-reset)" if self.reset else "")
            self._seen_version = json.loads(document)["version"]
            if self.reset:
                self._redis.set(MOCKS_KEY, document)
            self._redis.publish(CHANNEL, json.dumps({"node": self.node_id, "version": self._seen_version}))
        else:
            theirs = json.loads(self._redis.get(MOCKS_KEY))
            if theirs["mocks"] != ours:
                log.warning("cluster %s: this node's config differs from the cluster's mocks; following the "
                            "cluster (%d mocks; --cluster-reset replaces them with this node's)", self.url,
                            len(theirs["mocks"]))
            self._apply(theirs)
        self._take_faults()
        server.mocks.on_change = self.mocks_changed
        share_sequences(self._counter)
        self._beat()
        self._greenlets = [spawn(self._heartbeats), spawn(self._listen)]
        if server.journal.entries.maxlen:  # --journal-size 0: no journal, none shared
            from .journal import SharedJournal
            self.journal = SharedJournal(self, server.journal)
            self._greenlets.append(spawn(self.journal.run))
        log.info("cluster %s: joined as node %s", self.url, self.node_id)

    def share_recordings(self, store):
        from .recordings import SharedRecordings
        self._recordings = SharedRecordings(self, store)
        return self._recordings

    def faults_changed(self, mock_id):
        """Keep mock ``mock_id``'s faults as they now are (its config's list and what the admin
        API added) where a node that joins later finds them (:meth:`_take_faults`)."""
        import redis
        faults = self._server.mocks.faults_of(mock_id)
        try:
            self._redis.hset(FAULTS_KEY, mock_id, json.dumps({
                "config": faults.config_specs, "faults": [entry.fault.spec for entry in faults.entries]}))
        except redis.RedisError as exc:  # the live nodes have them; a later one will not
            self._lost(exc)

    def _take_faults(self):
        """Joining: the faults the admin API gave the cluster's mocks, where this node's mock has
        the same config faults (a mock changed since starts again from its config's, as on the
        nodes that saw the change)."""
        from .commands import compile_fault
        server = self._server
        for mock_id, raw in self._redis.hgetall(FAULTS_KEY).items():
            mock_id, kept = mock_id.decode(), json.loads(raw)
            if mock_id not in server.mocks:
                continue
            faults = server.mocks.faults_of(mock_id)
            if kept["config"] != faults.config_specs or kept["faults"] == faults.config_specs:
                continue
            try:
                compiled = [compile_fault(server, spec) for spec in kept["faults"]]
            except ConfigError as exc:
                log.error("cluster: the faults of mock %s do not load here (different plugins?): %s", mock_id, exc)
                continue
            faults.clear(())
            for fault in compiled:
                faults.add(fault, ())
            log.info("cluster: mock %s has %d fault(s) from the cluster", mock_id, len(compiled))

    def _counter(self, key, first):
        """A ``sequence()`` counter every node draws from (Redis INCR): unique across nodes."""
        return _SharedCounter(self, key, first)

    def stop(self):
        gevent.killall([g for g in self._greenlets if not g.dead], block=True, timeout=1)
        try:
            if self.journal is not None:
                self.journal.flush()  # the last frames, recorded as the connections closed
            self._redis.delete(NODE_PREFIX + self.node_id)
        except Exception:  # Redis gone: the entry expires by itself
            log.debug("could not remove node %s from Redis", self.node_id, exc_info=True)

    # ------------------------------------------------------------ membership

    def _beat(self):
        entry = node_entry(self._server, self.node_id)
        self._redis.set(NODE_PREFIX + self.node_id, json.dumps(entry), ex=NODE_TTL)

    def _heartbeats(self):
        import redis
        while True:
            gevent.sleep(HEARTBEAT)
            try:
                self._beat()
                if not self.available:
                    self._back()
            except redis.RedisError as exc:  # Redis away for a while: keep serving, keep trying
                self._lost(exc)

    def _lost(self, exc):
        if self.available:
            self.available = False
            log.warning("cluster: Redis at %s cannot be reached (%s): serving the mocks this node has; changes to "
                        "them answer 503 until it is back", self.url, exc)

    def _back(self):
        """Redis answers again: take the cluster's table; or send this node's, when Redis lost
        it or when a change made here did not reach it and nobody changed the table since."""
        raw = self._redis.get(MOCKS_KEY)
        theirs = json.loads(raw) if raw is not None else None
        if theirs is None:
            log.warning("cluster: Redis at %s is back without the mocks: seeding them from this node", self.url)
            self._publish(wait=False)
        elif self._unpublished and theirs["version"] == self._seen_version:
            log.warning("cluster: Redis at %s is back: sending the change made here while it was away", self.url)
            self._publish(wait=False)
        else:
            if self._unpublished:
                log.warning("cluster: Redis at %s is back, and node %s changed the mocks meanwhile: the change made "
                            "here while Redis was away is dropped for the cluster's", self.url, theirs.get("node"))
            self._apply(theirs)
        self._unpublished = False
        self.available = True
        if self._recordings is not None:
            self._recordings.resend()
        log.info("cluster: Redis at %s is back", self.url)

    def check(self):
        """Before a change of what the nodes share: a PING, so that a Redis gone since the last
        heartbeat is noticed now (the change is refused) rather than after it was made here."""
        import redis
        if self.available:
            try:
                self._redis.ping()
            except redis.RedisError as exc:
                self._lost(exc)
        return self.available

    def nodes(self):
        keys = sorted(self._redis.scan_iter(match=NODE_PREFIX + "*", count=1000))
        values = self._redis.mget(keys) if keys else []
        listed = [json.loads(value) for value in values if value is not None]
        if not any(node["id"] == self.node_id for node in listed):  # asked before its first heartbeat
            listed = sorted([*listed, node_entry(self._server, self.node_id)], key=lambda node: node["id"])
        return listed

    # ------------------------------------------------------------ the mock table

    def mocks_changed(self):
        """Called by the mock table after a local change; the write happens a moment later, once
        for a burst of changes, in a greenlet of its own (the admin request does not wait)."""
        if self._applying:
            return
        if self._dirty is None:
            self._dirty = spawn(self._publish)

    def _publish(self, wait=True):
        import redis
        if wait:
            gevent.sleep(COALESCE)
        self._dirty = None
        try:
            self._write_table()
        except redis.RedisError as exc:  # Redis went away after the change was made: sent when back
            self._unpublished = True
            self._lost(exc)
            if not wait:
                raise

    def _write_table(self):
        version = self._next_version()
        self._redis.set(MOCKS_KEY, json.dumps({"version": version, "node": self.node_id,
                                               "mocks": _table(self._server)}))
        self._seen_version = version
        self._redis.publish(CHANNEL, json.dumps({"node": self.node_id, "version": version}))

    def _next_version(self):
        return int(self._redis.incr(VERSION_KEY))

    def ask(self, op, **args):
        """Run ``op`` here and, through ``mockd:commands``, on every other live node; each
        answers on a list of its own (``reply``), read until every node has answered or the
        wait is over (a node that died since its last heartbeat does not hold the request)."""
        import redis
        answers = [run_command(self._server, self.node_id, op, args)]
        try:
            others = [node["id"] for node in self.nodes() if node["id"] != self.node_id] if self.available else []
            if others:
                reply = f"mockd:reply:{uuid.uuid4().hex}"
                self._redis.publish(COMMANDS, json.dumps({"op": op, "args": args, "reply": reply,
                                                          "node": self.node_id}))
                answers += self._answers(reply, len(others), BROADCAST_WAIT if op == "broadcast" else ASK_TIMEOUT)
        except redis.RedisError as exc:
            self._lost(exc)  # this node's answer alone: the admin API marks it partial
        return answers

    def _answers(self, reply, count, wait):
        """Up to ``count`` answers from the ``reply`` list, within ``wait`` seconds."""
        answers, deadline = [], time.monotonic() + wait
        for _ in range(count):
            left = deadline - time.monotonic()
            got = self._redis.blpop([reply], timeout=left) if left > 0 else None
            if got is None:
                log.warning("cluster: %d node(s) did not answer in time", count - len(answers))
                break
            answers.append(json.loads(got[1]))
        self._redis.delete(reply)
        return answers

    def _answer(self, request):
        answer = run_command(self._server, self.node_id, request["op"], request["args"])
        self._redis.rpush(request["reply"], json.dumps(answer))
        self._redis.expire(request["reply"], 30)

    def _listen(self):
        import redis
        while True:
            try:
                self._listen_once()
            except redis.RedisError as exc:  # resubscribed once Redis answers again
                self._lost(exc)
                gevent.sleep(HEARTBEAT)

    def _listen_once(self):
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(CHANNEL, COMMANDS)
        for message in pubsub.listen():
            notice = json.loads(message["data"])
            if notice.get("node") == self.node_id:
                continue
            if message["channel"] in (COMMANDS, COMMANDS.encode()):
                spawn(self._answer, notice)  # a broadcast may take a while: the listener goes on
                continue
            raw = self._redis.get(MOCKS_KEY)
            if raw is not None:
                self._apply(json.loads(raw))

    def _apply(self, document):
        """Serve the cluster's mock table (a reload: changed mocks' clients get 1012)."""
        if document["version"] == self._seen_version:
            return
        server = self._server
        try:
            mocks = [build_mock(spec, server.registry, f"cluster mocks[{index}]", plugins=server.config.plugins,
                                source=server.config.source)
                     for index, spec in enumerate(document["mocks"])]
        except ConfigError as exc:
            log.error("cluster: node %s's mocks do not load here (different plugins?): %s; keeping this node's",
                      document.get("node"), exc)
            return
        self._applying = True
        try:
            report = server.mocks.reload(mocks)
        finally:
            self._applying = False
        self._seen_version = document["version"]
        log.info("cluster: mocks of node %s applied (version %d): %s", document.get("node"), document["version"],
                 ", ".join(f"{len(ids)} {what}" for what, ids in report.items() if ids) or "no change")


def _table(server):
    # The specs as written, not to_json() (which adds "enabled": true): a node that applies them
    # holds the very specs a reload of the same file builds, so that a SIGHUP changing nothing
    # closes no client with 1012 there.
    return [mock.spec for mock in server.mocks.values()]


class _SharedCounter:
    """``next()`` is the next value of a name's cluster-wide counter: ``first`` for the first
    draw on any node. While Redis cannot be reached it goes on locally from the last value this
    node drew (unique again once Redis is back only if no other node drew meanwhile)."""

    __slots__ = ("_backend", "_name", "_offset", "_last")

    def __init__(self, backend, key, first):
        self._backend = backend
        name = key if isinstance(key, str) else key.hex()  # a long name's digest
        self._name = f"mockd:seq:{name}"
        self._offset = first - 1
        self._last = self._offset

    def __iter__(self):
        return self

    def __next__(self):
        import redis
        try:
            self._last = int(self._backend._redis.incr(self._name)) + self._offset
        except redis.RedisError as exc:
            self._backend._lost(exc)
            self._last += 1
        return self._last
