"""Load and shutdown (issue 7, items 3 and 6), bounded so that ``.ci/run`` stays quick.

``bench/soak.py`` runs the long versions (10,000 connections, a 10-minute churn soak with
RSS sampling); these prove the same properties at a few thousand connections in seconds.
"""
import re
import signal
import subprocess
import sys
import time

import gevent
import pytest

from _cli import ROOT, env
from _rawws import OP_CLOSE, Client, close_payload, raise_nofile
from mockd.testing import websocket_mock

pytestmark = pytest.mark.usefixtures("no_unhandled_errors")


def fd_budget(per_connection, wanted):
    """How many connections this process can hold (each costs ``per_connection`` fds)."""
    limit = raise_nofile(per_connection * wanted + 512)
    return max(0, min(wanted, (limit - 512) // per_connection))


@pytest.mark.slow
def test_many_concurrent_connections_exchange_messages(make_mockd_server):
    count = fd_budget(2, 2000)  # client and server ends both live in this process
    if count < 500:
        pytest.skip(f"open-file limit allows only {count} connections")
    messages = 20
    config = websocket_mock("/echo")
    config["mocks"].append({"id": "reply", "type": "websocket", "websocket": {
        "path": "/reply", "matchers": [{"match": {"type": "json", "path": "$.n", "value": "0"},
                                        "response": {"type": "text", "value": "zero"}}],
        "defaultResponse": {"type": "json", "value": {"echo": "{{ message.n }}"}}}})
    running = make_mockd_server(config, journal_size=1000)
    errors = []

    def client(index):
        try:
            path = "/echo" if index % 2 else "/reply"
            ws = Client(running.port, path, timeout=60)
            for n in range(messages):
                ws.send_text('{"n": %d, "c": %d}' % (n, index))
                got = ws.recv_data()
                want = '{"n": %d, "c": %d}' % (n, index) if path == "/echo" else \
                    ("zero" if n == 0 else '{"echo":"%d"}' % n)
                if got != want:
                    errors.append((index, n, got))
                    break
                gevent.sleep(0.001 * (index % 7))  # spread the messages over time
            assert ws.close() == 1000
        except Exception as exc:  # noqa: BLE001 - every failure is counted, none stops the others
            errors.append((index, repr(exc)))

    started = time.monotonic()
    jobs = []
    for index in range(count):
        jobs.append(gevent.spawn(client, index))
        if index % 100 == 99:
            gevent.sleep(0.01)  # let the accept loop keep up with the burst
    gevent.joinall(jobs, timeout=120)
    elapsed = time.monotonic() - started
    assert all(job.ready() for job in jobs), "clients still running after 120 s"
    assert errors == [], errors[:10]
    with gevent.Timeout(10, False):
        while len(running.server.connections):
            gevent.sleep(0.05)
    stats = running.server.connections.stats()
    assert stats["activeConnections"] == 0 and stats["totalConnections"] == count
    assert stats["totalMessagesRecv"] == stats["totalMessagesSent"] == count * messages
    print(f"{count} connections x {messages} round trips in {elapsed:.1f} s, 0 errors")


MOCK_URL = re.compile(r"Mock server: ws://[^:]+:(\d+)")
STOPPED = re.compile(r"stopped: (\d+) connections closed, (\d+) messages in, (\d+) out, (\d+) journal entries")


@pytest.mark.slow
def test_sigterm_with_1000_connections_closes_each_with_1001(tmp_path):
    count = 1000
    if fd_budget(1, count) < count:
        pytest.skip("open-file limit too low for 1000 client sockets")
    config = tmp_path / "echo.yaml"
    config.write_text('version: "1.0"\nmocks:\n  - id: echo\n    websocket: {path: /ws, echoMode: true}\n')
    proc = subprocess.Popen([sys.executable, "-m", "mockd", "serve", "-c", str(config), "-p", "0",
                             "--host", "127.0.0.1", "--no-admin"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env(), cwd=ROOT)
    try:
        port = None
        deadline = time.monotonic() + 20
        while port is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                raise AssertionError(f"serve exited early: {proc.wait()} {proc.stderr.read()}")
            match = MOCK_URL.search(line)
            port = int(match.group(1)) if match else None
        clients = []
        for index in range(count):
            clients.append(Client(port, timeout=10))
            if index % 100 == 99:
                gevent.sleep(0)
        for index, client in enumerate(clients):
            client.send_text(f"hello {index}")
        for index, client in enumerate(clients):
            assert client.recv_data() == f"hello {index}"

        def closed_with(client, answer):
            (code, reason), skipped = client.skip_to_close()
            if answer:  # half of the clients answer the close, the others just wait for EOF
                client.send(OP_CLOSE, close_payload(code))
            eof = client.at_eof()
            return code, reason, skipped, eof

        readers = [gevent.spawn(closed_with, client, index % 2 == 0) for index, client in enumerate(clients)]
        gevent.sleep(0.1)
        sent_at = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        with gevent.Timeout(10):
            while proc.poll() is None:
                gevent.sleep(0.02)
        exit_time = time.monotonic() - sent_at
        gevent.joinall(readers, timeout=10)
        outcomes = [job.value for job in readers]
        assert proc.returncode == 0, proc.stderr.read()
        assert exit_time < 5.0, f"exited {exit_time:.2f} s after SIGTERM"
        assert outcomes == [(1001, b"server shutdown", 0, True)] * count, \
            [o for o in outcomes if o != (1001, b"server shutdown", 0, True)][:5]
        stderr = proc.stderr.read()
        last = [line for line in stderr.splitlines() if "stopped:" in line]
        assert last, stderr[-2000:]
        closed, received, sent, journaled = map(int, STOPPED.search(last[-1]).groups())
        assert (closed, received, sent, journaled) == (count, count, count, 2 * count), last[-1]
        assert "Traceback" not in stderr and " ERROR " not in stderr, stderr[-3000:]
        print(f"SIGTERM with {count} connections: all closed 1001, exit 0 after {exit_time:.2f} s; {last[-1]}")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        for client in locals().get("clients", []):
            client.sock.close()


RLIMIT_PROBE = """
import logging, resource, sys
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[1]), int(sys.argv[2]) if sys.argv[2] != "-" else hard))
from mockd.rlimit import raise_open_file_limit
print("soft", raise_open_file_limit(), resource.getrlimit(resource.RLIMIT_NOFILE)[0])
"""


@pytest.mark.parametrize("soft, hard", [(256, "-"), (256, 512)], ids=["raised", "capped-by-hard-limit"])
def test_open_file_limit_is_raised_at_start_or_the_log_says_why_not(soft, hard):
    import resource
    real_hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if real_hard != resource.RLIM_INFINITY and real_hard < 1024:
        pytest.skip("hard open-file limit below 1024 here")
    result = subprocess.run([sys.executable, "-c", RLIMIT_PROBE, str(soft), str(hard)], capture_output=True,
                            text=True, env=env(), cwd=ROOT, timeout=30)
    assert result.returncode == 0, result.stderr
    reported, now = map(int, result.stdout.split()[1:])
    assert reported == now
    if hard == "-":
        expected = 65536 if real_hard == resource.RLIM_INFINITY else min(65536, real_hard)
        assert now == expected and f"open-file limit raised from 256 to {expected}" in result.stderr
    else:
        assert now == 512
        assert "WARNING open-file limit is 512 (hard limit 512): at most about 480 clients" in result.stderr
