"""Reading a file that a config setting names, for mockd and its plugins.

A setting such as ``plugins.protobuf.descriptorSet`` is a path, and a path can name
``/dev/zero`` (read until memory runs out), a FIFO (an ``open`` that never returns, freezing
every connection) or a file far larger than any sane one. :func:`read_setting_file` accepts
regular files only, checks before and after opening (a file swapped for a FIFO in between is
still refused, and ``O_NONBLOCK`` keeps even that ``open`` from waiting), reads at most the
cap, and says what is wrong in terms of the setting, never the resolved path, which would tell
whoever sees the error about the server's file system.

Plugin authors::

    from mockd.safefile import read_setting_file

    data = read_setting_file(path, "plugins.mine.schemaFile", max_bytes=1 << 20)
"""
import os
import stat

from .errors import ConfigError

__all__ = ["check_setting_file", "read_setting_file"]


def _too_large(setting, max_bytes):
    mib = max_bytes / (1 << 20)
    size = f"{mib:g} MiB" if mib >= 1 else f"{max_bytes} bytes"
    return ConfigError(f"larger than {size}, the most this setting reads", where=setting)


def _refuse(status, setting, max_bytes):
    if not stat.S_ISREG(status.st_mode):
        raise ConfigError("not a regular file (a device, a FIFO or a folder cannot be read as one)", where=setting)
    if status.st_size > max_bytes:
        raise _too_large(setting, max_bytes)


def _failed(exc, setting):
    if isinstance(exc, FileNotFoundError):
        return ConfigError("not found", where=setting)
    return ConfigError(f"cannot be read: {exc.strerror or type(exc).__name__}", where=setting)


def check_setting_file(path, setting, max_bytes):
    """``os.stat`` of ``path`` once it is a regular file of at most ``max_bytes``; for caches
    keyed by modification time and size, before :func:`read_setting_file`.

    :raises ConfigError: located at ``setting``.
    """
    try:
        status = os.stat(path)
    except OSError as exc:
        raise _failed(exc, setting) from None
    _refuse(status, setting, max_bytes)
    return status


def read_setting_file(path, setting, max_bytes):
    """The bytes of the regular file ``path``, at most ``max_bytes`` of them.

    :param setting: where the path was written (``plugins.protobuf.descriptorSet``), which
        locates the error.
    :raises ConfigError: for a missing, unreadable, special or too large file.
    """
    check_setting_file(path, setting, max_bytes)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise _failed(exc, setting) from None
    with os.fdopen(fd, "rb") as fh:
        _refuse(os.fstat(fd), setting, max_bytes)  # what was opened, should it have been swapped
        try:
            data = fh.read(max_bytes + 1)  # a file growing meanwhile still stops here
        except OSError as exc:
            raise _failed(exc, setting) from None
    if len(data) > max_bytes:
        raise _too_large(setting, max_bytes)
    return data
