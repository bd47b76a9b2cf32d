"""A one-file plugin that implements every mockd hook; tests load it with ``plugins_dir``.

Dependency-free on purpose (the datasette ``tests/plugins/my_plugin.py`` pattern): it
exercises the hook plumbing, not a library. What each hook adds, as the tests see it through a
real socket:

- matcher ``length``: the payload has ``value`` characters (bytes, for a binary frame);
- template functions ``example.reverse(text)`` and ``example.greeting()``, which reads the
  configured greeting through the render context;
- response type ``reverse``: a templated ``prefix`` then the message reversed, and ``events``:
  what the observer hooks saw on this server, as JSON;
- step type ``repeat``: sends ``text`` (a template) ``times`` times;
- protocol ``example-counter``: owns its connections' conversation (see ``CounterProtocol``);
- fault type ``example-burst``: sends ``text`` ``times`` times at once, then closes with ``code``
  (a server that floods its client before it goes);
- ``mockd_configure`` reads ``plugins: {example_plugin: {greeting, journal}}``, rejects a
  greeting that is not a string, and opens the ``journal`` file; the observers append a line
  to it per event; ``mockd_unconfigure`` writes its last line and closes it.

Fault injection, for the 1011 tests: the text ``raise in <place>`` makes that place raise,
and so do the paths ``/raise-on-open`` and ``/raise-on-close`` for those observers.
"""
import json
import weakref

from mockd.plugin import (MATCHED, ConfigError, FaultType, MatchType, ProtocolType, ResponseType, StepType,
                          hookimpl, integer, join_where, pass_context, string)

NAME = "example_plugin"  # the file's name: the plugin's name under plugins_dir


class PluginFault(Exception):
    """What the injected faults raise, so that tests can find it in the log."""


class _State:
    def __init__(self, greeting, journal):
        self.greeting = greeting
        self.journal = journal  # an open file, or None
        self.events = []

    def record(self, *event):
        self.events.append(list(event))
        if self.journal is not None:
            self.journal.write(" ".join(str(part) for part in event) + "\n")
            self.journal.flush()


_states = weakref.WeakKeyDictionary()  # MockServer -> _State


def _state(server):
    return _states.get(server) or _states.setdefault(server, _State("hello", None))


def _fault(text, place):
    if text == f"raise in {place}":
        raise PluginFault(f"injected fault in {place}")


# ---------------------------------------------------------------- registration hooks


class LengthMatcher(MatchType):
    name = "length"
    keys = ("value",)

    def __init__(self, length):
        self.length = length

    @classmethod
    def from_config(cls, spec, where, build):
        return cls(integer(spec, "value", where, minimum=0, default=0))

    def match(self, message, context=None):
        _fault(message.text, "match")
        return MATCHED if len(message.data) == self.length else None


class ReverseResponse(ResponseType):
    name = "reverse"
    keys = ("prefix",)

    def __init__(self, prefix):
        self.prefix = prefix

    @classmethod
    def from_config(cls, spec, where, build):
        return cls(build.template(string(spec, "prefix", where, default=""), join_where(where, "prefix")))

    def render(self, ctx):
        text = ctx.message.text if ctx.message is not None else ""
        _fault(text, "render")
        return self.prefix.render(ctx) + text[::-1]


class EventsResponse(ResponseType):
    name = "events"
    keys = ()

    @classmethod
    def from_config(cls, spec, where, build):
        return cls()

    def render(self, ctx):
        return json.dumps(_state(ctx.connection.server).events)


class RepeatStep(StepType):
    name = "repeat"
    keys = ("text", "times")

    def __init__(self, text, response, times):
        self.text = text
        self.response = response
        self.times = times

    @classmethod
    def from_config(cls, spec, where, build):
        text = string(spec, "text", where, required=True)
        response = build.response({"type": "text", "value": text}, where)
        return cls(text, response, integer(spec, "times", where, minimum=1, default=1))

    def run(self, ctx):
        _fault(self.text, "step")
        for _ in range(self.times):
            ctx.send(self.response)
        return True


def announce(server, body):
    """Send {"announce": text} to every example-counter connection (on path, when given)."""
    text = body.get("text")
    if not isinstance(text, str):
        raise ValueError("text: a string is required")
    contexts = server.protocol_contexts(protocol="example-counter", path=body.get("path"))
    if body.get("path") is not None and not contexts:
        raise LookupError(f"no example-counter connection on {body['path']}")
    sent = sum(1 for ctx in contexts if ctx.state == "counting" and ctx.send({"announce": text}))
    return {"sent": sent}


class CounterProtocol(ProtocolType):
    """``protocol: example-counter`` with ``counter: {start: N, idle: 0.2}``: a greeting
    ``{"hello": subprotocol}``, then ``inc`` answers the count, ``tick N`` streams N ticks
    from a greenlet of its own while the loop goes on, ``bye`` closes with 4000, and a client
    silent for ``idle`` seconds is asked ``still there?`` (once)."""

    name = "example-counter"
    settings_key = "counter"
    keys = ("start", "idle")
    subprotocols = ("counter.v1",)

    def __init__(self, start, idle):
        self.start = start
        self.idle = idle

    @classmethod
    def from_config(cls, spec, where, build):
        idle = spec.get("idle", 0.2)
        if not isinstance(idle, (int, float)) or idle <= 0:
            raise ConfigError("idle must be a number of seconds above 0", where=join_where(where, "idle"))
        return cls(integer(spec, "start", where, default=0), float(idle))

    @classmethod
    def admin_routes(cls):
        return {"/example/counter/announce": announce}

    def run(self, ctx):
        count = self.start
        ctx.state = "counting"
        ctx.send({"hello": ctx.subprotocol})
        asked = False
        while True:
            message = ctx.receive(timeout=None if asked else self.idle)
            if message is None:
                if ctx.closed:
                    return
                asked = True
                ctx.send("still there?")
                continue
            text = message.text
            _fault(text, "protocol")
            if text == "inc":
                count += 1
                ctx.send(str(count), decoded=f"count {count}")
            elif text.startswith("tick "):
                ctx.spawn(self._ticks, ctx, int(text.split()[1]))
            elif text == "bye":
                ctx.close(4000, "bye")
            elif text == "end":
                return  # the core closes with 1000

    @staticmethod
    def _ticks(ctx, times):
        for number in range(times):
            ctx.send(f"tick {number}")
            ctx.sleep(0.01)


def reverse(text):
    _fault(text, "template function")
    return str(text)[::-1]


@pass_context
def greeting(ctx):
    return _state(ctx.connection.server).greeting


@hookimpl
def mockd_register_matchers():
    return [LengthMatcher]


@hookimpl
def mockd_register_template_functions():
    return {"example.reverse": reverse, "example.greeting": greeting}


@hookimpl
def mockd_register_step_types():
    return [RepeatStep]


@hookimpl
def mockd_register_response_types():
    return [ReverseResponse, EventsResponse]


@hookimpl
def mockd_register_protocols():
    return [CounterProtocol]


class BurstFault(FaultType):
    """``{type: example-burst, text: "x", times: 3, code: 4001}``."""
    name = "example-burst"
    keys = ("text", "times", "code")

    def __init__(self, text, times, code):
        self.text, self.times, self.code = text, times, code

    @classmethod
    def from_config(cls, spec, where, build):
        return cls(string(spec, "text", where, default="burst"), integer(spec, "times", where, default=3, minimum=1),
                   integer(spec, "code", where, default=4001, minimum=3000))

    def apply(self, ctx):
        _fault(self.text, "fault")
        for index in range(self.times):
            ctx.send(f"{self.text} {index}")
        ctx.close(self.code, f"burst of {self.times}")


@hookimpl
def mockd_register_fault_types():
    return [BurstFault]


# ---------------------------------------------------------------- lifecycle hooks


@hookimpl
def mockd_configure(server):
    settings = server.plugin_config(NAME)
    greeting_text = settings.get("greeting", "hello")
    if not isinstance(greeting_text, str):
        raise ConfigError("greeting must be a string", where=f"plugins.{NAME}.greeting")
    path = settings.get("journal")
    _states[server] = _State(greeting_text, open(path, "a", encoding="utf-8") if path else None)


@hookimpl
def mockd_unconfigure(server):
    state = _states.pop(server, None)
    if state is not None and state.journal is not None:
        state.record("unconfigure")
        state.journal.close()


# ---------------------------------------------------------------- observer hooks


@hookimpl
def mockd_connection_opened(server, connection):
    if connection.path == "/raise-on-open":
        raise PluginFault("injected fault in mockd_connection_opened")
    _state(server).record("opened", connection.path)


@hookimpl
def mockd_message_received(server, connection, message):
    _fault(message.text, "mockd_message_received")
    _state(server).record("received", message.text)


@hookimpl
def mockd_connection_closed(server, connection):
    if connection.path == "/raise-on-close":
        raise PluginFault("injected fault in mockd_connection_closed")
    _state(server).record("closed", connection.close_code)
