"""The built-in fault types, registered through ``mockd_register_fault_types`` like a plugin's.

Each reads its keys once, at load, and applies itself through the context it is handed
(:class:`mockd.faults.context.FaultContext` or ``HandshakeContext``). Pure: no gevent here.
"""
import math

from .. import schema
from ..closecodes import valid_close_code
from ..errors import ConfigError
from ..hookspecs import hookimpl
from ..schema import excerpt, join_where
from .types import MAX_SECONDS, FaultType, bounded_seconds

__all__ = ["BAD_FRAME_KINDS", "BUILTIN_FAULT_TYPES"]

#: badFrame kinds, and what a correct client does with each (RFC 6455 sections 5.2, 5.5 and 8.1).
BAD_FRAME_KINDS = {
    "invalidUtf8": "a text frame that is not UTF-8: the client fails the connection with 1007",
    "reservedBit": "RSV1 set with no extension negotiated: 1002",
    "maskedFrame": "a server frame with the mask bit set: 1002",
    "badOpcode": "reserved opcode 3: 1002",
    "oversizeControl": "a ping with 126 payload bytes (a control frame holds 125): 1002",
}
_MAX_REASON = 123  # bytes of a close reason (a control frame holds 125, the code takes 2)


class CloseFault(FaultType):
    """A clean close with ``code`` (default 1000) and ``reason``: a deploy's 1012, a 4000 of yours."""
    name = "close"
    keys = ("code", "reason")

    def __init__(self, code, reason):
        self.code, self.reason = code, reason

    @classmethod
    def from_config(cls, spec, where, build):
        code = schema.integer(spec, "code", where, default=1000)
        if not valid_close_code(code):
            raise ConfigError(f"close code {code} may not be sent in a close frame: use 1000-1003, 1007-1014 or "
                              "3000-4999 (1005, 1006 and 1015 are never on the wire)", where=join_where(where, "code"))
        reason = schema.string(spec, "reason", where, default="")
        if len(reason.encode("utf-8")) > _MAX_REASON:
            raise ConfigError(f"a close reason is at most {_MAX_REASON} bytes of UTF-8, got "
                              f"{len(reason.encode('utf-8'))}", where=join_where(where, "reason"))
        return cls(code, reason)

    def apply(self, ctx):
        ctx.close(self.code, self.reason)


class DropFault(FaultType):
    """The TCP connection is reset: no close frame, the client sees 1006."""
    name = "drop"

    def apply(self, ctx):
        ctx.drop()


class SilenceFault(FaultType):
    """Nothing is read or written any more; the socket stays open (a dead NAT's half-open link)."""
    name = "silence"

    def apply(self, ctx):
        ctx.silence()


class StopPongsFault(FaultType):
    """The client's pings get no pong; everything else flows."""
    name = "stopPongs"

    def apply(self, ctx):
        ctx.stop_pongs()


class LatencyFault(FaultType):
    """``fixed`` plus up to ``jitter`` before each outbound frame, order kept."""
    name = "latency"
    keys = ("fixed", "jitter")

    def __init__(self, fixed, jitter):
        self.fixed, self.jitter = fixed, jitter

    @classmethod
    def from_config(cls, spec, where, build):
        fixed = bounded_seconds(spec, "fixed", where, default=0.0)
        jitter = bounded_seconds(spec, "jitter", where, default=0.0)
        if not fixed and not jitter:
            raise ConfigError("give 'fixed' (and/or 'jitter'), e.g. {type: latency, fixed: 200ms, jitter: 50ms}",
                              where=where)
        return cls(fixed, jitter)

    def apply(self, ctx):
        ctx.latency(self.fixed, self.jitter)


class ThrottleFault(FaultType):
    """Outbound data at ``bytesPerSecond`` at most."""
    name = "throttle"
    keys = ("bytesPerSecond",)

    def __init__(self, rate):
        self.rate = rate

    @classmethod
    def from_config(cls, spec, where, build):
        return cls(_required_count(spec, "bytesPerSecond", where, "{type: throttle, bytesPerSecond: 50000}"))

    def apply(self, ctx):
        ctx.throttle(self.rate)


class FragmentFault(FaultType):
    """Outbound messages split into frames of at most ``size`` payload bytes."""
    name = "fragment"
    keys = ("size",)

    def __init__(self, size):
        self.size = size

    @classmethod
    def from_config(cls, spec, where, build):
        return cls(_required_count(spec, "size", where, "{type: fragment, size: 16} (the most payload bytes a frame)"))

    def apply(self, ctx):
        ctx.fragment(self.size)


class BadFrameFault(FaultType):
    """One frame a correct client must reject (``kind``: see ``BAD_FRAME_KINDS``)."""
    name = "badFrame"
    keys = ("kind",)

    def __init__(self, kind):
        self.kind = kind

    @classmethod
    def from_config(cls, spec, where, build):
        kind = schema.choice(spec, "kind", where, tuple(BAD_FRAME_KINDS))
        if kind is None:
            raise ConfigError(f"'kind' is required, one of: {', '.join(BAD_FRAME_KINDS)}", where=where)
        return cls(kind)

    def apply(self, ctx):
        ctx.bad_frame(self.kind)


class RefuseFault(FaultType):
    """Handshakes refused with ``status`` (default 503, with ``Retry-After`` when
    ``retryAfter`` is given), or ``reset`` (TCP reset), or left unanswered for ``hang``."""
    name = "refuse"
    keys = ("status", "retryAfter", "reset", "hang")  # and the core's "count" (mockd.faults.types)
    stage = "handshake"

    def __init__(self, status, retry_after, reset, hang):
        self.status, self.retry_after, self.reset, self.hang = status, retry_after, reset, hang

    @classmethod
    def from_config(cls, spec, where, build):
        status = schema.integer(spec, "status", where, default=503)
        if not 400 <= status <= 599:
            raise ConfigError(f"a refusal's status is an HTTP error, 400-599, got {status}",
                              where=join_where(where, "status"))
        retry_after = _retry_after(spec, where)
        reset = schema.boolean(spec, "reset", where, default=False)
        hang = bounded_seconds(spec, "hang", where, default=0.0)
        chosen = [key for key in ("reset", "hang") if spec.get(key)] + (["status"] if "status" in spec else [])
        if len(chosen) > 1:
            raise ConfigError(f"{' and '.join(repr(key) for key in chosen)} exclude each other: a handshake is "
                              "refused with a status, reset, or left hanging", where=join_where(where, chosen[1]))
        return cls(status, retry_after, reset, hang)

    def apply(self, ctx):
        if self.reset:
            return ctx.reset()
        if self.hang:
            return ctx.hang(self.hang)
        headers = [("Retry-After", str(self.retry_after))] if self.retry_after is not None else []
        return ctx.refuse(self.status, headers)


_MAX_COUNT = 1 << 40  # bytes a second, or a fragment's size: a terabyte is no limit already


def _required_count(spec, key, where, example):
    """A whole number from 1 to 2**40 that the entry must give."""
    value = schema.integer(spec, key, where, minimum=1)
    if value is None:
        raise ConfigError(f"{key!r} is required, e.g. {example}", where=where)
    if value > _MAX_COUNT:
        raise ConfigError(f"at most {_MAX_COUNT}, got a number of {len(str(value))} digits",
                          where=join_where(where, key))
    return value


def _retry_after(spec, where):
    """``retryAfter``: whole seconds (``5``) or a duration (``5s``), sent as whole seconds."""
    value = spec.get("retryAfter")
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value <= MAX_SECONDS:
            raise ConfigError(f"must be 0 to {MAX_SECONDS:.0f} seconds (a day), got {excerpt(str(value))}",
                              where=join_where(where, "retryAfter"))
        return value
    return math.ceil(bounded_seconds(spec, "retryAfter", where))


BUILTIN_FAULT_TYPES = (CloseFault, DropFault, SilenceFault, StopPongsFault, LatencyFault, ThrottleFault,
                       FragmentFault, BadFrameFault, RefuseFault)


@hookimpl
def mockd_register_fault_types():
    return list(BUILTIN_FAULT_TYPES)
