"""The STOMP pack (docs/protocols.md, "STOMP"): ``protocol: stomp``, registered through the
plugin hook as a third-party pack would be.

``codec`` reads and writes frames (pure bytes, no gevent), ``settings`` builds the ``stomp:``
block, ``session`` runs one connection, ``broker`` routes MESSAGE frames between them (and
serves ``POST /stomp/send``), ``protocol`` ties them into the ProtocolType.
"""
from ...hookspecs import hookimpl
from .protocol import StompProtocol

__all__ = ["StompProtocol"]


@hookimpl
def mockd_register_protocols():
    return [StompProtocol]
