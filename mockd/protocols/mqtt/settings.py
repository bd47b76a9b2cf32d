"""The ``websocket.mqtt`` block, validated and compiled when the config loads:

.. code-block:: yaml

   mqtt:
     retained:                       # the broker's retained messages to start with
       - {topic: config/site, payload: '{"mode":"test"}', qos: 0}
     on:                             # what the mock device answers, first match wins
       - publish: devices/+/cmd      # a topic filter: + and # wildcards
         match: {type: json, path: $.op, value: reboot}   # optional: a matcher on the payload
         reply: {topic: "devices/{{topic.1}}/ack", payload: '{"ok":true}', qos: 1, retain: false}

``reply`` may also be a list of replies. A payload is a string or a YAML mapping/list (sent as
compact JSON). Every problem is reported at once, located (``...mqtt.on[1].reply.topic``).

Templates see, beside mockd's usual context, the PUBLISH they answer: ``{{topic}}``,
``{{topic.N}}`` (its N-th level, from 0), ``{{payload}}`` (as text), ``{{payload.field}}``
(a field of a JSON payload) and ``{{clientId}}``: template roots this pack declares
(``TEMPLATE_ROOTS``), read from the render context's ``variables``; ``{{message.*}}`` reads the
payload as well.
"""
from ... import schema
from ...errors import ConfigError
from ...jsontext import dumps_json
from ...message import Message
from ...schema import Problems, join_where
from .broker import Publication
from .topics import filter_problem, levels, matches, topic_problem

__all__ = ["KEYS", "Reply", "Rule", "Settings", "load_settings", "render_context_variables"]

KEYS = ("retained", "on")
RULE_KEYS = ("publish", "match", "reply")
REPLY_KEYS = ("topic", "payload", "qos", "retain")
RETAINED_KEYS = ("topic", "payload", "qos")


class Settings:
    def __init__(self, retained, rules):
        self.retained = retained  # [Publication]
        self.rules = rules        # (Rule, ...)


class Reply:
    """One message a rule publishes: its topic and payload are templates."""

    def __init__(self, topic, payload, qos, retain):
        self.topic = topic
        self.payload = payload  # a Template, or a CompiledValue (a YAML tree sent as JSON)
        self.qos = qos
        self.retain = retain

    def render(self, render_context):
        """``(topic, payload bytes)``."""
        payload = self.payload.render(render_context)
        if not isinstance(payload, str):
            payload = dumps_json(payload)
        return self.topic.render(render_context), payload.encode("utf-8", "surrogatepass")


class Rule:
    """``on[i]``: a topic filter, an optional matcher on the payload, and the replies."""

    def __init__(self, topic_filter, criteria, replies):
        self.topic_filter = topic_filter
        self.filter_levels = levels(topic_filter)
        self.criteria = criteria
        self.replies = replies

    def test(self, publication, message, match_context):
        """The matcher's captures (``{}`` without one) when the rule takes ``publication``."""
        if not matches(self.filter_levels, publication.levels):
            return None
        if self.criteria is None:
            return {}
        return self.criteria.test(message, match_context)


def render_context_variables(publication, client_id):
    """What the templates' ``topic``, ``payload`` and ``clientId`` read (``RenderContext.variables``)."""
    message = Message(publication.payload, is_binary=True)
    payload = _Payload(message.text)
    payload.message = message
    return {"topic": _Topic(publication.topic), "clientId": client_id, "payload": payload}


def load_settings(spec, where, build):
    problems = Problems()
    problems.attempt(schema.check_keys, spec, KEYS, where)
    names = build  # compiles with TEMPLATE_ROOTS
    at = join_where(where, "retained")
    retained = [problems.attempt(_retained, item, join_where(at, index))
                for index, item in enumerate(problems.attempt(schema.sequence, spec.get("retained"), at) or [])]
    at = join_where(where, "on")
    rules = [problems.attempt(_rule, item, join_where(at, index), build, names)
             for index, item in enumerate(problems.attempt(schema.sequence, spec.get("on"), at) or [])]
    problems.check()
    return Settings(retained, tuple(rules))


def _retained(spec, where):
    spec = schema.mapping(spec, where)
    problems = Problems()
    problems.attempt(schema.check_keys, spec, RETAINED_KEYS, where)
    topic = problems.attempt(_topic_name, spec, where)
    payload = problems.attempt(_static_payload, spec, where)
    qos = problems.attempt(_qos, spec, where)
    problems.check()
    return Publication(topic, payload.encode("utf-8", "surrogatepass"), qos, retain=True)


def _rule(spec, where, build, names):
    spec = schema.mapping(spec, where)
    problems = Problems()
    problems.attempt(schema.check_keys, spec, RULE_KEYS, where)
    topic_filter = problems.attempt(_topic_filter, spec, where)
    criteria = None
    if spec.get("match") is not None:
        criteria = problems.attempt(build.criteria, spec["match"], join_where(where, "match"))
    replies = ()
    at = join_where(where, "reply")
    if spec.get("reply") is None:
        problems.add("reply is required: the message the mock publishes when this rule takes a PUBLISH", at)
    elif isinstance(spec["reply"], list):
        replies = tuple(problems.attempt(_reply, item, join_where(at, index), names)
                        for index, item in enumerate(spec["reply"]))
        if not replies:
            problems.add("an empty list of replies publishes nothing; give at least one", at)
    else:
        replies = (problems.attempt(_reply, spec["reply"], at, names),)
    problems.check()
    return Rule(topic_filter, criteria, replies)


def _reply(spec, where, names):
    spec = schema.mapping(spec, where)
    problems = Problems()
    problems.attempt(schema.check_keys, spec, REPLY_KEYS, where)
    topic = problems.attempt(_reply_topic, spec, where, names)
    payload = problems.attempt(_reply_payload, spec, where, names)
    qos = problems.attempt(_qos, spec, where)
    retain = problems.attempt(schema.boolean, spec, "retain", where, default=False)
    problems.check()
    return Reply(topic, payload, qos, retain)


def _topic_name(spec, where):
    topic = schema.string(spec, "topic", where, required=True)
    problem = topic_problem(topic)
    if problem:
        raise ConfigError(problem, where=join_where(where, "topic"))
    return topic


def _topic_filter(spec, where):
    topic_filter = schema.string(spec, "publish", where, required=True)
    problem = filter_problem(topic_filter)
    if problem:
        raise ConfigError(problem, where=join_where(where, "publish"))
    return topic_filter


def _reply_topic(spec, where, names):
    text = schema.string(spec, "topic", where, required=True)
    at = join_where(where, "topic")
    template = names.template(text, at, roots=TEMPLATE_ROOTS)
    if template.is_static and topic_problem(text):  # a templated one is checked as it renders
        raise ConfigError(topic_problem(text), where=at)
    return template


def _reply_payload(spec, where, names):
    value = spec.get("payload")
    at = join_where(where, "payload")
    if isinstance(value, (dict, list)):
        return names.value(value, at, roots=TEMPLATE_ROOTS)
    return names.template(schema.string(spec, "payload", where, default=""), at, roots=TEMPLATE_ROOTS)


def _static_payload(spec, where):
    value = spec.get("payload")
    if isinstance(value, (dict, list)):
        return dumps_json(value)
    return schema.string(spec, "payload", where, default="")


def _qos(spec, where):
    qos = schema.integer(spec, "qos", where, default=0, minimum=0)
    if qos > 1:
        raise ConfigError(f"qos {qos}: mockd's broker publishes at QoS 0 or 1", where=join_where(where, "qos"))
    return qos


# ---------------------------------------------------------------- template names

#: The names this pack adds to templates (``build.template(..., roots=...)``), read from what
#: :func:`render_context_variables` puts in ``RenderContext.variables``.
TEMPLATE_ROOTS = ("topic", "payload", "clientId")


class _Topic(str):
    """``{{topic}}`` renders the topic; ``{{topic.1}}`` its level 1 (from 0): the template
    walker reads a value's ``get`` for what follows the dot."""

    def get(self, key):
        levels = self.split("/")
        return levels[int(key)] if key.isdigit() and int(key) < len(levels) else ""


class _Payload(str):
    """``{{payload}}`` renders the payload as text; ``{{payload.a.b}}`` reads a JSON payload."""

    message = None  # the mockd Message of the payload, set by render_context_variables

    def get(self, key):
        value = self.message.json()
        if isinstance(value, dict):
            return value.get(key)
        if isinstance(value, list) and key.isdigit() and int(key) < len(value):
            return value[int(key)]
        return None
