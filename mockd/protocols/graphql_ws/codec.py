"""The ``graphql-transport-ws`` wire format (the graphql-ws library's protocol document): the messages a
server reads and writes, its close codes, and the operation a GraphQL document names.

Pure: no gevent, no I/O. A message is a JSON object with a ``type`` and, depending on it, an
``id`` and a ``payload``; :func:`validate` checks a parsed client message as the reference
server's ``validateMessage`` does and raises :class:`BadMessage` (close 4400) with a reason
saying what is wrong. The builders return the dicts the server sends (``ctx.send`` writes them
as compact JSON text).
"""
from collections import namedtuple

__all__ = ["SUBPROTOCOL", "BadMessage", "ClientMessage", "OperationInfo", "close_reason", "complete_message",
           "connection_ack", "error_message", "next_message", "operation_info", "ping_message",
           "pong_message", "validate", "BAD_REQUEST", "UNAUTHORIZED", "FORBIDDEN", "SUBPROTOCOL_NOT_ACCEPTABLE",
           "INIT_TIMEOUT", "SUBSCRIBER_EXISTS", "TOO_MANY_INITS"]

SUBPROTOCOL = "graphql-transport-ws"

# Close codes of the protocol (graphql-ws's ``CloseCode``), with the reasons its server sends.
BAD_REQUEST = 4400                 # reason: what is wrong with the message
UNAUTHORIZED = 4401                # "Unauthorized": subscribe before connection_ack
FORBIDDEN = 4403                   # "Forbidden": the server refused the connection_init
SUBPROTOCOL_NOT_ACCEPTABLE = 4406  # "Subprotocol not acceptable"
INIT_TIMEOUT = 4408                # "Connection initialisation timeout"
SUBSCRIBER_EXISTS = 4409           # "Subscriber for <id> already exists"
TOO_MANY_INITS = 4429              # "Too many initialisation requests"

#: The server's own message types: from a client they are refused, saying so.
SERVER_TYPES = ("connection_ack", "next", "error")
_MAX_REASON = 123  # bytes of a close frame's reason (RFC 6455 §5.5: 125 with the code)

ClientMessage = namedtuple("ClientMessage", "type id payload")
ClientMessage.__doc__ = """A validated client message: ``type``, ``id`` (or None), ``payload`` (or None)."""

OperationInfo = namedtuple("OperationInfo", "kind name")
OperationInfo.__doc__ = """The operation a subscribe asks for: ``kind`` (query, mutation, subscription) and
``name`` (None for an anonymous one)."""


class BadMessage(ValueError):
    """A client message the protocol does not allow: the socket is closed with 4400 and ``reason``."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def _kind(value):
    """How a value is named in a reason (graphql-ws's ``extendedTypeof``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


def validate(document):
    """The :class:`ClientMessage` of a parsed client message, or :class:`BadMessage`."""
    if not isinstance(document, dict):
        raise BadMessage(f"Message is expected to be an object, but got {_kind(document)}")
    kind = document.get("type")
    if not kind:
        raise BadMessage("Message is missing the 'type' property")
    if not isinstance(kind, str):
        raise BadMessage(f"Message expects the 'type' property to be a string, but got {_kind(kind)}")
    payload = document.get("payload")
    if kind in ("connection_init", "ping", "pong"):
        if payload is not None and not isinstance(payload, dict):
            raise BadMessage(f'"{kind}" message expects the \'payload\' property to be an object or missing, '
                             f"but got {_kind(payload)}")
        return ClientMessage(kind, None, payload)
    if kind in ("subscribe", "complete"):
        return ClientMessage(kind, _id(kind, document.get("id")), _subscribe_payload(payload) if kind == "subscribe"
                             else None)
    if kind in SERVER_TYPES:
        raise BadMessage(f"Unexpected message of type {kind} received")
    raise BadMessage(f"Invalid message 'type' property {_excerpt(kind)}")


def _id(kind, value):
    if not isinstance(value, str):
        raise BadMessage(f"\"{kind}\" message expects the 'id' property to be a string, but got {_kind(value)}")
    if not value:
        raise BadMessage(f"\"{kind}\" message requires a non-empty 'id' property")
    return value


def _subscribe_payload(payload):
    if not isinstance(payload, dict):
        raise BadMessage(f"\"subscribe\" message expects the 'payload' property to be an object, "
                         f"but got {_kind(payload)}")
    if not isinstance(payload.get("query"), str):
        raise BadMessage(f"\"subscribe\" message payload expects the 'query' property to be a string, "
                         f"but got {_kind(payload.get('query'))}")
    for key, allowed in (("variables", dict), ("operationName", str), ("extensions", dict)):
        value = payload.get(key)
        if value is not None and not isinstance(value, allowed):
            wanted = "a string" if allowed is str else "an object"
            raise BadMessage(f"\"subscribe\" message payload expects the '{key}' property to be {wanted} "
                             f"or null, but got {_kind(value)}")
    return payload


def _excerpt(text, limit=40):
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "..."


def close_reason(text):
    """``text`` cut to what a close frame carries (123 bytes of UTF-8, whole characters)."""
    data = text.encode("utf-8", "replace")
    if len(data) <= _MAX_REASON:
        return text
    return data[:_MAX_REASON - 3].decode("utf-8", "ignore") + "..."


# ---------------------------------------------------------------- what the server sends

def _with_payload(kind, payload):
    # "payload is completely absent if not provided", as the reference server sends it.
    return {"type": kind} if payload is None else {"type": kind, "payload": payload}


def connection_ack(payload=None):
    return _with_payload("connection_ack", payload)


def ping_message(payload=None):
    return _with_payload("ping", payload)


def pong_message(payload=None):
    return _with_payload("pong", payload)


def next_message(op_id, payload):
    return {"id": op_id, "type": "next", "payload": payload}


def error_message(op_id, errors):
    return {"id": op_id, "type": "error", "payload": errors}


def complete_message(op_id):
    return {"id": op_id, "type": "complete"}


# ---------------------------------------------------------------- the operation of a document

_OPERATIONS = ("query", "mutation", "subscription")
_IGNORED = " \t\r\n,\ufeff"
_NAME_START = frozenset("_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_NAME_CHARS = _NAME_START | frozenset("0123456789")


def operation_info(document, operation_name=None):
    """The :class:`OperationInfo` a subscribe's ``query`` asks for: the operation named
    ``operation_name`` when the message names one, else the document's first operation (GraphQL
    wants exactly one then). ``None`` when the document has no such operation.

    A scan of the document's top level (GraphQL's lexical rules: comments, strings and block
    strings skipped, nesting counted), not a parser: a mock needs the operation's kind and name,
    which a full parser would give at the cost of a dependency.
    """
    for info in _operations(document):
        if operation_name is None or info.name == operation_name:
            return info
    return None


def _operations(text):
    """Each operation definition of ``text``, in order."""
    depth, n, i = 0, len(text), 0
    # Between definitions (None); after an operation keyword, waiting for its name ("kind");
    # in an operation's or a fragment's header, until its selection set opens ("header").
    state, kind = None, None
    while i < n:
        ch = text[i]
        if ch in _IGNORED:
            i += 1
        elif ch == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end + 1
        elif ch == '"':
            i = _skip_string(text, i)
        elif ch in _NAME_START:
            start = i
            while i < n and text[i] in _NAME_CHARS:
                i += 1
            if depth:
                continue
            word = text[start:i]
            if state == "kind":
                yield OperationInfo(kind, word)
                state = "header"
            elif state is None and word in _OPERATIONS:
                state, kind = "kind", word
            elif state is None and word == "fragment":
                state = "header"  # its name, type condition and directives: no operation
        else:
            if depth == 0:
                if state == "kind" and ch in "{(@":  # "query {", "query ($x: Int)", "query @dir"
                    yield OperationInfo(kind, None)
                    state = "header"
                if ch == "{":
                    if state is None:
                        yield OperationInfo("query", None)  # the shorthand: a bare selection set
                    state = None
            if ch in "{([":
                depth += 1
            elif ch in "})]":
                depth = max(0, depth - 1)
            i += 1
    if state == "kind":
        yield OperationInfo(kind, None)


def _skip_string(text, i):
    """The index after the string (or block string) starting at ``text[i]``."""
    if text.startswith('"""', i):
        j = i + 3
        while True:
            end = text.find('"""', j)
            if end < 0:
                return len(text)
            if text[end - 1] != "\\":  # \""" is an escaped triple quote inside a block string
                return end + 3
            j = end + 3
    j = i + 1
    while j < len(text):
        ch = text[j]
        if ch == "\\":
            j += 2
        elif ch == '"' or ch == "\n":
            return j + 1
        else:
            j += 1
    return j
