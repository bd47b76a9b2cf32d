"""Protocols: a mock's ``websocket.protocol`` hands each of its connections to a registered
:class:`~mockd.protocols.base.ProtocolType`, which owns the conversation (registered through
``mockd_register_protocols``, built-in packs and third-party ones alike). ``base`` holds the
type (no gevent: ``mockd check`` validates configs naming a protocol), ``context`` what its
``run`` gets."""
