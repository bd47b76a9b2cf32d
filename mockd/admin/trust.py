"""Which ``Host`` and ``Origin`` headers the admin API trusts: pure functions, no Flask.

A web page the developer visits can send requests to ``127.0.0.1:4290``; two things keep it
out. Its ``Origin`` is another site's, and only the API's own origin and the origins listed
with ``--admin-allow-origin`` are answered. And a page that points a name it controls at
127.0.0.1 (DNS rebinding) is same-origin to itself, so the ``Host`` it sends must be one this
server answers to: ``localhost``, a loopback address, the ``--admin-host`` value, or a name
listed with ``--admin-allow-host``. An IP address cannot be rebound, so when ``--admin-host``
listens on every address (``0.0.0.0``, ``::``) any address is accepted too.

``mockd.cli`` builds its option types from these functions, so this module imports neither
Flask nor gevent.
"""
import ipaddress
import re

__all__ = ["Trust", "parse_allowed_host", "parse_allowed_origin", "parse_host", "parse_origin"]

_DEFAULT_PORTS = {"http": "80", "https": "443"}
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*")
_NAME = re.compile(r"[^\s/?#@:\[\]\\]+")  # what may stand between "//" and ":port" (besides [IPv6])
_WILDCARD_HOSTS = ("", "0.0.0.0", "::")


def parse_host(text):
    """``(name, port)`` of a ``Host`` header or an origin's authority, the name lowercased,
    without IPv6 brackets or a final dot (``localhost.`` is ``localhost``), an address in its
    short form (``0:0::1`` is ``::1``); port may be None.

    :raises ValueError: when ``text`` is no host name or address.
    """
    text = text.strip().lower()
    if text.startswith("["):
        name, bracket, rest = text[1:].partition("]")
        if not bracket or not _is_ip(name) or (rest and not re.fullmatch(r":\d{1,5}", rest)):
            raise ValueError(f"not a host: {text!r}")
        return str(ipaddress.ip_address(name)), rest[1:] or None
    name, colon, port = text.rpartition(":") if ":" in text else (text, "", "")
    if colon and not re.fullmatch(r"\d{1,5}", port):
        raise ValueError(f"not a host: {text!r}")
    name = name[:-1] if name.endswith(".") else name
    if not _NAME.fullmatch(name):
        raise ValueError(f"not a host: {text!r}")
    return (str(ipaddress.ip_address(name)) if _is_ip(name) else name), port or None


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


def parse_allowed_origin(text):
    """An ``--admin-allow-origin`` value; a final ``/`` (as copied from the address bar) is
    dropped, so ``http://localhost:3000/`` reads as the origin a browser sends."""
    return parse_origin(text[:-1] if text.endswith("/") else text)


def parse_allowed_host(text):
    """An ``--admin-allow-host`` (or ``--admin-host``) value: a name or address, IPv6 with or
    without brackets; a ``:port`` is accepted and ignored."""
    bare = text.strip()
    if _is_ip(bare):  # "::1" would read as host ":" and port 1
        return str(ipaddress.ip_address(bare))
    return parse_host(text)[0]


def _is_ip(name):
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _is_loopback(name):
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class Trust:
    """The admin API's ``Host`` and ``Origin`` policy for one server.

    :param admin_host: the ``--admin-host`` the API listens on.
    :param allow_hosts: further names a ``Host`` header may give (``--admin-allow-host``).
    :param allow_origins: origins of web pages that may call the API (``--admin-allow-origin``).
    """

    def __init__(self, admin_host, allow_hosts=(), allow_origins=()):
        self.any_address = admin_host.strip("[]").lower() in _WILDCARD_HOSTS
        self.hosts = frozenset(parse_allowed_host(h) for h in allow_hosts)
        if not self.any_address:
            try:
                self.hosts |= {parse_allowed_host(admin_host)}
            except ValueError:
                pass  # no name a Host header could give: binding it fails with its own error
        self.origins = frozenset(parse_allowed_origin(o) for o in allow_origins)

    def host_allowed(self, host_header):
        """Whether a request naming ``host_header`` is for this server (a missing header is:
        only HTTP/1.0 clients leave it out, and every browser sends one)."""
        if host_header is None:
            return True
        try:
            name, _port = parse_host(host_header)
        except ValueError:
            return False
        return _is_loopback(name) or name in self.hosts or (self.any_address and _is_ip(name))

    def same_origin(self, origin, scheme, host_header):
        """Whether ``origin`` is the API's own (``scheme://Host`` of the request)."""
        if host_header is None:
            return False
        try:
            return parse_origin(origin) == parse_origin(f"{scheme}://{host_header}")
        except ValueError:
            return False

    def cors_origin(self, origin):
        """``origin`` in its normal spelling when ``--admin-allow-origin`` lists it, else None."""
        try:
            normal = parse_origin(origin)
        except ValueError:
            return None
        return normal if normal in self.origins else None
