"""``mockd websocket``: a WebSocket client and admin API commands, run by ``mockd.cli.main``.

Plain threads and blocking sockets (websocket-client, urllib): nothing here imports gevent.
Failures are raised as :class:`ClientError` (exit 1) or :class:`UsageError` (exit 2); only
``mockd.cli.main`` prints them and picks the exit code.
"""
import os

from ..errors import ConfigError, MockdError
from .parser import DEFAULT_ADMIN_URL
from .terminal import printable


class ClientError(MockdError):
    """A run-time failure: refused handshake, lost connection, admin API error (exit 1). The
    message often quotes the server (a handshake body, a close reason, an API error), so its
    control characters are escaped: it goes to a terminal."""

    def __init__(self, message):
        super().__init__(printable(str(message), newlines=False))


class UsageError(ConfigError):
    """A command line that parses but cannot be carried out, e.g. invalid base64 (exit 2)."""


def option(args, name, default=None):
    """Options shared by nested parsers are absent from ``args`` unless given."""
    return getattr(args, name, default)


def admin_settings(args, environ=None):
    environ = os.environ if environ is None else environ
    url = option(args, "admin_url") or environ.get("MOCKD_ADMIN_URL") or DEFAULT_ADMIN_URL
    token = option(args, "admin_token") or environ.get("MOCKD_ADMIN_TOKEN") or None
    return url.rstrip("/"), token, bool(option(args, "insecure", False)), option(args, "cacert")


def run(args):
    """Run one ``mockd websocket`` command. Returns 0; raises on failure."""
    command = args.ws_command
    if command == "connect":
        from .repl import connect
        return connect(args)
    if command in ("send", "listen"):
        from . import session
        return getattr(session, command)(args)
    from . import commands
    return commands.run(command, args)


__all__ = ["ClientError", "UsageError", "admin_settings", "option", "run"]
