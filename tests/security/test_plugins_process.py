"""Issue 10 items 12 and 13: a plugin must not end the server (SystemExit, KeyboardInterrupt
from a message hook, a scenario step, or a matcher loaded by a SIGHUP reload), and a plugin
that keeps the event loop busy is named in the log (``--warn-blocking``)."""
import signal
import time

import pytest
import websocket

from _attack import ECHO, served
from _cli import mockd, read_until
from mockd.testing import recv_close

PLUGIN = '''\
import time

from mockd import hookimpl
from mockd.matching import Matcher
from mockd.scenario import StepType


@hookimpl
def mockd_message_received(server, connection, message):
    if message.text == "exit":
        raise SystemExit(3)
    if message.text == "interrupt":
        raise KeyboardInterrupt
    if message.text == "busy":
        spin_for_a_while()


def spin_for_a_while():
    deadline = time.perf_counter() + 0.3
    while time.perf_counter() < deadline:
        pass


class ExitStep(StepType):
    name = "exit"

    @classmethod
    def from_config(cls, spec, where, build):
        return cls()

    def run(self, ctx):
        raise SystemExit(4)


@hookimpl
def mockd_register_step_types():
    return (ExitStep,)


class ExitMatcher(Matcher):
    name = "exit"

    @classmethod
    def from_config(cls, spec, where, build):
        raise SystemExit(5)


@hookimpl
def mockd_register_matchers():
    return (ExitMatcher,)
'''

CONFIG = ECHO + """\
  - id: quitter
    websocket:
      path: /quit
      scenario:
        steps:
          - type: delay
            duration: 200ms
          - type: exit
"""


@pytest.fixture
def plugins_dir(tmp_path):
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "rogue.py").write_text(PLUGIN, encoding="utf-8")
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("word", ["exit", "interrupt"])
def test_systemexit_or_keyboardinterrupt_in_a_hook_closes_only_that_client(target, plugins_dir, word):
    server = target("--no-admin", "--plugins-dir", plugins_dir, config=CONFIG)
    bystander = websocket.create_connection(server.url(), timeout=5)
    victim = websocket.create_connection(server.url(), timeout=5)
    victim.send(word)
    assert recv_close(victim, allow_data=False) == (1011, "plugin rogue failed")
    read_until(server.proc.stderr, r"ERROR mockd.ws: plugin 'rogue' raised in connection .*"
                                   + ("SystemExit" if word == "exit" else "KeyboardInterrupt"))
    assert server.alive()
    bystander.send("still")
    assert bystander.recv() == "still"  # an open connection went on
    assert served(server.url())          # and new ones are taken
    bystander.close()


@pytest.mark.slow
def test_systemexit_in_a_scenario_step_closes_only_that_client(target, plugins_dir):
    server = target("--no-admin", "--plugins-dir", plugins_dir, config=CONFIG)
    victim = websocket.create_connection(server.url("/quit"), timeout=5)
    assert recv_close(victim, allow_data=False) == (1011, "plugin rogue failed")
    read_until(server.proc.stderr, r"ERROR mockd.ws: plugin 'rogue' raised in scenario .*SystemExit")
    time.sleep(0.2)
    assert server.alive() and served(server.url())
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(timeout=5) == 0


def test_systemexit_from_a_plugin_during_a_sighup_reload_fails_that_reload_only(target, plugins_dir):
    server = target("--no-admin", "--plugins-dir", plugins_dir, config=CONFIG)
    server.config_path.write_text(CONFIG + """\
  - id: exits-when-loaded
    websocket:
      path: /x
      matchers:
        - match: {type: exit}
          response: {type: text, value: x}
""", encoding="utf-8")
    server.proc.send_signal(signal.SIGHUP)
    read_until(server.proc.stderr, r"ERROR mockd.server: reload failed, still serving the previous config: "
                                   r".*mocks\[2\]\.websocket\.matchers\[0\]\.match: plugin 'rogue' failed to read "
                                   r"this 'exit' matcher: SystemExit: 5")
    assert served(server.url())
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(timeout=5) == 0


def busy_then_stop(server):
    ws = websocket.create_connection(server.url(), timeout=5)
    ws.send("busy")
    assert ws.recv() == "busy"
    ws.close()
    time.sleep(0.3)  # the monitor thread reports within one period
    _out, err = server.stop()
    return err


@pytest.mark.slow
def test_warn_blocking_names_the_plugin_function_once(target, plugins_dir):
    server = target("--no-admin", "--plugins-dir", plugins_dir, "--warn-blocking", "100ms", config=CONFIG)
    err = busy_then_stop(server)
    warnings = [line for line in err.splitlines() if "WARNING mockd.blocking" in line]
    assert len(warnings) == 1, err
    assert "the event loop was blocked for more than 100ms" in warnings[0]
    assert "in spin_for_a_while" in err and "rogue.py" in err  # the stack that blocked
    assert "appears to be blocked" not in err  # gevent's own report is not printed as well


@pytest.mark.slow
def test_warn_blocking_off(target, plugins_dir):
    server = target("--no-admin", "--plugins-dir", plugins_dir, "--warn-blocking", "0", config=CONFIG)
    err = busy_then_stop(server)
    assert "mockd.blocking" not in err and "blocked" not in err, err


def test_warn_blocking_is_on_at_100ms_by_default_and_reads_go_durations():
    from mockd.cli import get_parser
    parse = get_parser().parse_args
    assert parse(["serve"]).warn_blocking == 0.1
    assert [parse(["serve", "--warn-blocking", text]).warn_blocking for text in ("250ms", "1s", "off", "0")] \
        == [0.25, 1.0, 0.0, 0.0]
    result = mockd("serve", "--warn-blocking", "100")
    assert result.returncode == 2 and "missing unit" in result.stderr
