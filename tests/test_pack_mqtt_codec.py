"""The MQTT pack's pure parts on their own: the wire format (mockd/protocols/mqtt/wire.py and
codec.py, checked against bytes written by hand from the MQTT 3.1.1 and 5.0 specs and against
paho-mqtt's own encoder), topic filters (topics.py) and the broker's delivery rules (broker.py,
with a stand-in for the live client)."""
import json
import struct

import pytest

from mockd.message import Message
from mockd.protocols.mqtt import codec, topics
from mockd.protocols.mqtt.broker import MAX_QUEUED, Broker, Publication, Subscription
from mockd.protocols.mqtt.wire import PacketError, Reader, encode_properties, encode_varint


def s(text):
    data = text.encode("utf-8")
    return struct.pack("!H", len(data)) + data


def packet(first, body):
    return bytes([first]) + encode_varint(len(body)) + body


CONNECT_311 = packet(0x10, s("MQTT") + bytes([4, 0x02]) + struct.pack("!H", 60) + s("c1"))


# ---------------------------------------------------------------- variable byte integers


@pytest.mark.parametrize("value, encoded", [(0, b"\x00"), (127, b"\x7f"), (128, b"\x80\x01"),
                                            (16383, b"\xff\x7f"), (16384, b"\x80\x80\x01"),
                                            (268_435_455, b"\xff\xff\xff\x7f")])
def test_varint_matches_the_spec_table(value, encoded):  # MQTT 5.0 table 1-1's bounds
    assert encode_varint(value) == encoded
    assert Reader(encoded + b"rest").varint("x") == value


def test_varint_over_four_bytes_is_malformed_and_ends_the_stream_after_the_packets_before_it():
    parser = codec.StreamParser(1 << 30)
    ping, error = parser.feed(b"\xc0\x00" + b"\x30\xff\xff\xff\xff\x01")
    assert ping == (codec.PINGREQ, 0, b"")
    assert isinstance(error, PacketError) and error.code == 0x81 and "four bytes" in str(error)
    assert parser.feed(b"\xc0\x00") == [error]  # nothing after it can be framed
    with pytest.raises(ValueError):
        encode_varint(268_435_456)


# ---------------------------------------------------------------- the stream


def test_a_packet_fed_byte_by_byte_comes_out_once_complete():
    parser = codec.StreamParser(65536)
    for byte in CONNECT_311[:-1]:
        assert parser.feed(bytes([byte])) == []
    assert parser.pending == len(CONNECT_311) - 1
    [(kind, flags, body)] = parser.feed(CONNECT_311[-1:])
    assert (kind, flags, parser.pending) == (codec.CONNECT, 0, 0)
    assert codec.decode_connect(body).client_id == "c1"


def test_packets_packed_in_one_piece_come_out_in_order_with_the_rest_kept():
    ping, disconnect = b"\xc0\x00", b"\xe0\x00"
    parser = codec.StreamParser(65536)
    packets = parser.feed(CONNECT_311 + ping + disconnect + CONNECT_311[:3])
    assert [kind for kind, _, _ in packets] == [codec.CONNECT, codec.PINGREQ, codec.DISCONNECT]
    assert parser.pending == 3
    assert [kind for kind, _, _ in parser.feed(CONNECT_311[3:])] == [codec.CONNECT]


def test_a_packet_over_the_maximum_is_refused_from_its_header():
    parser = codec.StreamParser(100)
    [error] = parser.feed(b"\x30\xe8\x07")  # remaining length 1000: refused before the body is sent
    assert error.code == codec.PACKET_TOO_LARGE


@pytest.mark.parametrize("data, why", [
    (b"\x00\x00", "reserved"),                   # type 0
    (b"\x80\x03\x00\x01\x00", "flags 0000"),     # SUBSCRIBE must carry 0010
    (b"\x62\x02\x00\x01", None),                 # PUBREL with 0010: fine
    (b"\xc1\x00", "flags 0001"),                 # PINGREQ with a flag
])
def test_fixed_header_flags(data, why):
    [cut] = codec.StreamParser(1000).feed(data)
    if why is None:
        assert cut == (codec.PUBREL, 0x02, b"\x00\x01")
    else:
        assert isinstance(cut, PacketError) and why in str(cut)


# ---------------------------------------------------------------- CONNECT


def test_connect_v5_with_properties_will_and_credentials():
    properties = encode_properties({0x11: 300, 0x21: 10, 0x26: [("a", "b"), ("a", "c")]})
    will_properties = encode_properties({0x18: 5, 0x03: "text/plain"})
    flags = 0x80 | 0x40 | 0x20 | (1 << 3) | 0x04  # user, password, will retain, will QoS 1, will
    body = (s("MQTT") + bytes([5, flags]) + struct.pack("!H", 30) + properties + s("dev-1") + will_properties
            + s("status/dev-1") + s("gone") + s("ann") + s("secret"))
    connect = codec.decode_connect(body)
    assert (connect.level, connect.clean, connect.keep_alive, connect.client_id) == (5, False, 30, "dev-1")
    assert connect.properties == {0x11: 300, 0x21: 10, 0x26: [("a", "b"), ("a", "c")]}
    will = connect.will
    assert (will.topic, will.payload, will.qos, will.retain) == ("status/dev-1", b"gone", 1, True)
    assert will.properties == {0x18: 5, 0x03: "text/plain"}
    assert (connect.username, connect.password) == ("ann", b"secret")


def test_connect_of_another_level_is_read_no_further():
    connect = codec.decode_connect(s("MQIsdp") + bytes([3, 0x02]) + b"anything")
    assert (connect.protocol_name, connect.level, connect.supported) == ("MQIsdp", 3, False)


@pytest.mark.parametrize("flags, why", [(0x03, "reserved"), (0x04 | 0x18, "will QoS 3"), (0x20, "without the will"),
                                        (0x42, "password without a user name")])
def test_connect_flag_violations(flags, why):
    with pytest.raises(PacketError, match=why):
        codec.decode_connect(s("MQTT") + bytes([4, flags]) + b"\x00\x3c" + s("c"))


def test_properties_unknown_and_duplicated():
    with pytest.raises(PacketError, match="unknown property identifier 0x7F") as caught:
        Reader(b"\x02\x7f\x00").properties("CONNECT")
    assert caught.value.code == 0x81
    with pytest.raises(PacketError, match="twice") as caught:
        Reader(b"\x06\x21\x00\x01\x21\x00\x02").properties("CONNECT")
    assert caught.value.code == 0x82


def test_strings_must_be_utf8_without_nul():
    with pytest.raises(PacketError, match="UTF-8"):
        Reader(b"\x00\x02\xc3\x28").string("topic name")
    with pytest.raises(PacketError, match="U\\+0000"):
        Reader(b"\x00\x01\x00").string("topic name")
    with pytest.raises(PacketError, match="ends inside"):
        Reader(b"\x00\x05ab").string("topic name")


# ---------------------------------------------------------------- PUBLISH, SUBSCRIBE, acks


def test_publish_round_trip_v311_and_v5():
    data = codec.encode_publish("a/b", b"hi", qos=1, retain=True, packet_id=7)
    assert data == b"\x33\x09" + s("a/b") + b"\x00\x07hi"
    [(kind, flags, body)] = codec.StreamParser(100).feed(data)
    publish = codec.decode_publish(flags, body, v5=False)
    assert (publish.topic, publish.payload, publish.qos, publish.retain) == ("a/b", b"hi", 1, True)
    assert publish.packet_id == 7
    data = codec.encode_publish("a/b", b"hi", properties={0x03: "text/plain", 0x0B: [4, 9]})
    [(kind, flags, body)] = codec.StreamParser(100).feed(data)
    assert codec.decode_publish(flags, body, v5=True).properties == {0x03: "text/plain", 0x0B: [4, 9]}


@pytest.mark.parametrize("flags, body, why", [(0x06, s("t") + b"\x00\x01", "QoS 3"), (0x08, s("t"), "DUP"),
                                              (0x02, s("t") + b"\x00\x00", "identifier 0")])
def test_publish_violations(flags, body, why):
    with pytest.raises(PacketError, match=why):
        codec.decode_publish(flags, body, v5=False)


def test_subscribe_options_v5_and_reserved_bits():
    body = b"\x00\x05" + encode_properties({0x0B: [3]}) + s("a/+") + bytes([0x01 | 0x04 | 0x08 | 0x20])
    subscribe = codec.decode_subscribe(body, v5=True)
    assert subscribe.packet_id == 5 and subscribe.properties == {0x0B: [3]}
    assert subscribe.entries == [("a/+", 1, True, True, 2)]
    with pytest.raises(PacketError, match="reserved bits"):
        codec.decode_subscribe(b"\x00\x05" + s("a") + b"\x04", v5=False)  # No Local is 5.0's
    with pytest.raises(PacketError, match="without a topic filter") as caught:
        codec.decode_subscribe(b"\x00\x05", v5=False)
    assert caught.value.code == 0x82


def test_acks_and_disconnect_v5_short_forms():
    assert codec.decode_ack(codec.PUBACK, b"\x00\x09", v5=True) == (9, 0)
    assert codec.decode_ack(codec.PUBACK, b"\x00\x09\x10", v5=True) == (9, 0x10)
    assert codec.decode_ack(codec.PUBACK, b"\x00\x09\x10\x00", v5=True) == (9, 0x10)
    with pytest.raises(PacketError):
        codec.decode_ack(codec.PUBACK, b"\x00\x09\x10", v5=False)
    assert codec.decode_disconnect(b"", v5=True) == (0, {})
    assert codec.decode_disconnect(b"\x04\x05\x11\x00\x00\x00\x0a", v5=True) == (4, {0x11: 10})
    assert codec.encode_ack(codec.PUBACK, 3, v5=True) == b"\x40\x02\x00\x03"
    assert codec.encode_ack(codec.PUBCOMP, 3, v5=True, reason=0x92) == b"\x70\x03\x00\x03\x92"
    assert codec.encode_disconnect(0x81) == b"\xe0\x02\x81\x00"


def test_server_packets_match_the_spec_bytes():
    assert codec.encode_connack(False, False, 0) == b"\x20\x02\x00\x00"
    assert codec.encode_connack(False, False, 0x01) == b"\x20\x02\x00\x01"
    assert codec.encode_connack(True, True, 0, {0x2A: 0}) == b"\x20\x05\x01\x00\x02\x2a\x00"
    assert codec.encode_suback(1, [0, 1, 0x80], v5=False) == b"\x90\x05\x00\x01\x00\x01\x80"
    assert codec.encode_suback(1, [1], v5=True) == b"\x90\x04\x00\x01\x00\x01"
    assert codec.encode_unsuback(2, [0x11], v5=False) == b"\xb0\x02\x00\x02"
    assert codec.encode_unsuback(2, [0x11], v5=True) == b"\xb0\x04\x00\x02\x00\x11"
    assert codec.PINGRESP_PACKET == b"\xd0\x00"


def test_decode_refuses_what_only_servers_send():
    for kind in (codec.CONNACK, codec.SUBACK, codec.UNSUBACK, codec.PINGRESP):
        with pytest.raises(PacketError, match="only servers send") as caught:
            codec.decode(kind, 0, b"", v5=True)
        assert caught.value.code == 0x82
    with pytest.raises(PacketError, match="reserved"):
        codec.decode(codec.AUTH, 0, b"", v5=False)


def test_paho_packets_decode():
    """What the reference client's own encoder writes (its internal packet builders)."""
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    properties = Properties(PacketTypes.PUBLISH)
    properties.ContentType = "application/json"
    properties.UserProperty = [("k", "v")]
    data = b"\x00\x01" + properties.pack()  # the identifier and properties of a QoS 1 PUBLISH
    body = s("x/y") + data + b"{}"
    publish = codec.decode_publish(0x02, body, v5=True)
    assert publish.properties == {0x03: "application/json", 0x26: [("k", "v")]}
    assert publish.payload == b"{}"


# ---------------------------------------------------------------- topics


@pytest.mark.parametrize("topic_filter, topic, expected", [
    ("devices/+/cmd", "devices/42/cmd", True), ("devices/+/cmd", "devices/42/x/cmd", False),
    ("devices/#", "devices", True), ("devices/#", "devices/a/b", True), ("#", "a/b", True),
    ("+/+", "a/b", True), ("+", "a/b", False), ("a/+", "a/", True), ("#", "$SYS/x", False),
    ("+/x", "$SYS/x", False), ("$SYS/#", "$SYS/x", True), ("a/b", "a/b", True), ("a/b", "a/c", False),
])
def test_matches(topic_filter, topic, expected):
    assert topics.matches(topics.levels(topic_filter), topics.levels(topic)) is expected


def test_filter_and_topic_problems():
    assert topics.filter_problem("a/#/b") and topics.filter_problem("a+") and topics.filter_problem("")
    assert topics.filter_problem("a/b#") and not topics.filter_problem("+/a/#")
    assert topics.topic_problem("a/+") and topics.topic_problem("") and not topics.topic_problem("a//b")


# ---------------------------------------------------------------- the broker's rules


class FakeClient:
    def __init__(self, window=1000, max_packet=None):
        self.window = window
        self.sent = []

    def send_publish(self, publication, qos, retain, packet_id, subscription_ids=(), dup=False):
        self.sent.append((publication.topic, qos, retain, packet_id, tuple(subscription_ids), dup))
        return True


def attached(broker, client_id, client, clean=True, expiry=0.0, **subscriptions):
    state, present = broker.session(client_id, clean, expiry)
    state.attach(client)
    for topic_filter, subscription in subscriptions.items():
        state.subscriptions[topic_filter] = subscription
    return state, present


def test_one_delivery_per_session_at_the_highest_granted_qos_with_every_identifier():
    broker, client = Broker(), FakeClient()
    state, _ = attached(broker, "c", client)
    state.subscriptions["a/+"] = Subscription("a/+", 0, identifier=2)
    state.subscriptions["a/#"] = Subscription("a/#", 1, identifier=5)
    assert broker.publish(Publication("a/b", b"x", qos=1)) == 1
    assert client.sent == [("a/b", 1, False, 1, (2, 5), False)]


def test_no_local_and_retain_as_published():
    broker, client = Broker(), FakeClient()
    state, _ = attached(broker, "c", client)
    state.subscriptions["a"] = Subscription("a", 1, no_local=True)
    assert broker.publish(Publication("a", b"x", retain=True), origin=state) == 0
    state.subscriptions["a"] = Subscription("a", 1, retain_as_published=True)
    broker.publish(Publication("a", b"x", retain=True), origin=state)
    assert client.sent == [("a", 0, True, None, (), False)]


def test_retained_store_and_delete():
    broker = Broker([Publication("config/site", b"{}", retain=True)])
    broker.publish(Publication("a/b", b"1", retain=True))
    assert [p.topic for p in broker.retained_matching(topics.levels("#"))] == ["config/site", "a/b"]
    broker.publish(Publication("a/b", b"", retain=True))
    assert list(broker.retained) == ["config/site"]


def test_window_queue_and_acknowledgements():
    broker, client = Broker(), FakeClient(window=2)
    state, _ = attached(broker, "c", client, **{"t": Subscription("t", 1)})
    for number in range(4):
        broker.publish(Publication("t", str(number).encode(), qos=1))
    assert [entry[3] for entry in client.sent] == [1, 2] and len(state.queue) == 2
    state.acknowledge(1)
    assert [entry[3] for entry in client.sent] == [1, 2, 3]
    state.acknowledge(99)  # unknown: nothing happens
    assert len(client.sent) == 3


def test_kept_session_queues_while_away_and_resends_unacknowledged_with_dup():
    broker, first = Broker(), FakeClient()
    state, present = attached(broker, "c", first, clean=False, expiry=float("inf"), **{"t": Subscription("t", 1)})
    assert not present
    broker.publish(Publication("t", b"1", qos=1))
    broker.detach(state, first)
    assert broker.publish(Publication("t", b"2", qos=1)) == 0  # queued, no live client
    broker.publish(Publication("t", b"3", qos=0))              # QoS 0: dropped while away
    second = FakeClient()
    again, present = broker.session("c", False, float("inf"))
    assert present and again is state
    again.attach(second)
    assert second.sent == [("t", 1, False, 1, (), True), ("t", 1, False, 2, (), False)]


def test_clean_session_ends_with_its_connection_and_the_queue_is_bounded():
    broker, client = Broker(), FakeClient(window=1)
    state, _ = attached(broker, "c", client, **{"t": Subscription("t", 1)})
    for number in range(MAX_QUEUED + 5):
        broker.publish(Publication("t", b"x", qos=1))
    assert len(state.queue) == MAX_QUEUED and state.dropped == 4
    broker.detach(state, client)
    assert "c" not in broker.sessions
    _, present = broker.session("c", False, 0.0)
    assert not present


# ---------------------------------------------------------------- reply templates


def test_reply_templates_see_the_publish():
    from mockd.message import MatchContext
    from mockd.protocols.mqtt.settings import render_context_variables
    from mockd.templating import RenderContext
    from mockd.testing import check_config

    rule = {"publish": "a/+/#", "match": {"type": "json", "path": "$.n", "value": "2"},
            "reply": {"topic": "{{topic}}/{{topic.1}}/{{topic.9}}x",
                      "payload": {"whole": "{{payload}}", "n": "{{payload.n}}", "item": "{{payload.list.1}}",
                                  "by": "{{clientId}}", "value": "{{match.value}}", "same": "{{message.n}}",
                                  "deep": "{{payload.list}}", "upper": "{{upper(topic.0)}}"}}}
    config = check_config({"version": "1.0", "mocks": [{"id": "t", "websocket": {
        "path": "/m", "protocol": "mqtt", "mqtt": {"on": [rule]}}}]})
    [rule] = config.mocks[0].endpoint.protocol.settings.rules
    publication = Publication("a/b/c", b'{"n": 2, "list": ["x", "y"]}')
    variables = render_context_variables(publication, "dev-1")
    message = variables["payload"].message
    captures = rule.test(publication, message, MatchContext(message))
    assert captures == {"value": 2}
    topic, payload = rule.replies[0].render(RenderContext(message, "/m", None, variables, captures))
    assert topic == "a/b/c/b/x"
    assert json.loads(payload) == {"whole": '{"n": 2, "list": ["x", "y"]}', "n": "2", "item": "y", "by": "dev-1",
                                   "value": "2", "same": "2", "deep": '["x","y"]', "upper": "A"}
    other = Publication("a/b", b'{"n": 3}')
    assert rule.test(other, Message(other.payload), MatchContext(Message(other.payload))) is None
