"""Validating a mockd config into immutable runtime objects (reading the file: :mod:`.configfile`).

The whole file is validated before anything is served: a bad file never half-loads, and every
problem in it is reported at once (up to :data:`~mockd.errors.MAX_REPORTED`), each located.
Matcher, response and step types are resolved against the plugin :class:`~mockd.plugins.Registry`
(:mod:`.build`), and templates, regexes and JSON paths are compiled here, once, never on the
per-message path.
"""
import secrets
from dataclasses import dataclass, field
from typing import Optional

from . import schema
from .build import Build, Criteria, Response
from .errors import ConfigError
from .faults.types import build_faults
from .origins import parse_origin_pattern
from .protocols.base import protocol_settings_key
from .proxy.config import build_proxy
from .proxy.replay import build_replay
from .schema import Problems, join_where
from .yamlload import scalar_text

SUPPORTED_VERSION = "1.0"
MOCK_TYPES = ("websocket",)
DEFAULT_MAX_MESSAGE_SIZE = 65536
# Each place's keys are the documented ones (listed in errors) plus upstream's bookkeeping,
# accepted so that files exported by the Go tool load, but never suggested.
DOCUMENTED_TOP_LEVEL_KEYS = ("version", "mocks", "plugins")
TOP_LEVEL_KEYS = DOCUMENTED_TOP_LEVEL_KEYS + ("name", "kind", "metadata", "serverConfig")
DOCUMENTED_MOCK_KEYS = ("id", "type", "name", "description", "enabled", "websocket")
MOCK_KEYS = DOCUMENTED_MOCK_KEYS + ("parentId", "metaSortKey", "workspaceId", "createdAt", "updatedAt")
WEBSOCKET_KEYS = ("path", "subprotocols", "requireSubprotocol", "maxMessageSize", "maxConnections",
                  "idleTimeout", "echoMode", "heartbeat", "matchers", "defaultResponse", "scenario",
                  "skipOriginVerify", "allowedOrigins", "protocol", "proxy", "replay", "faults")
#: What a protocol replaces: it owns the whole conversation.
_NOT_WITH_PROTOCOL = ("matchers", "defaultResponse", "scenario", "echoMode")
HEARTBEAT_KEYS = ("enabled", "interval", "timeout")
RULE_KEYS = ("match", "response", "noResponse")
SCENARIO_KEYS = ("name", "loop", "resetOnReconnect", "steps")
_IN_WEBSOCKET = {key: f"websocket.{key}" for key in WEBSOCKET_KEYS}  # written one level too high


# ---------------------------------------------------------------- runtime objects


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
    protocol: Optional[object] = None  # a ProtocolType instance: it owns the conversation
    proxy: Optional[object] = None     # a mockd.proxy.config.ProxySpec: what the rules leave goes upstream
    faults: tuple = ()                 # mockd.faults.types.Fault entries, applied to every connection


@dataclass
class Mock:
    id: str
    type: str
    name: str
    enabled: bool
    endpoint: Endpoint
    spec: dict  # the mock as written (id and type filled in), for the admin API and export

    def to_json(self):
        """The mock as the admin API shows and exports it: id and type first, ``enabled`` always."""
        data = {"id": self.id, "type": self.type}
        data.update(self.spec)
        data["enabled"] = self.enabled
        return data


@dataclass
class Config:
    version: str
    mocks: list
    plugins: dict = field(default_factory=dict)
    source: Optional[str] = None
    #: Located :class:`ConfigError` objects for what loads but is likely a mistake (a matcher
    #: without a response); ``mockd check`` prints them, ``mockd serve`` logs them.
    warnings: list = field(default_factory=list)


# ---------------------------------------------------------------- validating


def build_config(data, registry, source=None):
    """Validate a parsed config document into a :class:`Config`.

    :raises ConfigError: standing for every problem found (``exc.errors``), not only the first.
    """
    data = schema.mapping(data, None, "a mapping with 'version' and 'mocks' at the top level")
    if "endpoints" in data and "mocks" not in data:
        raise ConfigError("this is the NativeV1 format ('endpoints:'); write 'version: \"1.0\"' and 'mocks:'")
    problems, warnings = Problems(), []
    problems.attempt(schema.check_keys, data, DOCUMENTED_TOP_LEVEL_KEYS, None, accepted=TOP_LEVEL_KEYS)
    version = problems.attempt(_version, data)
    plugins = problems.attempt(schema.mapping, data.get("plugins") or {}, "plugins") or {}
    problems.attempt(_check_plugin_settings, plugins, registry, warnings)
    mocks, places = [], []
    for index, spec in enumerate(problems.attempt(schema.sequence, data.get("mocks"), "mocks") or []):
        mock = problems.attempt(build_mock, spec, registry, f"mocks[{index}]", id_prefix="ws_", plugins=plugins,
                                source=source, warnings=warnings)
        if mock is not None:
            mocks.append(mock)
            places.append((index, spec))
    _check_unique(mocks, places, problems)
    problems.check(order=data)
    return Config(version=version, mocks=mocks, plugins=plugins, source=source,
                  warnings=[warning.located(source=source) for warning in warnings])


def _version(data):
    value = data.get("version")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        # Upstream's schema has a string; JSON would read 1.10 as 1.1. Say how to write it.
        raise ConfigError(f'write it as the string "1.0" (in quotes), not the number {scalar_text(value)}',
                          where="version")
    version = schema.string(data, "version", None, required=True)
    if version != SUPPORTED_VERSION:
        raise ConfigError(f"unsupported version {version!r} (expected \"1.0\")", where="version")
    return version


def _check_plugin_settings(plugins, registry, warnings):
    """A ``plugins:`` block must name a loaded plugin: a misspelt one would go unread."""
    names = registry.settings_names
    if names is None:  # a plugin registered without a name: which settings it reads is unknown
        return
    problems = Problems()
    for name in plugins:
        where = join_where("plugins", name)
        if name in names:
            continue
        why = registry.why_not_loaded(name)
        if why:  # settings kept in the file while the plugin is off for a run
            warnings.append(ConfigError(f"plugin {name!r} {why}; its settings are not used", where=where))
        elif names:
            problems.add(f"no plugin {name!r} is loaded {schema.one_of_hint(name, names, 'loaded')}", where)
        else:
            problems.add(f"no plugin {name!r} is loaded (no plugin is: 'mockd plugins' lists them); "
                         f"install it, or remove these settings", where)
    problems.check()


def _check_unique(mocks, places, problems):
    """Ids, and the paths of enabled mocks, must differ; both places are named."""
    ids, paths = {}, {}
    for mock, (index, spec) in zip(mocks, places):
        first = ids.setdefault(mock.id, index)
        if first != index:
            problems.add(f"duplicate mock id {mock.id!r} (also used by mocks[{first}])", f"mocks[{index}].id")
        if not mock.enabled:
            continue
        first, first_spec = paths.setdefault(mock.endpoint.path, (index, spec))
        if first != index:
            named = f" (id {first_spec['id']!r})" if first_spec.get("id") is not None else ""
            problems.add(f"path {mock.endpoint.path!r} is already served by mocks[{first}]{named}; "
                         f"give one of them another path, or 'enabled: false'", f"mocks[{index}].websocket.path")


def new_mock_id(prefix):
    return prefix + secrets.token_hex(8)


def build_mock(spec, registry, where="mock", id_prefix="ws_", require_type=False, plugins=None, source=None,
               warnings=None, allowed_files=None):
    """Validate one mock definition. ``spec`` is not modified.

    ``plugins`` and ``source`` are the config's ``plugins:`` block and file (see :class:`Build`);
    pass the server's for mocks added at run time, with ``allowed_files`` (see
    :meth:`Build.file_setting`). ``warnings``, a list, receives what loads but is likely a mistake.
    """
    spec = schema.mapping(spec, where)
    problems = Problems()
    problems.attempt(schema.check_keys, spec, DOCUMENTED_MOCK_KEYS, where, accepted=MOCK_KEYS, moved=_IN_WEBSOCKET)
    mock_type = problems.attempt(_mock_type, spec, where, require_type)
    mock_id = problems.attempt(schema.path_segment, spec, "id", where) or new_mock_id(id_prefix)
    name = problems.attempt(schema.string, spec, "name", where, default="") or ""
    enabled = problems.attempt(schema.boolean, spec, "enabled", where, default=True)
    endpoint = None
    if mock_type is not None:  # else not a WebSocket mock: its websocket block does not matter
        if spec.get("websocket") is None:
            problems.add("websocket spec is required for WebSocket mocks", join_where(where, "websocket"))
        else:
            endpoint = problems.attempt(build_endpoint, spec["websocket"],
                                        Build(registry, plugins, source, warnings, allowed_files),
                                        join_where(where, "websocket"))
    problems.check(order=spec, where=where)
    stored = dict(spec, id=mock_id, type=mock_type)
    return Mock(id=mock_id, type=mock_type, name=name, enabled=enabled, endpoint=endpoint, spec=stored)


def _mock_type(spec, where, require_type):
    mock_type = schema.string(spec, "type", where, required=require_type)
    if mock_type is None and "websocket" not in spec and any(key in _IN_WEBSOCKET for key in spec):
        return None  # a WebSocket mock whose keys are one level too high: check_keys says so
    if mock_type is None:
        mock_type = "websocket" if "websocket" in spec else "http"
    if mock_type not in MOCK_TYPES:
        raise ConfigError(f"unsupported mock type {mock_type!r} (mockd serves: {', '.join(MOCK_TYPES)})",
                          where=join_where(where, "type"))
    return mock_type


def build_endpoint(spec, build, where):
    spec = schema.mapping(spec, where)
    problems = Problems()
    attempt = problems.attempt  # every field on its own: one run reports each wrong one
    settings_key = protocol_settings_key(spec, build.registry)
    attempt(schema.check_keys, spec, WEBSOCKET_KEYS + ((settings_key,) if settings_key else ()), where)
    path = attempt(_path, spec, where)
    protocol = attempt(_build_protocol, spec, build, where, settings_key)
    proxy = attempt(build_proxy, spec.get("proxy"), build, join_where(where, "proxy"))
    at = join_where(where, "subprotocols")
    subprotocols = tuple(attempt(_subprotocol, item, join_where(at, i))
                         for i, item in enumerate(attempt(schema.sequence, spec.get("subprotocols"), at) or []))
    at = join_where(where, "matchers")
    rules = tuple(attempt(_build_rule, item, build, join_where(at, i), f"matchers[{i}]")
                  for i, item in enumerate(attempt(schema.sequence, spec.get("matchers"), at) or []))
    default_response = scenario = None
    if spec.get("defaultResponse") is not None:
        default_response = attempt(build.response, spec["defaultResponse"], join_where(where, "defaultResponse"))
    if spec.get("scenario") is not None:
        scenario = attempt(_build_scenario, spec["scenario"], build, join_where(where, "scenario"))
    endpoint = dict(
        path=path,
        subprotocols=subprotocols or (protocol.subprotocols if protocol is not None else ()),
        require_subprotocol=attempt(schema.boolean, spec, "requireSubprotocol", where, default=False),
        max_message_size=attempt(_max_message_size, spec, where, build.registry.max_message_size_limit),
        max_connections=attempt(schema.integer, spec, "maxConnections", where, default=0, minimum=0),
        idle_timeout=attempt(schema.duration, spec, "idleTimeout", where, default=0.0),
        echo=attempt(schema.boolean, spec, "echoMode", where,
                     default=not rules and scenario is None and protocol is None and proxy is None),
        heartbeat=attempt(_build_heartbeat, spec.get("heartbeat"), join_where(where, "heartbeat")),
        rules=rules,
        default_response=default_response,
        scenario=scenario,
        skip_origin_verify=attempt(schema.boolean, spec, "skipOriginVerify", where, default=True),
        allowed_origins=attempt(_allowed_origins, spec.get("allowedOrigins"), join_where(where, "allowedOrigins")),
        protocol=protocol,
        proxy=proxy,
        faults=attempt(build_faults, spec.get("faults"), build, join_where(where, "faults")) or (),
    )
    problems.check(order=spec, where=where)
    return Endpoint(**endpoint)


def _build_protocol(spec, build, where, settings_key):
    name = schema.string(spec, "protocol", where)
    replay = spec.get("replay") is not None  # a built-in protocol (mockd.proxy.replay)
    if not name and not replay:
        return None
    mixed = [key for key in _NOT_WITH_PROTOCOL + (("protocol", "proxy") if replay else ()) if key in spec]
    if mixed:
        raise ConfigError(f"{'replay' if replay else f'protocol {name!r}'} answers every message itself: "
                          f"{', '.join(mixed)} cannot be used with it (make a second mock on another path for them)",
                          where=join_where(where, mixed[0]))
    if replay:
        return build_replay(spec["replay"], build, join_where(where, "replay"), spec.get("path"))
    settings_where = join_where(where, settings_key) if settings_key else join_where(where, "protocol")
    return build.protocol(name, spec.get(settings_key) if settings_key else None, where, settings_where)


def _path(spec, where):
    path = schema.string(spec, "path", where, required=True)
    if not path.startswith("/"):
        raise ConfigError(f"path must start with / (got {path!r})", where=join_where(where, "path"))
    return path


def _max_message_size(spec, where, ceiling):
    max_size = schema.integer(spec, "maxMessageSize", where, default=DEFAULT_MAX_MESSAGE_SIZE)
    # The process's ceiling (``mockd serve --max-message-size-limit``): a mock must not let a
    # client make the server buffer more than the operator allowed.
    if max_size > ceiling:
        raise ConfigError(f"must be at most {ceiling} bytes (the server's --max-message-size-limit), "
                          f"got {max_size}", where=join_where(where, "maxMessageSize"))
    return max_size if max_size > 0 else min(DEFAULT_MAX_MESSAGE_SIZE, ceiling)


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
    problems = Problems()
    problems.attempt(schema.check_keys, spec, RULE_KEYS, where)
    criteria = None
    if spec.get("match") is None:
        problems.add("a matcher needs a 'match' block", join_where(where, "match"))
    else:
        criteria = problems.attempt(build.criteria, spec["match"], join_where(where, "match"))
    no_response = problems.attempt(schema.boolean, spec, "noResponse", where, default=False)
    response = None
    if spec.get("response") is not None and not no_response:
        response = problems.attempt(build.response, spec["response"], join_where(where, "response"))
    elif spec.get("response") is None and not no_response:
        # Upstream reads a matcher without a response as noResponse, so it loads; but it is
        # more often a response forgotten or mis-indented than a silence meant.
        build.warn("this matcher has no 'response', so a message it matches gets no reply; "
                   "write 'noResponse: true' if that is meant, or add a response", where)
    problems.check()
    return Rule(criteria=Criteria(criteria.match_type, criteria.message_type, label), response=response, label=label)


def _build_scenario(spec, build, where):
    spec = schema.mapping(spec, where)
    problems = Problems()
    problems.attempt(schema.check_keys, spec, SCENARIO_KEYS, where)
    problems.attempt(schema.boolean, spec, "resetOnReconnect", where)  # accepted; state is always per connection
    at = join_where(where, "steps")
    steps = tuple(problems.attempt(build.step, item, join_where(at, i))
                  for i, item in enumerate(problems.attempt(schema.sequence, spec.get("steps"), at) or []))
    name = problems.attempt(schema.string, spec, "name", where, default="") or ""
    loop = problems.attempt(schema.boolean, spec, "loop", where, default=False)
    problems.check()
    return Scenario(name=name, loop=loop, steps=steps)


# Reading a file or text into a config is mockd.configfile's (it calls build_config).
__all__ = ["Config", "Endpoint", "Heartbeat", "Mock", "Rule", "Scenario", "build_config", "build_mock"]
