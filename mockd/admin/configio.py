"""``/config``: export every mock as a config collection, or import one.

An export is a valid config file (``mockd serve -c export.json`` serves it). An import is
validated whole, exactly as a config file is, before anything changes; mocks whose id exists
are replaced, and ``"replace": true`` removes every other mock first.

An import never brings its own ``plugins:`` block: plugin settings name files on the server
(``plugins.protobuf.descriptorSet``), and whoever can reach the API must not choose which
files the server reads. They come from the server's config file and command line only, and
the imported mocks are validated with those.
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
    srv = server()
    try:
        loaded = build_config(_with_server_plugins(body["config"], srv.config.plugins), srv.registry,
                              srv.config.source)
    except ConfigError as exc:
        raise exc.located(where_prefix="config") from None
    batch.check(srv, loaded.mocks, upsert=True, clear=replace)
    batch.apply(srv, loaded.mocks, clear=replace)
    return {"message": f"Imported {len(loaded.mocks)} mocks", "imported": len(loaded.mocks),
            "replaced": replace, "total": len(srv.mocks), "ids": [m.id for m in loaded.mocks]}


def _with_server_plugins(document, plugins):
    """``document`` with the server's ``plugins:`` block. One of its own may only repeat it
    (an export of a served file, edited, is imported back as it is)."""
    if not isinstance(document, dict):
        return document  # build_config says what it must be
    if document.get("plugins") not in (None, {}, plugins):
        raise ConfigError("plugins: settings come from the server's config file and command line, not from "
                          "the admin API (they name files on the server); remove the plugins block from the "
                          "body, and the mocks are validated with the server's own", where="plugins")
    return dict(document, plugins=plugins)
