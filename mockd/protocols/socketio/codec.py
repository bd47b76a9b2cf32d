"""The Engine.IO v4 / Socket.IO v5 wire, on python-engineio's and python-socketio's packet classes.

Pure functions and one small decoder class, no gevent: the session and transport modules use
them, and the tests check them on their own. The packet classes are the libraries' (so the
framing is the reference implementation's), used only as codecs; their servers are not.

Engine.IO frames are ``str`` (a type digit and its data: ``4`` + a Socket.IO packet, ``2`` a
ping) or ``bytes`` (a binary message: a Socket.IO attachment). Over long-polling, several go in
one HTTP body separated by ``\\x1e``, a binary one as ``b`` + base64.
"""
import binascii
import json
import types

from engineio import packet as eio
from engineio import payload as eio_payload
from socketio import packet as sio

from ...depth import deeper_than
from ...jsontext import loads_json

__all__ = ["ProtocolError", "HttpError", "UNKNOWN_TRANSPORT", "UNKNOWN_SID", "BAD_HANDSHAKE_METHOD", "BAD_REQUEST",
           "UNSUPPORTED_VERSION", "open_frame", "decode_frame", "decode_payload", "encode_payload", "encode_packet",
           "PacketDecoder", "describe_frame", "describe_packet", "label"]

OPEN, CLOSE, PING, PONG, MESSAGE, UPGRADE, NOOP = (eio.OPEN, eio.CLOSE, eio.PING, eio.PONG, eio.MESSAGE, eio.UPGRADE,
                                                   eio.NOOP)
CONNECT, DISCONNECT, EVENT, ACK, CONNECT_ERROR, BINARY_EVENT, BINARY_ACK = (
    sio.CONNECT, sio.DISCONNECT, sio.EVENT, sio.ACK, sio.CONNECT_ERROR, sio.BINARY_EVENT, sio.BINARY_ACK)

#: Attachments one binary packet may announce: each is a frame of its own, and a client
#: announcing a million would have the server wait for them all.
MAX_ATTACHMENTS = 64
#: Packets one long-polling body may hold (python-engineio's own limit is 16, which a browser
#: client's batch of queued emits can pass).
MAX_PAYLOAD_PACKETS = 256


class ProtocolError(ValueError):
    """A malformed Engine.IO or Socket.IO packet; its text says what was wrong."""


class HttpError(Exception):
    """An Engine.IO HTTP error answer: ``status`` and the ``{"code", "message"}`` body."""

    def __init__(self, code, message, status="400 Bad Request"):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status

    def body(self):
        return json.dumps({"code": self.code, "message": self.message})


# Engine.IO's error codes, as its reference server answers them (engine.io's Server.errors).
UNKNOWN_TRANSPORT = (0, "Transport unknown")
UNKNOWN_SID = (1, "Session ID unknown")
BAD_HANDSHAKE_METHOD = (2, "Bad handshake method")
BAD_REQUEST = (3, "Bad request")
UNSUPPORTED_VERSION = (5, "Unsupported protocol version")


class _Payload(eio_payload.Payload):
    max_decode_packets = MAX_PAYLOAD_PACKETS


# ---------------------------------------------------------------- Engine.IO


def open_frame(sid, upgrades, ping_interval, ping_timeout, max_payload):
    """The ``0{...}`` open packet; the intervals in seconds (sent as milliseconds)."""
    return eio.Packet(OPEN, {"sid": sid, "upgrades": list(upgrades), "pingInterval": round(ping_interval * 1000),
                             "pingTimeout": round(ping_timeout * 1000), "maxPayload": max_payload}).encode()


def decode_frame(frame):
    """``(type, data)`` of one Engine.IO frame: ``data`` is the text after the type digit
    (``str``), or the ``bytes`` of a binary message (a binary frame, or ``b`` + base64)."""
    if isinstance(frame, (bytes, bytearray)):
        return MESSAGE, bytes(frame)
    if not frame:
        raise ProtocolError("empty Engine.IO packet")
    if frame[0] == "b":
        try:
            return MESSAGE, eio.Packet(encoded_packet=frame).data
        except (ValueError, binascii.Error):
            raise ProtocolError("a 'b' packet holds base64 data") from None
    if not "0" <= frame[0] <= "6":
        raise ProtocolError(f"unknown Engine.IO packet type {frame[0]!r} (0-6 are defined)")
    # The data is kept as sent: python-engineio's decode would read "4{...}" as JSON, but a
    # message's data is a Socket.IO packet, parsed on its own.
    return int(frame[0]), frame[1:]


def decode_payload(body):
    """The Engine.IO frames of a long-polling request body (``str``)."""
    if not body:
        raise ProtocolError("empty long-polling payload")
    frames = body.split("\x1e")
    if len(frames) > MAX_PAYLOAD_PACKETS:
        raise ProtocolError(f"more than {MAX_PAYLOAD_PACKETS} packets in one payload")
    # "b..." frames are turned into bytes here, as the polling transport carries binary.
    return [frame if not frame.startswith("b") else decode_frame(frame)[1] for frame in frames]


def encode_payload(frames):
    """One long-polling answer body for ``frames`` (``str`` or ``bytes``)."""
    return _Payload(packets=[_as_packet(frame) for frame in frames]).encode()


def _as_packet(frame):
    if isinstance(frame, bytes):
        return eio.Packet(MESSAGE, frame)
    packet = eio.Packet(int(frame[0]))
    packet.encode_cache = frame  # already encoded: Payload.encode() takes it as it is
    return packet


def describe_frame(kind, data):
    """An Engine.IO control packet in words, for the journal (``ping``, ``pong probe``)."""
    name = eio.packet_names[kind].lower()
    return f"{name} {data}" if isinstance(data, str) and data and kind in (PING, PONG) else name


# ---------------------------------------------------------------- Socket.IO


def encode_packet(kind, namespace, data=None, packet_id=None):
    """The Engine.IO frames of one Socket.IO packet: the ``4``-prefixed text, then one
    ``bytes`` frame per binary attachment (an EVENT or ACK whose data holds bytes becomes a
    BINARY_EVENT or BINARY_ACK with ``{"_placeholder": true, "num": N}`` in their place)."""
    encoded = sio.Packet(kind, data, namespace=namespace, id=packet_id).encode()
    if isinstance(encoded, list):
        return [eio.Packet(MESSAGE, encoded[0]).encode()] + [bytes(item) for item in encoded[1:]]
    return [eio.Packet(MESSAGE, encoded).encode()]


class PacketDecoder:
    """Turns a session's Engine.IO messages into Socket.IO packets, holding a binary packet
    until its attachments have come (each a binary message of its own)."""

    def __init__(self):
        self.pending = None  # a BINARY_EVENT/ACK waiting for attachments

    @property
    def waiting(self):
        """How many attachments the pending packet still waits for (0: none pending)."""
        return 0 if self.pending is None else self.pending.attachment_count - len(self.pending.attachments)

    def feed(self, data):
        """The complete :class:`socketio.packet.Packet` ``data`` (the text of a ``4`` message
        or an attachment's bytes) finishes, or None while attachments are awaited."""
        if self.pending is not None:
            if not isinstance(data, bytes):
                raise ProtocolError(f"a binary attachment was expected ({self.waiting} more), got a text packet")
            packet = self.pending
            try:
                complete = packet.add_attachment(data)
            except (ValueError, IndexError, KeyError, TypeError):
                raise ProtocolError("the placeholders do not match the binary attachments") from None
            if not complete:
                return None
            self.pending = None
            return packet
        if isinstance(data, bytes):
            raise ProtocolError("a binary message came with no binary packet announcing it")
        if not data:
            raise ProtocolError("empty Socket.IO packet")
        try:
            packet = _StrictPacket(encoded_packet=data)
        except RecursionError:
            raise ProtocolError("Socket.IO packet data nested too deeply") from None
        except ValueError as exc:
            raise ProtocolError(f"malformed Socket.IO packet: {_reason(exc)}") from None
        _check(packet)
        if packet.attachment_count:
            self.pending = packet
            return None
        return packet


class _StrictPacket(sio.Packet):
    """A Socket.IO packet whose JSON is read without NaN/Infinity (``loads_json``): what an
    event carries is sent on to other clients, whose JSON.parse would choke on them."""
    json = types.SimpleNamespace(loads=loads_json, dumps=json.dumps)


def _reason(exc):
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON ({exc.msg} at character {exc.pos})"
    text = str(exc)
    return "unknown packet type" if text.startswith("invalid literal for int()") else text


def _check(packet):
    """A decoded packet's shape, as a server reads it (a client sends no CONNECT_ERROR)."""
    kind, data = packet.packet_type, packet.data
    if not isinstance(kind, int) or kind not in (CONNECT, DISCONNECT, EVENT, ACK, BINARY_EVENT, BINARY_ACK):
        raise ProtocolError(f"unknown Socket.IO packet type {kind!r} (a client sends 0, 1, 2, 3, 5 or 6)")
    if packet.attachment_count > MAX_ATTACHMENTS:
        raise ProtocolError(f"{packet.attachment_count} binary attachments announced (at most {MAX_ATTACHMENTS})")
    if data is not None and deeper_than(data):
        raise ProtocolError("Socket.IO packet data nested too deeply")
    if kind == CONNECT and data is not None and not isinstance(data, dict):
        raise ProtocolError("a CONNECT packet's data (its auth) is an object")
    if kind in (EVENT, BINARY_EVENT) and not (isinstance(data, list) and data and isinstance(data[0], str)):
        raise ProtocolError("an EVENT packet's data is an array starting with the event name")
    if kind in (ACK, BINARY_ACK) and (packet.id is None or not isinstance(data, list)):
        raise ProtocolError("an ACK packet has an id and an array of arguments")


def describe_packet(packet):
    """A decoded Socket.IO packet in words (:func:`label`)."""
    return label(packet.packet_type, packet.namespace, packet.data, packet.id, packet.attachment_count)


def label(kind, namespace, data=None, packet_id=None, attachments=0):
    """A Socket.IO packet in words, for the journal: ``connect /``, ``event chat message``,
    ``event upload on /files (ack 3)``, ``ack 3``, ``connect_error /x: Invalid namespace``."""
    namespace = namespace or "/"
    where = "" if namespace == "/" else f" on {namespace}"
    if kind in (CONNECT, DISCONNECT):
        return f"{sio.packet_names[kind].lower()} {namespace}"
    if kind == CONNECT_ERROR:
        message = data.get("message") if isinstance(data, dict) else None
        return f"connect_error {namespace}: {message}"
    binary = f" ({attachments} attachment{'s' if attachments != 1 else ''})" if attachments else ""
    prefix = "binary " if attachments else ""
    if kind in (EVENT, BINARY_EVENT):
        ack = "" if packet_id is None else f" (ack {packet_id})"
        return f"{prefix}event {data[0]}{where}{ack}{binary}"
    return f"{prefix}ack {packet_id}{where}{binary}"
