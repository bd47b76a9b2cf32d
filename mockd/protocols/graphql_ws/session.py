"""One ``graphql-transport-ws`` connection, served from the connection's greenlet.

The loop reads the client's messages in order and answers the ones that want an answer at
once (``connection_ack``, ``pong``, an ``error``, a close code); each subscription streams its
``next`` messages from a greenlet of its own (``ctx.spawn``), so that several run side by side
and the loop keeps reading: a client ``complete`` stops its stream between two messages. The
session is the context's ``state``, where ``POST /graphql/publish`` finds the live subscriptions.
"""
import itertools
import time

from ...message import NOT_JSON
from ...templating import RenderContext
from . import codec

__all__ = ["Session", "Subscription"]

_monotonic = time.monotonic


class Subscription:
    """A subscribe the server is answering: from its match until its ``complete`` (either
    side's) or the connection's end."""

    __slots__ = ("id", "name", "greenlet", "done")

    def __init__(self, op_id, name):
        self.id = op_id
        self.name = name  # the operation's name, or None for an anonymous one
        self.greenlet = None
        self.done = False  # set when the client completed it: no further message goes out

    @property
    def label(self):
        return self.name or "(anonymous)"

    def stop(self):
        self.done = True
        if self.greenlet is not None:
            self.greenlet.kill(block=False)  # also ends a long interval at once


class Session:
    """The protocol state of one connection (``ctx.state``)."""

    def __init__(self, settings, ctx):
        self.settings = settings
        self.ctx = ctx
        self.initialised = False   # a connection_init came (a second one closes with 4429)
        self.acknowledged = False  # connection_ack sent: subscribes are allowed
        self.subscriptions = {}    # id -> Subscription, while its operation is being answered
        ctx.state = self

    # ------------------------------------------------------------ the receive loop

    def run(self):
        ctx = self.ctx
        if ctx.subprotocol != codec.SUBPROTOCOL:
            # As graphql-ws's server does: a client that did not ask for the protocol is not
            # speaking it (mockd offers it; the client's handshake left it out).
            ctx.close(codec.SUBPROTOCOL_NOT_ACCEPTABLE, "Subprotocol not acceptable")
            return
        init_timeout = self.settings.init_timeout
        deadline = _monotonic() + init_timeout if init_timeout else None
        while True:
            timeout = None
            if deadline is not None and not self.initialised:
                timeout = max(0.0, deadline - _monotonic())
            message = ctx.receive(timeout=timeout, journal=False)
            if message is None:
                if not ctx.closed:  # only a receive with a deadline comes back empty-handed
                    ctx.record(f"no connection_init within {init_timeout:g}s")
                    ctx.close(codec.INIT_TIMEOUT, "Connection initialisation timeout")
                return
            if not self.handle(message):
                return

    def handle(self, message):
        """Act on one client message; False once the socket is being closed."""
        ctx = self.ctx
        document = message.json()
        try:
            if document is NOT_JSON:
                raise codec.BadMessage("Invalid message received: not JSON")
            decoded = codec.validate(document)
        except codec.BadMessage as exc:
            ctx.journal(message, f"invalid message: {exc.reason}")
            ctx.close(codec.BAD_REQUEST, codec.close_reason(exc.reason))
            return False
        kind = decoded.type
        if kind == "connection_init":
            ctx.journal(message, "connection_init")
            return self._init(message, decoded)
        if kind == "ping":
            ctx.journal(message, "ping")
            ctx.send(codec.pong_message(decoded.payload), decoded="pong")
            return True
        if kind == "pong":
            ctx.journal(message, "pong")
            return True
        if kind == "complete":
            subscription = self.subscriptions.pop(decoded.id, None)
            ctx.journal(message, f"complete {subscription.label if subscription else decoded.id}")
            if subscription is not None:
                subscription.stop()
            return True
        return self._subscribe(message, decoded)

    def _init(self, message, decoded):
        ctx, settings = self.ctx, self.settings
        if self.initialised:
            ctx.close(codec.TOO_MANY_INITS, "Too many initialisation requests")
            return False
        self.initialised = True
        if not settings.accept:
            ctx.close(codec.FORBIDDEN, "Forbidden")
            return False
        payload = None
        if settings.ack_payload is not None:
            payload = settings.ack_payload.render(self._render_context(message, None, decoded.payload))
        self.acknowledged = True
        ctx.send(codec.connection_ack(payload), decoded="connection_ack")
        if settings.ping_interval:
            ctx.spawn(self._ping, settings.ping_interval)
        return True

    def _subscribe(self, message, decoded):
        ctx = self.ctx
        op_id, payload = decoded.id, decoded.payload
        document = payload["query"]
        name = payload.get("operationName")
        info = codec.operation_info(document, name)
        if name is None and info is not None:
            name = info.name
        subscription = Subscription(op_id, name)
        ctx.journal(message, f"subscribe {subscription.label}")
        if not self.acknowledged:
            ctx.close(codec.UNAUTHORIZED, "Unauthorized")
            return False
        if op_id in self.subscriptions:
            ctx.close(codec.SUBSCRIBER_EXISTS, codec.close_reason(f"Subscriber for {op_id} already exists"))
            return False
        operation = self.settings.find(name, document)
        if operation is None:
            kind = info.kind if info is not None else "operation"
            text = f"mockd: no mocked operation matches {kind} {name or '(anonymous)'} on {ctx.path}"
            ctx.send(codec.error_message(op_id, [{"message": text}]), decoded=f"error {subscription.label}")
            return True
        render = self._render_context(message, name, payload)
        if operation.error is not None:
            ctx.send(codec.error_message(op_id, operation.error.render(render)), decoded=f"error {subscription.label}")
            return True
        self.subscriptions[op_id] = subscription
        subscription.greenlet = ctx.spawn(self._stream, subscription, operation, render)
        return True

    def _render_context(self, message, name, payload):
        variables = {"variables": (payload or {}).get("variables") or {}, "operationName": name,
                     "payload": payload or {}}
        return RenderContext(message, self.ctx.path, self.ctx.connection, variables)

    # ------------------------------------------------------------ greenlets of their own

    def _stream(self, subscription, operation, render):
        """Send the operation's ``next`` payloads, ``repeat`` times through the list, an
        ``interval`` apart; then ``complete`` (when the operation says so)."""
        ctx, label = self.ctx, f"next {subscription.label}"
        passes = itertools.repeat(None) if operation.repeat is None else range(operation.repeat)
        first = True
        for _ in passes:
            for item in operation.next:
                if not first:
                    ctx.sleep(operation.interval)
                first = False
                if subscription.done:
                    return
                if not ctx.send(codec.next_message(subscription.id, item.render(render)), decoded=label):
                    return
        if not operation.complete or subscription.done:
            return  # held open: published to until the client completes it
        if self.subscriptions.get(subscription.id) is subscription:
            del self.subscriptions[subscription.id]  # the id is free again once completed
        ctx.send(codec.complete_message(subscription.id), decoded=f"complete {subscription.label}")

    def _ping(self, interval):
        ctx = self.ctx
        while True:
            ctx.sleep(interval)
            if not ctx.send(codec.ping_message(), decoded="ping"):
                return

    # ------------------------------------------------------------ the admin API's side

    def publish(self, name, payload):
        """Send ``payload`` as a ``next`` to each live subscription of operation ``name``;
        how many it reached."""
        sent = 0
        for subscription in list(self.subscriptions.values()):
            if subscription.name == name and not subscription.done:
                if self.ctx.send(codec.next_message(subscription.id, payload), decoded=f"next {subscription.label}"):
                    sent += 1
        return sent
