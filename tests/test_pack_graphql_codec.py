"""The graphql-transport-ws codec on its own (mockd/protocols/graphql_ws/codec.py): message
validation with graphql-ws's rules and reasons, the builders, and the operation of a document."""
import pytest

from mockd.protocols.graphql_ws import codec
from mockd.protocols.graphql_ws.codec import BadMessage, ClientMessage, OperationInfo, operation_info, validate


@pytest.mark.parametrize("document, expected", [
    ({"type": "connection_init"}, ClientMessage("connection_init", None, None)),
    ({"type": "connection_init", "payload": {"token": "t"}}, ClientMessage("connection_init", None, {"token": "t"})),
    ({"type": "ping", "payload": None}, ClientMessage("ping", None, None)),
    ({"type": "pong", "payload": {"x": 1}}, ClientMessage("pong", None, {"x": 1})),
    ({"type": "complete", "id": "7"}, ClientMessage("complete", "7", None)),
    ({"type": "subscribe", "id": "1", "payload": {"query": "{ a }", "variables": None, "operationName": None}},
     ClientMessage("subscribe", "1", {"query": "{ a }", "variables": None, "operationName": None})),
])
def test_valid_client_messages(document, expected):
    assert validate(document) == expected


@pytest.mark.parametrize("document, reason", [
    ([], "Message is expected to be an object, but got array"),
    ("connection_init", "Message is expected to be an object, but got string"),
    ({}, "Message is missing the 'type' property"),
    ({"type": 3}, "Message expects the 'type' property to be a string, but got number"),
    ({"type": "hello"}, "Invalid message 'type' property 'hello'"),
    ({"type": "connection_init", "payload": []},
     "\"connection_init\" message expects the 'payload' property to be an object or missing, but got array"),
    ({"type": "subscribe", "payload": {"query": "{ a }"}},
     "\"subscribe\" message expects the 'id' property to be a string, but got null"),
    ({"type": "subscribe", "id": "", "payload": {"query": "{ a }"}},
     "\"subscribe\" message requires a non-empty 'id' property"),
    ({"type": "subscribe", "id": "1"},
     "\"subscribe\" message expects the 'payload' property to be an object, but got null"),
    ({"type": "subscribe", "id": "1", "payload": {}},
     "\"subscribe\" message payload expects the 'query' property to be a string, but got null"),
    ({"type": "subscribe", "id": "1", "payload": {"query": "{ a }", "variables": [1]}},
     "\"subscribe\" message payload expects the 'variables' property to be an object or null, but got array"),
    ({"type": "subscribe", "id": "1", "payload": {"query": "{ a }", "operationName": 5}},
     "\"subscribe\" message payload expects the 'operationName' property to be a string or null, but got number"),
    ({"type": "complete", "id": 1}, "\"complete\" message expects the 'id' property to be a string, but got number"),
    ({"type": "next", "id": "1", "payload": {}}, "Unexpected message of type next received"),
    ({"type": "connection_ack"}, "Unexpected message of type connection_ack received"),
])
def test_invalid_client_messages(document, reason):
    with pytest.raises(BadMessage) as caught:
        validate(document)
    assert caught.value.reason == reason


def test_builders_leave_an_absent_payload_out():
    assert codec.connection_ack() == {"type": "connection_ack"}
    assert codec.connection_ack({"a": 1}) == {"type": "connection_ack", "payload": {"a": 1}}
    assert codec.pong_message() == {"type": "pong"}
    assert codec.ping_message({"t": 1}) == {"type": "ping", "payload": {"t": 1}}
    assert codec.next_message("1", {"data": {}}) == {"id": "1", "type": "next", "payload": {"data": {}}}
    assert codec.error_message("1", [{"message": "x"}]) == {"id": "1", "type": "error", "payload": [{"message": "x"}]}
    assert codec.complete_message("1") == {"id": "1", "type": "complete"}


def test_close_reason_fits_a_close_frame():
    assert codec.close_reason("short") == "short"
    long = codec.close_reason("Subscriber for " + "é" * 200 + " already exists")
    assert len(long.encode("utf-8")) <= 123 and long.endswith("...")


@pytest.mark.parametrize("document, name, expected", [
    ("subscription OnMessage($user: String!) { onMessage(user: $user) { id text } }", None,
     OperationInfo("subscription", "OnMessage")),
    ("{ me { name } }", None, OperationInfo("query", None)),
    ("query { me }", None, OperationInfo("query", None)),
    ("query ($x: Int = 3) { me(x: $x) }", None, OperationInfo("query", None)),
    ("mutation @live { a }", None, OperationInfo("mutation", None)),
    ("fragment F on User { name } query Q { me { ...F } }", None, OperationInfo("query", "Q")),
    ('# query Commented { a }\n"""a description"""\nmutation Save { save(text: "query Fake {") }', None,
     OperationInfo("mutation", "Save")),
    ("query A { a } subscription B { b }", None, OperationInfo("query", "A")),
    ("query A { a } subscription B { b }", "B", OperationInfo("subscription", "B")),
    ("query A { a }", "Missing", None),
    ("", None, None),
    ("subscription", None, OperationInfo("subscription", None)),
])
def test_operation_info(document, name, expected):
    assert operation_info(document, name) == expected
