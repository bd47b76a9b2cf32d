"""The benchmark must not rot: ``python -m bench --quick`` runs every case against bare
gevent-websocket and mockd and reports every column, and the load generator's one frame parser
takes frames apart wherever the reads split them. Nothing here asserts a speed."""
import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.frames import OP_BINARY, OP_PING, OP_PONG, OP_TEXT, Endpoint, client_frame, server_frame
from bench.protocols import BigEchoConnection, FeedConnection, Run

ROOT = Path(__file__).resolve().parent.parent

COLUMNS = ("case", "server", "figure", "x bare", "p50 ms", "p99 ms", "conn min/med/max", "srv CPU", "us/msg",
           "RSS MB", "err")
CASES = ("echo 32 B, 1 conn", "echo 32 B, 4 conn", "json reply, 20 matchers", "exact, 1 matcher",
         "exact, 200th of 200", "proxied echo to gevent-upstream, 4 conn",
         "direct echo of gevent-upstream, 4 conn", "feed 10 conn", "GraphQL subscriptions, 10 subscribers",
         "MQTT subscriptions, 10 subscribers", "churn at 100/s",
         "1 MiB binary echo", "50 idle conn")


# A benchmark run in subprocesses, well over a minute on two cores.
@pytest.mark.slow
@pytest.mark.timeout(180)
def test_quick_benchmark_runs_and_reports_every_column(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, "-m", "bench", "--quick", "--no-node", "--no-websockets",
                           "--no-plot", "--json", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=170)
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = proc.stdout
    header = text.splitlines()[0]
    for column in COLUMNS:
        assert column in header, column
    for case in CASES:
        assert case in text, case
    assert "targets (ratios within this run" in text

    doc = json.loads(out.read_text())
    rows = doc["rows"]
    servers = {row["server"] for row in rows}
    assert {"gevent-bare", "mockd", "mockd-nojournal"} <= servers
    for row in rows:
        assert row["figure"] is not None and row["figure"] > 0, row
        assert row["x_bare"] is not None, row
        assert row["errors"] == 0, row
    for row in rows:
        if row["unit"] == "rt/s":
            assert row["p50_ms"] is not None and row["p99_ms"] is not None, row
            assert all(count is not None for count in row["conn"]), row
            assert row["cpu"] is not None and row["rss_mb"] > 0, row
    names = [target["target"] for target in doc["targets"]]
    assert any("journal on / journal off" in name for name in names)
    assert any("KiB per idle connection" in name for name in names)
    assert any("churn p99 after" in name for name in names)
    proxied = next(target for target in doc["targets"] if target["target"].startswith("proxied echo / direct echo"))
    assert "p99" in proxied["detail"], proxied   # both tails, proxied and direct
    assert all(target["achieved"] is not None for target in doc["targets"]), doc["targets"]
    memory = doc["memory"]["mockd"]
    assert memory["idle"]["pings_answered"] > 0  # the heartbeat ran while the connections idled
    assert memory["big"]["errors"] == 0 and memory["big"]["seconds_median"] > 0


class _Transport:
    """Takes what a connection writes (its pong)."""

    def __init__(self):
        self.written = []

    def write(self, data):
        self.written.append(data)

    def close(self):
        pass


def _server_stream():
    """Three data frames, one for each length encoding (7-bit, 16-bit, 64-bit), a ping between
    them: the stream and the offsets where its frames start."""
    frames = [server_frame(OP_TEXT, b"a" * 5), server_frame(OP_BINARY, b"b" * 300), server_frame(OP_PING, b"hi"),
              server_frame(OP_BINARY, bytes(range(256)) * 260)]
    starts = [sum(len(frame) for frame in frames[:index]) for index in range(len(frames))]
    return b"".join(frames), starts


@pytest.mark.parametrize("connection_class", [FeedConnection, BigEchoConnection])
def test_load_generator_takes_frames_apart_wherever_the_reads_split_them(connection_class):
    stream, starts = _server_stream()
    cuts = sorted({start + offset for start in starts for offset in range(11) if 0 < start + offset < len(stream)})
    loop = asyncio.new_event_loop()
    try:
        for cut in cuts:
            run = Run(loop)
            run.measuring = True
            conn = connection_class(run, Endpoint("ws://127.0.0.1:1/"))
            conn.transport, conn.open = _Transport(), True
            if connection_class is BigEchoConnection:
                done = conn.send_big()
            conn.data_received(stream[:cut])
            conn.data_received(stream[cut:])
            assert run.pings == 1 and conn.transport.written[-1] == client_frame(OP_PONG, b"hi"), cut
            if connection_class is FeedConnection:
                assert conn.count == 3 and conn.pending == b"", cut
            else:
                assert done.done() and conn.received == 5 + 300 + 256 * 260 and conn.remaining is None, cut
                assert conn.first == b"a" * 5 + b"b" * 59, cut
    finally:
        loop.close()
