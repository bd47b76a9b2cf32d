"""The per-message pipeline of a mock without a protocol: what answers a client's message.

In order: a scenario wait step that is waiting takes the message if its match accepts it;
otherwise the first rule (``matchers``) that matches answers, with its captures in the reply's
templates (``{{match.NAME}}``); otherwise ``defaultResponse``; otherwise the upstream of a
proxied mock; otherwise the echo, if on. A ``passthrough`` proxy sends everything upstream. Each
message is journaled with what took it. Runs in the connection's greenlet, for every message.
"""
import time

import gevent

from .ws.protocol import ConnectionClosed

__all__ = ["handle_message"]

_monotonic = time.monotonic


def handle_message(connection, data):
    """Answer ``data`` (``str`` or ``bytes``), one message of ``connection``."""
    server = connection.server
    if connection.plain_echo and connection.wait is None and not server.observers.received:
        connection.messages_received += 1
        connection.last_activity = _monotonic()
        _echo_fast(connection, server, data)
        return
    link = connection.link
    if link is not None and link.spec.passthrough:
        if server.observers.received:
            connection.take_inbound(data)
        else:  # no observer to show a Message to: counting is all take_inbound would do
            connection.messages_received += 1
            connection.last_activity = _monotonic()
        link.forward(data)
        return
    message = connection.take_inbound(data)
    context = connection.match_context  # one per connection: its messages are handled one at a time
    context.message = message
    wait = connection.wait
    if wait is not None and (wait.criteria is None or wait.criteria.test(message, context) is not None):
        connection.wait = None
        connection.last_consumed = message
        server.journal.record(connection, "inbound", data, wait.label)
        wait.result.set(message)
        # Let the scenario reach its next step before the next message is read (upstream
        # advances the step in the read loop): back-to-back messages for two consecutive
        # wait steps must both be consumed, not the second one left to the matchers.
        gevent.sleep(0)
        return
    rule, captures = connection.route.rules.first_match(message, context)
    endpoint = connection.endpoint
    if rule is not None:
        server.journal.record(connection, "inbound", data, rule.label)
        if rule.response is not None:
            connection.send_response(rule.response, message, captures)
    elif endpoint.default_response is not None:
        server.journal.record(connection, "inbound", data, "defaultResponse")
        connection.send_response(endpoint.default_response, message)
    elif link is not None:  # fallback: what the rules leave goes upstream (no echo)
        link.forward(data)
    elif endpoint.echo:
        server.journal.record(connection, "inbound", data, "echo")
        connection.send(data)
    else:
        server.journal.record(connection, "inbound", data, "unmatched")


def _echo_fast(connection, server, data):
    """echoMode and nothing else: no rule or default reply ever looks at a message, so no
    Message is built and no rule index asked. When the kernel takes the reply at once, both
    journal entries are written by one call (they stay together); a queued reply is journaled
    by the socket's writer later (``Connection._written``)."""
    try:
        written = connection.ws.send(data, data)
    except ConnectionClosed:
        written = False
    if written:
        connection.messages_sent += 1
        server.journal.record_exchange(connection, data, "echo", data)
    else:
        server.journal.record(connection, "inbound", data, "echo")
