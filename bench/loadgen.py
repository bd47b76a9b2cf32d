"""mockd's WebSocket load generator: raw frames over asyncio (uvloop when installed).

No WebSocket library: the client writes one precomputed masked frame per message and parses
the server's (unmasked) frames itself (:mod:`bench.frames`, :mod:`bench.protocols`), so that
the client is never what limits a server on a two-core box. Five modes, each a coroutine
returning a dict and a CLI sub-command::

    python -m bench.loadgen rtt   ws://127.0.0.1:4280/ws -c 50 -d 5 --pid PID
    python -m bench.loadgen feed  ws://127.0.0.1:4280/feed -c 500 -d 5 --period 0.02
    python -m bench.loadgen big   ws://127.0.0.1:4280/big --mib 16 --pid PID
    python -m bench.loadgen idle  ws://127.0.0.1:4280/ws -c 10000 --pid PID
    python -m bench.loadgen churn ws://127.0.0.1:4280/ws --rate 1000 -d 3 --pid PID

rtt    closed loop: each connection keeps exactly one message in flight, sends the next one
       when the reply arrives. Round trips/s, latency p50/p99/max, per-connection
       min/median/max round trips (fairness), errors.
feed   receive only (a server that pushes): messages/s delivered, inter-arrival p50/p99
       against the expected period (send skew), per-connection min/median/max.
big    one connection echoes one binary message of N MiB, a few times: seconds per echo and
       the server's peak RSS above its RSS before (VmHWM, reset through clear_refs).
idle   N connections that each echo one message, answer pings, then sit idle: server RSS
       growth per connection.
churn  open-handshake-close at a fixed rate: handshakes/s achieved, handshake latency.

With ``--pid`` the server's CPU (% of one core over the measured window) and peak RSS are
read from /proc while the load runs.
"""
import argparse
import asyncio
import importlib.util
import json
import sys
import time

from . import procstat
from .frames import CLOSE_FRAME, OP_BINARY, Endpoint, client_frame
from .protocols import (BigEchoConnection, ChurnConnection, FeedConnection, RoundTripConnection, Run,
                        now_ns)
from .sampling import ClientCpu, ServerProbe, latency_fields, measured_window, spread

ECHO_PAYLOAD = b"a" * 32


# ------------------------------------------------------------------------------ modes

async def rtt(url, conns=50, duration=5.0, warmup=1.0, payload=ECHO_PAYLOAD, binary=False,
              any_reply=False, pid=None, stop_timeout=5.0, reply=None):
    """Closed-loop round trips; see the module docstring.

    The reply must be the message itself (an echo) or ``reply`` when given, with the same
    frame type; with ``any_reply`` any data message counts (templated answers)."""
    endpoint = Endpoint(url)
    loop = asyncio.get_running_loop()
    run = Run(loop, payload, binary, any_reply, reply)
    failed, why = await run.connect(endpoint, RoundTripConnection, conns)
    probe = ServerProbe(pid, loop)
    probe.start()
    try:
        for conn in run.conns:
            conn.send()
        elapsed, cpu = await measured_window(run, probe, warmup, duration)
        run.pending = sum(1 for conn in run.conns if conn.inflight and not conn.closed)
        await run.wait_all(stop_timeout)
    finally:
        probe.stop()
        run.close_all()
    result = {**_window_fields("rtt", run, len(run.samples), elapsed, cpu, probe, failed, why),
              **latency_fields(run.samples), "errors": run.errors}
    await asyncio.sleep(0)  # one loop pass: the closes above reach connection_lost before the loop may end
    return result


async def feed(url, conns=500, duration=5.0, warmup=1.0, period=None, pid=None, factory=FeedConnection,
               subprotocol=None, mode="feed", publisher=None):
    """Receive-only load: every connection counts what the server pushes. ``factory`` (a
    ``FeedConnection``), ``subprotocol`` and ``publisher`` (one more connection that makes the
    server push) are for the protocol packs' feeds (``packs.pack_feed``)."""
    endpoint = Endpoint(url, subprotocol)
    loop = asyncio.get_running_loop()
    run = Run(loop)
    failed, why = await run.connect(endpoint, factory, conns)
    side = None
    if publisher is not None:
        side = Run(loop)
        await side.connect(endpoint, publisher, 1)
    probe = ServerProbe(pid, loop)
    probe.start()
    try:
        elapsed, cpu = await measured_window(run, probe, warmup, duration)
    finally:
        probe.stop()
        run.close_all()
        if side is not None:
            side.stopping = True
            side.close_all()
    received = sum(conn.count for conn in run.conns)
    result = {**_window_fields(mode, run, received, elapsed, cpu, probe, failed, why),
              **latency_fields(run.samples, "interval_")}
    if period:
        result["period_ms"] = period * 1000
        result["ideal_msgs_per_s"] = len(run.conns) / period
        result["skew_p99_ms"] = result["interval_p99_ms"] - period * 1000 if run.samples else None
    return result


def _window_fields(mode, run, count, elapsed, cpu, probe, failed, why):
    """The figures every timed mode reports: ``count`` messages in ``elapsed`` seconds."""
    fields = {"mode": mode, "conns": len(run.conns), "connect_failures": failed, "count": count,
              "elapsed": elapsed, "msgs_per_s": count / elapsed if elapsed else 0.0,
              "closed_early": run.closed_early, "client_cpu_pct": cpu.pct,
              **spread([conn.count for conn in run.conns]), **probe.fields()}
    if why is not None:
        fields["connect_error"] = repr(why)
    return fields


async def big(url, mib=16.0, repeat=3, pid=None, timeout=60.0):
    """Echo one ``mib`` MiB binary message ``repeat`` times over one connection."""
    endpoint = Endpoint(url)
    loop = asyncio.get_running_loop()
    size = int(mib * (1 << 20))
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    run = Run(loop)
    run.message = client_frame(OP_BINARY, payload)
    await run.connect(endpoint, BigEchoConnection, 1)
    await asyncio.sleep(0.2)
    base_kib = procstat.rss_kib(pid) if pid else None
    hwm_reset = procstat.reset_hwm(pid) if pid else False
    probe = ServerProbe(pid, loop, interval=0.02)
    probe.start()
    try:
        with ClientCpu() as cpu:
            probe.begin()
            times, errors = await _echo_big(run.conns[0], payload, repeat, timeout)
            probe.end()
    finally:
        probe.stop()
        run.close_all()
    times.sort()
    result = {"mode": "big", "size_mib": size / (1 << 20), "repeat": len(times), "errors": errors,
              "closed_early": run.closed_early, "seconds_min": times[0] if times else None,
              "seconds_median": times[len(times) // 2] if times else None,
              "seconds_max": times[-1] if times else None, "client_cpu_pct": cpu.pct,
              "server_cpu_pct": probe.cpu_pct, "peak_source": "VmHWM" if hwm_reset else "sampled"}
    if pid:
        peak_kib = procstat.hwm_kib(pid) if hwm_reset else probe.peak_kib
        result.update({"server_rss_before_mb": base_kib / 1024, "server_peak_rss_mb": peak_kib / 1024,
                       "peak_over_message": (peak_kib - base_kib) * 1024 / size})
    return result


async def _echo_big(conn, payload, repeat, timeout):
    """``repeat`` echoes of the run's message, one after another: (seconds of each, errors)."""
    times, errors = [], 0
    for _ in range(repeat):
        try:
            elapsed_ns = await asyncio.wait_for(conn.send_big(), timeout)
        except asyncio.TimeoutError:
            return times, errors + 1
        times.append(elapsed_ns / 1e9)
        if conn.received != len(payload) or conn.first != payload[:conn.KEPT]:
            errors += 1
        if conn.closed:
            break
    return times, errors


async def idle(url, conns=10000, settle=2.0, pid=None, payload=ECHO_PAYLOAD, concurrency=200):
    """Open ``conns`` connections, echo one message on each, answer pings, measure RSS/conn."""
    endpoint = Endpoint(url)
    loop = asyncio.get_running_loop()
    procstat.raise_nofile(conns + 256)
    warm = await _warm_up(loop, endpoint, payload)
    base_kib = procstat.rss_kib(pid) if pid else 0
    run = Run(loop, payload)
    run.oneshot = True
    started = time.perf_counter()
    failed, why = await run.connect(endpoint, RoundTripConnection, conns, concurrency)
    connect_s = time.perf_counter() - started
    run.pending = len(run.conns)
    for conn in run.conns:
        conn.send()
    await run.wait_all(30)
    await asyncio.sleep(settle)
    after_kib = procstat.rss_kib(pid) if pid else 0
    still_open = sum(1 for conn in run.conns if not conn.closed)
    for opened in (run, warm):
        opened.stopping = True
        opened.close_all()
    await asyncio.sleep(0.2)
    opened = len(run.conns)
    result = {"mode": "idle", "conns": opened, "connect_failures": failed, "still_open": still_open,
              "connect_s": connect_s, "handshakes_per_s": opened / connect_s if connect_s else None,
              "errors": run.errors, "closed_early": run.closed_early, "pings_answered": run.pings}
    if pid:
        result.update({"server_rss_base_mb": base_kib / 1024, "server_rss_after_mb": after_kib / 1024,
                       "kib_per_conn": (after_kib - base_kib) / opened if opened else None})
    if why is not None:
        result["connect_error"] = repr(why)
    return result


async def _warm_up(loop, endpoint, payload):
    """One connection and one round trip before the server's RSS is read, so that one-off
    costs (the first greenlet, lazy imports) are not counted per connection."""
    warm = Run(loop, payload)
    warm.oneshot = True
    await warm.connect(endpoint, RoundTripConnection, 1)
    warm.pending = 1
    warm.conns[0].send()
    await warm.wait_all(10)
    if warm.errors:
        raise ConnectionError(f"no reply on the warm-up connection to {endpoint.url}")
    await asyncio.sleep(0.5)
    return warm


class _ChurnTally:
    """What a churn run counts: handshake latencies (ns), failures, connections in flight."""

    def __init__(self):
        self.latencies = []
        self.failures = 0
        self.inflight = 0
        self.launched = 0
        self.skipped = 0   # handshakes not started because max_inflight were in flight


async def churn(url, rate=1000.0, duration=3.0, pid=None, max_inflight=500, tick=0.005):
    """Open, handshake and close connections at ``rate`` per second for ``duration`` s."""
    endpoint = Endpoint(url)
    loop = asyncio.get_running_loop()
    run = Run(loop)
    run.stopping = True  # a server close is expected here, not an early close
    tally = _ChurnTally()
    probe = ServerProbe(pid, loop)
    probe.start()
    try:
        with ClientCpu() as cpu:
            probe.begin()
            wall = await _launch_at_rate(run, endpoint, tally, rate, duration, max_inflight, tick)
            probe.end()
    finally:
        probe.stop()
    handshakes = len(tally.latencies)
    return {"mode": "churn", "target_rate": rate, "duration": duration, "launched": tally.launched,
            "skipped": tally.skipped, "failures": tally.failures, "handshakes": handshakes,
            "handshakes_per_s": handshakes / wall if wall else 0.0, **latency_fields(tally.latencies),
            "client_cpu_pct": cpu.pct, **probe.fields()}


async def _launch_at_rate(run, endpoint, tally, rate, duration, max_inflight, tick):
    """Start a handshake every 1/``rate`` s for ``duration`` s, then wait for the last ones.

    :return: the seconds from the first start to the last close.
    """
    tasks = set()
    started = time.perf_counter()
    while (elapsed := time.perf_counter() - started) < duration:
        due = int(elapsed * rate) + 1 - tally.launched - tally.skipped
        for _ in range(max(0, due)):
            if tally.inflight >= max_inflight:
                tally.skipped += 1
                continue
            task = run.loop.create_task(_open_and_close(run, endpoint, tally))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            tally.launched += 1
        await asyncio.sleep(tick)
    if tasks:
        await asyncio.wait(set(tasks), timeout=10.0)
    return time.perf_counter() - started


async def _open_and_close(run, endpoint, tally):
    tally.inflight += 1
    started = now_ns()
    try:
        _, protocol = await run.loop.create_connection(lambda: ChurnConnection(run, endpoint), endpoint.host,
                                                       endpoint.port)
        await protocol.ready
        tally.latencies.append(now_ns() - started)
        protocol.transport.write(CLOSE_FRAME)
        await asyncio.wait_for(protocol.finished, 5.0)
    except (OSError, ConnectionError, asyncio.TimeoutError):
        tally.failures += 1
    finally:
        tally.inflight -= 1


# ------------------------------------------------------------------------------ running

def event_loop_name():
    return "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"


def run_sync(coro, use_uvloop=True):
    """Run one of the coroutines above on a fresh loop (uvloop when installed)."""
    factory = None
    if use_uvloop:
        try:
            import uvloop
            factory = uvloop.new_event_loop
        except ImportError:
            pass
    procstat.raise_nofile()
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(coro)


def format_fields(result):
    """``key=value`` pairs of a result, floats shortened."""
    return " ".join(f"{key}={format_value(value)}" for key, value in result.items())


def format_value(value):
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def _parser():
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    modes = parser.add_subparsers(dest="mode", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("url")
    common.add_argument("--pid", type=int, help="server PID: sample its CPU and RSS from /proc")
    common.add_argument("--no-uvloop", action="store_true", help="plain asyncio even when uvloop is installed")
    common.add_argument("--json", action="store_true", help="print the result as one JSON object")
    mode = modes.add_parser("rtt", parents=[common], help="closed-loop round trips")
    _add_timed_options(mode, conns=50)
    mode.add_argument("-s", "--size", type=int, default=32, help="payload bytes of 'a' (default 32)")
    mode.add_argument("--payload", help="this exact UTF-8 message instead of --size bytes")
    mode.add_argument("--binary", action="store_true")
    mode.add_argument("--reply", help="the exact UTF-8 reply expected (default: the message, an echo)")
    mode.add_argument("--any-reply", action="store_true", help="accept any reply (templated answers)")
    mode = modes.add_parser("feed", parents=[common], help="receive what the server pushes")
    _add_timed_options(mode, conns=500)
    mode.add_argument("--period", type=float, help="the server's send period in seconds (for the skew)")
    mode = modes.add_parser("big", parents=[common], help="echo one large binary message")
    mode.add_argument("--mib", type=float, default=16.0)
    mode.add_argument("--repeat", type=int, default=3)
    mode = modes.add_parser("idle", parents=[common], help="RSS per idle connection")
    mode.add_argument("-c", "--conns", type=int, default=10000)
    mode.add_argument("--settle", type=float, default=2.0)
    mode = modes.add_parser("churn", parents=[common], help="handshakes per second")
    mode.add_argument("--rate", type=float, default=1000.0)
    mode.add_argument("-d", "--duration", type=float, default=3.0)
    return parser


def _add_timed_options(mode, conns):
    mode.add_argument("-c", "--conns", type=int, default=conns)
    mode.add_argument("-d", "--duration", type=float, default=5.0)
    mode.add_argument("-w", "--warmup", type=float, default=1.0)


def _mode_coroutine(args):
    if args.mode == "rtt":
        payload = args.payload.encode("utf-8") if args.payload is not None else b"a" * args.size
        reply = args.reply.encode("utf-8") if args.reply is not None else None
        return rtt(args.url, args.conns, args.duration, args.warmup, payload, args.binary, args.any_reply,
                   args.pid, reply=reply)
    if args.mode == "feed":
        return feed(args.url, args.conns, args.duration, args.warmup, args.period, args.pid)
    if args.mode == "big":
        return big(args.url, args.mib, args.repeat, args.pid)
    if args.mode == "idle":
        return idle(args.url, args.conns, args.settle, args.pid)
    return churn(args.url, args.rate, args.duration, args.pid)


def main(argv=None):
    args = _parser().parse_args(argv)
    result = run_sync(_mode_coroutine(args), use_uvloop=not args.no_uvloop)
    result["loop"] = "asyncio" if args.no_uvloop else event_loop_name()
    print(json.dumps(result) if args.json else "RESULT " + format_fields(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
