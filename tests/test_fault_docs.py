"""README.rst's "Faults and reconnection testing" section, as written: the overview config, and
the three recipes (deploy restart, dead connection detection, back-off) with real reconnecting
clients nobody here wrote (the ``websockets`` library's ``connect()`` iterator, its keepalive),
each run in a subprocess of its own (asyncio, no gevent), against a real ``mockd serve``."""
import datetime
import json
import subprocess
import sys
import time

import pytest
import yaml

from _cli import env
from _helpers import wait_until
from mockd.testing import check_config, recv_close
from test_readme_examples import Served, answer, block, run_block

SECTION = "Faults and reconnection testing"
FAST_BACKOFF = {"WEBSOCKETS_BACKOFF_INITIAL_DELAY": "0.1", "WEBSOCKETS_BACKOFF_MIN_DELAY": "0.5",
                "WEBSOCKETS_BACKOFF_FACTOR": "2"}

# A client that reconnects as websockets' documentation shows: every connection's messages are
# read until it closes (the code printed), then the iterator connects again (with back-off
# after a refusal). Stops after the second connection's first message.
RECONNECTING = """
import asyncio, json, sys, time
import websockets

async def main():
    opened = 0
    async for ws in websockets.connect(sys.argv[1]):
        opened += 1
        print(json.dumps({"open": opened, "t": time.monotonic()}), flush=True)
        try:
            async for message in ws:
                print(json.dumps({"message": message}), flush=True)
                if opened == 2:
                    return
        except websockets.ConnectionClosed as closed:
            pass
        print(json.dumps({"closed": ws.close_code, "reason": ws.close_reason}), flush=True)

asyncio.run(main())
"""

# A client with a 1 s heartbeat (websockets' keepalive pings) that waits for data forever.
HEARTBEAT = """
import asyncio, json, sys, time
import websockets

async def main():
    async with websockets.connect(sys.argv[1], ping_interval=1, ping_timeout=1) as ws:
        print(json.dumps({"open": 1}), flush=True)
        try:
            await ws.recv()
        except websockets.ConnectionClosed:
            print(json.dumps({"closed": ws.close_code, "t": time.monotonic()}), flush=True)

asyncio.run(main())
"""


def _config(tmp_path, text, name="mockd.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _client(script, url, **environ):
    return subprocess.Popen([sys.executable, "-c", script, url], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env(**environ))


def _event(proc, timeout=10):
    """The client's next JSON line."""
    import gevent
    with gevent.Timeout(timeout, AssertionError("the client printed nothing")):
        line = proc.stdout.readline()
    assert line, proc.stderr.read()
    return json.loads(line)


def _gaps(handshakes):
    times = [datetime.datetime.fromisoformat(entry["at"].replace("Z", "+00:00")) for entry in handshakes]
    return [(b - a).total_seconds() for a, b in zip(times, times[1:])]


@pytest.mark.slow
def test_readme_overview_config(make_mockd_server, tmp_path):
    """The first config: latency on every frame, a close with 4000 after the 2nd message."""
    text = block(f"{SECTION} #1", "yaml")
    check_config(text)
    server = make_mockd_server(text, seed=3)
    ws = server.connect("/feed")
    started = time.monotonic()
    ws.send("one")
    assert ws.recv() == "one"
    assert 0.18 <= time.monotonic() - started < 1.5  # 200 ms + up to 50 ms
    ws.send("two")
    assert ws.recv() == "two"
    assert recv_close(ws) == (4000, "deploy")


@pytest.mark.slow
def test_readme_deploy_restart(tmp_path):
    text = block(f"{SECTION} #2", "yaml")
    assert yaml.safe_load(text)["mocks"][0]["websocket"]["faults"][0]["code"] == 1012
    server = Served(tmp_path, "-c", str(_config(tmp_path, text)))
    client = None
    try:
        def between(index):
            nonlocal client
            if index == 0:  # the client is in before the refusal is posted
                client = _client(RECONNECTING, server.url("/feed"), **FAST_BACKOFF)
                assert _event(client)["open"] == 1
            if index == 1:  # 2 s after the upgrade: 1012, one refused attempt, then back in
                events = []
                while not events or events[-1].get("open") != 2:
                    events.append(_event(client))
                assert {"closed": 1012, "reason": "deploy"} in events
                assert _event(client) == {"message": "tick"}

        results = run_block(tmp_path, block(f"{SECTION} #3", "sh"), server, between=between)
        assert answer(results, 0)["applied"]["type"] == "refuse"
        handshakes = answer(results, 1)["handshakes"]
        assert [(entry["status"], entry["refusedBy"]) for entry in handshakes] == [
            (101, None), (503, "fault"), (101, None)]
        assert client.wait(timeout=10) == 0
    finally:
        if client is not None and client.poll() is None:
            client.kill()
        server.stop()


@pytest.mark.slow
def test_readme_dead_connection_detection(tmp_path):
    config = _config(tmp_path, "version: '1.0'\nmocks:\n  - {id: feed, websocket: {path: /feed, echoMode: true}}\n")
    server = Served(tmp_path, "-c", str(config))
    client = _client(HEARTBEAT, server.url("/feed"))
    try:
        assert _event(client) == {"open": 1}
        silenced_at = None

        def between(index):
            nonlocal silenced_at
            if index == 1:
                silenced_at = time.monotonic()
            if index == 2:  # the heartbeat gets no pong: the client gives up, mockd notices
                closed = _event(client)
                assert closed["closed"] == 1006  # keepalive ping timeout: no close frame came back
                assert closed["t"] - silenced_at < 4
                assert wait_until(
                    lambda: not server.admin.get("/mocks/feed/websocket/connections").json["connections"], timeout=3)

        results = run_block(tmp_path, block(f"{SECTION} #4", "sh"), server, between=between)
        assert answer(results, 1)["applied"] == {"type": "silence"} and answer(results, 1)["connections"] == 1
        assert answer(results, 2)["connections"] == []
        events = server.admin.get("/websocket/messages?direction=event").json["messages"]
        assert [entry["body"] for entry in events] == ['fault {"type":"silence"}']
    finally:
        client.kill()
        server.stop()


@pytest.mark.slow
def test_readme_backoff(tmp_path):
    text = block(f"{SECTION} #5", "yaml")
    server = Served(tmp_path, "-c", str(_config(tmp_path, text)))
    try:
        script = server.here(block(f"{SECTION} #6", "python"))
        assert "127.0.0.1" in script
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30,
                              env=env(**FAST_BACKOFF))
        assert done.returncode == 0 and done.stdout == "hello\n", done.stderr
        handshakes = server.admin.get("/websocket/handshakes?mockId=feed").json["handshakes"]
        assert [entry["status"] for entry in handshakes] == [503, 503, 503, 101]
        first, second, third = _gaps(handshakes)
        assert first < 0.4 and 0.4 <= second < 1.5 and 0.8 <= third < 3  # 0-0.1 s, then 0.5 s, 1 s
        assert 1.5 <= third / second <= 3  # each wait twice the one before
        [(_, out, _)] = run_block(tmp_path, block(f"{SECTION} #7", "sh"), server)
        printed = json.loads(out)
        assert len(printed) == 3 and printed[1] >= 0.4 and printed[2] >= 2 * printed[1] - 0.2
    finally:
        server.stop()
