"""``GET /cluster``: the nodes serving these mocks (one, without ``--cluster``)."""
from flask import Blueprint, current_app, request

from .common import ApiError, server

bp = Blueprint("cluster", __name__)


@bp.get("/cluster")
def list_nodes():
    backend = server().backend
    return {"nodes": backend.nodes(), "self": backend.node_id}


#: Routes that change what the nodes share (the mock table, a mock's faults): refused while the
#: cluster's Redis cannot be reached, so that no node drifts from the others.
SHARED_WRITES = ("mocks.", "config.import_config", "faults.add_mock_fault", "faults.clear_mock_faults")


def refuse_shared_writes_while_apart():
    """``before_request``: 503 ``cluster_unavailable`` for a change of the shared state while
    the backend cannot reach Redis (a GET of them still answers, partial)."""
    backend = server().backend
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    endpoint = request.endpoint or ""
    if any(endpoint == name or (name.endswith(".") and endpoint.startswith(name)) for name in SHARED_WRITES) \
            and not backend.check():
        raise ApiError(503, "cluster_unavailable",
                       f"the cluster's Redis ({backend.url}) cannot be reached: this node serves the mocks it has, "
                       "and changes to them wait until Redis is back")


def mark_partial(response):
    """``after_request``: while Redis cannot be reached, what this node answers is its own
    part only: ``X-Mockd-Partial: true``, and ``"partial": true`` in a JSON object body."""
    backend = server().backend
    if backend.available:
        return response
    response.headers["X-Mockd-Partial"] = "true"
    body = response.get_json(silent=True) if response.is_json else None
    if isinstance(body, dict):
        body["partial"] = True
        response.set_data(current_app.json.dumps(body))
    return response
