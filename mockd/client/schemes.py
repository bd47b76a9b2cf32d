"""Telling a ``ws://`` URL that reaches a TLS server (or a ``wss://`` one that reaches a plain
server) from other connection failures.

Neither mistake has an error of its own: a TLS server drops (or alerts) a plain HTTP request,
which the client reports as a lost connection, and a plain server answers a TLS ClientHello
with an HTTP 400 that OpenSSL reads as a record of "wrong version number". After such a failure
the port is asked once more, the other way round: a completed TLS handshake, or an answer
starting with ``HTTP/``, settles which scheme it speaks, and the message names the URL to use.
"""
import socket
import ssl
import urllib.parse

PROBE_TIMEOUT = 3.0  # seconds; a probe only follows a failure, so it must not add much to it


def _endpoint(url):
    """``(host, port, URL with the other scheme)``, or None for a URL without a host. The
    port is written out when the URL had none: ``wss://host`` would mean 443, not 80."""
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname:
        return None
    netloc = parts.netloc if port else f"{parts.netloc}:{443 if parts.scheme == 'wss' else 80}"
    other = urllib.parse.urlunsplit(parts._replace(scheme="ws" if parts.scheme == "wss" else "wss",
                                                   netloc=netloc))
    return parts.hostname, port or int(netloc.rsplit(":", 1)[1]), other


def _speaks_tls(host, port, timeout):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # Only whether the server speaks TLS matters here, not whom it is: nothing is sent.
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            with context.wrap_socket(raw, server_hostname=host):
                return True
    except (OSError, ValueError):
        return False


def _speaks_plain_http(host, port, timeout):
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n")
            answer = b""
            while len(answer) < 5:
                chunk = sock.recv(5 - len(answer))
                if not chunk:
                    break
                answer += chunk
            return answer == b"HTTP/"
    except OSError:
        return False


def other_scheme_hint(url, timeout=PROBE_TIMEOUT):
    """``"URL looks like a TLS (wss://) server; use wss://..."`` (or the reverse) when the
    server at ``url`` speaks the other scheme; None when it does not, or cannot be told."""
    endpoint = _endpoint(url)
    if endpoint is None:
        return None
    host, port, other = endpoint
    if url.startswith("ws://") and _speaks_tls(host, port, timeout):
        return f"{url} looks like a TLS (wss://) server; use {other}"
    if url.startswith("wss://") and _speaks_plain_http(host, port, timeout):
        return f"{url} looks like a plain (ws://) server, without TLS; use {other}"
    return None
