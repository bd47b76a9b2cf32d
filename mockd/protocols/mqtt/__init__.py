"""The MQTT pack: ``protocol: mqtt``, a small MQTT 3.1.1 and 5.0 broker over WebSocket
(subprotocol ``mqtt``), per mock (docs/protocols.md, "MQTT").

- :mod:`.wire` and :mod:`.codec`: the packets to and from bytes (pure);
- :mod:`.topics`: topic names, filters and wildcard matching (pure);
- :mod:`.broker`: the state a mock's connections share: sessions, subscriptions, retained
  messages;
- :mod:`.settings`: the ``mqtt`` block, validated and compiled at load;
- :mod:`.client`: one connection's conversation, in its greenlet;
- :mod:`.admin`: ``POST /mqtt/publish``.
"""
from ...hookspecs import hookimpl
from ..base import ProtocolType
from .admin import publish
from .broker import Broker
from .client import Client
from .settings import load_settings

__all__ = ["MqttProtocol"]


class MqttProtocol(ProtocolType):
    """``websocket: {protocol: mqtt, mqtt: {retained: [...], on: [...]}}``. The instance is the
    mock's broker: built once per mock when the config loads, it holds what the mock's
    connections share (a reload that leaves the mock unchanged keeps it)."""

    name = "mqtt"
    settings_key = "mqtt"
    keys = None  # checked by load_settings, beside the rest: every problem is reported at once
    subprotocols = ("mqtt",)

    def __init__(self, settings):
        self.settings = settings
        self.broker = Broker(settings.retained)

    @classmethod
    def from_config(cls, spec, where, build):
        return cls(load_settings(spec, where, build))

    @classmethod
    def admin_routes(cls):
        return {"/mqtt/publish": publish}

    def run(self, ctx):
        Client(self, ctx).serve()


@hookimpl
def mockd_register_protocols():
    return [MqttProtocol]
