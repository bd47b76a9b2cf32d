"""``mockd convert``: recordings (ours or a HAR) as a YAML mock file, served without the backend.

One mock per WebSocket URL path. Two shapes (``--as``):

- ``scenario`` (default) plays one session back: each server frame a ``send`` step after a
  ``delay`` of the recorded gap, each client frame a ``wait`` step for that message. With
  several sessions on one path the first that holds a message is played (a scenario cannot
  choose between sessions); the others are named in the mock's description.
- ``matchers`` answers messages in any order: one matcher per distinct client message, whose
  reply is the first server frame that followed it, after the recorded gap. A rule has one
  response, so when several server frames followed a message only the first is kept, and the
  mock's description and a warning say so; server frames before the first client message (a
  greeting) become a scenario of sends, which takes no message from the matchers. All the
  sessions of a path are merged.

How a client frame is matched, so that what the client sends again matches what it sent:

- a JSON object: a ``json`` matcher at path ``$`` whose value is the object in mockd's canonical
  text (compact, keys sorted: the text a ``json`` matcher compares a whole object by), so
  spacing and key order do not matter; a JSON array: the same at path ``@`` (jsonpath-ng's
  current node, the whole document: mockd's ``$`` walks objects only);
- other text (scalars included: ``"1"`` and ``1`` would compare alike): ``exact``;
- binary: ``exact`` on the bytes when they are UTF-8, else an anchored ``regex`` of ``\\xHH``
  escapes (a regex pattern is at most 10,000 characters: a longer message is matched on its
  first bytes, said in the description).

Recorded text is sent as ``type: text``, never reformatted; a ``{{`` in it would start a
template, so it is written as the template expression ``{{"{{"}}``, which renders ``{{``. A
server close cannot be replayed (no step closes a connection): the scenario ends there, and
the description says with which code the server closed.
"""
import base64
import json
import math
import re

import yaml

from ..configfile import MAX_CONFIG_BYTES
from ..depth import MAX_NESTING, deeper_than
from ..errors import ConfigError
from ..durations import format_duration
from ..textrender import to_text
from .files import load_recordings

__all__ = ["MODES", "convert_recordings", "dump_yaml", "escape_template"]

MODES = ("scenario", "matchers")
#: A mock's default maxMessageSize: a larger recorded client message needs it raised.
DEFAULT_MAX_MESSAGE = 65536
#: Bytes of a binary client message a regex can spell (4 characters each, 10,000 at most).
MAX_PATTERN_BYTES = 2400
# Every this many bytes one is spelt as a lookahead and any byte, which ends the literal: mockd
# refuses patterns whose literals weigh more than one of 256 (mockd.regexcost says why), and
# 37 literals of 64 weigh as one of 214. The pattern matches the same bytes, in 9,974 characters.
_LITERAL_BREAK = 64
#: A recorded wait longer than this gets a ``timeout`` of twice it instead of the 30s default.
LONG_WAIT_MS = 15_000


def escape_template(text):
    """``text`` as a template that renders to itself: each ``{{`` (taken left to right)
    becomes the expression ``{{"{{"}}``, a string constant, folded into the text at load."""
    return text.replace("{{", '{{"{{"}}') if "{{" in text else text


def convert_recordings(recordings, mode="scenario", timing_scale=1.0, origin="the recording"):
    """A config document (a dict) for ``recordings`` and the notes on what it cannot replay.

    :param origin: how the description names the file the recordings came from.
    :return: ``(config, notes)``; ``notes`` is a list of ``(mock index, text)``.
    :raises ConfigError: when no recording holds a message to convert.
    """
    if mode not in MODES:
        raise ConfigError(f"--as must be one of {', '.join(MODES)}, not {mode!r}")
    if not any(frame.type != "close" for recording in recordings for frame in recording.frames):
        raise ConfigError("nothing to convert: no recording in it holds a text or binary message", source=origin)
    sessions = {}
    for recording in recordings:
        sessions.setdefault(recording.path, []).append(recording)
    mocks, notes, ids = [], [], set()
    for index, (path, group) in enumerate(sessions.items()):
        build = _scenario_mock if mode == "scenario" else _matchers_mock
        body, used, mock_notes = build(group, timing_scale)
        websocket = {"path": path}
        subprotocol = next((r.subprotocol for r in used if r.subprotocol), None)
        if subprotocol:
            websocket["subprotocols"] = [subprotocol]
        largest = max((_size(frame) for r in used for frame in r.frames if frame.sender == "client"), default=0)
        if largest > DEFAULT_MAX_MESSAGE:  # else the mock would close the replaying client with 1009
            websocket["maxMessageSize"] = largest
        websocket.update(body)
        first = used[0]
        where = f" from {first.upstream}" if first.upstream else ""
        description = (f"Recorded{where} ({_session_list(used)}) in {origin}; written by mockd convert --as {mode}."
                       + "".join(f" {note}" for note in mock_notes))
        mocks.append({"id": _mock_id(path, ids), "type": "websocket", "name": f"Recorded {path}",
                      "description": description, "websocket": websocket})
        notes.extend((index, note) for note in mock_notes)
    return {"version": "1.0", "mocks": mocks}, notes


def _session_list(recordings):
    shown = ", ".join(f"{r.id}, {len(r.frames)} frames, started {r.summary()['startedAt']}" for r in recordings[:3])
    more = len(recordings) - 3
    return shown + (f", and {more} more session{'s' if more > 1 else ''}" if more > 0 else "")


def _mock_id(path, taken):
    base = re.sub(r"[^A-Za-z0-9_.-]+", "-", path.strip("/")).strip("-.") or "root"
    candidate, count = base, 1
    while candidate in taken:
        count += 1
        candidate = f"{base}-{count}"
    taken.add(candidate)
    return candidate


def _data_frames(recording, notes):
    """The text and binary frames of ``recording`` up to its close, noting a server close."""
    frames = []
    for frame in recording.frames:
        if frame.type == "close":
            if frame.sender == "server":
                reason = f" {frame.data!r}" if frame.data else ""
                notes.append(f"The server closed session {recording.id} with {frame.code or 'no code'}{reason} after "
                             f"{_duration(frame.t)}: no step closes a connection, so the mock leaves it open there.")
            break
        frames.append(frame)
    return frames


def _scenario_mock(group, scale):
    chosen = next((r for r in group if any(frame.type != "close" for frame in r.frames)), group[0])
    notes = []
    if len(group) > 1:
        others = [r.id for r in group if r is not chosen]
        notes.append(f"A scenario plays one session: {len(others)} other session{'s' if len(others) > 1 else ''} "
                     f"of this path ({', '.join(others[:5])}{', ...' if len(others) > 5 else ''}) "
                     f"{'are' if len(others) > 1 else 'is'} left out; convert with --as matchers to merge them.")
    steps, last = [], 0.0
    for frame in _data_frames(chosen, notes):
        if frame.sender == "server":
            pause = _pause(frame.t - last, scale)
            if pause:
                steps.append({"type": "delay", "duration": pause})
            steps.append({"type": "send", "message": _response(frame)})
        else:
            step = {"type": "wait", "match": _match(frame, notes)}
            if frame.t - last > LONG_WAIT_MS:  # the client took its time: so may its replay
                step["timeout"] = f"{math.ceil((frame.t - last) * 2 / 1000)}s"
            steps.append(step)
        last = max(last, frame.t)
    websocket = {"scenario": {"name": f"recorded session {chosen.id}", "steps": steps}} if steps else {"echoMode": False}
    return websocket, [chosen], notes


def _matchers_mock(group, scale):
    notes, rules, replies_of, greeting = [], [], {}, []
    repeated = multiple = 0
    for session_index, recording in enumerate(group):
        asked, replies = None, []
        for frame in _data_frames(recording, notes) + [None]:
            if frame is not None and frame.sender == "server":
                if asked is not None:
                    replies.append(frame)
                elif session_index == 0:
                    greeting.append(frame)
                continue
            if asked is not None:  # the previous client message and what followed it are complete
                key = (asked.type, asked.data)
                answer = [(reply.type, reply.data) for reply in replies]
                if key not in replies_of:
                    replies_of[key] = answer
                    rules.append(_rule(asked, replies, scale, notes))
                    multiple += len(replies) > 1
                elif replies_of[key] != answer:
                    repeated += 1
            asked, replies = frame, []
    if multiple:
        notes.append(f"{multiple} client message{'s were' if multiple > 1 else ' was'} followed by several server "
                     "frames: a matcher answers with one, the first; --as scenario replays them all.")
    if repeated:
        notes.append(f"{repeated} repeated client message{'s' if repeated > 1 else ''} got a different reply than the "
                     "first time: a matcher answers the same each time, with the first reply.")
    websocket = {}
    if greeting:
        steps, last = [], 0.0
        for frame in greeting:
            pause = _pause(frame.t - last, scale)
            steps += ([{"type": "delay", "duration": pause}] if pause else []) + [
                {"type": "send", "message": _response(frame)}]
            last = max(last, frame.t)
        websocket["scenario"] = {"name": "greeting", "steps": steps}
    if rules:
        websocket["matchers"] = rules
    if not websocket:
        websocket["echoMode"] = False
    return websocket, group, notes


def _rule(asked, replies, scale, notes):
    rule = {"match": _match(asked, notes)}
    if not replies:
        rule["noResponse"] = True
        return rule
    response = _response(replies[0])
    pause = _pause(replies[0].t - asked.t, scale)
    if pause:
        response["delay"] = pause
    rule["response"] = response
    return rule


def _response(frame):
    if frame.type == "binary":
        return {"type": "binary", "value": base64.b64encode(frame.data).decode("ascii")}
    return {"type": "text", "value": escape_template(frame.data)}


def _match(frame, notes):
    """The ``match`` block that takes what ``frame`` carried again (see the module's docstring)."""
    if frame.type == "text":
        document = _json(frame.data)
        if isinstance(document, (dict, list)):
            return {"type": "json", "path": "$" if isinstance(document, dict) else "@", "value": to_text(document),
                    "messageType": "text"}
        return {"type": "exact", "value": frame.data, "messageType": "text"}
    try:
        return {"type": "exact", "value": frame.data.decode("utf-8"), "messageType": "binary"}
    except UnicodeDecodeError:
        pass
    data = frame.data[:MAX_PATTERN_BYTES]
    if len(frame.data) > MAX_PATTERN_BYTES:
        notes.append(f"A binary client message of {len(frame.data)} bytes (at {_duration(frame.t)}) is matched on its "
                     f"first {MAX_PATTERN_BYTES} bytes.")
    pattern = "\\A" + _spelt(data) + ("\\Z" if len(data) == len(frame.data) else "")
    return {"type": "regex", "value": pattern, "messageType": "binary"}


def _spelt(data):
    """A regex that matches exactly ``data``, in literals of _LITERAL_BREAK bytes at most."""
    return "".join(f"(?=\\x{byte:02x})(?s:.)" if index % _LITERAL_BREAK == _LITERAL_BREAK - 1 else f"\\x{byte:02x}"
                   for index, byte in enumerate(data))


def _json(text):
    """The JSON document ``text`` holds, as mockd's matchers parse it, or None."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        return None
    # A document mockd would not parse (too deep) cannot be matched as JSON: matched as text.
    return None if deeper_than(document, MAX_NESTING) else document


def _size(frame):
    return len(frame.data) if frame.type == "binary" else len((frame.data or "").encode("utf-8", "surrogatepass"))


def _pause(gap_ms, scale):
    """A recorded gap (ms) times ``scale`` as a Go-style duration; None under a millisecond."""
    ms = round(max(0.0, gap_ms) * scale)
    return _duration(ms) if ms >= 1 else None


def _duration(ms):
    """Milliseconds, rounded to whole ones, as a Go-style duration."""
    return format_duration(round(ms) / 1000)


# ------------------------------------------------------------------ YAML out

_PLAIN = re.compile(r"[A-Za-z_/][A-Za-z0-9_./-]*\Z")
_KEYWORDS = {"true", "false", "null", "yes", "no", "on", "off", "y", "n"}


class _Dumper(yaml.SafeDumper):
    """Quotes every string that is not a plain word or path: mockd reads YAML 1.2 (``0o17`` is a
    number there, not for PyYAML's 1.1), so a recorded message must never be left to a resolver."""

    def ignore_aliases(self, data):
        return True

    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)  # "- " items indented under their key


def _represent_str(dumper, value):
    plain = _PLAIN.match(value) and value.lower() not in _KEYWORDS
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=None if plain else '"')


_Dumper.add_representer(str, _represent_str)


def dump_yaml(config, header=""):
    """The YAML text of ``config``, ``header`` lines first as comments, written as given. In the
    values every ``$`` is written ``$$``: mockd expands ``$VAR`` in a config file before
    parsing it, and ``$$`` is its ``$``."""
    comments = "".join(f"# {line}\n" for line in header.splitlines())
    body = yaml.dump(config, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=math.inf,
                     default_flow_style=False)
    return comments + body.replace("$", "$$")


def run(args):
    """``mockd convert FILE [-o OUT] [--as MODE] [--timing-scale X]``: the exit status."""
    import sys

    from .files import write_atomically

    scale = args.timing_scale
    if not math.isfinite(scale) or scale < 0:
        raise ConfigError(f"--timing-scale must be 0 or more (0.5: twice as fast, 0: no gaps), not {scale:g}")
    recordings = load_recordings(args.file)
    config, notes = convert_recordings(recordings, args.convert_as, scale, origin=_printable(args.file))
    named = _printable(args.file).replace("$", "$$")
    text = dump_yaml(config, f"Mocks converted from {named} by mockd convert --as {args.convert_as}.\n"
                             "Validate: mockd check -c FILE; serve: mockd serve -c FILE.\n"
                             "A $$ in a value is one $ (mockd expands environment variables in config files).")
    data = text.encode("utf-8")
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"the mocks would take {len(data) / (1 << 20):.0f} MiB, more than the "
                          f"{MAX_CONFIG_BYTES >> 20} MiB a config file may have; replay the recording instead "
                          "(websocket.replay) or convert a shorter one", source=_printable(args.file))
    target = args.output if args.output not in (None, "-") else None
    for index, note in notes:
        print(f"mockd: warning: {target or '<stdout>'}: mocks[{index}]: {note}", file=sys.stderr)
    if target is None:
        sys.stdout.write(text)
        return 0
    write_atomically(target, data)
    count = len(config["mocks"])
    print(f"{_printable(target)}: {count} mock{'s' if count != 1 else ''} from {len(recordings)} "
          f"recording{'s' if len(recordings) != 1 else ''} of {_printable(args.file)} (--as {args.convert_as})")
    return 0


def _printable(name):
    """A file name for a message or a comment line: a newline in it would end the comment."""
    return re.sub(r"[\x00-\x1f\x7f]", "?", str(name))
