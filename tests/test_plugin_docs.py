"""README.rst's plugin documentation, checked: every hook has a heading with its signature,
the "Plugin hooks" examples work together as one plugin, and the "Writing a plugin" walkthrough
works as written."""
import hashlib
import json
import inspect
import logging
import pathlib
import re
import shlex
import subprocess
import sys
import textwrap

import pytest
import websocket

from _cli import MOCK_URL, end, env, read_until
from mockd import hookspecs
from mockd.testing import recv_close
from test_plugins import HOOK_NAMES, ask
from test_readme_examples import block

ROOT = pathlib.Path(__file__).resolve().parents[1]
WALKTHROUGH = "Writing a plugin, step by step"


# mockd serve, mockd check and a pytest run, as subprocesses: seconds.
@pytest.mark.slow
def test_writing_a_plugin_walkthrough(tmp_path):
    """The walkthrough as a new author follows it: the plugin file, the config, ``mockd serve``
    with the plugin folder and a client reading what the console block shows, the ``mockd
    check`` error it quotes, and its pytest test run by pytest."""
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "mockd_ticker.py").write_text(block(f"{WALKTHROUGH} #1", "python"))
    (tmp_path / "mockd.yaml").write_text(block(f"{WALKTHROUGH} #2", "yaml"))
    console = block(f"{WALKTHROUGH} #3", "console").splitlines()
    serve_command = shlex.split(console[0].removeprefix("$ "))
    assert serve_command[:2] == ["mockd", "serve"]
    proc = subprocess.Popen([sys.executable, "-m", "mockd", *serve_command[1:], "-p", "0", "-a", "0"],
                            cwd=tmp_path, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        found, _ = read_until(proc.stdout, MOCK_URL)
        path = console[1].split("4280", 1)[1]
        ws = websocket.create_connection(f"ws://127.0.0.1:{found.group(2)}{path}", timeout=5)
        expected = [line.removeprefix("< ") for line in console[2:]]
        assert [ws.recv() for _ in expected] == expected
        ws.close()
    finally:
        end(proc)

    # The mistake the text quotes, made in a copy of the config.
    readme = (ROOT / "README.rst").read_text(encoding="utf-8")
    check = re.search(r"``(mockd check [^`]+)`` says\n``(.+?)``\.", readme[readme.index(WALKTHROUGH):], re.S)
    (tmp_path / "mockd.yaml").write_text(block(f"{WALKTHROUGH} #2", "yaml").replace("times: 2", "time: 2"))
    result = subprocess.run([sys.executable, "-m", "mockd", *shlex.split(check.group(1))[1:]], cwd=tmp_path,
                            env=env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert " ".join(check.group(2).split()) in result.stderr

    # Its test, beside the conftest.py of "Testing with mockd.testing", run by pytest.
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "conftest.py").write_text(block("Testing with mockd.testing #1", "python"))
    (tmp_path / "tests" / "test_ticker.py").write_text(block(f"{WALKTHROUGH} #4", "python"))
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=tmp_path,
                         env=env(PYTHONPATH=f"{tmp_path / 'plugins'}:{ROOT}"), capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0 and "1 passed" in run.stdout, run.stdout + run.stderr


def test_readme_hook_examples_work_together(make_mockd_server, tmp_path, caplog):
    """The examples of README.rst's "Plugin hooks" section, as one plugin file, on a real server."""
    readme = (ROOT / "README.rst").read_text(encoding="utf-8")
    section = readme[readme.index("\nPlugin hooks\n"):]
    blocks = re.findall(r"\.\. code-block:: python\n\n((?:(?:   .*)?\n)+)", section)
    plugin_dir = tmp_path / "plugins"
    plugin_dir.mkdir()
    # Named after the settings its mockd_configure example reads (plugins: {audit: ...}).
    (plugin_dir / "audit.py").write_text("\n\n".join(textwrap.dedent(block) for block in blocks))
    audit = tmp_path / "audit.log"
    server = make_mockd_server({"version": "1.0", "plugins": {"audit": {"file": str(audit)}}, "mocks": [
        {"websocket": {"path": "/ws", "matchers": [{"match": {"type": "length", "value": 3},
                                                    "response": {"type": "reverse"}}],
                       "defaultResponse": {"type": "text", "value": "{{ acme.digest('md5') }}"}}},
        {"websocket": {"path": "/tick", "scenario": {"steps": [{"type": "repeat", "text": "tick", "times": 2}]}}},
        {"websocket": {"path": "/shout", "protocol": "shout", "shout": {"suffix": "!!"}}},
        {"websocket": {"path": "/bye", "echoMode": True,
                       "faults": [{"type": "goodbye", "text": "maintenance", "after": {"messages": 1}}]}},
    ]}, plugins_dir=plugin_dir)
    with caplog.at_level(logging.INFO, logger="acme"):
        ws = server.connect("/ws")
        assert ask(ws, "abc") == "cba"
        assert ask(ws, "hello") == hashlib.md5(b"hello").hexdigest()
        assert ask(ws, b"x" * 2000) == "that was big"
        assert ws.recv() == hashlib.md5(b"x" * 2000).hexdigest()
        ticker = server.connect("/tick")
        assert [ticker.recv(), ticker.recv()] == ["tick", "tick"]
        shouter = server.connect("/shout")
        assert ask(shouter, "hey") == "HEY!!"
        leaving = server.connect("/bye")
        assert ask(leaving, "hi") == "hi"
        assert json.loads(leaving.recv()) == {"type": "goodbye", "text": "maintenance"}
        assert recv_close(leaving) == (1001, "maintenance")
    assert "opened /ws" in caplog.text and "opened /tick" in caplog.text
    ws.close()
    ticker.close()
    shouter.close()
    server.server.stop()
    assert sorted(audit.read_text().splitlines()) == ["/bye closed 1001 after 1 messages",
                                                      "/shout closed 1000 after 1 messages",
                                                      "/tick closed 1000 after 0 messages",
                                                      "/ws closed 1000 after 3 messages"]


def test_every_hook_is_documented():
    """README.rst has a heading with each hook's exact signature (datasette's plugin hooks page does the same)."""
    lines = (ROOT / "README.rst").read_text(encoding="utf-8").splitlines()
    headings = {line.strip() for line, underline in zip(lines, lines[1:])
                if line.strip() and re.fullmatch(r"([-=~^\"'`#*+])\1+", underline.strip())
                and len(underline.strip()) >= len(line.strip())}
    for name in HOOK_NAMES:
        signature = f"``{name}({', '.join(inspect.signature(getattr(hookspecs, name)).parameters)})``"
        assert signature in headings, f"README.rst has no heading {signature}"
