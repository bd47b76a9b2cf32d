"""``mockd websocket``: a WebSocket client and admin API commands, run by ``mockd.cli.main``.

Plain threads and blocking sockets (websocket-client, urllib): nothing here imports gevent.
Failures are raised as :class:`ClientError` (exit 1) or :class:`UsageError` (exit 2); only
``mockd.cli.main`` prints them and picks the exit code.
"""
import os
import signal
import threading

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
    """The keyword arguments of :class:`~mockd.client.admin.AdminClient` for ``args``: the
    token's source is kept so that a refused token can be told from a missing one."""
    environ = os.environ if environ is None else environ
    url = option(args, "admin_url") or environ.get("MOCKD_ADMIN_URL") or DEFAULT_ADMIN_URL
    token, source = option(args, "admin_token"), "--admin-token"
    if not token:
        token, source = environ.get("MOCKD_ADMIN_TOKEN") or None, "MOCKD_ADMIN_TOKEN"
    return {"base_url": url.rstrip("/"), "token": token, "token_source": source if token else None,
            "insecure": bool(option(args, "insecure", False)), "cacert": option(args, "cacert")}


def _interrupt_on_ctrl_c():
    """Make Ctrl+C raise KeyboardInterrupt whatever the parent did. Python keeps SIGINT ignored
    when it starts ignored, as under ``nohup``, ``cmd &`` in a script or some CI runners; the
    sessions (connect, listen, messages --follow) would then never end on Ctrl+C."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)


def run(args):
    """Run one ``mockd websocket`` command. Returns 0; raises on failure."""
    _interrupt_on_ctrl_c()
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
