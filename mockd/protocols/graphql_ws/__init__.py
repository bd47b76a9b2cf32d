"""The GraphQL over WebSocket pack: ``protocol: graphql-transport-ws`` (docs/protocols.md).

- :mod:`.codec`: the wire format, close codes and the operation a document names (pure);
- :mod:`.settings`: the ``graphql`` block, validated and compiled when the config loads;
- :mod:`.session`: one connection's conversation (its subscriptions' streams in greenlets);
- :mod:`.protocol`: the protocol type and ``POST /graphql/publish``.
"""
from ...hookspecs import hookimpl
from .protocol import GraphQLTransportWS

__all__ = ["GraphQLTransportWS"]


@hookimpl
def mockd_register_protocols():
    return [GraphQLTransportWS]
