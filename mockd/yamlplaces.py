"""Where a config path is in a YAML text: ``websocket.matchers[1].match`` -> line 7, column 11.

Validation errors name a place by path (``websocket.path``); an editor (the dashboard's) shows
them at their line. The text is composed again with :class:`~mockd.yamlload.CoreLoader` (its
budgets hold) and the path walked through the node tree; a path that goes past what the text
has (a key that is missing) ends at the deepest node it reached: the mapping the key belongs in.
"""
import re

import yaml

from .yamlload import CoreLoader

__all__ = ["places_of"]

_STEP = re.compile(r"\[(\d+)\]|\.?([^.\[\]]+)")


def places_of(text, wheres):
    """``{where: (line, column)}``, 1-based, of the nodes at the paths ``wheres`` in ``text``,
    composed once (a body with twenty errors is parsed once, not twenty times); empty when the
    text does not parse."""
    loader = CoreLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.YAMLError:
        return {}
    finally:
        loader.dispose()
    if root is None:
        return {}
    return {where: _walk(root, where) for where in wheres if where}


def _walk(node, where):
    for index, key in _STEP.findall(where):
        found = None
        if key and isinstance(node, yaml.MappingNode):
            found = next((value for name, value in node.value
                          if isinstance(name, yaml.ScalarNode) and name.value == key), None)
        elif index and isinstance(node, yaml.SequenceNode) and int(index) < len(node.value):
            found = node.value[int(index)]
        if found is None:
            break
        node = found
    return node.start_mark.line + 1, node.start_mark.column + 1
