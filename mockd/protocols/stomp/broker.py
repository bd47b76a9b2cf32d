"""Where MESSAGE frames come from: a client's SEND (``on`` entries, or straight to the
destination's subscribers), a subscription's ``destinations`` feed, and ``POST /stomp/send``.

A destination's subscribers are found when something is published, by walking the live
connections of the mock (``server.protocol_contexts``) and their sessions' subscriptions: no
registry to keep in step with connections that come and go. Destinations match exactly.
"""
from ...jsontext import dumps_json
from ..base import route_path
from ...message import Message
from ...templating import RenderContext
from .codec import utf8
from .settings import NAME, RESERVED_HEADERS

__all__ = ["forward_send", "play_feed", "publish", "send_route"]

SEND_KEYS = ("path", "destination", "body", "headers")  # POST /stomp/send
#: SEND headers that are about the SEND itself, not carried over to the MESSAGE it becomes.
_NOT_FORWARDED = frozenset(RESERVED_HEADERS + ("receipt", "transaction"))


def publish(contexts, destination, body, headers):
    """Send a MESSAGE (``body`` bytes, ``headers`` pairs) to each subscription to
    ``destination`` among ``contexts``' sessions; how many were sent."""
    sent = 0
    for context in contexts:
        session = context.state
        subscriptions = getattr(session, "subscriptions", None)
        if not subscriptions or context.closed:
            continue
        for subscription in list(subscriptions.values()):
            if subscription.active and subscription.destination == destination:
                sent += bool(session.deliver(subscription, destination, body, headers))
    return sent


def mock_contexts(session):
    """The live sessions of ``session``'s own mock: a SEND publishes to those only."""
    protocol = session.protocol
    return [context for context in session.ctx.server.protocol_contexts(protocol=protocol.name)
            if context.protocol is protocol]


def forward_send(session, frame):
    """A client's SEND: each ``on`` entry for its destination publishes what it renders; with
    no entry, the frame goes to the destination's subscribers as a broker would pass it on."""
    destination = frame.headers["destination"]
    entries = session.protocol.settings.on_send(destination)
    contexts = mock_contexts(session)
    if not entries:
        headers = [(name, value) for name, value in frame.headers.items() if name not in _NOT_FORWARDED]
        return publish(contexts, destination, frame.body, headers)
    text = frame.body.decode("utf-8", "replace")
    ctx = session.ctx
    # {{body}}, {{headers.NAME}}, {{destination}} (settings.TEMPLATE_ROOTS); {{message.a.b}}
    # reads the body as JSON, as everywhere in mockd.
    context = RenderContext(Message(text, False), ctx.path, ctx.connection,
                            {"body": text, "headers": dict(frame.headers), "destination": destination})
    sent = 0
    for entry in entries:
        for publication in entry.publish:
            target = destination if publication.destination is None else publication.destination.render(context)
            if publication.body is None:  # the SEND's body, passed on as it came
                body = frame.body
                headers = [(name, value) for name, value in frame.headers.items() if name == "content-type"]
                headers += publication.render_headers(context)
            else:
                body = utf8(publication.render_body(context))
                headers = publication.render_headers(context)
            sent += publish(contexts, target, body, headers)
    return sent


def play_feed(session, subscription, feed, subscribe_headers):
    """A ``destinations`` entry's messages to one new subscription (in a greenlet of its
    own, until played or unsubscribed), at the client's pace."""
    ctx = session.ctx
    if not feed.messages:
        return
    context = RenderContext(None, ctx.path, ctx.connection,
                            {"destination": subscription.destination, "subscription": subscription.id,
                             "headers": dict(subscribe_headers), "body": ""})
    rounds, first = 0, True
    while feed.repeat is None or rounds < feed.repeat:
        for publication in feed.messages:
            if not first and feed.interval:
                ctx.sleep(feed.interval)
            first = False
            if not subscription.active or ctx.closed:
                return
            body = utf8(publication.render_body(context))
            if not session.deliver(subscription, subscription.destination, body, publication.render_headers(context)):
                return
            if not ctx.connection.pace():  # a long feed must not overflow a slow client's buffer
                return
        rounds += 1


def send_route(server, body):
    """Send a STOMP MESSAGE to every subscriber of a destination: {"destination", "body",
    "headers", "path"} (path: only that mock's clients); answers {"sent": N}."""
    path = route_path(body, SEND_KEYS, "a stomp mock's path")
    destination = body.get("destination")
    if not isinstance(destination, str) or not destination:
        raise ValueError("destination: a non-empty string is required (e.g. \"/topic/prices\")")
    headers = _headers(body.get("headers"))
    payload = body.get("body", "")
    if payload is None:
        payload = ""
    if not isinstance(payload, str):  # a JSON value: sent as compact JSON text
        payload = dumps_json(payload)
        if not any(name == "content-type" for name, _ in headers):
            headers.append(("content-type", "application/json"))
    if path is not None and not _serves(server, path):
        raise LookupError(f"no stomp mock on {path}")
    contexts = server.protocol_contexts(protocol=NAME, path=path)
    return {"sent": publish(contexts, destination, utf8(payload), headers)}


def _headers(value):
    if value is None:
        return []
    if not isinstance(value, dict):
        raise ValueError("headers: an object of header names to string values")
    headers = []
    for name, item in value.items():
        if not name or any(c in name for c in ":\n\r\0"):
            raise ValueError(f"headers: {name!r} is not a header name (non-empty, no ':' or line breaks)")
        if name in RESERVED_HEADERS:
            raise ValueError(f"headers: {name!r} is set by the server on every MESSAGE")
        if isinstance(item, (dict, list)) or item is None:
            raise ValueError(f"headers.{name}: a string, not {type(item).__name__}")
        text = item if isinstance(item, str) else dumps_json(item)
        if any(c in text for c in "\n\r\0"):  # a NUL ends the frame; STOMP 1.0 cannot escape line breaks
            raise ValueError(f"headers.{name}: a header value holds no NUL or line break")
        headers.append((name, text))
    return headers


def _serves(server, path):
    return bool(server.served_endpoints(NAME, path))  # an enabled stomp mock on path
