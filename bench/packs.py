"""Feeds through the protocol packs (issue 15): subscriptions fed per second at the feed's
connection count, for GraphQL over WebSocket and MQTT, against the raw-WebSocket feed.

- GraphQL: every connection sends ``connection_init`` and one ``subscribe`` to the ``Feed``
  operation of ``cases.GRAPHQL_PATH``, which streams a templated ``next`` every feed period;
- MQTT: every connection sends CONNECT and SUBSCRIBE to ``cases.MQTT_TOPIC``; one more
  connection publishes to it every feed period, and mockd's broker fans each PUBLISH out.

Both then count what is pushed as the raw feed does (``FeedConnection``): the ideal is the same
50 messages a second per subscriber.
"""
import json
import struct

from . import cases
from .frames import OP_BINARY, OP_TEXT, client_frame
from .protocols import Connection, FeedConnection

__all__ = ["pack_feed"]


def _mqtt_string(text):
    data = text.encode()
    return struct.pack("!H", len(data)) + data


def _mqtt_packet(first_byte, body):
    """An MQTT control packet: fixed header (variable-length remaining length) and ``body``."""
    length, encoded = len(body), b""
    while True:
        digit, length = length % 128, length // 128
        encoded += bytes((digit | (0x80 if length else 0),))
        if not length:
            return bytes((first_byte,)) + encoded + body


def mqtt_connect(client_id):
    # protocol name MQTT, level 4 (3.1.1), clean session, keep-alive 60 s
    return _mqtt_packet(0x10, _mqtt_string("MQTT") + b"\x04\x02" + struct.pack("!H", 60) + _mqtt_string(client_id))


def mqtt_subscribe(topic, packet_id=1):
    return _mqtt_packet(0x82, struct.pack("!H", packet_id) + _mqtt_string(topic) + b"\x00")


def mqtt_publish(topic, payload):
    return _mqtt_packet(0x30, _mqtt_string(topic) + payload)


class GraphQLSubscriber(FeedConnection):
    SETUP = [json.dumps({"type": "connection_init"}).encode(),
             json.dumps({"id": "1", "type": "subscribe", "payload": {
                 "query": "subscription Feed { tick }", "operationName": "Feed"}}).encode()]

    def on_open(self):
        for message in self.SETUP:
            self.transport.write(client_frame(OP_TEXT, message))


class MqttSubscriber(FeedConnection):
    def on_open(self):
        self.transport.write(client_frame(OP_BINARY, mqtt_connect(f"sub-{id(self):x}")))
        self.transport.write(client_frame(OP_BINARY, mqtt_subscribe(cases.MQTT_TOPIC)))


class MqttPublisher(Connection):
    """Publishes a tick to the feed's topic every ``period`` seconds, until the run stops."""

    period = cases.FEED_PERIOD

    def on_open(self):
        self.transport.write(client_frame(OP_BINARY, mqtt_connect("bench-publisher")))
        self.run.loop.call_later(0.05, self._tick, 0)

    def _tick(self, number):
        if self.closed or self.run.stopping:
            return
        self.transport.write(client_frame(OP_BINARY, mqtt_publish(cases.MQTT_TOPIC, b'{"tick":%d}' % number)))
        self.run.loop.call_later(self.period, self._tick, number + 1)


SUBSCRIBERS = {"graphql": GraphQLSubscriber, "mqtt": MqttSubscriber}
SUBPROTOCOLS = {"graphql": "graphql-transport-ws", "mqtt": "mqtt"}


async def pack_feed(url, pack, conns=500, duration=5.0, warmup=1.0, period=None, pid=None):
    """``conns`` subscribers of ``pack`` on ``url``, counting what is pushed (as ``feed``)."""
    from .loadgen import feed
    return await feed(url, conns, duration, warmup, period, pid, factory=SUBSCRIBERS[pack],
                      subprotocol=SUBPROTOCOLS[pack], mode=f"{pack} feed",
                      publisher=MqttPublisher if pack == "mqtt" else None)
