"""MQTT control packets (3.1.1 and 5.0) to and from bytes. Pure: no gevent, no mockd state.

:class:`StreamParser` turns the bytes of WebSocket binary frames into packets: MQTT over
WebSocket is a byte stream (MQTT 5.0 section 6), so a packet may span frames and a frame may
hold several packets; each is cut by its Remaining Length. The ``decode_*`` functions read the
variable header and payload of one packet and raise :class:`~.wire.PacketError` for what the
spec calls malformed; the ``encode_*`` functions write what the broker sends.

``v5`` is ``True`` for protocol level 5 (MQTT 5.0), which adds properties and reason codes.
"""
import struct
from dataclasses import dataclass, field

from .wire import (PROTOCOL_ERROR, SUBSCRIPTION_IDENTIFIER, PacketError, Reader, decode_varint, encode_properties,
                   encode_string, encode_varint)

__all__ = ["CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP", "SUBSCRIBE", "SUBACK",
           "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH", "NAMES", "PACKET_TOO_LARGE",
           "Connect", "Publish", "Subscribe", "StreamParser", "decode_ack", "decode_connect", "decode_disconnect",
           "decode_publish", "decode_subscribe", "decode_unsubscribe", "encode_ack", "encode_connack",
           "encode_disconnect", "encode_packet", "encode_publish", "encode_suback", "encode_unsuback",
           "PINGRESP_PACKET", "Will", "decode", "describe"]

(CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ,
 PINGRESP, DISCONNECT, AUTH) = range(1, 16)
NAMES = dict(enumerate(("CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP", "SUBSCRIBE",
                        "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH"), start=1))
PACKET_TOO_LARGE = 0x95
# The fixed header flags each type must carry (2.1.3); PUBLISH's are its DUP, QoS and RETAIN.
_FLAGS = {PUBREL: 0b0010, SUBSCRIBE: 0b0010, UNSUBSCRIBE: 0b0010}


class StreamParser:
    """Cuts packets out of a byte stream fed in pieces: ``feed(data)`` returns the
    ``(type, flags, body)`` of each packet ``data`` completes. A fixed header MQTT forbids
    ends the list with its :class:`PacketError`, in the stream's order (the packets before it
    are still to be handled), and the stream with it: what follows cannot be framed. A packet
    larger than ``max_size`` bytes (fixed header included) is refused as soon as its header
    says so: the stream is not buffered to find out."""

    def __init__(self, max_size):
        self.max_size = max_size
        self.buffer = bytearray()
        self.error = None

    @property
    def pending(self):
        """Bytes of a packet not complete yet."""
        return len(self.buffer)

    def feed(self, data):
        if self.error is not None:
            return [self.error]
        buffer = self.buffer
        buffer += data
        packets, start = [], 0
        try:
            while len(buffer) - start >= 2:
                packet, start = self._cut(buffer, start)
                if packet is None:
                    break
                packets.append(packet)
        except PacketError as error:
            self.error = error
            packets.append(error)
        del buffer[:start]
        return packets

    def _cut(self, buffer, start):
        """``(packet, end)`` of the packet at ``start``, or ``(None, start)`` if incomplete."""
        decoded = decode_varint(buffer, start + 1)
        if decoded is None:
            return None, start
        length, body_start = decoded
        total = body_start - start + length
        if total > self.max_size:
            raise PacketError(f"a packet of {total} bytes, over the {self.max_size}-byte maximum packet size",
                              PACKET_TOO_LARGE)
        if len(buffer) < body_start + length:
            return None, start
        kind, flags = buffer[start] >> 4, buffer[start] & 0x0F
        if kind == 0:
            raise PacketError("packet type 0 is reserved")
        if kind != PUBLISH and flags != _FLAGS.get(kind, 0):
            raise PacketError(f"{NAMES[kind]} with fixed header flags {flags:04b}")
        return (kind, flags, bytes(buffer[body_start:body_start + length])), body_start + length


# ---------------------------------------------------------------- decoding


@dataclass
class Will:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    properties: dict = field(default_factory=dict)


@dataclass
class Connect:
    protocol_name: str
    level: int
    clean: bool = True
    keep_alive: int = 0
    client_id: str = ""
    will: Will = None
    username: str = None
    password: bytes = None
    properties: dict = field(default_factory=dict)

    @property
    def supported(self):
        return self.protocol_name == "MQTT" and self.level in (4, 5)


def decode_connect(body):
    """A CONNECT. Only its protocol name and level are read when they are not MQTT 3.1.1 or
    5.0 (:attr:`Connect.supported`): the rest is laid out differently there, and the caller
    refuses it anyway."""
    reader = Reader(body)
    connect = Connect(reader.string("protocol name"), reader.byte("protocol level"))
    if not connect.supported:
        return connect
    v5 = connect.level == 5
    flags = reader.byte("connect flags")
    if flags & 0x01:
        raise PacketError("the reserved connect flag is set")
    will_flag, will_qos, will_retain = flags & 0x04, (flags >> 3) & 0x03, bool(flags & 0x20)
    if will_qos == 3:
        raise PacketError("will QoS 3")
    if not will_flag and (will_qos or will_retain):
        raise PacketError("will QoS or retain set without the will flag")
    if not v5 and flags & 0x40 and not flags & 0x80:
        raise PacketError("a password without a user name (MQTT 3.1.1 forbids it)")
    connect.clean = bool(flags & 0x02)
    connect.keep_alive = reader.u16("keep alive")
    if v5:
        connect.properties = reader.properties("CONNECT")
    connect.client_id = reader.string("client identifier")
    if will_flag:
        will_properties = reader.properties("will") if v5 else {}
        connect.will = Will(reader.string("will topic"), reader.binary("will payload"), will_qos, will_retain,
                            will_properties)
    if flags & 0x80:
        connect.username = reader.string("user name")
    if flags & 0x40:
        connect.password = reader.binary("password")
    reader.end("CONNECT payload")
    return connect


@dataclass
class Publish:
    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False
    dup: bool = False
    packet_id: int = None
    properties: dict = field(default_factory=dict)


def _packet_id(reader, packet):
    packet_id = reader.u16(f"{packet} packet identifier")
    if packet_id == 0:
        raise PacketError(f"{packet} with packet identifier 0", PROTOCOL_ERROR)
    return packet_id


def decode_publish(flags, body, v5):
    qos = (flags >> 1) & 0x03
    if qos == 3:
        raise PacketError("PUBLISH with QoS 3")
    dup = bool(flags & 0x08)
    if dup and qos == 0:
        raise PacketError("PUBLISH with DUP set at QoS 0")
    reader = Reader(body)
    topic = reader.string("topic name")
    packet_id = _packet_id(reader, "PUBLISH") if qos else None
    properties = reader.properties("PUBLISH") if v5 else {}
    return Publish(topic, reader.rest(), qos, bool(flags & 0x01), dup, packet_id, properties)


@dataclass
class Subscribe:
    packet_id: int
    entries: list  # (filter, qos, no_local, retain_as_published, retain_handling)
    properties: dict = field(default_factory=dict)


def decode_subscribe(body, v5):
    reader = Reader(body)
    packet_id = _packet_id(reader, "SUBSCRIBE")
    properties = reader.properties("SUBSCRIBE") if v5 else {}
    if 0 in properties.get(SUBSCRIPTION_IDENTIFIER, ()):
        raise PacketError("SUBSCRIBE with subscription identifier 0", PROTOCOL_ERROR)
    if len(properties.get(SUBSCRIPTION_IDENTIFIER, ())) > 1:
        raise PacketError("SUBSCRIBE with two subscription identifiers", PROTOCOL_ERROR)
    entries = []
    while reader.left():
        topic_filter = reader.string("topic filter")
        options = reader.byte("subscription options")
        if options & (0xC0 if v5 else 0xFC):
            raise PacketError(f"reserved bits set in the subscription options of {topic_filter!r}")
        qos, retain_handling = options & 0x03, (options >> 4) & 0x03
        if qos == 3 or retain_handling == 3:
            raise PacketError(f"{'QoS' if qos == 3 else 'retain handling'} 3 in the subscription to "
                              f"{topic_filter!r}")
        entries.append((topic_filter, qos, bool(options & 0x04), bool(options & 0x08), retain_handling))
    if not entries:
        raise PacketError("SUBSCRIBE without a topic filter", PROTOCOL_ERROR)
    return Subscribe(packet_id, entries, properties)


def decode_unsubscribe(body, v5):
    """``(packet_id, [filter, ...])``."""
    reader = Reader(body)
    packet_id = _packet_id(reader, "UNSUBSCRIBE")
    if v5:
        reader.properties("UNSUBSCRIBE")
    filters = []
    while reader.left():
        filters.append(reader.string("topic filter"))
    if not filters:
        raise PacketError("UNSUBSCRIBE without a topic filter", PROTOCOL_ERROR)
    return packet_id, filters


def decode_ack(kind, body, v5):
    """PUBACK, PUBREC, PUBREL or PUBCOMP: ``(packet_id, reason_code)``. MQTT 5.0 may leave the
    reason code (then 0) and the properties out."""
    reader = Reader(body)
    packet_id = _packet_id(reader, NAMES[kind])
    reason = 0
    if v5 and reader.left():
        reason = reader.byte(f"{NAMES[kind]} reason code")
        if reader.left():
            reader.properties(NAMES[kind])
    reader.end(NAMES[kind])
    return packet_id, reason


def decode_disconnect(body, v5):
    """``(reason_code, properties)``; MQTT 3.1.1's DISCONNECT is empty."""
    reader = Reader(body)
    reason, properties = 0, {}
    if v5 and reader.left():
        reason = reader.byte("DISCONNECT reason code")
        if reader.left():
            properties = reader.properties("DISCONNECT")
    reader.end("DISCONNECT")
    return reason, properties


# ---------------------------------------------------------------- encoding


def encode_packet(kind, body=b"", flags=0):
    return bytes([kind << 4 | flags]) + encode_varint(len(body)) + body


def encode_connack(v5, session_present, code, properties=None):
    body = bytes([1 if session_present else 0, code])
    if v5:
        body += encode_properties(properties or {})
    return encode_packet(CONNACK, body)


def encode_publish(topic, payload, qos=0, retain=False, dup=False, packet_id=None, properties=None):
    """A PUBLISH; ``properties`` is ``None`` for MQTT 3.1.1 (which has none), a dict for 5.0."""
    body = encode_string(topic)
    if qos:
        body += struct.pack("!H", packet_id)
    if properties is not None:
        body += encode_properties(properties)
    flags = (0x08 if dup else 0) | qos << 1 | (0x01 if retain else 0)
    return encode_packet(PUBLISH, body + payload, flags)


def encode_ack(kind, packet_id, v5, reason=0):
    """PUBACK, PUBREC, PUBREL or PUBCOMP; reason code 0 is left out on MQTT 5.0 (3.4.2.1)."""
    body = struct.pack("!H", packet_id)
    if v5 and reason:
        body += bytes([reason])
    return encode_packet(kind, body, _FLAGS.get(kind, 0))


def encode_suback(packet_id, codes, v5):
    body = struct.pack("!H", packet_id) + (encode_properties({}) if v5 else b"")
    return encode_packet(SUBACK, body + bytes(codes))


def encode_unsuback(packet_id, codes, v5):
    """MQTT 3.1.1's UNSUBACK holds the packet identifier alone; 5.0's a reason code a filter."""
    body = struct.pack("!H", packet_id)
    if v5:
        body += encode_properties({}) + bytes(codes)
    return encode_packet(UNSUBACK, body)


def encode_disconnect(code, reason_string=None):
    """A server DISCONNECT, which only MQTT 5.0 has; the Reason String says why to a human."""
    properties = {0x1F: reason_string} if reason_string else {}
    return encode_packet(DISCONNECT, bytes([code]) + encode_properties(properties))


PINGRESP_PACKET = encode_packet(PINGRESP)


# ---------------------------------------------------------------- dispatch


def decode(kind, flags, body, v5):
    """The packet a client sent, decoded: a :class:`Connect`, :class:`Publish` or
    :class:`Subscribe`; ``(packet_id, filters)`` for UNSUBSCRIBE, ``(packet_id, reason)`` for
    the acknowledgements, ``(reason, properties)`` for DISCONNECT, ``None`` for PINGREQ. What
    only a server sends is a protocol error, and so is AUTH (no enhanced authentication here)."""
    if kind == CONNECT:
        return decode_connect(body)
    if kind == PUBLISH:
        return decode_publish(flags, body, v5)
    if kind == SUBSCRIBE:
        return decode_subscribe(body, v5)
    if kind == UNSUBSCRIBE:
        return decode_unsubscribe(body, v5)
    if kind in (PUBACK, PUBREC, PUBREL, PUBCOMP):
        return decode_ack(kind, body, v5)
    if kind == DISCONNECT:
        return decode_disconnect(body, v5)
    if kind == PINGREQ:
        if body:
            raise PacketError("PINGREQ with a payload")
        return None
    if kind == AUTH and not v5:
        raise PacketError("packet type 15 is reserved in MQTT 3.1.1")
    if kind == AUTH:
        raise PacketError("AUTH: this server does not do enhanced authentication", PROTOCOL_ERROR)
    raise PacketError(f"{NAMES[kind]} is a packet only servers send", PROTOCOL_ERROR)


def describe(kind, packet):
    """The packet in a few words, for the journal: ``PUBLISH devices/42/cmd``."""
    name = NAMES[kind]
    if kind == CONNECT:
        if not packet.supported:
            return f"{name} {packet.protocol_name} level {packet.level}"
        return f"{name} {'5.0' if packet.level == 5 else '3.1.1'} {packet.client_id}".rstrip()
    if kind == PUBLISH:
        return f"{name} {packet.topic}"
    if kind == SUBSCRIBE:
        return f"{name} {', '.join(entry[0] for entry in packet.entries)}"
    if kind == UNSUBSCRIBE:
        return f"{name} {', '.join(packet[1])}"
    if kind in (PUBACK, PUBREC, PUBREL, PUBCOMP):
        return f"{name} {packet[0]}"
    if kind == DISCONNECT and packet[0]:
        return f"{name} 0x{packet[0]:02X}"
    return name
