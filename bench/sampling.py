"""What a load-generator run measures besides its own counters: the server's CPU and RSS while
the load runs, this process's CPU, and the summaries (percentiles, per-connection spread)."""
import asyncio
import resource
import time

from . import procstat


class ServerProbe:
    """Samples the server's RSS every ``interval`` seconds on the running loop; its CPU over the
    window between ``begin()`` and ``end()``. Without a ``pid`` every figure is None."""

    def __init__(self, pid, loop, interval=0.1):
        self.pid, self.loop, self.interval = pid, loop, interval
        self.peak_kib = 0
        self.handle = None
        self.cpu_pct = None
        self.window_start = None   # (monotonic seconds, server CPU ticks) at begin()

    def start(self):
        if self.pid:
            self._sample()

    def _sample(self):
        self.peak_kib = max(self.peak_kib, procstat.rss_kib(self.pid))
        self.handle = self.loop.call_later(self.interval, self._sample)

    def begin(self):
        if self.pid:
            self.window_start = (time.monotonic(), procstat.cpu_ticks(self.pid))

    def end(self):
        if self.pid and self.window_start is not None:
            started, ticks = self.window_start
            elapsed = max(1e-9, time.monotonic() - started)
            self.cpu_pct = 100.0 * (procstat.cpu_ticks(self.pid) - ticks) / procstat.CLK_TCK / elapsed

    def stop(self):
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None
        if self.pid:
            self.peak_kib = max(self.peak_kib, procstat.rss_kib(self.pid))

    def fields(self):
        if not self.pid:
            return {"server_cpu_pct": None, "server_peak_rss_mb": None}
        return {"server_cpu_pct": self.cpu_pct, "server_peak_rss_mb": self.peak_kib / 1024}


class ClientCpu:
    """This process's CPU over a ``with`` block, as % of one core (``pct``)."""

    pct = None

    def __enter__(self):
        self.usage_before, self.started = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
        return self

    def __exit__(self, *exc):
        usage = resource.getrusage(resource.RUSAGE_SELF)
        used = (usage.ru_utime - self.usage_before.ru_utime) + (usage.ru_stime - self.usage_before.ru_stime)
        self.pct = 100.0 * used / max(1e-9, time.monotonic() - self.started)


async def measured_window(run, probe, warmup, duration):
    """The window shared by the timed modes: ``warmup`` seconds, then counters on, ``duration``
    seconds, counters off (and the run stopping).

    :return: ``(elapsed seconds, the ClientCpu of the window)``.
    """
    if warmup > 0:
        await asyncio.sleep(warmup)
    with ClientCpu() as cpu:
        probe.begin()
        run.measuring = True
        started = time.perf_counter()
        await asyncio.sleep(duration)
        run.measuring = False
        run.stopping = True
        elapsed = time.perf_counter() - started
        probe.end()
    return elapsed, cpu


def percentile_ms(sorted_ns, fraction):
    """The ``fraction`` percentile of sorted nanoseconds, in milliseconds (None when empty)."""
    if not sorted_ns:
        return None
    return sorted_ns[min(len(sorted_ns) - 1, int(len(sorted_ns) * fraction))] / 1e6


def latency_fields(samples_ns, prefix=""):
    """``{prefix}p50_ms``, ``p99_ms`` and ``max_ms`` of unsorted nanoseconds."""
    ordered = sorted(samples_ns)
    return {f"{prefix}p50_ms": percentile_ms(ordered, 0.5), f"{prefix}p99_ms": percentile_ms(ordered, 0.99),
            f"{prefix}max_ms": percentile_ms(ordered, 1.0)}


def cpu_us(result):
    """Server CPU microseconds per round trip (or per message) of a timed run, from /proc."""
    if not result or not result.get("server_cpu_pct") or not result.get("msgs_per_s"):
        return None
    return result["server_cpu_pct"] * 1e4 / result["msgs_per_s"]


def spread(counts):
    """Messages per connection: the least served, the median and the most served connection."""
    counts = sorted(counts) or [0]
    return {"conn_min": counts[0], "conn_median": counts[len(counts) // 2], "conn_max": counts[-1]}
