"""The MQTT pack (docs/protocols.md, "MQTT") against a real server: the documented example as
written, with the reference client (paho-mqtt 2.2 over WebSocket, MQTT 3.1.1 and 5.0, in a
subprocess driven line by line: it runs threads, which the gevent-patched test process must
not), and raw websocket-client connections for what paho never sends (packets split or packed
at will, malformed ones, silence past the keep-alive, other protocol levels)."""
import json
import pathlib
import re
import struct
import subprocess
import sys
import time

import gevent
import _docs
import pytest
import websocket

from _cli import env, mockd
from mockd.testing import assert_silent, check_config, recv_close

pytestmark = pytest.mark.usefixtures("no_unhandled_errors")

ROOT = pathlib.Path(__file__).resolve().parents[1]
HEADING = "MQTT"


def section_blocks(language):
    return _docs.section_blocks(HEADING, language)

EXAMPLE = section_blocks("yaml")[0]

# ---------------------------------------------------------------- the reference client

# paho-mqtt, driven by JSON commands on stdin; each callback prints a JSON line.
DRIVER = r"""
import json, os, sys, threading
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

options = json.loads(sys.argv[1])
v5 = options.get("version") == 5
lock = threading.Lock()

def out(**event):
    with lock:
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()

client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=options.get("id", ""), transport="websockets",
                     protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
                     clean_session=None if v5 else options.get("clean", True))
client.ws_set_options(path=options.get("path", "/mqtt"))
will = options.get("will")
if will:
    client.will_set(will["topic"], will["payload"], qos=will.get("qos", 0), retain=will.get("retain", False))
client.on_connect = lambda c, u, flags, rc, props: out(event="connected", rc=rc.value,
                                                       present=bool(flags.session_present))
client.on_subscribe = lambda c, u, mid, codes, props: out(event="suback", mid=mid, codes=[code.value for code in codes])
client.on_unsubscribe = lambda c, u, mid, codes, props: out(event="unsuback", mid=mid)
client.on_publish = lambda c, u, mid, rc, props: out(event="acked", mid=mid)
client.on_message = lambda c, u, m: out(event="message", topic=m.topic, payload=m.payload.decode(), qos=m.qos,
                                        retain=bool(m.retain))
client.on_disconnect = lambda c, u, flags, rc, props: out(event="disconnected", rc=rc.value)
arguments = {"keepalive": options.get("keepalive", 60)}
if v5:
    arguments["clean_start"] = options.get("clean", True)
client.connect("127.0.0.1", options["port"], **arguments)
client.loop_start()
for line in sys.stdin:
    command = json.loads(line)
    if "subscribe" in command:
        out(event="subscribing", mid=client.subscribe(command["subscribe"], qos=command.get("qos", 0))[1])
    elif "unsubscribe" in command:
        client.unsubscribe(command["unsubscribe"])
    elif "publish" in command:
        info = client.publish(command["publish"], command.get("payload", ""), qos=command.get("qos", 0),
                              retain=command.get("retain", False))
        out(event="publishing", mid=info.mid)
    elif "disconnect" in command:
        client.disconnect()
        client.loop_stop()
        out(event="bye")
        break
    elif "abort" in command:
        os._exit(0)  # the socket dies with the process: no DISCONNECT, no close frame
"""


class Paho:
    """One paho-mqtt client in a subprocess of its own."""

    def __init__(self, server, **options):
        options.setdefault("port", server.port)
        self.proc = subprocess.Popen([sys.executable, "-c", DRIVER, json.dumps(options)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env())
        self.backlog = []

    def do(self, **command):
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()

    def next(self, timeout=10.0):
        with gevent.Timeout(timeout, AssertionError(f"paho printed nothing within {timeout:g}s")):
            line = self.proc.stdout.readline()
        assert line, self.proc.stderr.read()
        return json.loads(line)

    def wait(self, kind, timeout=10.0, **fields):
        """The first event of ``kind`` (with ``fields``) not taken yet; the others read on the
        way are kept for later calls (a PUBACK may come before or after the reply)."""
        def wanted(event):
            return event["event"] == kind and all(event.get(key) == value for key, value in fields.items())

        for index, event in enumerate(self.backlog):
            if wanted(event):
                return self.backlog.pop(index)
        deadline = time.monotonic() + timeout
        while True:
            event = self.next(max(0.01, deadline - time.monotonic()))
            if wanted(event):
                return event
            self.backlog.append(event)

    def message(self, topic, timeout=10.0):
        return self.wait("message", timeout, topic=topic)

    def silent(self, seconds=0.5):
        """No message arrives for ``seconds`` (nor came unread before)."""
        assert not [event for event in self.backlog if event["event"] == "message"], self.backlog
        with gevent.Timeout(seconds, False):
            while True:
                event = self.next(seconds + 1)
                assert event["event"] != "message", event

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=5)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            stream.close()


@pytest.fixture
def paho(make_mockd_server):
    started = []

    def start(server, **options):
        client = Paho(server, **options)
        started.append(client)
        assert client.wait("connected")["rc"] == 0
        return client

    yield start
    for client in started:
        client.stop()


def subscribe(client, topic, qos=1):
    client.do(subscribe=topic, qos=qos)
    return client.wait("suback")["codes"]


def inbound_matched(server):
    return [entry["matched"] for entry in server.journal if entry["direction"] == "inbound"]


def outbound_matched(server):
    return [entry["matched"] for entry in server.journal if entry["direction"] == "outbound"]


# ---------------------------------------------------------------- the documented example


@pytest.mark.slow
@pytest.mark.parametrize("version", [4, 5], ids=["3.1.1", "5.0"])
def test_documented_example(make_mockd_server, paho, version):
    check_config(EXAMPLE)
    server = make_mockd_server(EXAMPLE)
    device = paho(server, version=version, id=f"dev-{version}")
    assert subscribe(device, "config/site") == [1]
    retained = device.message("config/site")
    assert (retained["payload"], retained["retain"]) == ('{"mode":"test"}', True)
    assert subscribe(device, "devices/+/ack") == [1]

    device.do(publish="devices/42/cmd", payload='{"op":"reboot"}', qos=1)
    ack = device.message("devices/42/ack")
    assert (ack["payload"], ack["qos"], ack["retain"]) == ('{"ok":true}', 1, False)
    device.wait("acked")  # our PUBACK reached paho

    device.do(publish="devices/42/cmd", payload='{"op":"rename","name":"lamp"}', qos=0)
    ack = device.message("devices/42/ack")  # the second rule's list: name (retained), then ack
    assert (ack["payload"], ack["qos"]) == ('{"ok":true,"op":"rename"}', 0)
    assert subscribe(device, "devices/+/name", qos=0) == [0]
    named = device.message("devices/42/name")
    assert json.loads(named["payload"]) == {"name": "lamp", "by": f"dev-{version}"} and named["retain"]

    version_name = "5.0" if version == 5 else "3.1.1"
    assert f"mqtt: CONNECT {version_name} dev-{version}" in inbound_matched(server)
    assert "mqtt: PUBLISH devices/42/cmd" in inbound_matched(server)
    assert "mqtt: SUBSCRIBE devices/+/ack" in inbound_matched(server)
    assert {"mqtt: CONNACK 0", "mqtt: PUBLISH devices/42/ack", "mqtt: PUBACK 3"} <= set(outbound_matched(server))


@pytest.mark.slow
def test_documented_python_client(make_mockd_server):
    server = make_mockd_server(EXAMPLE)
    [script] = section_blocks("python")
    assert 'client.connect("localhost", 4280)' in script
    script = script.replace('client.connect("localhost", 4280)', f'client.connect("127.0.0.1", {server.port})')
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env())
    try:
        with gevent.Timeout(20, AssertionError("the documented client did not finish")):
            out, err = proc.communicate()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert out.splitlines() == ['config/site {"mode":"test"}', 'devices/42/ack {"ok":true}']


# ---------------------------------------------------------------- the broker, with paho

BROKER = {"version": "1.0", "mocks": [{"id": "broker", "websocket": {"path": "/mqtt", "protocol": "mqtt"}}]}


@pytest.mark.slow
def test_a_client_receives_what_another_publishes_and_retained_messages(make_mockd_server, paho):
    server = make_mockd_server(BROKER)
    listener = paho(server, version=4, id="listener")
    talker = paho(server, version=5, id="talker")
    assert subscribe(listener, "chat/#") == [1]
    talker.do(publish="chat/room1", payload="hi", qos=1)
    message = listener.message("chat/room1")
    assert (message["payload"], message["qos"], message["retain"]) == ("hi", 1, False)
    talker.wait("acked")

    talker.do(publish="chat/topic", payload="rules", qos=0, retain=True)
    assert listener.message("chat/topic")["retain"] is False  # a live subscriber: as published, not retained
    latecomer = paho(server, version=5, id="latecomer")
    assert subscribe(latecomer, "chat/+", qos=0) == [0]
    stored = latecomer.message("chat/topic")
    assert (stored["payload"], stored["retain"]) == ("rules", True)

    talker.do(publish="chat/topic", payload="", retain=True)  # an empty retained payload deletes
    assert listener.message("chat/topic")["payload"] == ""    # and goes to live subscribers as any other
    assert latecomer.message("chat/topic")["payload"] == ""
    third = paho(server, version=4, id="third")
    subscribe(third, "chat/+")
    third.silent(0.4)
    latecomer.do(unsubscribe="chat/+")
    latecomer.wait("unsuback")
    talker.do(publish="chat/room1", payload="again")
    assert listener.message("chat/room1")["payload"] == "again"
    latecomer.silent(0.3)


@pytest.mark.slow
@pytest.mark.parametrize("version", [4, 5], ids=["3.1.1", "5.0"])
def test_last_will_on_abnormal_loss_only(make_mockd_server, paho, version):
    server = make_mockd_server(BROKER)
    watcher = paho(server, version=5, id="watcher")
    assert subscribe(watcher, "status/#") == [1]
    lost = paho(server, version=version, id="lost", will={"topic": "status/lost", "payload": "offline", "qos": 1})
    polite = paho(server, version=version, id="polite", will={"topic": "status/polite", "payload": "offline"})
    lost.do(abort=True)
    will = watcher.message("status/lost")
    assert (will["payload"], will["qos"]) == ("offline", 1)
    polite.do(disconnect=True)
    polite.wait("bye")
    watcher.silent(0.5)
    assert "mqtt: DISCONNECT" in inbound_matched(server)


@pytest.mark.slow
def test_admin_publish(make_mockd_server, paho):
    server = make_mockd_server(EXAMPLE)
    client = paho(server, version=5, id="ops")
    assert subscribe(client, "alerts/#") == [1]
    answer = server.admin.post("/mqtt/publish", {"path": "/mqtt", "topic": "alerts/fire", "payload": {"level": 3},
                                                 "qos": 1})
    assert (answer.status, answer.json) == (200, {"sent": 1})
    message = client.message("alerts/fire")
    assert (message["payload"], message["qos"]) == ('{"level":3}', 1)
    answer = server.admin.post("/mqtt/publish", {"topic": "alerts/stored", "payload": "kept", "retain": True})
    assert answer.json == {"sent": 1}  # no path: every MQTT mock
    assert client.message("alerts/stored")["qos"] == 0
    assert server.admin.post("/mqtt/publish", {"path": "/mqtt", "topic": "nobody/listens"}).json == {"sent": 0}
    assert subscribe(client, "alerts/stored", qos=0) == [0]
    assert client.message("alerts/stored")["retain"] is True
    assert server.admin.post("/mqtt/publish", {"path": "/mqtt", "topic": "alerts/stored", "retain": True}).status == 200
    assert "alerts/stored" not in server.server.mocks.routes["/mqtt"].endpoint.protocol.broker.retained

    for body, status, text in [({"path": "/mqtt", "topic": "a/+"}, 400, "wildcards"),
                               ({"path": "/mqtt", "topic": "a", "qos": 2}, 400, "qos"),
                               ({"path": "/mqtt", "topic": "a", "retained": True}, 400, "unknown field"),
                               ({"path": "/mqtt"}, 400, "topic"),
                               ({"path": "/nope", "topic": "a"}, 404, "no MQTT mock on /nope")]:
        answer = server.admin.post("/mqtt/publish", body)
        assert answer.status == status and text in answer.json["message"], (body, answer.json)


# ---------------------------------------------------------------- raw packets


def mqtt_string(text):
    data = text.encode("utf-8")
    return struct.pack("!H", len(data)) + data


def packet(first, body):
    length, header = len(body), bytearray([first])
    while True:
        length, digit = length >> 7, length & 0x7F
        header.append(digit | (0x80 if length else 0))
        if not length:
            return bytes(header) + body


def connect_packet(client_id="raw", level=4, keep_alive=0, clean=True, will=None, name="MQTT"):
    flags, payload = (0x02 if clean else 0), mqtt_string(client_id)
    if will is not None:
        flags |= 0x04
        payload += (b"\x00" if level == 5 else b"") + mqtt_string(will[0]) + mqtt_string(will[1])
    properties = b"\x00" if level == 5 else b""
    return packet(0x10, mqtt_string(name) + bytes([level, flags]) + struct.pack("!H", keep_alive) + properties
                  + payload)


def subscribe_packet(packet_id, *filters, qos=1, v5=False):
    body = struct.pack("!H", packet_id) + (b"\x00" if v5 else b"")
    return packet(0x82, body + b"".join(mqtt_string(topic) + bytes([qos]) for topic in filters))


def publish_packet(topic, payload=b"", qos=0, packet_id=None, v5=False, retain=False):
    body = mqtt_string(topic) + (struct.pack("!H", packet_id) if qos else b"") + (b"\x00" if v5 else b"")
    return packet(0x30 | qos << 1 | int(retain), body + payload)


PINGREQ, DISCONNECT = b"\xc0\x00", b"\xe0\x00"


def puback_packet(packet_id):
    return packet(0x40, struct.pack("!H", packet_id))


class Raw:
    """A websocket-client connection that speaks MQTT bytes; the server writes a packet a frame."""

    def __init__(self, ws):
        self.ws = ws

    def send(self, *chunks):
        for chunk in chunks:
            self.ws.send_binary(chunk)

    def read(self):
        """``(type, flags, body)`` of the server's next packet."""
        opcode, data = self.ws.recv_data()
        assert opcode == websocket.ABNF.OPCODE_BINARY, (opcode, data)
        length = shift = 0
        index = 1
        while True:
            length |= (data[index] & 0x7F) << shift
            shift += 7
            index += 1
            if not data[index - 1] & 0x80:
                break
        assert len(data) == index + length, f"one packet a frame: {data!r}"
        return data[0] >> 4, data[0] & 0x0F, data[index:]

    def expect(self, kind):
        got = self.read()
        assert got[0] == kind, got
        return got


@pytest.fixture
def raw(make_mockd_server, ws_client):
    def connect(server, path="/mqtt", hello=None):
        ws = ws_client(server.url(path), subprotocols=["mqtt"])
        assert ws.getsubprotocol() == "mqtt"
        client = Raw(ws)
        if hello is not None:
            client.send(hello)
            assert client.read()[2][1] == 0, "CONNACK 0"
        return client
    return connect


def test_a_packet_split_across_frames(make_mockd_server, raw):
    server = make_mockd_server(BROKER)
    client = raw(server)
    hello = connect_packet("split")
    client.send(*(bytes([byte]) for byte in hello))  # a frame a byte
    assert client.read() == (2, 0, b"\x00\x00")
    sub = subscribe_packet(1, "t/+")
    client.send(sub[:1], sub[1:4], sub[4:])  # the cut in the header and in a string
    assert client.read() == (9, 0, b"\x00\x01\x01")
    assert "mqtt: part of a packet (1 bytes so far)" in inbound_matched(server)
    assert "mqtt: CONNECT 3.1.1 split" in inbound_matched(server)


def test_several_packets_in_one_frame(make_mockd_server, raw):
    server = make_mockd_server(BROKER)
    client = raw(server)
    client.send(connect_packet("packed") + subscribe_packet(1, "t") + publish_packet("t", b"x", qos=1, packet_id=5)
                + PINGREQ)
    assert client.read() == (2, 0, b"\x00\x00")
    assert client.read() == (9, 0, b"\x00\x01\x01")
    assert client.read() == (4, 0, b"\x00\x05")                             # PUBACK of ours
    assert client.read() == (3, 0x02, mqtt_string("t") + b"\x00\x01x")     # QoS 1, packet id 1
    assert client.read() == (13, 0, b"")
    client.send(puback_packet(1))
    assert "mqtt: CONNECT 3.1.1 packed; SUBSCRIBE t; PUBLISH t; PINGREQ" in inbound_matched(server)
    client.send(DISCONNECT)
    assert recv_close(client.ws) == (1000, "")


@pytest.mark.parametrize("version", [4, 5], ids=["3.1.1", "5.0"])
def test_a_malformed_packet_closes_the_connection(make_mockd_server, raw, version):
    server = make_mockd_server(BROKER)
    client = raw(server)
    client.send(connect_packet("bad", level=version) + b"\x30\xff\xff\xff\xff\x01")  # a 5-byte remaining length
    assert client.expect(2)[2][:2] == b"\x00\x00"  # the CONNECT before it in the frame is answered
    if version == 5:
        kind, _, body = client.expect(14)  # DISCONNECT 0x81 Malformed Packet, with a reason string
        assert body[0] == 0x81 and b"four bytes" in body
    assert recv_close(client.ws, allow_data=False) == (1002, "MQTT: a variable byte integer longer than four bytes")
    name = "5.0" if version == 5 else "3.1.1"
    assert inbound_matched(server) == [f"mqtt: CONNECT {name} bad; malformed: a variable byte integer longer than "
                                       "four bytes"]


@pytest.mark.parametrize("frames, code, reason", [
    ([PINGREQ], None, "MQTT: the first packet must be CONNECT, not PINGREQ"),
    ([connect_packet("twice", level=5), connect_packet("twice", level=5)], 0x82, "MQTT: a second CONNECT"),
    ([connect_packet("wild", level=5), publish_packet("a/+", b"x", v5=True)], 0x90, "MQTT: PUBLISH to an invalid"),
    ([connect_packet("flags", level=5), b"\x80\x06\x00\x01\x00\x01t\x00"], 0x81, "MQTT: SUBSCRIBE with fixed header"),
    ([connect_packet("qos3", level=5), b"\x36\x05\x00\x01t\x00\x01"], 0x81, "MQTT: PUBLISH with QoS 3"),
    ([connect_packet("server", level=4), b"\x90\x03\x00\x01\x00"], None, "MQTT: SUBACK is a packet only servers send"),
], ids=["first-not-connect", "second-connect", "wildcard-topic", "subscribe-flags", "qos-3", "suback"])
def test_protocol_errors(make_mockd_server, raw, frames, code, reason):
    server = make_mockd_server(BROKER)
    client = raw(server)
    client.send(*frames)
    if frames[0] != PINGREQ:
        client.expect(2)
    if code is not None:
        assert client.expect(14)[2][0] == code
    closed = recv_close(client.ws, allow_data=False)
    assert closed[0] == 1002 and closed[1].startswith(reason), closed


def test_a_text_frame_is_refused(make_mockd_server, raw):
    client = raw(make_mockd_server(BROKER), hello=connect_packet("text"))
    client.ws.send("hello")
    assert recv_close(client.ws, allow_data=False) == (1003, "MQTT over WebSocket takes binary frames only")


def test_a_packet_over_the_maximum_size(make_mockd_server, raw):
    config = {"version": "1.0", "mocks": [{"id": "small", "websocket": {"path": "/mqtt", "protocol": "mqtt",
                                                                        "maxMessageSize": 1024}}]}
    client = raw(make_mockd_server(config))
    client.send(connect_packet("big", level=5))
    kind, _, body = client.expect(2)
    assert body[:2] == b"\x00\x00" and b"\x27\x00\x00\x04\x00" in body  # Maximum Packet Size 1024
    client.send(publish_packet("t", b"x" * 900, v5=True))         # under the maximum: fine
    client.send(publish_packet("t", b"x" * 2000, v5=True)[:100])  # over it: refused from its header
    assert client.expect(14)[2][0] == 0x95
    closed = recv_close(client.ws, allow_data=False)
    assert closed[0] == 1009 and "maximum packet size" in closed[1]


@pytest.mark.slow
@pytest.mark.parametrize("version", [4, 5], ids=["3.1.1", "5.0"])
def test_keep_alive_expiry(make_mockd_server, raw, version):
    server = make_mockd_server(BROKER)
    watcher = raw(server, hello=connect_packet("watcher"))
    watcher.send(subscribe_packet(1, "status/#"))
    watcher.expect(9)
    pinging = raw(server, hello=connect_packet("pinging", keep_alive=1))
    quiet = raw(server, hello=connect_packet("quiet", level=version, keep_alive=1, will=("status/quiet", "gone")))
    started = time.monotonic()
    for _ in range(4):  # PINGREQ each 0.5 s keeps "pinging" alive past the 1.5 s
        gevent.sleep(0.5)
        pinging.send(PINGREQ)
        pinging.expect(13)
    if version == 5:
        assert quiet.expect(14)[2][0] == 0x8D
    closed = recv_close(quiet.ws, allow_data=False)
    assert closed == (1002, "MQTT keep-alive timeout: no packet for 1.5 s (1.5 x Keep Alive)")
    assert 1.4 <= time.monotonic() - started
    assert watcher.expect(3)[2] == mqtt_string("status/quiet") + b"gone"  # the will
    assert_silent(pinging.ws, 0.1)


@pytest.mark.parametrize("level, name, connack", [
    (3, "MQIsdp", b"\x20\x02\x00\x01"),       # 3.1.1's form: 0x01 unacceptable protocol version
    (6, "MQTT", b"\x20\x03\x00\x84\x00"),     # 5.0's form: 0x84 Unsupported Protocol Version
], ids=["3.1", "level-6"])
def test_an_unsupported_protocol_level_is_refused(make_mockd_server, raw, level, name, connack):
    server = make_mockd_server(BROKER)
    client = raw(server)
    client.send(connect_packet("other", level=level, name=name))
    assert client.ws.recv_data() == (websocket.ABNF.OPCODE_BINARY, connack)
    code, reason = recv_close(client.ws, allow_data=False)
    assert code == 1002 and reason.startswith(f"MQTT: unsupported protocol level {level}")
    assert f"mqtt: CONNECT {name} level {level}" in inbound_matched(server)


@pytest.mark.slow
def test_paho_mqtt_31_is_refused(make_mockd_server):
    server = make_mockd_server(BROKER)
    script = ("import paho.mqtt.client as mqtt, sys\n"
              "from paho.mqtt.enums import CallbackAPIVersion\n"
              "c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id='old', transport='websockets', "
              "protocol=mqtt.MQTTv31)\n"
              "c.ws_set_options(path='/mqtt')\n"
              "c.on_connect = lambda c, u, f, rc, p: (print(rc.value, rc), c.disconnect())\n"
              f"c.connect('127.0.0.1', {server.port})\n"
              "c.loop_forever()\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=20, env=env())
    # paho reports the 3.1.1 form's return code 1 as MQTT 5.0's equivalent, 132 (0x84)
    assert done.stdout == "132 Unsupported protocol version\n", (done.stdout, done.stderr)
    assert "mqtt: CONNECT MQIsdp level 3" in inbound_matched(server)
    assert "mqtt: CONNACK 0x01" in outbound_matched(server)


def test_subscribe_failure_codes_and_unsubscribe_codes(make_mockd_server, raw):
    server = make_mockd_server(BROKER)
    v5 = raw(server, hello=connect_packet("five", level=5))
    v5.send(subscribe_packet(3, "a/#/b", "$share/g/t", "ok/+", qos=2, v5=True))
    assert v5.expect(9)[2] == b"\x00\x03\x00" + bytes([0x8F, 0x9E, 0x01])
    v5.send(packet(0xA2, b"\x00\x04\x00" + mqtt_string("ok/+") + mqtt_string("never")))
    assert v5.expect(11)[2] == b"\x00\x04\x00\x00\x11"
    v3 = raw(server, hello=connect_packet("three"))
    v3.send(subscribe_packet(1, "a+", "fine", qos=0))
    assert v3.expect(9)[2] == b"\x00\x01\x80\x00"


def test_a_reply_topic_that_renders_invalid_is_not_published(make_mockd_server, raw):
    config = {"version": "1.0", "mocks": [{"id": "echo", "websocket": {"path": "/mqtt", "protocol": "mqtt", "mqtt": {
        "on": [{"publish": "in", "reply": {"topic": "out/{{payload.to}}", "payload": "{{payload}}"}}]}}}]}
    server = make_mockd_server(config)
    client = raw(server, hello=connect_packet("echo"))
    client.send(subscribe_packet(1, "out/#", qos=0))
    client.expect(9)
    client.send(publish_packet("in", b'{"to": "a/+"}'), publish_packet("in", b'{"to": "\\ud800"}'),
                publish_packet("in", b'{"to": "ok"}'))
    assert client.expect(3)[2] == mqtt_string("out/ok") + b'{"to": "ok"}'
    events = [entry["body"] for entry in server.journal if entry["direction"] == "event"]
    assert len(events) == 2 and "wildcards" in events[0] and "lone surrogate" in events[1], events


def test_an_empty_client_identifier(make_mockd_server, raw):
    server = make_mockd_server(BROKER)
    v5 = raw(server)
    v5.send(connect_packet("", level=5))
    body = v5.expect(2)[2]
    assert body[:2] == b"\x00\x00"
    assigned = re.search(rb"\x12\x00.(mockd-[\w-]+)", body)  # the Assigned Client Identifier property
    assert assigned, body
    assert "mqtt: CONNECT 5.0" in inbound_matched(server)
    v3 = raw(server)
    v3.send(connect_packet("", clean=False))
    assert v3.ws.recv_data() == (websocket.ABNF.OPCODE_BINARY, b"\x20\x02\x00\x02")  # identifier rejected
    assert recv_close(v3.ws, allow_data=False) == (1002, "MQTT: an empty client identifier needs Clean Session 1")


def test_session_takeover(make_mockd_server, raw):
    server = make_mockd_server(BROKER)
    first = raw(server, hello=connect_packet("same", level=5))
    raw(server, hello=connect_packet("same", level=5))
    assert first.expect(14)[2][0] == 0x8E
    assert recv_close(first.ws, allow_data=False) == (1000, "MQTT: session taken over by a new connection")


def test_a_kept_session_gets_what_it_missed_and_unacknowledged_messages_again(make_mockd_server, raw):
    server = make_mockd_server(BROKER)
    client = raw(server, hello=connect_packet("keeper", clean=False))
    client.send(subscribe_packet(1, "jobs/#"))
    client.expect(9)
    assert server.admin.post("/mqtt/publish", {"path": "/mqtt", "topic": "jobs/1", "payload": "a", "qos": 1}).json \
        == {"sent": 1}
    assert client.expect(3) == (3, 0x02, mqtt_string("jobs/1") + b"\x00\x01a")  # not acknowledged
    client.ws.sock.shutdown(2)  # the connection drops
    client.ws.sock.close()
    assert _eventually(lambda: not server.server.protocol_contexts(protocol="mqtt"))
    assert server.admin.post("/mqtt/publish", {"path": "/mqtt", "topic": "jobs/2", "payload": "b", "qos": 1}).json \
        == {"sent": 0}
    again = raw(server)
    again.send(connect_packet("keeper", clean=False))
    assert again.expect(2)[2] == b"\x01\x00"                                    # session present
    assert again.expect(3) == (3, 0x0A, mqtt_string("jobs/1") + b"\x00\x01a")  # DUP, same packet id
    assert again.expect(3) == (3, 0x02, mqtt_string("jobs/2") + b"\x00\x02b")
    fresh = raw(server)
    fresh.send(connect_packet("keeper", clean=True))
    assert fresh.expect(2)[2] == b"\x00\x00"                                    # a clean one: no session


def _eventually(predicate, timeout=3.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        gevent.sleep(0.02)
    return True


# ---------------------------------------------------------------- mockd check

BAD = """\
version: "1.0"
mocks:
  - id: broken
    websocket:
      path: /mqtt
      protocol: mqtt
      mqtt:
        retained:
          - {topic: "config/+", payload: x}
          - {topic: ok, qos: 2}
        on:
          - publish: "devices/#/cmd"
            reply: {topic: a}
          - publish: devices/+/cmd
            reply: {topic: "devices/{{topic.1}}/{{topics.1}}", payload: x, qos: 1, retian: true}
          - publish: x
        unknown: 1
"""


@pytest.mark.slow
def test_mockd_check_locates_every_error(tmp_path):
    path = tmp_path / "mqtt.yaml"
    path.write_text(BAD, encoding="utf-8")
    done = mockd("check", "-c", path)
    assert done.returncode == 2, done.stdout + done.stderr
    output = done.stdout + done.stderr
    for where, text in [("mocks[0].websocket.mqtt.unknown", "unknown key"),
                        ("mocks[0].websocket.mqtt.retained[0].topic", "wildcards"),
                        ("mocks[0].websocket.mqtt.retained[1].qos", "QoS 0 or 1"),
                        ("mocks[0].websocket.mqtt.on[0].publish", "# must be a whole level and the last one"),
                        ("mocks[0].websocket.mqtt.on[1].reply.topic", "topics.1"),
                        ("mocks[0].websocket.mqtt.on[1].reply.retian", "unknown key"),
                        ("mocks[0].websocket.mqtt.on[2].reply", "reply is required")]:
        assert re.search(re.escape(where) + r".*" + re.escape(text), output), (where, text, output)


def test_good_templates_load():
    check_config(EXAMPLE)
    check_config(BROKER)
