"""A YAML loader with the YAML 1.2 core schema, as upstream mockd's Go decoder reads files.

PyYAML follows YAML 1.1, where ``yes``/``on`` are booleans and ``1:30`` is the integer 90.
Users write configs for the Go tool, whose decoder keeps ``yes`` a string and stores the
literal text of a scalar in string fields (``value: 42`` compares as ``"42"``, ``1.50`` as
``"1.50"``). So numbers keep their literal text in :class:`LiteralInt` / :class:`LiteralFloat`
(plain ``int``/``float`` subclasses, JSON-serialisable) and duplicate mapping keys are an
error instead of a silent overwrite.

Aliases are counted while the document is composed: PyYAML shares an aliased node instead of
copying it, so a 1 KB "billion laughs" file loads at once and explodes later, in whatever walks
the tree (validation, template compiling, JSON rendering). :class:`CoreLoader` refuses, with
the alias's line and column, a document whose aliases would add more than
:data:`MAX_ALIAS_NODES` nodes, an alias inside its own anchor, and nesting deeper than
:data:`mockd.depth.MAX_NESTING` (PyYAML composes recursively, so a deeper file would end in
RecursionError).
"""
import re

import yaml
from yaml.events import AliasEvent, ScalarEvent

from .depth import MAX_NESTING

#: Nodes that aliases may add to a document once expanded. A mock config aliases a shared
#: matcher list or response into a few hundred mocks (thousands of nodes); 100,000 is far above
#: that, yet walking 100,000 nodes takes well under a second, where a nine-level bomb is 10**9.
#: A document without aliases is never refused: its size is the file's own.
MAX_ALIAS_NODES = 100_000
#: Characters of scalar text that aliases may add: one long string behind many aliases is a
#: small node count but a huge document (a 5 KB file once rendered 600 MB of JSON). Four million
#: characters is a 4 KB response aliased into a thousand mocks.
MAX_ALIAS_CHARS = 4_000_000


class LiteralInt(int):
    literal = None


class LiteralFloat(float):
    literal = None


class DuplicateKeyError(yaml.MarkedYAMLError):
    """A key written twice in one mapping; ``first_mark`` is where it was written first."""

    def __init__(self, key, first_mark, mark):
        super().__init__("while constructing a mapping", None, f"found duplicate key {key!r}", mark)
        self.first_mark = first_mark


class BudgetError(yaml.MarkedYAMLError):
    """Too many nodes behind aliases, a recursive alias, or too deep a nesting."""


class CoreLoader(yaml.SafeLoader):
    """SafeLoader with the YAML 1.2 core schema's implicit types and the alias and depth
    budgets of this module."""

    def __init__(self, stream):
        super().__init__(stream)
        self._composed = 0    # nodes composed so far, each alias counted as its expansion
        self._by_aliases = 0  # of which aliases added
        self._chars = 0       # scalar characters composed so far, aliases expanded
        self._chars_by_aliases = 0
        self._sizes = {}      # anchor -> (expanded node count, scalar characters) of the anchored node
        self._open = set()    # anchors whose node is still being composed
        self._depth = 0

    def fetch_flow_collection_start(self, TokenClass):
        # For each "[" or "{" the scanner looks up to 1,024 characters ahead (it could start a
        # key) at a cost that grows with the nesting: a flow bomb is refused here, at once.
        if self.flow_level >= MAX_NESTING:
            raise _too_deep(self.get_mark())
        super().fetch_flow_collection_start(TokenClass)

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, AliasEvent):
            self._count_alias(event)
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > MAX_NESTING:
            raise _too_deep(event.start_mark)
        anchor, start, start_chars = event.anchor, self._composed, self._chars
        self._composed += 1
        if isinstance(event, ScalarEvent):
            self._chars += len(event.value)
        if anchor is not None:
            self._open.add(anchor)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
            self._open.discard(anchor)
        if anchor is not None:
            self._sizes[anchor] = (self._composed - start, self._chars - start_chars)
        return node

    def _count_alias(self, event):
        anchor = event.anchor
        if anchor in self._open:
            raise BudgetError(
                None, None, f"recursive YAML alias *{anchor} (used inside its own anchor &{anchor})",
                event.start_mark, "a config is a tree: copy the value instead of referring to itself")
        size, chars = self._sizes.get(anchor, (0, 0))  # (0, 0): undefined; PyYAML says so with the location
        self._composed += size
        self._by_aliases += size
        self._chars += chars
        self._chars_by_aliases += chars
        if self._by_aliases > MAX_ALIAS_NODES:
            raise _over_budget(event, f"{MAX_ALIAS_NODES} nodes", f"{size}",
                               "aliases that nest aliases multiply (a 'billion laughs' file); "
                               "write the repeated values out or alias fewer levels")
        if self._chars_by_aliases > MAX_ALIAS_CHARS:
            raise _over_budget(event, f"{MAX_ALIAS_CHARS:,} characters of text", f"{chars:,}",
                               "a long value repeated through many aliases makes a huge config; "
                               "alias it fewer times or shorten it")


def _over_budget(event, budget, stands_for, fix):
    return BudgetError(None, None, f"YAML aliases expand to more than {budget} "
                       f"(this alias *{event.anchor} stands for {stands_for})", event.start_mark, fix)


def _too_deep(mark):
    return BudgetError(None, None, f"YAML nesting deeper than {MAX_NESTING} levels", mark,
                       "flatten the structure (a real config is rarely 20 levels deep)")


CoreLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers
          if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float")]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
CoreLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
CoreLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
    list("-+0123456789"))
CoreLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
               r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+0123456789."))


def _construct_int(loader, node):
    text = loader.construct_scalar(node)
    if text.startswith("0o"):
        value = int(text[2:], 8)
    elif text.startswith("0x"):
        value = int(text[2:], 16)
    else:
        value = int(text)
    return _literal(LiteralInt, value, text)


def _construct_float(loader, node):
    text = loader.construct_scalar(node)
    lowered = text.lower()
    if lowered.endswith("inf") or lowered.endswith("nan"):
        value = float(lowered.replace(".", ""))
    else:
        value = float(text)
    return _literal(LiteralFloat, value, text)


def _literal(cls, value, text):
    """``value`` as ``cls`` (an int or float subclass) that remembers how it was written."""
    result = cls(value)
    result.literal = text
    return result


def _construct_bool(loader, node):
    return loader.construct_scalar(node).lower() == "true"


def _construct_mapping(loader, node, deep=False):
    loader.flatten_mapping(node)
    mapping, marks = {}, {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, str):
            key = str(getattr(key, "literal", None) or key)
        if key in mapping:
            raise DuplicateKeyError(key, marks[key], key_node.start_mark)
        marks[key] = key_node.start_mark
        mapping[key] = loader.construct_object(value_node, deep=deep)
    return mapping


CoreLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
CoreLoader.add_constructor("tag:yaml.org,2002:float", _construct_float)
CoreLoader.add_constructor("tag:yaml.org,2002:bool", _construct_bool)
CoreLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)


def load_yaml(text, name=None):
    """Parse one YAML document with :class:`CoreLoader`; errors' marks name ``name`` (the file)
    instead of PyYAML's ``"<unicode string>"``."""
    loader = CoreLoader(text)
    if name is not None:
        loader.name = name
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


class _Dumper(yaml.SafeDumper):
    """SafeDumper that writes the loader's numbers (:class:`LiteralInt`, :class:`LiteralFloat`)
    as they were written: SafeDumper refuses subclasses of int and float."""


def _represent_literal(dumper, value):
    tag = "tag:yaml.org,2002:int" if isinstance(value, int) else "tag:yaml.org,2002:float"
    base = int(value) if isinstance(value, int) else float(value)
    text = value.literal if value.literal is not None else dumper.represent_data(base).value
    return dumper.represent_scalar(tag, text)


_Dumper.add_representer(LiteralInt, _represent_literal)
_Dumper.add_representer(LiteralFloat, _represent_literal)


def dump_yaml(value):
    """``value`` (a mock, as loaded from a file or the API) as block YAML, keys in their order."""
    return yaml.dump(value, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False)


def scalar_text(value):
    """The literal text of a YAML scalar as the Go decoder would store it in a string field."""
    if isinstance(value, bool):
        return "true" if value else "false"
    literal = getattr(value, "literal", None)
    if literal is not None:
        return literal
    if isinstance(value, float) and value.is_integer():
        return repr(value)
    return str(value)
