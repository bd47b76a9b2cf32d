"""Helpers for the tests that run ``python -m mockd`` as real subprocesses.

Every process gets a timeout and is always ended (terminate, then kill). Only 127.0.0.1.
"""
import datetime
import os
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
# The host is a name, an IPv4 address or a bracketed IPv6 one ([::1]).
MOCK_URL = re.compile(r"Mock server: (wss?)://(?:\[[^\]\s]+\]|[^:/\s]+):(\d+)")
ADMIN_URL = re.compile(r"Admin API: +(https?)://(?:\[[^\]\s]+\]|[^:/\s]+):(\d+)")


def env(**extra):
    """This environment for ``python -m mockd``: the checkout on PYTHONPATH, no MOCKD_* settings."""
    environ = dict(os.environ)
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), environ.get("PYTHONPATH")]))
    environ["PYTHONUNBUFFERED"] = "1"
    for name in ("MOCKD_CONFIG", "MOCKD_ADMIN_URL", "MOCKD_ADMIN_TOKEN"):
        environ.pop(name, None)
    environ.update(extra)
    return environ


def mockd(*args, input=None, timeout=20, cwd=ROOT, **env_extra):
    """Run ``python -m mockd ARGS`` to completion; CompletedProcess with text output."""
    return subprocess.run([sys.executable, "-m", "mockd", *map(str, args)], input=input, capture_output=True,
                          text=True, timeout=timeout, env=env(**env_extra), cwd=cwd)


def popen(*args, cwd=ROOT, **env_extra):
    return subprocess.Popen([sys.executable, "-m", "mockd", *map(str, args)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(**env_extra),
                            cwd=cwd)


def end(proc, timeout=5):
    """terminate(), then kill() if it does not go; returns (stdout, stderr) left unread."""
    if proc.poll() is None:
        proc.terminate()
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate(timeout=timeout)
    return out, err


def read_until(stream, pattern, timeout=15.0):
    """Read lines from ``stream`` until one matches ``pattern``; (match, lines read). The test
    process is patched by gevent, so the read is cooperative and ``gevent.Timeout`` bounds it."""
    import gevent
    seen = []
    with gevent.Timeout(timeout, False):
        for line in iter(stream.readline, ""):
            seen.append(line)
            found = re.search(pattern, line)
            if found:
                return found, seen
    raise AssertionError(f"no line matching {pattern!r} within {timeout}s; got {''.join(seen)!r}")


class Serve:
    """``python -m mockd serve ... -p 0`` as a subprocess; ``port`` read from the banner."""

    def __init__(self, *args, **env_extra):
        self.proc = popen("serve", "--host", "127.0.0.1", "-p", "0", *args, **env_extra)
        found, self.banner = read_until(self.proc.stdout, MOCK_URL.pattern)
        self.scheme, self.port = found.group(1), int(found.group(2))

    def url(self, path="/ws"):
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def stop(self):
        return end(self.proc)


def self_signed_cert(directory):
    """A certificate for localhost and 127.0.0.1 and its key, as PEM files: (cert, key)."""
    cert_path, key_path = pathlib.Path(directory) / "cert.pem", pathlib.Path(directory) / "key.pem"
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                        "-keyout", str(key_path), "-out", str(cert_path)], check=True, capture_output=True,
                       timeout=60)
        return cert_path, key_path
    import ipaddress
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path
