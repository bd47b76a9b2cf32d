"""``/mocks``: list, create, replace, patch, toggle and delete mocks while they serve.

A mock is rebuilt from its JSON with the same validation as a config file and then swapped in
whole, so a connection always runs one consistent definition: changing, disabling or deleting
a mock closes its live clients with 1012 ``mock updated`` and new clients get the new one.
Every mock carries an ETag; ``If-Match`` on a change turns a lost update between two
concurrent editors into 412 ``precondition_failed``.
"""
import hashlib
import json

from flask import Blueprint, request

from ..yamlload import dump_yaml
from . import batch
from ..errors import MockConflict
from .yamlbody import built, check_id, conflict_error, mock_body
from .common import ApiError, field, invalid, json_body, json_object, no_content, not_found, query_bool, \
    query_choice, query_int, rfc3339, server

bp = Blueprint("mocks", __name__)

API_ID_PREFIX = "websocket_"


# ---------------------------------------------------------------- representation


def mock_json(mock):
    """The stored mock as the API returns it: id and type first, ``enabled`` always present."""
    return mock.to_json()


def etag(mock):
    canonical = json.dumps(mock_json(mock), sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:24]


def _answer(mock, action, message, status=200):
    body = {"id": mock.id, "action": action, "message": message, "mock": mock_json(mock)}
    return body, status, {"ETag": f'"{etag(mock)}"'}


def _get(mock_id):
    mock = server().mocks.get(mock_id)
    if mock is None:
        raise not_found("mock not found")
    return mock


def _check_if_match(mock):
    if request.if_match and not request.if_match.contains(etag(mock)):
        raise ApiError(412, "precondition_failed",
                       f"mock {mock.id!r} was changed since its ETag was read; GET it again and retry")


def _build(spec):
    """Validate ``spec`` as a config file's mock: a missing ``type`` is inferred the same way
    (``websocket`` when there is a ``websocket`` block). Upstream answers 400 ``missing_type``;
    the README promises the file's rules, and a client that sends the type sees no difference."""
    return batch.build(server(), spec, None, API_ID_PREFIX)


def _stamped(spec, created=None):
    """``spec`` with server-owned timestamps: ``createdAt`` kept from the old version."""
    now = rfc3339()
    return dict(spec, createdAt=created or now, updatedAt=now)


def merge_patch(target, patch):
    """RFC 7396 JSON merge patch: objects merge recursively, ``null`` deletes, the rest replaces."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


# ---------------------------------------------------------------- routes


@bp.get("/mocks")
def list_mocks():
    mocks = list(server().mocks.values())
    mock_type = request.args.get("type")
    enabled = query_bool("enabled")
    search = (request.args.get("search") or "").lower()
    parent = request.args.get("parentId") or request.args.get("folderId")
    workspace = request.args.get("workspaceId")
    offset = query_int("offset") or 0
    limit = query_int("limit", minimum=1)
    if mock_type:
        mocks = [m for m in mocks if m.type == mock_type]
    if enabled is not None:
        mocks = [m for m in mocks if m.enabled == enabled]
    if search:
        mocks = [m for m in mocks if search in " ".join(
            (m.id, m.name, str(m.spec.get("description") or ""), m.endpoint.path)).lower()]
    if parent:
        mocks = [m for m in mocks if m.spec.get("parentId") == parent]
    if workspace:
        mocks = [m for m in mocks if m.spec.get("workspaceId") == workspace]
    page = mocks[offset:offset + limit if limit is not None else None]
    return {"mocks": [mock_json(m) for m in page], "total": len(mocks), "count": len(page)}


@bp.post("/mocks")
def create_mock():
    spec, text = mock_body()
    mock = built(_build, _stamped(spec), text)
    try:
        server().mocks.add(mock)
    except MockConflict as exc:
        raise conflict_error(exc, text) from None
    return _answer(mock, "created", f"Created {mock.type} mock", 201)


@bp.get("/mocks/<mock_id>")
def get_mock(mock_id):
    mock = _get(mock_id)
    if query_choice("format", ("json", "yaml")) == "yaml":  # for an editor: the mock as a file has it
        text = dump_yaml(_as_written(mock))
        return text, 200, {"ETag": f'"{etag(mock)}"', "Content-Type": "application/yaml; charset=utf-8"}
    return mock_json(mock), 200, {"ETag": f'"{etag(mock)}"'}


def _as_written(mock):
    """The mock as one would write it in a file: without the server's timestamps."""
    return {key: value for key, value in mock_json(mock).items() if key not in ("createdAt", "updatedAt")}


@bp.put("/mocks/<mock_id>")
def replace_mock(mock_id):
    old = _get(mock_id)
    spec, text = mock_body()
    _check_if_match(old)
    check_id(spec, text, mock_id)
    # The URL names the mock: an id in the body cannot move it.
    mock = built(_build, _stamped(dict(spec, id=mock_id), old.spec.get("createdAt")), text)
    try:
        server().mocks.replace(mock_id, mock)
    except MockConflict as exc:
        raise conflict_error(exc, text) from None
    return _answer(mock, "updated", f"Updated {mock.type} mock")


@bp.patch("/mocks/<mock_id>")
def patch_mock(mock_id):
    old = _get(mock_id)
    patch = json_object()
    _check_if_match(old)
    merged = merge_patch(dict(old.spec, enabled=old.enabled), patch)
    mock = _build(_stamped(dict(merged, id=mock_id), old.spec.get("createdAt")))
    server().mocks.replace(mock_id, mock)
    return _answer(mock, "updated", f"Updated {mock.type} mock")


@bp.delete("/mocks/<mock_id>")
def delete_mock(mock_id):
    _check_if_match(_get(mock_id))
    server().mocks.remove(mock_id)
    return no_content()


@bp.delete("/mocks")
def delete_mocks():
    server().mocks.clear(request.args.get("type") or None)
    return no_content()


@bp.post("/mocks/<mock_id>/toggle")
def toggle_mock(mock_id):
    """Flip ``enabled``; a body ``{"enabled": bool}`` sets it instead, so scripts can be idempotent."""
    old = _get(mock_id)
    body = json_object(default={})
    _check_if_match(old)
    enabled = field(body, "enabled", (bool,), "true or false", default=not old.enabled)
    mock = old
    if enabled != old.enabled:  # a no-op must not close anybody's connection
        mock = _build(_stamped(dict(old.spec, enabled=enabled), old.spec.get("createdAt")))
        server().mocks.replace(mock_id, mock)
    return _answer(mock, "toggled", "Mock enabled" if mock.enabled else "Mock disabled")


@bp.post("/mocks/bulk")
def bulk_create():
    """Create every mock of a JSON array, or none of them."""
    specs = json_body()
    if not isinstance(specs, list):
        raise invalid("request body must be a JSON array of mocks")
    mocks = batch.build_all(server(), [_stamped(s) if isinstance(s, dict) else s for s in specs],
                            lambda i: f"[{i}]", API_ID_PREFIX)
    batch.check(server(), mocks)
    batch.apply(server(), mocks)
    return {"created": len(mocks), "mocks": [mock_json(m) for m in mocks]}, 201
