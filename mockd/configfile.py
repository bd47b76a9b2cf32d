"""Reading a config file: its text, ``$VAR`` expansion, YAML or JSON, then validation.

Reading and parsing (:func:`read_config_data`, :func:`parse_config_data`) run no plugin code,
so a server reloading can do them in a worker thread; :func:`load_config` and
:func:`parse_config_text` then validate the data into a :class:`~mockd.config.Config` with
:func:`mockd.config.build_config`. ``mockd.config`` re-exports these names.
"""
import io
import json
import logging
import os
import re

import yaml

from .depth import MAX_NESTING, deeper_than
from .errors import ConfigError
from .safefile import Refused, read_regular_file
from .yamlerrors import explain as explain_yaml_error
from .yamlload import load_yaml

log = logging.getLogger("mockd.config")

__all__ = ["MAX_CONFIG_BYTES", "expand_env", "load_config", "parse_config_data", "parse_config_text",
           "read_config_data"]

#: The largest config file read. A config of a thousand mocks is a few MB, and PyYAML parses
#: about 200 KB a second: a larger file is a mistake (a log, a dump, a device) to name at once.
MAX_CONFIG_BYTES = 64 << 20

_ENV_REF = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def expand_env(text, environ=None):
    """Expand ``$VAR``, ``${VAR}`` and ``${VAR:-default}``; ``$$`` is a literal ``$``.

    Unlike Go's ``os.ExpandEnv``, an undefined variable without a default is left as it is:
    regexes such as ``^total$`` or ``\\$price`` must survive, and a visible ``${PORT}`` in an
    error beats a silently empty value.
    """
    environ = os.environ if environ is None else environ

    def replace(m):
        if m.group(0) == "$$":
            return "$"
        name = m.group(1) or m.group(3)
        if name in environ:
            return environ[name]
        if m.group(2) is not None:
            return m.group(2)
        return m.group(0)

    return _ENV_REF.sub(replace, text)


def load_config(path, registry, offload=None):
    """Read, expand, parse and validate a config file. Raises :class:`ConfigError`.

    :param offload: ``offload(func, *args)`` calls ``func(*args)`` elsewhere, e.g. in a worker
        thread: the reading and parsing run through it (PyYAML takes seconds for a large file,
        a server reloading must keep serving meanwhile); validation runs plugin code, so it
        stays with the caller.
    """
    source = os.fspath(path)
    data = offload(read_config_data, source) if offload else read_config_data(source)
    return _build_located(data, registry, source)


def read_config_data(source):
    """The parsed but unvalidated document of a config file; no plugin code runs here.

    The file is read as :mod:`mockd.safefile` reads any file a config names: a device or a
    FIFO (``-c /dev/zero``) is refused at once instead of read forever or waited on.
    """
    try:
        raw = read_regular_file(source, MAX_CONFIG_BYTES)
        text = io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8").read()  # as open() reads it
    except FileNotFoundError:
        raise ConfigError("configuration file not found", source=source) from None
    except Refused as exc:
        cap = ", the most a config file may have" if exc.max_bytes is not None else ""
        raise ConfigError(f"cannot read configuration file: {exc}{cap}; name a YAML or JSON file",
                          source=source) from None
    except UnicodeDecodeError:
        raise _not_utf8(raw, source) from None
    except OSError as exc:
        raise ConfigError(f"cannot read configuration file: {exc}", source=source) from None
    return parse_config_data(text, source)


def _not_utf8(raw, source):
    """Where the first byte that is not UTF-8 is, as an editor counts: line and character."""
    try:
        raw.decode("utf-8")
        start = len(raw)  # not reached: TextIOWrapper decodes with the same codec
    except UnicodeDecodeError as exc:
        start = exc.start
    before = raw[:start].decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    line_start = before.rfind("\n") + 1
    return ConfigError(f"the byte 0x{raw[start:start + 1].hex()} here is not UTF-8 (is the file Latin-1 or "
                       f"Windows-1252?); save the file as UTF-8", source=source,
                       where=f"line {before.count(chr(10)) + 1}, column {len(before) - line_start + 1}")


def parse_config_data(text, source="<config>"):
    """Expand and parse a config text (JSON or YAML) into plain data, not validated."""
    if not text.strip():
        raise ConfigError("configuration file is empty", source=source)
    text = expand_env(text)
    is_json = not source.endswith((".yaml", ".yml")) and text.lstrip().startswith(("{", "["))
    try:
        if not is_json:
            return load_yaml(text, source)  # CoreLoader refuses too deep a document itself
        data = json.loads(text)
        too_deep = deeper_than(data, MAX_NESTING)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"invalid JSON: {exc.msg}", source=source,
                          where=f"line {exc.lineno}, column {exc.colno}") from None
    except RecursionError:  # json.loads recurses per level: 10,000 nested arrays end here
        too_deep = True
    except yaml.YAMLError as exc:
        where, message = explain_yaml_error(exc, text)
        raise ConfigError(message, source=source, where=where) from None
    if too_deep:  # validating and rendering recurse too: the YAML limit holds for JSON
        raise ConfigError(f"invalid JSON: nested deeper than {MAX_NESTING} levels; flatten the structure "
                          "(a real config is rarely 20 levels deep)", source=source)
    return data


def parse_config_text(text, registry, source="<config>"):
    """Expand, parse and validate a config text; ``source`` names it in errors."""
    return _build_located(parse_config_data(text, source), registry, source)


def _build_located(data, registry, source):
    from .config import build_config  # mockd.config re-exports this module's names
    try:
        config = build_config(data, registry, source)
    except ConfigError as exc:
        raise exc.located(source=source) from None
    for warning in config.warnings:  # mockd serve logs them (also on SIGHUP); mockd check prints them
        log.warning("%s", warning)
    return config
