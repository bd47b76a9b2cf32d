"""Text from the network, made safe to print on a terminal.

What a peer chose (a message, a close reason, a path or a body in the journal) ends up on the
developer's terminal, where ESC starts a control sequence: OSC sets the window title or writes
the clipboard (OSC 52), CSI moves the cursor, clears the screen or hides text, BEL rings, CR
returns to overwrite the line. The client's text output writes such characters as escapes
(``\\x1b``, ``\\r``, ``\\u202e``) unless ``--raw`` is given. A backslash is left as it is: the
escapes are for reading; ``--json`` and ``--raw`` give the exact text.
"""
import re

__all__ = ["printable", "printable_json"]

# C0 controls but tab (and newline, see printable), DEL, the C1 controls U+0080-U+009F (U+009B
# is CSI on terminals that take 8-bit controls), and the bidi embeddings, overrides and
# isolates U+202A-U+202E and U+2066-U+2069, which reorder how the rest of a line reads.
_BIDI = "\u202a-\u202e\u2066-\u2069"
_UNSAFE = re.compile(f"[\x00-\x08\x0a-\x1f\x7f-\x9f{_BIDI}]")
_UNSAFE_BUT_NEWLINE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI}]")
# json.dumps escapes C0 itself (ESC as \u001b), even with ensure_ascii=False; not these.
_UNSAFE_IN_JSON = re.compile(f"[\x7f-\x9f{_BIDI}]")
_NAMED = {"\n": "\\n", "\r": "\\r"}


def _escape(match):
    char = match.group()
    named = _NAMED.get(char)
    if named:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text, newlines=True):
    """``text`` with control characters written as escapes; tab kept, and newline unless
    ``newlines`` is false (a line with a prefix of its own, such as a journal entry or an
    error message, must stay one line)."""
    return (_UNSAFE_BUT_NEWLINE if newlines else _UNSAFE).sub(_escape, text)


def printable_json(text):
    """A JSON text with the characters ``json.dumps(ensure_ascii=False)`` leaves raw (DEL, C1,
    bidi) written as ``\\uXXXX``: the same JSON value, safe on a terminal."""
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
