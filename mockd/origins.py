"""What a ``Host`` header and an ``Origin`` are, and which origins an allowed-origins list admits.

Pure functions, no Flask nor gevent: the config (``allowedOrigins``), the mock listener's
handshake check (:mod:`mockd.ws.origin`), the admin API's trust policy
(:mod:`mockd.admin.trust`) and the command line's option types all read hosts and origins
here, so that one spelling means one thing everywhere.
"""
import ipaddress
import re

__all__ = ["is_ip", "origin_listed", "parse_allowed_host", "parse_allowed_origin", "parse_host",
           "parse_origin", "parse_origin_pattern", "request_origin"]

_DEFAULT_PORTS = {"http": "80", "https": "443"}
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*")
_NAME = re.compile(r"[^\s/?#@:\[\]\\]+")  # what may stand between "//" and ":port" (besides [IPv6])


def parse_host(text):
    """``(name, port)`` of a ``Host`` header or an origin's authority, the name lowercased,
    without IPv6 brackets or a final dot (``localhost.`` is ``localhost``), an address in its
    short form (``0:0::1`` is ``::1``); port may be None.

    :raises ValueError: when ``text`` is no host name or address.
    """
    text = text.strip().lower()
    if text.startswith("["):
        name, bracket, rest = text[1:].partition("]")
        if not bracket or not is_ip(name) or (rest and not re.fullmatch(r":\d{1,5}", rest)):
            raise ValueError(f"not a host: {text!r}")
        return str(ipaddress.ip_address(name)), rest[1:] or None
    name, colon, port = text.rpartition(":") if ":" in text else (text, "", "")
    if colon and not re.fullmatch(r"\d{1,5}", port):
        raise ValueError(f"not a host: {text!r}")
    name = name[:-1] if name.endswith(".") else name
    if not _NAME.fullmatch(name):
        raise ValueError(f"not a host: {text!r}")
    return (str(ipaddress.ip_address(name)) if is_ip(name) else name), port or None


def parse_origin(text):
    """An origin in the one spelling browsers send: ``scheme://host[:port]``, lowercased,
    without the scheme's default port. ``null`` and anything with a path are not origins.

    :raises ValueError: for anything else.
    """
    scheme, sep, authority = text.strip().partition("://")
    scheme = scheme.lower()
    if not sep or not _SCHEME.fullmatch(scheme):
        raise ValueError(f"not an origin: {text!r}; write scheme://host[:port], e.g. http://localhost:3000")
    name, port = parse_host(authority)
    if port == _DEFAULT_PORTS.get(scheme):
        port = None
    host = f"[{name}]" if ":" in name else name
    return f"{scheme}://{host}" + (f":{port}" if port else "")


def request_origin(header):
    """The ``Origin`` header of a request in :func:`parse_origin`'s spelling, or None for
    ``null`` (a sandboxed page, a file), several origins or garbage: no origin to trust."""
    try:
        return parse_origin(header)
    except ValueError:
        return None


def parse_allowed_origin(text):
    """An origin as a user lists it (``--admin-allow-origin``, ``allowedOrigins``); a final
    ``/`` (as copied from the address bar) is dropped, so ``http://localhost:3000/`` reads as
    the origin a browser sends."""
    return parse_origin(text[:-1] if text.endswith("/") else text)


def parse_origin_pattern(text):
    """An ``allowedOrigins`` entry: an origin as :func:`parse_allowed_origin` reads it, or
    ``scheme://*.domain[:port]`` for every subdomain of ``domain``; in normal form.

    :raises ValueError: with the message to show, the fix included.
    """
    try:
        origin = parse_allowed_origin(text)
    except ValueError:
        raise ValueError(f"not an origin: {text!r}; write scheme://host[:port] as a browser sends it, "
                         f"e.g. https://app.example or https://*.example.com") from None
    authority = origin.partition("://")[2]
    if "*" in authority and not (authority.startswith("*.") and "*" not in authority[2:]):
        raise ValueError(f"a wildcard may only be the first label, as in https://*.example.com (got {text!r})")
    return origin


def origin_listed(origin, patterns):
    """Whether ``origin`` (from :func:`request_origin`; None is never listed) is one of
    ``patterns`` (from :func:`parse_origin_pattern`) or falls under one of their wildcards (a
    subdomain, never the domain itself)."""
    if origin is None:
        return False
    if origin in patterns:
        return True
    for pattern in patterns:
        head, star, tail = pattern.partition("*")
        if star and origin.startswith(head) and origin.endswith(tail) and len(origin) > len(head) + len(tail):
            return True
    return False


def parse_allowed_host(text):
    """An ``--admin-allow-host`` (or ``--admin-host``) value: a name or address, IPv6 with or
    without brackets; a ``:port`` is accepted and ignored."""
    bare = text.strip()
    if is_ip(bare):  # "::1" would read as host ":" and port 1
        return str(ipaddress.ip_address(bare))
    return parse_host(text)[0]


def is_ip(name):
    """Whether ``name`` is an IPv4 or IPv6 address (without brackets)."""
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True
