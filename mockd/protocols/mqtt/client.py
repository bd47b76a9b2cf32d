"""One MQTT connection, served in its connection's greenlet (``MqttProtocol.run``).

The client's binary frames are a byte stream (:class:`~.codec.StreamParser`); each frame is
journaled with the packets it completed (``mqtt: SUBSCRIBE devices/+/ack; PUBLISH devices/42/cmd``).
The first packet must be a CONNECT, within :data:`CONNECT_TIMEOUT` seconds; then packets are
handled in order until DISCONNECT, a protocol error, the keep-alive running out (nothing for
1.5 times the Keep Alive the client asked for) or the client leaving. Whatever ends the
connection but a DISCONNECT publishes the client's will (5.0: DISCONNECT 0x04 too).

Errors, MQTT's way: the connection is closed (WebSocket 1002, 1009 for a packet over the
maximum size, 1003 for a text frame), after a DISCONNECT with the reason code on MQTT 5.0 once
connected, or a CONNACK with it on MQTT 5.0 before that. A CONNECT of a protocol level other
than 4 (3.1.1) or 5 (5.0) gets CONNACK 0x01 (3.1.1's "unacceptable protocol version"; 0x84 in
5.0's form for a level above 5) and the close.
"""
import math
import time
from collections import deque

from ...closecodes import CLOSE_NORMAL, CLOSE_PROTOCOL_ERROR, CLOSE_TOO_BIG, CLOSE_UNSUPPORTED_DATA
from ...message import MatchContext
from ...templating import RenderContext
from . import codec
from .broker import Publication, Subscription
from .codec import PACKET_TOO_LARGE, PacketError
from .settings import render_context_variables
from .topics import filter_problem, levels, topic_problem
from .wire import PROTOCOL_ERROR, SUBSCRIPTION_IDENTIFIER

__all__ = ["Client", "CONNECT_TIMEOUT", "MAX_INFLIGHT"]

CONNECT_TIMEOUT = 30.0
MAX_INFLIGHT = 1000  # QoS 1 messages sent and not acknowledged, at most (fewer if the client says so)
_monotonic = time.monotonic

# CONNECT properties (MQTT 5.0, 3.1.2.11) and CONNACK's (3.2.2.3)
SESSION_EXPIRY, RECEIVE_MAXIMUM, MAXIMUM_PACKET_SIZE, AUTHENTICATION_METHOD = 0x11, 0x21, 0x27, 0x15
ASSIGNED_CLIENT_ID, SHARED_SUBSCRIPTION_AVAILABLE, TOPIC_ALIAS = 0x12, 0x2A, 0x23
TOPIC_NAME_INVALID, TOPIC_ALIAS_INVALID, KEEP_ALIVE_TIMEOUT, SESSION_TAKEN_OVER = 0x90, 0x94, 0x8D, 0x8E


class _Refused(Exception):
    """A CONNECT the broker refuses: with a CONNACK of ``code`` (in 5.0's form when ``v5``),
    or, when 3.1.1 has no code for the reason (``code`` None), by closing alone."""

    def __init__(self, message, code, v5):
        super().__init__(message)
        self.code, self.v5 = code, v5


class Client:
    def __init__(self, protocol, ctx):
        self.protocol = protocol
        self.broker = protocol.broker
        self.ctx = ctx
        self.parser = codec.StreamParser(ctx.connection.max_message_size)
        self.pending = deque()   # (kind, packet or PacketError) cut from frames, not handled yet
        self.v5 = False
        self.connected = False   # CONNACK sent
        self.session = None
        self.client_id = ""
        self.will = None
        self.keep_alive = 0
        self.deadline = _monotonic() + CONNECT_TIMEOUT
        self.window = MAX_INFLIGHT
        self.max_packet = None   # the client's Maximum Packet Size (5.0)
        self.clean_exit = False  # a DISCONNECT came: no will

    # ------------------------------------------------------------ the conversation

    def serve(self):
        try:
            self._converse()
        except PacketError as error:
            self._fail(error)
        finally:
            self._end()

    def _converse(self):
        first = self._next()
        if first is None:
            if not self.ctx.closed:
                self.ctx.close(CLOSE_PROTOCOL_ERROR, f"MQTT: no CONNECT within {CONNECT_TIMEOUT:g} s")
            return
        kind, packet = first
        if kind != codec.CONNECT:
            raise PacketError(f"the first packet must be CONNECT, not {codec.NAMES[kind]}", PROTOCOL_ERROR)
        try:
            self._connect(packet)
        except _Refused as refusal:
            self._refuse(refusal)
            return
        while True:
            taken = self._next()
            if taken is None:
                if not self.ctx.closed:
                    self._keep_alive_expired()
                return
            if not self._handle(*taken):
                return

    def _next(self):
        """The next ``(kind, packet)``, or None when the connection ends or the deadline (the
        CONNECT's, then the keep-alive's) passes first. A packet that failed to decode raises
        its PacketError in its turn: those before it in the frame are handled first."""
        while not self.pending:
            timeout = None if self.deadline is None else max(0.0, self.deadline - _monotonic())
            message = self.ctx.receive(timeout=timeout, journal=False)
            if message is None:
                return None
            if not message.is_binary:
                self.ctx.journal(message, "text frame (MQTT takes binary frames only)")
                self._close(CLOSE_UNSUPPORTED_DATA, "MQTT over WebSocket takes binary frames only")
                return None
            self._cut(message)
        kind, packet = self.pending.popleft()
        if isinstance(packet, PacketError):
            raise packet
        if self.keep_alive:
            self.deadline = _monotonic() + 1.5 * self.keep_alive
        elif self.connected:
            self.deadline = None
        return kind, packet

    def _cut(self, message):
        """Parse one frame's packets into ``pending`` and journal the frame with them."""
        described, failed, v5 = [], None, self.v5
        for cut in self.parser.feed(message.data):
            if isinstance(cut, PacketError):
                failed = cut
                break
            kind, flags, body = cut
            try:
                packet = codec.decode(kind, flags, body, v5)
            except PacketError as error:
                failed = error
                break
            if kind == codec.CONNECT and not self.connected:
                v5 = packet.supported and packet.level == 5  # how what follows in the frame is read
            self.pending.append((kind, packet))
            described.append(codec.describe(kind, packet))
        if failed is not None:
            self.pending.append((None, failed))
            described.append(f"malformed: {failed}")
        if not described:
            described.append(f"part of a packet ({self.parser.pending} bytes so far)")
        self.ctx.journal(message, "; ".join(described))

    def _handle(self, kind, packet):
        """Handle one packet; False when the conversation is over."""
        if kind == codec.PUBLISH:
            self._publish(packet)
        elif kind == codec.PUBACK:
            self.session.acknowledge(packet[0])
        elif kind == codec.PUBREL:
            known = packet[0] in self.session.awaiting_release
            self.session.awaiting_release.discard(packet[0])
            self.send(codec.encode_ack(codec.PUBCOMP, packet[0], self.v5, 0 if known else 0x92),
                      f"PUBCOMP {packet[0]}")
        elif kind == codec.SUBSCRIBE:
            self._subscribe(packet)
        elif kind == codec.UNSUBSCRIBE:
            self._unsubscribe(*packet)
        elif kind == codec.PINGREQ:
            self.send(codec.PINGRESP_PACKET, "PINGRESP")
        elif kind == codec.DISCONNECT:
            reason, properties = packet
            self.clean_exit = reason != 0x04  # 5.0's "Disconnect with Will Message"
            if SESSION_EXPIRY in properties and self.session is not None:
                self.session.expiry = _expiry(properties[SESSION_EXPIRY])
            self._close(CLOSE_NORMAL, "")
            return False
        elif kind == codec.CONNECT:
            raise PacketError("a second CONNECT on one connection", PROTOCOL_ERROR)
        # PUBREC and PUBCOMP answer QoS 2 messages, which this broker never sends: ignored.
        return True

    # ------------------------------------------------------------ CONNECT

    def _connect(self, connect):
        if connect.protocol_name not in ("MQTT", "MQIsdp"):
            raise PacketError(f"protocol name {connect.protocol_name!r} is not MQTT", PROTOCOL_ERROR)
        if not connect.supported:
            # 3.1.1's "unacceptable protocol version" for older levels (the form their clients
            # read), 5.0's "Unsupported Protocol Version" for levels after 5
            later = connect.level > 5
            raise _Refused(f"unsupported protocol level {connect.level} (mockd speaks 4 = MQTT 3.1.1 and "
                           f"5 = MQTT 5.0)", 0x84 if later else 0x01, later)
        self.v5 = v5 = connect.level == 5
        properties = connect.properties
        if AUTHENTICATION_METHOD in properties:
            raise _Refused("enhanced authentication (AUTH) is not supported", 0x8C, True)
        if properties.get(RECEIVE_MAXIMUM) == 0 or properties.get(MAXIMUM_PACKET_SIZE) == 0:
            raise PacketError("Receive Maximum and Maximum Packet Size must not be 0", PROTOCOL_ERROR)
        will = connect.will
        if will is not None and topic_problem(will.topic):
            raise _Refused(f"will topic: {topic_problem(will.topic)}", TOPIC_NAME_INVALID if v5 else None, v5)
        client_id, assigned = connect.client_id, None
        if not client_id:
            if not v5 and not connect.clean:
                raise _Refused("an empty client identifier needs Clean Session 1", 0x02, False)
            client_id = assigned = f"mockd-{self.ctx.connection.id}"
        self.client_id, self.will, self.keep_alive = client_id, will, connect.keep_alive
        self.window = min(properties.get(RECEIVE_MAXIMUM, MAX_INFLIGHT), MAX_INFLIGHT)
        self.max_packet = properties.get(MAXIMUM_PACKET_SIZE)
        if v5:
            expiry = _expiry(properties.get(SESSION_EXPIRY, 0))
        else:
            expiry = 0.0 if connect.clean else math.inf
        previous = self.broker.sessions.get(client_id)
        if previous is not None and previous.client is not None:
            previous.client.taken_over()
        self.session, present = self.broker.session(client_id, connect.clean, expiry)
        answer = {}
        if v5:
            answer = {MAXIMUM_PACKET_SIZE: self.parser.max_size, SHARED_SUBSCRIPTION_AVAILABLE: 0}
            if assigned:
                answer[ASSIGNED_CLIENT_ID] = assigned
        self.send(codec.encode_connack(v5, present, 0, answer), f"CONNACK 0{' session present' * present}")
        self.connected = True
        self.deadline = _monotonic() + 1.5 * self.keep_alive if self.keep_alive else None
        self.ctx.state = client_id  # not the Client itself: no reference cycle per connection
        self.session.attach(self)

    def _refuse(self, refusal):
        if refusal.code is not None:
            self.send(codec.encode_connack(refusal.v5, False, refusal.code), f"CONNACK 0x{refusal.code:02X}")
        self._close(CLOSE_PROTOCOL_ERROR, f"MQTT: {refusal}")

    def taken_over(self):
        """A newer connection CONNECTed with this client identifier: this one goes (3.1.4)."""
        if self.v5:
            self.send(codec.encode_disconnect(SESSION_TAKEN_OVER, "session taken over"), "DISCONNECT 0x8E")
        self.broker.detach(self.session, self)
        self._close(CLOSE_NORMAL, "MQTT: session taken over by a new connection")

    # ------------------------------------------------------------ packets

    def _publish(self, packet):
        problem = topic_problem(packet.topic)
        if problem:
            raise PacketError(f"PUBLISH to an invalid topic name: {problem}", TOPIC_NAME_INVALID)
        if TOPIC_ALIAS in packet.properties:
            raise PacketError("PUBLISH with a Topic Alias: this server's Topic Alias Maximum is 0",
                              TOPIC_ALIAS_INVALID)
        session = self.session
        if packet.qos == 1:
            self.send(codec.encode_ack(codec.PUBACK, packet.packet_id, self.v5), f"PUBACK {packet.packet_id}")
        elif packet.qos == 2:
            duplicate = packet.packet_id in session.awaiting_release
            session.awaiting_release.add(packet.packet_id)
            self.send(codec.encode_ack(codec.PUBREC, packet.packet_id, self.v5), f"PUBREC {packet.packet_id}")
            if duplicate:
                return  # delivered already: QoS 2 is exactly once
        publication = Publication.from_packet(packet)
        self.broker.publish(publication, origin=session)
        self._react(publication)

    def _react(self, publication):
        """The first ``on`` rule that takes the message publishes its replies."""
        ctx = self.ctx
        variables = render_context_variables(publication, self.client_id)
        message = variables["payload"].message
        match_context = MatchContext(message, ctx.path, ctx.connection, ctx.server)
        for rule in self.protocol.settings.rules:
            captures = rule.test(publication, message, match_context)
            if captures is None:
                continue
            render_context = RenderContext(message, ctx.path, ctx.connection, variables, captures)
            for reply in rule.replies:
                topic, payload = reply.render(render_context)
                problem = topic_problem(topic)
                if problem:
                    ctx.record(f"mqtt: reply to {publication.topic} not published: {problem}")
                    continue
                self.broker.publish(Publication(topic, payload, reply.qos, reply.retain))
            return

    def _subscribe(self, packet):
        session, codes, wanted = self.session, [], []
        identifier = (packet.properties.get(SUBSCRIPTION_IDENTIFIER) or [None])[0]
        for topic_filter, qos, no_local, retain_as_published, retain_handling in packet.entries:
            if filter_problem(topic_filter):
                codes.append(0x8F if self.v5 else 0x80)
                continue
            if self.v5 and topic_filter.startswith("$share/"):
                codes.append(0x9E)  # Shared Subscriptions not supported (CONNACK said so)
                continue
            granted = min(qos, 1)
            existed = topic_filter in session.subscriptions
            session.subscriptions[topic_filter] = Subscription(topic_filter, granted, no_local,
                                                               retain_as_published, identifier)
            codes.append(granted)
            if retain_handling == 0 or (retain_handling == 1 and not existed):
                wanted.append((levels(topic_filter), granted))
        self.send(codec.encode_suback(packet.packet_id, codes, self.v5), f"SUBACK {packet.packet_id}")
        ids = (identifier,) if identifier else ()
        for filter_levels, granted in wanted:
            for publication in self.broker.retained_matching(filter_levels):
                session.deliver(publication, min(publication.qos, granted), True, ids)

    def _unsubscribe(self, packet_id, filters):
        subscriptions = self.session.subscriptions
        codes = [0x00 if subscriptions.pop(topic_filter, None) is not None else 0x11 for topic_filter in filters]
        self.send(codec.encode_unsuback(packet_id, codes, self.v5), f"UNSUBACK {packet_id}")

    # ------------------------------------------------------------ sending

    def send(self, data, decoded):
        return self.ctx.send(data, decoded=decoded)

    def send_publish(self, publication, qos, retain, packet_id, subscription_ids=(), dup=False):
        """Send a PUBLISH to this client; False when it is over the client's Maximum Packet
        Size, which drops it (the broker's side of 5.0's 3.1.2.25)."""
        properties = publication.properties_v5(subscription_ids) if self.v5 else None
        data = codec.encode_publish(publication.topic, publication.payload, qos, retain, dup, packet_id, properties)
        if self.max_packet is not None and len(data) > self.max_packet:
            self.ctx.record(f"mqtt: PUBLISH {publication.topic} dropped: {len(data)} bytes, over the client's "
                            f"Maximum Packet Size of {self.max_packet}")
            return False
        self.send(data, f"PUBLISH {publication.topic}")
        return True

    # ------------------------------------------------------------ endings

    def _fail(self, error):
        """A malformed packet or a protocol error: MQTT closes the connection, saying why first
        on 5.0 (DISCONNECT once connected, CONNACK before)."""
        if self.v5 and self.connected:
            why = str(error) if len(str(error)) <= 200 else f"{str(error)[:200]}..."  # a Reason String is for humans
            self.send(codec.encode_disconnect(error.code, why), f"DISCONNECT 0x{error.code:02X}")
        elif self.v5 and not self.connected:
            self.send(codec.encode_connack(True, False, error.code), f"CONNACK 0x{error.code:02X}")
        self._close(CLOSE_TOO_BIG if error.code == PACKET_TOO_LARGE else CLOSE_PROTOCOL_ERROR, f"MQTT: {error}")

    def _keep_alive_expired(self):
        why = f"keep-alive timeout: no packet for {1.5 * self.keep_alive:g} s (1.5 x Keep Alive)"
        if self.v5:
            self.send(codec.encode_disconnect(KEEP_ALIVE_TIMEOUT, why), "DISCONNECT 0x8D")
        self._close(CLOSE_PROTOCOL_ERROR, f"MQTT {why}")

    def _close(self, code, reason):
        if not self.ctx.closed:
            self.ctx.close(code, reason)

    def _end(self):
        """The connection is over: the will goes out unless the client said goodbye, and the
        session ends or waits for the client to come back."""
        if self.session is None:
            return
        if self.will is not None and not self.clean_exit:
            will, self.will = self.will, None
            self.broker.publish(Publication.from_packet(will))
        self.broker.detach(self.session, self)


def _expiry(seconds):
    """A Session Expiry Interval: 0xFFFFFFFF means the session never expires."""
    return math.inf if seconds == 0xFFFFFFFF else float(seconds)
