"""``POST /mqtt/publish``: publish a message into a mock's broker from the admin API, as a
device or backend would (``admin_routes()`` of the MQTT pack)."""
from ...jsontext import dumps_json
from ..base import route_path
from .broker import Publication
from .topics import topic_problem

__all__ = ["publish", "BODY_KEYS"]

BODY_KEYS = ("path", "topic", "payload", "qos", "retain")


def publish(server, body):
    """Publish {"topic", "payload", "qos", "retain"} to the subscribers of the MQTT mock on
    "path" (every MQTT mock when it is left out), storing it when "retain" is true (an empty
    payload deletes the topic's retained message). Answers {"sent": N}, the clients it reached."""
    path = route_path(body, BODY_KEYS, "the MQTT mock's websocket path")
    topic = body.get("topic")
    if not isinstance(topic, str):
        raise ValueError("topic: a string is required (the topic name to publish to)")
    problem = topic_problem(topic)
    if problem:
        raise ValueError(f"topic: {problem}")
    qos, retain = body.get("qos", 0), body.get("retain", False)
    if qos not in (0, 1) or isinstance(qos, bool):
        raise ValueError(f"qos: 0 or 1, not {qos!r}")
    if not isinstance(retain, bool):
        raise ValueError(f"retain: true or false, not {retain!r}")
    payload = body.get("payload", "")
    text = payload if isinstance(payload, str) else "" if payload is None else dumps_json(payload)
    brokers = _brokers(server, path)
    if not brokers:
        raise LookupError(f"no MQTT mock on {path}" if path is not None else "no MQTT mock is served")
    data = text.encode("utf-8", "surrogatepass")
    return {"sent": sum(broker.publish(Publication(topic, data, qos, retain)) for broker in brokers)}


def _brokers(server, path):
    """The brokers of the served MQTT mocks (on ``path`` when given): found through the routes,
    not the live connections, so that a retained message can be stored before any client."""
    return [endpoint.protocol.broker for endpoint in server.served_endpoints("mqtt", path)]
