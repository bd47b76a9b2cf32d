"""Churn in a long-used server (issue 18): handshake p99 after many handshakes / a fresh one's.

Each closed connection used to leave reference cycles, so a server that had served many
clients paused for the cyclic collector and its churn p99 grew several times over. This case
measures churn on a fresh ``mockd serve``, runs ``age`` handshakes through it as fast as it
takes them, and measures churn again; the ratio of the two p99s is the figure (target <= 1.5).
"""
import time

from . import loadgen

AGE = 100_000          # handshakes between the two measurements (full run)
AGE_QUICK = 300
AGE_RATE = 3000.0      # asked for while ageing: as fast as the server takes them
P99_TARGET = 1.5


def run_aged_churn(plan, make_server, path="/echo", log=print):
    """``{"fresh": churn result, "aged": churn result, "age": handshakes run in between}``."""
    age = AGE_QUICK if plan.quick else AGE
    server = make_server().start()
    try:
        log(f"mockd (fresh): handshake churn at {plan.churn_rate:g}/s")
        fresh = loadgen.run_sync(loadgen.churn(server.url(path), plan.churn_rate, plan.churn_duration, pid=server.pid))
        done, started = 0, time.monotonic()
        while done < age:
            seconds = min(10.0, max(0.2, (age - done) / AGE_RATE))
            chunk = loadgen.run_sync(loadgen.churn(server.url(path), AGE_RATE, seconds, max_inflight=200))
            done += chunk["handshakes"]
            log(f"mockd: aged by {done:,} handshakes in {time.monotonic() - started:.0f} s")
        time.sleep(1.0)  # let the last closes finish
        log(f"mockd (after {done:,} handshakes): handshake churn at {plan.churn_rate:g}/s")
        aged = loadgen.run_sync(loadgen.churn(server.url(path), plan.churn_rate, plan.churn_duration, pid=server.pid))
    finally:
        server.stop()
    return {"fresh": fresh, "aged": aged, "age": done}


def report(aged_churn, plan, rows, target, bare=None):
    """Add the table rows and the target of :func:`run_aged_churn`'s result (``bare``: the bare
    gevent-websocket churn of the same run, for the rows' ratio column)."""
    if not aged_churn:
        return
    for label, r in (("fresh", aged_churn["fresh"]), (f"after {aged_churn['age']:,} handshakes", aged_churn["aged"])):
        rows.append({"case": f"churn at {plan.churn_rate:g}/s, {label}", "server": "mockd",
                     "figure": r["handshakes_per_s"], "unit": "hs/s",
                     "x_bare": r["handshakes_per_s"] / bare["handshakes_per_s"] if bare else None, "p50_ms": r["p50_ms"],
                     "p99_ms": r["p99_ms"], "conn": None, "cpu": r["server_cpu_pct"],
                     "rss_mb": r["server_peak_rss_mb"], "errors": r["failures"] + r["skipped"],
                     "note": "p50/p99 = connect + handshake"})
    fresh, aged = aged_churn["fresh"]["p99_ms"], aged_churn["aged"]["p99_ms"]
    target(f"churn p99 after {aged_churn['age']:,} handshakes / fresh server's",
           aged / fresh if fresh else None, "<=", P99_TARGET, f"{aged:.2f} ms vs {fresh:.2f} ms")
