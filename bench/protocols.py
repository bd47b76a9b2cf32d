"""The load generator's connections (asyncio protocols, one class a mode) and a run's shared state.

:class:`Connection` does the handshake, splits the server's frames and answers control frames;
each mode's subclass says what a data frame means to it. A :class:`Run` holds what every
connection of one run shares: the message, the reply expected, the counters and the latencies.
"""
import asyncio
import socket
import time

from .frames import (CLOSE_FRAME, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, client_frame, frame_header,
                     server_frame)

now_ns = time.perf_counter_ns
MAX_HANDSHAKE_REPLY = 16384


class Connection(asyncio.Protocol):
    """Handshake, frame splitting and control frames; subclasses implement ``on_frame``."""

    def __init__(self, run, endpoint):
        self.run = run
        self.request, self.accept = endpoint.handshake()
        self.transport = None
        self.open = False
        self.closed = False
        self.pending = b""   # bytes of a frame (or of the handshake reply) not all in yet
        self.count = 0       # messages counted while measuring
        self.ready = run.loop.create_future()

    def connection_made(self, transport):
        self.transport = transport
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
            self.receive_frames(data)
            return
        received = self.pending + data
        end = received.find(b"\r\n\r\n")
        if end < 0:
            self.pending = received
            if len(received) > MAX_HANDSHAKE_REPLY:
                self._handshake_failed(received)
            return
        head = received[:end]
        if not head.startswith(b"HTTP/1.1 101") or self.accept not in head:
            self._handshake_failed(head)
            return
        self.open = True
        self.pending = b""
        self.ready.set_result(self)
        self.on_open()
        rest = received[end + 4:]
        if rest:
            self.receive_frames(rest)

    def _handshake_failed(self, head):
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"handshake refused: {bytes(head[:80])!r}"))
        self.transport.abort()

    def receive_frames(self, data):
        """Hand every whole frame to ``control`` or ``on_frame``; keep the rest for later."""
        buf = self.pending + data if self.pending else data
        size = len(buf)
        pos = 0
        while True:
            header = frame_header(buf, pos)
            if header is None or header[2] > size:
                break
            first_byte, start, end = header
            opcode = first_byte & 0x0F
            if opcode >= 8:
                self.control(opcode, buf[start:end])
            else:
                self.on_frame(first_byte, opcode, start, end)
            pos = end
        self.pending = buf[pos:] if pos < size else b""

    def control(self, opcode, payload):
        if opcode == OP_PING:
            self.run.pings += 1
            if not self.closed:
                self.transport.write(client_frame(OP_PONG, payload))
        elif opcode == OP_CLOSE:
            if not self.closed:
                if not self.run.stopping:
                    self.run.closed_early += 1
                self.closed = True
                self.transport.write(client_frame(OP_CLOSE, payload[:2]))
                self.transport.close()

    def on_open(self):
        """The handshake is done: a mode that speaks a protocol on top sets it up here."""

    def on_frame(self, first_byte, opcode, start, end):
        """A data frame's payload is ``start:end`` of what came; a mode counts what it needs."""

    def close(self):
        if self.transport is not None and not self.transport.is_closing():
            if self.open and not self.closed:
                self.transport.write(CLOSE_FRAME)
            self.transport.close()


class RoundTripConnection(Connection):
    """One message in flight; the next one leaves when the reply is in."""

    def __init__(self, run, endpoint):
        super().__init__(run, endpoint)
        self.inflight = False
        self.sent_ns = 0
        self.expected_reply = run.expected_reply  # an echo's exact bytes: compared, not parsed

    def send(self):
        self.inflight = True
        self.sent_ns = now_ns()
        self.transport.write(self.run.message)

    def data_received(self, data):
        if data == self.expected_reply and not self.pending:
            self.reply()
        else:
            super().data_received(data)

    def on_frame(self, first_byte, opcode, start, end):
        if first_byte & 0x80:
            run = self.run
            if run.check_size and opcode and end - start != run.reply_size:
                run.errors += 1
            self.reply()

    def reply(self):
        arrived_ns = now_ns()
        if not self.inflight:
            return
        self.inflight = False
        run = self.run
        if run.measuring:
            run.samples.append(arrived_ns - self.sent_ns)
            self.count += 1
        if run.stopping or run.oneshot:
            run.finished_one()
        else:
            self.inflight = True
            self.sent_ns = arrived_ns
            self.transport.write(run.message)

    def on_lost(self):
        super().on_lost()
        if self.inflight:
            self.inflight = False
            self.run.finished_one()


class FeedConnection(Connection):
    """Receives pushed messages; records the gaps between them while measuring."""

    last_ns = 0

    def on_frame(self, first_byte, opcode, start, end):
        if first_byte & 0x80:
            arrived_ns = now_ns()
            run = self.run
            if run.measuring:
                self.count += 1
                if self.last_ns:
                    run.samples.append(arrived_ns - self.last_ns)
            self.last_ns = arrived_ns


class BigEchoConnection(Connection):
    """Streams one large echo at a time without reassembling it (the client stays cheap)."""

    KEPT = 64  # leading payload bytes kept, to check that the echo is the message

    def __init__(self, run, endpoint):
        super().__init__(run, endpoint)
        self.remaining = None   # payload bytes of the current data frame still to come
        self.sent_ns = 0
        self.done = None
        self.first = b""
        self.received = 0

    def send_big(self):
        """Send the run's message; a future of the nanoseconds until its echo is all in."""
        self.done = self.run.loop.create_future()
        self.remaining = None
        self.received = 0
        self.first = b""
        self.sent_ns = now_ns()
        self.transport.write(self.run.message)
        return self.done

    def receive_frames(self, data):
        view = memoryview(data)
        while len(view):
            view = self._take_payload(view) if self.remaining is not None else self._start_frame(view)

    def _start_frame(self, view):
        """Read the next frame's header (kept in ``pending`` until whole); what follows it."""
        buf = self.pending + bytes(view)
        header = frame_header(buf)
        if header is None or ((header[0] & 0x0F) >= 8 and header[2] > len(buf)):
            self.pending = buf
            return memoryview(b"")
        self.pending = b""
        first_byte, start, end = header
        if (first_byte & 0x0F) >= 8:  # a control frame is small: handled whole
            self.control(first_byte & 0x0F, buf[start:end])
            return memoryview(buf)[end:]
        self.remaining = end - start
        return self._take_payload(memoryview(buf)[start:])

    def _take_payload(self, view):
        take = min(len(view), self.remaining)
        if len(self.first) < self.KEPT:
            self.first += bytes(view[:min(take, self.KEPT - len(self.first))])
        self.remaining -= take
        self.received += take
        if self.remaining == 0:
            self.remaining = None
            if self.done is not None and not self.done.done():
                self.done.set_result(now_ns() - self.sent_ns)
        return view[take:]


class ChurnConnection(Connection):
    """Handshake, then close at once; ``finished`` resolves when TCP is gone."""

    def __init__(self, run, endpoint):
        super().__init__(run, endpoint)
        self.finished = run.loop.create_future()

    def on_lost(self):
        if not self.finished.done():
            self.finished.set_result(True)

    def control(self, opcode, payload):
        if opcode == OP_CLOSE:
            self.closed = True
            self.transport.close()
        else:
            super().control(opcode, payload)


class Run:
    """What the connections of one run share: the message, the reply, counters, latencies."""

    def __init__(self, loop, payload=b"", binary=False, any_reply=False, reply=None):
        self.loop = loop
        opcode = OP_BINARY if binary else OP_TEXT
        reply = payload if reply is None else reply
        self.reply_size = len(reply)
        self.message = client_frame(opcode, payload)
        self.expected_reply = None if any_reply else server_frame(opcode, reply)
        self.check_size = not any_reply
        self.samples = []        # nanoseconds: round trips, or gaps between pushed messages
        self.measuring = False
        self.stopping = False
        self.oneshot = False     # one round trip per connection, then idle
        self.errors = 0
        self.closed_early = 0
        self.pings = 0
        self.pending = 0         # connections whose last reply has not come yet
        self.all_done = None
        self.conns = []

    def finished_one(self):
        self.pending -= 1
        if self.pending <= 0 and self.all_done is not None and not self.all_done.done():
            self.all_done.set_result(True)

    async def wait_all(self, timeout):
        """Wait for the last reply of every connection with one in flight; count those that
        never come as errors."""
        if self.pending <= 0:
            return
        self.all_done = self.loop.create_future()
        try:
            await asyncio.wait_for(self.all_done, timeout)
        except asyncio.TimeoutError:
            self.errors += self.pending

    async def connect(self, endpoint, factory, count, concurrency=256):
        """Open ``count`` connections (at most ``concurrency`` handshakes at a time).

        :return: ``(failed connections, the first failure or None)``.
        """
        gate = asyncio.Semaphore(concurrency)
        results = await asyncio.gather(*(_open(self, endpoint, factory, gate) for _ in range(count)),
                                       return_exceptions=True)
        self.conns = [result for result in results if isinstance(result, Connection)]
        failures = [result for result in results if not isinstance(result, Connection)]
        if failures and not self.conns:
            raise ConnectionError(f"no connection could be opened: {failures[0]!r}")
        return len(failures), (failures[0] if failures else None)

    def close_all(self):
        for conn in self.conns:
            conn.close()


async def _open(run, endpoint, factory, gate):
    async with gate:
        _, protocol = await run.loop.create_connection(lambda: factory(run, endpoint), endpoint.host, endpoint.port)
        return await protocol.ready
