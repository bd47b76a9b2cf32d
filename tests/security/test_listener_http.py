"""Issue 10 item 4: ``--handshake-timeout`` covers the whole HTTP request on both listeners.

Before the fix a plain GET declaring ``Content-Length: 1000000`` and sending no body stayed
open for good on any path (1,000 of them held 1,000 descriptors), an idle keep-alive
connection was never closed on the admin listener, a TLS client that never sent its
ClientHello was never cut there, and malformed requests were logged at ERROR, some with a
traceback.
"""
import socket
import time

import gevent
import pytest

from _attack import ECHO, served
from _cli import self_signed_cert

TIMEOUT = "0.5"
NO_BODY = b"GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000000\r\n\r\n"


def _connect(port, data=b"", timeout=10.0):
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    if data:
        sock.sendall(data)
    return sock


def _closed_by_server(sock):
    """Seconds until the server ended the connection (whatever it answered first)."""
    started = time.monotonic()
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass
    except socket.timeout:
        return float("inf")
    finally:
        sock.close()
    return time.monotonic() - started


def _all_closed(socks):
    """The longest time any of ``socks`` stayed open (each read in its own greenlet)."""
    jobs = [gevent.spawn(_closed_by_server, sock) for sock in socks]
    gevent.joinall(jobs, timeout=15)
    return max(job.value if job.successful() else float("inf") for job in jobs)


@pytest.mark.slow
def test_a_body_that_never_comes_is_cut_on_both_listeners(target):
    server = target("--handshake-timeout", TIMEOUT, config=ECHO)
    before = server.open_fds()
    admin_get = NO_BODY.replace(b"/x", b"/health")
    admin_post = (b"POST /mocks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 1000000\r\n\r\n{\"id\": ")  # Flask waits for the rest in its read
    socks = [_connect(server.port, NO_BODY) for _ in range(200)]
    socks += [_connect(server.port, NO_BODY.replace(b"/x", b"/ws")) for _ in range(20)]
    socks += [_connect(server.admin_port, admin_get) for _ in range(50)]
    socks += [_connect(server.admin_port, admin_post) for _ in range(50)]
    gevent.sleep(0.2)
    assert server.open_fds() >= before + 200  # the server holds them now...
    assert served(server.url())
    longest = _all_closed(socks)
    assert longest < 3.0, f"a connection stayed open {longest:.1f} s with --handshake-timeout {TIMEOUT}"
    gevent.sleep(0.2)
    assert server.open_fds() <= before + 5  # ...and gives them all back
    assert served(server.url())


@pytest.mark.slow
def test_a_slow_admin_body_gets_408(target):
    server = target("--handshake-timeout", TIMEOUT, config=ECHO)
    sock = _connect(server.admin_port, b"POST /mocks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
                                       b"\r\nContent-Length: 100\r\n\r\n{")
    answer = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        answer += chunk
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    _out, err = server.stop()
    assert "Traceback" not in err and " ERROR " not in err, err


@pytest.mark.slow
@pytest.mark.parametrize("listener", ["mock", "admin"])
def test_an_idle_keep_alive_connection_is_closed(target, listener):
    server = target("--handshake-timeout", TIMEOUT, config=ECHO)
    port, path = (server.port, "/__mockd/health") if listener == "mock" else (server.admin_port, "/health")
    sock = _connect(port, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    first = sock.recv(65536)
    assert first.startswith(b"HTTP/1.1 200 "), first
    # Keep-alive: the server waits for a next request, but only for the timeout.
    assert _closed_by_server(sock) < 2.0


@pytest.mark.slow
def test_tls_listeners_cut_a_client_that_never_says_hello(target, tmp_path):
    cert, key = self_signed_cert(tmp_path)
    server = target("--tls-cert", str(cert), "--tls-key", str(key), "--handshake-timeout", TIMEOUT, config=ECHO)
    assert server.banner.count("wss://") == 1 and "https://" in server.banner
    before = server.open_fds()
    socks = [_connect(port) for port in (server.port, server.admin_port) for _ in range(20)]
    gevent.sleep(0.2)
    assert server.open_fds() >= before + 40
    assert _all_closed(socks) < 3.0
    gevent.sleep(0.2)
    assert server.open_fds() <= before + 5


MALFORMED = [
    b"GARBAGE\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nno colon on this line\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: abc\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -5\r\n\r\n",
    b"GET / HTTP/9.x\r\n\r\n",
    b"GET / HTTP/1.1\r\nX-Long: " + b"a" * 70000 + b"\r\n\r\n",          # http.client's LineTooLong
    b"GET / HTTP/1.1\r\n" + b"X-Many: 1\r\n" * 101 + b"\r\n",             # "got more than 100 headers"
    b"POST /x HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",  # bad chunk size
]


@pytest.mark.slow
@pytest.mark.parametrize("listener", ["mock", "admin"])
def test_malformed_http_is_one_warning_without_traceback(target, listener):
    server = target(config=ECHO)
    port = server.port if listener == "mock" else server.admin_port
    # On the admin listener a bad chunk also reaches Flask, reading the body of a real route.
    extra = [MALFORMED[-1].replace(b"/x", b"/mocks").replace(b"Host", b"Content-Type: application/json\r\nHost")]
    for request in MALFORMED + (extra if listener == "admin" else []):
        sock = _connect(port, request, timeout=5)
        answer = sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 4"), (request[:40], answer[:80])
        assert _closed_by_server(sock) < 2.0, (request[:40], answer[:80])
    assert served(server.url())
    _out, err = server.stop()
    warnings = [line for line in err.splitlines() if "malformed HTTP request" in line]
    assert len(warnings) == len(MALFORMED) + (listener == "admin"), err
    assert all(" WARNING " in line for line in warnings), warnings
    assert "Traceback" not in err and " ERROR " not in err, err
