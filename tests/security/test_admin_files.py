"""Issue 10 item 2: no request chooses a file the server reads, and no file setting reads
``/dev/zero``, a FIFO or a huge file, against a real ``mockd serve`` and ``mockd check``.

``POST /config`` validated with the ``plugins:`` block of its body, so
``plugins.protobuf.descriptorSet: /dev/zero`` read until memory ran out, a FIFO froze every
connection, and the error texts told which paths exist. Each process attacked here runs under
an address-space limit, so that a regression fails with an error instead of eating the machine.
"""
import importlib.metadata
import json
import os
import resource
import subprocess
import sys
import time

import pytest

from _attack import ECHO, served
from _cli import ROOT, env
from mockd.adminclient import AdminClient

SETTING = "plugins.protobuf.descriptorSet"
HEADROOM = 512 << 20  # address space a process may take beyond what it has when the attack starts


@pytest.fixture(autouse=True)
def _protobuf_plugin():
    try:
        importlib.metadata.distribution("mockd-protobuf")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("mockd-protobuf is not installed (pip install -e plugins/mockd-protobuf)")


def write_descriptor_set(path):
    from google.protobuf import descriptor_pb2
    proto = descriptor_pb2.FileDescriptorProto(name="chat.proto", package="chat", syntax="proto3")
    proto.message_type.add(name="Request").field.add(
        name="kind", number=1, type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
        label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
    path.write_bytes(descriptor_pb2.FileDescriptorSet(file=[proto]).SerializeToString())


def hostile_files(tmp_path):
    """A FIFO behind a symlink (its real path must not show), a sparse file over 16 MiB, a device."""
    hidden = tmp_path / "hidden-folder"
    hidden.mkdir()
    os.mkfifo(hidden / "pipe")
    (tmp_path / "pipe.desc").symlink_to(hidden / "pipe")
    with open(tmp_path / "huge.desc", "wb") as fh:
        fh.truncate((16 << 20) + 1)
    return {str(tmp_path / "pipe.desc"): "not a regular file", str(tmp_path / "huge.desc"): "larger than 16 MiB",
            "/dev/zero": "not a regular file"}


def limit_address_space(pid):
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        size = int(fh.read().split("VmSize:")[1].split()[0]) << 10
    resource.prlimit(pid, resource.RLIMIT_AS, (size + HEADROOM, size + HEADROOM))


PROTOBUF_MOCK = {"id": "pb", "type": "websocket", "websocket": {"path": "/pb", "matchers": [
    {"match": {"type": "protobuf", "message": "chat.Request"}, "response": {"type": "text", "value": "ok"}}]}}
SERVED = ECHO + 'plugins:\n  protobuf:\n    descriptorSet: chat.desc\n'


@pytest.mark.slow
def test_an_import_cannot_choose_the_files_the_server_reads(target, tmp_path):
    write_descriptor_set(tmp_path / "chat.desc")
    files = hostile_files(tmp_path)
    server = target(config=SERVED)
    limit_address_space(server.pid)
    admin = AdminClient(server.admin_url, timeout=5)
    rss_before = server.rss_kib()
    for plugins in [{"protobuf": {"descriptorSet": path}} for path in files] + [{"other": {"file": "/etc/passwd"}}]:
        started = time.monotonic()
        reply = admin.post("/config", {"config": {"version": "1.0", "plugins": plugins, "mocks": [PROTOBUF_MOCK]}})
        assert time.monotonic() - started < 2
        assert reply.status == 400 and reply.json["error"] == "validation_error", reply
        message = reply.json["message"]
        assert message.startswith("config.plugins: plugins: settings come from the server's config file"), message
        assert str(tmp_path) not in message
    assert [m["id"] for m in admin.get("/mocks").json["mocks"]] == ["echo"]
    assert server.rss_kib() - rss_before < 16 << 10
    assert served(server.url("/ws"))
    # Without a plugins block, or with the server's own, the mocks are validated with the
    # server's settings: its descriptor set, relative to its config file's folder.
    own = {"protobuf": {"descriptorSet": "chat.desc"}}
    for config in ({"version": "1.0", "mocks": [PROTOBUF_MOCK]},
                   {"version": "1.0", "plugins": own, "mocks": [PROTOBUF_MOCK]}):
        reply = admin.post("/config", {"config": config})
        assert reply.status == 200 and reply.json["ids"] == ["pb"], reply
    reply = admin.post("/mocks", dict(PROTOBUF_MOCK, id="pb2", websocket=dict(PROTOBUF_MOCK["websocket"], path="/pb2")))
    assert reply.status == 201, reply
    _out, err = server.stop()
    assert "Traceback" not in err


def run_limited(*args):
    """``python -m mockd ARGS`` under the address-space limit; (result, seconds it took)."""
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "mockd", *args], capture_output=True, text=True, timeout=20,
                            env=env(), cwd=ROOT, preexec_fn=limit)
    return result, time.monotonic() - started


@pytest.mark.slow
@pytest.mark.parametrize("command", ["check", "serve"])
def test_a_config_file_naming_a_device_fifo_or_huge_file_fails_fast(tmp_path, command):
    config = tmp_path / "mockd.yaml"
    for path, text in hostile_files(tmp_path).items():
        config.write_text(ECHO + "plugins:\n  protobuf:\n    descriptorSet: " + json.dumps(path) + "\n")
        extra = ("--host", "127.0.0.1", "-p", "0", "--no-admin") if command == "serve" else ()
        result, took = run_limited(command, "-c", config, *extra)
        assert result.returncode == 2 and took < 10, (path, result.stderr)
        assert f"mockd: error: {config}: {SETTING}: {text}" in result.stderr
        assert "hidden-folder" not in result.stderr and "Traceback" not in result.stderr
