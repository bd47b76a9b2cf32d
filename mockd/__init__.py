"""mockd: a WebSocket mock server. Importing this package loads neither gevent nor Flask."""
from .errors import ConfigError, MockdError, PluginError
from .hookspecs import hookimpl
from .version import __version__

__all__ = ["ConfigError", "Matcher", "Message", "MockdError", "PluginError", "ResponseType", "StepType",
           "__version__", "hookimpl"]


def __getattr__(name):
    # The base classes live in modules that import more; load them only when asked for.
    if name == "Matcher":
        from .matching import Matcher
        return Matcher
    if name == "Message":
        from .message import Message
        return Message
    if name == "StepType":
        from .scenario import StepType
        return StepType
    if name == "ResponseType":
        from .responses import ResponseType
        return ResponseType
    raise AttributeError(name)
