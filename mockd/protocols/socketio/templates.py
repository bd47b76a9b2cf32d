"""The template context of Socket.IO rules: ``{{args.0}}``, ``{{args.1.field}}``, ``{{event}}``,
``{{namespace}}``, ``{{sid}}``.

They are template roots this pack declares (``compile_template(..., roots=CONTEXT_NAMES)``),
read from the render context's variables, where the protocol puts them (so ``{{vars.args.0}}``
reads the same value); the templates are compiled once, at load.

A string that is exactly one ``{{args...}}`` reference passes the value through as it is (an
object stays an object, bytes stay a binary attachment) rather than as its text.
"""
import re

from ...errors import ConfigError
from ...templating import compile_template

__all__ = ["CONTEXT_NAMES", "template_names", "compile_text", "compile_tree", "variables"]

#: The names the templates of a Socket.IO rule read, beside mockd's own.
CONTEXT_NAMES = ("args", "event", "namespace", "sid")
_PASSTHROUGH = re.compile(r"\{\{\s*(args(?:\.[\w$\-]+)*)\s*\}\}\Z", re.IGNORECASE)


def _keys(rest):
    return tuple((key, int(key) if key.isdigit() else None) for key in rest.split(".")) if rest else ()


def _walk(value, keys):
    for key, index in keys:
        if isinstance(value, dict):
            value = value.get(key)
        elif isinstance(value, (list, tuple)) and index is not None and index < len(value):
            value = value[index]
        else:
            return None
    return value


def template_names(functions):
    """What templates are compiled against: the registry's ``functions``, with
    :data:`CONTEXT_NAMES` as template roots (``compile_template(..., roots=...)``)."""
    return functions


def variables(args, event, namespace, sid):
    """The render context's ``variables`` of one event."""
    return {"args": args, "event": event, "namespace": namespace, "sid": sid}


def compile_text(text, names, where):
    """A template (``emit``, ``join``, a room): ``render(ctx) -> str``."""
    return compile_template(text, names, where, CONTEXT_NAMES)


def compile_tree(value, names, where):
    """A YAML value whose strings are templates: ``render(ctx)`` returns the tree to send."""
    renderer = _node(value, names, where)
    return _Tree(value if renderer is None else None, renderer)


class _Tree:
    __slots__ = ("value", "_renderer")

    def __init__(self, value, renderer):
        self.value, self._renderer = value, renderer

    def render(self, ctx):
        return self.value if self._renderer is None else self._renderer(ctx)


def _node(value, names, where):
    """``renderer(ctx)`` for a subtree holding templates, None for a constant one."""
    if isinstance(value, str):
        whole = _PASSTHROUGH.match(value)
        if whole is not None:
            keys = _keys(whole.group(1).partition(".")[2])
            return lambda ctx: _walk((ctx.variables or {}).get("args"), keys)
        template = compile_template(value, names, where, CONTEXT_NAMES)
        return None if template.is_static else template.render
    if value is None or isinstance(value, (bool, int, float)):
        return None
    if isinstance(value, dict):
        children = [(key, _node(item, names, f"{where}.{key}")) for key, item in value.items()]
        dynamic = [(key, renderer) for key, renderer in children if renderer is not None]
        if not dynamic:
            return None

        def render_mapping(ctx):
            out = dict(value)
            for key, renderer in dynamic:
                out[key] = renderer(ctx)
            return out
        return render_mapping
    if isinstance(value, list):
        renderers = [_node(item, names, f"{where}[{index}]") for index, item in enumerate(value)]
        if all(renderer is None for renderer in renderers):
            return None
        return lambda ctx: [item if renderer is None else renderer(ctx) for item, renderer in zip(value, renderers)]
    raise ConfigError(f"a Socket.IO argument cannot hold {type(value).__name__} {value!r}; quote it in YAML to "
                      "make it a string", where=where)
