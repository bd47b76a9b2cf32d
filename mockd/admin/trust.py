"""Which ``Host`` and ``Origin`` headers the admin API trusts: a policy, no Flask.

A web page the developer visits can send requests to ``127.0.0.1:4290``; two things keep it
out. Its ``Origin`` is another site's, and only the API's own origin and the origins listed
with ``--admin-allow-origin`` are answered. And a page that points a name it controls at
127.0.0.1 (DNS rebinding) is same-origin to itself, so the ``Host`` it sends must be one this
server answers to: ``localhost``, a loopback address, the ``--admin-host`` value, or a name
listed with ``--admin-allow-host``. An IP address cannot be rebound, so when ``--admin-host``
listens on every address (``0.0.0.0``, ``::``) any address is accepted too.

What a host or an origin is, and how the option values are read, is :mod:`mockd.origins`;
this module imports neither Flask nor gevent either.
"""
import ipaddress

from ..origins import is_ip, origin_listed, parse_allowed_host, parse_host, parse_origin, parse_origin_pattern, request_origin

__all__ = ["Trust"]

_WILDCARD_HOSTS = ("", "0.0.0.0", "::")


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
        self.origins = frozenset(parse_origin_pattern(o) for o in allow_origins)

    def host_allowed(self, host_header):
        """Whether a request naming ``host_header`` is for this server (a missing header is:
        only HTTP/1.0 clients leave it out, and every browser sends one)."""
        if host_header is None:
            return True
        try:
            name, _port = parse_host(host_header)
        except ValueError:
            return False
        return _is_loopback(name) or name in self.hosts or (self.any_address and is_ip(name))

    def same_origin(self, origin, scheme, host_header):
        """Whether ``origin`` is the API's own (``scheme://Host`` of the request)."""
        if host_header is None:
            return False
        try:
            return parse_origin(origin) == parse_origin(f"{scheme}://{host_header}")
        except ValueError:
            return False

    def cors_origin(self, origin):
        """``origin`` in its normal spelling when ``--admin-allow-origin`` lists it (or a
        wildcard entry such as ``https://*.example.com`` covers it, as in ``allowedOrigins``), else None."""
        normal = request_origin(origin)
        return normal if origin_listed(normal, self.origins) else None
