"""How deeply lists and mappings may nest in a config, a message or an admin API body.

Everything that walks a document recurses a few frames per level: composing and constructing
YAML, validating, compiling templates, jsonpath-ng, the JSON encoder of a reply, plugins; and
CPython's C JSON decoder itself fails at about 1,000 levels. :data:`MAX_NESTING` keeps all of
them well inside Python's default limit of 1,000 frames, while a real config (a JSON response
value included) or message is rarely 20 levels deep.
"""
import gc
import itertools

__all__ = ["MAX_NESTING", "deeper_than"]

MAX_NESTING = 200
_CONTAINERS = frozenset((dict, list))


def deeper_than(document, limit=MAX_NESTING):
    """Whether ``document`` (as ``json.loads`` returns it: dicts, lists and scalars) nests
    more than ``limit`` lists and dicts in each other.

    Iterative, as the document may be too deep for anything recursive, and one C call a level:
    the keys, values and items of a whole level at once, only its containers kept.
    """
    level = [document]
    for _ in range(limit):
        children = gc.get_referents(*level)
        level = list(itertools.compress(children, map(_CONTAINERS.__contains__, map(type, children))))
        if not level:
            return False
    return True
