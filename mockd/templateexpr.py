"""The ``{{ expr }}`` expression language (README.rst, "Responses and templates"), parsed.

:func:`split_template` cuts a template into literal text and expressions; :func:`parse_expression`
turns one expression into ``(True, constant)`` or ``(False, evaluator)``, where
``evaluator(ctx)`` reads a :class:`~mockd.templating.RenderContext`. Function names are
resolved to callables and paths split here, once, when the config loads.
"""
import re

from .errors import ConfigError
from .message import NOT_JSON, config_text

__all__ = ["CONTEXT_ROOTS", "MAX_NESTING", "parse_expression", "split_template"]

# Roots of paths resolved against the RenderContext. ``match`` holds the captures of the rule
# that matched (``RenderContext.captures``), ``vars`` variables (``RenderContext.variables``).
CONTEXT_ROOTS = ("message", "request", "mtls", "connection", "vars", "match")
#: Function calls nested inside each other in one expression. The parser, and the evaluators
#: it builds for every message, recurse once a level: real templates nest two or three.
MAX_NESTING = 32


def _the_context(ctx):
    return ctx


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


def split_template(source, where):
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

    def __init__(self, text, functions, where, roots=()):
        self.text, self.functions, self.where = text, functions, where
        # Names a protocol adds ({{variables.user}}, {{topic.1}}): read from RenderContext.variables.
        self.roots = {root.lower(): root for root in roots}
        self.index = _function_index(functions)
        self.depth = 0
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
        text = self.text if len(self.text) <= 60 else f"{self.text[:60]}... ({len(self.text)} characters)"
        raise ConfigError(f"template '{{{{{text}}}}}': {problem}{hint}", where=self.where)

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
        self.depth += 1
        if self.depth > MAX_NESTING:
            self.error(f"function calls nested too deeply (more than {MAX_NESTING} levels)", "")
        self.pos += 1
        if self.tokens[self.pos] == ("punct", ")"):
            self.pos += 1
            self.depth -= 1
            return self.bind(value, func, args)
        while True:
            args.append(self.argument())
            token = self.take()
            if token == ("punct", ")"):
                self.depth -= 1
                return self.bind(value, func, args)
            if token != ("punct", ","):
                self.error(f"expected ',' or ')' in {value}(...), got {token[1]!r}"
                           if token[1] else f"missing ')' after {value}(", "")

    def known(self, name):
        root = name.split(".")[0].lower()
        return self.lookup(name) is not None or root in CONTEXT_ROOTS or root in self.roots

    def lookup(self, name):
        func = self.functions.get(name)
        return func if func is not None else self.index.get(name.lower())

    def function(self, name, what):
        func = self.lookup(name)
        if func is not None:
            return func
        # A bare name that is neither a function nor a context root is almost always a
        # typo ({{uuidd}}): upstream renders "" silently, we refuse it when the config loads.
        if name.split(".")[0].lower() in CONTEXT_ROOTS or name.split(".")[0].lower() in self.roots:
            self.error(f"{name!r} is a path, not a function", "paths take no arguments")
        import difflib  # only paid when reporting an error

        choices = {n.lower(): n for n in self.functions}
        choices.update((r.lower(), r) for r in (
            "message", "request.body", "request.rawBody", "request.path", "connection.id", "match",
            *self.roots.values()))
        close = difflib.get_close_matches(name.lower(), choices, n=3, cutoff=0.6)
        if close:
            hint = "did you mean " + ", ".join(choices[c] for c in close) + "?"
        else:
            names = sorted((n for n in self.functions if not n.lower().startswith("faker.")),
                           key=str.lower)
            hint = (f"known: paths under {', '.join((*CONTEXT_ROOTS, *self.roots.values()))}; functions "
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
        if root in self.roots and self.lookup(name) is None:
            keys = ((self.roots[root], None),) + _split_keys(tuple(rest.split(".")) if rest else ())
            return False, lambda ctx: _walk(ctx.variables, keys)
        if self.lookup(name) is not None or root not in CONTEXT_ROOTS:
            return self.bind(name, self.function(name, "name"), [])
        keys = tuple(rest.split(".")) if rest else ()
        field = keys[0].lower() if keys else ""
        if root == "message":
            return False, _message_path(keys, whole=False)
        if root == "vars":
            keys = _split_keys(keys)
            return False, lambda ctx: _walk(ctx.variables, keys)
        if root == "match":
            keys = _split_keys(keys)
            return False, lambda ctx: _walk(ctx.captures, keys)
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

        # "\\ud83d\\ude00" is one character in two escapes; a lone "\\ud800" is none at all.
        return config_text(_ESCAPE.sub(replace, body), self.where) if "\\" in body else body


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


def parse_expression(text, functions, where, roots=()):
    """Compile the expression between ``{{`` and ``}}`` against ``functions`` (the registry's
    template functions): ``(True, constant)`` or ``(False, evaluator)``. ``roots`` are names a
    protocol adds, read from ``RenderContext.variables`` (``{{topic.1}}`` is
    ``variables["topic"][1]``).

    :raises ConfigError: on a syntax error, an unknown function or name, a call the function's
        signature cannot take, or calls nested more than :data:`MAX_NESTING` deep.
    """
    return _Parser(text, functions, where, roots).parse()
