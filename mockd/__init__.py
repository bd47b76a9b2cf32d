"""mockd: a WebSocket mock server. Importing this package loads neither gevent nor Flask.

Plugin authors import from :mod:`mockd.plugin`; the base classes are also reachable here,
as before 1.0, loaded on first use.
"""
from .errors import ConfigError, MockdError, PluginError
from .hookspecs import hookimpl
from .version import __version__

__all__ = ["ConfigError", "MockdError", "PluginError", "__version__", "hookimpl"]

# Names of mockd.plugin that plugins written before 1.0 import from here ("Matcher" is
# MatchType's old name). A fixed list: __getattr__ also answers the import system's probes for
# submodules (``from . import schema``), which must not load mockd.plugin and gevent with it.
_FROM_PLUGIN = {"Matcher": "MatchType", "MatchType": "MatchType", "Message": "Message",
                "ResponseType": "ResponseType", "StepType": "StepType"}


def __getattr__(name):
    if name not in _FROM_PLUGIN:
        raise AttributeError(f"module 'mockd' has no attribute {name!r}")
    import importlib
    return getattr(importlib.import_module("mockd.plugin"), _FROM_PLUGIN[name])
