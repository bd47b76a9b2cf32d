"""``GET /cluster``: the nodes serving these mocks (one, without ``--cluster``)."""
from flask import Blueprint

from .common import server

bp = Blueprint("cluster", __name__)


@bp.get("/cluster")
def list_nodes():
    backend = server().backend
    return {"nodes": backend.nodes(), "self": backend.node_id}
