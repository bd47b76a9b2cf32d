"""Saying what is wrong with a YAML file on one line, with the fix for the classic causes.

PyYAML's messages span four lines, name the construct it was parsing rather than the mistake,
and point at the end of the file for a quote never closed. :func:`explain` gives ``(where,
message)`` for :class:`~mockd.errors.ConfigError`: ``where`` is ``line L, column C`` of the
mistake, and the message adds a hint for what people actually get wrong: a tab, a line
indented like nothing above it, ``key: a: b`` unquoted, a quote or bracket never closed.
"""
import re

import yaml

__all__ = ["explain"]

_LINE_BREAK = re.compile(r"\r\n|[\n\r\x85\u2028\u2029]")  # the line breaks PyYAML counts
_OPENERS = {"while scanning a quoted scalar": "this quoted string",
            "while parsing a flow mapping": "this '{'", "while parsing a flow sequence": "this '['"}


def _codepoint(character):
    code = character if isinstance(character, int) else ord(character)  # PyYAML gives either
    return f"U+{code:04X}"


def _place(mark):
    return f"line {mark.line + 1}, column {mark.column + 1}"


class _Lines:
    def __init__(self, text):
        self.lines = _LINE_BREAK.split(text)

    def get(self, index):
        return self.lines[index] if 0 <= index < len(self.lines) else ""

    def above(self, index):
        """The nearest line above ``index`` with content: ``(index, text)`` or None."""
        for i in range(index - 1, -1, -1):
            stripped = self.get(i).strip()
            if stripped and not stripped.startswith("#"):
                return i, self.get(i)
        return None


def _columns(line):
    """``(dash, key)``: 0-based columns of a line's first ``-`` entry marker (None without one)
    and of the text after its markers (``  - id: a`` gives 2 and 4)."""
    key = len(line) - len(line.lstrip(" "))
    dash = key if line[key:key + 1] == "-" else None
    while line[key:key + 2] in ("- ", "-"):
        key += 2 if line[key:key + 2] == "- " else 1
        key += len(line[key:]) - len(line[key:].lstrip(" "))
    return dash, key


def _shown(line):
    text = line.strip()
    return text if len(text) <= 40 else text[:37] + "..."


def _indent_hint(lines, mark, context_mark):
    """For a line indented like no block above it: the indentations of the lines it may have
    been meant to line up with (the nearest line above, the start of the enclosing block)."""
    line = lines.get(mark.line)
    current = len(line) - len(line.lstrip(" "))
    wants_dash = line.lstrip(" ").startswith("-")
    suggestions = []
    for candidate in (lines.above(mark.line), context_mark and (context_mark.line, lines.get(context_mark.line))):
        if not candidate:
            continue
        index, text = candidate
        dash, key = _columns(text)
        column = dash if wants_dash and dash is not None else key
        if column != current and column not in (c for c, _i, _t in suggestions):
            suggestions.append((column, index, _word(text, column)))
    if not suggestions:
        return "check this line's indentation against the lines above it"
    options = " or ".join(f"{column} spaces to line up with {word!r} on line {index + 1}"
                          for column, index, word in suggestions)
    return f"this line is indented {current} spaces, which lines up with no block above it; indent it {options}"


def _word(line, column):
    """What starts at ``column`` of ``line``: ``-``, or a key without its colon."""
    text = line[column:]
    return "-" if text.startswith("-") else (text.split(":", 1)[0].strip() or text.strip())[:30]


def _colon_hint(lines, mark):
    line = lines.get(mark.line)
    key, sep, value = line.partition(": ")
    if sep and len(key) < mark.column:  # "name: foo: bar": the second ': ' is inside the value
        quote = "'" if '"' in value else '"'
        return (f"a value containing ': ' must be quoted: {key.strip()}: {quote}{value.strip()}{quote}")
    above = lines.above(mark.line)
    if above is not None:  # the line is indented deeper than the key above: it continues its value
        index, text = above
        column = _columns(text)[1]
        return (f"this line is indented deeper than line {index + 1} ({_shown(text)}), so it continues "
                f"that line's value; indent it {column} spaces to make it a key of its own")
    return "mapping values are not allowed here"


def explain(exc, text):
    """``(where, message)`` for a PyYAML error raised while loading ``text``; ``where`` is None
    when PyYAML did not say where."""
    if isinstance(exc, yaml.reader.ReaderError):  # a control character, pasted from somewhere
        before = _LINE_BREAK.split(text[:exc.position])
        return (f"line {len(before)}, column {len(before[-1]) + 1}",
                f"invalid YAML: the character {_codepoint(exc.character)} is not allowed in a YAML file; remove it")
    if not isinstance(exc, yaml.MarkedYAMLError) or not (exc.problem_mark or exc.context_mark):
        return None, "invalid YAML: " + " ".join(str(exc).split())
    lines = _Lines(text)
    mark, problem, context = exc.problem_mark or exc.context_mark, exc.problem or exc.context, exc.context
    at_end = "end of stream" in (problem or "") or "<stream end>" in (problem or "")
    if lines.get(mark.line)[mark.column:mark.column + 1] == "\t":
        message = "found a tab; YAML does not allow tabs here: indent with spaces"
    elif problem and problem.startswith("expected <block end>"):
        message = _indent_hint(lines, mark, exc.context_mark)
    elif problem == "mapping values are not allowed here":
        message = _colon_hint(lines, mark)
    elif getattr(exc, "first_mark", None) is not None:  # our DuplicateKeyError
        message = f"{problem} (first at {_place(exc.first_mark)}); a key may appear once in a mapping"
    elif at_end and context in _OPENERS and exc.context_mark:
        mark, message = exc.context_mark, f"{_OPENERS[context]} is never closed (the file ends first)"
    elif context == "while scanning a simple key" and exc.context_mark:
        mark = exc.context_mark
        message = f"no ':' after {_shown(lines.get(mark.line))!r}: a key is written 'key:' (or quote a plain value)"
    else:
        message = problem
        if context and exc.context_mark and exc.context_mark is not mark:
            message += f" ({context} at {_place(exc.context_mark)})"
    if exc.note:
        message += f"; {exc.note}"
    return _place(mark), "invalid YAML: " + " ".join(message.split())
