"""The ``websocket.proxy`` block, validated at load into a :class:`ProxySpec`.

.. code-block:: yaml

   proxy:
     url: wss://api.example.test/feed
     mode: fallback            # or passthrough
     headers: {Authorization: "Bearer ${TOKEN}"}
     forwardHeaders: [Cookie]
     tls: {ca: ca.pem, insecure: false}
     record: true
"""
import os
from dataclasses import dataclass
from typing import Optional
from urllib.parse import urlsplit

from .. import schema
from ..errors import ConfigError
from ..schema import join_where

__all__ = ["MODES", "PROXY_KEYS", "ProxySpec", "build_proxy"]

PROXY_KEYS = ("url", "mode", "headers", "forwardHeaders", "tls", "record")
TLS_KEYS = ("ca", "insecure")
MODES = ("fallback", "passthrough")
#: Headers of the upstream handshake that websocket-client writes itself.
_OWN_HEADERS = {"host", "upgrade", "connection", "sec-websocket-key", "sec-websocket-version",
                "sec-websocket-protocol", "sec-websocket-extensions", "origin"}


@dataclass(frozen=True)
class ProxySpec:
    url: str
    passthrough: bool = False
    headers: tuple = ()           # (name, value) added to the upstream handshake
    forward_headers: tuple = ()   # names copied from the client's handshake (lower case)
    ca: Optional[str] = None      # a CA file (absolute) for wss://; None: the system's
    insecure: bool = False        # wss:// without certificate checks
    record: bool = False


def build_proxy(spec, build, where):
    """``ProxySpec`` of the ``proxy`` block at ``where``, or None when there is none."""
    if spec is None:
        return None
    spec = schema.mapping(spec, where)
    schema.check_keys(spec, PROXY_KEYS, where)
    url = schema.string(spec, "url", where, required=True)
    try:
        parts = urlsplit(url)
        port = parts.port  # raises for a port out of range or not a number
    except ValueError as exc:  # "Invalid IPv6 URL" for "ws://[x": found by the API's fuzz test
        raise ConfigError(f"url is not a URL ({exc}): {url!r}", where=join_where(where, "url")) from None
    if parts.scheme not in ("ws", "wss") or not parts.hostname or port == 0:
        raise ConfigError(f"url must be a ws:// or wss:// URL with a host, not {url!r}", where=join_where(where, "url"))
    mode = schema.choice(spec, "mode", where, MODES, default="fallback")
    headers = []
    at = join_where(where, "headers")
    for name, value in schema.mapping(spec.get("headers") or {}, at).items():
        if not isinstance(name, str) or name.lower() in _OWN_HEADERS:
            raise ConfigError(f"{name!r} cannot be set: the proxy writes the handshake headers itself",
                              where=join_where(at, name))
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ConfigError("a header value is a string", where=join_where(at, name))
        headers.append((name, str(value)))
    at = join_where(where, "forwardHeaders")
    forward = []
    for index, name in enumerate(schema.sequence(spec.get("forwardHeaders") or [], at)):
        if not isinstance(name, str) or not name or name.lower() in _OWN_HEADERS:
            raise ConfigError(f"{name!r} cannot be forwarded (a header name the proxy does not write itself)",
                              where=join_where(at, index))
        forward.append(name.lower())
    at = join_where(where, "tls")
    tls = schema.mapping(spec.get("tls") or {}, at)
    schema.check_keys(tls, TLS_KEYS, at)
    ca = schema.string(tls, "ca", at)
    if ca:
        build.file_setting(ca, join_where(at, "ca"))
        base = os.path.dirname(os.path.abspath(build.source)) if build.source else os.getcwd()
        ca = os.path.join(base, ca)
        if not os.path.isfile(ca):
            raise ConfigError(f"CA file {ca} not found", where=join_where(at, "ca"))
    return ProxySpec(url=url, passthrough=mode == "passthrough", headers=tuple(headers),
                     forward_headers=tuple(forward), ca=ca or None,
                     insecure=schema.boolean(tls, "insecure", at, default=False),
                     record=schema.boolean(spec, "record", where, default=False))
