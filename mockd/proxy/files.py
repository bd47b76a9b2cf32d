"""Recording files: read ours or a HAR, write either, atomically.

Ours is JSON: ``{"recordings": [document, ...]}``, what :func:`write_recordings` always writes
(one session or many, so that a script reads ``.recordings[0]`` whatever the count), or a
single recording document (``GET /recordings/{id}`` saved as is). A HAR is recognised by its
``.har`` name or its ``log.entries``. Every problem is a :class:`~mockd.errors.ConfigError`
naming the file and the place in it (``log.entries[3]._webSocketMessages[7].data``,
``recordings[0].frames[2].type``), whether the file is given on the command line
(``mockd convert``) or named by a setting (``replay.recording``).
"""
import json
import os
import secrets
import stat

from ..errors import ConfigError, MockdError
from ..safefile import Refused, read_regular_file, read_setting_file
from .har import recordings_from_har, recordings_to_har, sendable_text
from .recording import Recording

__all__ = ["MAX_RECORDING_BYTES", "load_recordings", "write_atomically", "write_recordings"]

#: The largest recording file read: a long session of a chatty feed is tens of MB; a larger
#: file is more likely a mistake (a capture of a whole day, a device), and is parsed in memory.
MAX_RECORDING_BYTES = 256 << 20


def load_recordings(path, where=None, source=None):
    """The recordings of the file ``path``: ours (one document or ``{"recordings": [...]}``) or
    a HAR.

    :param where: the setting that named the file (``mocks[0].websocket.replay.recording``):
        then a missing, unreadable, special or too large file is reported there, as
        :func:`mockd.safefile.read_setting_file` does, without the resolved path.
    :param source: how errors inside the file name it (default: ``path`` as given).
    :raises ConfigError: located in the file, for anything that is not a recording.
    """
    name = source or os.fspath(path)
    if where is not None:
        raw = read_setting_file(path, where, MAX_RECORDING_BYTES)
    else:
        raw = _read(path, name)
    document = _parse(raw, name)
    if name.lower().endswith(".har") or (isinstance(document, dict) and "log" in document):
        return recordings_from_har(document, name)
    if isinstance(document, dict) and "recordings" in document:
        items = document["recordings"]
        if not isinstance(items, list):
            raise ConfigError("must be a list of recordings", source=name, where="recordings")
        places = [f"recordings[{index}]" for index in range(len(items))]
    elif isinstance(document, dict) and "frames" in document:
        items, places = [document], [""]
    else:
        raise ConfigError("neither a mockd recording (an object with 'frames', or {\"recordings\": [...]}) nor a "
                          "HAR (an object with log.entries); give a file written by 'mockd record', saved from "
                          "GET /recordings/{id}, or exported from Chrome DevTools", source=name)
    recordings = []
    for item, place in zip(items, places):
        try:
            recording = Recording.from_json(item, place)
        except ConfigError as exc:
            raise ConfigError(exc.message, source=name, where=(exc.where or "").lstrip(".") or None) from None
        _check_text(recording, place, name)
        recordings.append(recording)
    return recordings


def _read(path, name):
    try:
        return read_regular_file(path, MAX_RECORDING_BYTES)
    except FileNotFoundError:
        raise ConfigError("no such file; give the path of a recording (.json) or a HAR (.har)", source=name) from None
    except Refused as exc:
        cap = ", the most a recording file may have" if exc.max_bytes is not None else ""
        raise ConfigError(f"cannot read it: {exc}{cap}", source=name) from None
    except OSError as exc:
        raise ConfigError(f"cannot read it: {exc.strerror or type(exc).__name__}", source=name) from None


def _no_constant(name):
    raise ValueError(f"{name} is not JSON")


def _parse(raw, name):
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 (the byte 0x{raw[exc.start:exc.start + 1].hex()} at offset {exc.start}); "
                          "recordings and HARs are UTF-8 JSON", source=name) from None
    if not text.strip():
        raise ConfigError("the file is empty", source=name)
    try:
        return json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"not JSON: {exc.msg}", source=name, where=f"line {exc.lineno}, column {exc.colno}") from None
    except ValueError as exc:  # NaN, Infinity
        raise ConfigError(f"not JSON: {exc}", source=name) from None
    except RecursionError:
        raise ConfigError("not a recording: JSON nested thousands of levels deep", source=name) from None


def _check_text(recording, place, name):
    for index, frame in enumerate(recording.frames):
        if frame.type != "binary" and frame.data:
            frame.data = sendable_text(frame.data, f"{place}.frames[{index}].data".lstrip("."), name)


def write_recordings(path, recordings):
    """Write ``recordings`` to ``path``: a HAR when it ends in ``.har``, else ours
    (``{"recordings": [...]}``, also for one). The file is replaced atomically.

    :raises MockdError: when the file cannot be written, naming it.
    """
    if os.fspath(path).lower().endswith(".har"):
        document = recordings_to_har(recordings)
    else:
        document = {"recordings": [recording.to_json() for recording in recordings]}
    write_atomically(path, (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))


def check_writable(path):
    """Fail now, naming the file, when ``path`` could not be written later (its folder is
    missing or read-only, or it is a folder): ``mockd record`` would lose every session."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise MockdError(f"cannot write the recording to {path}: it is a folder")
    if not os.path.isdir(folder):
        raise MockdError(f"cannot write the recording to {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise MockdError(f"cannot write the recording to {path}: folder {folder} is not writable")


def write_atomically(path, data):
    """Replace the file ``path`` with ``data`` (bytes) at once: a reader, or a crash meanwhile,
    sees the old file or the new one, never half of it. An existing file keeps its mode.

    :raises MockdError: naming the file, for a missing folder, a read-only one, a full disk...
    """
    path = os.fspath(path)
    folder, base = os.path.split(os.path.abspath(path))
    temp = os.path.join(folder, f".{base}.{secrets.token_hex(4)}.tmp")
    try:
        try:
            mode = stat.S_IMODE(os.stat(path).st_mode)
        except FileNotFoundError:
            mode = None
        # 0o666 less the umask, as open() would create it (mkstemp's 0o600 would stay after the rename).
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            if mode is not None:
                os.chmod(temp, mode)
            os.replace(temp, path)
        except BaseException:
            _remove(temp)
            raise
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise MockdError(f"{path}: cannot write it: {reason}; check that its folder exists and is writable") from None


def _remove(temp):
    try:
        os.unlink(temp)
    except OSError:
        pass
