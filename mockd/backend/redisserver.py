"""The private ``redis-server`` of ``mockd serve --workers N --cluster auto`` (mockd/workers.py):
the workers' cluster backend (mockd/backend/redis.py) without a Redis to set up. It listens on
no TCP port, only on a Unix socket of mode 0700 in a fresh directory of mode 0700 (the workers,
which run as the same user, are the only clients), saves nothing, and is stopped, its directory
removed, when the supervisor ends; on Linux it also gets SIGTERM should the supervisor die.

Standard library only: the supervisor loads neither redis-py nor gevent.
"""
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from ..errors import MockdError

__all__ = ["REDIS_NEEDED", "PrivateRedis", "die_with_parent"]

log = logging.getLogger("mockd.workers")

REDIS_NEEDED = "--cluster auto needs redis-server (apt-get install redis-server)"


def die_with_parent():
    """A ``preexec_fn``: SIGTERM to the child when this process dies (Linux), or None."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec():  # in the child, between fork and exec: no imports, no locks
        prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the supervisor died before prctl: nobody would tell us
            os._exit(1)
    return preexec


class PrivateRedis:
    """The running ``redis-server`` (``proc``); ``url``, ``unix://PATH?db=0``, is the workers' --cluster.

    :raises MockdError: no redis-server on PATH (:data:`REDIS_NEEDED`), or it did not start.
    """

    def __init__(self):
        binary = shutil.which("redis-server")
        if binary is None:
            raise MockdError(REDIS_NEEDED)
        self.directory = tempfile.mkdtemp(prefix="mockd-redis-")  # mode 0700
        if len(self.directory) > 90:  # a Unix socket's path has room for 107 bytes
            os.rmdir(self.directory)
            self.directory = tempfile.mkdtemp(prefix="mockd-redis-", dir="/tmp")
        self.socket = os.path.join(self.directory, "redis.sock")
        self.url = f"unix://{self.socket}?db=0"
        self._log = os.path.join(self.directory, "redis.log")
        try:
            # Its own process group: Ctrl+C in a terminal must not stop it before the workers.
            self.proc = subprocess.Popen(
                [binary, "--port", "0", "--unixsocket", self.socket, "--unixsocketperm", "700", "--save", "",
                 "--appendonly", "no", "--dir", self.directory, "--logfile", self._log, "--daemonize", "no"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                process_group=0, preexec_fn=die_with_parent())
        except OSError as exc:
            shutil.rmtree(self.directory, ignore_errors=True)
            raise MockdError(f"cannot start {binary}: {exc.strerror or exc}") from None
        self._wait()

    def _wait(self, timeout=10.0):
        import socket
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            try:
                with socket.socket(socket.AF_UNIX) as sock:
                    sock.settimeout(0.5)
                    sock.connect(self.socket)
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        log.info("private redis-server (pid %d) on %s", self.proc.pid, self.socket)
                        return
            except OSError:
                pass
            time.sleep(0.02)
        tail = self.log_tail()
        self.stop()
        raise MockdError("the private redis-server of --cluster auto did not start" + (f": {tail}" if tail else ""))

    def log_tail(self):
        try:
            with open(self._log, encoding="utf-8", errors="replace") as fh:
                return " | ".join(line.strip() for line in fh.readlines()[-3:])
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.directory, ignore_errors=True)
