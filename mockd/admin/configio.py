"""``/config``: export every mock as a config collection, or import one.

An export is a valid config file (``mockd serve -c export.json`` serves it). An import is
validated whole, exactly as a config file is, before anything changes; mocks whose id exists
are replaced, and ``"replace": true`` removes every other mock first.
"""
from flask import Blueprint

from ..config import SUPPORTED_VERSION, build_config
from ..errors import ConfigError
from . import batch
from .common import field, invalid, json_object, server
from .mocks import mock_json

bp = Blueprint("config", __name__)


@bp.get("/config")
def export_config():
    return {"version": SUPPORTED_VERSION, "mocks": [mock_json(m) for m in server().mocks.values()]}


@bp.post("/config")
def import_config():
    body = json_object()
    if body.get("config") is None:
        raise invalid('config is required: {"config": {"version": "1.0", "mocks": [...]}, "replace": false}')
    replace = field(body, "replace", (bool,), "true or false", default=False)
    try:
        loaded = build_config(body["config"], server().registry)
    except ConfigError as exc:
        raise exc.located(where_prefix="config") from None
    batch.check(server(), loaded.mocks, upsert=True, clear=replace)
    batch.apply(server(), loaded.mocks, clear=replace)
    return {"message": f"Imported {len(loaded.mocks)} mocks", "imported": len(loaded.mocks),
            "replaced": replace, "total": len(server().mocks), "ids": [m.id for m in loaded.mocks]}
