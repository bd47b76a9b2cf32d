"""Faults through the admin API, and the handshake journal.

- ``GET /mocks/{id}/faults``: the mock's faults in force (its config's and those added here);
- ``POST /mocks/{id}/faults``: add one; a connection fault reaches the mock's live connections
  at once (each one's probability drawn) and every new one;
- ``DELETE /mocks/{id}/faults``: remove them all and lift latency, throttle, fragment and
  stopPongs on the live connections;
- ``POST /websocket/connections/{id}/faults``: one fault on one live connection, now (or at its
  ``after`` trigger);
- ``GET /websocket/handshakes?mockId=&path=&limit=``, ``DELETE /websocket/handshakes``.

A change here is not a change of the mock's definition: its clients are not closed with 1012,
and ``GET /mocks/{id}`` still shows the faults its config gave.
"""
from flask import Blueprint, request

from ..build import Build
from .batch import named_files
from .common import ApiError, json_object, no_content, not_found, query_int, server

bp = Blueprint("faults", __name__)


def _fault(body):
    """The request's fault, validated as a config file's ``websocket.faults`` entry."""
    running = server()
    build = Build(running.registry, plugins=running.config.plugins, source=running.config.source,
                  allowed_files=named_files(running.config))
    return build.fault(body, "fault")


@bp.get("/mocks/<mock_id>/faults")
def list_mock_faults(mock_id):
    faults = server().mocks.faults_of(mock_id)
    return {"mockId": mock_id, "faults": faults.describe()}


@bp.post("/mocks/<mock_id>/faults")
def add_mock_fault(mock_id):
    server().mocks.faults_of(mock_id)  # 404 for an unknown mock
    fault = _fault(json_object())
    # Every node adds it to the mock's list and applies it to its own connections.
    applied = sum(server().backend.ask("mock_fault", mockId=mock_id, spec=fault.spec))
    server().backend.faults_changed(mock_id)
    return {"applied": fault.spec, "mockId": mock_id, "connections": applied}, 201


@bp.delete("/mocks/<mock_id>/faults")
def clear_mock_faults(mock_id):
    server().mocks.faults_of(mock_id)
    answers = server().backend.ask("mock_faults_clear", mockId=mock_id)
    server().backend.faults_changed(mock_id)
    return {"cleared": answers[0][0], "mockId": mock_id, "connections": sum(lifted for _, lifted in answers)}


@bp.post("/websocket/connections/<connection_id>/faults")
def add_connection_fault(connection_id):
    fault = _fault(json_object())
    backend = server().backend
    described = [answer for answer in backend.ask("describe", connectionId=connection_id) if answer]
    if not described:
        raise not_found("Connection not found")
    if fault.stage != "connection":
        raise ApiError(400, "validation_error",
                       f"a {fault.type!r} fault applies to a mock's handshakes, not to a live connection: "
                       f"POST it to /mocks/{described[0]['mockId']}/faults")
    found = [answer for answer in backend.ask("fault", connectionId=connection_id, spec=fault.spec)
             if answer is not None]
    if not found:
        raise not_found("Connection not found")  # it closed meanwhile
    return {"applied": fault.spec, "connection": connection_id, "connections": int(found[0])}


@bp.get("/websocket/handshakes")
def list_handshakes():
    limit = query_int("limit")
    # every node's journal (one with a single process), merged by time; "node" says whose
    answers = server().backend.ask("handshakes", mockId=request.args.get("mockId") or None,
                                   path=request.args.get("path") or None, limit=limit)
    entries = sorted((entry for answer in answers for entry in answer), key=lambda entry: entry["at"])
    if limit is not None:
        entries = entries[-limit:] if limit else []
    return {"handshakes": entries, "count": len(entries)}


@bp.delete("/websocket/handshakes")
def clear_handshakes():
    server().backend.ask("clear_handshakes")
    return no_content()
