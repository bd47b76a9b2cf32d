"""``mockd serve`` with --tls-cert/--tls-key (wss:// and https), --pid-file, --log-format json,
and config reload on SIGHUP, as real subprocesses; plus ``MockServer.reload`` in process."""
import json
import os
import signal
import ssl
import urllib.request

import pytest
import websocket

from _cli import Serve, mockd, read_until, self_signed_cert
from mockd.configfile import parse_config_text
from mockd.errors import ConfigError
from mockd.testing import recv_close

TWO_MOCKS = """\
version: "1.0"
mocks:
  - id: steady
    websocket:
      path: /steady
      echoMode: true
  - id: changing
    websocket:
      path: /changing
      matchers:
        - match: {type: exact, value: ping}
          response: {type: text, value: %s}
"""

LISTENING = r"listening ws=\S+ admin=127\.0\.0\.1:(\d+)"


# ---------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    return self_signed_cert(tmp_path_factory.mktemp("tls"))


@pytest.mark.slow
def test_wss_and_https_with_a_self_signed_certificate(cert, tmp_path):
    cert_file, key_file = cert
    config = tmp_path / "mockd.yaml"
    config.write_text(TWO_MOCKS % "pong", encoding="utf-8")
    server = Serve("-c", config, "--admin-port", "0", "--tls-cert", cert_file, "--tls-key", key_file)
    try:
        assert server.scheme == "wss"
        found, _ = read_until(server.proc.stderr, LISTENING)
        admin_port = int(found.group(1))

        ws = websocket.create_connection(server.url("/changing"), timeout=5, sslopt={"ca_certs": str(cert_file)})
        ws.send("ping")
        assert ws.recv() == "pong"
        ws.close()
        ws = websocket.create_connection(server.url("/steady"), timeout=5, sslopt={"cert_reqs": ssl.CERT_NONE})
        ws.send_binary(b"\x00tls")
        assert ws.recv() == b"\x00tls"
        ws.close()

        # The CLI client: verified against the certificate, refused without it.
        result = mockd("ws", "send", "--cacert", cert_file, "--wait", server.url("/changing"), "ping")
        assert result.returncode == 0, result
        assert result.stdout.splitlines()[-1] == "< pong"
        refused = mockd("ws", "send", server.url("/changing"), "ping")
        assert refused.returncode == 1 and "CERTIFICATE_VERIFY_FAILED" in refused.stderr
        assert mockd("ws", "send", "-k", server.url("/changing"), "ping").returncode == 0

        # The admin API is https on the same certificate.
        context = ssl.create_default_context(cafile=str(cert_file))
        with urllib.request.urlopen(f"https://127.0.0.1:{admin_port}/health", timeout=5, context=context) as r:
            assert json.loads(r.read())["status"] == "ok"
        status = mockd("ws", "status", "--admin-url", f"https://127.0.0.1:{admin_port}", "--cacert", cert_file)
        assert status.returncode == 0, status
        assert "WebSocket: 2 mock(s) configured" in status.stdout
    finally:
        server.stop()


@pytest.mark.slow
def test_tls_options_are_checked_at_startup(cert, tmp_path):
    cert_file, key_file = cert
    result = mockd("serve", "-p", "0", "--no-admin", "--tls-cert", cert_file)
    assert result.returncode == 2 and "--tls-cert and --tls-key go together" in result.stderr
    result = mockd("serve", "-p", "0", "--no-admin", "--tls-cert", tmp_path / "missing.pem", "--tls-key", key_file)
    assert result.returncode == 2 and result.stderr.startswith("mockd: error: cannot read")
    result = mockd("serve", "-p", "0", "--no-admin", "--tls-cert", key_file, "--tls-key", key_file)
    assert result.returncode == 2 and "cannot load the TLS certificate" in result.stderr


# ---------------------------------------------------------------- SIGHUP reload, pid file


@pytest.mark.slow
def test_sighup_reload_closes_only_the_changed_mocks_clients(tmp_path):
    config = tmp_path / "mockd.yaml"
    config.write_text(TWO_MOCKS % "pong", encoding="utf-8")
    pid_file = tmp_path / "mockd.pid"
    server = Serve("-c", config, "--no-admin", "--pid-file", pid_file)
    try:
        assert pid_file.read_text().strip() == str(server.proc.pid)
        steady = websocket.create_connection(server.url("/steady"), timeout=5)
        changing = websocket.create_connection(server.url("/changing"), timeout=5)
        changing.send("ping")
        assert changing.recv() == "pong"

        config.write_text(TWO_MOCKS % "PONG", encoding="utf-8")
        os.kill(int(pid_file.read_text()), signal.SIGHUP)
        read_until(server.proc.stderr, r"reloaded .*: 0 added, 1 changed, 0 removed, 1 unchanged")
        assert recv_close(changing) == (1012, "mock updated")
        steady.send("still here")
        assert steady.recv() == "still here"  # the unchanged mock's client kept its connection
        fresh = websocket.create_connection(server.url("/changing"), timeout=5)
        fresh.send("ping")
        assert fresh.recv() == "PONG"

        # A bad file is rejected with a logged error; the previous config keeps serving.
        config.write_text(TWO_MOCKS.replace("type: exact", "type: regexp") % "broken", encoding="utf-8")
        server.proc.send_signal(signal.SIGHUP)
        read_until(server.proc.stderr, r"ERROR mockd.server: reload failed, still serving the previous config: "
                                       r".*unknown matcher type 'regexp'")
        fresh.send("ping")
        assert fresh.recv() == "PONG"
        steady.send("and still")
        assert steady.recv() == "and still"
        for ws in (steady, fresh):
            ws.close()
    finally:
        out, err = server.stop()
    assert server.proc.returncode == 0, err
    assert not pid_file.exists()


@pytest.mark.slow
def test_json_logs_carry_connection_and_mock_ids(tmp_path):
    config = tmp_path / "mockd.yaml"
    config.write_text(TWO_MOCKS % "pong", encoding="utf-8")
    server = Serve("-c", config, "--no-admin", "--log-format", "json", "--log-level", "debug")
    try:
        ws = websocket.create_connection(server.url("/steady"), timeout=5)
        ws.close()
        found, seen = read_until(server.proc.stderr, r'"connection_id"')
    finally:
        server.stop()
    records = [json.loads(line) for line in seen]  # every line is one JSON object
    opened = records[-1]
    assert opened["mock_id"] == "steady" and opened["connection_id"].startswith("conn-")
    assert opened["level"] == "debug" and "opened on /steady" in opened["message"]


def test_pid_file_that_cannot_be_written(tmp_path):
    result = mockd("serve", "-p", "0", "--no-admin", "--pid-file", tmp_path / "no" / "such" / "dir.pid")
    assert result.returncode == 1
    assert "mockd: error: cannot write the pid file" in result.stderr


# ---------------------------------------------------------------- MockServer.reload in process


def test_reload_keeps_mocks_without_ids_that_did_not_change(make_mockd_server, registry):
    text = """\
version: "1.0"
mocks:
  - websocket: {path: /a, echoMode: true}
  - websocket: {path: /b, echoMode: true}
"""
    running = make_mockd_server(text)
    ids = list(running.server.mocks)
    ws = websocket.create_connection(running.url("/a"), timeout=5)
    report = running.server.reload(parse_config_text(text, registry, "mockd.yaml"))
    assert report == {"added": [], "changed": [], "removed": [], "unchanged": ids}
    ws.send("x")
    assert ws.recv() == "x"

    changed = text.replace("/b, echoMode: true", "/b, echoMode: false") + "  - websocket: {path: /c}\n"
    report = running.server.reload(parse_config_text(changed, registry, "mockd.yaml"))
    assert report["unchanged"] == ids[:1] and report["removed"] == ids[1:] and len(report["added"]) == 2
    assert sorted(running.server.mocks.routes) == ["/a", "/b", "/c"]
    ws.send("y")
    assert ws.recv() == "y"
    ws.close()


def test_reload_rejects_two_mocks_on_one_path_and_changes_nothing(make_mockd_server, registry):
    running = make_mockd_server(TWO_MOCKS % "pong")
    ws = websocket.create_connection(running.url("/changing"), timeout=5)
    clash = TWO_MOCKS % "PONG" + "  - id: intruder\n    websocket: {path: /steady}\n"
    with pytest.raises(ConfigError, match=r"mocks\[2\].websocket.path: path '/steady' is already served by mocks\[0\]"):
        running.server.reload(parse_config_text(clash, registry, "mockd.yaml"))
    ws.send("ping")
    assert ws.recv() == "pong"
    assert list(running.server.mocks) == ["steady", "changing"]
    ws.close()


def test_reload_removes_and_moves_mocks(make_mockd_server, registry):
    running = make_mockd_server(TWO_MOCKS % "pong")
    old = websocket.create_connection(running.url("/steady"), timeout=5)
    swapped = TWO_MOCKS.replace("/steady", "/tmp").replace("/changing", "/steady").replace("/tmp", "/changing")
    report = running.server.reload(parse_config_text(swapped % "pong", registry, "mockd.yaml"))
    assert report["changed"] == ["steady", "changing"]
    assert recv_close(old) == (1012, "mock updated")
    assert running.server.mocks.routes["/steady"].id == "changing"
    report = running.server.reload(parse_config_text('version: "1.0"\nmocks: []\n', registry, "mockd.yaml"))
    assert report["removed"] == ["steady", "changing"] and running.server.mocks.routes == {}
