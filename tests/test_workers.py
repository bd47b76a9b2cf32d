"""``mockd serve --workers N`` (issue 16): N real ``mockd serve`` worker processes on one port
(SO_REUSEPORT) under a supervisor, sharing the mocks through a private ``redis-server`` on a Unix
socket; real clients, the real admin API. The workers list each other in ``GET /cluster`` (with
their pids), connections land on both, a mock created through the admin API is served by both
within a second, a worker killed with -9 is restarted and rejoins, SIGHUP reloads every worker
without closing the clients of unchanged mocks, and SIGTERM leaves no worker and no Redis behind."""
import argparse
import json
import os
import re
import signal
import socket
import time

import pytest
import websocket

from _cli import env, mockd
from _helpers import wait_until
from mockd.adminclient import AdminAPIError
from test_readme_examples import Served

ECHO = {"id": "echo", "websocket": {"path": "/echo", "echoMode": True}}
REDIS_LINE = re.compile(r"private redis-server \(pid (\d+)\) on (\S+)")


def config_file(tmp_path, *mocks):
    path = tmp_path / "mockd.json"
    path.write_text(json.dumps({"version": "1.0", "mocks": list(mocks) or [ECHO]}))
    return str(path)


def log_text(served):
    served.log.flush()
    served.log.seek(0)
    return served.log.read()


def gone(pid):
    """Whether process ``pid`` has ended (a zombie nobody has reaped yet has)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rpartition(")")[2].split()[0] == "Z"
    except FileNotFoundError:
        return True


def nodes(served):
    """``GET /cluster``'s nodes by id; a worker that has just died may reset a request: asked again."""
    for _ in range(20):
        try:
            return {node["id"]: node for node in served.admin.get("/cluster").json["nodes"]}
        except AdminAPIError:
            time.sleep(0.05)
    raise AssertionError("the admin API did not answer GET /cluster")


def echoes(served, path, text="hi"):
    """Whether a new client of ``path`` is answered (an unknown path fails its handshake)."""
    try:
        ws = websocket.create_connection(served.url(path), timeout=5)
    except (websocket.WebSocketException, OSError):
        return False
    try:
        ws.send(text)
        return ws.recv() == text
    finally:
        ws.close()


@pytest.fixture
def workers(tmp_path):
    """``start(*args)``: ``mockd serve --workers 2 -c FILE ARGS`` (127.0.0.1, ports 0), stopped at teardown."""
    started = []

    def start(*args, config=None):
        # TMPDIR: the private Redis's directory, left behind only by a supervisor killed with -9
        served = Served(tmp_path, "-c", config or config_file(tmp_path), "--workers", "2", *args,
                        environ=env(TMPDIR=str(tmp_path)))
        started.append(served)
        assert wait_until(lambda: len(nodes(served)) == 2, 5), nodes(served)
        return served
    yield start
    for served in started:
        served.stop()


@pytest.mark.slow
def test_two_workers_share_one_port_list_each_other_and_serve_new_mocks_within_1_s(workers):
    served = workers()
    listed = nodes(served)
    assert sorted(node_id[-3:] for node_id in listed) == ["-w1", "-w2"]
    assert {node["address"] for node in listed.values()} == {f"127.0.0.1:{served.port}"}
    assert {node["admin"] for node in listed.values()} == {f"127.0.0.1:{served.admin_port}"}
    pids = {node["pid"] for node in listed.values()}
    assert len(pids) == 2 and served.proc.pid not in pids
    # clients on the one port land on both workers (the kernel picks: 2 x 2^-24 to miss one)
    clients = [websocket.create_connection(served.url("/echo"), timeout=5) for _ in range(24)]
    try:
        for ws in clients:
            ws.send("x")
            assert ws.recv() == "x"
        counts = lambda: sorted(node["connections"] for node in nodes(served).values())  # noqa: E731
        assert wait_until(lambda: sum(counts()) == 24, 4), counts()
        assert min(counts()) > 0, counts()
    finally:
        for ws in clients:
            ws.close()
    # a mock created through the admin API (one worker answers) is served by both within a second
    assert served.admin.post("/mocks", {"id": "orders", "websocket": {"path": "/orders", "echoMode": True}}).status == 201
    started = time.monotonic()
    assert wait_until(lambda: all(echoes(served, "/orders") for _ in range(12)), 1.0)
    assert time.monotonic() - started < 1.0


@pytest.mark.slow
def test_a_worker_killed_with_9_is_restarted_and_sigterm_leaves_nothing_behind(workers):
    served = workers()
    redis_pid, redis_socket = REDIS_LINE.search(log_text(served)).groups()
    before = nodes(served)
    victim = sorted(before)[-1]
    assert not gone(before[victim]["pid"]), (before, log_text(served))
    os.kill(before[victim]["pid"], signal.SIGKILL)
    assert wait_until(lambda: gone(before[victim]["pid"]), 5)
    rejoined = lambda: nodes(served).get(victim, {}).get("pid") not in (None, before[victim]["pid"])  # noqa: E731
    assert wait_until(rejoined, 10), nodes(served)
    assert f"{victim} (pid {before[victim]['pid']}) was killed by SIGKILL" in log_text(served)
    assert served.proc.poll() is None
    assert wait_until(lambda: echoes(served, "/echo"), 3)
    after = nodes(served)
    assert sorted(after) == sorted(before)
    children = [node["pid"] for node in after.values()] + [int(redis_pid)]
    # SIGTERM: every worker stops, then the private Redis; exit 0, within a few seconds
    started = time.monotonic()
    assert served.proc.poll() is None, log_text(served)
    served.proc.send_signal(signal.SIGTERM)
    assert served.proc.wait(10) == 0, log_text(served)
    assert time.monotonic() - started < 6
    assert [pid for pid in children if not gone(pid)] == []
    assert not os.path.exists(os.path.dirname(redis_socket))
    log = log_text(served)
    assert log.count("mockd.server: stopped:") == 2 and "killing it" not in log


@pytest.mark.slow
def test_the_workers_and_redis_stop_when_the_supervisor_is_killed_with_9(workers):
    served = workers()
    redis_pid, _ = REDIS_LINE.search(log_text(served)).groups()
    children = [node["pid"] for node in nodes(served).values()] + [int(redis_pid)]
    os.kill(served.proc.pid, signal.SIGKILL)
    served.proc.wait(5)
    assert wait_until(lambda: all(gone(pid) for pid in children), 8), [pid for pid in children if not gone(pid)]


@pytest.mark.slow
def test_sighup_reloads_every_worker_and_keeps_the_clients_of_unchanged_mocks(workers, tmp_path):
    served = workers()
    clients = [websocket.create_connection(served.url("/echo"), timeout=5) for _ in range(12)]
    try:
        config_file(tmp_path, ECHO, {"id": "added", "websocket": {"path": "/added", "echoMode": True}})
        served.proc.send_signal(signal.SIGHUP)
        assert wait_until(lambda: all(echoes(served, "/added") for _ in range(12)), 5)
        for ws in clients:  # echo unchanged: no 1012 on any worker
            ws.send("still")
            assert ws.recv() == "still"
    finally:
        for ws in clients:
            ws.close()
    assert log_text(served).count("reloaded ") == 2  # each worker read the file


@pytest.mark.slow
def test_a_worker_that_cannot_start_stops_the_supervisor_and_its_redis(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"version": "1.0", "mocks": [{"id": "x", "websocket": {"path": "no-slash"}}]}))
    done = mockd("serve", "--workers", "2", "-p", "0", "-a", "0", "--host", "127.0.0.1", "-c", bad, timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("mockd: error:") == 1, done.stderr  # worker 1 alone was started
    redis_pid, redis_socket = REDIS_LINE.search(done.stderr).groups()
    assert gone(int(redis_pid)) and not os.path.exists(os.path.dirname(redis_socket))


def test_a_port_in_use_is_refused_before_any_worker_starts(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        done = mockd("serve", "--workers", "2", "--host", "127.0.0.1", "-p", taken.getsockname()[1], "-a", "0",
                     PATH=str(tmp_path))  # no redis-server: the ports are checked first
    assert done.returncode == 1
    assert "(mock listener): Address already in use; choose another port with -p/--port" in done.stderr


@pytest.mark.parametrize("cluster", [[], ["--cluster", "auto"]], ids=["implicit", "explicit"])
def test_cluster_auto_without_redis_server_says_how_to_install_it(tmp_path, cluster):
    done = mockd("serve", "--workers", "2", "-p", "0", "-a", "0", *cluster, PATH=str(tmp_path))
    assert done.returncode == 1
    assert "mockd: error: --cluster auto needs redis-server (apt-get install redis-server)" in done.stderr


def test_mockd_workers_is_read_from_the_environment(tmp_path):
    done = mockd("serve", "-p", "0", "-a", "0", PATH=str(tmp_path), MOCKD_WORKERS="2")
    assert done.returncode == 1 and "--cluster auto needs redis-server" in done.stderr


@pytest.mark.slow
def test_cluster_auto_without_workers_is_a_usage_error():
    done = mockd("serve", "-p", "0", "-a", "0", "--cluster", "auto")
    assert done.returncode == 2 and "--cluster auto starts a private redis-server" in done.stderr
    done = mockd("serve", "--workers", "-1")
    assert done.returncode == 2 and "must be 0 or more" in done.stderr


# ---------------------------------------------------------------- in this process

# A value other than the default for every option of mockd serve: a new option needs one here.
EVERY_OPTION = {
    "host": ["--host=-5.example"], "port": ["-p", "1234"], "handshake_timeout": ["--handshake-timeout", "2.5"],
    "max_message_size_limit": ["--max-message-size-limit", "1000"], "max_outbound_buffer": ["--max-outbound-buffer", "7"],
    "send_timeout": ["--send-timeout", "0.125"], "admin_host": ["--admin-host", "::1"], "admin_port": ["-a", "0"],
    "admin": ["--no-admin"], "admin_token": ["--admin-token", "s3cret"], "admin_insecure": ["--admin-insecure"],
    "admin_allow_origins": ["--admin-allow-origin", "http://localhost:3000", "--admin-allow-origin", "https://*.x.test"],
    "admin_allow_hosts": ["--admin-allow-host", "mock.test"], "journal_size": ["--journal-size", "0"],
    "journal_body_limit": ["--journal-body-limit", "5"], "max_recordings": ["--max-recordings", "3"],
    "redact_headers": ["--redact-header", "X-Secret"], "log_level": ["--log-level", "debug"],
    "log_format": ["--log-format", "json"], "warn_blocking": ["--warn-blocking", "1.5ms"],
    "tls_cert": ["--tls-cert", "c.pem"], "tls_key": ["--tls-key", "k.pem"], "pid_file": ["--pid-file=-p.pid"],
    "workers": ["--workers", "3"], "cluster": ["--cluster", "redis://h:1/2"], "node_id": ["--node-id", "n"],
    "cluster_reset": ["--cluster-reset"], "seed": ["--seed", "0"],
}


def test_a_workers_command_line_parses_back_to_the_same_options():
    from mockd.cli import get_parser
    from mockd.options import declarations
    from mockd.workers import worker_argv
    assert set(EVERY_OPTION) == set(declarations()), "give the new option a value in EVERY_OPTION"
    argv = ["serve", "--config=-odd.yaml", "--plugins-dir", "p", "--disable-plugin", "a", "--disable-plugin", "b",
            "--no-plugin-autoload"] + [arg for args in EVERY_OPTION.values() for arg in args]
    parser = get_parser()
    given = parser.parse_args(argv)
    again = parser.parse_args(worker_argv(given))
    assert "s3cret" not in worker_argv(given) and again.admin_token is None  # through the environment
    assert vars(again) == {**vars(given), "admin_token": None}
    defaults = parser.parse_args(["serve"])
    assert vars(parser.parse_args(worker_argv(defaults))) == vars(defaults)
    assert worker_argv(defaults) == ["serve"]
    changed = parser.parse_args(worker_argv(given, port=4242, cluster_reset=False, pid_file=None))
    assert (changed.port, changed.cluster_reset, changed.pid_file) == (4242, False, None)


def test_cluster_accepts_auto():
    from mockd.options import parse_cluster_url
    assert parse_cluster_url("auto") == "auto"
    with pytest.raises(ValueError, match="or auto"):
        parse_cluster_url("automatic")


def test_a_reserved_port_takes_workers_with_so_reuseport_and_nobody_else():
    from mockd.listen import listen, reserve
    reserved, port = reserve("127.0.0.1", 0)
    try:
        first, second = listen("127.0.0.1", port, 8, reuse_port=True), listen("127.0.0.1", port, 8, reuse_port=True)
        with pytest.raises(OSError):
            listen("127.0.0.1", port, 8)  # a process without SO_REUSEPORT
        with pytest.raises(OSError):
            reserve("127.0.0.1", port)  # another mockd serve --workers
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # accepted by a worker's socket; the reservation never listens
        first.close(), second.close()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5)
    finally:
        reserved.close()


def test_workers_run_mockd_serve_only():
    from mockd.bootstrap import record
    from mockd.errors import ConfigError
    with pytest.raises(ConfigError, match="--workers"):
        record(argparse.Namespace(workers=2))
