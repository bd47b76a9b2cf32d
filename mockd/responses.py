"""Response types: the ``response.type`` values (text, json, binary).

``render(ctx)`` returns ``str`` for a text frame or ``bytes`` for a binary frame. Templates
are compiled at load; a response with no template in it is rendered (and for json,
serialised) once, at load.
"""
import json

from . import schema
from .errors import ConfigError
from .hookspecs import hookimpl
from .schema import join_where

__all__ = ["ResponseType", "dumps_json"]


# json.dumps() with any non-default option builds a JSONEncoder, and every encode() a C encoder,
# on each call: about half the cost of a small reply. Both are built once here. No circular
# reference check (``markers`` None, so nothing is shared between calls): a compiled value is
# a tree, and a cycle from elsewhere still fails, with RecursionError instead of ValueError.
_compact_encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
try:
    from json.encoder import c_make_encoder as _c_make_encoder
    from json.encoder import encode_basestring as _encode_str
except ImportError:  # pragma: no cover - a Python without the C accelerator
    _c_make_encoder = None
if _c_make_encoder is not None:
    _iterencode = _c_make_encoder(None, _compact_encoder.default, _encode_str, None, ":", ",",
                                  False, False, True)

    def dumps_json(value):
        """Compact JSON, non-ASCII kept as is (a text frame is UTF-8 anyway)."""
        return "".join(_iterencode(value, 0))
else:  # pragma: no cover
    def dumps_json(value):
        """Compact JSON, non-ASCII kept as is (a text frame is UTF-8 anyway)."""
        return _compact_encoder.encode(value)


class ResponseType:
    """Base class of response types.

    Subclasses set ``name`` (the YAML ``type``) and ``keys`` (the keys they accept besides
    ``type`` and ``delay``), and implement :meth:`from_config` and :meth:`render`.
    """

    name = None
    keys = ("value",)

    @classmethod
    def from_config(cls, spec, where, build):
        raise NotImplementedError

    def render(self, ctx):
        """Return ``str`` (sent as a text frame) or ``bytes`` (sent as a binary frame)."""
        raise NotImplementedError


class TextResponse(ResponseType):
    name = "text"

    def __init__(self, template):
        self.template = template
        self._static = template.source if template.is_static else None

    @classmethod
    def from_config(cls, spec, where, build):
        schema.check_keys(spec, cls.keys + ("type", "delay"), where)
        if isinstance(spec.get("value"), (dict, list)):
            raise ConfigError("a text response value must be a string (use type: json for structured values)",
                              where=join_where(where, "value"))
        text = schema.string(spec, "value", where, default="")
        return cls(build.template(text, join_where(where, "value")))

    def render(self, ctx):
        if self._static is not None:
            return self._static
        return self.template.render(ctx)


class JsonResponse(ResponseType):
    name = "json"

    def __init__(self, compiled):
        self.compiled = compiled
        self._static = dumps_json(compiled.render(None)) if compiled.is_static else None

    @classmethod
    def from_config(cls, spec, where, build):
        schema.check_keys(spec, cls.keys + ("type", "delay"), where)
        if "value" not in spec:
            raise ConfigError("value is required", where=join_where(where, "value"))
        return cls(build.value(spec["value"], join_where(where, "value")))

    def render(self, ctx):
        if self._static is not None:
            return self._static
        return dumps_json(self.compiled.render(ctx))


class BinaryResponse(ResponseType):
    """A base64 value, decoded once at load; binary frames are never templated."""

    name = "binary"

    def __init__(self, data):
        self.data = data

    @classmethod
    def from_config(cls, spec, where, build):
        schema.check_keys(spec, cls.keys + ("type", "delay"), where)
        text = schema.string(spec, "value", where, default="")
        return cls(schema.base64_bytes(text, join_where(where, "value")))

    def render(self, ctx):
        return self.data


@hookimpl
def mockd_register_response_types():
    return (TextResponse, JsonResponse, BinaryResponse)
