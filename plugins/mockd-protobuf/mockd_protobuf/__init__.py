"""mockd-protobuf: protobuf frames for mockd.

Adds the ``protobuf`` match type, the ``protobuf`` response type and the ``protobuf_json``
template function, all reading message types from the descriptor set named by
``plugins: {protobuf: {descriptorSet: FILE}}``. Nothing heavy happens at import time:
``google.protobuf`` is imported (by :mod:`mockd_protobuf.codec`) when a config uses it.
"""
import weakref

from mockd.plugin import (MATCHED, ConfigError, JsonPath, MatchType, ResponseType, check_keys, hookimpl,
                          join_where, mapping, pass_context, render_json_scalar, string)

__all__ = ["PLUGIN_NAME", "ProtobufMatcher", "ProtobufResponse", "protobuf_json"]

PLUGIN_NAME = "protobuf"  # the entry-point name, and so the key of its plugins: settings
SETTINGS = ("descriptorSet",)
SETTINGS_WHERE = f"plugins.{PLUGIN_NAME}"

_server_codecs = weakref.WeakKeyDictionary()  # MockServer -> Codec, set by mockd_configure
_paths = {}  # path text -> JsonPath, for protobuf_json


def _codec(settings, source, user):
    """The codec of the configured descriptor set; ``user`` says what needed it, for errors."""
    from .codec import load_codec

    settings = mapping(settings, SETTINGS_WHERE)
    check_keys(settings, SETTINGS, SETTINGS_WHERE)
    path = string(settings, "descriptorSet", SETTINGS_WHERE)
    if not path:
        raise ConfigError(f"descriptorSet is required ({user} needs a descriptor set file)",
                          where=join_where(SETTINGS_WHERE, "descriptorSet"))
    return load_codec(path, source, join_where(SETTINGS_WHERE, "descriptorSet"))


def _codec_for_build(build, where):
    return _codec(build.plugin_config(PLUGIN_NAME), build.source, f"the protobuf type at {where}")


def _message_class(spec, where, build):
    """The class of the block's ``message`` type, from the configured descriptor set."""
    return _codec_for_build(build, where).message_class(string(spec, "message", where, required=True),
                                                        join_where(where, "message"))


class ProtobufMatcher(MatchType):
    """``match: {type: protobuf, message: pkg.Type, path: user.name, value: ann}``.

    A binary frame that decodes as ``message``; with ``path``, the field there must equal
    ``value`` by the ``json`` matcher's rules (numbers by their text, booleans as
    ``true``/``false``; dotted paths or JSONPath over the proto3 JSON form, with the field
    names of the ``.proto`` file).
    """

    name = "protobuf"
    keys = ("message", "path", "value")

    def __init__(self, message_class, path, value):
        self.message_class = message_class
        self.path = path
        self.value = value

    @classmethod
    def from_config(cls, spec, where, build):
        message_class = _message_class(spec, where, build)
        path = string(spec, "path", where)
        return cls(message_class, JsonPath(path, join_where(where, "path")) if path else None,
                   string(spec, "value", where, default=""))

    def match(self, message, context):
        if not message.is_binary:
            return None
        tree = _decoded(message, self.message_class)
        if tree is None:
            return None
        if self.path is None:
            return MATCHED
        for found in self.path.values(tree):
            if render_json_scalar(found) == self.value:
                return MATCHED
        return None


_last = [None, {}]  # the last message decoded, and its trees by message class


def _decoded(message, message_class):
    # Several protobuf matchers on one endpoint try the same frame: decode it once per type.
    # Holding the message keeps its identity from being reused by a later one.
    from .codec import decode, to_tree

    if _last[0] is not message:
        _last[0], _last[1] = message, {}
    trees = _last[1]
    if message_class not in trees:
        decoded = decode(message_class, message.data)
        trees[message_class] = None if decoded is None else to_tree(decoded)
    return trees[message_class]


class ProtobufResponse(ResponseType):
    """``response: {type: protobuf, message: pkg.Type, value: {...}}``: a binary frame.

    ``value`` holds the fields (``.proto`` or JSON names); its strings are templates. Field
    names are checked at load, and a value without templates is encoded once, at load.
    """

    name = "protobuf"
    keys = ("message", "value")

    def __init__(self, message_class, compiled, templated_bools):
        self.message_class = message_class
        self.compiled = compiled
        self.templated_bools = templated_bools
        self._static = None

    @classmethod
    def from_config(cls, spec, where, build):
        from google.protobuf.json_format import ParseError

        from .codec import check_tree, encode

        message_class = _message_class(spec, where, build)
        value_where = join_where(where, "value")
        tree = spec.get("value") or {}
        templated_bools = check_tree(message_class.DESCRIPTOR, tree, value_where)
        response = cls(message_class, build.value(tree, value_where), templated_bools)
        if response.compiled.is_static:
            try:
                response._static = encode(message_class, tree)
            except ParseError as exc:
                raise ConfigError(f"cannot encode as {message_class.DESCRIPTOR.full_name}: {exc}",
                                  where=value_where) from None
        return response

    def render(self, ctx):
        if self._static is not None:
            return self._static
        from .codec import coerce_bools, encode

        return encode(self.message_class, coerce_bools(self.compiled.render(ctx), self.templated_bools))


@pass_context
def protobuf_json(ctx, message_type, path=None):
    """``{{ protobuf_json("pkg.Type") }}``: the binary message being answered, decoded as
    ``pkg.Type``, rendered as compact JSON; ``{{ protobuf_json("pkg.Type", "user.name") }}``:
    the value at that path. A frame that does not decode renders as ``""``."""
    message = ctx.message
    if message is None or ctx.connection is None:
        return None
    codec = _server_codecs.get(ctx.connection.server)
    if codec is None:
        raise LookupError(f"protobuf_json needs plugins: {{{PLUGIN_NAME}: {{descriptorSet: FILE}}}} in the config")
    tree = _decoded(message, codec.message_class(message_type))
    if tree is None or path is None:
        return tree
    compiled = _paths.get(path)
    if compiled is None:
        compiled = _paths[path] = JsonPath(path, None)
    return next(iter(compiled.values(tree)), None)


@hookimpl
def mockd_register_matchers():
    return [ProtobufMatcher]


@hookimpl
def mockd_register_response_types():
    return [ProtobufResponse]


@hookimpl
def mockd_register_template_functions():
    return {"protobuf_json": protobuf_json}


@hookimpl
def mockd_configure(server):
    """Load the descriptor set named in the settings (also when no mock uses it yet: a wrong
    path fails at start, not when the first protobuf mock is added through the admin API)."""
    settings = server.plugin_config(PLUGIN_NAME)
    if settings:
        _server_codecs[server] = _codec(settings, server.config.source, "the protobuf plugin")


@hookimpl
def mockd_unconfigure(server):
    _server_codecs.pop(server, None)
