"""``websocket.replay``: play a recording back to each client, without converting it.

.. code-block:: yaml

   replay:
     recording: session.json   # ours or a HAR; relative to the config file's folder
     mode: synchronized        # pure | synchronized (default) | triggered
     timingScale: 1.0          # 0.5: twice as fast; 0: no gaps
     match: exact              # synchronized: exact (default) or any

Replay is a built-in runner on the protocol seam (:class:`~mockd.protocols.base.ProtocolType`,
never registered by name: the ``replay`` block builds it), so it owns the conversation in the
connection's greenlet as a protocol pack does. Each connection plays the recording afresh:

- ``pure``: the server frames at their recorded times, times ``timingScale``; what the
  client sends is journaled and dropped.
- ``synchronized``: the same, but a recorded client frame is waited for before what follows
  it, and the recorded gaps count from the moment it arrived. ``match: exact`` takes only the
  recorded message (same type; json-equal when both parse as JSON), others are dropped with
  a journal event saying what was expected; ``match: any`` takes the client's next message,
  whatever it holds (clients that stamp ids or times on what they send).
- ``triggered``: nothing until ``POST /websocket/connections/{id}/replay/advance``
  (:meth:`Replay.advance`), which sends the next server frames at once, gaps left out.

The file is read when the config loads (:func:`mockd.proxy.files.load_recordings`: ours, one
session or ``{"recordings": [...]}``, or a HAR); of several sessions, the one recorded on the
mock's path is played, else the first. A recorded server close closes the client with that
code and reason. Once the recording is played without one, the connection stays open, as the
session had not ended yet, until the client closes.
"""
import json
import math
import os
import time

from .. import schema
from ..closecodes import CLOSE_BAD_GATEWAY, sendable_close_code
from ..errors import ConfigError
from ..message import NOT_JSON
from ..protocols.base import ProtocolType
from ..schema import join_where
from .files import load_recordings

__all__ = ["MODES", "REPLAY_KEYS", "Replay", "build_replay"]

REPLAY_KEYS = ("recording", "mode", "timingScale", "match")
MODES = ("pure", "synchronized", "triggered")
MATCHES = ("exact", "any")
_monotonic = time.monotonic


class _Step:
    """One recorded frame, ready to play: ``at`` in seconds since the session opened."""

    __slots__ = ("at", "sender", "kind", "data", "code", "canonical")

    def __init__(self, frame):
        self.at = frame.t / 1000.0
        self.sender = frame.sender
        self.kind = frame.type
        self.data = frame.data
        # No code is sent as 1000; 1006 (the upstream vanished) as the proxy closed the client then.
        self.code = sendable_close_code(frame.code, CLOSE_BAD_GATEWAY) if frame.type == "close" else None
        self.canonical = _canonical(frame.data) if frame.type == "text" else None

    def contains(self, text):
        if self.kind == "binary":
            return text.encode("utf-8") in self.data
        return text in self.data  # a close frame's data is its reason

    def describe(self):
        return "binary frame" if self.kind == "binary" else schema.excerpt(self.data)


def _canonical(text):
    """The JSON document of ``text`` in one spelling (key order, spaces), or None. Written by
    ``json.dumps`` so that ``true`` and ``1`` stay different (Python's ``True == 1``)."""
    try:
        return _dumps(json.loads(text))
    except (ValueError, RecursionError):
        return None


def _dumps(document):
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class Replay(ProtocolType):
    """The ``replay`` block of one mock: its recording, ready to play to each connection."""

    name = "replay"  # the journal's "matched" for the client messages it took

    def __init__(self, recording, mode="synchronized", timing_scale=1.0, match_any=False):
        self.recording = recording
        self.mode = mode
        self.timing_scale = timing_scale
        self.match_any = match_any
        self.steps = tuple(_Step(frame) for frame in recording.frames)
        self.server_steps = tuple(step for step in self.steps if step.sender == "server")
        self.subprotocols = (recording.subprotocol,) if recording.subprotocol else ()
        self._players = {}  # connection id -> _Player, while a triggered replay plays

    def run(self, ctx):
        player = _Player(self, ctx)
        if self.mode != "triggered":
            player.play()
            player.drain()
            return
        # Registered before the first yield: an advance may come as soon as the client is
        # listed, which happens (in the same greenlet, without a switch) before run().
        self._players[ctx.connection.id] = player
        try:
            player.drain()
        finally:
            self._players.pop(ctx.connection.id, None)

    def advance(self, connection, count=None, until=None):
        """Send ``connection`` its next ``count`` server frames (default 1), or those up to and
        including the first whose data contains ``until`` (a close frame's data is its reason,
        a binary frame's its bytes); ``(sent, remaining)``. For ``mode: triggered``; called by
        the admin API, in its own greenlet.

        :raises LookupError: when no server frame left contains ``until`` (nothing is sent).
        """
        player = self._players.get(connection.id)
        if player is None:  # not triggered, or its run has just ended
            return 0, 0
        return player.advance(count, until)


class _Player:
    """One connection's run through the recording."""

    def __init__(self, replay, ctx):
        self.replay = replay
        self.ctx = ctx
        self.pending = None  # synchronized: the next recorded client message, come early
        self.position = 0    # triggered: server frames sent so far

    def play(self):
        """Go through the recording (``pure`` and ``synchronized``) until its end or the
        connection's."""
        replay, ctx = self.replay, self.ctx
        scale, synchronized = replay.timing_scale, replay.mode == "synchronized"
        steps = replay.steps
        anchor, anchor_at = _monotonic(), 0.0  # the recorded gaps count from here
        for index, step in enumerate(steps):
            if step.sender == "client":
                if not synchronized:
                    continue
                if step.kind == "close" or not self._await(step, index):
                    return  # a recorded client close: the client is to close now, drain() sees it
                anchor, anchor_at = _monotonic(), step.at
                continue
            expected = _next_client(steps, index) if synchronized else None
            if not self._idle_until(anchor + (step.at - anchor_at) * scale, expected) or not self._send(step):
                return
            if step.kind != "close" and not ctx.connection.pace():
                return  # at the client's pace: a long recording must not overflow its buffer

    def drain(self):
        """Take (journal) and drop the client's messages until it closes."""
        while self.ctx.receive() is not None:
            pass

    def advance(self, count, until):
        steps = self.replay.server_steps
        start = self.position
        if until is not None:
            end = next((i + 1 for i in range(start, len(steps)) if steps[i].contains(until)), None)
            if end is None:
                raise LookupError(f"none of the {len(steps) - start} server frames left in the recording "
                                  f"contains {schema.excerpt(until)}; nothing was sent")
        else:
            end = min(start + (1 if count is None else count), len(steps))
        sent = 0
        # No yield in here (sends only queue): two advances at once cannot interleave frames.
        for step in steps[start:end]:
            self.position += 1
            if not self._send(step):
                break
            sent += 1
        return sent, 0 if self.ctx.closed else len(steps) - self.position

    # ------------------------------------------------------------ helpers

    def _send(self, step):
        if step.kind == "close":
            self.ctx.close(step.code, step.data)
            return True
        return self.ctx.send(step.data)

    def _idle_until(self, due, expected):
        """Wait until ``due`` (a monotonic time); False if the connection ends meanwhile.

        What the client sends meanwhile is taken (so that a close is seen), and dropped unless
        it is the ``expected`` client frame, which is kept for :meth:`_await`; while one is kept
        the client is not read (its TCP window holds the rest)."""
        ctx = self.ctx
        while not ctx.closed:
            left = due - _monotonic()
            if left <= 0:
                return True
            if self.pending is not None:
                ctx.sleep(left)
                continue
            message = ctx.receive(timeout=left)
            if message is not None and expected is not None:
                self.pending = self._check(message, *expected)
        return False

    def _await(self, step, index):
        """Wait for the client's message standing for recorded client frame ``index``."""
        while True:
            message = self.ctx.receive() if self.pending is None else self.pending  # "" is falsy
            self.pending = None
            if message is None:
                return False
            if self._check(message, step, index) is not None:
                return True

    def _check(self, message, step, index):
        """``message`` if it stands for ``step``, else None (and a journal event says why)."""
        if self.replay.match_any or _same(message, step):
            return message
        got = "a binary frame" if message.is_binary else schema.excerpt(message.text)
        self.ctx.record(f"replay: waiting for the recorded client frame {index} ({step.describe()}), got {got}")
        return None


def _next_client(steps, index):
    """``(step, index)`` of the first client data frame after ``index``, or None."""
    for later in range(index + 1, len(steps)):
        if steps[later].sender == "client":
            return None if steps[later].kind == "close" else (steps[later], later)
    return None


def _same(message, step):
    if step.kind == "binary" or message.is_binary:
        return step.kind == "binary" and message.is_binary and message.data == step.data
    if message.data == step.data:
        return True
    if step.canonical is None:
        return False
    document = message.json()  # parsed once, depth-checked (mockd.message)
    return document is not NOT_JSON and _dumps(document) == step.canonical


# ---------------------------------------------------------------- the replay block


def build_replay(spec, build, where, path=None):
    """The :class:`Replay` of the ``replay`` block at ``where``; ``path`` is the mock's, which
    picks the session from a file holding several. The recording is read now: a bad one
    fails the config load, never a client."""
    spec = schema.mapping(spec, where, "a mapping with 'recording' (and 'mode', 'timingScale')")
    problems = schema.Problems()
    problems.attempt(schema.check_keys, spec, REPLAY_KEYS, where)
    mode = problems.attempt(schema.choice, spec, "mode", where, MODES, default="synchronized")
    scale = problems.attempt(_timing_scale, spec, where)
    match = problems.attempt(schema.choice, spec, "match", where, MATCHES, default="exact")
    recording = problems.attempt(_recording, spec, build, where, path)
    problems.check()
    if "match" in spec and mode != "synchronized":
        build.warn(f"match is only read in synchronized mode, not in {mode}", join_where(where, "match"))
    if not any(frame.sender == "server" for frame in recording.frames):
        build.warn("the recording has no server frame: its clients will get nothing",
                   join_where(where, "recording"))
    return Replay(recording, mode, scale, match == "any")


def _timing_scale(spec, where):
    value = spec.get("timingScale")
    if value is None:
        return 1.0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ConfigError(f"timingScale is a number, 0 or more (1: the recorded times, 0.5: twice as fast, 0: no "
                          f"gaps), not {value!r}", where=join_where(where, "timingScale"))
    return float(value)


def _recording(spec, build, where, path):
    at = join_where(where, "recording")
    name = build.file_setting(schema.string(spec, "recording", where, required=True, allow_empty=False), at)
    # As every path in a config file: from the file's folder (the working directory for a
    # mock that came from no file).
    base = os.path.dirname(os.path.abspath(build.source)) if build.source else os.getcwd()
    file = os.path.join(base, name)
    if not os.path.exists(file):
        raise ConfigError(f"recording file {name!r} not found (a relative path is read from the config file's "
                          f"folder); record one with 'mockd record', or save a HAR from the browser's DevTools",
                          where=at)
    try:
        recordings = load_recordings(file, where=at, source=name)
    except ConfigError as exc:
        # A place inside the recording (its source) is given at the config's, which the
        # config's file name is put before: both files are named.
        raise ConfigError.combine(
            leaf if leaf.source is None else
            ConfigError(f"in {leaf.source}: " + ": ".join(filter(None, (leaf.where, leaf.message))), where=at)
            for leaf in exc.errors) from None
    if not recordings:
        raise ConfigError(f"{name} holds no WebSocket session to replay", where=at)
    # A file of several sessions (mockd record, a HAR of a whole page): the one recorded on
    # the mock's own path, else the first.
    for recording in recordings:
        if path is not None and recording.path.partition("?")[0] == path:
            return recording
    return recordings[0]
