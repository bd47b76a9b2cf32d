"""Issue 10 item 15: ``skipOriginVerify`` is honoured and ``allowedOrigins`` restricts which
web pages may open a mock's WebSocket; a refused ``Origin`` gets 403 before the upgrade.

Before the fix both were accepted and ignored: any page on any site could connect.
"""
import json
import urllib.error
import urllib.request

import pytest

from _attack import served
from _cli import mockd
from _rawws import Client

CONFIG = """\
version: "1.0"
mocks:
  - id: open
    websocket: {path: /open, echoMode: true}
  - id: same
    websocket: {path: /same, echoMode: true, skipOriginVerify: false}
  - id: listed
    websocket:
      path: /listed
      echoMode: true
      maxConnections: 1
      allowedOrigins: ["https://App.Example", "http://localhost:3000/", "https://*.example.org"]
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from _attack import Target
    started = Target(config=CONFIG, tmp_path=tmp_path_factory.mktemp("origin"))
    yield started
    started.stop()


def _handshake(server, path, origin=None):
    """(status code, body) of a handshake on ``path`` sending ``origin`` (None: no header)."""
    client = Client(server.port, path, handshake=False)
    try:
        headers = [] if origin is None else [f"Origin: {origin}"]
        status_line, _headers, body = client.request(headers=headers)
        return int(status_line.split()[1]), body.decode("utf-8", "replace")
    finally:
        client.sock.close()


@pytest.mark.parametrize("origin", [None, "https://evil.example", "null", "http://127.0.0.1:1"])
def test_by_default_any_origin_is_accepted(server, origin):
    assert _handshake(server, "/open", origin)[0] == 101


SAME_HOST = [  # skipOriginVerify: false
    (None, 101),                          # no Origin: not a browser (gorilla's checkSameOrigin)
    ("http://127.0.0.1", 101),            # the client sends "Host: 127.0.0.1"
    ("HTTPS://127.0.0.1", 101),           # host[:port] only, case-insensitive, as upstream
    ("http://127.0.0.1:8080", 403),       # another port is another host[:port]
    ("http://evil.example", 403),
    ("null", 403),
    ("http://127.0.0.1.evil.example", 403),
]
LISTED = [  # allowedOrigins
    (None, 101),
    ("https://app.example", 101),
    ("https://APP.EXAMPLE:443", 101),      # default port and case do not matter
    ("http://localhost:3000", 101),
    ("https://a.example.org", 101),        # the wildcard: any subdomain...
    ("https://a.b.example.org", 101),
    ("https://example.org", 403),          # ...but not the domain itself
    ("https://evil-example.org", 403),
    ("http://a.example.org", 403),         # nor another scheme
    ("https://app.example:8443", 403),
    ("http://app.example", 403),
    ("https://app.example.evil.test", 403),
    ("https://app.example, https://evil.test", 403),
    ("null", 403),
]


@pytest.mark.parametrize("path, rule, origin, status",
                         [("/same", "skipOriginVerify", *case) for case in SAME_HOST]
                         + [("/listed", "allowedOrigins", *case) for case in LISTED])
def test_a_refused_origin_gets_403_naming_the_rule(server, path, rule, origin, status):
    got, body = _handshake(server, path, origin)
    assert got == status
    if status == 403:
        assert rule in body


def test_refused_handshakes_take_no_connection_slot(server):
    # /listed has maxConnections: 1; refusals come before admission.
    for _ in range(5):
        assert _handshake(server, "/listed", "https://evil.example")[0] == 403
    client = Client(server.port, "/listed")  # connects and upgrades
    try:
        client.send_text("hi")
        assert client.recv_data() == "hi"
    finally:
        client.close()
    assert served(server.url("/open"))


@pytest.mark.slow
@pytest.mark.parametrize("origins, index, message", [
    (["not an origin"], 0, "not an origin"),
    (["https://ok.example", "https://a.example/path"], 1, "not an origin"),
    (["https://a*.example.com"], 0, "wildcard"),
    (["*"], 0, "not an origin"),
    ([42], 0, "expected an origin string"),
])
def test_bad_allowed_origins_are_located_config_errors(tmp_path, origins, index, message):
    path = tmp_path / "mockd.json"
    path.write_text(json.dumps({"version": "1.0", "mocks": [
        {"id": "m", "websocket": {"path": "/m", "allowedOrigins": origins}}]}), encoding="utf-8")
    result = mockd("check", "-c", path)
    assert result.returncode == 2
    assert f"mocks[0].websocket.allowedOrigins[{index}]" in result.stderr and message in result.stderr
    assert "Traceback" not in result.stderr


def test_the_admin_api_validates_and_applies_origins(server):
    def put(origins):
        body = {"type": "websocket", "websocket": {"path": "/api", "echoMode": True, "allowedOrigins": origins}}
        request = urllib.request.Request(f"{server.admin_url}/mocks/api", data=json.dumps(body).encode(),
                                         method="PUT", headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as exc:
            return exc.code, json.load(exc)

    request = urllib.request.Request(f"{server.admin_url}/mocks", method="POST",
                                     headers={"Content-Type": "application/json"},
                                     data=json.dumps({"id": "api", "type": "websocket",
                                                      "websocket": {"path": "/api", "echoMode": True}}).encode())
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status in (200, 201)
    status, body = put(["ftp//nope"])
    assert status == 400 and "allowedOrigins[0]" in body["message"], body
    status, _ = put(["https://app.example"])
    assert status == 200
    assert _handshake(server, "/api", "https://app.example")[0] == 101
    assert _handshake(server, "/api", "https://evil.example")[0] == 403
