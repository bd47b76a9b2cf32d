"""Which plugin raised: naming the culprit of an exception from its traceback.

A plugin's code runs inside a message in many places: observer hooks, a matcher's
``match()``, a template function, a response type's ``render()``, a step's ``run()``. Rather
than wrapping each of those calls (and paying for it on every message), the connection
catches whatever escapes and asks :func:`blame`, which walks the traceback from the innermost
frame outwards and stops at the first frame that belongs to a plugin:

- the frame runs a hookimpl or a registered template function: its owner
  (pluggy's ``HookImpl.plugin_name``, or ``Registry.owner``);
- the frame is a method of an instance (or class) of a registered matcher, response or step
  type or protocol: the plugin that registered that type, even for a method inherited from a
  base class, because the object is the plugin's;
- the frame runs code of a plugin that is a module (any function of it);
- an exception mockd raises about what a plugin's object did (a ``match()`` that returned
  ``False``) carries that object as ``mockd_culprit``.

Only failures pay, and the answer is the deepest plugin on the stack, so a plugin's response
type failing inside a built-in step is blamed on the plugin, not on ``mockd.scenario``.
A template function written in C (``{"hex": hex}``) has no frame of its own; its failure is
then blamed on the response type that rendered it.

The built-in modules (``DEFAULT_PLUGINS``) register through the same hooks but are not plugins:
their frames are skipped, so a failure inside ``mockd.responses`` with no plugin code deeper
is mockd's own (``None``), never "plugin 'mockd.responses'".
"""
import traceback

from .plugins import DEFAULT_PLUGINS

__all__ = ["blame"]

_KINDS = (("matcher", "match_types"), ("response type", "response_types"), ("step type", "step_types"),
          ("protocol", "protocols"), ("fault type", "fault_types"))


def _code(func):
    func = getattr(func, "__func__", func)  # bound methods (hookimpls of plugin instances)
    func = getattr(func, "func", func)      # functools.partial
    return getattr(func, "__code__", None)


def _code_owners(plugin_manager, registry):
    owners = {}
    for name, plugin in plugin_manager.list_name_plugin():
        if plugin is None:  # a blocked name
            continue
        for hookcaller in plugin_manager.get_hookcallers(plugin) or ():
            for impl in hookcaller.get_hookimpls():
                if impl.plugin is plugin and impl.plugin_name not in DEFAULT_PLUGINS:
                    owners.setdefault(_code(impl.function), impl.plugin_name)
    for name, func in registry.template_functions.items():
        owner = registry.owner("template function", name)
        if owner not in DEFAULT_PLUGINS:
            owners.setdefault(_code(func), owner)
    owners.pop(None, None)
    return owners


def _class_owners(registry):
    owners = {}
    for kind, attribute in _KINDS:
        for name, cls in getattr(registry, attribute).items():
            owner = registry.owner(kind, name)
            if owner not in DEFAULT_PLUGINS:
                owners.setdefault(cls, owner)
    return owners


def _module_owners(plugin_manager):
    """The globals of each plugin that is a module -> its name: a plain function of the
    plugin's module (a protocol's helper run in a greenlet of its own) is the plugin's too."""
    owners = {}
    for name, plugin in plugin_manager.list_name_plugin():
        if plugin is not None and name not in DEFAULT_PLUGINS and isinstance(getattr(plugin, "__dict__", None), dict) \
                and getattr(plugin, "__spec__", None) is not None:
            owners[id(plugin.__dict__)] = name
    return owners


def _owner_of_object(obj, class_owners):
    cls = obj if isinstance(obj, type) else type(obj)
    for klass in cls.__mro__:  # a subclass created by a registered type counts as that type
        owner = class_owners.get(klass)
        if owner is not None:
            return owner
    return None


def blame(exc, plugin_manager, registry):
    """Return the name of the plugin whose code raised ``exc``, or ``None`` when no plugin
    code is on its traceback (a bug in mockd itself).

    :param exc: the exception, with its ``__traceback__``.
    :param plugin_manager: the server's :class:`pluggy.PluginManager`.
    :param registry: the server's :class:`mockd.plugins.Registry`.
    """
    frames = [frame for frame, _lineno in traceback.walk_tb(exc.__traceback__)]
    code_owners = _code_owners(plugin_manager, registry)
    class_owners = _class_owners(registry)
    module_owners = _module_owners(plugin_manager)
    culprit = getattr(exc, "mockd_culprit", None)  # a plugin's object that mockd found at fault
    if culprit is not None:
        owner = _owner_of_object(culprit, class_owners)
        if owner is not None:
            return owner
    for frame in reversed(frames):
        owner = code_owners.get(frame.f_code)
        if owner is not None:
            return owner
        local = frame.f_locals
        obj = local.get("self", local.get("cls"))
        if obj is not None:
            owner = _owner_of_object(obj, class_owners)
            if owner is not None:
                return owner
        owner = module_owners.get(id(frame.f_globals))
        if owner is not None:
            return owner
    return None
