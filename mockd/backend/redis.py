"""The Redis backend of ``mockd serve --cluster redis://HOST:PORT/DB``: several processes, on
one machine or many, serve as one mock server.

Through Redis (redis-py; its sockets are gevent's once the process is patched, so every call
here yields instead of blocking the hub):

- the mock table (``table.py``): a hash of the mocks by id; a node writes what it changed and
  publishes a notice on ``mockd:changes``; every node then applies the cluster's table as a
  config reload does (a changed mock's clients get 1012);
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

from ..errors import ConfigError, MockdError
from ..greenlets import spawn
from ..templatefuncs import share_sequences
from .base import Backend
from .commands import run_command
from .node import node_entry
from .table import CHANNEL, SharedTable

__all__ = ["RedisBackend"]

log = logging.getLogger("mockd.cluster")

COMMANDS = "mockd:commands"  # what a node asks the others (GET /websocket/connections...)
ASK_TIMEOUT = 2.0     # seconds a node waits for the others' answers (a broadcast: BROADCAST_WAIT)
BROADCAST_WAIT = 12.0
NODE_PREFIX = "mockd:node:"
NODE_TTL = 5          # seconds a node stays listed after its last heartbeat
HEARTBEAT = 1.0       # seconds between heartbeats
POOL_SIZE = 200       # connections to Redis at most (a node's waits share one: journal.py)
POOL_WAIT = 10        # seconds a call waits for one of them
ANSWER_POLL = 4.0     # seconds one BLPOP of an answer blocks at most (below the socket timeout)
MINIMUM_REDIS = (6, 2)
FAULTS_KEY = "mockd:faults"  # mock id -> its faults as this node last had them (for later nodes)


class RedisBackend(Backend):
    def __init__(self, url, node_id=None, reset=False):
        import redis  # only with --cluster: a single process never imports it
        self.url = url
        self.node_id = node_id or f"{socket.gethostname()}-{os.getpid()}"
        self.reset = reset
        # A blocking pool: past its size a call waits for a free connection (redis-py's default
        # pool raises "Too many connections" at 100, which is no outage of Redis).
        self._redis = redis.Redis(connection_pool=redis.BlockingConnectionPool.from_url(
            url, max_connections=POOL_SIZE, timeout=POOL_WAIT, socket_timeout=5, socket_connect_timeout=5))
        self._server = None
        self._greenlets = []
        self.table = SharedTable(self)
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
        try:
            if self.reset:
                self._redis.delete(FAULTS_KEY)
            self.table.join(server, self.reset)
        except redis.RedisError as exc:
            raise MockdError(f"--cluster {self.url}: Redis failed while joining ({exc})") from None
        self._take_faults()
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
            mock_id = mock_id.decode("utf-8", "replace")
            try:
                kept = json.loads(raw)
                if not isinstance(kept, dict) or not {"config", "faults"} <= kept.keys():
                    raise ValueError("not mockd's")
            except ValueError:
                log.warning("cluster: the faults of mock %s in Redis (%s) are not mockd's: left out", mock_id,
                            FAULTS_KEY)
                continue
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
        import redis
        if isinstance(exc, redis.ResponseError):  # Redis answered: it refused one command, it is not away
            log.error("cluster: Redis at %s refused a command: %s", self.url, exc)
            return
        if self.available:
            self.available = False
            log.warning("cluster: Redis at %s cannot be reached (%s): serving the mocks this node has; changes to "
                        "them answer 503 until it is back", self.url, exc)

    def _back(self):
        """Redis answers again: write the changes made here meanwhile and take the cluster's
        mocks (seeding them from this node if Redis came back without them)."""
        self.table.sync()
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
        """The live nodes; this one alone (the answer marked partial) while Redis is away."""
        return self._nodes()

    def _nodes(self, beating=False):
        """The nodes listed in Redis; with ``beating``, only those that beat lately: one that
        missed two heartbeats is dying (its entry stays until it expires), and a question to
        every node does not wait for its answer. (Told by the entry's time to live, Redis's
        clock: the nodes' clocks may differ.)"""
        import redis
        listed = []
        try:
            keys = sorted(self._redis.scan_iter(match=NODE_PREFIX + "*", count=1000))
            pipe = self._redis.pipeline(transaction=False)
            for key in keys:
                pipe.get(key)
                pipe.pttl(key)
            answers = pipe.execute() if keys else []
        except redis.RedisError as exc:
            self._lost(exc)
            keys = answers = []
        for key, value, ttl in zip(keys, answers[::2], answers[1::2]):
            if value is None:
                continue  # expired between the scan that found its key and its read
            entry = _node(value)
            if entry is None:
                log.warning("cluster: %s in Redis is not a node's entry: left out", key.decode("utf-8", "replace"))
            elif not beating or ttl > (NODE_TTL - 2.5 * HEARTBEAT) * 1000 or entry["id"] == self.node_id:
                listed.append(entry)
        # Every node as of its last heartbeat (this one too, so that any node answers alike);
        # this one as it is now before its first, or while Redis is away.
        if not any(node["id"] == self.node_id for node in listed):
            listed.append(node_entry(self._server, self.node_id))
        return sorted(listed, key=lambda node: node["id"])

    def ask(self, op, **args):
        """Run ``op`` here and, through ``mockd:commands``, on every other live node; each
        answers on a list of its own (``reply``), read until every node has answered or the
        wait is over (a node that died since its last heartbeat does not hold the request)."""
        import redis
        answers = [run_command(self._server, self.node_id, op, args)]
        try:
            others = [node["id"] for node in self._nodes(beating=True) if node["id"] != self.node_id] \
                if self.available else []
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
        while len(answers) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                log.warning("cluster: %d node(s) did not answer in time", count - len(answers))
                break
            # In steps below the socket timeout: a long wait is not a Redis that stopped answering.
            got = self._redis.blpop([reply], timeout=max(0.01, min(left, ANSWER_POLL)))
            if got is not None:
                try:
                    answers.append(json.loads(got[1]))
                except ValueError:
                    log.warning("cluster: an answer on %s is not JSON: left out", reply)
        self._redis.delete(reply)
        return answers

    def _answer(self, request):
        try:
            answer = run_command(self._server, self.node_id, request["op"], request["args"])
        except (KeyError, TypeError) as exc:  # an op or arguments this version does not know
            log.warning("cluster: a command from node %s cannot be run here (%r): ignored", request.get("node"), exc)
            return
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
            try:
                notice = json.loads(message["data"])
                if not isinstance(notice, dict):
                    raise ValueError("not a JSON object")
                if notice.get("node") == self.node_id:
                    continue
                if message["channel"] in (COMMANDS, COMMANDS.encode()):
                    if not (isinstance(notice.get("op"), str) and isinstance(notice.get("args"), dict)
                            and isinstance(notice.get("reply"), str)):
                        raise ValueError("not a command")
                    spawn(self._answer, notice)  # a broadcast may take a while: the listener goes on
                    continue
            except ValueError as exc:  # not mockd's: one bad message must not stop the listener
                log.warning("cluster: a message on %s is not mockd's (%s): ignored", message["channel"], exc)
                continue
            self.table.sync()


def _node(value):
    """A node's entry from Redis, or None when it is not one (garbage, or another program's)."""
    try:
        entry = json.loads(value)
    except ValueError:
        return None
    needed = ("id", "address", "startedAt", "lastHeartbeat", "connections")
    return entry if isinstance(entry, dict) and all(key in entry for key in needed) else None


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
