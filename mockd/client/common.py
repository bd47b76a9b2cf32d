"""What the ``mockd websocket`` commands share: their two errors and how they read options.

Its own module (not the package's ``__init__``), so that the command modules import it without
importing the package that dispatches to them.
"""
import os

from ..errors import ConfigError, MockdError
from .parser import DEFAULT_ADMIN_URL
from .terminal import printable

__all__ = ["ClientError", "UsageError", "admin_settings", "option"]


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
    """The keyword arguments of :class:`~mockd.adminclient.AdminClient` for ``args``, plus
    ``token_source``: kept so that a refused token can be told from a missing one."""
    environ = os.environ if environ is None else environ
    url = option(args, "admin_url") or environ.get("MOCKD_ADMIN_URL") or DEFAULT_ADMIN_URL
    token, source = option(args, "admin_token"), "--admin-token"
    if not token:
        token, source = environ.get("MOCKD_ADMIN_TOKEN") or None, "MOCKD_ADMIN_TOKEN"
    return {"base_url": url.rstrip("/"), "token": token, "token_source": source if token else None,
            "insecure": bool(option(args, "insecure", False)), "cacert": option(args, "cacert")}
