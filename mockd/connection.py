"""One accepted WebSocket connection: the blocking receive loop and what it answers.

The receive loop runs in the connection's own greenlet (pywsgi's), the scenario in a second
greenlet beside it; both write through the socket's non-blocking send (ws/outbound.py), which
keeps frames whole and in order without a lock. Idle and heartbeat checks are
libev timers, not greenlets, so an idle connection costs no greenlet stack of its own.
"""
import datetime
import logging
import random
import time

import gevent
from gevent.event import AsyncResult

from .blame import blame
from .closecodes import CLOSE_GOING_AWAY, CLOSE_INTERNAL_ERROR, CLOSE_NORMAL
from .connections import new_connection_id
from .greenlets import UNWIND, let_others_run, spawn
from .keepalive import KeepAliveTimers
from .message import MatchContext, Message, sendable
from .pipeline import handle_message
from .protocols.context import ProtocolContext
from .scenario import StepContext, run_scenario
from .templating import RenderContext
from .ws.protocol import ConnectionClosed

log = logging.getLogger("mockd.ws")


# What may unwind a connection's greenlets untouched is mockd.greenlets.UNWIND. Anything else
# that escapes plugin or mockd code ends only this connection with 1011, SystemExit and
# KeyboardInterrupt included: let through, gevent's hub takes them for system errors and
# rethrows them into the main greenlet, ending the server.
# A KeyboardInterrupt here is a plugin's: `mockd serve` takes SIGINT with gevent.signal_handler
# (a clean stop, no exception), and where Python's own handler is left (a server inside a test
# run) Ctrl+C lands in the hub's loop, which throws it into the main greenlet, unless it hits
# this greenlet mid-bytecode: then it closes this connection and the next Ctrl+C stops.
_UNWIND = UNWIND
# Seconds of handling after which the receive loop lets the hub run before the next message.
# Reading a message the client already sent does not yield, so a client pipelining messages
# that each take the 50 ms regex budget held every other connection for the whole batch.
_FAIR_SLICE = 0.005
_monotonic = time.monotonic


class _PendingWait:
    __slots__ = ("criteria", "label", "result")

    def __init__(self, criteria, label):
        self.criteria = criteria
        self.label = label  # what the journal says took the message
        self.result = AsyncResult()


class _Labelled:
    """A frame's payload and its journal label, as the socket hands it back once written."""

    __slots__ = ("payload", "label")

    def __init__(self, payload, label):
        self.payload = payload
        self.label = label


class Connection(KeepAliveTimers):
    """Session handed to the WebSocket handler; lives until the socket is gone."""

    # Defaults in the class, set on a connection only when it has faults: a Python instance
    # keeps up to 29 attributes in a shared-key dict (296 bytes); one more and it takes a
    # dict of its own (1,584 bytes): 1.3 KiB per idle connection, the bench's idle figure.
    faults = None             # ConnectionFaults, once a fault waits for a trigger
    fault_watch = None        # the message count at which the next fault applies, or None

    @property
    def max_outbound(self):  # read by handler.py for the socket
        return self.server.options.max_outbound_buffer

    @property
    def send_timeout(self):
        return self.server.options.send_timeout

    def __init__(self, server, route, environ, subprotocol):
        self.server = server
        self.route = route
        self.endpoint = route.endpoint
        self.mock_id = route.id
        self.path = self.endpoint.path
        self.subprotocol = subprotocol
        self.max_message_size = self.endpoint.max_message_size
        self.id = new_connection_id()
        self.connected_at = datetime.datetime.now(datetime.timezone.utc)
        self.remote_addr = environ.get("REMOTE_ADDR", "")
        self.user_agent = environ.get("HTTP_USER_AGENT", "")
        self.messages_sent = 0
        self.messages_received = 0
        self.last_activity = time.monotonic()
        self.close_code = None
        self.close_reason = ""
        self.ws = None
        self.last_consumed = None  # the last message a scenario wait step took
        self.wait = None             # the scenario's pending wait step (_PendingWait), if any
        #: The MatchContext of this connection's messages, reused: the receive loop handles one
        #: message at a time, and a context is only valid during the match() it is passed to.
        self.match_context = MatchContext(None, self.path, self, server)
        self._scenario = None
        self._protocol = None         # the ProtocolContext of a mock with a protocol
        self.link = None              # the UpstreamLink of a proxied mock (set by ws/app.py)
        self._timers = {}
        self._ping_sent_at = None
        self._admitted = True
        # echoMode and nothing else: no matcher or default reply ever looks at a message, so
        # the pipeline may skip building a Message and asking the (empty) rule set.
        self.plain_echo = (self.endpoint.echo and not route.rules.rules and self.endpoint.proxy is None
                            and self.endpoint.default_response is None)

    # ------------------------------------------------------------ session protocol (handler.py)

    def cancel(self):
        """The handshake failed after admission (or succeeded: ``run`` calls it too): give the
        maxConnections slot back, and drop an upstream that no client will use."""
        if self._admitted:
            self._admitted = False
            self.route.pending -= 1
        if self.ws is None and self.link is not None:
            self.link.finish()

    def run(self, ws):
        self.ws = ws
        ws.on_pong = self._on_pong
        ws.on_overflow = self._on_overflow
        ws.on_written = self._written
        ws.on_closed = self._leave
        self.cancel()
        # Drawn for every connection, in the order they are accepted: a --seed then repeats each
        # connection's draws whatever faults are added later, and from where. The seed stands
        # in for the generator until one is needed (fault_random).
        self._fault_random = self.server.next_connection_seed()
        self.route.connections.add(self)
        self.server.connections.add(self)
        if self.link is not None:
            self.link.start()
        if log.isEnabledFor(logging.DEBUG):
            log.debug("connection %s opened on %s from %s", self.id, self.path, self.remote_addr,
                      extra={"connection_id": self.id, "mock_id": self.mock_id})
        hooks = self.server.observers
        try:
            if hooks.opened:
                self.server.plugin_manager.hook.mockd_connection_opened(server=self.server, connection=self)
            self._start_timers()
            if self.route.faults:
                self.route.faults.attach(self)
            if self.endpoint.scenario is not None and self.endpoint.scenario.steps:
                self._scenario = spawn(self._play_scenario)
            if self.endpoint.protocol is not None:
                self._serve_protocol()
                return
            receive = ws.receive_message
            handle = handle_message
            # The plain echo takes microseconds a message and is not timed (no clock read); the
            # rest (matchers, templates, plugins) is, and yields once it added up to a slice.
            untimed = self.plain_echo and self._scenario is None and not hooks.received
            clock = time.monotonic
            busy = 0.0
            while True:
                data = receive()
                if data is None:
                    break
                if untimed:
                    handle(self, data)
                else:
                    started = clock()
                    handle(self, data)
                    busy += clock() - started
                    if busy > _FAIR_SLICE:
                        busy = 0.0
                        let_others_run()
                if self.fault_watch is not None:
                    self.faults.on_message()
                del data  # not held while the next message arrives: one large message in memory, not two
        except _UNWIND:
            raise
        except BaseException as exc:  # SystemExit from a plugin too (see _UNWIND)
            self._fail(exc, "connection", "internal error")
        finally:
            self._finish()

    def _fail(self, exc, what, reason):
        """Close this connection with 1011 after ``exc`` escaped plugin or mockd code; the
        server and every other connection carry on. The log names the plugin to blame."""
        culprit = blame(exc, self.server.plugin_manager, self.server.registry)
        context = {"connection_id": self.id, "mock_id": self.mock_id, "plugin": culprit}
        if culprit is None:
            log.error("%s %s on %s failed", what, self.id, self.path, exc_info=exc, extra=context)
            self.close(CLOSE_INTERNAL_ERROR, reason)
        else:
            log.error("plugin %r raised in %s %s on %s: %r", culprit, what, self.id, self.path, exc,
                      exc_info=exc, extra=context)
            # The reason tells the client's test which plugin to look at (123 bytes at most).
            self.close(CLOSE_INTERNAL_ERROR, f"plugin {culprit} failed".encode()[:123].decode("utf-8", "ignore"))

    # ------------------------------------------------------------ inbound and outbound

    def take_inbound(self, data):
        """Count a client's message and show it to ``mockd_message_received``: the
        :class:`Message` that the pipeline or a protocol then handles."""
        self.messages_received += 1
        self.last_activity = _monotonic()
        message = Message(data, data.__class__ is bytes)
        server = self.server
        if server.observers.received:
            server.plugin_manager.hook.mockd_message_received(server=server, connection=self, message=message)
        return message

    def record_inbound(self, data, label):
        """Journal a client's message with what took it (``matchers[0]``, a protocol's name)."""
        self.server.journal.record(self, "inbound", data, label)

    def send_response(self, response, message, captures=None):
        """Render ``response`` for ``message`` (``captures``: its rule's, for ``{{match.*}}``)
        and send it, after its delay."""
        if response.delay:
            gevent.sleep(response.delay)
            if self.ws.closed:
                return
        self.send(response.render(RenderContext(message, self.path, self, None, captures)))

    def send(self, payload, label=None):
        """Send ``str`` as a text frame or ``bytes`` as a binary frame. False once closed.

        The frame is counted and journaled (with ``label`` as its ``matched``, as ``proxy``)
        when it reaches the socket: now, or when the writer gets to it (:meth:`_written`); a
        frame still queued when the connection dies never is."""
        token = payload if label is None else _Labelled(payload, label)
        try:
            written = self.ws.send(payload, token)
        except ConnectionClosed:
            return False
        except UnicodeEncodeError:  # a surrogate (client JSON "\ud800" in a template): U+FFFD, not 1011
            return self.send(sendable(payload), label)
        self.last_activity = time.monotonic()
        if written:
            self._written(token)
        return True

    def _written(self, token):
        """A data frame reached the socket (called by the socket for frames that waited)."""
        self.messages_sent += 1
        if token.__class__ is _Labelled:
            self.server.journal.record(self, "outbound", token.payload, token.label)
        else:
            self.server.journal.record(self, "outbound", token)

    def pace(self):
        """Wait, in this greenlet only, until the client has taken what was sent (a scenario
        goes at the client's pace; a client that takes nothing for ``send_timeout`` seconds
        is closed with 1008). False once the connection is closed."""
        try:
            self.ws.drain()
        except ConnectionClosed:
            return False
        return True

    def _on_overflow(self, detail):
        # Called by the socket just before it closes with 1008: the log and the journal say why.
        log.warning("connection %s on %s: outbound buffer full, closing with 1008: %s", self.id, self.path,
                    detail, extra={"connection_id": self.id, "mock_id": self.mock_id})
        self.server.journal.record(self, "event", f"close 1008 outbound buffer full: {detail}")

    def close(self, code=CLOSE_NORMAL, reason=""):
        """Close from any greenlet; the receive loop then ends and cleans up. The connection
        leaves the listings at once (:meth:`_leave`); the closing handshake goes on behind."""
        if self.ws is not None:
            self.ws.close(code, reason)

    def _leave(self):
        """The connection is decided closed: out of the listings, the active count and its
        mock's maxConnections slots now, not when the client answers (or the close times out).
        Its counters stay in the totals until :meth:`release`. Called by the socket (maybe in
        the hub) and by :meth:`_finish`; must not block, and may run twice (both steps are
        idempotent)."""
        self.route.connections.discard(self)
        self.server.connections.remove(self)

    @property
    def protocol_context(self):
        """The :class:`~mockd.protocols.context.ProtocolContext` of a mock with a protocol, or None."""
        return self._protocol

    @property
    def fault_random(self):
        """This connection's generator for fault draws and jitter, seeded from the server's
        seed (made on first use: a generator costs 4 us, most connections never draw)."""
        if self._fault_random.__class__ is int:
            self._fault_random = random.Random(self._fault_random)
        return self._fault_random

    @property
    def closed(self):
        return self.ws is None or self.ws.closed

    # ------------------------------------------------------------ scenario support

    def wait_for_message(self, criteria, timeout, label="scenario"):
        """Block the scenario until the receive loop hands over a matching message."""
        wait = _PendingWait(criteria, label)
        self.wait = wait
        try:
            return wait.result.get(timeout=timeout)
        except gevent.Timeout:
            return None
        finally:
            if self.wait is wait:
                self.wait = None

    def _play_scenario(self):
        self.run_guarded(run_scenario, self.endpoint.scenario, StepContext(self), what="scenario",
                         reason="scenario error")

    def run_guarded(self, function, *args, what, reason, **kwargs):
        """Run ``function`` (a scenario, a protocol's greenlet); whatever escapes it but a kill
        closes this connection with 1011 ``reason`` and is logged as ``what`` failing."""
        try:
            function(*args, **kwargs)
        except _UNWIND:
            raise
        except BaseException as exc:  # SystemExit from a plugin too (see _UNWIND)
            self._fail(exc, what, reason)

    def _serve_protocol(self):
        """Hand the connection to its mock's protocol; when ``run`` returns, close with 1000.
        An exception is handled by :meth:`run` (1011 naming the plugin)."""
        protocol = self.endpoint.protocol
        self._protocol = ProtocolContext(self, protocol)
        protocol.run(self._protocol)
        if not self.closed:
            self.close(CLOSE_NORMAL, "")

    # ------------------------------------------------------------ teardown

    def stop_timers(self):
        """Stop idleTimeout and heartbeat (a silenced connection is left to its client)."""
        self._stop_timers()

    def _finish(self):
        self._stop_timers()
        if self.faults is not None:
            self.faults.cancel()
        if self._scenario is not None:
            self._scenario.kill(block=False)
        if self._protocol is not None:
            self._protocol.stop()
        if self.wait is not None:
            self.wait.result.set(None)
        ws = self.ws
        if ws is not None:
            if not ws.closed:
                ws.close(CLOSE_GOING_AWAY, "")
            self.close_code = ws.close_code
            self.close_reason = ws.close_reason
        if self.link is not None:
            self.link.client_closed(self.close_code, self.close_reason)
        self._leave()
        if log.isEnabledFor(logging.DEBUG):
            log.debug("connection %s on %s closed: %s %s", self.id, self.path, self.close_code, self.close_reason,
                      extra={"connection_id": self.id, "mock_id": self.mock_id})
        if self.server.observers.closed:
            try:
                self.server.plugin_manager.hook.mockd_connection_closed(server=self.server, connection=self)
            except _UNWIND:
                raise
            except BaseException as exc:  # the socket is gone already: only the log can tell
                log.error("plugin %r raised in mockd_connection_closed for connection %s: %r",
                          blame(exc, self.server.plugin_manager, self.server.registry), self.id, exc,
                          exc_info=exc, extra={"connection_id": self.id, "mock_id": self.mock_id})

    def release(self):
        """Called by the handler once the socket is wound down: no frame can be written any
        more, so the counters go into the totals, and the references that would tie this
        connection and its greenlets into a cycle are dropped, so that reference counting alone
        frees them (a cycle per connection left GC pauses in a long-used server)."""
        self.server.connections.retire(self)
        # The socket drops its side (MockdWebSocket._dispose); these all point back at us.
        self._scenario = self.wait = self._protocol = self.match_context = self.link = self.faults = None

    def describe(self):
        """The connection object of the admin API (README.rst, "Admin API")."""
        return {
            "id": self.id,
            "mockId": self.mock_id,
            "path": self.path,
            "subprotocol": self.subprotocol or "",
            "connectedAt": self.connected_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "messagesSent": self.messages_sent,
            "messagesRecv": self.messages_received,
            "status": "closed" if self.closed else "connected",
            "remoteAddr": self.remote_addr,
        }
