"""What a node says about itself (``GET /cluster``), the same for every backend."""
import datetime

from ..listen import address

__all__ = ["node_entry", "utc_text"]


def utc_text(timestamp):
    return (datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc)
            .isoformat(timespec="milliseconds").replace("+00:00", "Z"))


def node_entry(server, node_id, heartbeat=None):
    """``{"id", "pid", "address", "admin", "startedAt", "lastHeartbeat", "connections"}`` of this node now."""
    import os
    import time
    return {"id": node_id,
            "pid": os.getpid(),
            "address": address(server.ws_host, server.ws_port) if server.ws_port else None,
            "admin": address(server.admin_host_bound, server.admin_port_bound) if server.admin_port_bound else None,
            "startedAt": utc_text(server.started_at) if server.started_at else None,
            "lastHeartbeat": utc_text(heartbeat if heartbeat is not None else time.time()),
            "connections": len(server.connections)}
