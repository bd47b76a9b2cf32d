"""RFC 6455 framing helpers for the server side: opcodes, close payloads, headers, unmasking.

Pure functions with no I/O, used by :mod:`mockd.ws.protocol`. Unmasking XORs the payload
through Python's arbitrary-precision ints (C speed) instead of gevent-websocket's per-byte loop
(library fault 4): about 1 GB/s, so ``wsaccel`` is not needed.
"""
import struct

from ..closecodes import valid_close_code

OP_CONT = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

MAX_CONTROL_PAYLOAD = 125
MAX_CLOSE_REASON = MAX_CONTROL_PAYLOAD - 2

_pack_small = struct.Struct("!BB").pack
_pack_medium = struct.Struct("!BBH").pack
_pack_large = struct.Struct("!BBQ").pack
unpack_u16 = struct.Struct("!H").unpack_from
unpack_u64 = struct.Struct("!Q").unpack_from


def header(opcode, length):
    """An unmasked server frame header with FIN set."""
    if length < 126:
        return _pack_small(0x80 | opcode, length)
    if length < 65536:
        return _pack_medium(0x80 | opcode, 126, length)
    return _pack_large(0x80 | opcode, 127, length)


def close_payload(code, reason=""):
    """``code`` (2 bytes, network order) + the reason in UTF-8, cut at a character boundary so
    that the whole payload fits a control frame (fixes library fault 1)."""
    if not valid_close_code(code):
        raise ValueError(f"close code {code} may not be sent")
    data = reason.encode("utf-8") if isinstance(reason, str) else bytes(reason)
    if len(data) > MAX_CLOSE_REASON:
        data = data[:MAX_CLOSE_REASON].decode("utf-8", "ignore").encode("utf-8")
    return struct.pack("!H", code) + data


def unmask(data, key):
    """``data`` XOR the repeated 4-byte ``key``, as a new ``bytes`` (for payloads already in hand)."""
    n = len(data)
    keys = (key * ((n >> 2) + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(keys, "little")).to_bytes(n, "little")


UNMASK_CHUNK = 1 << 18  # a multiple of 4: bounds the temporaries of in-place unmasking


class Unmasker:
    """Unmasks a payload in place, region by region as it arrives (the key phase is tracked).

    The repeated key grows with the regions asked for (up to ``UNMASK_CHUNK``), so that a
    header declaring a large payload costs no 256 KiB pattern before the payload comes."""

    __slots__ = ("_key", "_pattern")

    def __init__(self, key):
        self._key = key
        self._pattern = b""

    def apply(self, view, start, end):
        """Unmask ``view[start:end]`` in place; ``start`` is the offset in the payload."""
        pattern = self._pattern
        while start < end:
            stop = min(end, start + UNMASK_CHUNK)
            n = stop - start
            phase = start & 3
            if len(pattern) < phase + n:
                pattern = self._pattern = self._key * (n // 4 + 2)  # long enough for any phase
            keys = int.from_bytes(pattern[phase:phase + n], "little")
            view[start:stop] = (int.from_bytes(view[start:stop], "little") ^ keys).to_bytes(n, "little")
            start = stop
