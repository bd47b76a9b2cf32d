"""The broker state of one mock, shared by its connections: sessions (with their subscriptions
and unacknowledged QoS 1 messages) and retained messages. Pure: it sends through the live
client a session is attached to (:class:`~.client.Client`, duck-typed: ``send_publish`` and
``window``), so nothing here blocks; every caller runs in a greenlet of the one server thread.

A session outlives its connection when the client asked for it (MQTT 3.1.1 Clean Session 0,
MQTT 5.0 a Session Expiry Interval): its subscriptions stay, the QoS 1 messages for it are
queued (at most :data:`MAX_QUEUED`, the oldest dropped first) and those sent but not
acknowledged are sent again, DUP set, when it reconnects. QoS 0 messages for an absent client
are dropped, as brokers do.
"""
import math
import time
from collections import deque

from .topics import levels, matches

__all__ = ["Broker", "Publication", "SessionState", "Subscription", "MAX_QUEUED"]

MAX_QUEUED = 1000
FORWARDED = (0x01, 0x03, 0x08, 0x09, 0x26)  # the PUBLISH properties a 5.0 broker passes on (3.3.2.3)
MESSAGE_EXPIRY = 0x02
_monotonic = time.monotonic


class Publication:
    """An application message on its way through the broker."""

    __slots__ = ("topic", "levels", "payload", "qos", "retain", "properties", "expires_at")

    def __init__(self, topic, payload, qos=0, retain=False, properties=None, expiry=None):
        self.topic = topic
        self.levels = levels(topic)
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.properties = {key: value for key, value in (properties or {}).items() if key in FORWARDED}
        self.expires_at = None if expiry is None else _monotonic() + expiry

    @classmethod
    def from_packet(cls, publish):
        """What a client's PUBLISH (or will) carries on to subscribers; QoS 2 goes on as 1."""
        return cls(publish.topic, publish.payload, min(publish.qos, 1), publish.retain, publish.properties,
                   publish.properties.get(MESSAGE_EXPIRY))

    def expired(self, now):
        return self.expires_at is not None and now >= self.expires_at

    def properties_v5(self, subscription_ids=()):
        """The properties of the PUBLISH that delivers it to an MQTT 5.0 client: those passed on,
        the expiry left (rounded up), and the identifiers of the subscriptions it matched."""
        properties = dict(self.properties)
        if self.expires_at is not None:
            properties[MESSAGE_EXPIRY] = max(0, math.ceil(self.expires_at - _monotonic()))
        if subscription_ids:
            properties[0x0B] = list(subscription_ids)
        return properties


class Subscription:
    __slots__ = ("topic_filter", "levels", "qos", "no_local", "retain_as_published", "identifier")

    def __init__(self, topic_filter, qos, no_local=False, retain_as_published=False, identifier=None):
        self.topic_filter = topic_filter
        self.levels = levels(topic_filter)
        self.qos = qos
        self.no_local = no_local
        self.retain_as_published = retain_as_published
        self.identifier = identifier


class SessionState:
    """One client identifier's session; ``client`` is its live connection, or None."""

    def __init__(self, client_id):
        self.client_id = client_id
        self.subscriptions = {}       # topic filter -> Subscription
        self.inflight = {}            # packet id -> (Publication, retain flag, subscription ids)
        self.queue = deque()          # what waits for a free slot, or for the client to come back
        self.awaiting_release = set()  # packet ids of QoS 2 PUBLISHes received, until their PUBREL
        self.client = None
        self.expiry = 0.0             # seconds the session outlives its connection (math.inf: forever)
        self.detached_at = None
        self.dropped = 0              # queued messages dropped for MAX_QUEUED
        self._last_id = 0

    def expired(self, now):
        return self.client is None and self.detached_at is not None and now - self.detached_at >= self.expiry

    def deliver(self, publication, qos, retain, subscription_ids=()):
        """Send (or queue) ``publication`` at ``qos``; whether a live client got it."""
        client = self.client
        if qos == 0:
            return client is not None and client.send_publish(publication, 0, retain, None, subscription_ids)
        item = (publication, retain, tuple(subscription_ids))
        if client is not None and not self.queue and len(self.inflight) < client.window:
            return self._send(item)
        self.queue.append(item)
        if len(self.queue) > MAX_QUEUED:
            self.queue.popleft()
            self.dropped += 1
        return client is not None

    def acknowledge(self, packet_id):
        """The client's PUBACK: the slot is free for what is queued."""
        if self.inflight.pop(packet_id, None) is not None:
            self.flush()

    def attach(self, client):
        """``client`` now serves this session: what it had not acknowledged is sent again
        (DUP set), then what was queued."""
        self.client, self.detached_at = client, None
        for packet_id, (publication, retain, ids) in list(self.inflight.items()):
            if not client.send_publish(publication, 1, retain, packet_id, ids, dup=True):
                del self.inflight[packet_id]
        self.flush()

    def flush(self):
        client = self.client
        while self.queue and client is not None and len(self.inflight) < client.window:
            self._send(self.queue.popleft())

    def _send(self, item):
        publication, retain, ids = item
        if publication.expired(_monotonic()):
            return False
        packet_id = self._next_id()
        if not self.client.send_publish(publication, 1, retain, packet_id, ids):
            return False  # too large for the client: dropped, as 5.0 says (3.1.2.25)
        self.inflight[packet_id] = item
        return True

    def _next_id(self):
        packet_id = self._last_id
        while True:  # the window (at most 65,535 in flight) always leaves one free
            packet_id = packet_id % 0xFFFF + 1
            if packet_id not in self.inflight:
                self._last_id = packet_id
                return packet_id


class Broker:
    """Sessions by client identifier and retained messages by topic, for one mock."""

    def __init__(self, retained=()):
        self.retained = {publication.topic: publication for publication in retained}
        self.sessions = {}

    def session(self, client_id, clean, expiry):
        """``(session, present)`` for a CONNECT: a clean one unless the client asked to resume
        one that is there. The caller has taken the old one's connection over already."""
        now = _monotonic()
        state = self.sessions.get(client_id)
        present = state is not None and not clean and not state.expired(now)
        if not present:
            state = self.sessions[client_id] = SessionState(client_id)
        state.expiry = expiry
        return state, present

    def detach(self, state, client):
        """``client``'s connection is gone: its session ends, or waits for it to come back."""
        if state.client is not client:
            return  # taken over by a newer connection of the same client identifier
        state.client, state.detached_at = None, _monotonic()
        if state.expiry <= 0 and self.sessions.get(state.client_id) is state:
            del self.sessions[state.client_id]

    def publish(self, publication, origin=None):
        """Deliver ``publication`` to each session with a matching subscription (once each, at
        the highest QoS they grant), after storing it if retained; ``origin`` is the session
        that published it (No Local). Returns how many live clients got it."""
        if publication.retain:
            self.retain(publication)
        now, sent = _monotonic(), 0
        for client_id, state in list(self.sessions.items()):
            if state.expired(now):
                del self.sessions[client_id]
                continue
            qos, retain, ids = -1, False, []
            for subscription in state.subscriptions.values():
                if (subscription.no_local and state is origin) or not matches(subscription.levels,
                                                                             publication.levels):
                    continue
                qos = max(qos, subscription.qos)
                retain = retain or (subscription.retain_as_published and publication.retain)
                if subscription.identifier:
                    ids.append(subscription.identifier)
            if qos >= 0 and state.deliver(publication, min(qos, publication.qos), retain, ids):
                sent += 1
        return sent

    def retain(self, publication):
        """Store a retained message, or delete the topic's with an empty payload (3.3.1.3)."""
        if publication.payload:
            self.retained[publication.topic] = publication
        else:
            self.retained.pop(publication.topic, None)

    def retained_matching(self, filter_levels):
        now = _monotonic()
        found = []
        for topic, publication in list(self.retained.items()):
            if publication.expired(now):
                del self.retained[topic]
            elif matches(filter_levels, publication.levels):
                found.append(publication)
        return found
