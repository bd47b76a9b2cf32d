"""What searching with a regex pattern may cost, found at load.

Two costs of the ``regex`` package can be known before any message comes:

- **Backtracking**, which the search's ``timeout`` stops: :func:`unbudgeted_below` says how
  long a message may be before a search of the pattern could overrun the budget, so that the
  common short patterns skip the budget's clock (two system calls a search).
- **The fast-search tables of a literal**, which no timeout stops. The first time the package
  searches a text for a literal of five or more characters (the pattern's required string, or
  the literal after a ``.*?``), it builds Boyer-Moore tables for it in C, holding the GIL, in
  time cubic in the literal's length when the literal repeats itself (``build_fast_tables`` in
  ``_regex.c``): 999 x's and a ``$`` held the whole server 0.28 s on its first long message,
  4,000 x's 17.6 s, and a 10,000-character literal would hold it for minutes; 38 literals of
  256 x's after ``.*?`` each, 0.19 s. That cannot be wrapped (the timeout starts after the
  tables, and a thread does not help: the GIL is held), so :func:`literal_cost` weighs the
  literals at load, where a pattern that would cost too much is refused.

The literals are those the package itself makes: its parser joins ``(?:ab)(?:cd)``, drops
comments and ``x{1}``, turns ``[x]`` into ``x``, so reading the pattern's text would miss them.
"""
import logging
import re
import sys
from typing import NamedTuple

import regex
from regex import _regex_core  # the package's own parser: see literal_cost

log = logging.getLogger("mockd.matching")

#: The most a pattern's literals may weigh, as one literal of this many characters (or bytes,
#: for binary messages): 256 x's cost 5 ms at their first search, on a laptop core. Longer
#: literal text belongs in an exact, contains, prefix or suffix matcher.
MAX_LITERAL_WEIGHT = 256

_MOST_FOLDED = 3  # characters a character folds to: (?fi) searches "ß" as "ss", "ΐ" as three
_FREE_STEPS = 10_000_000  # backtracking steps: about the budget at worst
# Longer patterns are always budgeted: a simplification of the count below, on the safe side.
_SHORT_PATTERN = 256
_QUANTIFIER = re.compile(r"[*+?]|\{[\d,]")
_MAY_NEST = re.compile(r"[(|]|\{(?![\d,])")  # groups, alternation, regex's {e<=1} and \p{..}


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


class LiteralCost(NamedTuple):
    """The literals of a compiled pattern: ``weight`` is the length of the one literal that
    would cost as much to prepare as all of them (the cube root of the sum of their cubes),
    ``longest`` the longest one's length and ``text`` its text; ``unit`` "characters", or
    "bytes" for the UTF-8 form binary messages are searched with."""
    weight: int
    longest: int
    text: str
    unit: str


def literal_cost(pattern):
    """The :class:`LiteralCost` of ``pattern`` (a str that compiles with ``regex.V0``): the
    heavier of its text form and its UTF-8 bytes form, where a character may be four bytes.
    None if the pattern is too short to matter, or if this version of the package parses in a
    way not foreseen here (logged once). A pattern nested too deeply raises RecursionError: it
    is parsed again a few calls deeper than it was compiled, and must be refused, not let by."""
    encoded = pattern.encode("utf-8")
    if len(encoded) * _MOST_FOLDED <= MAX_LITERAL_WEIGHT:
        return None  # its literals together are shorter than the limit: no need to parse it again
    try:
        costs = [_cost(pattern, "characters"), _cost(encoded, "bytes")]
    except RecursionError:
        raise
    except Exception:  # a private API: an upgrade of the package must not make configs fail
        if not _unforeseen:
            _unforeseen.append(True)
            log.warning("regex %s parses patterns in a way mockd does not know: the cost of long literals in "
                        "regex matchers is not checked", getattr(regex, "__version__", "?"), exc_info=True)
        return None
    return max(costs, key=lambda cost: cost.weight)


_unforeseen = []
# A case-insensitive literal compares each character in all its cases: 2.3 times the time.
_IGNORING_CASE = 2.5


def _cost(pattern, unit):
    total, longest = 0, ()
    for characters, ignoring_case in _literals(pattern):
        total += len(characters) ** 3 * (_IGNORING_CASE if ignoring_case else 1)
        longest = max(longest, characters, key=len)
    text = "".join(map(chr, longest)) if unit == "characters" else bytes(longest).decode("utf-8", "replace")
    return LiteralCost(round(total ** (1 / 3)), len(longest), text, unit)


def _literals(pattern):
    """``(characters, ignoring case)`` of each literal the C code gets for ``pattern``: those in
    the code ``regex.compile`` makes (each copy a group call needs counts: each has its own
    tables), and the required string it is given apart, unless it is one of them (a literal and
    the required string it is both prepare tables once, unless the literal also follows a
    repeat: counted once, it is then under-weighed by at most a cube root of two). The steps of
    ``regex._main._compile``."""
    core, op = _regex_core, _regex_core.OP
    flags = regex.V0
    while True:  # a flag such as (?x) met inside the pattern starts the parse again
        source = core.Source(pattern)
        info = core.Info(flags, source.char_type, {})
        info.guess_encoding = core.UNICODE if isinstance(pattern, str) else core.ASCII
        source.ignore_space = bool(info.flags & regex.VERBOSE)
        source.use_unicode_space(bool(info.flags & regex.VERSION1))
        try:
            parsed = core._parse_pattern(source, info)
            break
        except core._UnscopedFlagSet:
            flags = info.global_flags
    if not info.flags & (regex.ASCII | regex.LOCALE | regex.UNICODE):
        info.flags |= regex.UNICODE if isinstance(pattern, str) else regex.ASCII
    reverse = bool(info.flags & regex.REVERSE)
    parsed.fix_groups(pattern, reverse, False)
    parsed = parsed.optimise(info, reverse).pack_characters(info)
    _offset, required, required_flags = core._get_required_string(parsed, info.flags)
    core._check_group_features(info, parsed)
    code = parsed.compile(reverse)
    for group, group_reverse, fuzzy in info.additional_groups:
        code += group.compile(group_reverse, fuzzy)
    strings = {op.STRING: False, op.STRING_REV: False, op.STRING_IGN: True, op.STRING_IGN_REV: True,
               op.STRING_FLD: True, op.STRING_FLD_REV: True}
    sets = {getattr(op, name) for name in dir(op) if name.startswith("SET_")}
    in_set = 0  # a STRING inside a set lists its members: no literal
    for instruction in code:
        if instruction[0] in sets:
            in_set += 1
        elif in_set and instruction[0] == op.END:
            in_set -= 1
        elif not in_set and instruction[0] in strings:
            yield instruction[3:], strings[instruction[0]]
            required = () if tuple(required) == instruction[3:] else required
    if required:  # its own node and tables, when it is no literal of the code (it usually is one)
        yield tuple(required), bool(required_flags & regex.IGNORECASE)
