"""Review finding next to issue 10 item 3: fragments that cost more than ``maxMessageSize`` says.

Empty continuation frames were never counted against the limit: one client opening a text
message and sending 180 MB of them (6 bytes each, never FIN) raised the server's RSS by
225 MiB, without end. 1-byte fragments were counted by their byte, but each was kept as its own
``bytes`` object in a list: 50 clients sending 64 KiB of them (the default limit) cost 179 MiB.
Fragments are now reassembled into one buffer, and each counts 64 bytes at least against the
limit: at most limit/64 small fragments per message, then 1009 like any message too big.
"""
import time

import gevent
import pytest

from _attack import ECHO, served
from _rawws import OP_BINARY, OP_CONT, OP_TEXT, Client, frame
from test_listener_frames import settled_rss

MIB = 1 << 20
LIMIT = 65536  # the echo mock's maxMessageSize (the default)
REASON = b"read limited at 65537 bytes (a fragment counts 64 at least)"


def _send_until_cut(sock, batch, budget):
    """Send ``batch`` again and again (``budget`` bytes at most) until the server ends the
    connection; returns the bytes sent."""
    sent = 0
    try:
        while sent < budget:
            sock.sendall(batch)
            sent += len(batch)
    except OSError:
        pass  # the server cut the connection after its close: what the fix does
    return sent


@pytest.mark.slow
def test_empty_continuation_frames_end_in_1009(target):
    server = target(config=ECHO)
    assert served(server.url())
    before = settled_rss(server, 0.2)
    client = Client(server.port, "/ws", timeout=5)
    started = time.monotonic()
    client.send(OP_TEXT, b"x", fin=False)
    empty = frame(OP_CONT, b"", fin=False, key=b"\0\0\0\0") * 100_000  # 600 KB
    # 60 MB of empty fragments (before the fix: +75 MiB and still reading), sent meanwhile.
    flood = gevent.spawn(_send_until_cut, client.sock, empty, 60 * MIB)
    code, reason = client.expect_close()
    assert (code, reason) == (1009, REASON)
    assert time.monotonic() - started < 2  # after 1,024 fragments, not 60 MB
    assert served(server.url())
    flood.join(timeout=10)  # the server reads on until its close timeout, then cuts TCP
    assert flood.ready()
    growth_mib = (settled_rss(server) - before) / 1024
    assert growth_mib < 20, f"{flood.value / 1e6:.0f} MB of empty fragments cost {growth_mib:.0f} MiB"
    assert served(server.url())


@pytest.mark.slow
def test_one_byte_fragments_from_50_clients_end_in_1009(target):
    server = target(config=ECHO)
    assert served(server.url())
    before = settled_rss(server, 0.2)
    # 64 KiB of 1-byte fragments each, never FIN: within the limit by bytes, 56 times it in
    # Python objects before the fix (50 clients: +179 MiB).
    ones = b"".join(frame(OP_CONT, b"a", fin=False) for _ in range(LIMIT - 1))
    clients = [Client(server.port, "/ws", timeout=5) for _ in range(50)]
    started = time.monotonic()
    for client in clients:
        client.sock.sendall(frame(OP_TEXT, b"a", fin=False) + ones[:7 * 2000])
    senders = [gevent.spawn(_send_until_cut, client.sock, ones[7 * 2000:], len(ones)) for client in clients]
    assert served(server.url())
    for client in clients:
        assert client.expect_close() == (1009, REASON)
    assert time.monotonic() - started < 5
    growth_mib = (settled_rss(server) - before) / 1024
    assert growth_mib < 20, f"50 clients of 1-byte fragments cost {growth_mib:.0f} MiB"
    gevent.joinall(senders, timeout=10)
    assert served(server.url())


@pytest.mark.slow
def test_a_message_in_64_byte_fragments_up_to_the_limit_still_passes(target):
    server = target(config=ECHO)
    client = Client(server.port, "/ws", timeout=5)
    payload = bytes(range(256)) * (LIMIT // 256)  # exactly the limit, in 1,024 fragments
    pieces = [payload[i:i + 64] for i in range(0, LIMIT, 64)]
    client.sock.sendall(frame(OP_BINARY, pieces[0], fin=False)
                        + b"".join(frame(OP_CONT, piece, fin=False) for piece in pieces[1:-1])
                        + frame(OP_CONT, pieces[-1]))
    assert client.recv_data() == payload
    # One byte less in the last fragment is still 1,024 fragments of 64 bytes at least: passes.
    client.sock.sendall(b"".join(frame(OP_BINARY if i == 0 else OP_CONT, piece, fin=False)
                                 for i, piece in enumerate(pieces[:-1]))
                        + frame(OP_CONT, pieces[-1][:63]))
    assert client.recv_data() == payload[:-1]
    # A 1,025th fragment, even an empty one, is one too many.
    client.sock.sendall(b"".join(frame(OP_BINARY if i == 0 else OP_CONT, piece, fin=False)
                                 for i, piece in enumerate(pieces))
                        + frame(OP_CONT, b""))
    assert client.expect_close() == (1009, REASON)
