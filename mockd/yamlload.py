"""A YAML loader with the YAML 1.2 core schema, as upstream mockd's Go decoder reads files.

PyYAML follows YAML 1.1, where ``yes``/``on`` are booleans and ``1:30`` is the integer 90.
Users write configs for the Go tool, whose decoder keeps ``yes`` a string and stores the
literal text of a scalar in string fields (``value: 42`` compares as ``"42"``, ``1.50`` as
``"1.50"``). So numbers keep their literal text in :class:`LiteralInt` / :class:`LiteralFloat`
(plain ``int``/``float`` subclasses, JSON-serialisable) and duplicate mapping keys are an
error instead of a silent overwrite.
"""
import re

import yaml


class LiteralInt(int):
    literal = None


class LiteralFloat(float):
    literal = None


class DuplicateKeyError(yaml.MarkedYAMLError):
    pass


class CoreLoader(yaml.SafeLoader):
    """SafeLoader with the YAML 1.2 core schema's implicit types."""


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
    result = LiteralInt(value)
    result.literal = text
    return result


def _construct_float(loader, node):
    text = loader.construct_scalar(node)
    lowered = text.lower()
    if lowered.endswith("inf") or lowered.endswith("nan"):
        value = float(lowered.replace(".", ""))
    else:
        value = float(text)
    result = LiteralFloat(value)
    result.literal = text
    return result


def _construct_bool(loader, node):
    return loader.construct_scalar(node).lower() == "true"


def _construct_mapping(loader, node, deep=False):
    loader.flatten_mapping(node)
    mapping = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, str):
            key = str(getattr(key, "literal", None) or key)
        if key in mapping:
            raise DuplicateKeyError(
                "while constructing a mapping", node.start_mark,
                f"found duplicate key {key!r}", key_node.start_mark)
        mapping[key] = loader.construct_object(value_node, deep=deep)
    return mapping


CoreLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
CoreLoader.add_constructor("tag:yaml.org,2002:float", _construct_float)
CoreLoader.add_constructor("tag:yaml.org,2002:bool", _construct_bool)
CoreLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)


def load_yaml(text):
    """Parse one YAML document with :class:`CoreLoader`."""
    return yaml.load(text, Loader=CoreLoader)  # noqa: S506 - CoreLoader is a SafeLoader


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
