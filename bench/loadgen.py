"""mockd's WebSocket load generator: raw frames over asyncio (uvloop when installed).

No WebSocket library: the client writes one precomputed masked frame per message and parses
the server's (unmasked) frames itself, so that the client is never what limits a server on a
two-core box. Five modes, each a coroutine returning a dict and a CLI sub-command::

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
import base64
import hashlib
import json
import os
import resource
import socket
import struct
import sys
import time
from urllib.parse import urlsplit

try:  # run as ``python -m bench.loadgen`` or imported as ``bench.loadgen``
    from . import procstat
except ImportError:  # pragma: no cover - run as a plain script
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from bench import procstat

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MASK_KEY = b"\x37\xfa\x21\x3d"
OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 1, 2, 8, 9, 10
now_ns = time.perf_counter_ns


# ------------------------------------------------------------------------------ frames

def _head(b0, n, mask_bit):
    if n < 126:
        return bytes((b0, mask_bit | n))
    if n < 65536:
        return struct.pack("!BBH", b0, mask_bit | 126, n)
    return struct.pack("!BBQ", b0, mask_bit | 127, n)


def client_frame(opcode, payload, key=MASK_KEY):
    """A final client frame: header, mask key, payload XOR key (C-speed via big ints)."""
    n = len(payload)
    if n:
        pad = (key * (n // 4 + 1))[:n]
        payload = (int.from_bytes(payload, "big") ^ int.from_bytes(pad, "big")).to_bytes(n, "big")
    return _head(0x80 | opcode, n, 0x80) + key + payload


def server_frame(opcode, payload):
    """The unmasked final frame a server sends for ``payload`` (what an echo must return)."""
    return _head(0x80 | opcode, len(payload), 0) + payload


CLOSE_FRAME = client_frame(OP_CLOSE, struct.pack("!H", 1000))


class Target:
    """Where to connect, and the handshake to send there."""

    def __init__(self, url):
        parts = urlsplit(url)
        if parts.scheme != "ws":
            raise ValueError(f"only ws:// URLs are supported, not {url!r}")
        self.url = url
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.netloc = parts.netloc

    def handshake(self):
        """(request bytes, expected Sec-WebSocket-Accept bytes) with a fresh key."""
        key = base64.b64encode(os.urandom(16))
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
        request = (b"GET " + self.path.encode() + b" HTTP/1.1\r\nHost: " + self.netloc.encode() +
                   b"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
                   b"\r\nSec-WebSocket-Version: 13\r\nUser-Agent: mockd-bench\r\n\r\n")
        return request, accept


# ------------------------------------------------------------------------------ connections

class _Conn(asyncio.Protocol):
    """Handshake, frame parsing and control frames; subclasses implement ``on_frame``."""

    def __init__(self, run, target):
        self.run = run
        self.request, self.accept = target.handshake()
        self.tr = None
        self.open = False
        self.closed = False
        self.buf = b""
        self.n = 0
        self.ready = run.loop.create_future()

    def connection_made(self, transport):
        self.tr = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        transport.write(self.request)

    def connection_lost(self, exc):
        self.closed = True
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"closed during the handshake: {exc}"))
        self.on_lost()

    def on_lost(self):
        if not self.run.stopping:
            self.run.closed_early += 1

    def data_received(self, data):
        if self.open:
            self.frames(data)
            return
        buf = self.buf + data
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            self.buf = buf
            if len(buf) > 16384:
                self._handshake_failed(buf)
            return
        head = buf[:end]
        if not head.startswith(b"HTTP/1.1 101") or self.accept not in head:
            self._handshake_failed(head)
            return
        self.open = True
        self.buf = b""
        self.ready.set_result(self)
        rest = buf[end + 4:]
        if rest:
            self.frames(rest)

    def _handshake_failed(self, head):
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"handshake refused: {bytes(head[:80])!r}"))
        self.tr.abort()

    def frames(self, data):
        buf = self.buf + data if self.buf else data
        size = len(buf)
        pos = 0
        while size - pos >= 2:
            b0 = buf[pos]
            n = buf[pos + 1] & 0x7F
            start = pos + 2
            if n == 126:
                if size - pos < 4:
                    break
                n = (buf[pos + 2] << 8) | buf[pos + 3]
                start = pos + 4
            elif n == 127:
                if size - pos < 10:
                    break
                n = int.from_bytes(buf[pos + 2:pos + 10], "big")
                start = pos + 10
            end = start + n
            if end > size:
                break
            op = b0 & 0x0F
            if op >= 8:
                self.control(op, buf[start:end])
            else:
                self.on_frame(b0, op, start, end)
            pos = end
        self.buf = buf[pos:] if pos < size else b""

    def control(self, op, payload):
        if op == OP_PING:
            self.run.pings += 1
            if not self.closed:
                self.tr.write(client_frame(OP_PONG, payload))
        elif op == OP_CLOSE:
            if not self.closed:
                if not self.run.stopping:
                    self.run.closed_early += 1
                self.closed = True
                self.tr.write(client_frame(OP_CLOSE, payload[:2]))
                self.tr.close()

    def on_frame(self, b0, op, start, end):
        pass

    def close(self):
        if self.tr is not None and not self.tr.is_closing():
            if self.open and not self.closed:
                self.tr.write(CLOSE_FRAME)
            self.tr.close()


class _RttConn(_Conn):
    """One message in flight; the next one leaves when the reply is in."""

    def __init__(self, run, target):
        super().__init__(run, target)
        self.inflight = False
        self.t0 = 0
        self.fast = run.expect  # the exact reply bytes of an echo: compared, not parsed

    def send(self):
        self.inflight = True
        self.t0 = now_ns()
        self.tr.write(self.run.msg)

    def data_received(self, data):
        if data == self.fast and not self.buf:
            self.reply()
        else:
            super().data_received(data)

    def on_frame(self, b0, op, start, end):
        if b0 & 0x80:
            run = self.run
            if run.check_size and op and end - start != run.size:
                run.errors += 1
            self.reply()

    def reply(self):
        t = now_ns()
        if not self.inflight:
            return
        self.inflight = False
        run = self.run
        if run.measuring:
            run.lat.append(t - self.t0)
            self.n += 1
        if run.stopping:
            run.finished_one()
        elif not run.oneshot:
            self.inflight = True
            self.t0 = t
            self.tr.write(run.msg)
        else:
            run.finished_one()

    def on_lost(self):
        super().on_lost()
        if self.inflight:
            self.inflight = False
            self.run.finished_one()


class _FeedConn(_Conn):
    """Receives pushed messages; records inter-arrival times while measuring."""

    last = 0

    def on_frame(self, b0, op, start, end):
        if b0 & 0x80:
            t = now_ns()
            run = self.run
            if run.measuring:
                self.n += 1
                if self.last:
                    run.lat.append(t - self.last)
            self.last = t


class _BigConn(_Conn):
    """Streams one large echo at a time without reassembling it (the client stays cheap)."""

    def __init__(self, run, target):
        super().__init__(run, target)
        self.hdr = b""
        self.remaining = None
        self.t0 = 0
        self.done = None
        self.first = b""
        self.received = 0

    def send_big(self):
        self.done = self.run.loop.create_future()
        self.remaining = None
        self.received = 0
        self.first = b""
        self.t0 = now_ns()
        self.tr.write(self.run.msg)
        return self.done

    def frames(self, data):
        view = memoryview(data)
        while len(view):
            if self.remaining is None:
                hdr = self.hdr + bytes(view[:14])
                view = view[14:]
                if len(hdr) < 2:
                    self.hdr = hdr
                    return
                n = hdr[1] & 0x7F
                h = 2 if n < 126 else 4 if n == 126 else 10
                if len(hdr) < h:
                    self.hdr = hdr
                    return
                n = n if h == 2 else int.from_bytes(hdr[2:h], "big")
                op = hdr[0] & 0x0F
                if op >= 8:  # a control frame is small: keep it whole
                    if len(hdr) + len(view) < h + n:
                        self.hdr = hdr + bytes(view)
                        return
                    whole = hdr + bytes(view)
                    self.hdr = b""
                    view = memoryview(whole)[h + n:]
                    self.control(op, whole[h:h + n])
                    continue
                self.hdr = b""
                self.remaining = n
                view = memoryview(hdr[h:] + bytes(view))
            take = min(len(view), self.remaining)
            if len(self.first) < 64:
                self.first += bytes(view[:64 - len(self.first)])
            self.remaining -= take
            self.received += take
            view = view[take:]
            if self.remaining == 0:
                self.remaining = None
                if self.done is not None and not self.done.done():
                    self.done.set_result(now_ns() - self.t0)


class _ChurnConn(_Conn):
    """Handshake, then close at once; ``finished`` resolves when TCP is gone."""

    def __init__(self, run, target):
        super().__init__(run, target)
        self.finished = run.loop.create_future()

    def on_lost(self):
        if not self.finished.done():
            self.finished.set_result(True)

    def control(self, op, payload):
        if op == OP_CLOSE:
            self.closed = True
            self.tr.close()
        else:
            super().control(op, payload)


# ------------------------------------------------------------------------------ a run

class _Probe:
    """Samples the server's RSS every ``interval`` seconds on the running loop; CPU over the
    window between ``begin()`` and ``end()``."""

    def __init__(self, pid, loop, interval=0.1):
        self.pid, self.loop, self.interval = pid, loop, interval
        self.peak_kib = 0
        self.handle = None
        self.cpu_pct = None

    def start(self):
        if self.pid:
            self.rss0_kib = procstat.rss_kib(self.pid)
            self._tick()

    def _tick(self):
        self.peak_kib = max(self.peak_kib, procstat.rss_kib(self.pid))
        self.handle = self.loop.call_later(self.interval, self._tick)

    def begin(self):
        if self.pid:
            self.t0, self.cpu0 = time.monotonic(), procstat.cpu_ticks(self.pid)

    def end(self):
        if self.pid and hasattr(self, "t0"):
            elapsed = max(1e-9, time.monotonic() - self.t0)
            self.cpu_pct = 100.0 * (procstat.cpu_ticks(self.pid) - self.cpu0) / procstat.CLK_TCK / elapsed

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


class _Run:
    def __init__(self, loop, payload=b"", binary=False, any_reply=False, reply=None):
        self.loop = loop
        reply = payload if reply is None else reply
        self.size = len(reply)
        self.msg = client_frame(OP_BINARY if binary else OP_TEXT, payload)
        self.expect = None if any_reply else server_frame(OP_BINARY if binary else OP_TEXT, reply)
        self.check_size = not any_reply
        self.lat = []
        self.measuring = False
        self.stopping = False
        self.oneshot = False
        self.errors = 0
        self.closed_early = 0
        self.pings = 0
        self.pending = 0
        self.all_done = None
        self.conns = []

    def finished_one(self):
        self.pending -= 1
        if self.pending <= 0 and self.all_done is not None and not self.all_done.done():
            self.all_done.set_result(True)

    async def connect(self, target, factory, count, concurrency=256):
        """Open ``count`` connections (at most ``concurrency`` handshakes at a time)."""
        loop = self.loop
        gate = asyncio.Semaphore(concurrency)

        async def one():
            async with gate:
                _, proto = await loop.create_connection(lambda: factory(self, target), target.host, target.port)
                return await proto.ready

        results = await asyncio.gather(*(one() for _ in range(count)), return_exceptions=True)
        self.conns = [r for r in results if isinstance(r, _Conn)]
        failures = [r for r in results if not isinstance(r, _Conn)]
        if failures and not self.conns:
            raise ConnectionError(f"no connection could be opened: {failures[0]!r}")
        return len(failures), (failures[0] if failures else None)

    def close_all(self):
        for conn in self.conns:
            conn.close()


def _pct(sorted_values, q, scale=1e6):
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * q))] / scale


def _spread(counts):
    counts = sorted(counts) or [0]
    return {"conn_min": counts[0], "conn_median": counts[len(counts) // 2], "conn_max": counts[-1]}


class _ClientCpu:
    def __enter__(self):
        self.r0, self.t0 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
        return self

    def __exit__(self, *exc):
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        used = (r1.ru_utime - self.r0.ru_utime) + (r1.ru_stime - self.r0.ru_stime)
        self.pct = 100.0 * used / max(1e-9, time.monotonic() - self.t0)


async def _measure(run, probe, duration):
    """The measured window shared by every mode: counters on, ``duration`` seconds, counters off.

    :return: ``(elapsed seconds, the _ClientCpu of the window)``.
    """
    with _ClientCpu() as cpu:
        probe.begin()
        run.measuring = True
        t_start = time.perf_counter()
        await asyncio.sleep(duration)
        run.measuring = False
        run.stopping = True
        elapsed = time.perf_counter() - t_start
        probe.end()
    return elapsed, cpu


async def rtt(url, conns=50, duration=5.0, warmup=1.0, payload=b"a" * 32, binary=False,
              any_reply=False, pid=None, stop_timeout=5.0, reply=None):
    """Closed-loop round trips; see the module docstring.

    The reply must be the message itself (an echo) or ``reply`` when given, with the same
    frame type; with ``any_reply`` any data message counts (templated answers)."""
    target = Target(url)
    loop = asyncio.get_running_loop()
    run = _Run(loop, payload, binary, any_reply, reply)
    failed, why = await run.connect(target, _RttConn, conns)
    probe = _Probe(pid, loop)
    probe.start()
    try:
        for conn in run.conns:
            conn.send()
        if warmup > 0:
            await asyncio.sleep(warmup)
        elapsed, cpu = await _measure(run, probe, duration)
        run.pending = sum(1 for c in run.conns if c.inflight and not c.closed)
        if run.pending:
            run.all_done = loop.create_future()
            try:
                await asyncio.wait_for(run.all_done, stop_timeout)
            except asyncio.TimeoutError:
                run.errors += run.pending  # replies that never came
    finally:
        probe.stop()
        run.close_all()
    lat = sorted(run.lat)
    result = {"mode": "rtt", "conns": len(run.conns), "connect_failures": failed, "count": len(lat),
              "elapsed": elapsed, "msgs_per_s": len(lat) / elapsed if elapsed else 0.0,
              "p50_ms": _pct(lat, 0.5), "p99_ms": _pct(lat, 0.99), "max_ms": _pct(lat, 1.0),
              "errors": run.errors, "closed_early": run.closed_early, "client_cpu_pct": cpu.pct,
              **_spread([c.n for c in run.conns]), **probe.fields()}
    if why is not None:
        result["connect_error"] = repr(why)
    await asyncio.sleep(0)
    return result


async def feed(url, conns=500, duration=5.0, warmup=1.0, period=None, pid=None):
    """Receive-only load: every connection counts what the server pushes."""
    target = Target(url)
    loop = asyncio.get_running_loop()
    run = _Run(loop)
    failed, why = await run.connect(target, _FeedConn, conns)
    probe = _Probe(pid, loop)
    probe.start()
    try:
        if warmup > 0:
            await asyncio.sleep(warmup)
        elapsed, cpu = await _measure(run, probe, duration)
    finally:
        probe.stop()
        run.close_all()
    total = sum(c.n for c in run.conns)
    gaps = sorted(run.lat)
    result = {"mode": "feed", "conns": len(run.conns), "connect_failures": failed, "count": total,
              "elapsed": elapsed, "msgs_per_s": total / elapsed if elapsed else 0.0,
              "interval_p50_ms": _pct(gaps, 0.5), "interval_p99_ms": _pct(gaps, 0.99),
              "interval_max_ms": _pct(gaps, 1.0), "closed_early": run.closed_early,
              "client_cpu_pct": cpu.pct, **_spread([c.n for c in run.conns]), **probe.fields()}
    if period:
        result["period_ms"] = period * 1000
        result["ideal_msgs_per_s"] = len(run.conns) / period
        result["skew_p99_ms"] = result["interval_p99_ms"] - period * 1000 if gaps else None
    if why is not None:
        result["connect_error"] = repr(why)
    return result


async def big(url, mib=16.0, repeat=3, pid=None, timeout=60.0):
    """Echo one ``mib`` MiB binary message ``repeat`` times over one connection."""
    target = Target(url)
    loop = asyncio.get_running_loop()
    size = int(mib * (1 << 20))
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    run = _Run(loop)
    run.msg = client_frame(OP_BINARY, payload)
    await run.connect(target, _BigConn, 1)
    conn = run.conns[0]
    await asyncio.sleep(0.2)
    base_kib = procstat.rss_kib(pid) if pid else None
    hwm_reset = procstat.reset_hwm(pid) if pid else False
    times, errors = [], 0
    probe = _Probe(pid, loop, interval=0.02)
    probe.start()
    try:
        with _ClientCpu() as cpu:
            probe.begin()
            for _ in range(repeat):
                try:
                    elapsed_ns = await asyncio.wait_for(conn.send_big(), timeout)
                except asyncio.TimeoutError:
                    errors += 1
                    break
                times.append(elapsed_ns / 1e9)
                if conn.received != size or conn.first != payload[:64]:
                    errors += 1
                if conn.closed:
                    break
            probe.end()
    finally:
        probe.stop()
        run.close_all()
    peak_kib = procstat.hwm_kib(pid) if pid and hwm_reset else (probe.peak_kib if pid else None)
    times.sort()
    result = {"mode": "big", "size_mib": size / (1 << 20), "repeat": len(times), "errors": errors,
              "closed_early": run.closed_early, "seconds_min": times[0] if times else None,
              "seconds_median": times[len(times) // 2] if times else None,
              "seconds_max": times[-1] if times else None, "client_cpu_pct": cpu.pct,
              "server_cpu_pct": probe.cpu_pct, "peak_source": "VmHWM" if hwm_reset else "sampled"}
    if pid:
        result.update({"server_rss_before_mb": base_kib / 1024, "server_peak_rss_mb": peak_kib / 1024,
                       "peak_over_message": (peak_kib - base_kib) * 1024 / size})
    return result


async def idle(url, conns=10000, settle=2.0, pid=None, payload=b"a" * 32, concurrency=200):
    """Open ``conns`` connections, echo one message on each, answer pings, measure RSS/conn."""
    target = Target(url)
    loop = asyncio.get_running_loop()
    procstat.raise_nofile(conns + 256)
    run = _Run(loop, payload)
    run.oneshot = True
    warm = _Run(loop, payload)
    warm.oneshot = True
    await warm.connect(target, _RttConn, 1)  # one-off costs (first greenlet, imports) not counted
    warm.pending = 1
    warm.all_done = loop.create_future()
    warm.conns[0].send()
    await asyncio.wait_for(warm.all_done, 10)
    await asyncio.sleep(0.5)
    base = procstat.rss_kib(pid) if pid else 0
    t0 = time.perf_counter()
    failed, why = await run.connect(target, _RttConn, conns, concurrency)
    connect_s = time.perf_counter() - t0
    run.pending = len(run.conns)
    run.all_done = loop.create_future()
    for conn in run.conns:
        conn.send()
    try:
        await asyncio.wait_for(run.all_done, 30)
    except asyncio.TimeoutError:
        run.errors += run.pending
    await asyncio.sleep(settle)
    after = procstat.rss_kib(pid) if pid else 0
    open_now = sum(1 for c in run.conns if not c.closed)
    run.stopping = True
    run.close_all()
    warm.stopping = True
    warm.close_all()
    await asyncio.sleep(0.2)
    n = len(run.conns)
    result = {"mode": "idle", "conns": n, "connect_failures": failed, "still_open": open_now,
              "connect_s": connect_s, "handshakes_per_s": n / connect_s if connect_s else None,
              "errors": run.errors, "closed_early": run.closed_early, "pings_answered": run.pings}
    if pid:
        result.update({"server_rss_base_mb": base / 1024, "server_rss_after_mb": after / 1024,
                       "kib_per_conn": (after - base) / n if n else None})
    if why is not None:
        result["connect_error"] = repr(why)
    return result


async def churn(url, rate=1000.0, duration=3.0, pid=None, max_inflight=500, tick=0.005):
    """Open, handshake and close connections at ``rate`` per second for ``duration`` s."""
    target = Target(url)
    loop = asyncio.get_running_loop()
    run = _Run(loop)
    run.stopping = True  # a server close is expected here, not an early close
    latencies, failures, skipped = [], [0], 0
    inflight = [0]
    tasks = set()

    async def one():
        inflight[0] += 1
        t0 = now_ns()
        try:
            _, proto = await loop.create_connection(lambda: _ChurnConn(run, target), target.host, target.port)
            await proto.ready
            latencies.append(now_ns() - t0)
            proto.tr.write(CLOSE_FRAME)
            await asyncio.wait_for(proto.finished, 5.0)
        except (OSError, ConnectionError, asyncio.TimeoutError):
            failures[0] += 1
        finally:
            inflight[0] -= 1

    probe = _Probe(pid, loop)
    probe.start()
    launched = 0
    with _ClientCpu() as cpu:
        probe.begin()
        t_start = time.perf_counter()
        while True:
            elapsed = time.perf_counter() - t_start
            if elapsed >= duration:
                break
            due = int(elapsed * rate) + 1 - launched - skipped
            for _ in range(max(0, due)):
                if inflight[0] >= max_inflight:
                    skipped += 1
                    continue
                task = loop.create_task(one())
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                launched += 1
            await asyncio.sleep(tick)
        if tasks:
            await asyncio.wait(set(tasks), timeout=10.0)
        wall = time.perf_counter() - t_start
        probe.end()
    probe.stop()
    lat = sorted(latencies)
    return {"mode": "churn", "target_rate": rate, "duration": duration, "launched": launched,
            "skipped": skipped, "failures": failures[0], "handshakes": len(lat),
            "handshakes_per_s": len(lat) / wall if wall else 0.0,
            "p50_ms": _pct(lat, 0.5), "p99_ms": _pct(lat, 0.99), "max_ms": _pct(lat, 1.0),
            "client_cpu_pct": cpu.pct, **probe.fields()}


# ------------------------------------------------------------------------------ running

def event_loop_name():
    import importlib.util
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


def _fmt(value):
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("url")
    common.add_argument("--pid", type=int, help="server PID: sample its CPU and RSS from /proc")
    common.add_argument("--no-uvloop", action="store_true", help="plain asyncio even when uvloop is installed")
    common.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p = sub.add_parser("rtt", parents=[common], help="closed-loop round trips")
    p.add_argument("-c", "--conns", type=int, default=50)
    p.add_argument("-d", "--duration", type=float, default=5.0)
    p.add_argument("-w", "--warmup", type=float, default=1.0)
    p.add_argument("-s", "--size", type=int, default=32, help="payload bytes of 'a' (default 32)")
    p.add_argument("--payload", help="this exact UTF-8 message instead of --size bytes")
    p.add_argument("--binary", action="store_true")
    p.add_argument("--reply", help="the exact UTF-8 reply expected (default: the message, an echo)")
    p.add_argument("--any-reply", action="store_true", help="accept any reply (templated answers)")
    p = sub.add_parser("feed", parents=[common], help="receive what the server pushes")
    p.add_argument("-c", "--conns", type=int, default=500)
    p.add_argument("-d", "--duration", type=float, default=5.0)
    p.add_argument("-w", "--warmup", type=float, default=1.0)
    p.add_argument("--period", type=float, help="the server's send period in seconds (for the skew)")
    p = sub.add_parser("big", parents=[common], help="echo one large binary message")
    p.add_argument("--mib", type=float, default=16.0)
    p.add_argument("--repeat", type=int, default=3)
    p = sub.add_parser("idle", parents=[common], help="RSS per idle connection")
    p.add_argument("-c", "--conns", type=int, default=10000)
    p.add_argument("--settle", type=float, default=2.0)
    p = sub.add_parser("churn", parents=[common], help="handshakes per second")
    p.add_argument("--rate", type=float, default=1000.0)
    p.add_argument("-d", "--duration", type=float, default=3.0)
    a = parser.parse_args(argv)
    if a.mode == "rtt":
        payload = a.payload.encode("utf-8") if a.payload is not None else b"a" * a.size
        reply = a.reply.encode("utf-8") if a.reply is not None else None
        coro = rtt(a.url, a.conns, a.duration, a.warmup, payload, a.binary, a.any_reply, a.pid, reply=reply)
    elif a.mode == "feed":
        coro = feed(a.url, a.conns, a.duration, a.warmup, a.period, a.pid)
    elif a.mode == "big":
        coro = big(a.url, a.mib, a.repeat, a.pid)
    elif a.mode == "idle":
        coro = idle(a.url, a.conns, a.settle, a.pid)
    else:
        coro = churn(a.url, a.rate, a.duration, a.pid)
    result = run_sync(coro, use_uvloop=not a.no_uvloop)
    result["loop"] = "asyncio" if a.no_uvloop else event_loop_name()
    if a.json:
        print(json.dumps(result))
    else:
        print("RESULT " + " ".join(f"{k}={_fmt(v)}" for k, v in result.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
