"""What a fault acts through: :class:`FaultContext` (one live connection) and
:class:`HandshakeContext` (one upgrade attempt, before it is answered).

The transport side of each action is in :mod:`mockd.ws.impair`; these classes are the stable
surface that built-in and plugin fault types call, so that neither reaches into the socket.
"""
from ..closecodes import CLOSE_NORMAL
from ..message import as_frame
from ..ws.handler import Rejection, Unanswered
from ..ws.impair import BAD_FRAMES, bad_frame, drop, write_raw

__all__ = ["FaultContext", "HandshakeContext"]


class FaultContext:
    """One live connection, for :meth:`mockd.plugin.FaultType.apply` (connection stage).
    Every action returns at once; none blocks.

    .. versionadded:: 1.1
    """

    __slots__ = ("_connection",)

    def __init__(self, connection):
        self._connection = connection

    @property
    def connection_id(self):
        return self._connection.id

    @property
    def path(self):
        return self._connection.path

    @property
    def random(self):
        """The connection's generator (seeded by ``--seed``): draw from it, not from ``random``."""
        return self._connection.fault_random

    @property
    def closed(self):
        return self._connection.closed

    def _impairments(self):
        return self._connection.ws.impairments(self._connection.fault_random)

    def close(self, code=CLOSE_NORMAL, reason=""):
        """A clean close: close frame with ``code`` and ``reason``, then the closing handshake."""
        self._connection.close(code, reason)

    def drop(self):
        """Reset the TCP connection: no close frame (the client sees 1006)."""
        drop(self._connection.ws)

    def silence(self):
        """Read and write nothing any more, answer no ping, keep the socket open (the client's
        close of TCP is still noticed). The mock's own timers (idleTimeout, heartbeat) stop."""
        self._connection.stop_timers()
        self._impairments().update(silent=True)

    def stop_pongs(self):
        self._impairments().update(no_pongs=True)

    def latency(self, fixed, jitter=0.0):
        """Hold each outbound frame ``fixed`` + up to ``jitter`` seconds, order kept."""
        self._impairments().update(fixed=float(fixed), jitter=float(jitter))

    def throttle(self, bytes_per_second):
        self._impairments().update(rate=int(bytes_per_second))

    def fragment(self, size):
        """Split outbound messages into frames of at most ``size`` payload bytes."""
        self._impairments().update(fragment=int(size))

    def bad_frame(self, kind):
        """Send one frame a correct client rejects: ``invalidUtf8``, ``reservedBit``,
        ``maskedFrame``, ``badOpcode`` or ``oversizeControl``."""
        if kind not in BAD_FRAMES:
            raise ValueError(f"unknown bad frame kind {kind!r} (one of: {', '.join(BAD_FRAMES)})")
        bad_frame(self._connection.ws, kind)

    def send(self, payload):
        """Send ``str`` (text frame), ``bytes`` (binary) or a ``dict``/``list`` (JSON text), as
        ``StepContext.send``; False once the connection is closed."""
        return self._connection.send(as_frame(payload, "ctx.send()"))

    def send_raw(self, data):
        """Write ``data`` (whole frames, as bytes) to the socket as it is, after what waits."""
        # write_raw, not ws._write_raw: after the frames latency holds too (see impair.write_raw)
        write_raw(self._connection.ws, bytes(data))


class HandshakeContext:
    """One upgrade attempt of a mock, for :meth:`mockd.plugin.FaultType.apply` (handshake
    stage). ``apply`` returns what one of :meth:`refuse`, :meth:`reset`, :meth:`hang` returned
    to stop the upgrade, or None to let it go on.

    .. versionadded:: 1.1
    """

    __slots__ = ("environ", "path", "mock_id", "random")

    def __init__(self, environ, mock_id, rng):
        self.environ = environ  # the WSGI environ of the handshake request (read it, do not change it)
        self.path = environ.get("PATH_INFO", "")
        self.mock_id = mock_id
        self.random = rng

    def refuse(self, status=503, headers=(), body=None):
        """Answer ``status`` instead of the 101, with ``headers`` ((name, value) pairs)."""
        return Rejection(status, body if body is not None else f"refused by a fault of mock {self.mock_id}\n",
                         headers, refused_by="fault", mock_id=self.mock_id)

    def reset(self):
        """Reset the TCP connection without an answer."""
        return Unanswered(reset=True, mock_id=self.mock_id)

    def hang(self, seconds):
        """Answer nothing for ``seconds`` (or until the client gives up), then close TCP."""
        return Unanswered(hang=float(seconds), mock_id=self.mock_id)
