"""The client side of RFC 6455 for the load generator: handshake, masked frames, frame headers.

The load generator does not use mockd's own framing (:mod:`mockd.ws.frames`): it measures
other servers too, and a fault in mockd's framing must not be shared by the client that
checks mockd's replies.
"""
import base64
import hashlib
import os
import struct
from urllib.parse import urlsplit

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MASK_KEY = b"\x37\xfa\x21\x3d"
OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 1, 2, 8, 9, 10
MAX_HEADER = 14  # 2 bytes, a 64-bit length and a mask key


def _header(first_byte, length, mask_bit):
    if length < 126:
        return bytes((first_byte, mask_bit | length))
    if length < 65536:
        return struct.pack("!BBH", first_byte, mask_bit | 126, length)
    return struct.pack("!BBQ", first_byte, mask_bit | 127, length)


def client_frame(opcode, payload, key=MASK_KEY):
    """A final client frame: header, mask key, payload XOR key (C speed through big ints)."""
    size = len(payload)
    if size:
        pad = (key * (size // 4 + 1))[:size]
        payload = (int.from_bytes(payload, "big") ^ int.from_bytes(pad, "big")).to_bytes(size, "big")
    return _header(0x80 | opcode, size, 0x80) + key + payload


def server_frame(opcode, payload):
    """The unmasked final frame a server sends for ``payload`` (what an echo must return)."""
    return _header(0x80 | opcode, len(payload), 0) + payload


CLOSE_FRAME = client_frame(OP_CLOSE, struct.pack("!H", 1000))


def frame_header(buf, pos=0):
    """The header of the (unmasked, server) frame at ``buf[pos:]``.

    :return: ``(first byte, payload start, payload end)`` as offsets in ``buf``, or None while
        the header is not all in ``buf``; the payload itself may still be to come.
    """
    available = len(buf) - pos
    if available < 2:
        return None
    length = buf[pos + 1] & 0x7F
    start = pos + 2
    if length == 126:
        if available < 4:
            return None
        length = (buf[pos + 2] << 8) | buf[pos + 3]
        start = pos + 4
    elif length == 127:
        if available < 10:
            return None
        length = int.from_bytes(buf[pos + 2:pos + 10], "big")
        start = pos + 10
    return buf[pos], start, start + length


class Endpoint:
    """Where to connect, and the handshake to send there."""

    def __init__(self, url, subprotocol=None):
        self.subprotocol = subprotocol  # offered in the handshake (the packs' feeds)
        parts = urlsplit(url)
        if parts.scheme != "ws":
            raise ValueError(f"only ws:// URLs are supported, not {url!r}")
        self.url = url
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.netloc = parts.netloc

    def handshake(self):
        """(request bytes, expected Sec-WebSocket-Accept bytes) with a fresh key."""
        key = base64.b64encode(os.urandom(16))
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
        request = (b"GET " + self.path.encode() + b" HTTP/1.1\r\nHost: " + self.netloc.encode() +
                   b"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
                   b"\r\nSec-WebSocket-Version: 13\r\nUser-Agent: mockd-bench\r\n"
                   + (b"Sec-WebSocket-Protocol: " + self.subprotocol.encode() + b"\r\n" if self.subprotocol else b"")
                   + b"\r\n")
        return request, accept
