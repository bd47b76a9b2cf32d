"""Reading the config file and the files its settings name, for mockd and its plugins.

A setting such as ``plugins.protobuf.descriptorSet`` is a path, and a path can name
``/dev/zero`` (read until memory runs out), a FIFO (an ``open`` that never returns, freezing
every connection) or a file far larger than any sane one. :func:`read_regular_file` accepts
regular files only, checks before and after opening (a file swapped for a FIFO in between is
still refused, and ``O_NONBLOCK`` keeps even that ``open`` from waiting) and reads at most the
cap. :func:`read_setting_file` says what is wrong in terms of the setting, never the resolved
path, which would tell whoever sees the error about the server's file system; the config file
(:mod:`mockd.configfile`) is named as the user gave it.

Plugin authors::

    from mockd.safefile import read_setting_file

    data = read_setting_file(path, "plugins.mine.schemaFile", max_bytes=1 << 20)
"""
import os
import stat

from .errors import ConfigError

__all__ = ["Refused", "check_setting_file", "read_regular_file", "read_setting_file"]


class Refused(Exception):
    """A file :func:`read_regular_file` will not read: ``str()`` says why, in words for the
    user; ``max_bytes`` is the cap when the size is the reason, else None."""

    def __init__(self, reason, max_bytes=None):
        super().__init__(reason)
        self.max_bytes = max_bytes


def _check(status, max_bytes):
    if not stat.S_ISREG(status.st_mode):
        raise Refused("not a regular file (a device, a FIFO or a folder cannot be read as one)")
    if status.st_size > max_bytes:
        raise _too_large(max_bytes)


def _too_large(max_bytes):
    mib = max_bytes / (1 << 20)
    return Refused(f"larger than {mib:g} MiB" if mib >= 1 else f"larger than {max_bytes} bytes", max_bytes)


def read_regular_file(path, max_bytes):
    """The bytes of the regular file ``path``, at most ``max_bytes`` of them, read without
    ever waiting on a device or a FIFO; the caller words the errors.

    :raises Refused: for a special file (a device, a FIFO, a folder) or one larger than
        ``max_bytes``.
    :raises OSError: as ``os.stat``, ``os.open`` and ``read`` raise it (``FileNotFoundError``...).
    """
    _check(os.stat(path), max_bytes)
    # Windows has neither flag (nor FIFOs): the config file is read there too.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as fh:
        _check(os.fstat(fd), max_bytes)  # what was opened, should it have been swapped
        data = fh.read(max_bytes + 1)  # a file growing meanwhile still stops here
    if len(data) > max_bytes:
        raise _too_large(max_bytes)
    return data


def _setting_error(exc, setting):
    if isinstance(exc, Refused):
        return ConfigError(f"{exc}, the most this setting reads" if exc.max_bytes is not None else str(exc), where=setting)
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
        _check(status, max_bytes)
    except (OSError, Refused) as exc:
        raise _setting_error(exc, setting) from None
    return status


def read_setting_file(path, setting, max_bytes):
    """The bytes of the regular file ``path``, at most ``max_bytes`` of them.

    :param setting: where the path was written (``plugins.protobuf.descriptorSet``), which
        locates the error.
    :raises ConfigError: for a missing, unreadable, special or too large file.
    """
    try:
        return read_regular_file(path, max_bytes)
    except (OSError, Refused) as exc:
        raise _setting_error(exc, setting) from None
