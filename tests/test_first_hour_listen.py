"""Issue 11, the listeners a new user meets first: IPv6 addresses written with brackets (item 3),
a default listener that ``localhost`` reaches over IPv6 and IPv4 alike (4), one answer for an
unknown path (6), "address in use" errors that name the option to change (12), and the served
paths in the banner (23).

Through ``python -m mockd serve`` subprocesses and real sockets; every process is ended.
"""
import contextlib
import errno
import json
import socket
import subprocess
import sys
import textwrap
import urllib.request

import pytest
import websocket
from _cli import ADMIN_URL, MOCK_URL, ROOT, end, env, mockd, popen, read_until
from _rawws import Client

from mockd.testing import websocket_mock


def _has_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


needs_ipv6 = pytest.mark.skipif(not _has_ipv6_loopback(), reason="this machine has no IPv6 loopback")


class Started:
    def __init__(self, proc, banner, log_line, log):
        self.proc, self.banner, self.log_line, self.log = proc, banner, log_line, log
        self.port = int(MOCK_URL.search(banner).group(2))
        admin = ADMIN_URL.search(banner)
        self.admin_port = int(admin.group(2)) if admin else None


@contextlib.contextmanager
def serving(*args, proc=None):
    """``mockd serve -p 0 -a 0 ARGS`` until its banner is out: a :class:`Started`."""
    proc = proc or popen("serve", "-p", "0", "-a", "0", "--no-plugin-autoload", *args)
    try:
        _, lines = read_until(proc.stdout, r"^Press Ctrl\+C to stop")
        found, log = read_until(proc.stderr, r"listening ws=\S+ admin=\S+")
        yield Started(proc, "".join(lines), found.group(0), "".join(log))
    finally:
        end(proc)


def echoes(url):
    ws = websocket.create_connection(url, timeout=5)
    try:
        ws.send("hi")
        return ws.recv() == "hi"
    finally:
        ws.close(timeout=1)


def refused(host, port):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.settimeout(5)
        return sock.connect_ex((host, port)) == errno.ECONNREFUSED


# ---------------------------------------------------------------------------- 3: brackets

@pytest.mark.slow
@needs_ipv6
def test_an_ipv6_host_is_written_in_brackets_in_the_banner_and_the_log():
    # --host as copied from a URL ([::1]) and --admin-host as typed (::1) are both understood.
    with serving("--host", "[::1]", "--admin-host", "::1") as server:
        assert f"  Mock server: ws://[::1]:{server.port}\n" in server.banner
        assert f"  Admin API:   http://[::1]:{server.admin_port}\n" in server.banner
        assert server.log_line == f"listening ws=[::1]:{server.port} admin=[::1]:{server.admin_port}"
        assert echoes(f"ws://[::1]:{server.port}/ws")
        # The admin API answers to the Host header a client sends for that URL: [::1]:PORT.
        with urllib.request.urlopen(f"http://[::1]:{server.admin_port}/health", timeout=5) as answer:
            assert json.load(answer)["status"] == "ok"


# ---------------------------------------------------------------------------- 4: dual stack

@pytest.mark.slow
@needs_ipv6
def test_the_default_listener_takes_ipv6_and_ipv4_clients_and_the_admin_api_stays_on_127_0_0_1():
    with serving() as server:
        assert f"  Mock server: ws://localhost:{server.port}\n" in server.banner
        assert server.log_line == f"listening ws=[::]:{server.port} admin=127.0.0.1:{server.admin_port}"
        # Node 17+ resolves localhost to ::1 first, most others to 127.0.0.1: both get in.
        assert echoes(f"ws://[::1]:{server.port}/ws")
        assert echoes(f"ws://127.0.0.1:{server.port}/ws")
        # Loopback IPv4 only, as printed: an admin API on every address would be a choice of the user's.
        assert f"  Admin API:   http://127.0.0.1:{server.admin_port}\n" in server.banner
        assert refused("::1", server.admin_port)


@pytest.mark.slow
@needs_ipv6
def test_an_explicit_0_0_0_0_stays_ipv4_only_and_the_banner_says_127_0_0_1():
    with serving("--host", "0.0.0.0") as server:
        assert f"  Mock server: ws://127.0.0.1:{server.port}\n" in server.banner
        assert server.log_line.startswith(f"listening ws=0.0.0.0:{server.port} ")
        assert echoes(f"ws://127.0.0.1:{server.port}/ws")
        assert refused("::1", server.port)


NO_IPV6 = """\
import errno, os, runpy, socket, sys
import gevent.socket
class NoIPv6(gevent.socket.socket):
    def __init__(self, family=socket.AF_INET, *args, **kwargs):
        if family == socket.AF_INET6:
            raise OSError(errno.EAFNOSUPPORT, os.strerror(errno.EAFNOSUPPORT))
        super().__init__(family, *args, **kwargs)
gevent.socket.socket = NoIPv6
sys.argv = ["mockd", *sys.argv[1:]]
runpy.run_module("mockd", run_name="__main__")
"""


@pytest.mark.slow
def test_without_ipv6_the_default_falls_back_to_ipv4_and_says_so():
    # A process whose IPv6 sockets fail as on a kernel without IPv6.
    proc = subprocess.Popen([sys.executable, "-c", NO_IPV6, "serve", "-p", "0", "-a", "0", "--no-plugin-autoload"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env(), cwd=ROOT)
    with serving(proc=proc) as server:
        assert f"  Mock server: ws://127.0.0.1:{server.port}\n" in server.banner
        assert server.log_line.startswith(f"listening ws=0.0.0.0:{server.port} ")
        assert echoes(f"ws://127.0.0.1:{server.port}/ws")
        assert "WARNING mockd.server: no IPv6 here (Address family not supported by protocol): listening on " \
               "IPv4 only (0.0.0.0)\n" in server.log


def test_help_and_man_page_give_the_default_host():
    result = mockd("serve", "--help")
    assert "(default: ::)" in " ".join(result.stdout.split())
    assert "(default: ::)" in (ROOT / "man" / "mockd.1").read_text(encoding="utf-8")


# ---------------------------------------------------------------------------- 6: unknown path

def test_an_unknown_path_gets_one_json_answer_to_a_handshake_and_to_a_plain_request(make_mockd_server):
    running = make_mockd_server(websocket_mock("/ws"))
    answers = []
    for request in ({"upgrade": True}, {"upgrade": False}, {"upgrade": False, "method": "POST"}):
        client = Client(running.port, "/nope", handshake=False)
        try:
            status_line, headers, body = client.request(**request)
        finally:
            client.sock.close()
        answers.append((status_line.split()[1], headers["content-type"], json.loads(body)))
    assert answers == [("404", "application/json", {"error": "websocket_endpoint_not_found", "path": "/nope"})] * 3


# ---------------------------------------------------------------------------- 12: address in use

@pytest.fixture
def taken_port():
    """A port something else listens on (all IPv4 addresses), as another program would."""
    with socket.socket() as holder:
        holder.bind(("0.0.0.0", 0))
        holder.listen()
        yield holder.getsockname()[1]


@pytest.mark.slow
def test_a_taken_admin_port_names_the_option_that_moves_the_admin_api(taken_port):
    result = mockd("serve", "-p", "0", "-a", taken_port, "--no-plugin-autoload")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.splitlines()[-1] == (
        f"mockd: error: cannot listen on 127.0.0.1:{taken_port} (admin API): Address already in use; choose "
        f"another port with -a/--admin-port (-a 0 picks a free one), or turn the admin API off with --no-admin")


@pytest.mark.slow
def test_a_taken_mock_port_names_the_option_that_moves_the_mock_listener(taken_port):
    result = mockd("serve", "-p", taken_port, "-a", "0", "--no-plugin-autoload")
    assert (result.returncode, result.stdout) == (1, "")
    # "in use" never falls back to IPv4: that would serve beside the program holding the port.
    assert result.stderr.splitlines()[-1] == (
        f"mockd: error: cannot listen on [::]:{taken_port} (mock listener): Address already in use; choose "
        f"another port with -p/--port (-p 0 picks a free one)")


# ---------------------------------------------------------------------------- 23: served paths

@pytest.mark.slow
def test_the_banner_of_a_config_file_lists_its_served_paths(tmp_path):
    mocks = [{"id": f"m{i:02}", "websocket": {"path": f"/feed/{i:02}"}} for i in range(24)]
    mocks[0]["name"] = "First feed"
    mocks[5]["enabled"] = False  # not served, so not listed
    (tmp_path / "many.yaml").write_text(json.dumps({"version": "1.0", "mocks": mocks}), encoding="utf-8")
    (tmp_path / "one.yaml").write_text(textwrap.dedent("""\
        version: "1.0"
        mocks:
          - id: only
            websocket: {path: /only}
        """), encoding="utf-8")
    with serving("--host", "127.0.0.1", "-c", tmp_path / "many.yaml") as server:
        lines = server.banner.splitlines()
    start = lines.index("  Endpoints:")
    shown = [f"    /feed/{i:02}  m{i:02}" for i in range(1, 24) if i != 5][:19]
    assert lines[start + 1:start + 23] == ["    /feed/00  First feed", *shown, "    and 3 more", ""]
    with serving("--host", "127.0.0.1", "-c", tmp_path / "one.yaml") as server:
        assert server.banner.startswith(f"mockd server started (1 mock from {tmp_path / 'one.yaml'})\n")
        assert "\n  Endpoints:\n    /only  only\n\nPress Ctrl+C to stop\n" in server.banner
