"""Building the plugin manager and the registry of named extension points.

Built-in matchers, template functions, step and response types are registered through
the same hooks as third-party ones (``DEFAULT_PLUGINS``); nothing takes a private shortcut.
"""
import importlib
import importlib.util
import os
import pathlib
import sys

import pluggy

from . import hookspecs
from .errors import PluginError
from .options import DEFAULTS
from .version import __version__

DEFAULT_PLUGINS = (
    "mockd.matching",
    "mockd.templatefuncs",
    "mockd.responses",
    "mockd.scenario",
    "mockd.faults.builtin",
    # the protocol packs (docs/protocols.md), registered as a third-party pack would be
    "mockd.protocols.graphql_ws",
    "mockd.protocols.socketio",
    "mockd.protocols.stomp",
    "mockd.protocols.mqtt",
)
#: Registration hook -> (the Registry table it fills, the word errors use, the result's shape).
REGISTRATION_HOOKS = (
    ("mockd_register_matchers", "match_types", "matcher", "classes"),
    ("mockd_register_template_functions", "template_functions", "template function", "mapping"),
    ("mockd_register_step_types", "step_types", "step type", "classes"),
    ("mockd_register_response_types", "response_types", "response type", "classes"),
    ("mockd_register_protocols", "protocols", "protocol", "classes"),
    ("mockd_register_fault_types", "fault_types", "fault type", "classes"),
)
ENTRYPOINT_GROUP = "mockd"


def _env_list(name):
    return [part.strip() for part in os.environ.get(name, "").split(",") if part.strip()]


def get_plugin_manager(*, load_entrypoints=True, disabled=(), plugins_dir=None, plugins=()):
    """Return a fresh, checked plugin manager.

    :param load_entrypoints: load installed plugins from the ``mockd`` entry-point group
        (also off when ``MOCKD_DISABLE_PLUGIN_AUTOLOAD=1``).
    :param disabled: plugin names to block (plus ``MOCKD_DISABLED_PLUGINS=a,b``).
    :param plugins_dir: a folder whose loose ``*.py`` files are registered as plugins.
    :param plugins: extra plugin objects (modules or instances) to register.
    """
    pm = pluggy.PluginManager("mockd")
    pm.add_hookspecs(hookspecs)
    for name in list(disabled) + _env_list("MOCKD_DISABLED_PLUGINS"):
        pm.set_blocked(name)
    if load_entrypoints and os.environ.get("MOCKD_DISABLE_PLUGIN_AUTOLOAD") != "1":
        pm.load_setuptools_entrypoints(ENTRYPOINT_GROUP)
    for modname in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(modname), name=modname)
    if plugins_dir:
        if not pathlib.Path(plugins_dir).is_dir():
            raise PluginError(f"--plugins-dir {plugins_dir}: no such directory")
        for path in sorted(pathlib.Path(plugins_dir).glob("*.py")):
            pm.register(_load_module_from_file(path), name=path.stem)
    for plugin in plugins:
        if not pm.is_registered(plugin):
            pm.register(plugin)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(_unknown_hook_message(pm, exc)) from None
    if os.environ.get("MOCKD_TRACE_PLUGINS") == "1":
        pm.trace.root.setwriter(sys.stderr.write)
        pm.enable_tracing()
    return pm


def _unknown_hook_message(pm, exc):
    """pluggy's "unknown hook 'x' in plugin <module ...>", with the plugin's name and a
    did-you-mean among the real hooks."""
    import difflib

    plugin = getattr(exc, "plugin", None)
    name = pm.get_name(plugin) if plugin is not None else None
    hooks = [hook for hook in dir(hookspecs) if hook.startswith("mockd_")]
    for hook_name in pm.hook.__dict__:
        caller = getattr(pm.hook, hook_name)
        if not caller.has_spec() and any(impl.plugin is plugin for impl in caller.get_hookimpls()):
            close = difflib.get_close_matches(hook_name, hooks, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f" (the hooks: {', '.join(sorted(hooks))})"
            return f"plugin {name!r} implements {hook_name!r}, which is no mockd hook{hint}"
    return str(exc)


def _load_module_from_file(path):
    spec = importlib.util.spec_from_file_location(f"mockd_plugins_dir.{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # a broken loose plugin must say which file it was
        raise PluginError(f"cannot load plugin file {path}: {exc}") from exc
    return module


class Registry:
    """Named extension points collected from every plugin, duplicates rejected."""

    #: The largest ``maxMessageSize`` a mock may set (``mockd serve --max-message-size-limit``).
    #: It lives here because every path that validates mocks (the file, a reload, the admin
    #: API) is handed this registry, and the config is loaded before the server exists.
    max_message_size_limit = DEFAULTS.max_message_size_limit

    def __init__(self):
        self.match_types = {}
        self.template_functions = {}
        self.step_types = {}
        self.response_types = {}
        self.protocols = {}
        self.fault_types = {}
        self._owners = {}
        #: Names of blocked plugins (``--disable-plugin``), for errors about what they provide.
        self.disabled = frozenset()
        #: The names a config's ``plugins:`` block may configure; None when unknown (a plugin
        #: object registered without a name may read any).
        self.settings_names = None

    @classmethod
    def from_plugin_manager(cls, pm):
        registry = cls()
        registry.disabled = frozenset(name for name, plugin in pm.list_name_plugin() if plugin is None)
        registry.settings_names = _settings_names(pm)
        for hook_name, table, kind, shape in REGISTRATION_HOOKS:
            registry._collect(pm, hook_name, kind, getattr(registry, table),
                              _named_classes if shape == "classes" else _mapping_items)
        return registry

    def _collect(self, pm, hook_name, kind, target, items):
        """Call a registration hook through pluggy (so tracing, ``tryfirst``/``trylast`` and
        hookwrappers apply), and still tell which plugin returned what, so that a duplicate
        names both (see :func:`_call_attributed`)."""
        results = _call_attributed(pm, hook_name)
        for plugin_name, result in results:
            if result is None:
                continue
            for name, value in items(result, kind, plugin_name):
                key = (kind, name)
                if key in self._owners:
                    raise PluginError(
                        f"{kind} {name!r} is registered by both {self._owners[key]!r} "
                        f"and {plugin_name!r}")
                self._owners[key] = plugin_name
                target[name] = value

    def why_not_loaded(self, name):
        """Why plugin ``name`` is not loaded although it could be (a phrase naming the option
        that did it), or None: for errors about its settings and types."""
        if name in self.disabled:
            return "is disabled (--disable-plugin or MOCKD_DISABLED_PLUGINS)"
        if self.settings_names is not None and name not in self.settings_names and name in _installed_names():
            return "is installed but not loaded (--no-plugin-autoload or MOCKD_DISABLE_PLUGIN_AUTOLOAD)"
        return None

    def owner(self, kind, name):
        """Which plugin registered ``name`` of ``kind`` (``"matcher"``, ``"step type"``...)."""
        return self._owners.get((kind, name))


def _call_attributed(pm, hook_name):
    """``[(plugin name, result), ...]`` of one registration hook called through ``pm.hook``,
    in pluggy's call order (last registered first; ``tryfirst``/``trylast`` honoured).

    pluggy hands back a hook's results as a bare list without None results, so which plugin
    gave which is lost; for the length of this one call each implementation's function is
    wrapped to record it (hookwrappers and tracing still see the real call)."""
    caller = getattr(pm.hook, hook_name)
    recorded = []
    originals = []
    for impl in caller.get_hookimpls():
        def attributed(*args, _function=impl.function, _name=impl.plugin_name, **kwargs):
            result = _function(*args, **kwargs)
            recorded.append((_name, result))
            return result
        originals.append((impl, impl.function))
        impl.function = attributed
    try:
        caller()
    finally:
        for impl, function in originals:
            impl.function = function
    return recorded


def _installed_names():
    """The entry-point names of the installed plugins, loaded or not: metadata only, no import."""
    from importlib.metadata import entry_points
    return {entry_point.name for entry_point in entry_points(group=ENTRYPOINT_GROUP)}


def _settings_names(pm):
    """Each plugin's name and, for a module ``mockd_protobuf`` registered as an object (as tests
    do), the entry-point name it reads its settings under by the naming convention: ``protobuf``."""
    names = set()
    for name, plugin in pm.list_name_plugin():
        if plugin is None or name in DEFAULT_PLUGINS:
            continue
        if name == str(id(plugin)):  # pluggy's name for an object without __name__
            return None
        short = name.rpartition(".")[2]
        names.update({name, short.removeprefix("mockd_").removeprefix("mockd-")})
    return frozenset(names)


#: The method each kind of registered class must have (the base classes live in modules that
#: import this one, so the check is by method, not by issubclass).
_REQUIRED_METHOD = {"matcher": ("match", "MatchType"), "step type": ("run", "StepType"),
                    "response type": ("render", "ResponseType"), "protocol": ("run", "ProtocolType"),
                    "fault type": ("apply", "FaultType")}


def _named_classes(result, kind, plugin_name):
    method, base = _REQUIRED_METHOD[kind]
    if isinstance(result, (type, str, bytes)) or not hasattr(result, "__iter__"):
        raise PluginError(f"plugin {plugin_name!r} must return a list of {base} subclasses for its "
                          f"{kind}s, got {result!r}: write 'return [{getattr(result, '__name__', '...')}]'")
    for item in result:
        if not isinstance(item, type):
            raise PluginError(f"plugin {plugin_name!r} registered {item!r} as a {kind}: a {base} subclass is "
                              "expected, not an instance or a name")
        name = getattr(item, "name", None)
        if not isinstance(name, str) or not name:
            raise PluginError(f"plugin {plugin_name!r} registered a {kind} without a name: {item!r}; "
                              f"set the class attribute name (its YAML type)")
        if not callable(getattr(item, method, None)) or not callable(getattr(item, "from_config", None)):
            raise PluginError(f"plugin {plugin_name!r} registered {item.__name__} as a {kind}, but it has no "
                              f"{method}() and from_config(): subclass {base} from mockd.plugin")
        yield name, item


def _mapping_items(result, kind, plugin_name):
    if not hasattr(result, "items"):
        raise PluginError(f"plugin {plugin_name!r} must return a mapping of {kind}s, got {result!r}")
    for name, func in result.items():
        if not callable(func):
            raise PluginError(f"plugin {plugin_name!r} registered {kind} {name!r} that is not callable")
        yield name, func


def list_plugins(pm, include_builtin=False):
    """Describe the registered plugins: name, distribution, version and sorted hook names."""
    dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    rows = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:
            continue
        if not include_builtin and name in DEFAULT_PLUGINS:
            continue
        dist = dists.get(id(plugin))
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or ())
        if name in DEFAULT_PLUGINS:  # mockd's own modules: no distribution of their own
            distribution, version = "mockd", __version__
        else:
            distribution, version = (dist.project_name, dist.version) if dist else (None, None)
        rows.append({"name": name, "distribution": distribution, "version": version, "hooks": hooks})
    return sorted(rows, key=lambda row: row["name"])
