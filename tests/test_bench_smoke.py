"""The benchmark must not rot: ``python -m bench --quick`` runs every case against bare
gevent-websocket and mockd and reports every column. Nothing here asserts a speed."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

COLUMNS = ("case", "server", "figure", "x bare", "p50 ms", "p99 ms", "conn min/med/max", "srv CPU", "us/msg",
           "RSS MB", "err")
CASES = ("echo 32 B, 1 conn", "echo 32 B, 4 conn", "json reply, 20 matchers", "exact, 1 matcher",
         "exact, 200th of 200", "feed 10 conn", "churn at 100/s", "1 MiB binary echo", "50 idle conn")


@pytest.mark.timeout(180)
def test_quick_benchmark_runs_and_reports_every_column(tmp_path):
    out = tmp_path / "bench.json"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "bench", "--quick", "--no-node", "--no-websockets",
                           "--no-plot", "--json", str(out)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=170)
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
            assert all(n is not None for n in row["conn"]), row
            assert row["cpu"] is not None and row["rss_mb"] > 0, row
    names = [t["target"] for t in doc["targets"]]
    assert any("journal on / journal off" in n for n in names)
    assert any("KiB per idle connection" in n for n in names)
    assert all(t["achieved"] is not None for t in doc["targets"]), doc["targets"]
    memory = doc["memory"]["mockd"]
    assert memory["idle"]["pings_answered"] > 0  # the heartbeat ran while the connections idled
    assert memory["big"]["errors"] == 0 and memory["big"]["seconds_median"] > 0
