"""Response templating: the ``{{ expr }}`` grammar of README.rst, "Responses and templates".

A template is parsed once, when the config loads, into literal strings and evaluators whose
function names are already resolved to callables and whose paths are already split, so that
rendering a message costs a few calls and a join. Template functions (built-ins included)
come from ``mockd_register_template_functions()``; :mod:`mockd.templatefuncs`'s hookimpl
registers the built-ins, so they share one namespace with plugin functions. Function names are matched
case-insensitively (``{{NOW}}``, ``{{faker.firstname}}``); JSON field names are not.

A template function that raises is not rendered as ``""``: the exception reaches the
connection, which closes with 1011 and logs the plugin that registered the function
(``mockd.blame``). Built-ins and plugin functions follow that one rule, as every other piece of
plugin code in a message does; the built-ins return ``""`` for bad arguments instead of raising.
"""
from .errors import ConfigError
from .message import config_text
from .templateexpr import parse_expression, split_template
from .templatefuncs import reset_sequences  # noqa: F401 - part of this module's API
from .textrender import to_text

__all__ = ["RenderContext", "Template", "CompiledValue", "compile_template", "compile_value",
           "pass_context", "to_text", "reset_sequences"]


class RenderContext:
    """What a template can see while it renders one response.

    :param message: the :class:`mockd.message.Message` being answered, or ``None``.
    :param path: the endpoint path (``{{request.path}}``).
    :param connection: the connection, or ``None``; ``{{connection.id}}`` reads its ``id``.
    :param variables: a mapping readable as ``{{vars.name}}``, or ``None``.
    :param captures: what the rule's match type captured, readable as ``{{match.NAME}}``
        (``{{match.0}}`` a regex's whole match, ``{{match.value}}`` a json matcher's value), or
        ``None``.
    """

    __slots__ = ("message", "path", "connection", "variables", "captures")

    def __init__(self, message=None, path="", connection=None, variables=None, captures=None):
        self.message = message
        self.path = path
        self.connection = connection
        self.variables = variables
        self.captures = captures


def pass_context(func):
    """Mark a template function that needs the :class:`RenderContext`: it is then called with
    the context first, before the template's arguments (Jinja's ``pass_context``). Use it for
    what arguments cannot carry, such as the raw bytes of a binary message.

    .. versionadded:: 0.1
    """
    func._mockd_pass_context = True
    return func


# ---------------------------------------------------------------- compiled templates

class Template:
    """A parsed template. ``is_static`` is true when the source has no ``{{`` at all."""

    is_static = False

    def __init__(self, source, head="", pairs=()):
        self.source = source
        self._head = head
        self._pairs = pairs  # ((evaluator, literal that follows), ...)

    def render(self, ctx):
        """Return the text for one response. Exceptions of template functions propagate.

        :param ctx: a :class:`RenderContext`.
        """
        out = [self._head]
        for evaluate, literal in self._pairs:
            value = evaluate(ctx)
            out.append(value if value.__class__ is str else to_text(value))
            out.append(literal)
        return "".join(out)

    def __repr__(self):
        return f"{type(self).__name__}({self.source!r})"


class _StaticTemplate(Template):
    is_static = True

    def render(self, ctx):
        return self.source


class _ConstantTemplate(Template):
    # Expressions that are constant in a WebSocket context ({{mtls.cn}}, {{"x"}}) were folded.
    def render(self, ctx):
        return self._head


class _SingleTemplate(Template):
    # Exactly one expression and no literal text, e.g. a JSON leaf "{{uuid}}".
    def render(self, ctx):
        value = self._pairs[0][0](ctx)
        return value if value.__class__ is str else to_text(value)


def compile_template(source, functions, where=None, roots=()):
    """Parse ``source`` once into a :class:`Template`.

    :param source: the template text.
    :param functions: ``Registry.template_functions`` (``{name: callable}``).
    :param where: the config path reported by errors (``mocks[0].websocket...value``).
    :param roots: names a protocol adds to the template context (``variables``, ``topic``),
        each read from the render context's ``variables`` mapping under that name.
    :raises ConfigError: on a syntax error, an unknown function or name, a call whose
        arguments the function's signature cannot take, or a lone UTF-16 surrogate.
    """
    if not isinstance(source, str):
        raise ConfigError(f"a template must be a string, not {type(source).__name__}", where=where)
    source = config_text(source, where)
    if "{{" not in source:
        return _StaticTemplate(source)
    functions = functions if functions is not None else {}
    pieces = split_template(source, where)
    literals, evaluators = [pieces[0]], []
    for expr, literal in zip(pieces[1::2], pieces[2::2]):
        constant, value = parse_expression(expr, functions, where, roots)
        if constant:
            literals[-1] += to_text(value) + literal
        else:
            evaluators.append(value)
            literals.append(literal)
    if not evaluators:
        return _ConstantTemplate(source, literals[0])
    pairs = tuple(zip(evaluators, literals[1:]))
    if len(pairs) == 1 and not literals[0] and not literals[1]:
        return _SingleTemplate(source, "", pairs)
    return Template(source, literals[0], pairs)


class CompiledValue:
    """A JSON-able tree whose string leaves are templates; ``render`` returns a new tree.

    Unchanged subtrees are shared with the original value, so callers must not mutate what
    ``render`` returns (serialising it is the intended use).
    """

    def __init__(self, value, renderer):
        self.value = value
        self.is_static = renderer is None
        self._renderer = renderer

    def render(self, ctx):
        return self.value if self._renderer is None else self._renderer(ctx)


def _compile_node(value, functions, where, roots=()):
    """Return ``renderer(ctx)`` for a subtree holding templates, ``None`` for a static one."""
    if isinstance(value, str):
        template = compile_template(value, functions, where, roots)
        return None if template.is_static else template.render
    if isinstance(value, dict):
        copy = dict  # a copy keeps the key order; templated leaves are then overwritten
        children = ((key, f"{where}.{key}" if where else str(key), item)
                    for key, item in value.items())
    elif isinstance(value, (list, tuple)):
        copy = list
        children = ((i, f"{where or ''}[{i}]", item) for i, item in enumerate(value))
    elif value is None or isinstance(value, (bool, int, float)):
        return None
    else:
        raise ConfigError(f"a json value cannot hold {type(value).__name__} {value!r}; "
                          "quote it in YAML to make it a string", where=where)
    dynamic = tuple((key, renderer) for key, child_where, item in children
                    if (renderer := _compile_node(item, functions, child_where, roots)) is not None)
    if not dynamic:
        return None

    def render_tree(ctx):
        out = copy(value)
        for key, renderer in dynamic:
            out[key] = renderer(ctx)
        return out
    return render_tree


def compile_value(value, functions, where=None, roots=()):
    """Compile every string leaf of a YAML/JSON tree (keys are not templated).

    :return: a :class:`CompiledValue`; its ``render(ctx)`` gives a tree ready for
        ``json.dumps`` (templated text stays a JSON string, so the output is always valid).
    :raises ConfigError: located at the leaf, e.g. ``<where>.data.items[2]``.
    """
    try:
        return CompiledValue(value, _compile_node(value, functions, where, roots))
    except RecursionError:  # config files and the admin API refuse such depths before this
        raise ConfigError("a json value nested too deeply to compile", where=where) from None
