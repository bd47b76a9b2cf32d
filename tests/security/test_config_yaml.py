"""Issue 10 item 5: YAML alias bombs, recursive aliases and nesting bombs in a config file, against
``mockd check`` and against a serving ``mockd serve`` reloading on SIGHUP; and a config path that
names a device or a FIFO (item 2's rule for files, applied to the config file itself)."""
import os
import signal
import time

import pytest
import websocket

from _attack import ECHO, served
from _cli import mockd, read_until


def billion_laughs(levels=9):
    """~500 bytes whose aliases stand for 9**levels strings, under ``mocks[0]``'s JSON reply."""
    lines = [ECHO.rstrip("\n"), "      defaultResponse:", "        type: json", "        value:",
             '          a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefghijklm", "bcdefghijklm"[:levels - 1]):
        lines.append(f"          {name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def run_check(tmp_path, text, name="mockd.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    started = time.monotonic()
    result = mockd("check", "-c", path, timeout=30)
    return result, time.monotonic() - started


@pytest.mark.slow
def test_check_refuses_a_billion_laughs_file_at_once_with_the_aliass_location(tmp_path):
    result, took = run_check(tmp_path, billion_laughs())
    assert result.returncode == 2, result.stderr
    assert took < 5
    assert "YAML aliases expand to more than 100000 nodes" in result.stderr
    assert "line 16, column 18" in result.stderr  # the alias that crossed the budget: f: &f [*e, ...
    assert "write the repeated values out" in result.stderr  # and the fix
    assert "Traceback" not in result.stderr


def test_check_refuses_a_long_string_behind_many_aliases(tmp_path):
    """Few nodes, much text: one 4 KB string behind 70,000 aliases (a 4.5 KB file) would render
    ~290 MB of JSON. Refused by the character budget, at once, in little memory."""
    lines = [ECHO.rstrip("\n"), "      defaultResponse:", "        type: json", "        value:",
             "          s: &s " + "x" * 4096,
             "          a: &a [" + ",".join(["*s"] * 10) + "]"]
    for prev, name in zip("abc", "bcd"):
        lines.append(f"          {name}: &{name} [" + ",".join([f"*{prev}"] * 10) + "]")
    lines.append("          e: [" + ",".join(["*d"] * 7) + "]")
    result, took = run_check(tmp_path, "\n".join(lines) + "\n")
    assert result.returncode == 2, result.stderr
    assert took < 5
    assert "YAML aliases expand to more than 4,000,000 characters" in result.stderr
    assert "mockd.yaml: line 14, column 42: " in result.stderr  # c: &c [*b, ...: the file, not "<unicode string>"
    assert "alias it fewer times or shorten it" in result.stderr


def test_check_accepts_aliases_within_the_budget(tmp_path):
    result, _took = run_check(tmp_path, billion_laughs(levels=4))  # 9**4 strings: a real config's use
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
def test_check_refuses_a_recursive_alias_without_a_traceback(tmp_path):
    for text, where in [('version: "1.0"\nmocks: &a [*a]\n', "line 2, column 12"),
                        (ECHO + "      defaultResponse: &r {type: json, value: [1, *r]}\n", "line 8, column 51")]:
        result, _took = run_check(tmp_path, text)
        assert result.returncode == 2, result.stderr
        assert "recursive YAML alias" in result.stderr and where in result.stderr, result.stderr
        assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_check_refuses_a_nesting_bomb_as_a_config_error(tmp_path):
    for name, text in [("deep.yaml", 'version: "1.0"\nmocks: ' + "[" * 10000 + "]" * 10000 + "\n"),
                       ("deep.json", '{"version": "1.0", "mocks": ' + "[" * 10000 + "]" * 10000 + "}")]:
        result, _took = run_check(tmp_path, text, name)
        assert result.returncode == 2, result.stderr
        assert "nested deeper than 200 levels" in result.stderr or "nesting deeper than 200 levels" in result.stderr
        assert "Traceback" not in result.stderr and "RecursionError" not in result.stderr


@pytest.mark.slow
def test_sighup_with_a_bomb_keeps_serving_the_old_config_and_sigterm_still_ends_it(target):
    server = target("--no-admin", config=ECHO)
    server.config_path.write_text(billion_laughs(), encoding="utf-8")
    server.proc.send_signal(signal.SIGHUP)
    started = time.monotonic()
    assert served(server.url(), timeout=1.0)  # a bystander is answered at once
    read_until(server.proc.stderr, r"reload failed, still serving the previous config: .*"
                                   r"YAML aliases expand to more than 100000 nodes", timeout=5)
    assert time.monotonic() - started < 5
    assert served(server.url(), timeout=1.0)  # the echo mock is still the one served

    started = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(timeout=5) == 0
    assert time.monotonic() - started < 3


@pytest.mark.slow
def test_sighup_parses_a_large_file_off_the_loop(target):
    """PyYAML takes about a second per 200 KB: the loop must keep answering meanwhile."""
    server = target("--no-admin", config=ECHO)
    mocks = "".join(f"  - id: m{i}\n    websocket:\n      path: /m{i}\n      matchers:\n"
                    f"        - match: {{type: exact, value: ping}}\n"
                    f"          response: {{type: json, value: {{a: 1, b: [1, 2, 3], c: x}}}}\n"
                    for i in range(1500))
    server.config_path.write_text(ECHO + mocks, encoding="utf-8")
    ws = websocket.create_connection(server.url(), timeout=5)
    server.proc.send_signal(signal.SIGHUP)
    slowest = 0.0
    for _ in range(10):  # about a second of round trips while the file is being parsed
        sent = time.monotonic()
        ws.send("tick")
        assert ws.recv() == "tick"
        slowest = max(slowest, time.monotonic() - sent)
        time.sleep(0.1)
    read_until(server.proc.stderr, r"reloaded .*: 1500 added, 0 changed, 0 removed, 1 unchanged", timeout=30)
    assert slowest < 0.5, f"a round trip took {slowest:.2f}s during the reload"
    ws.close()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["device", "fifo"])
def test_check_refuses_a_device_or_a_fifo_as_config_at_once(tmp_path, kind):
    """``-c /dev/zero`` used to read until memory ran out, a FIFO to wait for a writer forever."""
    path = "/dev/zero"
    if kind == "fifo":
        path = tmp_path / "mockd.yaml"
        os.mkfifo(path)
    started = time.monotonic()
    result = mockd("check", "-c", path, timeout=10)
    assert result.returncode == 2, result.stderr
    assert time.monotonic() - started < 5
    # The file as it was given, what is wrong, and the fix.
    assert f"{path}: cannot read configuration file: not a regular file (a device, a FIFO or a folder " \
           f"cannot be read as one); name a YAML or JSON file" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_sighup_with_the_config_swapped_for_a_fifo_fails_at_once_and_the_next_reload_works(target):
    server = target("--no-admin", config=ECHO)
    server.config_path.unlink()
    os.mkfifo(server.config_path)
    server.proc.send_signal(signal.SIGHUP)
    read_until(server.proc.stderr, r"reload failed, still serving the previous config: .*not a regular file",
               timeout=5)
    assert served(server.url(), timeout=1.0)
    server.config_path.unlink()  # a reload stuck on the FIFO would hold the reload lock: this one would wait
    server.config_path.write_text(ECHO.replace("path: /ws", "path: /moved"), encoding="utf-8")
    server.proc.send_signal(signal.SIGHUP)
    read_until(server.proc.stderr, r"reloaded .*: 0 added, 1 changed, 0 removed, 0 unchanged", timeout=5)
    assert served(server.url("/moved"), timeout=1.0)
