"""The ``path`` of a ``json`` matcher: upstream's dotted key walk, or real JSONPath.

``$.a.b``, ``a.b`` and ``$.`` are walked over object keys, as upstream does (README.rst,
"Matchers"). Anything else (brackets, wildcards, filters, the recursive descent ``..``) is compiled
once with jsonpath-ng and checked at load, so that evaluating it against a client's document
on the event loop can neither recurse too deep nor run a regex without mockd's time budget.

Evaluating it is metered: recursive descent multiplies (``$..items..id`` walks the subtree of
every ``items`` again; ``$..*..*..*`` on 380 bytes made billions of steps), so no rule about the
path's text can bound its cost on a client's document. Every node of the compiled tree charges
one unit per call and one per value it returns; an evaluation gets :data:`MAX_JSONPATH_NODES`
units, and also stops when the time its message's matchers share runs out. Either way it is
:class:`PathTooCostly`, which the ``json`` matcher treats as no match.
"""
import re

from .errors import ConfigError
from .schema import excerpt

__all__ = ["JsonPath", "MAX_JSONPATH_DEPTH", "MAX_JSONPATH_NODES", "PathTooCostly"]

#: Levels of a compiled JSONPath's syntax tree (``$.a.b[0]`` has four). jsonpath-ng recurses
#: through the tree for every message, a few frames a level; real paths have a handful.
MAX_JSONPATH_DEPTH = 64
#: Units (nodes visited plus values returned, per node of the path) one evaluation may use.
#: jsonpath-ng takes 2-3 us a unit, so this is about the 50 ms a message's matchers share;
#: ``$..id`` over a 100 KB document of 10,000 values takes about half of it.
MAX_JSONPATH_NODES = 20_000
_CHECK_EVERY = 1_000  # units between two looks at the clock (a few ms)

# Only a plain walk over object keys takes the fast path (a ".." anywhere is recursive descent).
_DOTTED = re.compile(r"^[^\[\]*?@()]*$")


class PathTooCostly(Exception):
    """An evaluation used up its units, or its message's time (the text says which)."""


class _Meter:
    """What one evaluation of a path may still use; charged by every node of the tree."""

    __slots__ = ("left", "check_at", "budget")

    def __init__(self):
        self.left = self.check_at = 0
        self.budget = None

    def start(self, budget):
        self.left = MAX_JSONPATH_NODES
        self.check_at = MAX_JSONPATH_NODES - _CHECK_EVERY
        self.budget = budget

    def check(self):
        """Called by the nodes once ``left`` fell below ``check_at``."""
        if self.left < 0:
            raise PathTooCostly(f"it needed more than {MAX_JSONPATH_NODES} steps")
        self.check_at = self.left - _CHECK_EVERY
        if self.budget is not None and self.budget.remaining() <= 0:
            raise PathTooCostly(f"the time ran out after {MAX_JSONPATH_NODES - self.left} steps")


class JsonPath:
    """A compiled ``path``: ``values(document)`` yields what it finds."""

    __slots__ = ("text", "keys", "expr", "_meter")

    def __init__(self, text, where):
        self.text = text
        self.expr = None
        if _DOTTED.match(text) and ".." not in text:
            stripped = text[2:] if text.startswith("$.") else ("" if text == "$" else text)
            self.keys = tuple(part for part in stripped.split(".") if part)
        else:
            self.keys = None
            self.expr = _compile(text, where)
            self._meter = _Meter()
            _install_meter(self.expr, self._meter)

    def values(self, document, budget=None):
        """Yield the values found in ``document``. A real JSONPath raises
        :class:`PathTooCostly` when it runs out of units, or of ``budget``'s time (an object
        with ``remaining()`` seconds: the one its message's matchers share)."""
        if self.keys is not None:
            if not isinstance(document, dict):
                return
            node = document
            for key in self.keys:
                if not isinstance(node, dict) or key not in node:
                    return
                node = node[key]
            yield node
        else:
            meter = self._meter
            meter.start(budget)
            try:
                found = self.expr.find(document)
            except PathTooCostly:
                raise
            except Exception:  # noqa: BLE001 - e.g. `sorted` over mixed types: the client's data, no match
                return
            finally:
                meter.budget = None
            for datum in found:
                yield datum.value

    def __eq__(self, other):
        return isinstance(other, JsonPath) and other.text == self.text

    def __hash__(self):
        return hash((JsonPath, self.text))


def _compile(text, where):
    from jsonpath_ng.ext import parse  # only paid by configs that use real JSONPath

    try:
        expr = parse(text)
    except RecursionError:
        raise ConfigError(f"JSONPath {excerpt(text)} is nested too deeply to compile", where=where) from None
    except Exception as exc:  # jsonpath-ng raises several unrelated types
        raise ConfigError(f"invalid JSONPath {excerpt(text)}: {str(exc)[:200]}", where=where) from None
    problem = _refused(expr)
    if problem:
        raise ConfigError(f"JSONPath {excerpt(text)}: {problem}", where=where)
    return expr


def _children(node):
    """The path nodes right below ``node``: in attributes, lists of them, and lists of tuples
    (``sorted``'s ``(path, reverse)`` pairs)."""
    from jsonpath_ng import JSONPath

    found = []
    pending = list(getattr(node, "__dict__", {}).values())
    while pending:
        value = pending.pop()
        if isinstance(value, JSONPath):
            found.append(value)
        elif isinstance(value, (list, tuple)):
            pending.extend(value)
    return found


def _refused(expr):
    """Why a parsed path cannot be evaluated safely per message, or ``None``."""
    from jsonpath_ng import jsonpath
    from jsonpath_ng.ext.filter import Expression
    from jsonpath_ng.ext.string import Sub

    intersect = getattr(jsonpath, "_Intersect", ())
    stack = [(expr, 1)]
    while stack:  # iterative: the tree may be too deep for anything recursive
        node, depth = stack.pop()
        if depth > MAX_JSONPATH_DEPTH:
            return f"nested too deeply (more than {MAX_JSONPATH_DEPTH} levels)"
        if isinstance(node, Sub) or (isinstance(node, Expression) and node.op == "=~"):
            return ("a regex inside a JSONPath (=~, sub) would run without the regex time budget; "
                    "use a 'regex' matcher")
        if intersect and isinstance(node, intersect):
            return "'&' (intersection) is not implemented by jsonpath-ng"
        stack.extend((child, depth + 1) for child in _children(node))
    return None


def _install_meter(expr, meter):
    """Make every node of the tree charge ``meter`` when it is evaluated.

    jsonpath-ng's nodes call each other's ``find`` as attributes, so a ``find`` set on the
    instance (the tree is this path's own: ``parse`` shares no nodes between calls) is what
    they call. A filter walks all of its own expressions on every call (looking for ``$``),
    so it charges its size per call as well. A recursive descent is walked by
    :func:`_descend` instead of jsonpath-ng's loop, which makes all the children of a node
    before visiting the first (25,000 at once for one array of a 52 KB message, again for
    every ``items`` of ``$..items..id``).
    """
    from jsonpath_ng.ext.filter import Filter
    from jsonpath_ng.jsonpath import Descendants

    nodes = []
    stack = [expr]
    seen = set()
    while stack:
        node = stack.pop()
        if id(node) not in seen:
            seen.add(id(node))
            nodes.append(node)
            stack.extend(_children(node))
    for node in nodes:
        find = _descend(node) if isinstance(node, Descendants) else node.find
        node.find = _metered(find, meter, _size(node) if isinstance(node, Filter) else 1)


def _descend(node):
    """``node.find`` of a ``left..right`` node, as jsonpath-ng's: depth first, in document order,
    ``right`` tried on every node below (and at) each match of ``left``. The children of a node
    are made one at a time, as the walk reaches them, so each costs its step when it is made."""
    from jsonpath_ng.jsonpath import DatumInContext, Fields, Index

    field_path = Fields._compliant_constructor
    end = object()

    def find(datum):
        right_find = node.right.find  # read here: the metered one
        matches = []
        stack = [iter(node.left.find(datum))]
        while stack:
            child = next(stack[-1], end)
            if child is end:
                stack.pop()
                continue
            matches.extend(right_find(child))
            value = child.value
            if isinstance(value, list):
                stack.append(DatumInContext(item, context=child, path=Index(i)) for i, item in enumerate(value))
            elif isinstance(value, dict):
                stack.append(DatumInContext(item, context=child, path=field_path(key)) for key, item in value.items())
        return matches

    return find


def _size(node):
    count, stack = 0, [node]
    while stack:
        count += 1
        stack.extend(_children(stack.pop()))
    return count


def _metered(find, meter, units):
    def metered_find(datum):
        meter.left -= units
        if meter.left < meter.check_at:
            meter.check()
        found = find(datum)
        meter.left -= len(found)  # checked by the next call; the last one's values exist already
        return found

    return metered_find
