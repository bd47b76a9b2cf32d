"""Review finding next to issue 10 item 3: a client that pings and never reads.

The reader answered every ping, and a pong the kernel did not take waited in the connection's
queue: control frames were not counted against ``--max-outbound-buffer`` and the reader never
paused for them, so one client sending empty pings (6 bytes each) without reading queued one
pong per ping: 114 MB of pings raised the server's RSS by 918 MiB. The reader now waits for
the client to take a waiting pong before it answers the next ping (and reads nothing
meanwhile), so such a client costs one pong, its own socket buffers, and is closed with 1008
once it has taken nothing for ``--send-timeout``.
"""
import socket
import time

import gevent
import pytest

from _attack import ECHO, served
from _rawws import OP_PING, OP_PONG, OP_TEXT, Client, frame
from test_listener_frames import settled_rss

MIB = 1 << 20
PINGS = frame(OP_PING, b"") * 50_000  # 300 KB of empty pings (one mask key for all: cheap to build)
# 125-byte pings first: their pongs fill the kernel's send buffer (up to 4 MiB) in 30,000 pings
# rather than 1.5 million empty ones, so that the empty pings meet a full socket sooner.
FILL = frame(OP_PING, b"p" * 125) * 30_000


def _flood(sock, budget, seconds):
    """Send pings until the server stops taking them for a second (or ``budget`` bytes, or
    ``seconds``); (bytes sent, whether it stopped taking them). One send() at a time: gevent's
    sendall() applies its timeout to the whole call, which a server still reading can overrun."""
    sock.settimeout(1.0)  # no progress for this long: the server stopped reading
    sent = 0
    deadline = time.monotonic() + seconds
    try:
        sock.sendall(FILL)
        sent = len(FILL)
        view = memoryview(PINGS)
        while sent < budget and time.monotonic() < deadline:
            sent += sock.send(view[(sent - len(FILL)) % len(PINGS):])
    except (socket.timeout, OSError):
        return sent, True  # stalled (or cut): what the fix does
    return sent, False


@pytest.mark.slow
def test_a_ping_flood_without_reading_is_bounded_and_closed(target):
    server = target("--send-timeout", "1", config=ECHO)
    assert served(server.url())
    before = settled_rss(server, 0.2)
    # A small receive window, so that pongs back up into the server at once.
    client = Client(server.port, "/ws", rcvbuf=4096)
    started = time.monotonic()
    sent, stalled = _flood(client.sock, 40 * MIB, seconds=10)
    assert served(server.url())  # the others are served meanwhile
    growth_mib = (settled_rss(server) - before) / 1024
    # Before the fix, RSS grew by ~8 MiB per MB of pings (40 MB: +300 MiB).
    assert growth_mib < 20, f"{sent / 1e6:.0f} MB of pings without reading cost {growth_mib:.0f} MiB"
    assert stalled, f"the server kept reading pings ({sent / 1e6:.0f} MB) from a client that takes no pong"
    # Reading now would let the pong out and the server serve this client again. It has taken
    # nothing for over a second (--send-timeout): closed with 1008 as for data, the close
    # frame queued behind the waiting pong.
    gevent.sleep(0.5)
    # What waited is read raw (megabytes of 2-byte pongs), up to the end of the stream: the
    # close timeout (2 s) cuts TCP after the close frame, so the server is done with it.
    received = _read_to_end(client.sock, timeout=5)
    pongs, close = received[:-len(CLOSE_1008)], received[-len(CLOSE_1008):]
    assert close == CLOSE_1008, received[-60:]
    assert not pongs.replace(FILL_PONG, b"").replace(PONG, b""), "only pongs before the close"
    assert time.monotonic() - started < 15
    assert served(server.url())


PONG = bytes([0x80 | OP_PONG, 0])
FILL_PONG = bytes([0x80 | OP_PONG, 125]) + b"p" * 125
CLOSE_1008 = bytes([0x88, 22]) + (1008).to_bytes(2, "big") + b"outbound buffer full"


def _read_to_end(sock, timeout):
    sock.settimeout(timeout)
    chunks = []
    try:
        while True:
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    except ConnectionResetError:
        pass
    return b"".join(chunks)


@pytest.mark.slow
def test_pings_of_a_reading_client_are_all_answered(target):
    server = target("--send-timeout", "1", config=ECHO)
    client = Client(server.port, "/ws", timeout=5)
    payloads = [b"%d" % i for i in range(2000)]
    client.sock.sendall(b"".join(frame(OP_PING, p) for p in payloads) + frame(OP_TEXT, b"done"))
    pongs = []
    while True:
        opcode, payload = client.recv_frame()
        if opcode == OP_PONG:
            pongs.append(payload)
        else:
            assert (opcode, payload) == (OP_TEXT, b"done")
            break
    assert pongs == payloads  # every ping answered, in order
    assert client.close() == 1000
