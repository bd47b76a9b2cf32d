"""``protocol: stomp``: the ProtocolType that mockd's config and connections see."""
import itertools

from ..base import ProtocolType
from .broker import send_route
from .session import Session
from .settings import KEYS, NAME, build_settings

__all__ = ["StompProtocol"]


class StompProtocol(ProtocolType):
    """STOMP 1.0, 1.1 and 1.2 over WebSocket: a broker of one mock's connections, with the
    ``stomp:`` block's ``destinations`` (what each new subscriber gets) and ``on`` (what a
    client's SEND publishes). docs/protocols.md, "STOMP"."""

    name = NAME
    settings_key = "stomp"
    keys = KEYS
    # What the handshake offers when the mock lists none, most preferred first (the names
    # stomp.js and Spring use).
    subprotocols = ("v12.stomp", "v11.stomp", "v10.stomp")

    def __init__(self, settings):
        self.settings = settings
        self._message_ids = itertools.count(1)  # unique across the mock's connections

    @classmethod
    def from_config(cls, spec, where, build):
        return cls(build_settings(spec, where, build))

    @classmethod
    def admin_routes(cls):
        return {"/stomp/send": send_route}

    def run(self, ctx):
        Session(self, ctx).run()

    def next_message_id(self):
        return str(next(self._message_ids))
