"""What the cluster tests share (tests/test_cluster*.py): a config file per node and the
``nodes`` fixture of tests/conftest.py, which starts ``mockd serve --cluster`` processes."""
import json

import websocket

from _helpers import wait_until

CONFIG = {"version": "1.0", "mocks": [{"id": "echo", "websocket": {"path": "/echo", "echoMode": True}}]}


def config_file(tmp_path, config=CONFIG, name="mockd.json"):
    path = tmp_path / name
    path.write_text(json.dumps(config))
    return str(path)


def drain(ws, quiet=0.5):
    """What ``ws`` receives until it has been quiet for ``quiet`` seconds."""
    ws.settimeout(quiet)
    received = []
    try:
        while True:
            received.append(ws.recv())
    except websocket.WebSocketTimeoutException:
        return received


def joined(node, count=2):
    """Wait until ``node``'s ``GET /cluster`` lists ``count`` nodes (every node has joined)."""
    assert wait_until(lambda: len(node.admin.get("/cluster").json["nodes"]) == count, 5)
