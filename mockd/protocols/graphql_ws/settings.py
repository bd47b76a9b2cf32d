"""The ``graphql`` block of a ``protocol: graphql-transport-ws`` mock, validated and compiled.

.. code-block:: yaml

   graphql:
     connectionInit: {accept: true, ackPayload: {server: mockd}}
     initTimeout: 3s          # no connection_init by then: close 4408 (0: wait forever)
     pingInterval: 0s         # the server's own pings after the ack (0: none)
     operations:
       - operationName: OnMessage        # and/or query: "a substring of the document"
         next: [{data: {onMessage: {text: "hi {{variables.user}}"}}}]
         interval: 100ms
         repeat: 3                       # or forever
         complete: true
       - operationName: Broken
         error: [{message: "not allowed"}]

Every problem of the block is reported at once, located; templates are compiled here, once.
Templates read ``{{variables.*}}``, ``{{operationName}}`` and ``{{payload.*}}`` (the subscribe
message's; the connection_init's in ``ackPayload``) besides the usual names: template roots this
pack declares (``build.value(..., roots=...)``), read from what the session puts in
``RenderContext.variables``.
"""
from dataclasses import dataclass
from typing import Optional

from ... import schema
from ...errors import ConfigError
from ...schema import Problems, join_where

__all__ = ["Operation", "Settings", "build_settings", "FOREVER"]

SETTINGS_KEYS = ("connectionInit", "initTimeout", "pingInterval", "operations")
INIT_KEYS = ("accept", "ackPayload")
OPERATION_KEYS = ("operationName", "query", "next", "error", "interval", "repeat", "complete")
FOREVER = "forever"
DEFAULT_INIT_TIMEOUT = 3.0  # graphql-ws's connectionInitWaitTimeout
#: What a `next` payload (a GraphQL ExecutionResult) holds; one without any is likely a mistake.
_RESULT_KEYS = ("data", "errors", "incremental")
#: The names this pack adds to templates, read from ``RenderContext.variables``.
TEMPLATE_ROOTS = ("variables", "operationName", "payload")


@dataclass(frozen=True)
class Operation:
    """One ``operations`` entry: what it matches and what it answers."""
    operation_name: Optional[str]
    query: Optional[str]
    next: tuple = ()                 # CompiledValue per `next` payload
    error: Optional[object] = None   # CompiledValue of the GraphQL errors list, or None
    interval: float = 0.0
    repeat: Optional[int] = 1        # None: forever
    complete: bool = True

    def matches(self, name, document):
        return ((self.operation_name is None or self.operation_name == name)
                and (self.query is None or self.query in document))


@dataclass(frozen=True)
class Settings:
    accept: bool = True
    ack_payload: Optional[object] = None  # CompiledValue, or None: an ack without payload
    init_timeout: float = DEFAULT_INIT_TIMEOUT
    ping_interval: float = 0.0
    operations: tuple = ()

    def find(self, name, document):
        """The first operation matching a subscribe for ``name`` (or None) with ``document``."""
        for operation in self.operations:
            if operation.matches(name, document):
                return operation
        return None


def _compiled(value, build, where):
    """A YAML tree of templates that read this pack's names besides the usual ones."""
    return build.value(value, where, roots=TEMPLATE_ROOTS)


def build_settings(spec, where, build):
    """The :class:`Settings` of a ``graphql`` block (``{}`` when absent), or a ConfigError
    holding every problem found."""
    spec = schema.mapping(spec, where)
    problems = Problems()
    attempt = problems.attempt
    attempt(schema.check_keys, spec, SETTINGS_KEYS, where)
    names = build  # compiles with this pack's template roots (_compiled)
    init = attempt(_connection_init, spec.get("connectionInit"), join_where(where, "connectionInit"), names)
    settings = Settings(
        accept=init[0] if init else True,
        ack_payload=init[1] if init else None,
        init_timeout=attempt(schema.duration, spec, "initTimeout", where, default=DEFAULT_INIT_TIMEOUT),
        ping_interval=attempt(schema.duration, spec, "pingInterval", where, default=0.0),
        operations=tuple(attempt(_operations, spec.get("operations"), join_where(where, "operations"), build,
                                 names) or ()),
    )
    problems.check(order=spec, where=where)
    return settings


def _connection_init(spec, where, names):
    if spec is None:
        return True, None
    spec = schema.mapping(spec, where)
    problems = Problems()
    problems.attempt(schema.check_keys, spec, INIT_KEYS, where)
    accept = problems.attempt(schema.boolean, spec, "accept", where, default=True)
    ack = None
    if spec.get("ackPayload") is not None:
        at = join_where(where, "ackPayload")
        ack = problems.attempt(_object_value, spec["ackPayload"], at, names, "ackPayload (an object)")
    problems.check(order=spec, where=where)
    return accept, ack


def _object_value(value, where, names, what):
    schema.mapping(value, where, what)
    return _compiled(value, names, where)


def _operations(items, where, build, names):
    if items is None:
        return []
    problems = Problems()
    operations = [problems.attempt(_operation, item, join_where(where, index), build, names)
                  for index, item in enumerate(schema.sequence(items, where))]
    problems.check()
    return operations


def _operation(spec, where, build, names):
    spec = schema.mapping(spec, where)
    problems = Problems()
    attempt = problems.attempt
    attempt(schema.check_keys, spec, OPERATION_KEYS, where)
    name = attempt(schema.string, spec, "operationName", where, allow_empty=False)
    query = attempt(schema.string, spec, "query", where, allow_empty=False)
    if spec.get("operationName") is None and spec.get("query") is None:
        problems.add("an operation needs operationName or query (or both) to say which subscribes it answers",
                     where)
    interval = attempt(schema.duration, spec, "interval", where, default=0.0)
    repeat = attempt(_repeat, spec, where)
    complete = attempt(schema.boolean, spec, "complete", where, default=True)
    nexts = attempt(_nexts, spec.get("next"), join_where(where, "next"), build, names) or ()
    error = None
    if spec.get("error") is not None:
        error = attempt(_errors, spec["error"], join_where(where, "error"), names)
        streamed = [key for key in ("next", "interval", "repeat", "complete") if key in spec]
        if streamed:
            problems.add(f"error answers the subscribe with an error message, which ends the operation: "
                         f"{', '.join(streamed)} cannot be used with it", join_where(where, streamed[0]))
    elif spec.get("repeat") == FOREVER:
        if not spec.get("next"):
            problems.add("repeat: forever needs a next list to repeat", join_where(where, "repeat"))
        elif interval == 0:
            problems.add("repeat: forever needs an interval above 0 (a stream without gaps would flood the "
                         "client)", join_where(where, "interval"))
        elif complete and "complete" in spec:
            build.warn("complete is never sent: repeat: forever streams until the client completes or goes",
                       join_where(where, "complete"))
    problems.check(order=spec, where=where)
    return Operation(name, query, tuple(nexts), error, interval, repeat, complete)


def _repeat(spec, where):
    value = spec.get("repeat")
    if value == FOREVER:
        return None
    if isinstance(value, str):
        raise ConfigError(f"expected a whole number or 'forever', got {value!r}", where=join_where(where, "repeat"))
    return schema.integer(spec, "repeat", where, default=1, minimum=1)


def _nexts(items, where, build, names):
    problems = Problems()
    compiled = []
    for index, item in enumerate(schema.sequence(items, where)):
        at = join_where(where, index)
        value = problems.attempt(_object_value, item, at, names, "a next payload (an ExecutionResult object)")
        if value is not None:
            compiled.append(value)
            if not any(key in item for key in _RESULT_KEYS):
                build.warn("a next payload is a GraphQL ExecutionResult: without data or errors (or incremental), "
                           "clients such as gql refuse it", at)
    problems.check()
    return compiled


def _errors(items, where, names):
    items = schema.sequence(items, where)
    if not items:
        raise ConfigError("error needs at least one GraphQL error ({message: ...})", where=where)
    problems = Problems()
    for index, item in enumerate(items):
        at = join_where(where, index)
        if problems.attempt(schema.mapping, item, at, "a GraphQL error (a mapping with a message)") is not None:
            problems.attempt(schema.string, item, "message", at, required=True)
    problems.check()
    return _compiled(items, names, where)
