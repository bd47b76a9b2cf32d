"""The listening sockets of ``mockd serve``, and how their addresses are written.

``::`` (the default ``--host``) is one IPv6 socket with ``IPV6_V6ONLY`` off, which takes IPv4
clients too: the banner says ``localhost``, which Node 17+ and others resolve to ``::1`` first
and the rest to ``127.0.0.1``, so both must reach it. Where the system has no IPv6 that falls
back to ``0.0.0.0``. Any other address, ``0.0.0.0`` included, is bound as given.

``mockd serve --workers N`` (mockd/workers.py) binds the same ports in every worker with
``SO_REUSEPORT`` (``listen(..., reuse_port=True)``): the kernel spreads new connections over the
workers' sockets. The supervisor picks the ports first with :func:`reserve`, whose bound socket
(never listening, so it takes no connection) keeps them while a worker restarts.
"""
import errno
import logging
import socket

from gevent import socket as gsocket

from .errors import MockdError

__all__ = ["ListenError", "address", "bound_host", "listen", "listen_failure", "reserve", "unbracket",
           "url_host"]

log = logging.getLogger("mockd.server")

ANY = "::"
# What bind() says on a system without IPv6 (no kernel support, IPv6 disabled, no dual-stack
# sockets): only these fall back to IPv4. "in use" and "permission denied" do not: IPv4 would
# fail alike, or worse succeed while another process holds the IPv6 side of the port.
_NO_IPV6 = frozenset({errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL, errno.EPROTONOSUPPORT, errno.ENOPROTOOPT,
                      errno.EINVAL})


class ListenError(MockdError):
    """A listener could not bind. ``listener`` is ``"mock"`` or ``"admin"``; ``errno`` the OS's.
    The command line adds which option moves that listener (mockd/bootstrap.py)."""

    NAMES = {"mock": "mock listener", "admin": "admin API"}

    def __init__(self, listener, host, port, exc):
        self.listener, self.host, self.port = listener, host, port
        self.errno = exc.errno
        self.unresolved = isinstance(exc, socket.gaierror)  # a --host name that does not resolve
        self.reason = exc.strerror or str(exc)
        super().__init__(f"cannot listen on {address(host, port)} ({self.NAMES[listener]}): {self.reason}")


def unbracket(host):
    """``[::1]`` as ``::1``: users copy addresses out of URLs; ``""`` is every address, as in gevent."""
    host = (host or ANY).strip()
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def url_host(host):
    """``host`` as written in a URL or before ``:port``: an IPv6 address in brackets."""
    return f"[{host}]" if ":" in host else host


def address(host, port):
    return f"{url_host(unbracket(host))}:{port}"


def listen(host, port, backlog, reuse_port=False):
    """A listening gevent socket on ``host`` (see the module docstring for ``::``) and ``port``
    (0 picks a free one); ``reuse_port``: with ``SO_REUSEPORT``, next to the other workers'.

    :raises OSError: from ``bind()``; the socket is closed.
    """
    return _open(gsocket.socket, host, port, backlog, reuse_port)


def reserve(host, port):
    """``(socket, port)``: a plain socket bound, not listening, with ``SO_REUSEPORT`` to
    ``host`` and ``port`` (0: a free one), for the workers to bind next to it.

    The port is first bound without ``SO_REUSEPORT``: that fails while any other process (another
    ``mockd serve --workers`` too) holds it, which joining with ``SO_REUSEPORT`` would not.

    :raises OSError: from ``bind()``.
    """
    probe = _open(socket.socket, host, port, None, False)
    try:
        port = probe.getsockname()[1]
    finally:
        probe.close()
    sock = _open(socket.socket, host, port, None, True)
    return sock, sock.getsockname()[1]


def _open(factory, host, port, backlog, reuse_port):
    host = unbracket(host)
    if host == ANY:
        try:
            return _listen(factory, socket.AF_INET6, (ANY, port), backlog, reuse_port, dual_stack=True)
        except OSError as exc:
            if exc.errno not in _NO_IPV6:
                raise
            log.warning("no IPv6 here (%s): listening on IPv4 only (0.0.0.0)", exc.strerror or exc)
            return _listen(factory, socket.AF_INET, ("0.0.0.0", port), backlog, reuse_port)
    # A name such as "localhost" binds its IPv4 address, as gevent's own listener does.
    return _listen(factory, socket.AF_INET6 if ":" in host else socket.AF_INET, (host, port), backlog, reuse_port)


def bound_host(host, sock):
    """The address ``listen(host, ...)`` bound ``sock`` to: ``host``, or ``0.0.0.0`` after the fallback."""
    return "0.0.0.0" if host == ANY and sock.family == socket.AF_INET else host


def _listen(factory, family, addr, backlog, reuse_port, dual_stack=False):
    """A socket of ``factory`` bound to ``addr``, and listening unless ``backlog`` is None."""
    sock = factory(family, socket.SOCK_STREAM)
    try:
        # As gevent's listeners do: a restart binds at once though old connections sit in TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if dual_stack:  # set, not left to the system default (net.ipv6.bindv6only, BSDs: on)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(addr)
        if backlog is not None:
            sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    if backlog is not None:
        sock.setblocking(False)
    return sock


def listen_failure(exc):
    """``exc``, a :class:`ListenError`, as a MockdError naming the option to change."""
    port_option, host_option = {"mock": ("-p/--port", "--host"),
                                "admin": ("-a/--admin-port", "--admin-host")}[exc.listener]
    short = port_option.split("/")[0]
    if exc.errno == errno.EADDRINUSE:
        hint = f"choose another port with {port_option} ({short} 0 picks a free one)"
        if exc.listener == "admin":
            hint += ", or turn the admin API off with --no-admin"
    elif exc.errno == errno.EACCES and 0 < exc.port < 1024:
        hint = f"ports below 1024 need privileges: choose {port_option} 1024 or above ({short} 0 picks a free one)"
    elif exc.unresolved:
        hint = f"check the name, or give an address with {host_option}"
    elif exc.errno == errno.EADDRNOTAVAIL:
        hint = f"{exc.host} is no address of this machine: choose another with {host_option}"
    else:
        return MockdError(str(exc))
    return MockdError(f"{exc}; {hint}")
