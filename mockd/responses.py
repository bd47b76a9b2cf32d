"""Response types: the ``response.type`` values (text, json, binary).

``render(ctx)`` returns ``str`` for a text frame or ``bytes`` for a binary frame. Templates
are compiled at load; a response with no template in it is rendered (and for json,
serialised) once, at load.
"""
from . import schema
from .errors import ConfigError
from .hookspecs import hookimpl
from .jsontext import dumps_json
from .schema import join_where

__all__ = ["ResponseType", "dumps_json"]


class ResponseType:
    """Base class of response types.

    Subclasses set ``name`` (the YAML ``type``) and ``keys`` (the keys they accept besides
    ``type`` and ``delay``: the core refuses others with a did-you-mean; ``None`` leaves the
    check to :meth:`from_config`), and implement :meth:`from_config` and :meth:`render`.
    """

    name = None
    keys = None

    @classmethod
    def from_config(cls, spec, where, build):
        raise NotImplementedError

    def render(self, ctx):
        """Return ``str`` (sent as a text frame) or ``bytes`` (sent as a binary frame)."""
        raise NotImplementedError


class TextResponse(ResponseType):
    name = "text"
    keys = ("value",)

    def __init__(self, template):
        self.template = template
        self._static = template.source if template.is_static else None

    @classmethod
    def from_config(cls, spec, where, build):
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
    keys = ("value",)

    def __init__(self, compiled):
        self.compiled = compiled
        self._static = dumps_json(compiled.render(None)) if compiled.is_static else None

    @classmethod
    def from_config(cls, spec, where, build):
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
    keys = ("value",)

    def __init__(self, data):
        self.data = data

    @classmethod
    def from_config(cls, spec, where, build):
        text = schema.string(spec, "value", where, default="")
        return cls(schema.base64_bytes(text, join_where(where, "value")))

    def render(self, ctx):
        return self.data


@hookimpl
def mockd_register_response_types():
    return (TextResponse, JsonResponse, BinaryResponse)
