"""The message journal's memory, against a real ``mockd serve``.

The journal keeps at most ``--journal-size`` entries of at most ``--journal-body-limit`` bytes
of body each. A text body was kept as a ``str``, and one character beyond Latin-1 makes CPython
store every character in four bytes: 5,000 echoed 12 KB messages of ASCII and one emoji grew
the server by 393 MiB where the limits say 98. Bodies are now kept as UTF-8 (or ASCII) bytes.
"""
import json
import urllib.request

import pytest
import websocket

from _attack import ECHO, served

ENTRIES = 2000  # --journal-size: an echo is two entries
LIMIT = 10_240  # --journal-body-limit (the default)
MESSAGE = "\U0001F600" + "a" * 12_000  # 12,004 bytes of UTF-8


@pytest.mark.slow
def test_non_ascii_bodies_cost_their_bytes(target):
    server = target("--journal-size", str(ENTRIES), config=ECHO)
    ws = websocket.create_connection(server.url(), timeout=10)
    ws.send("warm up")
    assert ws.recv() == "warm up"
    before = server.rss_kib()
    for i in range(ENTRIES // 2):
        message = f"{i:05d}" + MESSAGE  # each one a new string, as from a real client
        ws.send(message)
        assert ws.recv() == message
    grown = server.rss_kib() - before
    nominal = ENTRIES * LIMIT // 1024
    assert grown < 1.5 * nominal, f"RSS grew {grown} KiB for {ENTRIES} entries of {LIMIT} bytes ({nominal} KiB)"

    # What the API shows is what it showed before: the text cut on a character boundary.
    with urllib.request.urlopen(server.admin_url + "/websocket/messages?limit=2", timeout=10) as response:
        inbound, outbound = json.load(response)["messages"]
    expected = (f"{ENTRIES // 2 - 1:05d}" + MESSAGE).encode()[:LIMIT].decode()
    for entry in inbound, outbound:
        assert entry["type"] == "text" and entry["size"] == 12_009 and entry["truncated"] is True, entry
        assert entry["body"] == expected
    ws.send("h\u00e9 \U0001F600")  # short non-ASCII text: whole, not truncated
    assert ws.recv() == "h\u00e9 \U0001F600"
    with urllib.request.urlopen(server.admin_url + "/websocket/messages?limit=1", timeout=10) as response:
        (entry,) = json.load(response)["messages"]
    assert entry["body"] == "h\u00e9 \U0001F600" and entry["size"] == 8 and entry["truncated"] is False, entry
    ws.close()
    assert served(server.url())
    _out, err = server.stop()
    assert "Traceback" not in err, err[-3000:]


def test_a_wait_sees_what_is_recorded_while_it_scans():
    """A wait's scan of the journal lets other connections run (admin/journal.py): what they
    record meanwhile is tested live, after the entries already there, none twice, none lost."""
    from mockd.journal import Journal

    class Connection:
        id, mock_id, path = "c1", "echo", "/ws"

    journal = Journal(size=100)
    for i in range(5):
        journal.record(Connection, "inbound", f"old {i}")

    def scan(entries):  # as the admin scan does: other greenlets record while it yields
        for n, entry in enumerate(entries):
            if n == 2:
                journal.record(Connection, "inbound", "new 1")
                journal.record(Connection, "inbound", "new 2")
            yield entry

    complete, found = journal.wait(lambda entry, data: True, 7, 0, include_existing=scan(journal.query()))
    assert complete and [e.body for e in found] == [f"old {i}" for i in range(5)] + ["new 1", "new 2"]
    complete, found = journal.wait(lambda entry, data: data.startswith("new"), 3, 0,
                                   include_existing=scan([]))
    assert not complete and found == []  # nothing left behind by the first wait
