"""One STOMP connection, run blocking-style in its greenlet through the ProtocolContext.

The loop reads WebSocket messages, feeds their bytes to the frame parser (a frame may span
messages, a message may pack frames) and handles each frame in order. Anything the client gets
wrong is an ERROR frame (``message`` header, the explanation in the body) and a close: 1002
for a broken frame or a protocol violation, 1001 when its heart-beats stop (as mockd's own
``ping timeout``), 1000 after DISCONNECT (and its RECEIPT).

Its ``state`` is the session itself: the broker and the admin route reach its subscriptions
and ``deliver`` MESSAGE frames from other greenlets; a send only queues, so frames never
interleave.
"""
import time

from ...closecodes import CLOSE_GOING_AWAY, CLOSE_NORMAL, CLOSE_PROTOCOL_ERROR
from ...version import __version__
from . import broker
from .codec import (HEARTBEAT, SUPPORTED_VERSIONS, FrameError, FrameParser, describe, encode_frame,
                    negotiate_heart_beat, negotiate_version, parse_heart_beat)
from .settings import RESERVED_HEADERS

__all__ = ["Session", "StompFailure", "Subscription"]

ACK_MODES = ("auto", "client", "client-individual")
MAX_UNACKED = 100_000  # per connection: a client that never acks must not grow memory forever
_monotonic = time.monotonic


class StompFailure(Exception):
    """A frame the session refuses: it answers ERROR and closes."""

    def __init__(self, message, detail, headers=()):
        super().__init__(message)
        self.message = message
        self.detail = detail
        self.headers = headers


class Subscription:
    __slots__ = ("id", "destination", "ack", "active", "feeds")

    def __init__(self, subscription_id, destination, ack):
        self.id = subscription_id
        self.destination = destination
        self.ack = ack
        self.active = True
        self.feeds = []  # the greenlets playing its destinations entries


class Session:
    """A connection's STOMP state: version, subscriptions, unacknowledged messages, open
    transactions and heart-beat timing."""

    def __init__(self, protocol, ctx):
        self.protocol = protocol
        self.ctx = ctx
        settings = protocol.settings
        self.frame_timeout = settings.frame_timeout
        self.parser = FrameParser(settings.max_frame_size)
        self.version = None        # set by CONNECT: until then only CONNECT or STOMP is taken
        self.subscriptions = {}    # id -> Subscription
        self.transactions = {}     # id -> the SEND/ACK/NACK frames held until COMMIT
        self.unacked = {}          # ack id -> (subscription id, delivery number)
        self.deliveries = 0
        self.send_every = 0.0      # seconds between the server's heart-beats (0: none)
        self.expect_every = 0.0    # seconds between the client's, as negotiated (0: not watched)
        self.last_received = self.last_sent = _monotonic()
        self.partial_since = None  # when the frame still waiting for its NUL began

    @property
    def connected(self):
        return self.version is not None

    # ------------------------------------------------------------ the loop

    def run(self):
        ctx = self.ctx
        ctx.state = self
        while True:
            message = ctx.receive(timeout=self._wait(), journal=False)
            now = _monotonic()
            if message is None:
                if ctx.closed or self._timed_out(now):
                    return
                continue
            self.last_received = now
            items = self.parser.feed(message.raw)
            labels = [describe(item) for item in items]
            if self.parser.pending:
                labels.append("partial frame")
                if items or self.partial_since is None:
                    self.partial_since = now
            else:
                self.partial_since = None
            ctx.journal(message, "; ".join(labels) or "empty message")
            for item in items:
                if not self._handle(item):
                    return

    def _wait(self):
        """Seconds until the next deadline (the client's heart-beat, a frame's NUL), or None."""
        deadlines = []
        if self.expect_every:
            deadlines.append(self.last_received + 2 * self.expect_every)
        if self.partial_since is not None:
            deadlines.append(self.partial_since + self.frame_timeout)
        return max(0.001, min(deadlines) - _monotonic()) if deadlines else None

    def _timed_out(self, now):
        if self.expect_every and now - self.last_received >= 2 * self.expect_every:
            self._error("heart-beat timeout", f"nothing came from the client for {2 * self.expect_every:g}s, twice "
                        f"the negotiated heart-beat interval ({self.expect_every * 1000:g} ms)", code=CLOSE_GOING_AWAY)
            return True
        if self.partial_since is not None and now - self.partial_since >= self.frame_timeout:
            self._error("incomplete frame", f"a frame began {self.frame_timeout:g}s ago and its NUL never came: "
                        "every STOMP frame ends with a NUL byte (\\0, ^@)")
            return True
        return False

    def _handle(self, item):
        """Handle one parsed item; False once the connection is to end."""
        if item == HEARTBEAT:
            return True
        if isinstance(item, FrameError):
            self._error(item.message, item.detail)
            return False
        try:
            return self._dispatch(item)
        except StompFailure as failure:
            self._error(failure.message, failure.detail, item, failure.headers)
            return False

    def _dispatch(self, frame):
        command = frame.command
        if frame.body and command != "SEND":
            raise StompFailure("unexpected body", f"{command} frames carry no body (SEND does): was the NUL that "
                               "ends a frame missing?")
        if not self.connected:
            if command not in ("CONNECT", "STOMP"):
                raise StompFailure("not connected", f"the first frame must be CONNECT (or STOMP), not {command}")
            self._connect(frame)
            return True
        handler = _HANDLERS.get(command)
        if handler is None:
            if command in ("CONNECT", "STOMP"):
                raise StompFailure("already connected", f"{command} came on a connection already connected")
            raise StompFailure("unknown command", f"{command!r} is not a STOMP client command (one of "
                               f"{', '.join(sorted(_HANDLERS))}, CONNECT, STOMP)")
        transaction = frame.headers.get("transaction")
        if transaction is not None and command in ("SEND", "ACK", "NACK"):
            self._transaction(frame, transaction).append(frame)  # handled at COMMIT
            keep = True
        else:
            keep = handler(self, frame)
        receipt = frame.headers.get("receipt")
        if receipt is not None:
            self.send_frame("RECEIPT", [("receipt-id", receipt)], label=f"RECEIPT {receipt}")
        if not keep:
            self.ctx.close(CLOSE_NORMAL, "")
        return keep

    # ------------------------------------------------------------ sending

    def send_frame(self, command, headers, body=b"", label=None):
        """Send one frame as one WebSocket message: text when it is UTF-8 (every frame mockd
        renders), binary otherwise (a SEND's binary body passed on)."""
        data = encode_frame(command, headers, body, self.version)
        try:
            payload = data.decode("utf-8")
        except UnicodeDecodeError:
            payload = data
        self.last_sent = _monotonic()
        return self.ctx.send(payload, decoded=label or command)

    def deliver(self, subscription, destination, body, headers):
        """A MESSAGE on ``subscription``; False once the connection is closed."""
        self.deliveries += 1
        message_id = self.protocol.next_message_id()
        frame = [("destination", destination), ("message-id", message_id), ("subscription", subscription.id)]
        if subscription.ack != "auto":
            if len(self.unacked) >= MAX_UNACKED:
                del self.unacked[next(iter(self.unacked))]
            self.unacked[message_id] = (subscription.id, self.deliveries)
            if self.version == "1.2":  # 1.2 acks name this header's value; 1.0 and 1.1 the message-id
                frame.append(("ack", message_id))
        frame += [(name, value) for name, value in headers if name not in RESERVED_HEADERS]
        frame.append(("content-length", str(len(body))))
        return self.send_frame("MESSAGE", frame, body, label=f"MESSAGE {destination}")

    def _error(self, message, detail, frame=None, headers=(), code=CLOSE_PROTOCOL_ERROR):
        """ERROR (what went wrong in ``message``, why in the body, the frame's head after it)
        then close."""
        body = detail + "\n"
        if frame is not None:
            head = "\n".join([frame.command] + [f"{name}:{value}" for name, value in frame.headers.items()])
            body += f"\nThe frame:\n-----\n{head[:1000]}\n-----\n"
        body = body.encode("utf-8")
        error = [("message", message), *headers, ("content-type", "text/plain"), ("content-length", str(len(body)))]
        if frame is not None and "receipt" in frame.headers:
            error.append(("receipt-id", frame.headers["receipt"]))
        self.send_frame("ERROR", error, body, label=f"ERROR {message}")
        self.ctx.close(code, f"stomp: {message}")

    def _heart_beats(self):
        """The server's heart-beats: an EOL whenever nothing else went out for the interval."""
        ctx, every = self.ctx, self.send_every
        while not ctx.closed:
            wait = self.last_sent + every - _monotonic()
            if wait > 0:
                ctx.sleep(wait)
                continue
            self.last_sent = _monotonic()
            ctx.send("\n", decoded=HEARTBEAT)

    # ------------------------------------------------------------ commands

    def _connect(self, frame):
        version = negotiate_version(frame.headers.get("accept-version"))
        if version is None:
            raise StompFailure("unsupported version", f"accept-version {frame.headers['accept-version']!r} names no "
                               f"version this server speaks ({', '.join(SUPPORTED_VERSIONS)})",
                               [("version", ",".join(SUPPORTED_VERSIONS))])
        try:
            client = parse_heart_beat(frame.headers.get("heart-beat"))
        except FrameError as exc:
            raise StompFailure(exc.message, exc.detail) from None
        send, receive = negotiate_heart_beat(client, self.protocol.settings.heart_beat)
        self.version = self.parser.version = version
        self.send_frame("CONNECTED", [("version", version), ("heart-beat", f"{send},{receive}"),
                                      ("server", f"mockd/{__version__}"), ("session", self.ctx.connection.id)],
                        label=f"CONNECTED {version}")
        self.send_every, self.expect_every = send / 1000, receive / 1000
        self.last_received = _monotonic()
        if send:
            self.ctx.spawn(self._heart_beats)

    def _send(self, frame):
        _required(frame, "destination")
        broker.forward_send(self, frame)
        return True

    def _subscribe(self, frame):
        destination = _required(frame, "destination")
        subscription_id = frame.headers.get("id")
        if subscription_id is None:
            if self.version != "1.0":
                raise StompFailure("missing header", "SUBSCRIBE needs an id header (STOMP 1.1 and 1.2)")
            subscription_id = destination  # 1.0's id is optional: the destination stands for it
        if subscription_id in self.subscriptions:
            raise StompFailure("duplicate subscription", f"subscription id {subscription_id!r} is in use on this "
                               "connection")
        ack = frame.headers.get("ack", "auto")
        if ack not in ACK_MODES:
            raise StompFailure("invalid ack mode", f"ack {ack!r} is not one of {', '.join(ACK_MODES)}")
        subscription = self.subscriptions[subscription_id] = Subscription(subscription_id, destination, ack)
        # Started now, run once this greenlet yields: after the RECEIPT the caller sends.
        for feed in self.protocol.settings.feeds_for(destination):
            subscription.feeds.append(self.ctx.spawn(broker.play_feed, self, subscription, feed, frame.headers))
        return True

    def _unsubscribe(self, frame):
        subscription_id = frame.headers.get("id")
        if subscription_id is None and self.version == "1.0":
            subscription_id = frame.headers.get("destination")
        if subscription_id is None:
            raise StompFailure("missing header", "UNSUBSCRIBE needs an id header")
        subscription = self.subscriptions.pop(subscription_id, None)
        if subscription is None:
            raise StompFailure("unknown subscription", f"no subscription {subscription_id!r} on this connection")
        subscription.active = False
        for feed in subscription.feeds:
            feed.kill(block=False)
        self.unacked = {key: value for key, value in self.unacked.items() if value[0] != subscription_id}
        return True

    def _ack(self, frame):
        key = "id" if self.version == "1.2" else "message-id"
        ack_id = _required(frame, key)
        found = self.unacked.get(ack_id)
        if found is None:
            raise StompFailure("unknown ack id", f"{frame.command} {key} {ack_id!r}: no message awaiting an "
                               "acknowledgement has it (auto subscriptions need none; each is acked once)")
        subscription_id, number = found
        subscription = self.subscriptions.get(subscription_id)
        if subscription is not None and subscription.ack == "client":  # cumulative: this one and those before
            self.unacked = {key: (sid, n) for key, (sid, n) in self.unacked.items()
                            if sid != subscription_id or n > number}
        else:
            del self.unacked[ack_id]
        return True  # a NACKed message is not redelivered (docs/protocols.md, limits)

    def _begin(self, frame):
        transaction = _required(frame, "transaction")
        if transaction in self.transactions:
            raise StompFailure("duplicate transaction", f"transaction {transaction!r} has begun already")
        self.transactions[transaction] = []
        return True

    def _commit(self, frame):
        for held in self._transaction(frame, _required(frame, "transaction")):
            _HANDLERS[held.command](self, held)
        del self.transactions[frame.headers["transaction"]]
        return True

    def _abort(self, frame):
        self._transaction(frame, _required(frame, "transaction"))
        del self.transactions[frame.headers["transaction"]]
        return True

    def _transaction(self, frame, transaction):
        held = self.transactions.get(transaction)
        if held is None:
            raise StompFailure("unknown transaction", f"{frame.command}: transaction {transaction!r} has not begun "
                               "(BEGIN) or has ended")
        return held

    def _disconnect(self, frame):
        return False


def _required(frame, name):
    value = frame.headers.get(name)
    if not value:
        raise StompFailure("missing header", f"{frame.command} needs a {name} header")
    return value


_HANDLERS = {"SEND": Session._send, "SUBSCRIBE": Session._subscribe, "UNSUBSCRIBE": Session._unsubscribe,
             "ACK": Session._ack, "NACK": Session._ack, "BEGIN": Session._begin, "COMMIT": Session._commit,
             "ABORT": Session._abort, "DISCONNECT": Session._disconnect}
