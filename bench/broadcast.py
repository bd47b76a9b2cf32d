"""Broadcast delivery latency (issue 16): ``POST /websocket/broadcast`` to one node of a
two-node cluster whose clients are spread over both nodes, against one process that has them all.

:func:`run_broadcast` starts the servers (one ``mockd serve`` and two ``--cluster`` nodes,
``a`` and ``b``, each with its admin API on a free port), opens the clients, and alternates
broadcasts between the two sides (one to the single process, one to node ``a``, and so on), so
that a burst of other load on the machine hits both alike.

The clients are plain non-blocking sockets read with ``recvmsg`` and the kernel's receive
timestamps (``SO_TIMESTAMPNS``). A broadcast's payload carries its send time (wall clock, taken
just before the POST); a frame's delivery latency is the time the kernel took the frame in
minus that. So the load generator's own reading of 1,000 sockets, one after another on its one
core, is not counted: only what the servers (and, for the cluster, Redis) take.
"""
import http.client
import json
import select
import socket
import struct
import time

from . import procstat
from .frames import OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, Endpoint, client_frame, frame_header
from .sampling import latency_fields, spread

MOCK_ID = "echo"               # any mock's clients take a broadcast; /echo is the plain one
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)   # Linux's value where Python does not name it
TIMESPEC = struct.Struct("qq")
HANDSHAKE_BATCH = 100          # handshakes in flight at a time while the clients connect
DRAIN_TIMEOUT = 15.0           # seconds a broadcast may take to reach every client (mockd waits 12 s for nodes)
PAUSE = 0.02                   # seconds between two broadcasts


class Clients:
    """WebSocket clients of one side (several servers' URLs: the cluster's nodes), every socket
    in one epoll set; :meth:`drain` reads until each has had the frame of one broadcast."""

    def __init__(self, urls_and_counts):
        procstat.raise_nofile()
        self.poll = select.epoll()
        self.socks, self.pending = {}, {}   # by fd: the socket, the bytes not parsed yet
        self.closed = 0
        try:
            for url, count in urls_and_counts:
                endpoint = Endpoint(url)
                for first in range(0, count, HANDSHAKE_BATCH):
                    self._open(endpoint, min(HANDSHAKE_BATCH, count - first))
        except BaseException:
            self.close()
            raise

    def _open(self, endpoint, count):
        opened = []
        for _ in range(count):
            sock = socket.create_connection((endpoint.host, endpoint.port), timeout=10)
            self.socks[sock.fileno()] = sock  # closed by close() whatever happens next
            request, accept = endpoint.handshake()
            sock.sendall(request)
            opened.append((sock, accept))
        for sock, accept in opened:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = sock.recv(4096)
                if not chunk:
                    raise ConnectionError(f"{endpoint.url}: closed during the handshake")
                head += chunk
            head, _, rest = head.partition(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 101") or accept not in head:
                raise ConnectionError(f"{endpoint.url}: handshake refused: {head[:80]!r}")
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            sock.setblocking(False)
            fd = sock.fileno()
            self.pending[fd] = rest
            self.poll.register(fd, select.EPOLLIN)

    def drain(self, seq, timeout=DRAIN_TIMEOUT):
        """Read until every client has had broadcast ``seq`` or ``timeout`` passes.

        :return: ``({fd: delivery latency in ns}, frames of earlier broadcasts that came late)``.
        """
        waiting, latencies, late = set(self.socks), {}, 0
        deadline = time.monotonic() + timeout
        while waiting and (left := deadline - time.monotonic()) > 0:
            for fd, _ in self.poll.poll(left):
                for got_seq, latency in self._read(fd):
                    if got_seq == seq and fd in waiting:
                        waiting.discard(fd)
                        latencies[fd] = latency
                    else:
                        late += 1
                if fd not in self.socks:  # closed: counted in ``closed``, not waited for
                    waiting.discard(fd)
        return latencies, late

    def _read(self, fd):
        """The broadcasts that came on ``fd``: ``(seq, ns from its send time to its arrival)``."""
        sock = self.socks[fd]
        try:
            data, ancillary, _, _ = sock.recvmsg(65536, socket.CMSG_SPACE(TIMESPEC.size))
        except BlockingIOError:
            return []
        except OSError:
            data = b""
        if not data:
            self._lost(fd)
            return []
        arrived = time.time_ns()
        for level, kind, value in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                seconds, nanoseconds = TIMESPEC.unpack(value[:TIMESPEC.size])
                arrived = seconds * 1_000_000_000 + nanoseconds
        buf, pos, got = self.pending[fd] + data, 0, []
        while (header := frame_header(buf, pos)) is not None and header[2] <= len(buf):
            first_byte, start, pos = header
            opcode = first_byte & 0x0F
            if opcode == OP_PING:
                sock.send(client_frame(OP_PONG, buf[start:pos]))
            elif opcode == OP_CLOSE:
                self._lost(fd)
                return got
            elif opcode == OP_TEXT:
                sent = json.loads(buf[start:pos])
                got.append((sent["seq"], arrived - sent["sentNs"]))
        self.pending[fd] = buf[pos:]
        return got

    def _lost(self, fd):
        self.closed += 1
        self.poll.unregister(fd)
        self.socks.pop(fd).close()

    def close(self):
        for sock in self.socks.values():
            sock.close()
        self.socks.clear()
        self.poll.close()


def post_broadcast(server, seq):
    """``POST /websocket/broadcast`` to ``server``'s admin API, the payload carrying ``seq`` and
    the send time. :return: ``(send time in wall-clock ns, the count the API answers)``."""
    conn = http.client.HTTPConnection("127.0.0.1", server.admin_port, timeout=DRAIN_TIMEOUT)
    try:
        conn.connect()
        sent_ns = time.time_ns()
        body = json.dumps({"mockId": MOCK_ID, "type": "text",
                           "data": json.dumps({"type": "bench-broadcast", "seq": seq, "sentNs": sent_ns})})
        conn.request("POST", "/websocket/broadcast", body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        answer = response.read()
    finally:
        conn.close()
    if response.status != 200:
        raise RuntimeError(f"{server.name}: POST /websocket/broadcast answered {response.status}: {answer[:200]!r}")
    return sent_ns, json.loads(answer)["sent"]


class Side:
    """One side of the comparison: the servers whose clients take the broadcast, the one it is
    posted to, and what every counted broadcast gave."""

    def __init__(self, name, servers, clients_each):
        self.name, self.servers, self.target = name, servers, servers[0]
        self.clients = Clients([(server.url(f"/{MOCK_ID}"), clients_each) for server in servers])
        self.latencies, self.delivered, self.answered, self.lasts, self.posts = [], [], [], [], []
        self.late, self.cpu_ticks, self.seconds = 0, 0, 0.0
        self.frames = dict.fromkeys(self.clients.socks, 0)   # counted broadcasts each client had

    def broadcast(self, seq, counted):
        ticks, started = sum(procstat.cpu_ticks(server.pid) for server in self.servers), time.monotonic()
        sent_ns, answered = post_broadcast(self.target, seq)
        posted = time.time_ns() - sent_ns
        latencies, late = self.clients.drain(seq)
        if not counted:
            return
        self.cpu_ticks += sum(procstat.cpu_ticks(server.pid) for server in self.servers) - ticks
        self.seconds += time.monotonic() - started
        self.latencies += latencies.values()
        self.late += late
        for fd in latencies:
            self.frames[fd] += 1
        self.delivered.append(len(latencies))
        self.answered.append(answered)
        self.lasts.append(max(latencies.values(), default=0))
        self.posts.append(posted)

    def result(self):
        clients, deliveries = len(self.frames), len(self.latencies)
        cpu_s = self.cpu_ticks / procstat.CLK_TCK
        worst = min((min(got, said) for got, said in zip(self.delivered, self.answered)), default=0)
        return {"servers": [server.name for server in self.servers], "posted_to": self.target.name,
                "clients": clients, "broadcasts": len(self.delivered), "deliveries": deliveries,
                "delivered_min": min(self.delivered, default=0), "delivered_max": max(self.delivered, default=0),
                "sent_min": min(self.answered, default=0), "sent_max": max(self.answered, default=0),
                "complete": worst / clients if clients else 0.0,
                "missed": len(self.delivered) * clients - deliveries, "late": self.late, "closed": self.clients.closed,
                **latency_fields(self.latencies), **{f"last_{key}": value for key, value in
                                                     latency_fields(self.lasts).items()},
                "post_p50_ms": latency_fields(self.posts)["p50_ms"],
                "server_cpu_pct": 100.0 * cpu_s / self.seconds if self.seconds else None,
                "us_per_delivery": cpu_s * 1e6 / deliveries if deliveries else None,
                "server_rss_mb": sum(procstat.rss_kib(server.pid) for server in self.servers) / 1024,
                **spread(list(self.frames.values()))}


def run_broadcast(plan, make_mockd, redis_url, log):
    """Broadcasts to ``plan.broadcast_clients`` clients, alternating between one mockd with all
    of them and node ``a`` of a two-node cluster (``--cluster redis_url``) with half on each
    node. ``make_mockd(name, admin=True, extra=...)`` makes a mockd Server.

    :return: ``{"single": result, "cluster": result}`` (see :meth:`Side.result`).
    """
    started, sides = [], []
    try:
        started.append(make_mockd(name="mockd-admin", admin=True).start())
        for node in "ab":
            started.append(make_mockd(name=f"mockd-node-{node}", admin=True,
                                      extra=("--cluster", redis_url, "--node-id", node)).start())
        _wait_for_nodes(started[1], {"a", "b"})
        half = plan.broadcast_clients // 2
        log(f"broadcast: {plan.broadcast_clients} clients on mockd, {half} on each of nodes a and b")
        sides += [Side("single", started[:1], plan.broadcast_clients), Side("cluster", started[1:], half)]
        log(f"broadcast: {plan.broadcasts} broadcasts to each side (+{plan.broadcast_warmup} warm-up), alternating")
        for seq in range(plan.broadcast_warmup + plan.broadcasts):
            for side in sides:
                side.broadcast(seq, counted=seq >= plan.broadcast_warmup)
                time.sleep(PAUSE)
        return {side.name: side.result() for side in sides}
    finally:
        for side in sides:
            side.clients.close()
        for server in started:
            server.stop()


def _wait_for_nodes(server, wanted, timeout=10.0):
    """Wait until ``GET /cluster`` lists exactly the ``wanted`` nodes (a node that left without
    saying so stays listed for 5 s, and a broadcast would wait for its answer)."""
    deadline = time.monotonic() + timeout
    while True:
        conn = http.client.HTTPConnection("127.0.0.1", server.admin_port, timeout=5)
        try:
            conn.request("GET", "/cluster")
            nodes = {node["id"] for node in json.loads(conn.getresponse().read())["nodes"]}
        finally:
            conn.close()
        if nodes == wanted:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the cluster lists nodes {sorted(nodes)}, not {sorted(wanted)}")
        time.sleep(0.2)
