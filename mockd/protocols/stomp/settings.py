"""The ``stomp:`` block of a mock, validated and compiled when the config loads.

Every problem is reported (``schema.Problems``), each located at its key
(``mocks[0].websocket.stomp.destinations[1].interval``), and every template is compiled here,
never on the per-message path. No gevent: ``mockd check`` builds this too.

Templates read ``{{body}}``, ``{{headers.NAME}}`` and ``{{destination}}`` (and, in a
``destinations`` feed, ``{{subscription}}``) besides the usual names: template roots this pack
declares (:data:`TEMPLATE_ROOTS`).
"""
from ... import schema
from ...errors import ConfigError
from ...jsontext import dumps_json
from ...schema import join_where

__all__ = ["KEYS", "NAME", "RESERVED_HEADERS", "Feed", "OnSend", "Publication", "Settings", "build_settings"]

NAME = "stomp"
KEYS = ("destinations", "on", "heartBeat", "frameTimeout", "maxFrameSize")
FEED_KEYS = ("subscribe", "messages", "interval", "repeat")
ON_KEYS = ("send", "publish")
MESSAGE_KEYS = ("body", "headers")
PUBLISH_KEYS = ("destination",) + MESSAGE_KEYS
HEART_BEAT_KEYS = ("send", "receive")
#: Headers of a MESSAGE that the server writes itself (content-length from the rendered body).
RESERVED_HEADERS = ("destination", "message-id", "subscription", "ack", "content-length")
DEFAULT_HEART_BEAT_MS = 100
DEFAULT_FRAME_TIMEOUT = 5.0
DEFAULT_MAX_FRAME_SIZE = 1024 * 1024


#: The names this pack adds to templates (``build.template(..., roots=...)``), each read from
#: what the session puts in ``RenderContext.variables`` under that name.
TEMPLATE_ROOTS = ("body", "headers", "destination", "subscription")


class Publication:
    """A MESSAGE to render: ``destination`` (a template, or None: the SEND's own), ``body`` (a
    template, a compiled JSON value, or None: the SEND's body as it came) and ``headers``
    (``((name, template), ...)``)."""

    def __init__(self, destination, body, headers, is_json):
        self.destination = destination
        self.body = body
        self.headers = headers
        self.is_json = is_json

    def render_body(self, context):
        if self.is_json:
            return dumps_json(self.body.render(context))
        return self.body.render(context)

    def render_headers(self, context):
        headers = [(name, template.render(context)) for name, template in self.headers]
        if self.is_json and not any(name == "content-type" for name, _ in headers):
            headers.append(("content-type", "application/json"))
        return headers


class Feed:
    """A ``destinations`` entry: ``messages`` (Publications) for each new subscriber of
    ``subscribe``, ``interval`` seconds apart, played ``repeat`` times (None: forever)."""

    def __init__(self, subscribe, messages, interval, repeat):
        self.subscribe = subscribe
        self.messages = messages
        self.interval = interval
        self.repeat = repeat


class OnSend:
    """An ``on`` entry: a client SEND to ``send`` publishes each of ``publish``."""

    def __init__(self, send, publish):
        self.send = send
        self.publish = publish


class Settings:
    def __init__(self, feeds, on, heart_beat, frame_timeout, max_frame_size):
        self.feeds = feeds
        self.on = on
        self.heart_beat = heart_beat          # (sx, sy) in milliseconds: the server's side
        self.frame_timeout = frame_timeout    # seconds a begun frame may wait for its NUL
        self.max_frame_size = max_frame_size

    def feeds_for(self, destination):
        return [feed for feed in self.feeds if feed.subscribe == destination]

    def on_send(self, destination):
        return [entry for entry in self.on if entry.send == destination]


def build_settings(spec, where, build):
    problems = schema.Problems()
    feeds = _each(problems, spec, "destinations", where, _feed, build)
    on = _each(problems, spec, "on", where, _on_send, build)
    heart_beat = problems.attempt(_heart_beat, spec, where)
    frame_timeout = problems.attempt(schema.duration, spec, "frameTimeout", where, default=DEFAULT_FRAME_TIMEOUT,
                                     positive=True)
    max_frame_size = problems.attempt(schema.integer, spec, "maxFrameSize", where, default=DEFAULT_MAX_FRAME_SIZE,
                                      minimum=64)
    problems.check(order=list(spec), where=where)
    return Settings(tuple(feeds), tuple(on), heart_beat, frame_timeout, max_frame_size)


def _each(problems, spec, key, where, read, build):
    at = join_where(where, key)
    items = problems.attempt(schema.sequence, spec.get(key), at) or []
    built = (problems.attempt(read, item, join_where(at, index), build) for index, item in enumerate(items))
    return [item for item in built if item is not None]


def _destination(spec, key, where):
    value = schema.string(spec, key, where, required=True, allow_empty=False)
    if any(c in value for c in "\n\r\0"):
        raise ConfigError(f"{key} must not contain line breaks or NUL", where=join_where(where, key))
    return value


def _feed(spec, where, build):
    spec = schema.mapping(spec, where, "a mapping with 'subscribe' and 'messages'")
    problems = schema.Problems()
    problems.attempt(schema.check_keys, spec, FEED_KEYS, where)
    subscribe = problems.attempt(_destination, spec, "subscribe", where)
    at = join_where(where, "messages")
    items = problems.attempt(schema.sequence, spec.get("messages"), at) or []
    if "messages" not in spec:
        problems.add("messages is required: the MESSAGE frames each new subscriber gets", at)
    messages = [problems.attempt(_message, item, join_where(at, i), build, MESSAGE_KEYS)
                for i, item in enumerate(items)]
    interval = problems.attempt(schema.duration, spec, "interval", where, default=0.0)
    repeat = problems.attempt(_repeat, spec, where)
    if repeat is None and interval == 0:
        problems.add("repeat: forever needs an interval (e.g. 1s): without one the messages would flood the "
                     "subscriber", join_where(where, "interval"))
    problems.check()
    if not messages:
        build.warn("no messages: subscribers of this destination get nothing from this entry", at)
    return Feed(subscribe, tuple(messages), interval, repeat)


def _repeat(spec, where):
    value = spec.get("repeat")
    if value is None:
        return 1
    if value == "forever":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"repeat is a number of times (1 or more) or 'forever', not {value!r}",
                          where=join_where(where, "repeat"))
    return value


def _on_send(spec, where, build):
    spec = schema.mapping(spec, where, "a mapping with 'send' (and 'publish')")
    problems = schema.Problems()
    problems.attempt(schema.check_keys, spec, ON_KEYS, where)
    send = problems.attempt(_destination, spec, "send", where)
    at = join_where(where, "publish")
    value = spec.get("publish")
    if isinstance(value, list):
        publish = [problems.attempt(_message, item, join_where(at, i), build, PUBLISH_KEYS)
                   for i, item in enumerate(value)]
    elif value is None:
        publish = []
    else:
        publish = [problems.attempt(_message, value, at, build, PUBLISH_KEYS)]
    problems.check()
    return OnSend(send, tuple(publish))


def _message(spec, where, build, keys):
    """A ``messages`` entry (``body``, ``headers``; a bare string is the body) or a ``publish``
    (``destination`` too; no body: the SEND's body is passed on)."""
    if isinstance(spec, str):
        spec = {"body": spec}
    spec = schema.mapping(spec, where, f"a mapping with {', '.join(repr(k) for k in keys)}")
    problems = schema.Problems()
    problems.attempt(schema.check_keys, spec, keys, where)
    destination = None
    if "destination" in keys and spec.get("destination") is not None:
        destination = problems.attempt(_destination_template, spec, where, build)
    body, is_json = problems.attempt(_body, spec, where, build, "destination" not in keys) or (None, False)
    headers = problems.attempt(_headers, spec.get("headers"), join_where(where, "headers"), build)
    problems.check()
    return Publication(destination, body, tuple(headers), is_json)


def _destination_template(spec, where, build):
    _destination(spec, "destination", where)
    return build.template(spec["destination"], join_where(where, "destination"), roots=TEMPLATE_ROOTS)


def _body(spec, where, build, required_text):
    """``(compiled body, is_json)``: a string is a template, a mapping or list a JSON value
    whose strings are templates; absent, ``""`` for a feed message and the SEND's body for a
    publish (``(None, False)``)."""
    at = join_where(where, "body")
    value = spec.get("body")
    if isinstance(value, (dict, list)):
        return build.value(value, at, roots=TEMPLATE_ROOTS), True
    text = schema.string(spec, "body", where)
    if text is None:
        return (build.template("", at), False) if required_text else (None, False)
    return build.template(text, at, roots=TEMPLATE_ROOTS), False


def _headers(value, where, build):
    value = {} if value is None else schema.mapping(value, where, "a mapping of header names to values")
    problems = schema.Problems()
    headers = []
    for name, _ in value.items():
        at = join_where(where, name)
        if not isinstance(name, str) or not name or any(c in name for c in ":\n\r\0"):
            problems.add(f"header name {name!r}: a non-empty string without ':' or line breaks", at)
        elif name in RESERVED_HEADERS:
            problems.add(f"header {name!r} is set by the server on every MESSAGE (set: "
                         f"{', '.join(RESERVED_HEADERS)})", at)
        else:
            text = problems.attempt(schema.string, value, name, where)
            if text is not None:
                headers.append((name, problems.attempt(build.template, text, at, roots=TEMPLATE_ROOTS)))
    problems.check()
    return headers


def _heart_beat(spec, where):
    """The server's ``(sx, sy)`` in milliseconds: the fastest it sends heart-beats and the
    interval it wants them from the client at (each 0s: never)."""
    at = join_where(where, "heartBeat")
    value = spec.get("heartBeat")
    if value is None:
        return DEFAULT_HEART_BEAT_MS, DEFAULT_HEART_BEAT_MS
    value = schema.mapping(value, at, "a mapping with 'send' and 'receive' (durations, 0s: never)")
    problems = schema.Problems()
    problems.attempt(schema.check_keys, value, HEART_BEAT_KEYS, at)
    send = problems.attempt(schema.duration, value, "send", at, default=DEFAULT_HEART_BEAT_MS / 1000)
    receive = problems.attempt(schema.duration, value, "receive", at, default=DEFAULT_HEART_BEAT_MS / 1000)
    problems.check()
    return round(send * 1000), round(receive * 1000)
