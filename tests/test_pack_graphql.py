"""The GraphQL over WebSocket pack (``protocol: graphql-transport-ws``) against a real server:
docs/protocols.md's example as written, driven by the protocol's reference client from PyPI
(gql's ``WebsocketsTransport``, graphql-transport-ws subprotocol) in a subprocess of its own
(asyncio, no gevent); raw websocket-client frames for what gql never sends (each close code,
invalid messages); the journal's decoded form; ``POST /graphql/publish``; ``mockd check``."""
import datetime
import json
import pathlib
import re
import subprocess
import sys
import time

import gevent
import _docs
import pytest
import yaml

from _cli import env, mockd
from mockd.errors import ConfigError
from mockd.testing import assert_silent, check_config, recv_close, recv_text

pytestmark = pytest.mark.usefixtures("no_unhandled_errors")

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs" / "protocols.md"
HEADING = "## GraphQL over WebSocket"
SUBPROTOCOL = "graphql-transport-ws"
ON_MESSAGE = "subscription OnMessage($user: String!) { onMessage(user: $user) { id text } }"


def section_blocks(language):
    return _docs.section_blocks(HEADING[3:], language)

def doc_config():
    (block,) = section_blocks("yaml")
    return block


# ---------------------------------------------------------------- the reference client (gql)

# The documented scenario, as a gql user writes it: the subscription, the error, a query.
GQL_EXAMPLE = """
import asyncio, json, sys
from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportQueryError
from gql.transport.websockets import WebsocketsTransport

def emit(**event):
    print(json.dumps(event), flush=True)

async def main():
    transport = WebsocketsTransport(url=sys.argv[1], subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL])
    async with Client(transport=transport) as session:
        emit(ack=transport.payloads.get("connection_ack"), subprotocol=transport.subprotocol)
        request = GraphQLRequest(%(on_message)r, variable_values={"user": "ann"})
        async for result in session.subscribe(request):
            emit(next=result)
        emit(completed="OnMessage")
        try:
            await session.execute(GraphQLRequest("subscription Broken { broken }"))
        except TransportQueryError as exc:
            emit(error=exc.errors)
        query = GraphQLRequest("query Me($name: String) { currentUser(name: $name) { name operation } }",
                               variable_values={"name": "bob"})
        emit(query=await session.execute(query))
        try:
            await session.execute(GraphQLRequest("subscription OnOther { other }"))
        except TransportQueryError as exc:
            emit(unmatched=exc.errors)

asyncio.run(main())
""" % {"on_message": ON_MESSAGE}

# A subscriber of OnPrice that prints what reaches it; it stops after two results.
GQL_SUBSCRIBER = """
import asyncio, json, sys
from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport

async def main():
    transport = WebsocketsTransport(url=sys.argv[1], subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL])
    async with Client(transport=transport) as session:
        received = 0
        async for result in session.subscribe(GraphQLRequest("subscription OnPrice { onPrice { symbol price } }")):
            print(json.dumps({"next": result}), flush=True)
            received += 1
            if received == 2:
                break
    print(json.dumps({"closed": True}), flush=True)

asyncio.run(main())
"""


def run_client(script, *args):
    return subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env())


def events(proc, timeout=20):
    """Every JSON line the client prints, once it has exited (successfully)."""
    with gevent.Timeout(timeout, AssertionError("the gql client did not finish")):
        out, err = proc.communicate()
    assert proc.returncode == 0, err
    return [json.loads(line) for line in out.splitlines()]


def next_event(proc, timeout=20):
    with gevent.Timeout(timeout, AssertionError("the gql client printed nothing")):
        line = proc.stdout.readline()
    assert line, proc.stderr.read()
    return json.loads(line)


def wait_journal(server, matched, count=1, timeout=10):
    """The journal entries whose ``matched`` is ``graphql-transport-ws: <matched>``, once
    ``count`` of them are in."""
    deadline = time.monotonic() + timeout
    while True:
        found = [e for e in server.journal if e.get("matched") == f"{SUBPROTOCOL}: {matched}"]
        if len(found) >= count or time.monotonic() > deadline:
            assert len(found) >= count, (matched, server.journal)
            return found
        gevent.sleep(0.02)


@pytest.mark.slow
def test_documented_example_with_gql(make_mockd_server):
    text = doc_config()
    check_config(text)
    server = make_mockd_server(text)
    got = events(run_client(GQL_EXAMPLE, server.url("/graphql")))
    assert got[0] == {"ack": {"server": "mockd"}, "subprotocol": SUBPROTOCOL}
    nexts = [event["next"] for event in got if "next" in event]
    assert [n["onMessage"]["text"] for n in nexts] == ["hi ann"] * 3  # one item, repeat: 3
    ids = [n["onMessage"]["id"] for n in nexts]
    assert len(set(ids)) == 3 and all(re.fullmatch(r"[0-9a-f-]{36}", i) for i in ids)
    rest = [event for event in got if "next" not in event][1:]
    assert rest == [
        {"completed": "OnMessage"},
        {"error": [{"message": "not allowed"}]},
        {"query": {"currentUser": {"name": "bob", "operation": "Me"}}},
        {"unmatched": [{"message": "mockd: no mocked operation matches subscription OnOther on /graphql"}]},
    ]
    # interval: 100ms between the nexts of OnMessage (the journal's times are in milliseconds).
    times = [datetime.datetime.fromisoformat(e["time"].replace("Z", "+00:00")) for e in server.journal
             if e.get("matched") == f"{SUBPROTOCOL}: next OnMessage"]
    assert len(times) == 3 and all((b - a).total_seconds() >= 0.09 for a, b in zip(times, times[1:]))


@pytest.mark.slow
def test_documented_python_block_runs_as_written(make_mockd_server):
    server = make_mockd_server(doc_config())
    (script,) = section_blocks("python")
    assert "ws://localhost:4280/graphql" in script
    proc = run_client(script.replace("ws://localhost:4280/graphql", server.url("/graphql")))
    with gevent.Timeout(20, AssertionError("the documented client did not finish")):
        out, err = proc.communicate()
    assert proc.returncode == 0, err
    lines = out.splitlines()
    assert len(lines) == 3 and all("'text': 'hi ann'" in line for line in lines), out


@pytest.mark.slow
def test_publish_reaches_a_live_gql_subscription(make_mockd_server):
    server = make_mockd_server(doc_config())
    proc = run_client(GQL_SUBSCRIBER, server.url("/graphql"))
    try:
        wait_journal(server, "subscribe OnPrice")
        (curl,) = section_blocks("")  # the documented curl command and its answer
        body = json.loads(re.search(r"-d '(.*?)'", curl).group(1))
        documented_answer = json.loads(curl.strip().splitlines()[-1])
        reply = server.admin.post("/graphql/publish", body)
        assert (reply.status, reply.json) == (200, documented_answer) == (200, {"sent": 1})
        assert next_event(proc) == {"next": {"onPrice": {"symbol": "ACME", "price": 42.5}}}
        # Without a path: every mock of the protocol; other operations' subscribers are not reached.
        assert server.admin.post("/graphql/publish", {"operationName": "OnMessage",
                                                      "payload": {"data": {}}}).json == {"sent": 0}
        reply = server.admin.post("/graphql/publish", {"operationName": "OnPrice", "payload": {"data": {
            "onPrice": {"symbol": "ACME", "price": 43}}}})
        assert reply.json == {"sent": 1}
        assert next_event(proc) == {"next": {"onPrice": {"symbol": "ACME", "price": 43}}}
        assert next_event(proc) == {"closed": True}
        # gql's break sent complete: the subscription is no longer live.
        wait_journal(server, "complete OnPrice")
        assert server.admin.post("/graphql/publish", {"operationName": "OnPrice",
                                                      "payload": {"data": {}}}).json == {"sent": 0}
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


# ---------------------------------------------------------------- raw frames (websocket-client)

def config(**graphql):
    graphql.setdefault("operations", [
        {"operationName": "OnMessage", "next": [{"data": {"n": "{{variables.n}}", "id": "{{message.id}}"}}]},
        {"operationName": "Ticks", "next": [{"data": {"tick": "{{sequence('t')}}"}}], "interval": "50ms",
         "repeat": "forever"},
        {"operationName": "Held", "complete": False},
        {"query": "currentUser", "next": [{"data": {"currentUser": {"name": "ann"}}}]},
    ])
    return {"version": "1.0", "mocks": [{"id": "gql", "type": "websocket", "websocket": {
        "path": "/graphql", "protocol": SUBPROTOCOL, "graphql": graphql}}]}


@pytest.fixture
def connect(make_mockd_server, ws_client):
    """``connect(config=None, init=True)``: a raw client of a server of ``config``, past
    connection_ack when ``init``."""
    def open_(cfg=None, init=True, subprotocols=(SUBPROTOCOL,)):
        server = make_mockd_server(cfg or config())
        ws = ws_client(server.url("/graphql"), subprotocols=list(subprotocols))
        ws.server = server
        if init:
            send(ws, {"type": "connection_init"})
            assert receive(ws) == {"type": "connection_ack"}
        return ws
    return open_


def send(ws, message):
    ws.send(message if isinstance(message, str) else json.dumps(message))


def receive(ws, timeout=5.0):
    return json.loads(recv_text(ws, timeout))


def subscribe(ws, op_id, query, **payload):
    send(ws, {"id": op_id, "type": "subscribe", "payload": dict(payload, query=query)})


@pytest.mark.parametrize("message, reason", [
    ("not json", "Invalid message received: not JSON"),
    # found by a review: Python's NaN was echoed in the pong, which JSON.parse refuses
    ('{"type": "ping", "payload": {"x": NaN}}', "Invalid message received: not JSON"),
    ({"type": "hello"}, "Invalid message 'type' property 'hello'"),
    ([1, 2], "Message is expected to be an object, but got array"),
    ({"id": "1", "type": "next", "payload": {"data": {}}}, "Unexpected message of type next received"),
    ({"type": "subscribe", "id": "", "payload": {"query": "{ a }"}},
     "\"subscribe\" message requires a non-empty 'id' property"),
    ({"type": "subscribe", "id": "1", "payload": {"variables": {}}},
     "\"subscribe\" message payload expects the 'query' property to be a string, but got null"),
])
def test_bad_messages_close_4400_with_the_reason(connect, message, reason):
    ws = connect()
    send(ws, message)
    assert recv_close(ws, allow_data=False) == (4400, reason)
    (entry,) = [e for e in ws.server.journal if e["direction"] == "inbound" and "invalid" in (e["matched"] or "")]
    assert entry["matched"] == f"{SUBPROTOCOL}: invalid message: {reason}"


def test_subscribe_before_ack_closes_4401(connect):
    ws = connect(init=False)
    subscribe(ws, "1", ON_MESSAGE)
    assert recv_close(ws, allow_data=False) == (4401, "Unauthorized")


def test_refused_connection_init_closes_4403(connect):
    ws = connect(config(connectionInit={"accept": False}), init=False)
    send(ws, {"type": "connection_init", "payload": {"token": "x"}})
    assert recv_close(ws, allow_data=False) == (4403, "Forbidden")


def test_a_client_without_the_subprotocol_is_closed_4406(connect):
    ws = connect(init=False, subprotocols=())
    assert recv_close(ws, allow_data=False) == (4406, "Subprotocol not acceptable")


def test_no_connection_init_in_time_closes_4408(connect):
    ws = connect(config(initTimeout="200ms"), init=False)
    started = time.monotonic()
    assert recv_close(ws, allow_data=False) == (4408, "Connection initialisation timeout")
    assert 0.15 < time.monotonic() - started < 2


def test_init_timeout_does_not_apply_once_initialised(connect):
    ws = connect(config(initTimeout="150ms"))
    assert_silent(ws, 0.3)
    send(ws, {"type": "ping"})
    assert receive(ws) == {"type": "pong"}


def test_duplicate_subscription_id_closes_4409(connect):
    ws = connect()
    subscribe(ws, "sub-1", "subscription Held { price }")
    assert_silent(ws, 0.1)
    subscribe(ws, "sub-1", "subscription Held { price }")
    assert recv_close(ws, allow_data=False) == (4409, "Subscriber for sub-1 already exists")


def test_a_second_connection_init_closes_4429(connect):
    ws = connect()
    send(ws, {"type": "connection_init"})
    assert recv_close(ws, allow_data=False) == (4429, "Too many initialisation requests")


def test_ping_pong_both_ways(connect):
    ws = connect(config(pingInterval="100ms"), init=False)
    send(ws, {"type": "ping", "payload": {"t": 1}})  # before connection_init too, as graphql-ws
    assert receive(ws) == {"type": "pong", "payload": {"t": 1}}
    send(ws, {"type": "connection_init"})
    assert receive(ws) == {"type": "connection_ack"}
    send(ws, {"type": "ping"})
    message = receive(ws)
    if message == {"type": "ping"}:  # the server's own ping may come first
        message = receive(ws)
    assert message == {"type": "pong"}
    assert receive(ws) == {"type": "ping"}  # pingInterval: the server pings
    send(ws, {"type": "pong"})
    wait_journal(ws.server, "pong")


def test_query_gets_its_result_then_complete_and_frees_the_id(connect):
    ws = connect()
    for _ in range(2):  # the id is free again once completed
        subscribe(ws, "q", "query { currentUser { name } }")
        assert receive(ws) == {"id": "q", "type": "next", "payload": {"data": {"currentUser": {"name": "ann"}}}}
        assert receive(ws) == {"id": "q", "type": "complete"}


def test_template_context_variables_and_message(connect):
    ws = connect()
    subscribe(ws, "a1", ON_MESSAGE, variables={"n": 5}, operationName="OnMessage")
    assert receive(ws)["payload"] == {"data": {"n": "5", "id": "a1"}}
    assert receive(ws) == {"id": "a1", "type": "complete"}


def test_client_complete_stops_the_stream(connect):
    ws = connect()
    subscribe(ws, "t", "subscription Ticks { tick }")
    ticks = [int(receive(ws)["payload"]["data"]["tick"]) for _ in range(2)]
    assert ticks[1] == ticks[0] + 1  # sequence() counts process-wide: consecutive, whatever the start
    send(ws, {"id": "t", "type": "complete"})
    assert_silent(ws, 0.3)  # nothing more for it, and no complete back
    wait_journal(ws.server, "complete Ticks")


def test_several_subscriptions_stream_side_by_side(connect):
    ws = connect()
    subscribe(ws, "a", "subscription Ticks { tick }")
    subscribe(ws, "b", "subscription Ticks { tick }")
    seen = {receive(ws)["id"] for _ in range(6)}
    assert seen == {"a", "b"}
    send(ws, {"id": "a", "type": "complete"})
    send(ws, {"id": "b", "type": "complete"})
    assert_silent(ws, 0.2)


def test_unmatched_operation_gets_an_error_naming_it(connect):
    ws = connect()
    subscribe(ws, "9", "mutation Save { save }")
    assert receive(ws) == {"id": "9", "type": "error", "payload": [
        {"message": "mockd: no mocked operation matches mutation Save on /graphql"}]}
    assert_silent(ws, 0.1)  # no complete after an error; the connection stays
    subscribe(ws, "9", "{ anything }")  # the id is free again
    assert receive(ws)["payload"] == [{"message": "mockd: no mocked operation matches query (anonymous) on /graphql"}]


def test_ack_payload_is_templated_from_connection_init(connect):
    ws = connect(config(connectionInit={"ackPayload": {"hello": "{{payload.user}}", "of": "{{upper(payload.user)}}"}}),
                 init=False)
    send(ws, {"type": "connection_init", "payload": {"user": "ann"}})
    assert receive(ws) == {"type": "connection_ack", "payload": {"hello": "ann", "of": "ANN"}}


def test_journal_has_the_decoded_form(connect):
    ws = connect()
    subscribe(ws, "1", ON_MESSAGE, variables={"n": 1})
    receive(ws)
    receive(ws)
    send(ws, {"type": "ping"})
    receive(ws)
    entries = [(e["direction"], e["matched"], json.loads(e["body"]).get("type")) for e in ws.server.journal]
    assert entries == [
        ("inbound", f"{SUBPROTOCOL}: connection_init", "connection_init"),
        ("outbound", f"{SUBPROTOCOL}: connection_ack", "connection_ack"),
        ("inbound", f"{SUBPROTOCOL}: subscribe OnMessage", "subscribe"),
        ("outbound", f"{SUBPROTOCOL}: next OnMessage", "next"),
        ("outbound", f"{SUBPROTOCOL}: complete OnMessage", "complete"),
        ("inbound", f"{SUBPROTOCOL}: ping", "ping"),
        ("outbound", f"{SUBPROTOCOL}: pong", "pong"),
    ]


def test_publish_to_a_raw_subscriber_and_its_errors(connect):
    ws = connect()
    admin = ws.server.admin
    subscribe(ws, "h", "subscription Held { price }")
    wait_journal(ws.server, "subscribe Held")
    reply = admin.post("/graphql/publish", {"path": "/graphql", "operationName": "Held", "payload": {"data": {"p": 1}}})
    assert (reply.status, reply.json) == (200, {"sent": 1})
    assert receive(ws) == {"id": "h", "type": "next", "payload": {"data": {"p": 1}}}
    assert wait_journal(ws.server, "next Held")[0]["direction"] == "outbound"
    for body, status, text in [
        ({"operationName": "Held", "payload": {}, "topic": "x"}, 400, "unknown field 'topic'"),
        ({"payload": {"data": {}}}, 400, "operationName"),
        ({"operationName": "Held", "payload": [1]}, 400, "payload"),
        ({"operationName": "Held", "payload": {}, "path": 3}, 400, "path"),
        ({"operationName": "Held", "payload": {}, "path": "/nothing"}, 404, "no graphql-transport-ws mock on /nothing"),
    ]:
        reply = admin.post("/graphql/publish", body)
        assert reply.status == status and text in reply.json["message"], (body, reply.json)
    send(ws, {"id": "h", "type": "complete"})
    wait_journal(ws.server, "complete Held")
    reply = admin.post("/graphql/publish", {"path": "/graphql", "operationName": "Held", "payload": {"data": {}}})
    assert reply.json == {"sent": 0}
    assert_silent(ws, 0.1)


def test_publish_to_a_served_path_without_clients_reaches_none(make_mockd_server):
    server = make_mockd_server(config())
    reply = server.admin.post("/graphql/publish", {"path": "/graphql", "operationName": "Held", "payload": {}})
    assert (reply.status, reply.json) == (200, {"sent": 0})


# ---------------------------------------------------------------- the config, checked

BAD = """
version: "1.0"
mocks:
  - id: gql
    type: websocket
    websocket:
      path: /graphql
      protocol: graphql-transport-ws
      graphql:
        connectionInit: {accept: maybe, extra: 1}
        initTimeout: 3
        operations:
          - next: [{data: {id: "{{uuidd}}"}}, 5]
            repeat: sometimes
          - operationName: Broken
            error: [{text: "no message"}]
            repeat: 2
          - operationName: Ticks
            next: [{data: {}}]
            repeat: forever
          - operationName: Fine
            next: [{data: {user: "{{variables.user}}"}}]
"""

EXPECTED = {
    "mocks[0].websocket.graphql.connectionInit.accept": "expected true or false",
    "mocks[0].websocket.graphql.connectionInit.extra": "unknown key 'extra'",
    "mocks[0].websocket.graphql.initTimeout": "a duration needs a unit",
    "mocks[0].websocket.graphql.operations[0]": "needs operationName or query",
    "mocks[0].websocket.graphql.operations[0].next[0].data.id": "unknown template name 'uuidd'",
    "mocks[0].websocket.graphql.operations[0].next[1]": "an ExecutionResult object",
    "mocks[0].websocket.graphql.operations[0].repeat": "a whole number or 'forever'",
    "mocks[0].websocket.graphql.operations[1].error[0].message": "message is required",
    "mocks[0].websocket.graphql.operations[1].repeat": "repeat cannot be used with it",
    "mocks[0].websocket.graphql.operations[2].interval": "needs an interval above 0",
}


def test_check_reports_every_problem_located():
    with pytest.raises(ConfigError) as caught:
        check_config(BAD)
    found = {error.where: str(error) for error in caught.value.errors}
    assert set(found) == set(EXPECTED), found
    for where, text in EXPECTED.items():
        assert text in found[where], (where, found[where])


@pytest.mark.slow
def test_mockd_check_exits_2_naming_the_places(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(BAD)
    result = mockd("check", "-c", path)
    assert result.returncode == 2, result
    for where in EXPECTED:
        assert f"{where}:" in result.stderr, (where, result.stderr)
    assert yaml.safe_load(doc_config())  # and the documented one passes
    path.write_text(doc_config())
    assert mockd("check", "-c", path).returncode == 0
