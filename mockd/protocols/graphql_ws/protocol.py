"""``protocol: graphql-transport-ws``: the :class:`~mockd.protocols.base.ProtocolType` of the
pack, and its admin route ``POST /graphql/publish``."""
from ..base import ProtocolType, route_path
from .codec import SUBPROTOCOL
from .session import Session
from .settings import build_settings

__all__ = ["GraphQLTransportWS", "publish"]

PUBLISH_KEYS = ("path", "operationName", "payload")


class GraphQLTransportWS(ProtocolType):
    """A GraphQL server over WebSocket as the graphql-ws library speaks it: the ``graphql``
    block's operations answer each ``subscribe`` with ``next`` messages (or an ``error``)."""

    name = SUBPROTOCOL
    settings_key = "graphql"
    keys = None  # build_settings checks the block, reporting every problem at once
    subprotocols = (SUBPROTOCOL,)

    def __init__(self, settings):
        self.settings = settings

    @classmethod
    def from_config(cls, spec, where, build):
        return cls(build_settings(spec, where, build))

    @classmethod
    def admin_routes(cls):
        return {"/graphql/publish": publish}

    def run(self, ctx):
        Session(self.settings, ctx).run()


def publish(server, body):
    """Send a graphql-transport-ws `next` message with `payload` (an ExecutionResult object) to
    every live subscription of `operationName` (on `path`, when given); answers {"sent": N}."""
    path = route_path(body, PUBLISH_KEYS, "a graphql mock's path")
    name, payload = body.get("operationName"), body.get("payload")
    if not isinstance(name, str) or not name:
        raise ValueError("operationName: a non-empty string is required")
    if not isinstance(payload, dict):
        raise ValueError("payload: an object is required (the next message's ExecutionResult, e.g. {\"data\": ...})")
    if path is not None and not path.startswith("/"):
        raise ValueError("path: a string starting with / is expected")
    contexts = server.protocol_contexts(protocol=SUBPROTOCOL, path=path)
    if path is not None and not contexts and not _served(server, path):
        raise LookupError(f"no {SUBPROTOCOL} mock on {path}")
    sent = 0
    for ctx in contexts:
        if isinstance(ctx.state, Session):
            sent += ctx.state.publish(name, payload)
    return {"sent": sent}


def _served(server, path):
    """Whether an enabled mock of this protocol serves ``path`` (it may have no client yet);
    the served routes, not the config file's mocks: the admin API adds mocks too."""
    return bool(server.served_endpoints(GraphQLTransportWS.name, path))
