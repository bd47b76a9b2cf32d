"""The ``socketio:`` block, validated and compiled when the config loads (no gevent here: ``mockd
check`` reads it too).

.. code-block:: yaml

   socketio:
     pingInterval: 25s        # the server's pings; pingTimeout: 20s to answer each
     maxPayload: 65536        # advertised in the open packet; bounds a long-polling POST
     namespaces:
       "/":
         onConnect: [{emit: welcome, args: [{text: hello}]}]
         events:
           - on: chat message
             match: {type: contains, value: hi}   # on the first argument
             emit: chat message
             to: self                            # self | others | all | room:NAME
             args: ["echo: {{args.0}}"]
             ack: [{ok: true}]
           - on: join
             join: "{{args.0}}"

Every problem is reported, located (``...socketio.namespaces./.events[1].to``).
"""
from ... import schema
from ...errors import ConfigError
from ...schema import join_where
from .templates import compile_text, compile_tree, template_names

__all__ = ["SETTINGS_KEYS", "Settings", "Namespace", "Action", "EventRule", "build_settings"]

SETTINGS_KEYS = ("pingInterval", "pingTimeout", "maxPayload", "namespaces")
NAMESPACE_KEYS = ("onConnect", "events")
ACTION_KEYS = ("emit", "to", "args", "join", "leave")
EVENT_KEYS = ("on", "match") + ACTION_KEYS + ("ack",)
TARGETS = ("self", "others", "all", "room:NAME")
#: The intervals of Engine.IO's reference server.
DEFAULT_PING_INTERVAL = 25.0
DEFAULT_PING_TIMEOUT = 20.0
#: The packets a client's send with an ack id is answered with, and Socket.IO's reserved
#: event names, which a client cannot emit (its library keeps them for itself).
RESERVED_EVENTS = ("connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener")


class Settings:
    """The compiled block: intervals in seconds, ``max_payload`` in bytes (None: the mock's
    ``maxMessageSize``), ``namespaces`` by name."""

    def __init__(self, ping_interval, ping_timeout, max_payload, namespaces):
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.max_payload = max_payload
        self.namespaces = namespaces


class Namespace:
    __slots__ = ("name", "on_connect", "events")

    def __init__(self, name, on_connect, events):
        self.name, self.on_connect, self.events = name, on_connect, events

    def rule_for(self, event, message, context):
        """``(rule, captures)`` of the first entry for ``event`` whose match takes ``message``
        (the first argument), or ``(None, None)``."""
        for rule in self.events:
            if rule.on != event:
                continue
            if rule.criteria is None:
                return rule, None
            captures = rule.criteria.test(message, context)
            if captures is not None:
                return rule, captures
        return None, None


class Action:
    """What an entry does: emit (``emit``, ``args``, ``to``), then join or leave a room."""

    __slots__ = ("emit", "target", "room", "args", "join", "leave", "where")

    def __init__(self, emit, target, room, args, join, leave, where):
        self.emit, self.target, self.room, self.args = emit, target, room, args
        self.join, self.leave, self.where = join, leave, where


class EventRule:
    __slots__ = ("on", "criteria", "action", "ack")

    def __init__(self, on, criteria, action, ack):
        self.on, self.criteria, self.action, self.ack = on, criteria, action, ack


def build_settings(spec, where, build):
    spec = schema.mapping(spec, where)
    problems = schema.Problems()
    problems.attempt(schema.check_keys, spec, SETTINGS_KEYS, where)
    interval = problems.attempt(schema.duration, spec, "pingInterval", where, default=DEFAULT_PING_INTERVAL,
                                positive=True)
    timeout = problems.attempt(schema.duration, spec, "pingTimeout", where, default=DEFAULT_PING_TIMEOUT,
                               positive=True)
    for key, seconds in (("pingInterval", interval), ("pingTimeout", timeout)):
        if seconds == 0:  # schema.duration lets a bare 0 through
            problems.add(f"{key} must be above zero", join_where(where, key))
    max_payload = problems.attempt(schema.integer, spec, "maxPayload", where, minimum=1)
    names = template_names(build.registry.template_functions)
    namespaces = problems.attempt(_namespaces, spec.get("namespaces"), join_where(where, "namespaces"), build, names)
    problems.check(order=spec, where=where)
    return Settings(interval, timeout, max_payload, namespaces)


def _namespaces(spec, where, build, names):
    if spec is None:
        return {"/": Namespace("/", (), ())}  # a bare Socket.IO server: connects, answers nothing
    spec = schema.mapping(spec, where, "a mapping of namespace names (\"/\", \"/admin\") to their settings")
    if not spec:
        raise ConfigError("name at least one namespace (\"/\" is the default one clients connect to)", where=where)
    problems = schema.Problems()
    namespaces = {}
    for name, block in spec.items():
        at = join_where(where, str(name))
        if not isinstance(name, str) or not name.startswith("/"):
            problems.add(f"a namespace name starts with '/' (\"/\", \"/admin\"), not {name!r}", at)
            continue
        namespace = problems.attempt(_namespace, name, block, at, build, names)
        if namespace is not None:
            namespaces[name] = namespace
    problems.check()
    return namespaces


def _namespace(name, spec, where, build, names):
    spec = {} if spec is None else schema.mapping(spec, where, "a mapping with onConnect and events")
    problems = schema.Problems()
    problems.attempt(schema.check_keys, spec, NAMESPACE_KEYS, where)
    at = join_where(where, "onConnect")
    on_connect = tuple(problems.attempt(_action_entry, item, join_where(at, index), names)
                       for index, item in enumerate(problems.attempt(schema.sequence, spec.get("onConnect"), at) or []))
    at = join_where(where, "events")
    events = tuple(problems.attempt(_event, item, join_where(at, index), build, names)
                   for index, item in enumerate(problems.attempt(schema.sequence, spec.get("events"), at) or []))
    problems.check()
    return Namespace(name, on_connect, events)


def _action_entry(spec, where, names):
    spec = schema.mapping(spec, where, "a mapping with emit (and args, to) or join")
    schema.check_keys(spec, ACTION_KEYS, where)
    if not any(key in spec for key in ("emit", "join", "leave")):
        raise ConfigError("an onConnect entry does nothing without emit, join or leave", where=where)
    return _action(spec, where, names, "an onConnect entry")


def _event(spec, where, build, names):
    spec = schema.mapping(spec, where, "a mapping with on (the event name) and what to do")
    problems = schema.Problems()
    problems.attempt(schema.check_keys, spec, EVENT_KEYS, where)
    on = problems.attempt(schema.string, spec, "on", where, required=True, allow_empty=False)
    if on in RESERVED_EVENTS:
        problems.add(f"{on!r} is a reserved Socket.IO event, which clients never send (use onConnect for "
                     "what a connection gets)", join_where(where, "on"))
    criteria = None
    if spec.get("match") is not None:
        criteria = problems.attempt(build.criteria, spec["match"], join_where(where, "match"))
    action = problems.attempt(_action, spec, where, names, "an event entry")
    ack = None
    if "ack" in spec:
        ack = problems.attempt(_arguments, spec, "ack", where, names)
    problems.check()
    if not any(key in spec for key in ("emit", "ack", "join", "leave")):
        build.warn(f"this entry takes the {on!r} events it matches and does nothing (no emit, ack, join or leave)",
                   where)
    return EventRule(on, criteria, action, ack)


def _action(spec, where, names, what):
    problems = schema.Problems()
    emit = problems.attempt(_template, spec, "emit", where, names)
    target, room = problems.attempt(_target, spec, where, names) or ("self", None)
    args = problems.attempt(_arguments, spec, "args", where, names) if "args" in spec else None
    join = problems.attempt(_template, spec, "join", where, names)
    leave = problems.attempt(_template, spec, "leave", where, names)
    for key in ("to", "args"):
        if key in spec and "emit" not in spec:
            problems.add(f"{key} belongs to emit, which {what} without emit does not have", join_where(where, key))
    problems.check()
    if emit is not None and emit.is_static and emit.source in RESERVED_EVENTS:
        raise ConfigError(f"{emit.source!r} is a reserved Socket.IO event: clients take it for the library's own",
                          where=join_where(where, "emit"))
    return Action(emit, target, room, args, join, leave, where)


def _template(spec, key, where, names):
    text = schema.string(spec, key, where, allow_empty=False)
    return None if text is None else compile_text(text, names, join_where(where, key))


def _target(spec, where, names):
    text = schema.string(spec, "to", where, default="self")
    if text in ("self", "others", "all"):
        return text, None
    at = join_where(where, "to")
    if text.startswith("room:") and text[5:].strip():
        return "room", compile_text(text[5:].strip(), names, at)
    raise ConfigError(f"unknown target {text!r} (allowed: {', '.join(TARGETS)})", where=at)


def _arguments(spec, key, where, names):
    """``args`` / ``ack``: the list of arguments, each a value whose strings are templates."""
    value = spec.get(key)
    at = join_where(where, key)
    if value is None:
        return compile_tree([], names, at)
    if not isinstance(value, list):
        raise ConfigError(f"{key} is the list of the arguments sent (write {key}: [value]), not "
                          f"{schema.type_name(value)}", where=at)
    return compile_tree(value, names, at)
