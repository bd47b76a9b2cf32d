"""Response templating: the ``{{ expr }}`` grammar of ``spec/behaviour.md`` §6.3 and §6.4.

A template is parsed once, when the config loads, into literal strings and evaluators whose
function names are already resolved to callables and whose paths are already split, so that
rendering a message costs a few calls and a join. Template functions (built-ins included)
come from ``mockd_register_template_functions()``; this module's hookimpl registers the
built-ins, so they share one namespace with plugin functions. Function names are matched
case-insensitively (``{{NOW}}``, ``{{faker.firstname}}``); JSON field names are not.

A template function that raises is not rendered as ``""``: the exception reaches the
connection, which closes with 1011 and logs the plugin that registered the function
(``mockd.blame``). Built-ins and plugin functions follow that one rule, as every other piece of
plugin code in a message does; the built-ins return ``""`` for bad arguments instead of raising.
"""
import re

from .errors import ConfigError
from .message import NOT_JSON
from .templatefuncs import reset_sequences  # noqa: F401 - part of this module's API
from .textrender import to_text

__all__ = ["RenderContext", "Template", "CompiledValue", "compile_template", "compile_value",
           "pass_context", "to_text", "reset_sequences"]

# Roots of paths resolved against the RenderContext. ``vars`` holds matcher captures and
# scenario variables (``RenderContext.variables``).
CONTEXT_ROOTS = ("message", "request", "mtls", "connection", "vars")


class RenderContext:
    """What a template can see while it renders one response.

    :param message: the :class:`mockd.message.Message` being answered, or ``None``.
    :param path: the endpoint path (``{{request.path}}``).
    :param connection: the connection, or ``None``; ``{{connection.id}}`` reads its ``id``.
    :param variables: a mapping readable as ``{{vars.name}}``, or ``None``.
    """

    __slots__ = ("message", "path", "connection", "variables")

    def __init__(self, message=None, path="", connection=None, variables=None):
        self.message = message
        self.path = path
        self.connection = connection
        self.variables = variables


def pass_context(func):
    """Mark a template function that needs the :class:`RenderContext`: it is then called with
    the context first, before the template's arguments (Jinja's ``pass_context``). Use it for
    what arguments cannot carry, such as the raw bytes of a binary message.

    .. versionadded:: 0.1
    """
    func._mockd_pass_context = True
    return func


def _the_context(ctx):
    return ctx


# ---------------------------------------------------------------- parsing

_TOKEN = re.compile(r"""\s*(?:
      (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    | (?P<num>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)(?![\w.$])
    | (?P<name>[A-Za-z_$][\w$\-]*(?:\.[\w$\-]+)*)
    | (?P<punct>[(),]))""", re.X | re.S)
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)", re.S)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "0": "\0", "\\": "\\",
            '"': '"', "'": "'", "/": "/"}
_END = (None, None)
_index_cache = (None, -1, None)


def _function_index(functions):
    """``{lowercased name: callable}``, cached for the registry being compiled against."""
    global _index_cache
    if _index_cache[0] is not functions or _index_cache[1] != len(functions):
        index = {}
        for name, func in functions.items():
            index.setdefault(name.lower(), func)
        _index_cache = (functions, len(functions), index)
    return _index_cache[2]


def _split(source, where):
    """Split a template into ``[literal, expression, literal, expression, ..., literal]``."""
    pieces, pos, n = [], 0, len(source)
    while (start := source.find("{{", pos)) >= 0:
        while source.startswith("{", start + 2):  # "{{{x}}}": the outer braces are literal
            start += 1
        i, quote = start + 2, None
        while i < n:  # find the closing braces, skipping quoted strings
            ch = source[i]
            if quote:
                if ch == "\\":
                    i += 1
                elif ch == quote:
                    quote = None
            elif ch == '"' or ch == "'":
                quote = ch
            elif source.startswith("}}", i):
                break
            i += 1
        else:
            what = "unterminated string literal" if quote else "unclosed '{{' (add '}}')"
            raise ConfigError(f"template {source[start:start + 40]!r}: {what} at column "
                              f"{start + 1}", where=where)
        pieces += [source[pos:start], source[start + 2:i].strip()]
        pos = i + 2
    pieces.append(source[pos:])
    return pieces


class _Parser:
    """Recursive descent over one expression. Each node compiles to ``(True, constant)``
    or ``(False, evaluator)`` where ``evaluator(ctx)`` returns the node's value."""

    def __init__(self, text, functions, where):
        self.text, self.functions, self.where = text, functions, where
        self.index = _function_index(functions)
        self.tokens, pos, end = [], 0, len(text)
        while pos < end:
            match = _TOKEN.match(text, pos)
            if not match:
                self.error(f"unexpected {text[pos:].strip()[:15]!r}", 'quote strings: "text"')
            self.tokens.append((match.lastgroup, match.group(match.lastgroup)))
            pos = match.end()
        self.tokens += [_END, _END]
        self.pos = 0

    def error(self, problem, hint):
        hint = f"; {hint}" if hint else ""
        raise ConfigError(f"template '{{{{{self.text}}}}}': {problem}{hint}", where=self.where)

    def take(self):
        self.pos += 1
        return self.tokens[self.pos - 1]

    def parse(self):
        kind, name = self.tokens[0]
        if kind is None:
            self.error("empty expression", "write e.g. {{ now }} or {{ message.id }}")
        if kind == "name" and self.tokens[1][0] not in (None, "punct"):
            # Upstream's older space form, {{random.int 1 10}}: bare words are literals.
            func = self.function(name, "function")
            self.pos, args = 1, []
            while self.tokens[self.pos] is not _END:
                kind, value = self.tokens[self.pos]
                if kind == "name" and not self.known(value):
                    args.append((True, self.take()[1]))
                else:
                    args.append(self.argument())
            return self.bind(name, func, args)
        result = self.argument()
        if self.tokens[self.pos] is not _END:
            self.error(f"unexpected {self.tokens[self.pos][1]!r}", "call as name(arg, ...)")
        return result

    def argument(self):
        kind, value = self.take()
        if kind == "str":
            return True, self.unescape(value[1:-1])
        if kind == "num":
            return True, float(value) if any(c in value for c in ".eE") else int(value)
        if kind != "name":
            self.error(f"unexpected {value!r}" if value else "unexpected end",
                       "arguments are quoted strings, numbers, paths or functions")
        if self.tokens[self.pos] != ("punct", "("):
            return self.reference(value)
        func, args = self.function(value, "function"), []
        self.pos += 1
        if self.tokens[self.pos] == ("punct", ")"):
            self.pos += 1
            return self.bind(value, func, args)
        while True:
            args.append(self.argument())
            token = self.take()
            if token == ("punct", ")"):
                return self.bind(value, func, args)
            if token != ("punct", ","):
                self.error(f"expected ',' or ')' in {value}(...), got {token[1]!r}"
                           if token[1] else f"missing ')' after {value}(", "")

    def known(self, name):
        return self.lookup(name) is not None or name.split(".")[0].lower() in CONTEXT_ROOTS

    def lookup(self, name):
        func = self.functions.get(name)
        return func if func is not None else self.index.get(name.lower())

    def function(self, name, what):
        func = self.lookup(name)
        if func is not None:
            return func
        # A bare name that is neither a function nor a context root is almost always a
        # typo ({{uuidd}}): upstream renders "" silently, we refuse it when the config loads.
        if name.split(".")[0].lower() in CONTEXT_ROOTS:
            self.error(f"{name!r} is a path, not a function", "paths take no arguments")
        import difflib  # only paid when reporting an error

        choices = {n.lower(): n for n in self.functions}
        choices.update((r.lower(), r) for r in (
            "message", "request.body", "request.rawBody", "request.path", "connection.id"))
        close = difflib.get_close_matches(name.lower(), choices, n=3, cutoff=0.6)
        if close:
            hint = "did you mean " + ", ".join(choices[c] for c in close) + "?"
        else:
            names = sorted((n for n in self.functions if not n.lower().startswith("faker.")),
                           key=str.lower)
            hint = (f"known: paths under {', '.join(CONTEXT_ROOTS)}; functions "
                    f"{', '.join(names)}, faker.<type>")
        self.error(f"unknown template {what} {name!r}", hint)

    def bind(self, name, func, args):
        import inspect  # only paid at config load

        try:
            signature = inspect.signature(func)
        except (TypeError, ValueError):
            signature = None  # some C callables have no signature: nothing to check
        passes_context = getattr(func, "_mockd_pass_context", False)
        try:
            signature and signature.bind(*([None] if passes_context else []), *args)
        except TypeError:
            self.error(f"{name} cannot take {len(args)} argument(s)", f"usage: {name}{signature}")
        if passes_context:
            args = [(False, _the_context)] + list(args)
        prepare = getattr(func, "_mockd_prepare", None)
        if prepare is not None:
            prepare()  # warm up a lazy dependency (faker) at load, not on the first message
        if all(constant for constant, _ in args):
            values = tuple(value for _, value in args)
            return False, (lambda ctx: func(*values)) if values else (lambda ctx: func())
        evaluators = tuple(v if not c else (lambda ctx, v=v: v) for c, v in args)
        if len(evaluators) == 1:
            only = evaluators[0]
            return False, lambda ctx: func(only(ctx))
        return False, lambda ctx: func(*[evaluate(ctx) for evaluate in evaluators])

    def reference(self, name):
        root, _, rest = name.partition(".")
        root = root.lower()
        if self.lookup(name) is not None or root not in CONTEXT_ROOTS:
            return self.bind(name, self.function(name, "name"), [])
        keys = tuple(rest.split(".")) if rest else ()
        field = keys[0].lower() if keys else ""
        if root == "message":
            return False, _message_path(keys, whole=False)
        if root == "vars":
            keys = _split_keys(keys)
            return False, lambda ctx: _walk(ctx.variables, keys)
        if root == "request" and len(keys) == 1 and field in ("rawbody", "path"):
            return False, (lambda ctx: ctx.path) if field == "path" else _message_path((), False)
        if root == "request" and field == "body":
            return False, _message_path(keys[1:], whole=True)
        if root == "connection" and keys == ("id",):
            return False, lambda ctx: getattr(ctx.connection, "id", None)
        # request.method/query/header/pathParam, mtls.*: nothing to read in a WebSocket context.
        return True, None

    def unescape(self, body):
        def replace(match):
            code = match.group(1)
            if len(code) == 5:
                return chr(int(code[1:], 16))
            if code not in _ESCAPES:
                self.error(f"unknown escape '\\{code}' in a string", "write \\\\ for a backslash")
            return _ESCAPES[code]

        return _ESCAPE.sub(replace, body) if "\\" in body else body


def _walk(value, keys):
    for key, idx in keys:
        cls = value.__class__
        if cls is dict:
            value = value.get(key)
        elif cls is list or cls is tuple:
            if idx is None or idx >= len(value):
                return None
            value = value[idx]
        elif hasattr(value, "get"):  # other mappings (variables)
            value = value.get(key)
        else:
            return None  # also None, NOT_JSON and scalars
    return value


def _json_or_none(message):
    data = message.json()
    return None if data is NOT_JSON else data


def _split_keys(keys):
    return tuple((k, int(k) if k.isdigit() else None) for k in keys)


def _message_path(keys, whole):
    if not keys:
        if whole:  # {{request.body}}: the parsed payload, rendered as compact JSON
            return lambda ctx: None if ctx.message is None else _json_or_none(ctx.message)
        return lambda ctx: "" if ctx.message is None else ctx.message.text
    keys = _split_keys(keys)
    if len(keys) == 1:  # the common {{message.id}}: one lookup, no loop
        key = keys[0][0]

        def message_field(ctx):
            data = None if ctx.message is None else ctx.message.json()
            return data.get(key) if data.__class__ is dict else _walk(data, keys)
        return message_field
    return lambda ctx: None if ctx.message is None else _walk(ctx.message.json(), keys)


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


def compile_template(source, functions, where=None):
    """Parse ``source`` once into a :class:`Template`.

    :param source: the template text.
    :param functions: ``Registry.template_functions`` (``{name: callable}``).
    :param where: the config path reported by errors (``mocks[0].websocket...value``).
    :raises ConfigError: on a syntax error, an unknown function or name, or a call whose
        arguments the function's signature cannot take.
    """
    if not isinstance(source, str):
        raise ConfigError(f"a template must be a string, not {type(source).__name__}", where=where)
    if "{{" not in source:
        return _StaticTemplate(source)
    functions = functions if functions is not None else {}
    pieces = _split(source, where)
    literals, evaluators = [pieces[0]], []
    for expr, literal in zip(pieces[1::2], pieces[2::2]):
        constant, value = _Parser(expr, functions, where).parse()
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


def _compile_node(value, functions, where):
    """Return ``renderer(ctx)`` for a subtree holding templates, ``None`` for a static one."""
    if isinstance(value, str):
        template = compile_template(value, functions, where)
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
                    if (renderer := _compile_node(item, functions, child_where)) is not None)
    if not dynamic:
        return None

    def render_tree(ctx):
        out = copy(value)
        for key, renderer in dynamic:
            out[key] = renderer(ctx)
        return out
    return render_tree


def compile_value(value, functions, where=None):
    """Compile every string leaf of a YAML/JSON tree (keys are not templated).

    :return: a :class:`CompiledValue`; its ``render(ctx)`` gives a tree ready for
        ``json.dumps`` (templated text stays a JSON string, so the output is always valid).
    :raises ConfigError: located at the leaf, e.g. ``<where>.data.items[2]``.
    """
    return CompiledValue(value, _compile_node(value, functions, where))
