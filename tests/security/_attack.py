"""What the security tests share: a real ``mockd serve`` subprocess to attack, its memory, and
a bystander client that must keep being served while the attack goes on.

Every test in tests/security/ attacks a subprocess (not an in-process server), so that a hang,
a crash or a memory blow-up shows as it would for a user. Only 127.0.0.1.
"""
import os
import pathlib
import re
import time

import websocket

from _cli import ADMIN_URL, MOCK_URL, end, popen, read_until

ECHO = """\
version: "1.0"
mocks:
  - id: echo
    type: websocket
    websocket:
      path: /ws
      echoMode: true
"""


class Target:
    """``mockd serve --host 127.0.0.1 -p 0 -a 0 ARGS`` with ``port``, ``admin_port``, ``pid``."""

    def __init__(self, *args, config=None, tmp_path=None, **env_extra):
        argv = ["serve", "--host", "127.0.0.1", "-p", "0", "-a", "0"]
        if config is not None:
            path = pathlib.Path(tmp_path) / "mockd.yaml"
            path.write_text(config, encoding="utf-8")
            self.config_path = path
            argv += ["-c", str(path)]
        self.proc = popen(*argv, *args, **env_extra)
        try:
            _found, banner = read_until(self.proc.stdout, r"Press Ctrl\+C")
        except AssertionError as exc:
            _out, err = end(self.proc)
            raise AssertionError(f"mockd serve did not start: {exc}; stderr: {err}") from None
        text = "".join(banner)
        self.port = int(MOCK_URL.search(text).group(2))
        admin = ADMIN_URL.search(text)
        self.admin_port = int(admin.group(2)) if admin else None
        self.banner = text

    @property
    def pid(self):
        return self.proc.pid

    def url(self, path="/ws"):
        return f"ws://127.0.0.1:{self.port}{path}"

    @property
    def admin_url(self):
        return f"http://127.0.0.1:{self.admin_port}"

    def rss_kib(self):
        """Resident memory of the server process now, in KiB (from /proc)."""
        return rss_kib(self.pid)

    def open_fds(self):
        """How many file descriptors the server process holds now (from /proc)."""
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        """End the server; (stdout, stderr) it printed that was not read yet."""
        return end(self.proc)


def rss_kib(pid):
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        return int(re.search(r"VmRSS:\s+(\d+) kB", fh.read()).group(1))


def served(url, timeout=2.0, payload="still-here"):
    """Whether a fresh client gets its echo within ``timeout`` seconds (the bystander check)."""
    started = time.monotonic()
    try:
        ws = websocket.create_connection(url, timeout=timeout)
        try:
            ws.send(payload)
            return ws.recv() == payload and time.monotonic() - started < timeout
        finally:
            ws.close(timeout=0.5)
    except (OSError, websocket.WebSocketException):
        return False
