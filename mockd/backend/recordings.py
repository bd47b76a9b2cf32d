"""The cluster's recordings (``proxy.record``): a session recorded on any node is listed, read
and deleted through every node's ``/recordings``.

Each recording is one JSON document in the hash ``mockd:recordings`` (by id) and a member of
the sorted set ``mockd:recordings:order`` (by when it was kept), trimmed to ``--max-recordings``
in the same script call. The node keeps its own too (:class:`~mockd.proxy.recording.RecordingStore`):
while Redis cannot be reached the node lists those (the admin API says partial) and sends the
ones it kept meanwhile once Redis is back.
"""
import json
import logging
import time

from ..errors import ConfigError
from ..proxy.recording import Recording

__all__ = ["SharedRecordings"]

log = logging.getLogger("mockd.cluster")

DOCUMENTS = "mockd:recordings"
ORDER = "mockd:recordings:order"

# Keep one document, then drop the oldest past the limit.
_KEEP = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[4])
if over > 0 then
  local old = redis.call('ZRANGE', KEYS[2], 0, over - 1)
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, over - 1)
  redis.call('HDEL', KEYS[1], unpack(old))
end
"""


class SharedRecordings:
    """``server.recordings`` of a node with ``--cluster``: the interface of
    :class:`~mockd.proxy.recording.RecordingStore` over Redis, this node's store beneath."""

    def __init__(self, backend, local):
        self._backend = backend
        self._local = local
        self._unsent = []  # ids kept here while Redis was away
        self._keep = None

    @property
    def limit(self):
        return self._local.limit

    def _redis_call(self, action, fallback):
        """``action(redis)``, or ``fallback()`` when Redis cannot be reached (the node is then
        apart: its admin answers say partial)."""
        import redis
        if not self._backend.available:
            return fallback()
        try:
            return action(self._backend._redis)
        except redis.RedisError as exc:
            self._backend._lost(exc)
            return fallback()

    def add(self, recording):
        if self.limit <= 0:
            return
        self._local.add(recording)
        self._redis_call(lambda r: self._send(r, recording), lambda: self._unsent.append(recording.id))

    def _send(self, client, recording):
        if self._keep is None:
            self._keep = client.register_script(_KEEP)
        self._keep(keys=[DOCUMENTS, ORDER],
                   args=[recording.id, json.dumps(recording.to_json()), time.time(), self.limit])

    def resend(self):
        """Redis is back: send the recordings kept while it was away (those still kept here)."""
        unsent, self._unsent = self._unsent, []
        for recording_id in unsent:
            recording = self._local.get(recording_id)
            if recording is not None:
                self._send(self._backend._redis, recording)

    def get(self, recording_id):
        return self._redis_call(lambda r: _loaded(recording_id, r.hget(DOCUMENTS, recording_id)),
                                lambda: self._local.get(recording_id))

    def remove(self, recording_id):
        def remove_shared(client):
            pipe = client.pipeline()
            pipe.hdel(DOCUMENTS, recording_id)
            pipe.zrem(ORDER, recording_id)
            pipe.execute()
        self._redis_call(remove_shared, lambda: None)
        return self._local.remove(recording_id)

    def _shared_list(self, client):
        ids = [raw.decode() for raw in client.zrange(ORDER, 0, -1)]
        documents = client.hmget(DOCUMENTS, ids) if ids else []
        loaded = (_loaded(recording_id, raw) for recording_id, raw in zip(ids, documents))
        return [recording for recording in loaded if recording is not None]

    def __iter__(self):
        return iter(self._redis_call(self._shared_list, lambda: list(self._local)))

    def __len__(self):
        return self._redis_call(lambda r: int(r.zcard(ORDER)), lambda: len(self._local))


def _loaded(recording_id, raw):
    if raw is None:
        return None
    try:
        return Recording.from_json(json.loads(raw), where=f"the cluster's recording {recording_id}")
    except (ValueError, ConfigError) as exc:  # written by another mockd version: left out, said once
        log.warning("cluster: recording %s cannot be read here: %s", recording_id, exc)
        return None
