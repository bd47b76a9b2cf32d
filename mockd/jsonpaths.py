"""The ``path`` of a ``json`` matcher: upstream's dotted key walk, or real JSONPath.

``$.a.b``, ``a.b`` and ``$.`` are walked over object keys, as upstream does (behaviour.md
§5.3). Anything else (brackets, wildcards, filters, the recursive descent ``..``) is compiled
once with jsonpath-ng and checked at load, so that evaluating it against a client's document
on the event loop can neither recurse too deep nor run a regex without mockd's time budget.
"""
import re

from .errors import ConfigError
from .schema import excerpt

__all__ = ["JsonPath", "MAX_JSONPATH_DEPTH"]

#: Levels of a compiled JSONPath's syntax tree (``$.a.b[0]`` has four). jsonpath-ng recurses
#: through the tree for every message, a few frames a level; real paths have a handful.
MAX_JSONPATH_DEPTH = 64

# Only a plain walk over object keys takes the fast path (a ".." anywhere is recursive descent).
_DOTTED = re.compile(r"^[^\[\]*?@()]*$")


class JsonPath:
    """A compiled ``path``: ``values(document)`` yields what it finds."""

    __slots__ = ("text", "keys", "expr")

    def __init__(self, text, where):
        self.text = text
        self.expr = None
        if _DOTTED.match(text) and ".." not in text:
            stripped = text[2:] if text.startswith("$.") else ("" if text == "$" else text)
            self.keys = tuple(part for part in stripped.split(".") if part)
        else:
            self.keys = None
            self.expr = _compile(text, where)

    def values(self, document):
        """Yield the values found in ``document``."""
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
            try:
                found = self.expr.find(document)
            except Exception:  # noqa: BLE001 - e.g. `sorted` over mixed types: the client's data, no match
                return
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


def _refused(expr):
    """Why a parsed path cannot be evaluated safely per message, or ``None``."""
    from jsonpath_ng import JSONPath, jsonpath
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
        for value in getattr(node, "__dict__", {}).values():
            if isinstance(value, JSONPath):
                stack.append((value, depth + 1))
            elif isinstance(value, (list, tuple)):
                stack.extend((item, depth + 1) for item in value if isinstance(item, JSONPath))
    return None
