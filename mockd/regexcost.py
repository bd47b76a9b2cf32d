"""What searching with a regex pattern may cost, read from the pattern's text at load.

Two costs of the ``regex`` package are known from the text alone:

- **Backtracking**, which the search's ``timeout`` stops: :func:`unbudgeted_below` says how
  long a message may be before a search of the pattern could overrun the budget, so that the
  common short patterns skip the budget's clock (two system calls a search).
- **The fast-search tables of a literal**, which no timeout stops. The first time the package
  searches a text for a literal of five or more characters (the pattern's required string, or
  the literal after a ``.*``), it builds Boyer-Moore tables for it in C, holding the GIL, in
  time cubic in the literal's length when the literal repeats itself (``build_fast_tables`` in
  ``_regex.c``): 999 x's and a ``$`` held the whole server 0.28 s on its first long message,
  4,000 x's 17.6 s, and a 10,000-character literal would hold it for minutes. That cannot be
  wrapped (the timeout starts after the tables, and a thread does not help: the GIL is held),
  so :func:`longest_literal_run` finds long literals at load, where they are refused.
"""
import re
import sys

#: Characters of one literal in a pattern: 256 x's cost 6 ms at their first search, on a
#: laptop core. Longer literal text belongs in an exact, contains, prefix or suffix matcher.
MAX_LITERAL_RUN = 256

_FREE_STEPS = 10_000_000  # backtracking steps: about the budget at worst
# Longer patterns are always budgeted: a simplification of the count below, on the safe side.
_SHORT_PATTERN = 256
_QUANTIFIER = re.compile(r"[*+?]|\{[\d,]")
_MAY_NEST = re.compile(r"[(|]|\{(?![\d,])")  # groups, alternation, regex's {e<=1} and \p{..}

# What ends a literal: alternation, a class, a wildcard, an anchor or a quantifier (which takes
# the last character out of the literal; a { that starts no quantifier is a literal). Parentheses
# do not: the package joins the literals of (?:abc)(?:def) into one, so a group is read through.
_ENDS_A_LITERAL = frozenset("|[.^$*+?")
# One character spelt by its code: \x41 \u0041 \U00000041 \N{LATIN SMALL LETTER A}.
_CHARACTER_CODE = re.compile(r"\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|N\{[^}]*\})")
_COUNTED_REPEAT = re.compile(r"\{(?:\d+(?:,\d*)?|,\d*)\}")  # {} and { 2} are literals


def unbudgeted_below(pattern):
    """The message length below which a search of ``pattern`` cannot overrun the budget.

    Without groups or alternation no repeat contains another (``(a+)+``, ``(a|a)+`` are the
    exponential cases): each of ``k`` repeats of one character or class takes one of ``n + 1``
    lengths, so a search tries at most ``n`` starts, ``(n + 1) ** k`` paths, ``n + m`` steps
    each. Anything the scan cannot rule out (escaped or bracketed ``*``, ``(``) counts against.
    """
    if len(pattern) > _SHORT_PATTERN or _MAY_NEST.search(pattern):
        return 0
    repeats = len(_QUANTIFIER.findall(pattern))
    if not repeats:
        return sys.maxsize  # linear: at most the pattern's length at each position
    n = 0
    while (n + 1) * (n + 2) ** repeats * (n + 1 + len(pattern)) <= _FREE_STEPS:
        n += 1
    return n


def longest_literal_run(pattern):
    """``(length, start)`` of the longest stretch of ``pattern`` that may be one literal.

    Counted generously, so that nothing longer slips through: an escape counts as a character
    even where it is a class (``\\d``), a code (``\\x41``, ``\\u00e9``) as one, an octal one as more,
    spaces and comments count in verbose mode, and parentheses are read through. A bracketed
    class, ``|``, ``.``, ``^``, ``$`` and quantifiers end a run.
    """
    longest = (0, 0)
    run = start = 0
    i = 0
    while i < len(pattern):
        char = pattern[i]
        repeat = _COUNTED_REPEAT.match(pattern, i) if char == "{" else None
        if char in _ENDS_A_LITERAL or repeat:
            run = 0
            i = _class_end(pattern, i) if char == "[" else repeat.end() if repeat else i + 1
            continue
        if char == "(" and pattern.startswith("?", i + 1):
            i += 2  # (?: (?i) (?P<name> and the like: what follows the ? counts, generously
            continue
        if char not in "()":
            if run == 0:
                start = i
            run += 1
            longest = max(longest, (run, -start))
        code = _CHARACTER_CODE.match(pattern, i) if char == "\\" else None
        i = code.end() if code else i + 2 if char == "\\" else i + 1
    return longest[0], -longest[1]


def _class_end(pattern, i):
    """The index after the bracketed class that starts at ``pattern[i]`` ("[")."""
    i += 1
    if i < len(pattern) and pattern[i] == "^":
        i += 1
    if i < len(pattern) and pattern[i] == "]":  # a ] first is a member
        i += 1
    while i < len(pattern) and pattern[i] != "]":
        i += 2 if pattern[i] == "\\" else 1
    return i + 1
