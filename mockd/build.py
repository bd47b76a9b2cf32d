"""The builder handed to the ``from_config(spec, where, build)`` of matchers, responses and steps,
and the :class:`Criteria` and :class:`Response` it builds.

Types are resolved against the plugin :class:`~mockd.plugins.Registry`. Whatever a plugin's
``from_config`` raises becomes a :class:`ConfigError` located at the block it was reading and
naming the plugin: a user who left out a field the plugin reads with ``spec["text"]`` gets exit
2 from ``mockd check`` (HTTP 400 from the admin API) that says where, not a traceback (a 500).
"""
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Optional

from . import schema
from .errors import ConfigError
from .plugins import DEFAULT_PLUGINS
from .schema import join_where, one_of_hint

__all__ = ["Build", "Criteria", "MATCH_COMMON_KEYS", "MESSAGE_TYPES", "RESPONSE_COMMON_KEYS", "Response"]

MATCH_COMMON_KEYS = ("type", "messageType")
RESPONSE_COMMON_KEYS = ("type", "delay")
MESSAGE_TYPES = ("text", "binary")
_KINDS = {"matcher": ("match_types", "matcher"), "response": ("response_types", "response type"),
          "step": ("step_types", "step type"),
          "protocol": ("protocols", "protocol"),
          "fault": ("fault_types", "fault type")}  # kind -> (Registry table, Registry.owner kind)
_METHODS = {"matcher": "match", "response": "render", "step": "run", "protocol": "run", "fault": "apply"}


@dataclass(frozen=True)
class Criteria:
    """A ``match:`` block: the match type's instance plus the ``messageType`` filter."""
    match_type: object
    message_type: Optional[str]  # "text", "binary" or None for both
    label: str = ""

    def test(self, message, context=None):
        if self.message_type is not None and self.message_type != message.type:
            return None
        captures = self.match_type.match(message, context)
        if captures is None or captures.__class__ is dict:
            return captures
        return _checked_captures(captures, self.match_type)


def _checked_captures(captures, match_type):
    """A plugin's ``match()`` result other than a dict or None: a mapping is fine; ``False``, ``""``
    or a list must not count as a hit (a TypeError closes the connection naming the plugin)."""
    if isinstance(captures, Mapping):
        return captures
    error = TypeError(f"{type(match_type).__name__}.match() returned {captures!r}: it must return a mapping of "
                      "captures ({} for a plain hit) or None for no match")
    error.mockd_culprit = match_type  # raised after match() returned: blame() finds the plugin through it
    raise error


@dataclass(frozen=True)
class Response:
    """A ``response:`` block: the response type's instance that renders it, plus an optional
    delay (seconds)."""
    renderer: object
    delay: float = 0.0

    def render(self, ctx):
        """Return ``str`` (a text frame) or ``bytes`` (a binary frame)."""
        return self.renderer.render(ctx)


class Build:
    """What ``from_config(spec, where, build)`` of matchers, responses and steps can use.

    :param registry: the :class:`~mockd.plugins.Registry` types are resolved against.
    :param plugins: the config's ``plugins:`` block, so that a plugin's type can read its
        settings while it is validated (``build.plugin_config("protobuf")``) and fail at load.
    :param source: the config file, for plugins that resolve relative paths against it
        (``None`` for mocks that did not come from a file).
    :param warnings: a list that :meth:`warn` appends to (located :class:`ConfigError`
        objects); ``mockd check`` prints them and ``mockd serve`` logs them.
    :param allowed_files: see :meth:`file_setting`.
    """

    def __init__(self, registry, plugins=None, source=None, warnings=None, allowed_files=None):
        self.registry = registry
        self.plugins = plugins or {}
        self.source = source
        self.warnings = [] if warnings is None else warnings
        #: For a mock sent to the admin API: the file names its config file's mocks name, the
        #: only ones it may name too (:meth:`file_setting`); None for a config file.
        self.allowed_files = allowed_files

    def file_setting(self, name, where):
        """Check a setting that names a file to read (``replay.recording``, ``proxy.tls.ca``):
        through the admin API only a file the config file names already, so that whoever can
        reach the API cannot make the server read (and replay) any file it can read."""
        if self.allowed_files is not None and name not in self.allowed_files:
            raise ConfigError(f"{name!r}: a file to read is named in the config file only, not through the admin "
                              "API; add this mock to the config file and reload it (SIGHUP)", where=where)
        return name

    def plugin_config(self, name):
        """The ``plugins: {name: {...}}`` block, or ``{}`` (as ``MockServer.plugin_config``)."""
        return dict(self.plugins.get(name) or {})

    def warn(self, message, where):
        """Record something that loads but is likely not what the user meant."""
        self.warnings.append(ConfigError(message, where=where))

    def template(self, text, where, roots=()):
        """Compile a template; ``roots`` are names a protocol adds to its context
        (``roots=("variables", "operationName")``), each read from the ``RenderContext``'s
        ``variables`` mapping under that name: ``{{variables.user}}`` renders
        ``ctx.variables["variables"]["user"]``."""
        from .templating import compile_template
        return compile_template(text, self.registry.template_functions, where, roots)

    def value(self, tree, where, roots=()):
        """Compile every string leaf of a YAML/JSON tree (``roots`` as in :meth:`template`)."""
        from .templating import compile_value
        return compile_value(tree, self.registry.template_functions, where, roots)

    def criteria(self, spec, where):
        spec, instance = self._typed(spec, where, "matcher", MATCH_COMMON_KEYS)
        message_type = schema.string(spec, "messageType", where)
        if message_type not in MESSAGE_TYPES:
            message_type = None  # upstream: missing, empty or anything else means both
        return Criteria(instance, message_type)

    def response(self, spec, where):
        spec, instance = self._typed(spec, where, "response", RESPONSE_COMMON_KEYS)
        return Response(instance, schema.duration(spec, "delay", where, default=0.0))

    def step(self, spec, where):
        return self._typed(spec, where, "step", ("type",))[1]

    def protocol(self, name, settings, where, settings_where):
        """The :class:`~mockd.protocols.ProtocolType` instance of ``protocol: name``, built from
        its settings block (``settings``, a mapping or ``None``; at ``settings_where``)."""
        settings = {} if settings is None else schema.mapping(settings, settings_where)
        return self._instance("protocol", name, settings, join_where(where, "protocol"), settings_where, ())

    def fault(self, spec, where):
        """One ``websocket.faults`` entry as a :class:`~mockd.faults.types.Fault`."""
        from .faults.types import build_fault
        return build_fault(spec, where, self)

    def _typed(self, spec, where, kind, common_keys):
        """``(spec, instance)``: ``spec`` as a mapping and the object its ``type`` builds from
        the keys that type reads (the common ones left out)."""
        spec = schema.mapping(spec, where)
        type_name = schema.string(spec, "type", where, required=True)
        own = {k: v for k, v in spec.items() if k not in common_keys}
        return spec, self._instance(kind, type_name, own, join_where(where, "type"), where, common_keys)

    def _instance(self, kind, type_name, own, name_where, where, common_keys):
        """Look ``type_name`` up among the registered ``kind``s, check the keys it declares, and
        call its ``from_config(own, where, self)``."""
        table, owner_kind = _KINDS[kind]
        cls = getattr(self.registry, table).get(type_name)
        if cls is None:
            raise ConfigError(_unknown_type(kind, type_name, getattr(self.registry, table), self.registry),
                              where=name_where)
        declared = getattr(cls, "keys", None)
        if declared is not None:
            # The core checks the keys a type declares, so no from_config repeats it; a type
            # with ``keys = None`` reads (and checks) its block itself.
            schema.check_keys(own, tuple(declared) + tuple(common_keys), where)
        try:
            instance = cls.from_config(own, where, self)
        except ConfigError:
            raise
        except RecursionError:
            # A pattern nested deeply enough to exhaust a compiler's recursion (a plugin's
            # included) is an invalid value like any other: located, never a traceback.
            raise ConfigError("nested too deeply to compile", where=where) from None
        except BaseException as exc:
            owner = self.registry.owner(owner_kind, type_name)
            if _passes_through(exc) or owner is None or owner in DEFAULT_PLUGINS:
                raise  # a killed greenlet, or a bug in mockd itself (the fuzz tests look for those)
            # SystemExit too: a plugin must not end the server that validates a reload or a POST.
            raise ConfigError(f"plugin {owner!r} failed to read this {type_name!r} {kind}: {_describe(exc)}",
                              where=where) from exc
        method = _METHODS[kind]
        if not callable(getattr(instance, method, None)):
            # Caught here, at load, rather than as an AttributeError on the first message.
            owner = self.registry.owner(owner_kind, type_name)
            raise ConfigError(f"plugin {owner!r}: {cls.__name__}.from_config() returned {instance!r}, which has no "
                              f"{method}(); it must return the instance that {method}s (usually cls(...))",
                              where=where)
        return instance


def _unknown_type(kind, type_name, types, registry):
    # A plugin's types are unknown until it is loaded; a plugin named as the type is the usual case.
    why = registry.why_not_loaded(type_name)
    if why:
        return f"{kind} type {type_name!r} is not available: plugin {type_name!r} {why}"
    if not types:
        return (f"unknown {kind} type {type_name!r}: no loaded plugin provides a {kind} (install one, or load a "
                "plugin file with --plugins-dir)")
    message = f"unknown {kind} type {type_name!r} {one_of_hint(type_name, types)}"
    disabled = registry.disabled
    if disabled:  # their types are not known without running the plugins the user turned off
        plural = "s" if len(disabled) > 1 else ""
        message += f"; the disabled plugin{plural} {', '.join(sorted(disabled))} may provide it"
    return message


def _passes_through(exc):
    """Exceptions about the caller, not the config: a greenlet being killed, a ``gevent.Timeout``
    around the load. KeyboardInterrupt is not one: ``mockd serve`` turns SIGINT into a clean stop,
    so inside a plugin's ``from_config`` it is the plugin's (and ``mockd check`` would exit 0)."""
    if isinstance(exc, GeneratorExit):
        return True
    gevent = sys.modules.get("gevent")  # never imported here: mockd check and the CLI run without it
    return gevent is not None and isinstance(exc, (gevent.GreenletExit, gevent.Timeout))


def _describe(exc, limit=200):
    text = " ".join(str(exc).split())
    if len(text) > limit:
        text = text[:limit] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
