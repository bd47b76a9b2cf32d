"""Load and soak runs of a real ``mockd serve`` (issue 7): many connections, long churn, RSS.

    python -m bench.soak                                  # 10,000 conns for 20 s, then a 10-min soak
    python -m bench.soak --conns 10000 --load-seconds 20 --soak-minutes 0   # the load phase only
    python -m bench.soak --conns 0 --soak-minutes 3 --rate 300              # a short soak only
    python -m bench.soak --json soak.json                  # also write every figure and RSS sample

It starts ``python -m mockd serve`` on 127.0.0.1 (port 0, admin API on port 0, journal and
plugins as by default), then:

load   ``--conns`` connections at once, each keeping one message in flight for
       ``--load-seconds`` (bench.loadgen ``rtt``): round trips, errors, early closes, the
       per-connection spread, and the server's CPU, peak RSS and open descriptors.
soak   ``--soak-minutes`` of connection churn: ``--rate`` open/handshake/close per second
       (bench.loadgen ``churn``) beside ``--steady`` connections echoing all along, in chunks
       of ``--chunk`` seconds. The server's RSS is sampled after each chunk; the first
       ``--warmup`` seconds fill the journal ring and the allocator, and every later sample
       must stay within ``--tolerance`` (10%) of the first one after them.

Between phases and at the end the admin API must report no active connection (no leak);
the server is then stopped with SIGTERM and must exit 0 with its ``stopped:`` log line. The
last line printed is ``SOAK ok=... conns=... errors=... rss_first_mb=... rss_max_dev_pct=...``;
the exit status is 0 when every check passed.
"""
import argparse
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from . import loadgen, procstat
from .servers import ROOT

CONFIG = """version: "1.0"
mocks:
  - id: echo
    websocket: {path: /ws, echoMode: true}
  - id: reply
    websocket:
      path: /reply
      matchers:
        - match: {type: json, path: "$.type", value: ping}
          response: {type: json, value: {type: pong, n: "{{ message.n }}"}}
"""
MOCK_URL = re.compile(r"Mock server: ws://[^:]+:(\d+)")
ADMIN_URL = re.compile(r"Admin API: +http://[^:]+:(\d+)")


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


class MockdProcess:
    """``python -m mockd serve`` with the soak config; ``stop()`` sends SIGTERM."""

    def __init__(self, extra_args=()):
        self.dir = tempfile.TemporaryDirectory(prefix="mockd-soak-")
        config = os.path.join(self.dir.name, "soak.yaml")
        with open(config, "w", encoding="utf-8") as fh:
            fh.write(CONFIG)
        self.stderr = open(os.path.join(self.dir.name, "stderr.log"), "w+", encoding="utf-8")
        environ = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen([sys.executable, "-m", "mockd", "serve", "-c", config, "--host", "127.0.0.1",
                                      "-p", "0", "--admin-port", "0", *extra_args], cwd=ROOT, env=environ,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.stderr, text=True)
        self.port = self.admin_port = None
        deadline = time.monotonic() + 30
        for line in self.proc.stdout:
            if MOCK_URL.search(line):
                self.port = int(MOCK_URL.search(line).group(1))
            if ADMIN_URL.search(line):
                self.admin_port = int(ADMIN_URL.search(line).group(1))
            if "Press Ctrl+C" in line or time.monotonic() > deadline:
                break
        if self.port is None:
            self.proc.kill()
            raise RuntimeError(f"mockd did not start: {self.log_tail()}")
        threading.Thread(target=_drain, args=(self.proc.stdout,), daemon=True).start()

    @property
    def pid(self):
        return self.proc.pid

    def url(self, path):
        return f"ws://127.0.0.1:{self.port}{path}"

    def stats(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}/websocket/stats", timeout=10) as reply:
            return json.loads(reply.read())

    def open_fds(self):
        try:
            return len(os.listdir(f"/proc/{self.pid}/fd"))
        except OSError:
            return None

    def log_tail(self, size=2000):
        self.stderr.flush()
        self.stderr.seek(0)
        return self.stderr.read()[-size:]

    def stop(self, timeout=10.0):
        """SIGTERM; (exit status, seconds to exit, the ``stopped:`` log line or None)."""
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        elapsed = time.monotonic() - started
        lines = [line for line in self.log_tail(20000).splitlines() if "stopped:" in line]
        return code, elapsed, (lines[-1] if lines else None)


def _drain(stream):
    """Read and drop the rest of ``stream``, so that the server never blocks on a full pipe."""
    for _ in stream:
        pass


def wait_idle(server, timeout=15.0):
    """Poll the admin API until no connection is active; the last stats."""
    deadline = time.monotonic() + timeout
    while True:
        stats = server.stats()
        if stats["activeConnections"] == 0 or time.monotonic() > deadline:
            return stats
        time.sleep(0.2)


class FdWatcher(threading.Thread):
    """The most descriptors the server held, sampled every half second until ``stop()``."""

    def __init__(self, server):
        super().__init__(daemon=True)
        self.server = server
        self.peak = server.open_fds() or 0
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.wait(0.5):
            self.peak = max(self.peak, self.server.open_fds() or 0)

    def stop(self):
        self.stopping.set()
        self.join()


def load_phase(server, conns, seconds, use_uvloop):
    log(f"load: {conns} connections, one message in flight each, for {seconds:g} s")
    fds_before = server.open_fds()
    watcher = FdWatcher(server)
    watcher.start()
    try:
        result = loadgen.run_sync(loadgen.rtt(server.url("/ws"), conns=conns, duration=seconds, warmup=1.0,
                                              pid=server.pid, stop_timeout=30.0), use_uvloop=use_uvloop)
    finally:
        watcher.stop()
    result["server_fds_before"], result["server_fds_peak"] = fds_before, watcher.peak
    stats = wait_idle(server)
    result["active_after"] = stats["activeConnections"]
    result["ok"] = (result["conns"] == conns and result["connect_failures"] == 0 and result["errors"] == 0
                    and result["closed_early"] == 0 and result["conn_min"] > 0 and result["active_after"] == 0)
    log("load: " + loadgen.format_fields(result))
    return result


async def _soak_chunk(server, rate, steady, seconds):
    churn = loadgen.churn(server.url("/ws"), rate=rate, duration=seconds, max_inflight=200)
    if steady:
        echo = loadgen.rtt(server.url("/ws"), conns=steady, duration=seconds, warmup=0.0, stop_timeout=10.0)
        churned, echoed = await asyncio.gather(churn, echo)
    else:
        churned, echoed = await churn, None
    return churned, echoed


def soak_phase(server, minutes, rate, steady, chunk, warmup, tolerance, use_uvloop):
    total = minutes * 60.0
    log(f"soak: {minutes:g} min of churn at {rate:g}/s beside {steady} echoing connections, "
        f"RSS sampled every {chunk:g} s (warm-up {warmup:g} s, tolerance {tolerance:.0%})")
    samples, handshakes, failures, errors, round_trips = [], 0, 0, 0, 0
    started = time.monotonic()
    while time.monotonic() - started < total:
        seconds = min(chunk, total - (time.monotonic() - started))
        churned, echoed = loadgen.run_sync(_soak_chunk(server, rate, steady, seconds), use_uvloop=use_uvloop)
        handshakes += churned["handshakes"]
        failures += churned["failures"]
        if echoed is not None:
            errors += echoed["errors"] + echoed["closed_early"] + echoed["connect_failures"]
            round_trips += echoed["count"]
        elapsed = time.monotonic() - started
        rss = procstat.rss_kib(server.pid) / 1024
        samples.append((round(elapsed, 1), round(rss, 2), server.open_fds()))
        log(f"soak: t={elapsed:6.0f} s rss={rss:7.2f} MiB fds={samples[-1][2]} handshakes={handshakes} "
            f"failures={failures} round_trips={round_trips} errors={errors}")
    measured = [rss for elapsed, rss, _ in samples if elapsed >= warmup] or [samples[-1][1]]
    first = measured[0]
    deviation = max(abs(rss - first) / first for rss in measured)
    stats = wait_idle(server)
    result = {"minutes": minutes, "rate": rate, "steady": steady, "handshakes": handshakes,
              "handshake_failures": failures, "round_trips": round_trips, "echo_errors": errors,
              "rss_first_mb": first, "rss_min_mb": min(measured), "rss_max_mb": max(measured),
              "rss_max_dev_pct": 100 * deviation, "samples": samples, "active_after": stats["activeConnections"],
              "total_connections": stats["totalConnections"]}
    result["ok"] = failures == 0 and errors == 0 and deviation <= tolerance and result["active_after"] == 0
    log("soak: " + loadgen.format_fields({key: value for key, value in result.items() if key != "samples"}))
    return result


def _parser():
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conns", type=int, default=10000, help="connections of the load phase (0: skip it)")
    parser.add_argument("--load-seconds", type=float, default=20.0)
    parser.add_argument("--soak-minutes", type=float, default=10.0, help="0: skip the soak")
    parser.add_argument("--rate", type=float, default=300.0, help="churn: connections opened and closed per s")
    parser.add_argument("--steady", type=int, default=100, help="connections echoing during the soak")
    parser.add_argument("--chunk", type=float, default=30.0, help="seconds between RSS samples")
    parser.add_argument("--warmup", type=float, default=60.0, help="soak seconds before RSS is judged")
    parser.add_argument("--tolerance", type=float, default=0.10, help="allowed RSS deviation (0.10 = 10%%)")
    parser.add_argument("--no-uvloop", action="store_true", help="plain asyncio for the load generator")
    parser.add_argument("--json", metavar="FILE", help="write every figure (and the RSS samples) to FILE")
    parser.add_argument("serve_args", nargs="*", help="extra 'mockd serve' options, after --")
    return parser


def run_phases(args):
    """Start mockd, run the phases asked for, stop it: every figure, and ``ok``."""
    use_uvloop = not args.no_uvloop
    server = MockdProcess(args.serve_args)
    report = {"loop": "asyncio" if args.no_uvloop else loadgen.event_loop_name(), "server_pid": server.pid}
    try:
        log(f"mockd serve pid {server.pid} on port {server.port}, admin {server.admin_port}; "
            f"rss={procstat.rss_kib(server.pid) / 1024:.1f} MiB")
        if args.conns:
            report["load"] = load_phase(server, args.conns, args.load_seconds, use_uvloop)
        if args.soak_minutes:
            report["soak"] = soak_phase(server, args.soak_minutes, args.rate, args.steady, args.chunk,
                                        args.warmup, args.tolerance, use_uvloop)
    finally:
        code, seconds, line = server.stop()
        report["shutdown"] = {"exit_status": code, "seconds": round(seconds, 2), "log_line": line}
        log(f"SIGTERM: exit {code} after {seconds:.2f} s; {line}")
        server.stderr.close()
        server.dir.cleanup()
    report["ok"] = (all(report.get(phase, {}).get("ok", True) for phase in ("load", "soak"))
                    and code == 0 and line is not None)
    return report


def main(argv=None):
    args = _parser().parse_args(argv)
    limit = procstat.raise_nofile(args.conns + 1024)
    if args.conns + 256 > limit:
        log(f"this process may open only {limit} files: lower --conns or raise 'ulimit -n'")
        return 2
    report = run_phases(args)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=2)
    load, soak = report.get("load", {}), report.get("soak", {})
    print(f"SOAK ok={report['ok']} conns={load.get('conns')} errors={load.get('errors')} "
          f"round_trips={load.get('count')} handshakes={soak.get('handshakes')} "
          f"rss_first_mb={loadgen.format_value(soak.get('rss_first_mb'))} "
          f"rss_max_dev_pct={loadgen.format_value(soak.get('rss_max_dev_pct'))} "
          f"exit={report['shutdown']['exit_status']}", flush=True)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
