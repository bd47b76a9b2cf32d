"""MQTT's data representations (3.1.1 section 1.5, 5.0 section 1.5 and 2.2.2): two-byte
integers, variable byte integers, length-prefixed UTF-8 strings and binary data, and the
properties of MQTT 5.0. Pure: no gevent, no mockd state; :mod:`.codec` builds the packets on it.

A violation raises :class:`PacketError` carrying the MQTT 5.0 reason code the server answers
with (0x81 Malformed Packet unless the spec names another), so that the connection can say why
before it closes.
"""
import struct

__all__ = ["MALFORMED", "PROTOCOL_ERROR", "PacketError", "Reader", "encode_properties", "encode_string",
           "encode_varint", "USER_PROPERTY", "SUBSCRIPTION_IDENTIFIER"]

MALFORMED = 0x81
PROTOCOL_ERROR = 0x82
MAX_VARINT = 268_435_455  # four bytes of seven bits: the largest Remaining Length there is

USER_PROPERTY = 0x26
SUBSCRIPTION_IDENTIFIER = 0x0B

# MQTT 5.0 table 2-4: identifier -> (name, data type). The name is for error messages.
PROPERTIES = {
    0x01: ("Payload Format Indicator", "byte"),
    0x02: ("Message Expiry Interval", "u32"),
    0x03: ("Content Type", "str"),
    0x08: ("Response Topic", "str"),
    0x09: ("Correlation Data", "bin"),
    0x0B: ("Subscription Identifier", "varint"),
    0x11: ("Session Expiry Interval", "u32"),
    0x12: ("Assigned Client Identifier", "str"),
    0x13: ("Server Keep Alive", "u16"),
    0x15: ("Authentication Method", "str"),
    0x16: ("Authentication Data", "bin"),
    0x17: ("Request Problem Information", "byte"),
    0x18: ("Will Delay Interval", "u32"),
    0x19: ("Request Response Information", "byte"),
    0x1A: ("Response Information", "str"),
    0x1C: ("Server Reference", "str"),
    0x1F: ("Reason String", "str"),
    0x21: ("Receive Maximum", "u16"),
    0x22: ("Topic Alias Maximum", "u16"),
    0x23: ("Topic Alias", "u16"),
    0x24: ("Maximum QoS", "byte"),
    0x25: ("Retain Available", "byte"),
    0x26: ("User Property", "pair"),
    0x27: ("Maximum Packet Size", "u32"),
    0x28: ("Wildcard Subscription Available", "byte"),
    0x29: ("Subscription Identifier Available", "byte"),
    0x2A: ("Shared Subscription Available", "byte"),
}
_REPEATABLE = (USER_PROPERTY, SUBSCRIPTION_IDENTIFIER)  # the only ones that may appear twice


class PacketError(ValueError):
    """A packet MQTT says the receiver must not accept: the connection is closed, after a
    DISCONNECT with ``code`` on MQTT 5.0."""

    def __init__(self, message, code=MALFORMED):
        super().__init__(message)
        self.code = code


def encode_varint(value):
    """A Variable Byte Integer: seven bits a byte, least significant first."""
    if not 0 <= value <= MAX_VARINT:
        raise ValueError(f"{value} does not fit a variable byte integer")
    out = bytearray()
    while True:
        value, digit = value >> 7, value & 0x7F
        out.append(digit | (0x80 if value else 0))
        if not value:
            return bytes(out)


def decode_varint(data, start):
    """``(value, end)`` of the Variable Byte Integer at ``start``, or ``None`` when ``data``
    ends before it does. More than four bytes is malformed (the spec caps it)."""
    value = shift = 0
    for index in range(start, min(len(data), start + 4)):
        byte = data[index]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, index + 1
        shift += 7
    if len(data) >= start + 4:
        raise PacketError("a variable byte integer longer than four bytes")
    return None


def encode_string(text):
    data = text.encode("utf-8")
    if len(data) > 0xFFFF:
        raise ValueError("an MQTT string holds at most 65,535 bytes")
    return struct.pack("!H", len(data)) + data


def encode_binary(data):
    if len(data) > 0xFFFF:
        raise ValueError("MQTT binary data holds at most 65,535 bytes")
    return struct.pack("!H", len(data)) + data


class Reader:
    """Reads one packet's variable header and payload; reading past its end is malformed."""

    __slots__ = ("data", "pos")

    def __init__(self, data):
        self.data = data
        self.pos = 0

    def left(self):
        return len(self.data) - self.pos

    def take(self, count, what):
        end = self.pos + count
        if end > len(self.data):
            raise PacketError(f"the packet ends inside its {what}")
        chunk = self.data[self.pos:end]
        self.pos = end
        return chunk

    def byte(self, what):
        return self.take(1, what)[0]

    def u16(self, what):
        return struct.unpack("!H", self.take(2, what))[0]

    def u32(self, what):
        return struct.unpack("!I", self.take(4, what))[0]

    def varint(self, what):
        decoded = decode_varint(self.data, self.pos)
        if decoded is None or decoded[1] > len(self.data):
            raise PacketError(f"the packet ends inside its {what}")
        value, self.pos = decoded
        return value

    def binary(self, what):
        return bytes(self.take(self.u16(what), what))

    def string(self, what):
        """A UTF-8 Encoded String: well-formed UTF-8 (no surrogates) without U+0000 (1.5.3)."""
        raw = self.binary(what)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise PacketError(f"the {what} is not well-formed UTF-8") from None
        if "\x00" in text:
            raise PacketError(f"the {what} contains U+0000")
        return text

    def rest(self):
        chunk = bytes(self.data[self.pos:])
        self.pos = len(self.data)
        return chunk

    def end(self, what):
        if self.pos != len(self.data):
            raise PacketError(f"{len(self.data) - self.pos} unexpected bytes after the {what}")

    def properties(self, packet):
        """The Properties of an MQTT 5.0 packet: ``{identifier: value}``, User Properties
        as a list of pairs and Subscription Identifiers as a list. An identifier MQTT does not
        define is malformed; one given twice that may appear once is a protocol error."""
        length = self.varint(f"{packet} property length")
        end = self.pos + length
        if end > len(self.data):
            raise PacketError(f"the {packet} properties run past the end of the packet")
        found = {}
        while self.pos < end:
            ident = self.varint(f"{packet} property identifier")
            entry = PROPERTIES.get(ident)
            if entry is None:
                raise PacketError(f"unknown property identifier 0x{ident:02X} in {packet}")
            name, kind = entry
            value = self._property_value(kind, name)
            if self.pos > end:
                raise PacketError(f"the {packet} property {name} runs past the property length")
            if ident in _REPEATABLE:
                found.setdefault(ident, []).append(value)
            elif ident in found:
                raise PacketError(f"{packet} carries {name} twice", PROTOCOL_ERROR)
            else:
                found[ident] = value
        return found

    def _property_value(self, kind, name):
        if kind == "byte":
            return self.byte(name)
        if kind == "u16":
            return self.u16(name)
        if kind == "u32":
            return self.u32(name)
        if kind == "varint":
            return self.varint(name)
        if kind == "str":
            return self.string(name)
        if kind == "bin":
            return self.binary(name)
        return self.string(f"{name} name"), self.string(f"{name} value")


def encode_properties(properties):
    """The Properties field (its length first) of ``{identifier: value}``; User Property and
    Subscription Identifier values are lists."""
    out = bytearray()
    for ident, value in properties.items():
        kind = PROPERTIES[ident][1]
        for item in (value if ident in _REPEATABLE else (value,)):
            out += encode_varint(ident)
            if kind == "byte":
                out.append(item)
            elif kind == "u16":
                out += struct.pack("!H", item)
            elif kind == "u32":
                out += struct.pack("!I", item)
            elif kind == "varint":
                out += encode_varint(item)
            elif kind == "str":
                out += encode_string(item)
            elif kind == "bin":
                out += encode_binary(item)
            else:
                out += encode_string(item[0]) + encode_string(item[1])
    return encode_varint(len(out)) + bytes(out)
