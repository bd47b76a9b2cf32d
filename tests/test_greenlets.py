"""Every greenlet mockd starts is watched: a failure is logged on ``mockd.greenlets`` (gevent
alone only prints it to stderr, which a JSON log or a systemd journal never shows)."""
import logging
import pathlib
import re

import gevent

from mockd.greenlets import spawn

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_a_failing_greenlet_is_logged_and_a_killed_one_is_not(caplog):
    caplog.set_level(logging.ERROR, logger="mockd.greenlets")

    def broken():
        raise ValueError("boom in a greenlet")

    failed = spawn(broken)
    failed.join()
    gevent.sleep(0)  # links run in the hub, just after the greenlet ends
    records = [r for r in caplog.records if r.name == "mockd.greenlets"]
    assert len(records) == 1 and "boom in a greenlet" in records[0].getMessage()
    assert records[0].exc_info and records[0].exc_info[0] is ValueError  # the traceback is in the log
    caplog.clear()
    sleeper = spawn(gevent.sleep, 10)
    gevent.sleep(0)
    sleeper.kill()
    gevent.sleep(0)
    assert not [r for r in caplog.records if r.name == "mockd.greenlets"]


def test_mockd_starts_greenlets_only_through_the_watched_spawn():
    bare = [f"{path.relative_to(ROOT)}:{number}" for path in sorted((ROOT / "mockd").rglob("*.py"))
            if path.name != "greenlets.py"
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if re.search(r"\bgevent\.(spawn|spawn_later|Greenlet\()", line)]
    assert not bare, f"use mockd.greenlets.spawn: {bare}"
