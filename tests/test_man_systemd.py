"""``man/mockd.1`` is what argparse-manpage makes of ``mockd.cli:get_parser`` (with the settings of
setup.cfg's ``[build_manpages]``), and ``etc/mockd.service`` only uses options that exist.

Regenerate the man page after changing any help text::

    python tests/test_man_systemd.py --write
"""
import argparse
import configparser
import os
import pathlib
import shlex
import shutil
import subprocess
import sys
import sysconfig

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
MAN_PAGE = ROOT / "man" / "mockd.1"
UNIT = ROOT / "etc" / "mockd.service"
# The .TH date of the committed page; pinned so that regenerating is reproducible.
SOURCE_DATE_EPOCH = "1767225600"  # 2026-01-01


def generate():
    """The man page text, as ``setup.py build_manpages`` would write it."""
    from argparse_manpage.manpage import Manpage
    from argparse_manpage.tooling import get_parser
    from build_manpages.build_manpages import parse_manpages_spec

    from mockd.version import __version__

    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    ((page, data),) = parse_manpages_spec(config.get("build_manpages", "manpages")).items()
    assert page == "man/mockd.1"
    data = dict(data, include=str(ROOT / data["include"]), version=__version__)
    parser = get_parser(data["import_type"], data["import_from"], data["objname"], data["objtype"], data["prog"])
    return str(Manpage(parser, format="pretty", _data=data))


def _generate_in_subprocess():
    # A fresh interpreter: no gevent patching, a fixed terminal width (argparse wraps to it),
    # and the pinned date.
    env = dict(os.environ, SOURCE_DATE_EPOCH=SOURCE_DATE_EPOCH, COLUMNS="80", LC_ALL="C.UTF-8",
               PYTHONPATH=str(ROOT))
    env.pop("MOCKD_CONFIG", None)
    result = subprocess.run([sys.executable, __file__, "--stdout"], capture_output=True, text=True, env=env,
                            cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


# ---------------------------------------------------------------- man page


def test_man_page_is_up_to_date():
    pytest.importorskip("argparse_manpage")
    fresh = _generate_in_subprocess()
    assert MAN_PAGE.read_text(encoding="utf-8") == fresh, \
        "man/mockd.1 is stale: run 'python tests/test_man_systemd.py --write' and commit it"


def test_man_page_sections():
    text = MAN_PAGE.read_text(encoding="utf-8")
    for heading in ("NAME", "SYNOPSIS", "ENVIRONMENT", "FILES", "EXIT STATUS", "EXAMPLES", "SIGNALS"):
        assert f'\n.SH {heading}\n' in text or f'\n.SH "{heading}"\n' in text, heading
    for command in ("mockd serve", "mockd websocket connect", "mockd websocket send", "mockd websocket listen",
                    "mockd websocket status", "mockd websocket connections", "mockd websocket messages"):
        assert command in text.replace("\\-", "-"), command
    for option in ("--tls-cert", "--pid-file", "--log-format", "--admin-url", "--subprotocol"):
        assert option.replace("-", "\\-") in text, option


@pytest.mark.skipif(shutil.which("man") is None or shutil.which("groff") is None, reason="man/groff missing")
def test_man_page_renders_without_warnings():
    result = subprocess.run(["man", "--warnings", "-l", "-E", "UTF-8", "-P", "cat", str(MAN_PAGE)],
                            capture_output=True, text=True, timeout=60, env=dict(os.environ, MANWIDTH="80"))
    assert result.returncode == 0, result.stderr
    assert "EXIT STATUS" in result.stdout
    assert [line for line in result.stderr.splitlines() if "warning" in line] == []


def test_parser_is_pure():
    # argparse-manpage imports get_parser(): no gevent, no Flask, no websocket-client, no I/O.
    script = ("import sys; from mockd.cli import get_parser; get_parser(); "
              "print(sorted(m for m in ('gevent', 'flask', 'websocket', 'urllib.request') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=60,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert result.stdout.strip() == "[]", result


def test_every_subcommand_has_help_with_an_example():
    from mockd.cli import get_parser

    def walk(parser, path):
        yield path, parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                seen = set()
                for name, sub in action.choices.items():
                    if id(sub) not in seen:
                        seen.add(id(sub))
                        yield from walk(sub, path + [name])

    commands = list(walk(get_parser(), ["mockd"]))
    assert len(commands) >= 15
    for path, parser in commands:
        assert parser.epilog and "example" in parser.epilog and "  mockd " in parser.epilog, path
        assert parser.format_help()


def test_version():
    from mockd.version import __version__
    result = subprocess.run([sys.executable, "-m", "mockd", "--version"], capture_output=True, text=True,
                            cwd=ROOT, timeout=60, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert result.returncode == 0 and result.stdout == f"mockd {__version__}\n"


# ---------------------------------------------------------------- systemd


def unit_settings():
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str
    parser.read(UNIT)
    return parser


def check_execstart(exec_start):
    """``ExecStart`` runs ``mockd serve`` with options that exist; the parsed arguments."""
    from mockd.cli import get_parser

    argv = shlex.split(exec_start)
    assert pathlib.PurePosixPath(argv[0]).name == "mockd" and argv[1] == "serve"
    args = get_parser().parse_args(argv[1:])  # SystemExit(2) on an unknown flag
    assert args.config == "/etc/mockd/mockd.yaml"
    serve_options = {opt for action in get_parser()._subparsers._group_actions[0].choices["serve"]._actions
                     for opt in action.option_strings}
    flags = [arg.split("=")[0] for arg in argv[2:] if arg.startswith("-")]
    assert flags and set(flags) <= serve_options
    return argv


def test_unit_execstart_uses_existing_options():
    unit = unit_settings()
    argv = check_execstart(unit.get("Service", "ExecStart"))
    # Where a system-wide `pip install` puts console scripts (the posix_prefix scheme under
    # /usr/local, Debian's and a source-built Python's default), not /usr/bin (the distribution's).
    scripts = sysconfig.get_path("scripts", "posix_prefix", vars={"base": "/usr/local", "platbase": "/usr/local"})
    assert argv[0] == f"{scripts}/mockd" == "/usr/local/bin/mockd"
    assert unit.get("Service", "ExecReload") == "/bin/kill -HUP $MAINPID"
    assert unit.get("Service", "Restart") == "on-failure"
    for setting, value in (("DynamicUser", "yes"), ("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"),
                           ("ProtectHome", "yes"), ("PrivateTmp", "yes")):
        assert unit.get("Service", setting) == value, setting


def test_example_config_is_valid():
    result = subprocess.run([sys.executable, "-m", "mockd", "check", "-c", str(ROOT / "etc" / "mockd.yaml"),
                             "--no-plugin-autoload"], capture_output=True, text=True, cwd=ROOT, timeout=60,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert result.returncode == 0, result.stderr


SYSTEM_UNITS = pathlib.Path("/usr/lib/systemd/system")  # the targets the unit names (sysinit.target, ...)
needs_systemd_analyze = pytest.mark.skipif(shutil.which("systemd-analyze") is None or not SYSTEM_UNITS.is_dir(),
                                           reason="systemd-analyze (and systemd's own units) are not installed")


def systemd_analyze_verify(root, override=None, executables=("/usr/local/bin/mockd",)):
    """``systemd-analyze verify --root=ROOT mockd.service`` with the unit as shipped installed in
    ROOT/etc/systemd/system, ``override`` as its ``systemctl edit`` drop-in, and stand-ins for
    ``executables`` (verify checks that ExecStart's and ExecReload's binaries exist, inside ROOT)."""
    units = root / "etc" / "systemd" / "system"
    units.mkdir(parents=True)
    (units / "mockd.service").write_text(UNIT.read_text())
    if override is not None:
        (units / "mockd.service.d").mkdir()
        (units / "mockd.service.d" / "override.conf").write_text(override)
    shutil.copytree(SYSTEM_UNITS, root / SYSTEM_UNITS.relative_to("/"))
    for executable in (*executables, "/bin/kill"):
        fake = root / executable.lstrip("/")
        fake.parent.mkdir(parents=True, exist_ok=True)
        fake.write_text("#!/bin/sh\nexit 0\n")
        fake.chmod(0o755)
    result = subprocess.run(["systemd-analyze", "verify", f"--root={root}", "--man=no", "mockd.service"],
                            capture_output=True, text=True, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode == 0 and [line for line in output.splitlines() if "mockd" in line] == [], output


@needs_systemd_analyze
def test_systemd_analyze_verify_accepts_the_unit(tmp_path):
    systemd_analyze_verify(tmp_path)


@needs_systemd_analyze
def test_systemd_analyze_verify_refuses_a_missing_mockd(tmp_path):
    # What the unit with /usr/bin/mockd did after a pip install: the check above is a real one.
    with pytest.raises(AssertionError, match="/usr/local/bin/mockd is not executable"):
        systemd_analyze_verify(tmp_path, executables=())


if __name__ == "__main__":
    if sys.argv[1:] == ["--stdout"]:
        sys.stdout.write(generate())
    elif sys.argv[1:] == ["--write"]:
        MAN_PAGE.write_text(_generate_in_subprocess(), encoding="utf-8")
        print(f"wrote {MAN_PAGE.relative_to(ROOT)}")
    else:
        sys.exit("usage: python tests/test_man_systemd.py --write")
