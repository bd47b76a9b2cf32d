"""What the cluster tests share (tests/test_cluster*.py): a config file per node and the
``nodes`` fixture of tests/conftest.py, which starts ``mockd serve --cluster`` processes."""
import json

import websocket

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
