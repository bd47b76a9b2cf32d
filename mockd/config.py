"""Validating a mockd config into immutable runtime objects (reading the file: :mod:`.configfile`).

The whole file is validated before anything is served: a bad file never half-loads. Matcher,
response and step types are resolved against the plugin :class:`~mockd.plugins.Registry`, and
templates, regexes and JSON paths are compiled here, once, never on the per-message path.
"""
import secrets
from dataclasses import dataclass, field
from typing import Optional

from . import schema
from .configfile import expand_env, load_config, parse_config_data, parse_config_text, read_config_data
from .errors import ConfigError
from .origins import parse_origin_pattern
from .schema import join_where, one_of_hint
from .yamlload import scalar_text

SUPPORTED_VERSION = "1.0"
MOCK_TYPES = ("websocket",)
DEFAULT_MAX_MESSAGE_SIZE = 65536
TOP_LEVEL_KEYS = ("version", "mocks", "plugins", "name", "kind", "metadata", "serverConfig")
MOCK_KEYS = ("id", "type", "name", "description", "enabled", "websocket", "parentId", "metaSortKey",
             "workspaceId", "createdAt", "updatedAt")
WEBSOCKET_KEYS = ("path", "subprotocols", "requireSubprotocol", "maxMessageSize", "maxConnections",
                  "idleTimeout", "echoMode", "heartbeat", "matchers", "defaultResponse", "scenario",
                  "skipOriginVerify", "allowedOrigins")
HEARTBEAT_KEYS = ("enabled", "interval", "timeout")
RULE_KEYS = ("match", "response", "noResponse")
SCENARIO_KEYS = ("name", "loop", "resetOnReconnect", "steps")
MATCH_COMMON_KEYS = ("type", "messageType")
RESPONSE_COMMON_KEYS = ("type", "delay")
MESSAGE_TYPES = ("text", "binary")


# ---------------------------------------------------------------- runtime objects


@dataclass(frozen=True)
class Criteria:
    """A ``match:`` block: a matcher plus the ``messageType`` filter."""
    matcher: object
    message_type: Optional[str]  # "text", "binary" or None for both
    label: str = ""

    def test(self, message, context=None):
        if self.message_type is not None and self.message_type != message.type:
            return None
        return self.matcher.match(message, context)


@dataclass(frozen=True)
class Response:
    """A ``response:`` block: a response type instance plus an optional delay (seconds)."""
    kind: object
    delay: float = 0.0

    def render(self, ctx):
        """Return ``str`` (a text frame) or ``bytes`` (a binary frame)."""
        return self.kind.render(ctx)


@dataclass(frozen=True)
class Rule:
    criteria: Criteria
    response: Optional[Response]
    label: str  # "matchers[3]", used by the journal


@dataclass(frozen=True)
class Heartbeat:
    interval: float
    timeout: float


@dataclass(frozen=True)
class Scenario:
    name: str
    loop: bool
    steps: tuple


@dataclass(frozen=True)
class Endpoint:
    path: str
    subprotocols: tuple = ()
    require_subprotocol: bool = False
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    max_connections: int = 0
    idle_timeout: float = 0.0
    echo: bool = True
    heartbeat: Optional[Heartbeat] = None
    rules: tuple = ()
    default_response: Optional[Response] = None
    scenario: Optional[Scenario] = None
    skip_origin_verify: bool = True  # False: an Origin must name the Host (upstream's same-origin check)
    allowed_origins: tuple = ()      # normal-form origins; empty: any


@dataclass
class Mock:
    id: str
    type: str
    name: str
    enabled: bool
    endpoint: Endpoint
    spec: dict  # the mock as written (id and type filled in), for the admin API and export


@dataclass
class Config:
    version: str
    mocks: list
    plugins: dict = field(default_factory=dict)
    source: Optional[str] = None


# ---------------------------------------------------------------- the builder handed to plugin types


class Build:
    """What ``from_config(spec, where, build)`` of matchers, responses and steps can use.

    :param registry: the :class:`~mockd.plugins.Registry` types are resolved against.
    :param plugins: the config's ``plugins:`` block, so that a plugin's type can read its
        settings while it is validated (``build.plugin_config("protobuf")``) and fail at load.
    :param source: the config file, for plugins that resolve relative paths against it
        (``None`` for mocks that did not come from a file).
    """

    def __init__(self, registry, plugins=None, source=None):
        self.registry = registry
        self.plugins = plugins or {}
        self.source = source

    def plugin_config(self, name):
        """The ``plugins: {name: {...}}`` block, or ``{}`` (as ``MockServer.plugin_config``)."""
        return dict(self.plugins.get(name) or {})

    def template(self, text, where):
        from .templating import compile_template
        return compile_template(text, self.registry.template_functions, where)

    def value(self, tree, where):
        from .templating import compile_value
        return compile_value(tree, self.registry.template_functions, where)

    def criteria(self, spec, where):
        spec, cls, own = _typed(spec, where, self.registry.matchers, "matcher", MATCH_COMMON_KEYS)
        message_type = schema.string(spec, "messageType", where)
        if message_type not in MESSAGE_TYPES:
            message_type = None  # upstream: missing, empty or anything else means both
        return Criteria(_from_config(cls, own, where, self), message_type)

    def response(self, spec, where):
        spec, cls, own = _typed(spec, where, self.registry.response_types, "response", RESPONSE_COMMON_KEYS)
        delay = schema.duration(spec, "delay", where, default=0.0)
        return Response(_from_config(cls, own, where, self), delay)

    def step(self, spec, where):
        _spec, cls, own = _typed(spec, where, self.registry.step_types, "step", ("type",))
        return _from_config(cls, own, where, self)


def _typed(spec, where, types, kind, common_keys):
    """``(spec, cls, own)``: ``spec`` as a mapping, the class its ``type`` names in ``types``
    (a registry table of ``kind`` types) and the keys that class reads, the common ones left out."""
    spec = schema.mapping(spec, where)
    type_name = schema.string(spec, "type", where, required=True)
    cls = types.get(type_name)
    if cls is None:
        raise ConfigError(f"unknown {kind} type {type_name!r} {one_of_hint(type_name, types)}",
                          where=join_where(where, "type"))
    return spec, cls, {k: v for k, v in spec.items() if k not in common_keys}


def _from_config(cls, own, where, build):
    # A pattern nested deeply enough to exhaust a compiler's recursion (a plugin's included)
    # is an invalid value like any other: located, never a traceback or an API 500.
    try:
        return cls.from_config(own, where, build)
    except RecursionError:
        raise ConfigError("nested too deeply to compile", where=where) from None


# ---------------------------------------------------------------- validating


def build_config(data, registry, source=None):
    """Validate a parsed config document into a :class:`Config`."""
    data = schema.mapping(data, None, "a mapping with 'version' and 'mocks' at the top level")
    if "endpoints" in data and "mocks" not in data:
        raise ConfigError("this is the NativeV1 format ('endpoints:'); write 'version: \"1.0\"' and 'mocks:'")
    schema.check_keys(data, TOP_LEVEL_KEYS, None)
    version = schema.string(data, "version", None, required=True)
    if version != SUPPORTED_VERSION:
        raise ConfigError(f"unsupported version {version!r} (expected \"1.0\")", where="version")
    plugins = schema.mapping(data.get("plugins") or {}, "plugins")
    mocks = []
    seen = {}
    for index, spec in enumerate(schema.sequence(data.get("mocks"), "mocks")):
        mock = build_mock(spec, registry, f"mocks[{index}]", id_prefix="ws_", plugins=plugins, source=source)
        if mock.id in seen:
            raise ConfigError(f"duplicate mock id {mock.id!r} (also used by mocks[{seen[mock.id]}])",
                              where=f"mocks[{index}].id")
        seen[mock.id] = index
        mocks.append(mock)
    return Config(version=version, mocks=mocks, plugins=plugins, source=source)


def new_mock_id(prefix):
    return prefix + secrets.token_hex(8)


def build_mock(spec, registry, where="mock", id_prefix="ws_", require_type=False, plugins=None, source=None):
    """Validate one mock definition. ``spec`` is not modified.

    ``plugins`` and ``source`` are the config's ``plugins:`` block and file (see :class:`Build`);
    pass the server's for mocks added at run time.
    """
    spec = schema.mapping(spec, where)
    schema.check_keys(spec, MOCK_KEYS, where)
    mock_type = schema.string(spec, "type", where, required=require_type)
    if mock_type is None:
        mock_type = "websocket" if "websocket" in spec else "http"
    if mock_type not in MOCK_TYPES:
        raise ConfigError(f"unsupported mock type {mock_type!r} (mockd serves: {', '.join(MOCK_TYPES)})",
                          where=join_where(where, "type"))
    mock_id = schema.path_segment(spec, "id", where) or new_mock_id(id_prefix)
    if spec.get("websocket") is None:
        raise ConfigError("websocket spec is required for WebSocket mocks", where=join_where(where, "websocket"))
    endpoint = build_endpoint(spec["websocket"], Build(registry, plugins, source), join_where(where, "websocket"))
    stored = dict(spec, id=mock_id, type=mock_type)
    return Mock(id=mock_id, type=mock_type, name=schema.string(spec, "name", where, default="") or "",
                enabled=schema.boolean(spec, "enabled", where, default=True), endpoint=endpoint, spec=stored)


def build_endpoint(spec, build, where):
    spec = schema.mapping(spec, where)
    schema.check_keys(spec, WEBSOCKET_KEYS, where)
    path = schema.string(spec, "path", where, required=True)
    if not path.startswith("/"):
        raise ConfigError(f"path must start with / (got {path!r})", where=join_where(where, "path"))
    at = join_where(where, "subprotocols")
    subprotocols = tuple(_subprotocol(item, join_where(at, i))
                         for i, item in enumerate(schema.sequence(spec.get("subprotocols"), at)))
    rules = tuple(
        _build_rule(item, build, join_where(join_where(where, "matchers"), i), f"matchers[{i}]")
        for i, item in enumerate(schema.sequence(spec.get("matchers"), join_where(where, "matchers"))))
    default_response = None
    if spec.get("defaultResponse") is not None:
        default_response = build.response(spec["defaultResponse"], join_where(where, "defaultResponse"))
    scenario = None
    if spec.get("scenario") is not None:
        scenario = _build_scenario(spec["scenario"], build, join_where(where, "scenario"))
    max_size = schema.integer(spec, "maxMessageSize", where, default=DEFAULT_MAX_MESSAGE_SIZE)
    # The process's ceiling (``mockd serve --max-message-size-limit``): a mock must not let a
    # client make the server buffer more than the operator allowed.
    ceiling = build.registry.max_message_size_limit
    if max_size > ceiling:
        raise ConfigError(f"must be at most {ceiling} bytes (the server's --max-message-size-limit), "
                          f"got {max_size}", where=join_where(where, "maxMessageSize"))
    return Endpoint(
        path=path,
        subprotocols=subprotocols,
        require_subprotocol=schema.boolean(spec, "requireSubprotocol", where, default=False),
        max_message_size=max_size if max_size > 0 else min(DEFAULT_MAX_MESSAGE_SIZE, ceiling),
        max_connections=schema.integer(spec, "maxConnections", where, default=0, minimum=0),
        idle_timeout=schema.duration(spec, "idleTimeout", where, default=0.0),
        echo=schema.boolean(spec, "echoMode", where, default=not rules and scenario is None),
        heartbeat=_build_heartbeat(spec.get("heartbeat"), join_where(where, "heartbeat")),
        rules=rules,
        default_response=default_response,
        scenario=scenario,
        skip_origin_verify=schema.boolean(spec, "skipOriginVerify", where, default=True),
        allowed_origins=_allowed_origins(spec.get("allowedOrigins"), join_where(where, "allowedOrigins")),
    )


def _allowed_origins(value, where):
    """``allowedOrigins``: origins as browsers send them (``https://app.example:8443``, any
    case, default port optional), or ``scheme://*.domain`` for every subdomain; normal form."""
    if value is None:
        return ()
    items = schema.sequence(value, where)
    if not items:
        raise ConfigError("list at least one origin, or leave allowedOrigins out to allow any", where=where)
    origins = []
    for index, item in enumerate(items):
        at = join_where(where, index)
        if not isinstance(item, str):
            raise ConfigError(f"expected an origin string, got {schema.type_name(item)}", where=at)
        try:
            origins.append(parse_origin_pattern(item))
        except ValueError as exc:
            raise ConfigError(str(exc), where=at) from None
    return tuple(origins)


def _subprotocol(item, where):
    """One ``subprotocols`` entry: a non-empty string (a null entry reads as ``""``)."""
    if item is None:
        return ""
    if isinstance(item, (dict, list)):
        raise ConfigError(f"expected a string, got {schema.type_name(item)}", where=where)
    text = item if isinstance(item, str) else scalar_text(item)  # YAML scalars as written
    if not text:
        raise ConfigError("a subprotocol name must not be empty", where=where)
    return text


def _build_heartbeat(spec, where):
    if spec is None:
        return None
    spec = schema.mapping(spec, where)
    schema.check_keys(spec, HEARTBEAT_KEYS, where)
    if not schema.boolean(spec, "enabled", where, default=False):
        return None
    return Heartbeat(interval=schema.duration(spec, "interval", where) or 30.0,
                     timeout=schema.duration(spec, "timeout", where) or 10.0)


def _build_rule(spec, build, where, label):
    spec = schema.mapping(spec, where)
    schema.check_keys(spec, RULE_KEYS, where)
    if spec.get("match") is None:
        raise ConfigError("a matcher needs a 'match' block", where=join_where(where, "match"))
    criteria = build.criteria(spec["match"], join_where(where, "match"))
    no_response = schema.boolean(spec, "noResponse", where, default=False)
    response = None
    if spec.get("response") is not None and not no_response:
        response = build.response(spec["response"], join_where(where, "response"))
    # A matcher without a response behaves as noResponse: it matches and sends nothing.
    return Rule(criteria=Criteria(criteria.matcher, criteria.message_type, label), response=response, label=label)


def _build_scenario(spec, build, where):
    spec = schema.mapping(spec, where)
    schema.check_keys(spec, SCENARIO_KEYS, where)
    schema.boolean(spec, "resetOnReconnect", where)  # accepted; state is always per connection
    steps = tuple(build.step(item, join_where(join_where(where, "steps"), i))
                  for i, item in enumerate(schema.sequence(spec.get("steps"), join_where(where, "steps"))))
    return Scenario(name=schema.string(spec, "name", where, default="") or "",
                    loop=schema.boolean(spec, "loop", where, default=False), steps=steps)


def string_value(spec, where):
    """The ``value`` of a string-valued matcher, YAML scalars read as their literal text."""
    return schema.string(spec, "value", where, default="")


# The loading names are mockd.configfile's, re-exported here where callers have always found them.
__all__ = ["Build", "Config", "ConfigError", "Criteria", "Endpoint", "Heartbeat", "Mock", "Response", "Rule",
           "Scenario", "build_config", "build_mock", "expand_env", "load_config", "parse_config_data",
           "parse_config_text", "read_config_data", "scalar_text"]
