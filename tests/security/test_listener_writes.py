"""Review finding next to issue 10 item 4: answers to a client that never reads them.

The request deadline covered reading a request, not writing its answer: on the admin listener
(``--admin-token`` or not) 100 clients pipelining ``GET /health`` and never reading were all
still held after 45 s, an fd and a greenlet each, and one such connection kept the event loop
to itself while the kernel took its answers (20,000 pipelined requests: no other client served
for 3 s). Now every write of an answer must make progress within ``--handshake-timeout``, an
admin socket holds at most 64 KiB of unsent answers, and a keep-alive connection lets the
others run between two requests.
"""
import socket
import time

import gevent
import pytest

from _attack import ECHO, served
from mockd.adminclient import AdminClient

REQUEST = b"GET /openapi.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"  # a 40 KB answer


def _pipeline(port, requests, rcvbuf=4096):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # before connect: a small window
    sock.connect(("127.0.0.1", port))
    sock.sendall(REQUEST * requests)
    return sock


def _health_in(server, seconds):
    started = time.monotonic()
    reply = AdminClient(server.admin_url, timeout=seconds).get("/health")
    return reply.status == 200 and time.monotonic() - started < seconds


@pytest.mark.slow
def test_clients_that_never_read_their_answers_are_closed(target):
    server = target("--handshake-timeout", "1", config=ECHO)
    before = server.open_fds()
    started = time.monotonic()
    socks = [_pipeline(server.admin_port, 50) for _ in range(100)]
    gevent.sleep(0.3)
    assert server.open_fds() >= before + 100  # held while the answers are written...
    assert _health_in(server, 1.0)  # ...and the others are answered meanwhile
    assert served(server.url())
    while server.open_fds() > before and time.monotonic() - started < 10:
        gevent.sleep(0.1)
    closed_after = time.monotonic() - started
    assert server.open_fds() <= before, f"{server.open_fds() - before} of 100 still held after {closed_after:.0f} s"
    assert closed_after < 5  # about 1 s of stalled writing each, not forever
    assert _health_in(server, 1.0)
    assert served(server.url())
    for sock in socks:
        sock.close()
    _out, err = server.stop()
    assert "Traceback" not in err and " ERROR " not in err, err


@pytest.mark.slow
def test_a_slow_reader_still_gets_every_answer(target):
    # The deadline bounds each stall, not the whole answer: a client that keeps reading, if
    # slowly (64 KiB every 0.2 s, 800 KB in all), is never cut. (It must take about 64 KiB
    # per --handshake-timeout: the unsent bytes an admin socket may hold.)
    server = target("--handshake-timeout", "1", config=ECHO)
    sock = _pipeline(server.admin_port, 20, rcvbuf=None)
    sock.settimeout(5)
    received = b""
    while received.count(b"HTTP/1.1 200 OK") < 20 or not received.endswith(b"}\n"):
        gevent.sleep(0.2)
        chunk = sock.recv(65536)
        assert chunk, f"cut after {received.count(b'HTTP/1.1 200 OK')} answers"
        received += chunk
    sock.close()


@pytest.mark.slow
def test_a_long_wait_is_answered_after_the_handshake_timeout(target):
    # The application's own time is not the client's: /websocket/messages/wait blocks for its
    # timeout (here 2 s, twice --handshake-timeout) before it writes anything.
    server = target("--handshake-timeout", "1", config=ECHO)
    admin = AdminClient(server.admin_url, timeout=10)
    started = time.monotonic()
    reply = admin.post("/websocket/messages/wait", {"timeout": 2})
    assert reply.status == 408 and reply.json["error"] == "timeout", reply
    assert time.monotonic() - started >= 2
