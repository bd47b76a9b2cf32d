"""The mockd configuration the benchmark serves, and the messages its cases send.

One mockd process serves every case on its own path (``/echo``, ``/json``, ``/exact1``,
``/exact200``, ``/feed``, ``/big``, ``/idle``, ``/proxy``); a second one, started with
``--journal-size 0``, serves the same file for the journal on/off comparison. ``/proxy`` relays
to the bench's bare gevent-websocket server, whose port is known only once it runs: the file
is written after that server has started.
"""
import json

# The matched reply: a json matcher on $.type among 20, answering a templated JSON object.
JSON_MATCHERS = 20
JSON_REQUEST = b'{"type":"quote-19","id":4711}'
JSON_REPLY_TEMPLATE = {"type": "quote", "id": "{{uuid}}", "at": "{{now}}", "re": "{{message.id}}"}

# 200 exact matchers, the hit being the last one; the 1-matcher case answers the same.
EXACT_MATCHERS = 200
EXACT_REQUEST = b"exact-request-0199-aaaaaaaaaaaaa"   # 32 bytes
EXACT_REPLY = b"exact-reply-0199-bbbbbbbbbbbbbbbb"    # 33 bytes

FEED_PERIOD = 0.02          # each feed connection gets a message every 20 ms (50 per second)
BIG_LIMIT = 64 << 20        # maxMessageSize of /big
IDLE_HEARTBEAT = ("1s", "5s")
PROXY_PATH = "/proxy"
UPSTREAM_PATH = "/echo"     # the bare server echoes on every path but /feed; this one reads as what it is
GRAPHQL_PATH = "/graphql"   # the packs' feeds (bench/packs.py)
MQTT_PATH = "/mqtt"
MQTT_TOPIC = "bench/ticks"


def _exact_rule(value, reply):
    return {"match": {"type": "exact", "value": value}, "response": {"type": "text", "value": reply}}


def mockd_config(feed_period=FEED_PERIOD, upstream=None):
    """The config document (JSON-able) of the benchmark's mockd server; with ``upstream`` (a
    ``ws://`` URL) also ``/proxy``, relaying every frame both ways to it."""
    request = EXACT_REQUEST.decode()
    reply = EXACT_REPLY.decode()
    json_rules = [{"match": {"type": "json", "path": "$.type", "value": f"quote-{number}"},
                   "response": {"type": "json", "value": JSON_REPLY_TEMPLATE}}
                  for number in range(JSON_MATCHERS)]
    others = [_exact_rule(f"exact-request-{number:04d}-ccccccccccccc", f"reply-{number}")
              for number in range(EXACT_MATCHERS - 1)]
    feed_ms = max(1, int(round(feed_period * 1000)))
    mocks = [
        {"id": "echo", "websocket": {"path": "/echo", "echoMode": True}},
        {"id": "json20", "websocket": {"path": "/json", "matchers": json_rules}},
        {"id": "exact1", "websocket": {"path": "/exact1", "matchers": [_exact_rule(request, reply)]}},
        {"id": "exact200", "websocket": {"path": "/exact200", "matchers": others + [_exact_rule(request, reply)]}},
        {"id": "feed", "websocket": {"path": "/feed", "scenario": {
            "name": "ticker", "loop": True, "steps": [
                {"type": "send", "message": {"type": "json", "value": {
                    "type": "tick", "seq": "{{sequence('tick')}}", "ts": "{{timestamp.unix_ms}}"}}},
                {"type": "delay", "duration": f"{feed_ms}ms"}]}}},
        {"id": "big", "websocket": {"path": "/big", "echoMode": True, "maxMessageSize": BIG_LIMIT}},
        {"id": "idle", "websocket": {"path": "/idle", "echoMode": True, "heartbeat": {
            "enabled": True, "interval": IDLE_HEARTBEAT[0], "timeout": IDLE_HEARTBEAT[1]}}},
    ]
    mocks += [
        {"id": "graphql", "websocket": {"path": GRAPHQL_PATH, "protocol": "graphql-transport-ws", "graphql": {
            "operations": [{"operationName": "Feed", "next": [{"data": {"tick": "{{sequence('gql')}}"}}],
                            "interval": f"{feed_ms}ms", "repeat": "forever"}]}}},
        {"id": "mqtt", "websocket": {"path": MQTT_PATH, "protocol": "mqtt", "mqtt": {}}},
    ]
    if upstream:
        mocks.append({"id": "proxy", "websocket": {"path": PROXY_PATH,
                                                   "proxy": {"url": upstream, "mode": "passthrough"}}})
    return {"version": "1.0", "mocks": mocks}


def write_mockd_config(path, feed_period=FEED_PERIOD, upstream=None):
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(mockd_config(feed_period, upstream), fh, indent=1)
    return path
