"""``/openapi.json``: an OpenAPI 3.0 description of every admin route.

Written by hand next to the code it describes; ``tests/test_admin.py`` fails when a Flask URL
rule has no entry here, and a schemathesis run fuzzes the API from this document.
"""
from flask import Blueprint

from ..version import __version__
from . import protocols
from .common import server

bp = Blueprint("openapi", __name__)

_STR = {"type": "string"}
_BOOL = {"type": "boolean"}
_INT = {"type": "integer", "minimum": 0}
_ANY_OBJECT = {"type": "object", "additionalProperties": True}
_DIRECTIONS = ["inbound", "outbound", "event"]
_DURATION = {"type": "string", "pattern": r"^(0|([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+)$"}


def _ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(properties, required=(), extra=False):
    schema = {"type": "object", "properties": properties, "additionalProperties": extra}
    if required:
        schema["required"] = list(required)
    return schema


def _json(schema, description):
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description):
    return _json(_ref("Error"), description)


def _param(name, where="query", schema=_STR, description="", required=None):
    return {"name": name, "in": where, "required": where == "path" if required is None else required,
            "schema": schema, "description": description}


MOCK_ID = _param("mock_id", "path", description="the mock's id")
CONNECTION_ID = _param("connection_id", "path", description="a live connection's id")
RECORDING_ID = _param("recording_id", "path", description="a recording's id (GET /recordings)")
IF_MATCH = _param("If-Match", "header", description="the mock's ETag: answer 412 if it changed since")


def _op(summary, tag, responses, body=None, params=(), errors=()):
    operation = {"summary": summary, "tags": [tag], "responses": dict(responses)}
    for status in errors:
        operation["responses"].setdefault(str(status), _error(_ERROR_TEXT[status]))
    if params:
        operation["parameters"] = list(params)
    if body is not None:
        schema, required, *also = body
        content = {"application/json": {"schema": schema}}
        if also and also[0] == "yaml":  # the mock as a config file writes it (mockd/admin/yamlbody.py)
            content["application/yaml"] = {"schema": _STR}
        operation["requestBody"] = {"required": required, "content": content}
        operation["responses"].setdefault("415", _error(_ERROR_TEXT[415]))
    operation["responses"].setdefault("403", _error(_ERROR_TEXT[403]))
    return operation


_ERROR_TEXT = {
    400: "invalid input: invalid_json, invalid_yaml, validation_error, invalid_type, invalid_base64, "
         "invalid_parameter",
    403: "forbidden_host (a Host that is not this API's: see --admin-allow-host) or forbidden_origin (a web "
         "page of another origin: see --admin-allow-origin)",
    404: "not_found",
    408: "timeout: fewer messages than asked arrived; ``messages`` holds those that did",
    409: "duplicate_id or duplicate_path",
    412: "precondition_failed: If-Match does not match the mock's ETag",
    415: "unsupported_media_type: a body must be sent as Content-Type: application/json",
}

_MATCH = _obj({"type": _STR, "value": _STR, "path": _STR,
               "messageType": {"type": "string", "enum": ["text", "binary"]}}, ["type"], extra=True)
_RESPONSE = _obj({"type": _STR, "value": {}, "delay": _DURATION}, ["type"], extra=True)
_WEBSOCKET = _obj({
    "path": {"type": "string", "pattern": "^/"},
    "subprotocols": {"type": "array", "items": _STR},
    "requireSubprotocol": _BOOL,
    "maxMessageSize": _INT,
    "maxConnections": _INT,
    "idleTimeout": _DURATION,
    "echoMode": _BOOL,
    "heartbeat": _obj({"enabled": _BOOL, "interval": _DURATION, "timeout": _DURATION}),
    "matchers": {"type": "array", "items": _obj({"match": _MATCH, "response": _RESPONSE, "noResponse": _BOOL},
                                                ["match"])},
    "defaultResponse": _RESPONSE,
    "scenario": _obj({"name": _STR, "loop": _BOOL, "resetOnReconnect": _BOOL,
                      "steps": {"type": "array", "items": _obj({"type": _STR}, ["type"], extra=True)}}),
    "skipOriginVerify": _BOOL,
    "allowedOrigins": {"type": "array", "minItems": 1, "items": _STR},
    "replay": _obj({"recording": _STR, "mode": {"type": "string", "enum": ["pure", "synchronized", "triggered"]},
                    "timingScale": {"type": "number", "minimum": 0},
                    "match": {"type": "string", "enum": ["exact", "any"]}}, ["recording"]),
    "protocol": _STR,
    "proxy": _obj({"url": {"type": "string", "pattern": "^wss?://"},
                   "mode": {"type": "string", "enum": ["fallback", "passthrough"]},
                   "headers": {"type": "object", "additionalProperties": _STR},
                   "forwardHeaders": {"type": "array", "items": _STR},
                   "tls": _obj({"ca": _STR, "insecure": _BOOL}), "record": _BOOL}, ["url"]),
}, ["path"], extra=True)  # extra: a protocol's settings block (websocket.<its settingsKey>)
_MOCK_FIELDS = {"id": _STR, "type": {"type": "string", "enum": ["websocket"]}, "name": _STR, "description": _STR,
                "enabled": _BOOL, "parentId": _STR, "workspaceId": _STR, "metaSortKey": {"type": "number"},
                "createdAt": _STR, "updatedAt": _STR, "websocket": _ref("WebSocketSpec")}

SCHEMAS = {
    "Error": _obj({"error": _STR, "message": _STR}, ["error", "message"], extra=True),
    "WebSocketSpec": _WEBSOCKET,
    "Mock": _obj(_MOCK_FIELDS, ["id", "type", "websocket"]),
    "NewMock": _obj(_MOCK_FIELDS, ["websocket"]),  # type: inferred from the websocket block, as in a file
    "MockPatch": _obj(dict(_MOCK_FIELDS, websocket=_ANY_OBJECT)),
    "MockAction": _obj({"id": _STR, "action": _STR, "message": _STR, "mock": _ref("Mock")},
                       ["id", "action", "message", "mock"]),
    "Collection": _obj({"version": {"type": "string", "enum": ["1.0"]},
                        "mocks": {"type": "array", "items": _ref("NewMock")}}, ["version"], extra=True),
    "Connection": _obj({"id": _STR, "mockId": _STR, "path": _STR, "subprotocol": _STR, "connectedAt": _STR,
                        "messagesSent": _INT, "messagesRecv": _INT, "status": _STR, "remoteAddr": _STR,
                        "node": _STR},
                       ["id", "mockId", "path", "connectedAt", "messagesSent", "messagesRecv", "status"], True),
    "Stats": _obj({"totalConnections": _INT, "activeConnections": _INT, "totalMessagesSent": _INT,
                   "totalMessagesRecv": _INT,
                   "connectionsByMock": {"type": "object", "additionalProperties": _INT}},
                  ["totalConnections", "activeConnections", "totalMessagesSent", "totalMessagesRecv",
                   "connectionsByMock"]),
    "Frame": _obj({"type": {"type": "string", "enum": ["text", "binary"]},
                   "data": {"type": "string", "description": "text, or standard base64 for binary"}}),
    "JournalEntry": _obj({"seq": _INT, "time": _STR, "connectionId": _STR, "mockId": _STR, "path": _STR,
                          "direction": {"type": "string", "enum": _DIRECTIONS},
                          "type": {"type": "string", "enum": ["text", "binary"]}, "size": _INT, "body": _STR,
                          "truncated": _BOOL, "matched": {"type": "string", "nullable": True}},
                         ["seq", "time", "connectionId", "direction", "type", "size", "body"], True),
    "Messages": _obj({"messages": {"type": "array", "items": _ref("JournalEntry")}, "count": _INT,
                      "lastSeq": _INT}, ["messages", "count"]),
}

_MOCK_LIST = _obj({"mocks": {"type": "array", "items": _ref("Mock")}, "total": _INT, "count": _INT},
                  ["mocks", "total", "count"])
_CONNECTION_LIST = _obj({"connections": {"type": "array", "items": _ref("Connection")}, "stats": _ref("Stats"),
                         "count": _INT, "mockId": _STR}, ["connections"])
_MESSAGE = _obj({"message": _STR}, ["message"], extra=True)
_WAIT = _obj({
    "count": {"type": "integer", "minimum": 1, "default": 1},
    "timeout": {"oneOf": [{"type": "number", "minimum": 0, "maximum": 300}, _DURATION],
                "description": "seconds, or a duration such as \"2s\" (default 5s, at most 300s)"},
    "match": _MATCH, "mockId": _STR, "connectionId": _STR, "since": _INT, "matched": _BOOL,
    "direction": {"type": "string", "enum": _DIRECTIONS},
})
_BROADCAST = _obj({"mockId": _STR, "path": _STR, "type": {"type": "string", "enum": ["text", "binary"]},
                   "data": _STR})
_NO_CONTENT = {"description": "done, no body"}


def _paths():
    mock, action = _ref("Mock"), _json(_ref("MockAction"), "the mock after the change")
    return {
        "/mocks": {
            "get": _op("List mocks", "mocks", {"200": _json(_MOCK_LIST, "a page of mocks")}, params=[
                _param("type"), _param("enabled", schema={"type": "string", "enum": ["true", "false"]}),
                _param("search", description="substring of id, name, description or path"),
                _param("parentId"), _param("folderId"), _param("workspaceId"),
                _param("offset", schema=_INT), _param("limit", schema={"type": "integer", "minimum": 1})],
                errors=[400]),
            "post": _op("Create a mock; it serves as soon as this answers", "mocks",
                        {"201": _json(_ref("MockAction"), "created")}, body=(_ref("NewMock"), True, "yaml"),
                        errors=[400, 409]),
            "delete": _op("Delete every mock (of one type); their clients get 1012", "mocks",
                          {"204": _NO_CONTENT}, params=[_param("type")]),
        },
        "/mocks/bulk": {"post": _op("Create several mocks, all or none", "mocks", {"201": _json(_obj(
            {"created": _INT, "mocks": {"type": "array", "items": mock}}), "created")},
            body=({"type": "array", "items": _ref("NewMock")}, True), errors=[400, 409])},
        "/mocks/{mock_id}": {
            "get": _op("Get a mock (with its ETag); as YAML with ?format=yaml", "mocks", {"200": dict(
                _json(mock, "the mock"), content={"application/json": {"schema": mock},
                                                  "application/yaml": {"schema": _STR}})},
                params=[MOCK_ID, _param("format", schema={"type": "string", "enum": ["json", "yaml"]},
                                        description="yaml: the mock as a config file writes it")],
                errors=[400, 404]),
            "put": _op("Replace a mock; its clients get 1012", "mocks", {"200": action},
                       body=(_ref("NewMock"), True, "yaml"), params=[MOCK_ID, IF_MATCH], errors=[400, 404, 409, 412]),
            "patch": _op("Merge-patch a mock (RFC 7396); its clients get 1012", "mocks", {"200": action},
                         body=(_ref("MockPatch"), True), params=[MOCK_ID, IF_MATCH], errors=[400, 404, 409, 412]),
            "delete": _op("Delete a mock; its clients get 1012", "mocks", {"204": _NO_CONTENT},
                          params=[MOCK_ID, IF_MATCH], errors=[404, 412]),
        },
        "/mocks/{mock_id}/toggle": {"post": _op(
            "Flip enabled (or set it with {\"enabled\": bool}); disabling closes clients with 1012", "mocks",
            {"200": action}, body=(_obj({"enabled": _BOOL}), False), params=[MOCK_ID, IF_MATCH],
            errors=[400, 404, 409, 412])},
        "/mocks/{mock_id}/websocket/connections": {
            "get": _op("Live connections of a mock", "connections", {"200": _json(_CONNECTION_LIST, "them")},
                       params=[MOCK_ID], errors=[404]),
            "delete": _op("Close a mock's connections with 1000 'closed by API'", "connections",
                          {"200": _json(_MESSAGE, "how many were closed")}, params=[MOCK_ID], errors=[404]),
        },
        "/config": {
            "get": _op("Export every mock as a config collection", "config",
                       {"200": _json(_ref("Collection"), "a config file's content")}),
            "post": _op("Import a collection, validated whole; replace:true removes other mocks", "config",
                        {"200": _json(_MESSAGE, "imported")}, body=(_obj(
                            {"config": _ref("Collection"), "replace": _BOOL}, ["config"]), True),
                        errors=[400, 409]),
        },
        "/websocket/connections": {"get": _op("Live connections and stats", "connections",
                                              {"200": _json(_CONNECTION_LIST, "them")})},
        "/websocket/connections/{connection_id}": {
            "get": _op("One live connection", "connections", {"200": _json(_ref("Connection"), "it")},
                       params=[CONNECTION_ID], errors=[404]),
            "delete": _op("Close a connection with 1000 'closed by API'", "connections",
                          {"200": _json(_MESSAGE, "closed")}, params=[CONNECTION_ID], errors=[404]),
        },
        "/websocket/connections/{connection_id}/send": {"post": _op(
            "Send a text or base64 binary frame to a connection (not templated)", "connections",
            {"200": _json(_MESSAGE, "sent")}, body=(_ref("Frame"), False), params=[CONNECTION_ID],
            errors=[400, 404])},
        "/websocket/connections/{connection_id}/replay/advance": {"post": _op(
            "Send a triggered replay's next server frames: count of them (default 1), or up to and including "
            "the first whose data contains until", "connections",
            {"200": _json(_obj({"sent": _INT, "remaining": _INT}, ["sent", "remaining"]), "how many were sent"),
             "409": _error("not_triggered (the connection's mock is no triggered replay) or no_match (no server "
                           "frame left contains until; nothing was sent)")},
            body=(_obj({"count": {"type": "integer", "minimum": 1}, "until": _STR}), False), params=[CONNECTION_ID],
            errors=[400, 404])},
        "/websocket/stats": {"get": _op("Connection and message totals", "connections",
                                        {"200": _json(_ref("Stats"), "totals")})},
        "/websocket/broadcast": {"post": _op("Send one frame to every client of a mock or path", "connections",
                                             {"200": _json(_MESSAGE, "how many got it")},
                                             body=(_BROADCAST, True), errors=[400, 404])},
        "/websocket/messages": {
            "get": _op("Read the message journal, oldest first", "journal",
                       {"200": _json(_ref("Messages"), "entries")}, params=[
                           _param("mockId"), _param("connectionId"),
                           _param("direction", schema={"type": "string", "enum": _DIRECTIONS}),
                           _param("matched", schema={"type": "string", "enum": ["true", "false"]}),
                           _param("since", schema=_INT, description="only entries with a larger seq"),
                           _param("limit", schema=_INT, description="only the newest N")], errors=[400]),
            "delete": _op("Clear the message journal", "journal", {"204": _NO_CONTENT}),
        },
        "/websocket/messages/wait": {"post": _op(
            "Block until N matching journal entries exist, or time out with 408", "journal",
            {"200": _json(_ref("Messages"), "the first N matching entries")}, body=(_WAIT, False),
            errors=[400, 408])},
        "/ui": {"get": dict(_op("Redirect to /ui/", "dashboard", {"308": {"description": "to /ui/"}}),
                            security=[])},
        "/ui/": {"get": dict(_op("The dashboard (HTML); never needs a token", "dashboard", {"200": {
            "description": "the page", "content": {"text/html": {"schema": _STR}}}}), security=[])},
        "/ui/{name}": {"get": dict(_op("The dashboard's files (JavaScript, CSS); never need a token", "dashboard", {
            "200": {"description": "the file", "content": {"*/*": {"schema": _STR}}}}, params=[
                _param("name", "path", description="a file of the dashboard")], errors=[404]), security=[])},
        "/events": {"get": _op(
            "Server-sent events: hello, mocks and connections on change, new journal messages, stats every "
            "second", "system", {"200": {"description": "an endless text/event-stream", "content": {
                "text/event-stream": {"schema": _STR}}},
                "503": _error("too_many_streams: 16 streams are open already")},
            params=[_param("connectionId", description="only this connection's messages"),
                    _param("mockId", description="only this mock's messages"),
                    _param("messages", schema={"type": "string", "enum": ["true", "false"]},
                           description="false: no messages events")])},
        "/health": {"get": dict(_op("Liveness; never needs a token", "system", {"200": _json(_obj(
            {"status": _STR, "uptime": _INT, "timestamp": _STR}, ["status", "uptime", "timestamp"]), "up")}),
            security=[])},
        "/status": {"get": _op("Version, uptime, mock and connection counts", "system",
                               {"200": _json(_ANY_OBJECT, "status")})},
        "/plugins": {"get": _op("Loaded plugins", "system", {"200": _json(_obj(
            {"plugins": {"type": "array", "items": _ANY_OBJECT}}), "plugins")},
            params=[_param("all", schema={"type": "string", "enum": ["true", "false"]},
                           description="also list mockd's built-in plugins")],
            errors=(400,))},
        "/recordings": {"get": _op("Summaries of the recorded proxied sessions (proxy.record)", "recordings",
                                   {"200": _json(_obj({"recordings": {"type": "array", "items": _ANY_OBJECT}},
                                                      ["recordings"]), "summaries")})},
        "/recordings/{recording_id}": {
            "get": _op("One recording: mockd's JSON document, or HAR 1.2 with ?format=har", "recordings",
                       {"200": _json(_ANY_OBJECT, "the recording")},
                       params=[RECORDING_ID, _param("format", schema={"type": "string", "enum": ["json", "har"]},
                                                    description="har: HAR 1.2 as Chrome DevTools exports it")],
                       errors=(400, 404)),
            "delete": _op("Drop a recording", "recordings", {"204": {"description": "dropped"}},
                          params=[RECORDING_ID], errors=(404,))},
        "/openapi.json": {"get": _op("This document", "system", {"200": _json(_ANY_OBJECT, "OpenAPI 3.0")})},
        **_fault_paths(),
        "/cluster": {"get": _op("The nodes serving these mocks: one without --cluster", "system", {"200": _json(_obj(
            {"nodes": {"type": "array", "items": _ANY_OBJECT}, "self": _STR}, ["nodes", "self"]), "the nodes")})},
    }


_FAULT = {"type": "object", "required": ["type"], "additionalProperties": True, "properties": {
    "type": {"type": "string", "description": "close, drop, silence, stopPongs, latency, throttle, fragment, "
                                              "badFrame, refuse, or a plugin's"},
    "probability": {"type": "number", "minimum": 0, "maximum": 1},
    "after": _obj({"messages": {"type": "integer", "minimum": 1}, "duration": _DURATION})}}
_APPLIED = _json(_obj({"applied": _ANY_OBJECT, "connections": _INT, "mockId": _STR, "connection": _STR},
                      ["applied", "connections"]), "the fault, and how many connections it was applied to")


def _fault_paths():
    return {
        "/mocks/{mock_id}/faults": {
            "get": _op("The mock's faults in force (config and API)", "faults", {"200": _json(_obj(
                {"mockId": _STR, "faults": {"type": "array", "items": _ANY_OBJECT}}), "them")},
                params=[MOCK_ID], errors=[404]),
            "post": _op("Add a fault: live and new connections of the mock (no 1012)", "faults", {"201": _APPLIED},
                        body=(_FAULT, True), params=[MOCK_ID], errors=[400, 404]),
            "delete": _op("Remove the mock's faults; lift latency, throttle, fragment, stopPongs", "faults",
                          {"200": _json(_obj({"cleared": _INT, "mockId": _STR, "connections": _INT}), "cleared")},
                          params=[MOCK_ID], errors=[404]),
        },
        "/websocket/connections/{connection_id}/faults": {"post": _op(
            "Apply one fault to one live connection, now (or at its after trigger)", "faults", {"200": _APPLIED},
            body=(_FAULT, True), params=[CONNECTION_ID], errors=[400, 404])},
        "/websocket/handshakes": {
            "get": _op("The handshake journal: every upgrade attempt, oldest first", "faults", {"200": _json(_obj(
                {"handshakes": {"type": "array", "items": _ANY_OBJECT}, "count": _INT}), "entries")},
                params=[_param("mockId"), _param("path"), _param("limit", schema=_INT, description="only the newest N")],
                errors=[400]),
            "delete": _op("Clear the handshake journal", "faults", {"204": _NO_CONTENT}),
        },
    }


def document(with_token, extra_paths=None):
    """The OpenAPI document; ``with_token`` adds the security requirement; ``extra_paths``
    (the protocols' routes, ``protocols.openapi_paths``) join the core's."""
    doc = {
        "openapi": "3.0.3",
        "info": {"title": "mockd admin API", "version": __version__,
                 "description": "Manage WebSocket mocks and drive live connections; README.rst, \"Admin API\", "
                                "documents every route."},
        "paths": {**_paths(), **(extra_paths or {})},
        "components": {"schemas": SCHEMAS, "securitySchemes": {
            "bearerAuth": {"type": "http", "scheme": "bearer"},
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}}},
    }
    if with_token:
        doc["security"] = [{"bearerAuth": []}, {"apiKey": []}]
    return doc


@bp.get("/openapi.json")
def openapi_json():
    return document(bool(server().options.admin_token), protocols.openapi_paths(server()))
