"""The CLI session in README.rst ("Command line") is what the commands really print: each
``$ mockd ...`` line of its first console block is run against ``mockd serve`` (the built-in
demo, as a subprocess), ``connect`` on a pseudo-terminal with the lines the README types, and
the output is compared with the README's, timestamps and generated ids aside."""
import os
import pathlib
import pty
import re
import select
import shlex
import signal
import subprocess
import sys
import time

import pytest

from _cli import ROOT, Serve, env, read_until

README = pathlib.Path(ROOT / "README.rst")
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")
MOCK_ID = re.compile(r"websocket_[0-9a-f]{16}")


def readme_session():
    text = README.read_text(encoding="utf-8")
    section = text[text.index("\nCommand line\n"):]
    block = section[section.index(".. code-block:: console\n\n") + len(".. code-block:: console\n\n"):]
    lines = []
    for line in block.splitlines():
        if line and not line.startswith("   "):
            break
        lines.append(line[3:])
    commands, current = [], None
    for line in lines:
        if line.startswith("$ "):
            current = (line[2:], [])
            commands.append(current)
        elif current is not None:
            current[1].append(line)
    return [(shlex.split(command), "\n".join(output).rstrip("\n")) for command, output in commands]


def normalise(text):
    return MOCK_ID.sub("websocket_ID", TIMESTAMP.sub("TIME", text))


def on_a_terminal(argv, typed, environ):
    """Run ``argv`` on a pty, type ``typed`` lines, then Ctrl+C; the screen as it would read."""
    master, slave = pty.openpty()
    # Ctrl+C as on a terminal, even when the test runner ignores SIGINT (a child inherits that).
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=environ, cwd=ROOT, close_fds=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    os.close(slave)
    raw = b""

    def pump(seconds, until=None):
        nonlocal raw
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    raw += os.read(master, 65536)
                except OSError:
                    return
            # Replies counted, and the prompt back: a user types only once it is there.
            if until is not None and len(re.findall(rb"(?:\n|\x1b\[K)< ", raw)) >= until \
                    and raw.endswith(b"> "):
                return

    try:
        pump(10, until=0)
        for count, line in enumerate(typed, 1):
            os.write(master, line.encode() + b"\n")
            pump(10, until=count)
        raw += b"^C"  # what the terminal echoes for Ctrl+C
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
        pump(0.5)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    screen = []
    for line in raw.decode().replace("\r\n", "\n").split("\n"):
        screen.append(line.split("\r\x1b[K")[-1])
    return "\n".join(screen).rstrip("\n")


@pytest.fixture
def demo():
    server = Serve("--admin-port", "0")
    found, _ = read_until(server.proc.stderr, r"listening ws=\S+ admin=127\.0\.0\.1:(\d+)")
    server.admin_port = int(found.group(1))
    yield server
    server.stop()


# mockd serve and a dozen CLI subprocesses on a pseudo-terminal.
@pytest.mark.slow
def test_readme_session_is_real(demo):
    session = readme_session()
    assert [argv[:2] for argv, _ in session][:5] == [["mockd", "websocket"]] * 5
    assert {argv[2] for argv, _ in session} >= {"add", "send", "connect", "listen", "status"}
    environ = env(MOCKD_ADMIN_URL=f"http://127.0.0.1:{demo.admin_port}", COLUMNS="100")
    here = f"127.0.0.1:{demo.port}"
    for argv, expected in session:
        real = [sys.executable, "-m", "mockd"] + [arg.replace("localhost:4280", here) for arg in argv[1:]]
        if argv[2] == "connect":
            typed = [line[2:] for line in expected.splitlines() if line.startswith("> ") and line != "> ^C"]
            output = on_a_terminal(real, typed, environ)
        else:
            result = subprocess.run(real, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environ,
                                    cwd=ROOT, timeout=30)
            assert result.returncode == 0, result.stdout
            output = result.stdout.rstrip("\n")
        output = output.replace(here, "localhost:4280")
        assert normalise(output) == normalise(expected), " ".join(argv)
