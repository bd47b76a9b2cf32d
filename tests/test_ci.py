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


def _system_deps(tmp_path, *present, root=True):
    """Run .ci/system-deps with a PATH of stand-ins: ``present`` commands exist, ``id`` says
    root (or not, without sudo), and ``apt-get`` records its arguments and installs what it is
    asked for (as empty executables). Returns (the run, apt-get's calls)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True)
    calls = tmp_path / "apt-get.calls"

    def command(name, body):
        path = bin_dir / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)
    for name in present:
        command(name, "exit 0")
    command("id", f"echo {0 if root else 1000}")
    command("apt-get", f'echo "$*" >> {calls}\nfor p in "$@"; do case "$p" in -*|install) ;; *) '
                       f'printf "#!/bin/sh\\n" > {bin_dir}/"$p"; /bin/chmod +x {bin_dir}/"$p";; esac; done')
    run = subprocess.run(["/bin/sh", str(ROOT / ".ci" / "system-deps")], env={"PATH": str(bin_dir)},
                         capture_output=True, text=True, timeout=30)
    return run, calls.read_text().splitlines() if calls.exists() else []


def test_the_test_command_gets_redis_and_chromium_onto_a_fresh_machine(tmp_path):
    """README's second command starts with .ci/system-deps: on a machine with neither, it
    installs Debian's redis-server and chromium (the cluster and browser tests need them)."""
    assert readme_test_command().startswith("sh .ci/system-deps && ")
    run, calls = _system_deps(tmp_path)
    assert run.returncode == 0, run.stderr
    assert calls == ["install -y -q redis-server chromium"]
    assert "installing redis-server chromium with apt-get" in run.stderr


def test_system_deps_installs_only_what_is_missing(tmp_path):
    run, calls = _system_deps(tmp_path, "redis-server", "chromium")
    assert (run.returncode, calls, run.stderr) == (0, [], "")
    run, calls = _system_deps(tmp_path / "again", "redis-server")
    assert run.returncode == 0 and calls == ["install -y -q chromium"]


def test_system_deps_without_root_or_sudo_says_what_to_install(tmp_path):
    run, calls = _system_deps(tmp_path, "redis-server", root=False)
    assert run.returncode == 1 and calls == []
    assert "chromium missing and this is not root (no sudo either)" in run.stderr
    assert "apt-get install chromium" in run.stderr


def test_without_chromium_the_browser_tests_fail_in_ci_and_skip_elsewhere(monkeypatch):
    import _browser
    monkeypatch.setattr(_browser.shutil, "which", lambda name: None)
    monkeypatch.setattr(_browser, "CHROMIUM", "/nonexistent/chromium")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI installs both"):
        next(_browser.launch_browser())
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match=r"sh \.ci/system-deps"):
        next(_browser.launch_browser())
