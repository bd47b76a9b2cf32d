"""Engine.IO's WebSocket transport: a session opened on it (``transports=['websocket']``), or
one moved onto it from long-polling (the upgrade: ``2probe`` / ``3probe``, a noop to the
waiting poll, then ``5``). Runs in the connection's greenlet (``SocketIOProtocol.run``).

The listener has already answered the upgrade (101) when the query string can be read, so what
Engine.IO's servers refuse with an HTTP 400 (an unknown sid, another protocol version) closes
the WebSocket with 1002 and the same message as the reason.
"""
from ...closecodes import CLOSE_PROTOCOL_ERROR
from ...durations import format_duration
from . import codec
from .session import Session

__all__ = ["serve"]


def serve(protocol, ctx):
    query = ctx.query
    if query.get("EIO") != ["4"]:
        return _refuse(ctx, codec.UNSUPPORTED_VERSION, "EIO=4 is the Engine.IO version served")
    if query.get("transport", ["websocket"]) != ["websocket"]:
        return _refuse(ctx, codec.BAD_REQUEST, "a WebSocket carries transport=websocket")
    sid = query.get("sid")
    if sid:
        session = protocol.sessions.get(sid[0])
        if session is None or session.closed or session.ctx is not None or session.upgrading:
            return _refuse(ctx, codec.UNKNOWN_SID, f"no long-polling session {sid[0]!r} to upgrade")
        if not _upgrade(ctx, session):
            return None
    else:
        settings = protocol.settings
        session = Session(protocol, ctx.server, ctx.connection.mock_id, ctx.path,
                          settings.max_payload or ctx.connection.max_message_size, ctx)
        ctx.send(codec.open_frame(session.sid, (), settings.ping_interval, settings.ping_timeout, session.max_payload),
                 decoded="open")
        session.start()
    ctx.state = session
    try:
        while True:
            message = ctx.receive(journal=False)
            if message is None:
                break
            try:
                session.receive(message.data, lambda label, message=message: ctx.journal(message, label))
            except codec.ProtocolError as exc:
                session.close(f"malformed packet: {exc}")
                break
    finally:
        session.close("the WebSocket closed", notify=False)
    return None


def _refuse(ctx, error, why):
    ctx.record(f"{ctx.protocol.name}: refused: {error[1]} ({why})")
    ctx.close(CLOSE_PROTOCOL_ERROR, error[1])


def _upgrade(ctx, session):
    """The probe and the upgrade packet; True once ``session`` is on this WebSocket."""
    wait = session.settings.ping_timeout
    message = ctx.receive(timeout=wait, journal=False)
    if message is None or message.data != "2probe":
        return _failed(ctx, message, f"expected the 2probe packet within {format_duration(wait)}")
    ctx.journal(message, "ping probe")
    if session.closed or session.ctx is not None or session.upgrading:
        return _refuse(ctx, codec.UNKNOWN_SID, "the session closed or upgraded meanwhile")
    session.probed()
    ctx.send("3probe", decoded="pong probe")
    message = ctx.receive(timeout=wait, journal=False)
    if message is None or message.data != "5":
        session.upgrading = False  # the session goes on polling
        return _failed(ctx, message, f"expected the upgrade packet 5 within {format_duration(wait)}")
    ctx.journal(message, "upgrade")
    if session.closed:
        ctx.close(CLOSE_PROTOCOL_ERROR, codec.UNKNOWN_SID[1])
        return False
    session.attach(ctx)
    session.record(f"upgraded from polling to websocket (connection {ctx.connection.id})")
    return True


def _failed(ctx, message, why):
    if ctx.closed:  # the client gave up: nothing to say
        return False
    if message is not None:
        ctx.journal(message, f"upgrade failed: {why}")
    else:
        ctx.record(f"{ctx.protocol.name}: upgrade failed: {why}")
    ctx.close(CLOSE_PROTOCOL_ERROR, "upgrade failed")
    return False
