"""Scenario step types and the runner that plays a scenario for one connection.

The runner executes in its own greenlet beside the connection's receive loop (README.rst, "Scenarios").
Step types are registered through :func:`mockd_register_step_types`, the hook plugins use. The
documentation's spellings (``send``, ``wait`` with ``match``, ``delay``) and upstream's
(``expect``, ``wait`` with ``duration``) are all accepted.
"""
import gevent

from . import schema
from .errors import ConfigError
from .hookspecs import hookimpl
from .schema import join_where

__all__ = ["StepContext", "StepType", "run_scenario"]

DEFAULT_WAIT_TIMEOUT = 30.0


class StepType:
    """Base class of scenario steps.

    Subclasses set ``name`` (the YAML ``type``), implement :meth:`from_config` and
    :meth:`run`. ``run`` may block gevent-style through its context: ``ctx.send(response)``,
    ``ctx.receive(criteria, timeout)``, ``ctx.sleep(seconds)``.
    """

    name = None

    @classmethod
    def from_config(cls, spec, where, build):
        """Validate ``spec`` (the step mapping without ``type``) and return a step."""
        raise NotImplementedError

    def run(self, ctx):
        """Play the step. Return ``False`` to stop the scenario (no further steps, no loop)."""
        raise NotImplementedError


class SendStep(StepType):
    name = "send"

    def __init__(self, response):
        self.response = response

    @classmethod
    def from_config(cls, spec, where, build):
        schema.check_keys(spec, ("message", "type"), where)
        if spec.get("message") is None:
            raise ConfigError("a send step needs a 'message' (a response: type and value)",
                              where=join_where(where, "message"))
        return cls(build.response(spec["message"], join_where(where, "message")))

    def run(self, ctx):
        ctx.send(self.response)
        return True


class PauseStep(StepType):
    name = "delay"

    def __init__(self, seconds):
        self.seconds = seconds

    @classmethod
    def from_config(cls, spec, where, build):
        schema.check_keys(spec, ("duration", "type"), where)
        if spec.get("duration") in (None, ""):
            raise ConfigError("a delay step needs a 'duration' such as '2s'", where=join_where(where, "duration"))
        return cls(schema.duration(spec, "duration", where, positive=True))

    def run(self, ctx):
        ctx.sleep(self.seconds)
        return True


class ExpectStep(StepType):
    """Wait for a client message that matches (any message when there is no ``match``)."""

    name = "expect"
    keys = ("match", "timeout", "optional", "type")

    def __init__(self, criteria, timeout, optional):
        self.criteria = criteria
        self.timeout = timeout
        self.optional = optional

    @classmethod
    def from_config(cls, spec, where, build):
        schema.check_keys(spec, cls.keys, where)
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

    @classmethod
    def from_config(cls, spec, where, build):
        if spec.get("duration") not in (None, ""):
            if "match" in spec:
                raise ConfigError("a wait step takes either 'duration' (pause) or 'match' (wait for a message), "
                                  "not both", where=join_where(where, "duration"))
            return PauseStep.from_config(spec, where, build)
        return ExpectStep.from_config(spec, where, build)


class StepContext:
    """What a running step can do with its connection.

    Templates in scenario sends see the last message consumed by a wait step.
    """

    def __init__(self, connection):
        self.connection = connection
        self.step_index = None

    @property
    def last_message(self):
        return self.connection.last_consumed

    def send(self, response):
        """Render ``response`` (after its delay) and send it, then wait until the client has
        taken it (a fast loop goes at the client's pace instead of filling its queue)."""
        self.connection.send_response(response, self.connection.last_consumed)
        self.connection.pace()

    def receive(self, criteria, timeout):
        """Wait up to ``timeout`` seconds for a client message accepted by ``criteria``
        (any message when ``None``); the message is consumed. Returns it, or ``None``."""
        label = f"scenario.steps[{self.step_index}]" if self.step_index is not None else "scenario"
        return self.connection.wait_for_message(criteria, timeout, label)

    def sleep(self, seconds):
        gevent.sleep(seconds)


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
