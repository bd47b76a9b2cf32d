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
from .common import ApiError, json_object, no_content, query_int, server
from .connections import connection_or_404

bp = Blueprint("faults", __name__)


def _fault(body):
    """The request's fault, validated as a config file's ``websocket.faults`` entry."""
    running = server()
    build = Build(running.registry, plugins=running.config.plugins, source=running.config.source,
                  allowed_files=named_files(running.config))
    return build.fault(body, "fault")


def _live(mock_id):
    route = next((route for route in server().mocks.routes.values() if route.id == mock_id), None)
    return route.connections if route is not None else ()


@bp.get("/mocks/<mock_id>/faults")
def list_mock_faults(mock_id):
    faults = server().mocks.faults_of(mock_id)
    return {"mockId": mock_id, "faults": faults.describe()}


@bp.post("/mocks/<mock_id>/faults")
def add_mock_fault(mock_id):
    faults = server().mocks.faults_of(mock_id)
    fault = _fault(json_object())
    applied = faults.add(fault, _live(mock_id))
    return {"applied": fault.spec, "mockId": mock_id, "connections": applied}, 201


@bp.delete("/mocks/<mock_id>/faults")
def clear_mock_faults(mock_id):
    faults = server().mocks.faults_of(mock_id)
    removed, lifted = faults.clear(_live(mock_id))
    return {"cleared": removed, "mockId": mock_id, "connections": lifted}


@bp.post("/websocket/connections/<connection_id>/faults")
def add_connection_fault(connection_id):
    from ..faults.live import arm

    connection = connection_or_404(connection_id)
    fault = _fault(json_object())
    if fault.stage != "connection":
        raise ApiError(400, "validation_error",
                       f"a {fault.type!r} fault applies to a mock's handshakes, not to a live connection: "
                       f"POST it to /mocks/{connection.mock_id}/faults")
    applied = arm(connection, fault)
    return {"applied": fault.spec, "connection": connection_id, "connections": int(applied)}


@bp.get("/websocket/handshakes")
def list_handshakes():
    entries = server().handshakes.entries(mock_id=request.args.get("mockId") or None,
                                          path=request.args.get("path") or None,
                                          limit=query_int("limit"))
    return {"handshakes": entries, "count": len(entries)}


@bp.delete("/websocket/handshakes")
def clear_handshakes():
    server().handshakes.clear()
    return no_content()
