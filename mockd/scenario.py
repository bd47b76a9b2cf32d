"""Scenario step types and the runner that plays a scenario for one connection.

The runner executes in its own greenlet beside the connection's receive loop (README.rst, "Scenarios").
Step types are registered through :func:`mockd_register_step_types`, the hook plugins use. The
documentation's spellings (``send``, ``wait`` with ``match``, ``delay``) and upstream's
(``expect``, ``wait`` with ``duration``) are all accepted.
"""
import gevent

from . import schema
from .build import Build, Criteria, Response
from .closecodes import CLOSE_NORMAL
from .durations import check_seconds
from .errors import ConfigError
from .hookspecs import hookimpl
from .message import as_frame
from .schema import join_where

__all__ = ["StepContext", "StepType", "run_scenario"]

DEFAULT_WAIT_TIMEOUT = 30.0


class StepType:
    """Base class of scenario steps.

    Subclasses set ``name`` (the YAML ``type``) and ``keys`` (the keys of the step besides
    ``type``; the core refuses others with a did-you-mean; ``None`` leaves the check to
    :meth:`from_config`), and implement :meth:`from_config` and :meth:`run`. ``run`` may block
    gevent-style through its :class:`StepContext`: ``ctx.send("tick")``, ``ctx.receive(...)``,
    ``ctx.sleep(seconds)``.
    """

    name = None
    keys = None

    @classmethod
    def from_config(cls, spec, where, build):
        """Validate ``spec`` (the step mapping without ``type``) and return a step."""
        raise NotImplementedError

    def run(self, ctx):
        """Play the step. Return ``False`` to stop the scenario (no further steps, no loop)."""
        raise NotImplementedError


class SendStep(StepType):
    name = "send"
    keys = ("message",)

    def __init__(self, response):
        self.response = response

    @classmethod
    def from_config(cls, spec, where, build):
        if spec.get("message") is None:
            raise ConfigError("a send step needs a 'message' (a response: type and value)",
                              where=join_where(where, "message"))
        return cls(build.response(spec["message"], join_where(where, "message")))

    def run(self, ctx):
        ctx.send(self.response)
        return True


class PauseStep(StepType):
    name = "delay"
    keys = ("duration",)

    def __init__(self, seconds):
        self.seconds = seconds

    @classmethod
    def from_config(cls, spec, where, build):
        if spec.get("duration") in (None, ""):
            raise ConfigError("a delay step needs a 'duration' such as '2s'", where=join_where(where, "duration"))
        return cls(schema.duration(spec, "duration", where, positive=True))

    def run(self, ctx):
        ctx.sleep(self.seconds)
        return True


class ExpectStep(StepType):
    """Wait for a client message that matches (any message when there is no ``match``)."""

    name = "expect"
    keys = ("match", "timeout", "optional")

    def __init__(self, criteria, timeout, optional):
        self.criteria = criteria
        self.timeout = timeout
        self.optional = optional

    @classmethod
    def from_config(cls, spec, where, build):
        criteria = None
        if spec.get("match") is not None:
            criteria = build.criteria(spec["match"], join_where(where, "match"))
        timeout = schema.duration(spec, "timeout", where, default=DEFAULT_WAIT_TIMEOUT) or DEFAULT_WAIT_TIMEOUT
        return cls(criteria, timeout, schema.boolean(spec, "optional", where, default=False))

    def run(self, ctx):
        message = ctx.receive(self.criteria, self.timeout)
        # A required wait that times out stops the scenario; the connection stays open.
        return message is not None or self.optional


class WaitStep(StepType):
    """``wait`` with ``duration`` pauses (upstream); without it, waits for a message (the docs)."""

    name = "wait"
    keys = ("duration",) + ExpectStep.keys

    @classmethod
    def from_config(cls, spec, where, build):
        if spec.get("duration") not in (None, ""):
            if "match" in spec:
                raise ConfigError("a wait step takes either 'duration' (pause) or 'match' (wait for a message), "
                                  "not both", where=join_where(where, "duration"))
            schema.check_keys(spec, PauseStep.keys + ("type",), where)  # a pause has no timeout
            return PauseStep.from_config(spec, where, build)
        return ExpectStep.from_config(spec, where, build)


class StepContext:
    """What a running step can do with its connection, in the scenario's greenlet.

    :ivar connection: the :class:`mockd.connection.Connection` (``id``, ``path``, ``mock_id``...).
    :ivar step_index: the index of the step being played, for the journal's label.

    Templates in scenario sends see the last message consumed by a wait step
    (:attr:`last_message`).

    .. versionchanged:: 1.0
       ``send`` takes text, bytes and JSON values as well as a ``Response``; ``receive`` takes
       a match spec, a match type instance or ``None``, and a default timeout.
    """

    def __init__(self, connection):
        self.connection = connection
        self.step_index = None

    @property
    def server(self):
        """The :class:`mockd.server.MockServer`."""
        return self.connection.server

    @property
    def path(self):
        return self.connection.path

    @property
    def closed(self):
        """True once the connection is closed (``send`` then returns False)."""
        return self.connection.closed

    @property
    def last_message(self):
        """The last :class:`mockd.message.Message` a wait took, or ``None``."""
        return self.connection.last_consumed

    def send(self, payload):
        """Send ``payload`` and wait until the client has taken it (a fast loop goes at the
        client's pace instead of filling its queue).

        :param payload: ``str`` (a text frame), ``bytes`` (a binary frame), a ``dict`` or
            ``list`` (compact JSON text), or a :class:`mockd.build.Response` built with
            ``build.response(...)`` (rendered for :attr:`last_message`, after its delay).
        :return: ``True``, or ``False`` once the connection is closed.
        :raises TypeError: for anything else.
        """
        connection = self.connection
        if isinstance(payload, Response):
            connection.send_response(payload, connection.last_consumed)
        else:
            connection.send(as_frame(payload, "ctx.send()"))
        return connection.pace()

    def receive(self, match=None, timeout=DEFAULT_WAIT_TIMEOUT):
        """Wait up to ``timeout`` seconds for a client message that ``match`` accepts; the
        message is consumed (the rules do not see it).

        :param match: ``None`` (any message), a match spec as in YAML (``{"type": "json",
            "path": "$.op", "value": "join"}``, compiled on each call: build it once in
            ``from_config`` with ``build.criteria(spec, where)`` for a step that loops), what
            ``build.criteria`` returned, or a :class:`mockd.matching.MatchType` instance.
        :return: the :class:`mockd.message.Message`, or ``None`` on timeout or close.
        """
        check_seconds(timeout, "ctx.receive(timeout=...)")
        label = f"scenario.steps[{self.step_index}]" if self.step_index is not None else "scenario"
        return self.connection.wait_for_message(self._criteria(match), timeout, label)

    def _criteria(self, match):
        if match is None or isinstance(match, Criteria):
            return match
        if isinstance(match, dict):
            server = self.connection.server
            return Build(server.registry, server.config.plugins, server.config.source).criteria(
                match, "ctx.receive(match)")
        if callable(getattr(match, "match", None)):
            return Criteria(match, None)
        raise TypeError(f"ctx.receive(match=...) takes None, a match spec dict, build.criteria(...) or a "
                        f"match type instance, not {type(match).__name__}")

    def sleep(self, seconds):
        """Pause this scenario (other connections and this one's receive loop go on)."""
        gevent.sleep(seconds)

    def close(self, code=CLOSE_NORMAL, reason=""):
        """Close the connection with ``code`` and ``reason``; the scenario then ends."""
        self.connection.close(code, reason)


def run_scenario(scenario, ctx):
    """Play ``scenario`` until it ends, stops, or the greenlet is killed."""
    if not scenario.steps:
        return
    while True:
        for index, step in enumerate(scenario.steps):
            ctx.step_index = index
            if not step.run(ctx):
                ctx.step_index = None
                return
        if not scenario.loop:
            ctx.step_index = None
            return
        gevent.sleep(0)  # a loop of only sends must still let other greenlets run


@hookimpl
def mockd_register_step_types():
    return (SendStep, PauseStep, ExpectStep, WaitStep)
