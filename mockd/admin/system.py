"""``/health``, ``/status`` and ``/plugins``: is mockd up, what does it serve, what is loaded."""
import time

from flask import Blueprint

from ..plugins import list_plugins
from ..version import __version__
from .common import query_bool, rfc3339, server

bp = Blueprint("system", __name__)


def _uptime():
    started = server().started_at
    return int(time.time() - started) if started else 0


@bp.get("/health")
def health():
    """Always open, also when a token is set: load balancers and ``wait_for_port`` loops use it."""
    return {"status": "ok", "uptime": _uptime(), "timestamp": rfc3339()}


@bp.get("/status")
def status():
    srv = server()
    mocks = list(srv.mocks.values())
    return {
        "status": "running",
        "version": __version__,
        "uptime": _uptime(),
        "startedAt": rfc3339(srv.started_at) if srv.started_at else None,
        "mocks": {"total": len(mocks), "enabled": sum(1 for m in mocks if m.enabled)},
        "journal": {"size": srv.journal.entries.maxlen, "entries": len(srv.journal.entries),
                    "bodyLimit": srv.journal.body_limit},
        "protocols": {"websocket": {"enabled": True, "port": srv.ws_port,
                                    "connections": len(srv.connections), "status": "running"}},
    }


@bp.get("/plugins")
def plugins():
    """What ``mockd plugins`` prints, in an object; ``?all=true`` adds the built-ins (``--all``)."""
    return {"plugins": list_plugins(server().plugin_manager, include_builtin=bool(query_bool("all")))}
