"""The public surface for plugin authors: everything a plugin needs, from one module.

.. code-block:: python

   from mockd.plugin import StepType, hookimpl

Stability (README.rst, "Writing plugins"): the names in ``__all__`` keep their meaning and
signatures through every 1.x release; a minor release may add names, keyword arguments with
defaults, context attributes and hooks. Anything imported from another ``mockd`` module is
internal and may change in any release.
"""
from .build import Build, Criteria, Response
from .closecodes import (CLOSE_GOING_AWAY, CLOSE_INTERNAL_ERROR, CLOSE_NORMAL, CLOSE_POLICY_VIOLATION,
                         CLOSE_SERVICE_RESTART)
from .errors import ConfigError, MockdError, PluginError
from .faults.context import FaultContext, HandshakeContext
from .faults.types import FaultType
from .hookspecs import hookimpl
from .jsonpaths import JsonPath
from .jsontext import dumps_json
from .matching import MATCHED, MatchType, render_json_scalar
from .message import NOT_JSON, MatchContext, Message
from .protocols.base import ProtocolType
from .protocols.context import ProtocolContext
from .responses import ResponseType
from .safefile import check_setting_file, read_setting_file
from .scenario import StepContext, StepType
from .schema import (base64_bytes, boolean, check_keys, choice, duration, excerpt, integer, join_where,
                     mapping, one_of_hint, sequence, string)
from .templating import RenderContext, pass_context
from .textrender import to_text

__all__ = [
    # hooks
    "hookimpl",
    # base classes of what plugins register
    "MatchType", "ResponseType", "StepType", "ProtocolType", "FaultType",
    # what their methods are given
    "Build", "Criteria", "Response", "Message", "MatchContext", "RenderContext", "StepContext",
    "ProtocolContext", "FaultContext", "HandshakeContext", "pass_context",
    # errors
    "ConfigError", "MockdError", "PluginError",
    # reading a config block: values located at ``where``, errors with a did-you-mean
    "base64_bytes", "boolean", "check_keys", "choice", "duration", "excerpt", "integer", "join_where",
    "mapping", "one_of_hint", "sequence", "string",
    # files named by settings, with mockd's rules (regular files, a size cap)
    "check_setting_file", "read_setting_file",
    # values as mockd compares and renders them
    "MATCHED", "NOT_JSON", "JsonPath", "dumps_json", "render_json_scalar", "to_text",
    # close codes
    "CLOSE_GOING_AWAY", "CLOSE_INTERNAL_ERROR", "CLOSE_NORMAL", "CLOSE_POLICY_VIOLATION",
    "CLOSE_SERVICE_RESTART",
]
