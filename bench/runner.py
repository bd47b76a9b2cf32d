"""``python -m bench`` (or ``bench/run``): every case against every server, one table of ratios.

Servers run as subprocesses on free 127.0.0.1 ports, started one after another: bare
gevent-websocket (the floor), ``websockets``, Node ``ws`` (when ``bench/node`` has it
installed) and mockd itself through ``mockd serve`` (twice: journal on, and
``--journal-size 0``). Throughput cases run in interleaved rounds (every case once per round)
so that a burst of load from something else on the machine hits every server alike; the
figure of a case is its median round. Memory cases (16 MiB echo, idle connections) get fresh
server processes, so that what earlier cases left in the heap does not blur them.

Every ratio is against the bare gevent-websocket figure of the same run: absolute numbers on a
shared two-core box move by 20-30% between runs, ratios much less.
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from . import aging, cases, loadgen, procstat

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WS_BENCH = ROOT.parent / "shared" / "tools" / "ws_bench.py"
NODE_WS = HERE / "node" / "node_modules" / "ws"


# ------------------------------------------------------------------------------ servers

# CPU placement: with two cores, a ping-pong client and server that the scheduler puts on one
# core run at half speed (each waits for the other), on two cores at full speed, and Linux
# moves them between the two from one run to the next. Every server is pinned to SERVER_CPU
# and the load generator (ws_bench.py too) to CLIENT_CPU, so that every run is the second case.
SERVER_CPU, CLIENT_CPU = 1, 0
PIN = {"on": False}


def pin_self():
    """Choose the two CPUs (the first two this process may use) and pin the load generator;
    False when there are fewer than two or affinity cannot be set here."""
    global SERVER_CPU, CLIENT_CPU
    if not hasattr(os, "sched_setaffinity"):
        return False
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        return False
    CLIENT_CPU, SERVER_CPU = allowed[0], allowed[1]
    try:
        os.sched_setaffinity(0, {CLIENT_CPU})
    except OSError:
        return False
    PIN["on"] = True
    return True


class Server:
    """One server subprocess; ``start()`` waits for the line that tells its port."""

    PORT_LINE = re.compile(rb"LISTENING (\d+)|ws://(?:\[[^\]\s]+\]|[^\s:/\[]+):(\d+)")  # [::1] too

    def __init__(self, name, argv, note=""):
        self.name, self.argv, self.note = name, argv, note
        self.proc = None
        self.port = None
        self._err = None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def url(self, path="/"):
        return f"ws://127.0.0.1:{self.port}{path}"

    def start(self, timeout=30.0):
        self._err = tempfile.TemporaryFile()
        argv = self.argv
        if PIN["on"] and shutil.which("taskset"):  # from exec on, so that every thread inherits it
            argv = ["taskset", "-c", str(SERVER_CPU)] + argv
        self.proc = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self._err)
        if PIN["on"] and argv is self.argv:
            os.sched_setaffinity(self.proc.pid, {SERVER_CPU})
        found = []

        def read():
            for line in self.proc.stdout:
                if not found:
                    match = self.PORT_LINE.search(line)
                    if match:
                        found.append(int(match.group(1) or match.group(2)))
            # keep draining so that a chatty server never blocks on a full pipe

        threading.Thread(target=read, daemon=True).start()
        deadline = time.monotonic() + timeout
        while not found:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                err = self.stderr_tail()
                self.stop()
                raise RuntimeError(f"server {self.name} did not start: {err}")
            time.sleep(0.02)
        self.port = found[0]
        return self

    def stderr_tail(self, size=600):
        if self._err is None:
            return ""
        self._err.seek(0)
        return self._err.read().decode("utf-8", "replace")[-size:]

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def gevent_server(period):
    return Server("gevent-bare", [sys.executable, str(HERE / "servers" / "gevent_bare.py"),
                                  "--feed-period", str(period)])


def websockets_server():
    return Server("websockets", [sys.executable, str(HERE / "servers" / "websockets_echo.py")])


def node_server():
    return Server("node-ws", ["node", str(HERE / "servers" / "node_ws_echo.js")])


def mockd_server(config_path, journal_size=10000, name="mockd"):
    return Server(name, [sys.executable, "-m", "mockd", "serve", "-c", str(config_path), "--host", "127.0.0.1",
                         "-p", "0", "--no-admin", "--journal-size", str(journal_size), "--log-level", "warning",
                         "--no-plugin-autoload"])


def have_module(name):
    import importlib.util
    return importlib.util.find_spec(name) is not None


# ------------------------------------------------------------------------------ plan

class Plan:
    """Durations and sizes: the full run, or ``--quick`` (a smoke run of a few seconds)."""

    def __init__(self, a):
        quick = a.quick
        self.quick = quick
        self.rounds = a.rounds or (1 if quick else 5)
        self.duration = a.duration or (0.2 if quick else 0.8)
        self.warmup = 0.05 if quick else 0.3
        self.conns = [int(x) for x in (a.conns or ("1,4" if quick else "1,50,500")).split(",")]
        self.top = max(self.conns)          # the "500 connections" of the targets
        self.mid = 50 if 50 in self.conns else sorted(self.conns)[len(self.conns) // 2]  # "50 connections"
        self.feed_conns = 10 if quick else 500
        self.feed_duration = 0.3 if quick else 3.0
        self.feed_warmup = 0.1 if quick else 0.6
        self.feed_period = cases.FEED_PERIOD
        self.big_mib = 1.0 if quick else 16.0
        self.big_repeat = 1 if quick else 3
        self.big_repeat_bare = 1
        self.idle = a.idle if a.idle is not None else (50 if quick else 10000)
        self.idle_settle = 1.1 if quick else 2.5   # longer than the 1 s heartbeat interval
        self.churn_rate = 100.0 if quick else 1000.0
        self.churn_duration = 0.3 if quick else 3.0
        self.gencheck = not a.no_gencheck and WS_BENCH.exists()
        self.gencheck_rounds = 1 if quick else 3
        self.fresh_memory_servers = not quick
        self.node = not a.no_node and shutil.which("node") is not None and NODE_WS.exists()
        self.websockets = not a.no_websockets and have_module("websockets")


# ------------------------------------------------------------------------------ running cases

def log(msg):
    print(msg, file=sys.stderr, flush=True)


def median_run(runs, key="msgs_per_s"):
    """The run with the median ``key`` (the middle one of an odd count, else the lower)."""
    ordered = sorted(runs, key=lambda r: r.get(key) or 0)
    chosen = dict(ordered[(len(ordered) - 1) // 2])
    chosen["rounds"] = [round(r.get(key) or 0) for r in runs]
    return chosen


def run_throughput(plan, servers, mockd, mockd_nj):
    """Interleaved rounds of the round-trip cases; returns {case_id: median result}."""
    gevent = servers["gevent-bare"]
    jobs = []
    for conns in plan.conns:
        for name, server in servers.items():
            jobs.append((f"echo/{conns}/{name}", server, "/echo" if server.name.startswith("mockd") else "/",
                         conns, {}))
    if mockd_nj is not None:
        for conns in sorted({plan.mid, plan.top}):
            jobs.append((f"echo/{conns}/mockd-nojournal", mockd_nj, "/echo", conns, {}))
    jobs += [
        (f"json20/{plan.mid}/mockd", mockd, "/json", plan.mid,
         {"payload": cases.JSON_REQUEST, "any_reply": True}),
        (f"exact1/{plan.mid}/mockd", mockd, "/exact1", plan.mid,
         {"payload": cases.EXACT_REQUEST, "reply": cases.EXACT_REPLY}),
        (f"exact200/{plan.mid}/mockd", mockd, "/exact200", plan.mid,
         {"payload": cases.EXACT_REQUEST, "reply": cases.EXACT_REPLY}),
    ]
    del gevent
    raw = {}
    for rnd in range(plan.rounds):
        log(f"round {rnd + 1}/{plan.rounds}: {len(jobs)} round-trip runs of {plan.duration:g} s")
        for case_id, server, path, conns, extra in jobs:
            result = loadgen.run_sync(loadgen.rtt(server.url(path), conns, plan.duration, plan.warmup,
                                                  pid=server.pid, **extra))
            result["server"] = server.name
            raw.setdefault(case_id, []).append(result)
    return {case_id: median_run(runs) for case_id, runs in raw.items()}


def run_gencheck(plan, server, path):
    """Our generator against ws_bench.py on the same server, alternating; the best run of each
    is compared (what each client can drive at most; other load only ever lowers a run)."""
    ours, theirs = [], []
    for _ in range(plan.gencheck_rounds):
        r = loadgen.run_sync(loadgen.rtt(server.url(path), plan.mid, plan.duration, plan.warmup))
        ours.append(r["msgs_per_s"])
        out = subprocess.run([sys.executable, str(WS_BENCH), server.url(path), "-c", str(plan.mid), "-d",
                              str(plan.duration), "-w", str(plan.warmup)], capture_output=True, text=True,
                             timeout=60 + plan.duration * 4)
        match = re.search(r"msgs_per_s=(\d+)", out.stdout)
        if not match:
            raise RuntimeError(f"ws_bench.py failed: {out.stderr[-300:]}")
        theirs.append(float(match.group(1)))
    o, t = max(ours), max(theirs)
    return {"server": server.name, "ours_msgs_per_s": o, "ws_bench_msgs_per_s": t,
            "ratio": o / t if t else None, "ours_rounds": ours, "ws_bench_rounds": theirs}


def run_memory(plan, name, make_server, existing, path_big, path_idle):
    """16 MiB echo and idle connections, each on a fresh server process (full run)."""
    out = {}
    repeat = plan.big_repeat if name.startswith("mockd") else plan.big_repeat_bare

    def on(server_factory):
        return server_factory() if plan.fresh_memory_servers else None

    server = on(make_server)
    try:
        target = server.start() if server else existing
        log(f"{name}: {plan.big_mib:g} MiB binary echo x{repeat}")
        out["big"] = loadgen.run_sync(loadgen.big(target.url(path_big), plan.big_mib, repeat, pid=target.pid,
                                                  timeout=30.0))
    finally:
        if server:
            server.stop()
    server = on(make_server)
    try:
        target = server.start() if server else existing
        log(f"{name}: {plan.idle} idle connections")
        out["idle"] = loadgen.run_sync(loadgen.idle(target.url(path_idle), plan.idle, plan.idle_settle,
                                                    pid=target.pid))
    finally:
        if server:
            server.stop()
    return out


# ------------------------------------------------------------------------------ report

def _num(value, digits=0):
    if value is None:
        return "-"
    if digits == 0:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def _ratio(a, b):
    if a is None or b in (None, 0):
        return None
    return a / b


def build_report(plan, rt, feed, churn, memory, gencheck, aged_churn=None):
    """Rows of the table and the verdict on every target, from the raw results."""
    rows, targets = [], []

    def rt_row(label, case_id, base_id):
        r = rt.get(case_id)
        if r is None:
            return
        base = rt.get(base_id)
        rows.append({"case": label, "server": r["server"], "figure": r["msgs_per_s"], "unit": "rt/s",
                     "x_bare": _ratio(r["msgs_per_s"], base and base["msgs_per_s"]),
                     "p50_ms": r["p50_ms"], "p99_ms": r["p99_ms"],
                     "conn": (r["conn_min"], r["conn_median"], r["conn_max"]),
                     "cpu": r["server_cpu_pct"], "rss_mb": r["server_peak_rss_mb"],
                     "us_per_rt": cpu_us(r), "errors": r["errors"] + r["closed_early"] + r.get("connect_failures", 0),
                     "rounds": r.get("rounds")})

    names = [n for n in ("gevent-bare", "websockets", "node-ws", "mockd", "mockd-nojournal")]
    for conns in plan.conns:
        for name in names:
            rt_row(f"echo 32 B, {conns} conn", f"echo/{conns}/{name}", f"echo/{conns}/gevent-bare")
    mid, top = plan.mid, plan.top
    base_mid = f"echo/{mid}/gevent-bare"
    rt_row(f"json reply, 20 matchers, {mid} conn", f"json20/{mid}/mockd", base_mid)
    rt_row(f"exact, 1 matcher, {mid} conn", f"exact1/{mid}/mockd", base_mid)
    rt_row(f"exact, 200th of 200, {mid} conn", f"exact200/{mid}/mockd", base_mid)

    for name, r in feed.items():
        base = feed.get("gevent-bare")
        rows.append({"case": f"feed {r['conns']} conn every {plan.feed_period * 1000:g} ms", "server": name,
                     "figure": r["msgs_per_s"], "unit": "msg/s",
                     "x_bare": _ratio(r["msgs_per_s"], base and base["msgs_per_s"]),
                     "p50_ms": r["interval_p50_ms"], "p99_ms": r["interval_p99_ms"],
                     "conn": (r["conn_min"], r["conn_median"], r["conn_max"]),
                     "cpu": r["server_cpu_pct"], "rss_mb": r["server_peak_rss_mb"], "us_per_rt": cpu_us(r),
                     "errors": r["closed_early"] + r.get("connect_failures", 0),
                     "note": f"ideal {r.get('ideal_msgs_per_s', 0):,.0f}/s; p50/p99 = gap between messages, "
                             f"send skew p99 {r.get('skew_p99_ms') or 0:.1f} ms"})
    for name, r in churn.items():
        base = churn.get("gevent-bare")
        rows.append({"case": f"churn at {plan.churn_rate:g}/s", "server": name, "figure": r["handshakes_per_s"],
                     "unit": "hs/s", "x_bare": _ratio(r["handshakes_per_s"], base and base["handshakes_per_s"]),
                     "p50_ms": r["p50_ms"], "p99_ms": r["p99_ms"], "conn": None, "cpu": r["server_cpu_pct"],
                     "rss_mb": r["server_peak_rss_mb"], "errors": r["failures"] + r["skipped"],
                     "note": "p50/p99 = connect + handshake"})
    for name, m in memory.items():
        b, base = m.get("big"), memory.get("gevent-bare", {}).get("big")
        if b:
            rows.append({"case": f"{plan.big_mib:g} MiB binary echo", "server": name, "figure": b["seconds_median"],
                         "unit": "s", "x_bare": _ratio(b["seconds_median"], base and base["seconds_median"]),
                         "p50_ms": None, "p99_ms": None, "conn": None, "cpu": b["server_cpu_pct"],
                         "rss_mb": b.get("server_peak_rss_mb"), "errors": b["errors"] + b["closed_early"],
                         "note": f"peak RSS growth {b.get('peak_over_message', 0):.2f}x the message"})
        i, base = m.get("idle"), memory.get("gevent-bare", {}).get("idle")
        if i:
            rows.append({"case": f"{i['conns']:,} idle conn", "server": name, "figure": i.get("kib_per_conn"),
                         "unit": "KiB/conn", "x_bare": _ratio(i.get("kib_per_conn"), base and base.get("kib_per_conn")),
                         "p50_ms": None, "p99_ms": None, "conn": None, "cpu": None,
                         "rss_mb": i.get("server_rss_after_mb"),
                         "errors": i["errors"] + i["closed_early"] + i["connect_failures"],
                         "note": f"{i['handshakes_per_s']:,.0f} handshakes/s while opening"})

    # ---- targets
    def target(name, achieved, op, threshold, detail=""):
        ok = None if achieved is None else (achieved >= threshold if op == ">=" else achieved <= threshold
                                            if op == "<=" else achieved < threshold)
        targets.append({"target": name, "achieved": achieved, "op": op, "threshold": threshold, "met": ok,
                        "detail": detail})

    def fig(case_id, key="msgs_per_s"):
        r = rt.get(case_id)
        return r and r.get(key)

    def paired(case_a, case_b):
        """Median over rounds of (a / b), both measured in the same round: a burst of other
        load on the machine then hits both sides of each ratio alike."""
        a, b = rt.get(case_a), rt.get(case_b)
        if not a or not b:
            return None
        ra, rb = a.get("rounds") or [], b.get("rounds") or []
        if len(ra) != len(rb) or not ra or not all(rb):
            return _ratio(a["msgs_per_s"], b["msgs_per_s"])
        ratios = sorted(x / y for x, y in zip(ra, rb))
        mid_ = len(ratios) // 2
        return ratios[mid_] if len(ratios) % 2 else (ratios[mid_ - 1] + ratios[mid_]) / 2

    def cpu_note(case_a, case_b):
        """The same comparison by server CPU per round trip (less sensitive to other load)."""
        a, b = cpu_us(rt.get(case_a)), cpu_us(rt.get(case_b))
        return f"by CPU per round trip: {b / a:.2f}" if a and b else ""

    for conns in sorted({mid, top}):
        target(f"echo at {conns} conn / bare gevent", paired(f"echo/{conns}/mockd", f"echo/{conns}/gevent-bare"),
               ">=", 1.0, cpu_note(f"echo/{conns}/mockd", f"echo/{conns}/gevent-bare"))
    target(f"templated json reply / bare echo ({mid} conn)",
           paired(f"json20/{mid}/mockd", base_mid), ">=", 0.7, cpu_note(f"json20/{mid}/mockd", base_mid))
    target("200 exact matchers / 1 matcher", paired(f"exact200/{mid}/mockd", f"exact1/{mid}/mockd"), ">=", 0.9,
           cpu_note(f"exact200/{mid}/mockd", f"exact1/{mid}/mockd"))
    target(f"p99 at {top} conn / bare gevent p99", _ratio(fig(f"echo/{top}/mockd", "p99_ms"),
                                                       fig(f"echo/{top}/gevent-bare", "p99_ms")), "<=", 1.5)
    r = rt.get(f"echo/{top}/mockd")
    target(f"no starvation at {top} conn: min / median round trips per conn",
           _ratio(r and r["conn_min"], r and r["conn_median"]), ">=", 0.3)
    b = memory.get("mockd", {}).get("big")
    target(f"{plan.big_mib:g} MiB binary echo, seconds", b and b["seconds_median"], "<", 0.5)
    target(f"{plan.big_mib:g} MiB echo: peak RSS growth / message size", b and b.get("peak_over_message"), "<", 3.0)
    i = memory.get("mockd", {}).get("idle")
    target("KiB per idle connection (heartbeat + journal on)", i and i.get("kib_per_conn"), "<=", 32.0)
    for conns in sorted({mid, top}):
        target(f"journal on / journal off, echo at {conns} conn",
               paired(f"echo/{conns}/mockd", f"echo/{conns}/mockd-nojournal"), ">=", 0.9,
               cpu_note(f"echo/{conns}/mockd", f"echo/{conns}/mockd-nojournal"))
    if gencheck:
        target("load generator / ws_bench.py, same server", gencheck["ratio"], ">=", 0.8)
    aging.report(aged_churn, plan, rows, target, churn.get("gevent-bare"))
    return rows, targets


def cpu_us(r):
    """Server CPU microseconds per round trip (or per message), from /proc."""
    if not r or not r.get("server_cpu_pct") or not r.get("msgs_per_s"):
        return None
    return r["server_cpu_pct"] * 1e4 / r["msgs_per_s"]


def render_table(rows):
    head = ("case", "server", "figure", "x bare", "p50 ms", "p99 ms", "conn min/med/max", "srv CPU",
            "us/msg", "RSS MB", "err")
    body = []
    for r in rows:
        conn = "/".join(_num(x) for x in r["conn"]) if r.get("conn") else "-"
        digits = 3 if r["unit"] == "s" else 1 if r["unit"] == "KiB/conn" else 0
        body.append((r["case"], r["server"], f"{_num(r['figure'], digits)} {r['unit']}",
                     _num(r["x_bare"], 2) if r["x_bare"] is not None else "-",
                     _num(r["p50_ms"], 2), _num(r["p99_ms"], 2), conn,
                     f"{r['cpu']:.0f}%" if r.get("cpu") is not None else "-",
                     _num(r.get("us_per_rt"), 1), _num(r.get("rss_mb"), 1), str(r.get("errors", 0))))
    widths = [max(len(str(x[i])) for x in [head] + body) for i in range(len(head))]
    align = "<<>>>>>>>>>"

    def line(cells):
        return "  ".join(f"{c:{a}{w}}" for c, a, w in zip(cells, align, widths)).rstrip()

    out = [line(head), line(["-" * w for w in widths])]
    prev = None
    for cells in body:
        if prev is not None and cells[0] != prev:
            out.append("")
        out.append(line(cells))
        prev = cells[0]
    return "\n".join(out)


def render_targets(targets):
    out = []
    width = max(len(t["target"]) for t in targets) if targets else 10
    for t in targets:
        ach = "-" if t["achieved"] is None else f"{t['achieved']:.3f}"
        verdict = "n/a" if t["met"] is None else "MET" if t["met"] else "MISSED"
        detail = f"  ({t['detail']})" if t.get("detail") else ""
        out.append(f"{t['target']:<{width}}  {ach:>9}  {t['op']:>2} {t['threshold']:<5g} {verdict:<6}{detail}")
    return "\n".join(out)


# ------------------------------------------------------------------------------ main

def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a smoke run of a few seconds (tiny loads)")
    p.add_argument("--rounds", type=int, help="interleaved rounds of the round-trip cases (default 3)")
    p.add_argument("--duration", type=float, help="measured seconds per round-trip run (default 1.5)")
    p.add_argument("--conns", help="connection counts of the echo cases (default 1,50,500)")
    p.add_argument("--idle", type=int, help="idle connections (default 10000)")
    p.add_argument("--no-node", action="store_true", help="leave out the Node ws reference")
    p.add_argument("--no-aging", action="store_true",
                   help="leave out churn after 100,000 handshakes (about 40-60 s of the run)")
    p.add_argument("--no-websockets", action="store_true", help="leave out the websockets reference")
    p.add_argument("--no-gencheck", action="store_true", help="skip the check against ws_bench.py")
    p.add_argument("--json", metavar="FILE", help="write every result here (default bench/results/latest.json)")
    p.add_argument("--plot", metavar="PNG", help="throughput plot (default bench/results/throughput.png)")
    p.add_argument("--no-plot", action="store_true")
    p.add_argument("--no-pin", action="store_true", help="do not pin servers and the load generator to CPUs")
    return p.parse_args(argv)


def main(argv=None):
    a = parse_args(argv)
    plan = Plan(a)
    procstat.raise_nofile()  # inherited by every server started below
    if not a.no_pin:
        pin_self()
    t_begin = time.monotonic()
    load0 = procstat.loadavg()
    log(f"bench: {os.cpu_count()} cpus, load {load0}, loop {loadgen.event_loop_name()}, "
        f"python {platform.python_version()}" + (" (quick)" if plan.quick else "")
        + (f", servers pinned to cpu {SERVER_CPU}, load generator to cpu {CLIENT_CPU}" if PIN["on"] else ""))
    tmp = tempfile.TemporaryDirectory(prefix="mockd-bench-")
    config = cases.write_mockd_config(os.path.join(tmp.name, "bench-mocks.json"), plan.feed_period)

    servers = {}
    mockd_nj = None
    feed, churn, memory, gencheck, aged_churn = {}, {}, {}, None, None
    try:
        servers["gevent-bare"] = gevent_server(plan.feed_period).start()
        for wanted, make in ((plan.websockets, websockets_server), (plan.node, node_server)):
            if wanted:  # references only: a run goes on without them
                try:
                    server = make().start()
                    servers[server.name] = server
                except RuntimeError as exc:
                    log(f"skipped: {exc}")
        mockd = servers["mockd"] = mockd_server(config).start()
        mockd_nj = mockd_server(config, 0, "mockd-nojournal").start()
        log("servers: " + ", ".join(f"{s.name}:{s.port}" for s in list(servers.values()) + [mockd_nj]))
        rt = run_throughput(plan, servers, mockd, mockd_nj)
        for name, server, path in (("gevent-bare", servers["gevent-bare"], "/feed"), ("mockd", mockd, "/feed")):
            log(f"{name}: feed to {plan.feed_conns} connections")
            feed[name] = loadgen.run_sync(loadgen.feed(server.url(path), plan.feed_conns, plan.feed_duration,
                                                       plan.feed_warmup, plan.feed_period, pid=server.pid))
        for name, server, path in (("gevent-bare", servers["gevent-bare"], "/"), ("mockd", mockd, "/echo")):
            log(f"{name}: handshake churn at {plan.churn_rate:g}/s")
            time.sleep(1.0)  # let the server finish closing the previous case's connections
            churn[name] = loadgen.run_sync(loadgen.churn(server.url(path), plan.churn_rate, plan.churn_duration,
                                                         pid=server.pid))
        if not a.no_aging:
            aged_churn = aging.run_aged_churn(plan, lambda: mockd_server(config), log=log)
        if plan.gencheck:
            log("generator check: bench.loadgen vs ws_bench.py on mockd /echo")
            time.sleep(1.0)
            gencheck = run_gencheck(plan, mockd, "/echo")
        memory["gevent-bare"] = run_memory(plan, "gevent-bare", lambda: gevent_server(plan.feed_period),
                                           servers["gevent-bare"], "/", "/")
        memory["mockd"] = run_memory(plan, "mockd", lambda: mockd_server(config), mockd, "/big", "/idle")
    finally:
        for server in list(servers.values()) + ([mockd_nj] if mockd_nj is not None else []):
            server.stop()
        tmp.cleanup()

    rows, targets = build_report(plan, rt, feed, churn, memory, gencheck, aged_churn)
    elapsed = time.monotonic() - t_begin
    load1 = procstat.loadavg()
    print(render_table(rows))
    print()
    print("targets (ratios within this run; a throughput ratio is the median of its per-round ratios):")
    print(render_targets(targets))
    if gencheck:
        print(f"\nload generator: {gencheck['ours_msgs_per_s']:,.0f} rt/s vs ws_bench.py "
              f"{gencheck['ws_bench_msgs_per_s']:,.0f} rt/s on {gencheck['server']} ({plan.mid} conn)")
    print(f"\n{elapsed:.0f} s; load average {load0} before, {load1} after; {os.cpu_count()} cpus"
          + (f" (servers on cpu {SERVER_CPU}, load generator on cpu {CLIENT_CPU})" if PIN["on"] else "")
          + f"; loop {loadgen.event_loop_name()}; rounds {plan.rounds} x {plan.duration:g} s")

    document = {"when": datetime.datetime.now().isoformat(timespec="seconds"), "elapsed_s": elapsed,
                "load_before": load0, "load_after": load1, "cpus": os.cpu_count(),
                "loop": loadgen.event_loop_name(), "pinned": PIN["on"], "quick": plan.quick, "rounds": plan.rounds,
                "duration": plan.duration, "conns": plan.conns, "rows": rows, "targets": targets,
                "round_trips": rt, "feed": feed, "churn": churn, "memory": memory, "gencheck": gencheck,
                "aged_churn": aged_churn}
    json_path = Path(a.json) if a.json else HERE / "results" / "latest.json"
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(document, indent=1, default=str))
    if not a.no_plot:
        png = Path(a.plot) if a.plot else HERE / "results" / "throughput.png"
        try:
            from .plot import plot_throughput
            plot_throughput(document, png)
            print(f"plot: {png}")
        except ImportError as exc:
            print(f"plot skipped: {exc} (pip install matplotlib)")
    print(f"results: {json_path}")
    return 0
