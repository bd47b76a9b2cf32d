"""The Socket.IO pack: ``protocol: socket.io`` (docs/protocols.md, "Socket.IO").

- :mod:`.codec`: the Engine.IO v4 / Socket.IO v5 wire (python-engineio's and python-socketio's
  packet classes), pure;
- :mod:`.settings`, :mod:`.templates`: the ``socketio:`` block, compiled at load;
- :mod:`.session`: an Engine.IO session (transport, pings, close);
- :mod:`.polling`, :mod:`.websocket`: its two transports and the upgrade;
- :mod:`.sockets`: namespaces, events, acks, rooms;
- :mod:`.protocol`: the registered class and ``POST /socketio/emit``.
"""
from ...hookspecs import hookimpl
from .protocol import SocketIOProtocol

__all__ = ["SocketIOProtocol"]


@hookimpl
def mockd_register_protocols():
    return [SocketIOProtocol]

