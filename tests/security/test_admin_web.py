"""Issue 10 item 1: web pages against the admin API of a real ``mockd serve``.

A page on any site could POST to ``127.0.0.1:4290`` as ``text/plain`` or as a form, and a page
reaching it through a DNS name it controls (DNS rebinding) could read everything. Each test
sends what a browser would send for such a page (Origin, Sec-Fetch-Site, a forged Host, a form
type), checks the documented refusal, that nothing changed, and that a bystander WebSocket
client kept being served.
"""
import http.client
import json
import socket

import pytest

from _attack import ECHO, served
from _cli import mockd
from mockd.admin.trust import Trust
from mockd.adminclient import AdminClient

IMPORT = {"config": {"version": "1.0", "mocks": [{"id": "planted", "type": "websocket",
                                                   "websocket": {"path": "/planted"}}]}, "replace": True}
EVIL = "http://evil.test"
PAGE = "http://example.test"


def admin(target, token=None):
    return AdminClient(target.admin_url, token=token, timeout=5)


def mock_ids(target, token=None):
    reply = admin(target, token).get("/mocks")
    assert reply.status == 200, reply
    return [m["id"] for m in reply.json["mocks"]]


def assert_refused(reply, status, code, *words):
    assert reply.status == status, reply
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.json["error"] == code, reply
    for word in words:
        assert word in reply.json["message"], reply.json["message"]
    assert "Access-Control-Allow-Origin" not in reply.headers


def post_raw(target, path, body, headers):
    """A POST as http.client sends it: only ``headers`` (and Host, Content-Length), no defaults."""
    connection = http.client.HTTPConnection("127.0.0.1", target.admin_port, timeout=5)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


@pytest.mark.slow
def test_bodies_are_taken_as_application_json_only(target):
    """What an HTML form or a no-preflight ``fetch`` can send is 415, and changes nothing."""
    server = target(config=ECHO)
    client = admin(server)
    body = json.dumps(IMPORT).encode()
    for content_type in ("text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
                         "multipart/form-data; boundary=x", "application/jsonp", "text/json"):
        reply = client.post("/config", data=body, headers={"Content-Type": content_type})
        assert_refused(reply, 415, "unsupported_media_type", "Content-Type: application/json")
    broadcast = json.dumps({"path": "/ws", "data": "injected"}).encode()
    assert_refused(client.post("/websocket/broadcast", data=broadcast, headers={"Content-Type": "text/plain"}),
                   415, "unsupported_media_type")
    status, answer = post_raw(server, "/config", body, {})  # no Content-Type at all
    assert (status, answer["error"]) == (415, "unsupported_media_type")
    assert mock_ids(server) == ["echo"]
    assert served(server.url("/ws"))
    # JSON with a charset, and the +json types, are JSON.
    reply = client.post("/mocks", data=b'{"type": "websocket", "id": "a", "websocket": {"path": "/a"}}',
                        headers={"Content-Type": "application/json; charset=utf-8"})
    assert reply.status == 201, reply
    reply = client.patch("/mocks/a", data=b'{"name": "renamed"}',
                         headers={"Content-Type": "application/merge-patch+json"})
    assert reply.status == 200 and reply.json["mock"]["name"] == "renamed", reply


@pytest.mark.slow
def test_pages_of_other_origins_are_refused_with_or_without_a_token(target):
    server = target("--admin-token", "s3cret", config=ECHO)
    client = admin(server, token="s3cret")
    own = server.admin_url
    for headers in ({"Origin": EVIL}, {"Origin": "http://localhost:3000"}, {"Origin": "null"},
                    {"Origin": own.replace("127.0.0.1", "localhost")},  # same address, another origin
                    {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}):
        assert_refused(client.post("/config", IMPORT, headers=headers), 403, "forbidden_origin",
                       "--admin-allow-origin")
        assert_refused(client.get("/websocket/messages", headers=headers), 403, "forbidden_origin")
        assert_refused(client.post("/websocket/broadcast", {"path": "/ws", "data": "x"}, headers=headers),
                       403, "forbidden_origin")
        assert_refused(client.get("/health", headers=headers), 403, "forbidden_origin")
    assert mock_ids(server, "s3cret") == ["echo"]
    assert served(server.url("/ws"))
    # The API's own origin, and requests no page sent (a typed URL, curl), are answered.
    assert client.get("/mocks", headers={"Origin": own, "Sec-Fetch-Site": "same-origin"}).status == 200
    assert client.get("/mocks", headers={"Sec-Fetch-Site": "none"}).status == 200
    assert admin(server).get("/health").status == 200  # public: no token needed


@pytest.mark.slow
def test_a_listed_origin_gets_cors_headers_and_its_preflight(target):
    server = target("--admin-token", "s3cret", "--admin-allow-origin", PAGE,
                    "--admin-allow-origin", "http://localhost:3000/",
                    "--admin-allow-origin", "https://*.apps.test", config=ECHO)
    client = admin(server)  # a browser page sends the token itself
    preflight = {"Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type, authorization, if-match"}
    for origin in (PAGE, "http://localhost:3000", "https://one.apps.test"):
        reply = client.request("OPTIONS", "/mocks", headers={"Origin": origin, **preflight})
        assert reply.status == 204, reply
        assert reply.headers["Access-Control-Allow-Origin"] == origin
        assert "POST" in reply.headers["Access-Control-Allow-Methods"]
        allowed = {h.strip().lower() for h in reply.headers["Access-Control-Allow-Headers"].split(",")}
        assert {"authorization", "x-api-key", "content-type", "if-match"} <= allowed
        assert "Origin" in reply.headers["Vary"]
    for origin in (EVIL, "https://apps.test", "http://one.apps.test"):  # a wildcard covers subdomains only
        assert_refused(client.request("OPTIONS", "/mocks", headers={"Origin": origin, **preflight}), 403,
                       "forbidden_origin")
    # The real request: the page reads the answer, its ETag, and also a refusal for a missing token.
    spec = {"type": "websocket", "id": "from-page", "websocket": {"path": "/page"}}
    created = client.post("/mocks", spec, headers={"Origin": PAGE, "Authorization": "Bearer s3cret"})
    assert created.status == 201, created
    assert created.headers["Access-Control-Allow-Origin"] == PAGE
    assert "ETag" in created.headers["Access-Control-Expose-Headers"]
    denied = client.get("/mocks", headers={"Origin": PAGE})
    assert denied.status == 401 and denied.headers["Access-Control-Allow-Origin"] == PAGE
    assert mock_ids(server, "s3cret") == ["echo", "from-page"]
    assert served(server.url("/ws"))


def _get_with_raw_host(target, host=None):
    """GET /config over a raw socket, HTTP/1.0, with ``Host: host`` or no Host at all."""
    header = f"Host: {host}\r\n" if host is not None else ""
    with socket.create_connection(("127.0.0.1", target.admin_port), timeout=5) as sock:
        sock.sendall(f"GET /config HTTP/1.0\r\n{header}\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return int(data.split(b" ", 2)[1])


@pytest.mark.slow
def test_a_foreign_host_is_refused_which_stops_dns_rebinding(target):
    server = target("--admin-allow-host", "mockd.test", config=ECHO)
    client = admin(server)
    port = server.admin_port
    for host in (f"evil.test:{port}", "evil.test", f"localhost.evil.test:{port}", f"127.0.0.1.nip.io:{port}",
                 "192.0.2.1", "not a host", f"[::1]x:{port}"):
        # Same-origin to itself: the page's Origin is the forged Host's, so only the Host check helps.
        headers = {"Host": host, "Origin": f"http://{host}"}
        assert_refused(client.get("/config", headers={"Host": host}), 403, "forbidden_host", "--admin-allow-host")
        assert_refused(client.get("/websocket/messages", headers=headers), 403, "forbidden_host")
        assert_refused(client.post("/config", IMPORT, headers=headers), 403, "forbidden_host")
    assert mock_ids(server) == ["echo"]
    assert served(server.url("/ws"))
    for host in (f"localhost:{port}", "LOCALHOST.", f"127.0.0.2:{port}", f"[::1]:{port}", f"mockd.test:{port}",
                 "MockD.test"):
        assert client.get("/config", headers={"Host": host}).status == 200, host
    assert _get_with_raw_host(server) == 200  # HTTP/1.0 without Host: no browser sends that
    assert _get_with_raw_host(server, "evil.test") == 403


def test_trusted_hosts_named_and_listened_on():
    trust = Trust("127.0.0.1", allow_hosts=["mockd.test:8080"])
    assert trust.host_allowed("mockd.test") and not trust.host_allowed("evil.test")
    # Listening on every address: any IP address (it cannot be rebound), still no foreign name.
    everywhere = Trust("0.0.0.0")
    assert everywhere.host_allowed("192.0.2.1:4290") and everywhere.host_allowed("[2001:db8::1]:4290")
    assert not everywhere.host_allowed("evil.test:4290")
    assert Trust("192.0.2.7").host_allowed("192.0.2.7") and not Trust("192.0.2.7").host_allowed("192.0.2.1")
    # The own origin is the request's scheme and Host, spelled as a browser spells origins.
    assert trust.same_origin("https://LOCALHOST", "https", "localhost:443")
    assert not trust.same_origin("http://localhost:4290", "https", "localhost:4290")
    assert not trust.same_origin("http://localhost:4290", "http", None)


@pytest.mark.slow
def test_a_foreign_host_is_refused_with_a_token_too(target):
    server = target("--admin-token", "s3cret", config=ECHO)
    reply = admin(server, token="s3cret").get("/websocket/messages", headers={"Host": "evil.test"})
    assert_refused(reply, 403, "forbidden_host")


@pytest.mark.parametrize("option, value, text", [
    ("--admin-allow-origin", "null", "not an origin"),
    ("--admin-allow-origin", "example.test", "not an origin"),
    ("--admin-allow-origin", "http://example.test/app", "not an origin"),
    ("--admin-allow-host", "evil.test/x", "not a host"),
])
def test_bad_option_values_are_usage_errors(option, value, text):
    result = mockd("serve", "--no-plugin-autoload", option, value, timeout=20)
    assert result.returncode == 2 and f"argument {option}: " in result.stderr and text in result.stderr
