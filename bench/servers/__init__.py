"""The servers ``python -m bench`` measures: mockd (through ``mockd serve``) and the baselines.

Each baseline is a script of its own, started as a subprocess on a free 127.0.0.1 port; it
prints ``LISTENING <port>`` once bound:

- ``gevent_bare.py``: bare gevent-websocket (the floor every ratio is taken against);
- ``websockets_echo.py``: the ``websockets`` library on asyncio (uvloop when installed);
- ``node_ws_echo.js``: Node's ``ws`` (``npm --prefix bench/node install`` first).

:class:`Server` starts any of them and finds its port; the ``*_server`` functions say how.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
NODE_WS = HERE.parent / "node" / "node_modules" / "ws"
PORT_LINE = re.compile(rb"LISTENING (\d+)|ws://(?:\[[^\]\s]+\]|[^\s:/\[]+):(\d+)")  # [::1] too
ADMIN_LINE = re.compile(rb"Admin API:\s+https?://\S+:(\d+)")  # mockd's banner, when asked for


class Pinning:
    """The CPU every server runs on and the one the load generator runs on.

    With two cores, a ping-pong client and server that the scheduler puts on one core run at
    half speed (each waits for the other), on two cores at full speed, and Linux moves them
    between the two from one run to the next; pinning makes every run the second case.
    """

    def __init__(self, server_cpu, client_cpu):
        self.server_cpu, self.client_cpu = server_cpu, client_cpu

    @classmethod
    def pin_this_process(cls):
        """Pin this process (the load generator) to the first CPU it may use and keep the second
        for the servers; None when there are fewer than two or affinity cannot be set."""
        if not hasattr(os, "sched_setaffinity"):
            return None
        allowed = sorted(os.sched_getaffinity(0))
        if len(allowed) < 2:
            return None
        try:
            os.sched_setaffinity(0, {allowed[0]})
        except OSError:
            return None
        return cls(server_cpu=allowed[1], client_cpu=allowed[0])


class Server:
    """One server subprocess; ``start()`` waits for the line that tells its port."""

    def __init__(self, name, argv, pinning=None, cpu=None, admin=False):
        self.name, self.argv, self.pinning = name, argv, pinning
        # The CPU of a pinned run: the servers' one unless told (the proxy's upstream).
        self.cpu = None if pinning is None else pinning.server_cpu if cpu is None else cpu
        self.proc = None
        self.port = None
        self.admin = admin      # mockd with its admin API: start() waits for its port too
        self.admin_port = None
        self._stderr = None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def url(self, path="/"):
        return f"ws://127.0.0.1:{self.port}{path}"

    def admin_url(self, path="/"):
        return f"http://127.0.0.1:{self.admin_port}{path}"

    def start(self, timeout=30.0):
        self._stderr = tempfile.TemporaryFile()
        argv = self.argv
        taskset = self.pinning is not None and shutil.which("taskset")
        if taskset:  # from exec on, so that every thread the server starts inherits it
            argv = ["taskset", "-c", str(self.cpu)] + argv
        self.proc = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self._stderr)
        if self.pinning is not None and not taskset:
            os.sched_setaffinity(self.proc.pid, {self.cpu})
        found = {}
        threading.Thread(target=_read_port, args=(self.proc.stdout, found), daemon=True).start()
        deadline = time.monotonic() + timeout
        while "port" not in found or (self.admin and "admin" not in found):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                err = self.stderr_tail()
                self.stop()
                raise RuntimeError(f"server {self.name} did not start: {err}")
            time.sleep(0.02)
        self.port, self.admin_port = found["port"], found.get("admin")
        return self

    def stderr_tail(self, size=600):
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")[-size:]

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


def _read_port(stdout, found):
    """Put the first port the server announces into ``found["port"]`` and mockd's admin port
    into ``found["admin"]``, then keep draining its output so that a chatty server never blocks
    on a full pipe."""
    for line in stdout:
        if "admin" not in found:
            match = ADMIN_LINE.search(line)
            if match:
                found["admin"] = int(match.group(1))
        if "port" not in found:
            match = PORT_LINE.search(line)
            if match:
                found["port"] = int(match.group(1) or match.group(2))


def gevent_server(feed_period, pinning=None, name="gevent-bare", cpu=None):
    return Server(name, [sys.executable, str(HERE / "gevent_bare.py"), "--feed-period", str(feed_period)],
                  pinning, cpu)


def upstream_server(feed_period, pinning=None):
    """The upstream of mockd's ``/proxy``: a second bare server, on the load generator's CPU when
    pinned, so that the proxy has a core of its own, as a proxy and the backend behind it do when
    deployed. (On one core the pair can never pass half the upstream's throughput: each round
    trip costs both servers' CPU; the report gives mockd's CPU per round trip as well.)"""
    return gevent_server(feed_period, pinning, name="gevent-upstream",
                         cpu=None if pinning is None else pinning.client_cpu)


def websockets_server(pinning=None):
    return Server("websockets", [sys.executable, str(HERE / "websockets_echo.py")], pinning)


def node_server(pinning=None):
    return Server("node-ws", ["node", str(HERE / "node_ws_echo.js")], pinning)


def mockd_server(config_path, pinning=None, journal_size=10000, name="mockd", extra=(), admin=False):
    """``mockd serve`` on a free port; with ``admin`` its admin API on another (``-a 0``)."""
    return Server(name, [sys.executable, "-m", "mockd", "serve", "-c", str(config_path), "--host", "127.0.0.1",
                         "-p", "0", *(("-a", "0") if admin else ("--no-admin",)), "--journal-size", str(journal_size),
                         "--log-level", "warning", "--no-plugin-autoload", *extra], pinning, admin=admin)


WORKERS = 2


def workers_server(config_path, pinning=None):
    """``mockd serve --workers 2`` (``--cluster auto``: the supervisor starts a private
    ``redis-server`` on a Unix socket); pinned, the supervisor, both workers and that Redis
    share the servers' CPU (taskset is inherited)."""
    return mockd_server(config_path, pinning, name=f"mockd-workers{WORKERS}",
                        extra=("--workers", str(WORKERS), "--cluster", "auto"))


class RedisProcess:
    """A private ``redis-server`` on a free port for ``mockd-cluster`` (``--cluster``), on the
    load generator's CPU when pinned; RuntimeError when none is installed (the case is left out)."""

    def __init__(self, pinning=None):
        import socket
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("no redis-server installed: the --cluster case is left out")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._dir = tempfile.TemporaryDirectory()
        argv = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", self._dir.name]
        if pinning is not None and shutil.which("taskset"):
            argv = ["taskset", "-c", str(pinning.client_cpu)] + argv
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.02)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)
        self._dir.cleanup()


def node_installed():
    return shutil.which("node") is not None and NODE_WS.exists()
