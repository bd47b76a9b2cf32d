"""What ``mockd websocket fault|faults|handshakes`` make of their arguments and of the API's
answers: the fault entry for ``fault ID KIND ARG...`` or for an ``ENTRY`` text, and one line
for a fault entry or a handshake. No I/O: the commands themselves are in ``commands``.
"""
import json
import math

from .common import UsageError
from .parser import FAULT_KINDS, fault_usage
from .terminal import printable

__all__ = ["connection_fault", "describe", "handshake_line", "parse_entry"]

#: Kind names as typed, folded (``stop-pongs``, ``STOPPONGS``) to the API's type names.
_KINDS = {kind.lower(): (kind, params) for kind, params, _help in FAULT_KINDS}
#: Fault types of a mock's handshakes, refused by ``fault`` with a pointer to ``faults --add``.
_HANDSHAKE_KINDS = ("refuse",)


def _fold(kind):
    return kind.replace("-", "").replace("_", "").lower()


def kinds_text():
    """``drop, close [CODE [REASON]], ...``: the kinds as an error message lists them."""
    return ", ".join(f"{kind} {fault_usage(params)}".strip() for kind, params, _help in FAULT_KINDS)


def _json_safe(value):
    """YAML may give dates, sets or non-finite floats: the API takes JSON, so those become strings."""
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def parse_entry(text, what):
    """A fault entry given as a YAML flow mapping or a JSON object (JSON is YAML)."""
    import yaml  # only for this

    try:
        entry = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UsageError(f"{what}: not a YAML or JSON mapping ({problem}), e.g. "
                         "'{type: refuse, status: 503, count: 2}'") from None
    if not isinstance(entry, dict):
        raise UsageError(f"{what}: expected a mapping such as '{{type: drop}}', got {text!r}")
    return _json_safe(entry)


def _entry_of(kind_text, values):
    if kind_text.lstrip().startswith("{"):
        if values:
            raise UsageError(f"a fault entry takes no further arguments (got {' '.join(values)!r}): put every "
                             "key in the entry")
        return parse_entry(kind_text, "KIND")
    folded = _fold(kind_text)
    if folded in _HANDSHAKE_KINDS:
        raise UsageError(f"{kind_text!r} applies to a mock's handshakes, not to a live connection: use "
                         f"mockd ws faults MOCK_ID --add '{{type: {kind_text}, status: 503, count: 2}}'")
    if folded not in _KINDS:
        raise UsageError(f"unknown fault kind {kind_text!r}; the kinds are: {kinds_text()} (or a whole entry "
                         "such as '{type: NAME, ...}'; see 'mockd ws fault --help')")
    kind, params = _KINDS[folded]
    required = sum(1 for param in params if not param[3])
    if not required <= len(values) <= len(params):
        given = f"got {len(values)}" + (f": {' '.join(values)}" if values else "")
        raise UsageError(f"{kind} takes {fault_usage(params) or 'no arguments'} ({given}); see 'mockd ws fault --help'")
    entry = {"type": kind}
    for (metavar, key, convert, _optional), text in zip(params, values):
        if convert is int:
            try:
                entry[key] = int(text)
            except ValueError:
                raise UsageError(f"{kind} {metavar}: expected a whole number, got {text!r}") from None
        else:
            entry[key] = text
    return entry


def connection_fault(args):
    """The entry that ``mockd ws fault ID KIND ARG... [--after...] [--probability P]`` sends."""
    entry = _entry_of(args.kind, args.values)
    common = {}
    if args.after_messages is not None:
        common["after"] = {"messages": args.after_messages}
    elif args.after is not None:
        common["after"] = {"duration": args.after}
    if args.probability is not None:
        common["probability"] = args.probability
    for key, value in common.items():
        if key in entry and entry[key] != value:
            option = "--probability" if key == "probability" else "--after/--after-messages"
            raise UsageError(f"the entry gives {key!r} and so does {option}: give it once")
        entry[key] = value
    return entry


def _value(value):
    if isinstance(value, str) and value and not any(char.isspace() or char in "=\"'" for char in value):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def describe(entry):
    """``latency fixed=200ms jitter=50ms after.messages=3 probability=0.5``: one fault entry
    (as the API shows it) as one safe line; ``remaining`` last."""
    if not isinstance(entry, dict):
        return printable(_value(entry), newlines=False)
    entry = dict(entry)
    parts = [str(entry.pop("type", "?"))]
    tail = {key: entry.pop(key) for key in ("after", "probability", "remaining") if key in entry}
    parts += [f"{key}={_value(value)}" for key, value in entry.items()]
    after = tail.pop("after", None)
    if isinstance(after, dict):
        parts += [f"after.{key}={_value(value)}" for key, value in after.items()]
    elif after is not None:
        parts.append(f"after={_value(after)}")
    parts += [f"{key}={_value(value)}" for key, value in tail.items()]
    return printable(" ".join(parts), newlines=False)


def handshake_line(entry):
    """``TIME PATH MOCK STATUS RESULT``: one entry of the handshake journal."""
    def shown(key):
        value = entry.get(key)
        return "-" if value is None or value == "" else str(value)

    result = entry.get("refusedBy") or " ".join(filter(None, ["accepted", entry.get("connectionId")]))
    return printable(f"{shown('at')} {shown('path')} {shown('mockId')} {shown('status')} {result}", newlines=False)
