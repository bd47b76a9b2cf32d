"""``mockd websocket``: a WebSocket client and admin API commands, run by ``mockd.cli.main``.

Plain threads and blocking sockets (websocket-client, urllib): nothing here imports gevent.
Failures are raised as :class:`ClientError` (exit 1) or :class:`UsageError` (exit 2); only
``mockd.cli.main`` prints them and picks the exit code.
"""
import signal
import threading

from .common import ClientError, UsageError, admin_settings, option


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
