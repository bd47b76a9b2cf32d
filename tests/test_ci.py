"""CI runs README.rst's test command verbatim, and that command covers the plugin too."""
import configparser
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def readme_test_command():
    """The second set-up command at the top of README.rst: the one that runs the tests."""
    text = (ROOT / "README.rst").read_text(encoding="utf-8")
    commands = re.findall(r"\.\. code-block:: sh\n\n   (.+)\n", text)
    assert len(commands) >= 2, "README.rst lost its two set-up commands"
    return commands[1].strip()


def test_ci_runs_the_readme_test_command_verbatim():
    command = readme_test_command()
    assert "pytest" in command
    assert command in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()


def test_the_test_command_installs_and_collects_mockd_protobuf():
    assert "-e plugins/mockd-protobuf" in readme_test_command()
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    testpaths = parser["tool:pytest"]["testpaths"].split()
    assert testpaths == ["tests", "plugins/mockd-protobuf/tests"]
    for path in testpaths:
        assert list((ROOT / path).glob("test_*.py")), f"{path} has no tests"


@pytest.mark.slow
def test_the_quick_loop_leaves_out_only_slow_tests():
    """README's edit-test command deselects the slow tests and nothing else: the same tests are
    collected, the quick loop is a strict part of them, and every one it leaves out is marked."""
    text = (ROOT / "README.rst").read_text(encoding="utf-8")
    section = text[text.index("\nWorking on mockd\n"):]
    quick = re.findall(r"\.\. code-block:: sh\n\n   (.+)\n", section)[0].strip()
    assert quick == '.venv/bin/python -m pytest -m "not slow"'

    def collected(*options):
        run = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", *options], cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
        return {line for line in run.stdout.splitlines() if "::" in line}

    everything, fast, slow = collected(), collected("-m", "not slow"), collected("-m", "slow")
    assert fast and slow and fast < everything
    assert fast | slow == everything and not fast & slow
