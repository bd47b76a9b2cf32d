"""Every code block of README.rst, run as it is written.

The blocks (``.. code-block:: LANG`` and ``::`` literal blocks) are read from README.rst when the
tests are collected, and each is named by its section and its rank there: ``"Admin API #3"``.
:data:`EXPECTED_BLOCKS` counts them and every name must have a runner (a test here decorated
with ``@runs(name)``), a test elsewhere (:data:`ELSEWHERE`) or a reason not to run
(:data:`NOT_RUN`), so a new block without a test fails ``test_every_block_is_run``.

How they run: shell blocks are typed into one ``sh`` per block, command by command (variables
and files carry over, as in a reader's terminal), with the real ``curl`` (or, where there is
none, a stand-in that speaks the options the README uses, :data:`CURL_STAND_IN`) and ``mockd``
(``python -m mockd`` from this checkout); a curl configuration file makes curl print each HTTP
status on standard error, so every request is checked without touching the command. Console
blocks (and the ``::`` ones that show a session or an error) run each ``$`` command and compare
the output with the README's, timestamps, generated ids and connection ages aside. Files (YAML,
setup.cfg, a plugin module, a systemd drop-in) are saved as a reader would save them and
checked, served or verified. Servers are ``mockd serve`` subprocesses on ports 0.

The only change made to a command: ``localhost:4290`` and ``localhost:4280`` become the
addresses of the server the test started (``127.0.0.1:PORT``), and the one ``mockd serve`` that
a block starts itself (Authentication) gets ``-p 0 -a 0``, as the fixed ports may be taken.
"""
import configparser
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import textwrap
import uuid

import gevent
import pytest
import websocket

import test_man_systemd
from _cli import ADMIN_URL, MOCK_URL, ROOT, end, env, read_until
from mockd.adminclient import AdminClient

README = ROOT / "README.rst"
EXPECTED_BLOCKS = 53
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")
GENERATED_ID = re.compile(r"conn-[0-9a-f]{16}-[0-9a-f]{8}-[0-9a-f]{8}|websocket_[0-9a-f]{16}")
PORTS = re.compile(r"localhost:(4280|4290)")


# ---------------------------------------------------------------------------- the blocks

HEADING = re.compile(r"^(\S.*)\n([-=~^\"'`#*+])\2+$", re.M)
BLOCK = re.compile(r"^(?:\.\. code-block:: *(\S+)|(?!\.\. )(?:.*\S)?::)\n\n((?:(?: {3}.*)?\n)+)", re.M)


def readme_blocks(text):
    """``{name: (language, text)}`` in document order; ``language`` is ``""`` for a ``::`` block."""
    headings = [(m.start(), m.group(1).replace("``", "")) for m in HEADING.finditer(text)
                if len(m.group(0)) > 2 * len(m.group(1))]  # the underline is at least as long as the title
    blocks, ranks = {}, {}
    for match in BLOCK.finditer(text):
        section = [title for start, title in headings if start < match.start()][-1]
        ranks[section] = ranks.get(section, 0) + 1
        body = textwrap.dedent(match.group(2)).strip("\n") + "\n"
        blocks[f"{section} #{ranks[section]}"] = (match.group(1) or "", body)
    return blocks


BLOCKS = readme_blocks(README.read_text(encoding="utf-8"))
RUNNERS = {}

ELSEWHERE = {
    "mockd #2": ("test_ci.py", "test_ci_runs_the_readme_test_command_verbatim"),
    "Working on mockd #1": ("test_ci.py", "test_the_quick_loop_leaves_out_only_slow_tests"),
    "Command line #1": ("test_readme_cli.py", "test_readme_session_is_real"),
    "Testing with mockd.testing #1": ("test_testing.py", "test_readme_example_runs_and_servers_stop_at_teardown"),
    "Testing with mockd.testing #2": ("test_testing.py", "test_readme_example_runs_and_servers_stop_at_teardown"),
    **{f"Writing a plugin, step by step #{rank}": ("test_plugin_docs.py", "test_writing_a_plugin_walkthrough")
       for rank in (1, 2, 3, 4)},
    "Responses and templates #1": ("test_captures.py", "test_readme_captures_example"),
    "Record and replay #1": ("test_record_replay_docs.py", "test_readme_proxy_example"),
    "Record and replay #2": ("test_record_replay_docs.py", "test_readme_record_session"),
    "Record and replay #3": ("test_record_replay_docs.py", "test_readme_recording_file"),
    "Record and replay #4": ("test_record_replay_docs.py", "test_readme_converted_chrome_har"),
    "Record and replay #5": ("test_record_replay_docs.py", "test_readme_replay_example"),
    "Faults and reconnection testing #1": ("test_fault_docs.py", "test_readme_overview_config"),
    "Faults and reconnection testing #2": ("test_fault_docs.py", "test_readme_deploy_restart"),
    "Faults and reconnection testing #3": ("test_fault_docs.py", "test_readme_deploy_restart"),
    "Faults and reconnection testing #4": ("test_fault_docs.py", "test_readme_dead_connection_detection"),
    "Faults and reconnection testing #5": ("test_fault_docs.py", "test_readme_backoff"),
    "Faults and reconnection testing #6": ("test_fault_docs.py", "test_readme_backoff"),
    "Faults and reconnection testing #7": ("test_fault_docs.py", "test_readme_backoff"),
    "Running several instances #1": ("test_cluster_docs.py", "test_two_node_session"),
    **{f"{hook} #1": ("test_plugin_docs.py", "test_readme_hook_examples_work_together") for hook in (
        "mockd_register_matchers()", "mockd_register_template_functions()", "mockd_register_step_types()",
        "mockd_register_response_types()", "mockd_register_protocols()", "mockd_register_fault_types()",
        "mockd_configure(server)",
        "mockd_unconfigure(server)",
        "mockd_connection_opened(server, connection)", "mockd_message_received(server, connection, message)",
        "mockd_connection_closed(server, connection)")},
}
NOT_RUN = {
    "mockd #1": "creates a virtual environment, installs mockd from the network and serves until Ctrl+C; "
                "test_first_setup_command_gives_the_mockd_command checks what it relies on, and every other "
                "test serves the demo it starts",
}


def runs(name):
    """Register the decorated test as the runner of block ``name``."""
    def register(test):
        RUNNERS[name] = test.__name__
        return test
    return register


def block(name, language=None):
    found, text = BLOCKS[name]
    assert language is None or found == language, f"{name} is a {found or '::'} block, not {language}"
    return text


def test_every_block_is_run():
    assert len(BLOCKS) == EXPECTED_BLOCKS, f"README.rst has {len(BLOCKS)} blocks: {list(BLOCKS)}"
    accounted = [*RUNNERS, *ELSEWHERE, *NOT_RUN]
    assert len(accounted) == len(set(accounted)), "a block is claimed twice"
    assert sorted(accounted) == sorted(BLOCKS), f"blocks without a test: {set(BLOCKS) - set(accounted)}, " \
                                                f"tests without a block: {set(accounted) - set(BLOCKS)}"
    for name, (path, test) in ELSEWHERE.items():
        assert f"\ndef {test}(" in (ROOT / "tests" / path).read_text(encoding="utf-8"), (name, path, test)


@pytest.mark.slow
def test_blocks_are_the_ones_docutils_sees():
    """The extraction above finds exactly the literal blocks a reStructuredText parser finds."""
    import docutils.core as docutils_core  # a test extra: missing, this fails rather than skips
    from docutils import nodes

    tree = docutils_core.publish_doctree(README.read_text(encoding="utf-8"), settings_overrides={"report_level": 5})
    parsed = [node.astext() + "\n" for node in tree.findall(nodes.literal_block)]
    assert parsed == [text for _, text in BLOCKS.values()]


def test_first_setup_command_gives_the_mockd_command():
    command = block("mockd #1", "sh").strip()
    assert command == "python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/mockd serve"
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    assert "mockd = mockd.cli:main" in setup["options.entry_points"]["console_scripts"].splitlines()
    assert setup["options"]["python_requires"] == ">=3.11"  # "Python 3.11+" above the command


# ---------------------------------------------------------------------------- servers and shells

class Served:
    """``mockd serve ARGS`` (the built-in demo without ``-c``) on 127.0.0.1, ports 0, logs in a file."""

    def __init__(self, tmp_path, *args, cwd=ROOT, environ=None):
        self.log = open(tmp_path / f"serve-{uuid.uuid4().hex[:8]}.log", "w+")
        self.proc = subprocess.Popen([sys.executable, "-m", "mockd", "serve", "--host", "127.0.0.1", "-p", "0",
                                      "-a", "0", *args], stdout=subprocess.PIPE, stderr=self.log, text=True,
                                     env=environ or env(), cwd=cwd)
        self.port = int(read_until(self.proc.stdout, MOCK_URL.pattern)[0].group(2))
        self.admin_port = int(read_until(self.proc.stdout, ADMIN_URL.pattern)[0].group(2))
        self.admin = AdminClient(f"http://127.0.0.1:{self.admin_port}")

    def url(self, path):
        return f"ws://127.0.0.1:{self.port}{path}"

    def here(self, command):
        """The README's command with the fixed ports replaced by this server's."""
        ports = {"4280": self.port, "4290": self.admin_port}
        return PORTS.sub(lambda m: f"127.0.0.1:{ports[m.group(1)]}", command)

    def stop(self):
        end(self.proc)
        self.log.close()


@pytest.fixture
def demo(served_demo):
    """The real CLI, ``mockd serve`` without -c: the built-in demo (tests/conftest.py)."""
    return served_demo


@pytest.fixture
def clients(ws_client):
    """conftest.py's ``ws_client``: connections closed at teardown, before ``demo`` stops."""
    return ws_client


CURL_STAND_IN = '''\
"""curl -s [-X METHOD] [-H 'Name: value']... [-d DATA] URL, with urllib (no curl on this machine)."""
import sys
import urllib.error
import urllib.request

args, method, headers, data, url = sys.argv[1:], None, {}, None, None
while args:
    arg = args.pop(0)
    if arg == "-X":
        method = args.pop(0)
    elif arg == "-H":
        name, _, value = args.pop(0).partition(":")
        headers[name.strip()] = value.strip()
    elif arg == "-d":
        data = args.pop(0).encode()
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")  # as curl does
    elif arg.startswith("-") and arg != "-s":
        sys.exit(f"curl stand-in: {arg} is not supported")
    elif not arg.startswith("-"):
        url = arg if "://" in arg else "http://" + arg
request = urllib.request.Request(url, data=data, headers=headers, method=method or ("POST" if data else "GET"))
try:
    answer = urllib.request.urlopen(request, timeout=30)
except urllib.error.HTTPError as error:
    answer = error
sys.stdout.buffer.write(answer.read())
sys.stderr.write(f"HTTP {answer.status}\\n")
'''
CURL_OPTIONS = {"-s", "-X", "-H", "-d"}  # what the README's curl commands use, and the stand-in speaks


def tools(tmp_path, curl=None):
    """A directory for the front of PATH: ``mockd`` (this checkout), ``python3`` (this
    interpreter) and, without a real curl, the stand-in. Also a ``.curlrc`` (CURL_HOME) that
    makes curl write ``HTTP <status>`` to standard error after every request."""
    directory = tmp_path / f"bin-{uuid.uuid4().hex[:8]}"
    directory.mkdir()
    (directory / "mockd").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m mockd "$@"\n')
    (directory / "mockd").chmod(0o755)
    (directory / "python3").symlink_to(sys.executable)
    if curl == "stand-in" or shutil.which("curl") is None:
        (directory / "curl.py").write_text(CURL_STAND_IN)
        (directory / "curl").write_text(f'#!/bin/sh\nexec "{sys.executable}" "{directory / "curl.py"}" "$@"\n')
        (directory / "curl").chmod(0o755)
    (tmp_path / ".curlrc").write_text('write-out = "%{stderr}HTTP %{http_code}\\n"\n')
    return env(PATH=f"{directory}{os.pathsep}{os.environ['PATH']}", CURL_HOME=str(tmp_path), LC_ALL="C.UTF-8")


def commands(text):
    """The commands of a shell block (continued lines joined as the shell reads them), and the
    ``# ...`` comment after each, which shows (part of) its answer."""
    found, pending = [], ""
    for line in text.splitlines():
        if not pending and line.startswith("#"):
            found[-1][1].append(line[1:].strip())
            continue
        pending += line + "\n"
        try:
            shlex.split(pending)
        except ValueError:  # a quote still open
            continue
        if not pending.rstrip().endswith(("\\", "|")):
            found.append((pending.rstrip("\n"), []))
            pending = ""
    assert not pending, f"unterminated command: {pending!r}"
    return found


class Shell:
    """One ``sh`` the commands of a block are typed into."""

    def __init__(self, tmp_path, environ):
        self.tmp_path = tmp_path
        self.proc = subprocess.Popen(["sh"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     cwd=tmp_path, env=environ, start_new_session=True)
        self.count = 0

    def run(self, command, timeout=30):
        """``(exit status, stdout, stderr)`` of ``command``."""
        self.count += 1
        marker = f"__done_{uuid.uuid4().hex}__"
        errors = self.tmp_path / f"stderr-{self.count}"
        self.proc.stdin.write(f"{{\n{command}\n}} 2>'{errors}'\nprintf '\\n{marker} %s\\n' \"$?\"\n".encode())
        self.proc.stdin.flush()
        output = self.read_until(rf"\n{marker} (\d+)\n", timeout)
        status = int(re.search(rf"{marker} (\d+)", output).group(1))
        return status, output[:output.rindex(f"\n{marker}")], errors.read_text()

    def read_until(self, pattern, timeout=15):
        output = b""
        with gevent.Timeout(timeout, AssertionError(f"the shell printed no {pattern!r} within {timeout}s")):
            while not re.search(pattern, output.decode(errors="replace")):
                chunk = self.proc.stdout.read1(65536) if hasattr(self.proc.stdout, "read1") \
                    else self.proc.stdout.readline()
                assert chunk, f"the shell ended: {output!r}"
                output += chunk
        return output.decode()

    def close(self):
        self.proc.stdin.close()
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)  # the shell and what it started in the background
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)


def run_block(tmp_path, text, server, curl=None, between=None):
    """Type the commands of a shell block into one shell; per command ``(command, stdout,
    statuses)``, after checking that it succeeded, that every HTTP status was 2xx and that the
    comment after it agrees with its answer. ``between(i)`` runs before command ``i``."""
    shell = Shell(tmp_path, tools(tmp_path, curl))
    results = []
    try:
        for index, (command, comments) in enumerate(commands(text)):
            if between is not None:
                between(index)
            status, out, err = shell.run(server.here(command))
            statuses = [int(code) for code in re.findall(r"^HTTP (\d{3})$", err, re.M)]
            assert status == 0 and statuses and all(200 <= code < 300 for code in statuses), (command, out, err)
            for comment in comments:
                check_comment(comment, out)
            results.append((command, out, statuses))
    finally:
        shell.close()
    return results


def check_comment(comment, out):
    """``# {"id": "orders", "action": "created", ..., "mock": {...}}``: the answer has each key,
    and each string value that is not a generated id."""
    answer = json.loads(out)
    found = {}

    def walk(value):
        if isinstance(value, dict):
            for key, item in value.items():
                found.setdefault(key, []).append(item)
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
    walk(answer)
    for key, value in re.findall(r'"(\w+)": ("[^"]*"|\{\.\.\.\}|\[)', comment):
        assert key in found, (comment, out)
        if value.startswith('"') and not GENERATED_ID.fullmatch(value.strip('"')):
            assert value.strip('"') in found[key], (comment, out)


def answer(results, index):
    return json.loads(results[index][1])


# ---------------------------------------------------------------------------- shell blocks: the admin API

@pytest.mark.slow
@runs("Admin API #1")
def test_admin_mocks(demo, clients, tmp_path):
    def between(index):
        if index == 2:  # it serves as soon as the POST answered
            ws = clients(demo.url("/orders"))
            ws.send("ping")
            assert ws.recv() == "pong"

    results = run_block(tmp_path, block("Admin API #1", "sh"), demo, between=between)
    assert [statuses for _, _, statuses in results] == [[201], [200], [200], [200], [204]]
    assert "orders" in [mock["id"] for mock in answer(results, 1)["mocks"]]
    assert answer(results, 2)["mock"]["websocket"]["echoMode"] is True
    assert answer(results, 3)["message"] == "Mock disabled"
    assert results[4][1] == "" and demo.admin.get("/mocks/orders").status == 404


@pytest.mark.slow
@runs("Admin API #2")
def test_admin_config_snapshot(demo, tmp_path):
    results = run_block(tmp_path, block("Admin API #2", "sh"), demo)
    snapshot = json.loads((tmp_path / "snapshot.json").read_text())
    assert [mock["id"] for mock in snapshot["mocks"]] == ["demo-echo", "chat-room", "stock-ticker"]
    assert answer(results, 1)["imported"] == 3 and answer(results, 1)["replaced"] is True
    assert demo.admin.get("/config").json["mocks"] == snapshot["mocks"]


@pytest.mark.slow
@runs("Admin API #3")
def test_admin_connections(demo, clients, tmp_path):
    chat = [clients(demo.url("/ws/chat")) for _ in range(2)]
    results = run_block(tmp_path, block("Admin API #3", "sh"), demo)
    assert [statuses for _, _, statuses in results] == [[200], [200], [200], [200], [200], [200]]
    assert len(answer(results, 0)["connections"]) == 2
    assert answer(results, 3) == {"message": "Connection closed", "connection": answer(results, 2)["connection"]}
    assert answer(results, 5)["closed"] == 1
    frames = []
    for ws in chat:
        opcode, data = ws.recv_data(control_frame=True)
        frames.append((opcode, data if opcode == websocket.ABNF.OPCODE_BINARY else data[:2]))
    assert sorted(frames) == [(websocket.ABNF.OPCODE_BINARY, b"hello"), (websocket.ABNF.OPCODE_CLOSE, b"\x03\xe8")]


@pytest.mark.slow
@runs("Admin API #4")
def test_admin_broadcast(demo, clients, tmp_path):
    chat = clients(demo.url("/ws/chat"))
    results = run_block(tmp_path, block("Admin API #4", "sh"), demo)
    assert answer(results, 0)["sent"] == 1
    assert json.loads(chat.recv()) == {"type": "notice"}


@pytest.mark.slow
@runs("Admin API #5")
def test_admin_journal(demo, clients, tmp_path):
    ws = clients(demo.url("/ws"))
    ws.send('{"type": "ack"}')
    assert ws.recv() == '{"type": "ack"}'
    results = run_block(tmp_path, block("Admin API #5", "sh"), demo)
    assert [entry["body"] for entry in answer(results, 1)["messages"]] == ['{"type": "ack"}']
    assert results[2][2] == [204] and demo.admin.get("/websocket/messages").json["messages"] == []


@pytest.mark.slow
@runs("Admin API #6")
def test_admin_faults(demo, clients, tmp_path):
    chat = clients(demo.url("/ws/chat"))
    results = run_block(tmp_path, block("Admin API #6", "sh"), demo)
    assert [statuses for _, _, statuses in results] == [[201], [200], [200], [200], [200], [200]]
    assert answer(results, 0) == {"applied": {"type": "latency", "fixed": "200ms", "jitter": "50ms"},
                                  "mockId": "chat-room", "connections": 1}
    assert answer(results, 1)["faults"] == [{"type": "latency", "fixed": "200ms", "jitter": "50ms"}]
    assert answer(results, 3)["applied"] == {"type": "drop"} and answer(results, 3)["connections"] == 1
    assert answer(results, 4) == {"cleared": 1, "mockId": "chat-room", "connections": 0}
    assert [(h["status"], h["refusedBy"]) for h in answer(results, 5)["handshakes"]] == [(101, None)]
    with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionError)):
        chat.recv()  # reset: no close frame


@pytest.mark.slow
@runs("Admin API #7")
def test_admin_health_and_status(demo, tmp_path):
    results = run_block(tmp_path, block("Admin API #7", "sh"), demo)
    assert answer(results, 0)["status"] == "ok"
    assert answer(results, 1)["mocks"] == {"total": 3, "enabled": 3}


@pytest.mark.slow
def test_curl_stand_in_speaks_the_readme(demo, tmp_path):
    """Where there is no curl, the stand-in runs the blocks: every curl of the README uses only
    options it knows, and it answers as curl does."""
    used = set()
    for _, (language, text) in BLOCKS.items():
        if language == "sh":
            for command, _ in commands(text):
                tokens = list(shlex.shlex(command, posix=True, punctuation_chars=True))
                for start in [i for i, token in enumerate(tokens) if token == "curl"]:
                    for token in tokens[start + 1:]:
                        if re.fullmatch(r"[|&;()<>]+", token):  # the end of this curl command
                            break
                        used |= {token} if re.fullmatch(r"-\w", token) else set()
    assert used == CURL_OPTIONS
    results = run_block(tmp_path, block("Admin API #1", "sh"), demo, curl="stand-in")
    assert [statuses for _, _, statuses in results] == [[201], [200], [200], [200], [204]]


@pytest.mark.slow
@runs("Admin API #8")
def test_admin_token(tmp_path):
    """The block starts its own server (``-p 0 -a 0`` appended), then asks it with the token."""
    shell = Shell(tmp_path, tools(tmp_path))
    try:
        (serve, _), *asks = commands(block("Admin API #8", "sh"))
        assert serve == "MOCKD_ADMIN_TOKEN=s3cret mockd serve --admin-host 0.0.0.0 &"
        assert shell.run(serve.replace(" &", " -p 0 -a 0 &"))[0] == 0
        admin_port = int(re.search(ADMIN_URL, shell.read_until(ADMIN_URL.pattern)).group(2))
        for command, _ in asks:
            status, out, err = shell.run(command.replace("localhost:4290", f"127.0.0.1:{admin_port}"))
            assert status == 0 and err == "HTTP 200\n", (command, out, err)
            assert json.loads(out)
        assert AdminClient(f"http://127.0.0.1:{admin_port}").get("/mocks").status == 401
    finally:
        shell.close()


# ---------------------------------------------------------------------------- console blocks

def session(text):
    """``[(command, expected output)]`` of a console block."""
    steps = []
    for line in text.rstrip("\n").split("\n"):
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            steps[-1][1].append(line)
    return [(command, "\n".join(lines)) for command, lines in steps]


def normalise(text, server=None):
    if server is not None:
        text = text.replace(f"127.0.0.1:{server.port}", "localhost:4280")
    text = GENERATED_ID.sub("ID", TIMESTAMP.sub("TIME", text))
    text = re.sub(r'(\\"uptime\\":\\")\d+', r"\1N", text)  # {{timestamp}} in the demo's status reply
    return re.sub(r"^(ID +\S+ +\S+ +)\d+s( +)\d( +)\d", r"\g<1>0s\g<2>0\g<3>0", text, flags=re.M)  # ages, counts


def threads(output):
    """The lines of ``output`` as three sequences: what ``--json`` says was sent, what arrived,
    and the rest. A reply may be printed before the next line is sent, or after."""
    lines = output.splitlines()
    return ([line for line in lines if '"direction":"sent"' in line],
            [line for line in lines if line.startswith("{") and '"direction":"sent"' not in line],
            [line for line in lines if not line.startswith("{")])


def run_console(tmp_path, text, server, between=None, status=0, order=lambda output: output):
    """Run each ``$ command`` of a console block as a terminal shows it (standard output and
    error together) and compare with the README (``order`` picks what must be in order)."""
    environ = tools(tmp_path)
    environ["MOCKD_ADMIN_URL"] = f"http://127.0.0.1:{server.admin_port}"
    for index, (command, expected) in enumerate(session(text)):
        if between is not None:
            between(index)
        done = subprocess.run(["sh", "-c", server.here(command)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, env=environ, cwd=tmp_path, timeout=30)
        assert done.returncode == status, (command, done.stdout)
        assert order(normalise(done.stdout.rstrip("\n"), server)) == order(normalise(expected)), command


@runs("mockd #3")
def test_wscat_session(demo, clients):
    """wscat is a Node program the suite does not install: the session is replayed with
    websocket-client, line by line (``>`` is sent, ``<`` must arrive)."""
    (command, typed), = session(block("mockd #3", "console"))
    assert command == "wscat -c ws://localhost:4280/ws"
    ws = clients(demo.url("/ws"))
    for line in typed.splitlines():
        if line.startswith("> "):
            ws.send(line[2:])
        else:
            assert line.startswith("< ") and ws.recv() == line[2:]


@pytest.mark.slow
@runs("Command line #2")
def test_connect_json_from_a_pipe(demo, tmp_path):
    run_console(tmp_path, block("Command line #2", "console"), demo, order=threads)


@pytest.mark.slow
@runs("Command line #3")
def test_connect_to_an_unknown_path(demo, tmp_path):
    run_console(tmp_path, block("Command line #3", ""), demo, status=1)


@pytest.mark.slow
@runs("Command line #4")
def test_admin_commands_session(demo, clients, tmp_path):
    stocks = []

    def between(index):
        if index == 0:  # the connection the listing shows
            stocks.append(clients(demo.url("/ws/stocks")))
            wait_for(lambda: demo.admin.get("/websocket/connections").json["connections"])
        elif index == 1:  # gone before the send, so that the journal's last two are the send's
            stocks.pop().close()
            wait_for(lambda: not demo.admin.get("/websocket/connections").json["connections"])

    run_console(tmp_path, block("Command line #4", "console"), demo, between=between)


def wait_for(predicate, timeout=5.0):
    with gevent.Timeout(timeout, AssertionError("timed out")):
        while not predicate():
            gevent.sleep(0.02)


# ---------------------------------------------------------------------------- config files

QUICK_START_BROKEN = "      matchers:\n        - match: {type: regexp, value: ^hi}\n" \
                     "          response: {type: text, value: hello}\n"


@pytest.mark.slow
@runs("Quick start #1")
def test_quick_start_config(tmp_path, clients):
    (tmp_path / "mockd.yaml").write_text(block("Quick start #1", "yaml"))
    checked = subprocess.run([sys.executable, "-m", "mockd", "check", "-c", "mockd.yaml"], capture_output=True,
                             text=True, env=env(), cwd=tmp_path, timeout=60)
    assert checked.returncode == 0, checked.stderr
    assert serve_and_ask(tmp_path, clients, "hello") == "hello"


def serve_and_ask(tmp_path, clients, message, environ=None):
    """``mockd serve --config mockd.yaml`` in ``tmp_path``: its answer to ``message`` on /ws."""
    server = Served(tmp_path, "--config", "mockd.yaml", cwd=tmp_path, environ=environ)
    try:
        ws = clients(server.url("/ws"))
        ws.send(message)
        return ws.recv()
    finally:
        server.stop()


@pytest.mark.slow
@runs("Quick start #2")
def test_quick_start_error(tmp_path):
    """The error shown is what ``mockd serve`` and ``mockd check`` print for the Quick start's
    file with a misspelled matcher type, with mockd as the first set-up command installs it
    (no plugins: an installed mockd-protobuf adds ``protobuf`` to the allowed types)."""
    text = block("Quick start #1", "yaml")
    assert text.count("      echoMode: true\n") == 1
    (tmp_path / "mockd.yaml").write_text(text.replace("      echoMode: true\n", QUICK_START_BROKEN))
    for args in (["serve", "-c", "mockd.yaml", "-p", "0", "-a", "0"], ["check", "-c", "mockd.yaml"]):
        done = subprocess.run([sys.executable, "-m", "mockd", *args], capture_output=True, text=True, cwd=tmp_path,
                              env=env(MOCKD_DISABLE_PLUGIN_AUTOLOAD="1"), timeout=60)
        assert (done.returncode, done.stdout, done.stderr) == (2, "", block("Quick start #2", "")), args


@pytest.mark.slow
@runs("Writing plugins #1")
@runs("Writing plugins #2")
def test_plugin_distribution(tmp_path, clients):
    """setup.cfg and module of mockd-shout, installed as pip would lay them out (a module and a
    dist-info with the entry points the setup.cfg declares), found by ``mockd serve``."""
    setup = configparser.ConfigParser()
    setup.read_string(block("Writing plugins #1", "ini"))
    module = setup["options"]["py_modules"]
    site = tmp_path / "site"
    dist_info = site / "mockd_shout-1.0.dist-info"
    dist_info.mkdir(parents=True)
    (site / f"{module}.py").write_text(block("Writing plugins #2", "python"))
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: mockd-shout\nVersion: 1.0\n")
    (dist_info / "entry_points.txt").write_text("".join(
        f"[{group}]\n{points.strip()}\n" for group, points in setup["options.entry_points"].items()))
    (tmp_path / "mockd.yaml").write_text('version: "1.0"\nmocks:\n  - websocket:\n      path: /ws\n'
                                         '      defaultResponse: {type: text, value: "{{ shout(message.name) }}"}\n')
    environ = env(PYTHONPATH=f"{site}{os.pathsep}{ROOT}")
    listed = subprocess.run([sys.executable, "-m", "mockd", "plugins"], capture_output=True, text=True, timeout=60,
                            env=environ)
    assert {"name": "shout", "distribution": "mockd-shout"}.items() <= \
        next(p for p in json.loads(listed.stdout) if p["name"] == "shout").items()
    assert serve_and_ask(tmp_path, clients, '{"name": "world"}', environ) == "WORLD!"


@pytest.mark.slow
@runs("Writing plugins #3")
def test_plugin_settings(tmp_path):
    """The protobuf settings, in a file of their own directory: the descriptor set is found
    next to it whatever the working directory, and a missing one is an error at load."""
    import mockd_protobuf  # noqa: F401 - installed by the README's test command: fail, never skip
    from google.protobuf import descriptor_pb2

    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "mockd.yaml").write_text('version: "1.0"\nmocks: []\n' + block("Writing plugins #3", "yaml"))
    check = [sys.executable, "-m", "mockd", "check", "-c", "conf/mockd.yaml"]
    missing = subprocess.run(check, capture_output=True, text=True, env=env(), cwd=tmp_path, timeout=60)
    assert missing.returncode == 2 and "conf/mockd.yaml: plugins.protobuf.descriptorSet: " in missing.stderr
    chat = descriptor_pb2.FileDescriptorProto(name="chat.proto", package="chat", syntax="proto3",
                                              message_type=[descriptor_pb2.DescriptorProto(name="Ping")])
    (tmp_path / "conf" / "chat.desc").write_bytes(descriptor_pb2.FileDescriptorSet(file=[chat]).SerializeToString())
    found = subprocess.run(check, capture_output=True, text=True, env=env(), cwd=tmp_path, timeout=60)
    assert found.returncode == 0, found.stderr


# ---------------------------------------------------------------------------- the systemd unit

@runs("Running as a service #1")
def test_systemctl_edit_override(tmp_path):
    """``systemctl edit`` needs systemd as PID 1 and root: the override is checked instead. Its
    ExecStart runs ``mockd serve`` with options that exist, the unit's own comment shows the same
    override, and (where systemd-analyze is installed) the unit with this drop-in verifies with
    only the virtual environment's mockd present, so the empty ``ExecStart=`` did clear the unit's."""
    override = block("Running as a service #1", "ini")
    settings = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    settings.optionxform = str
    settings.read_string(override)
    assert override.splitlines()[:2] == ["[Service]", "ExecStart="]
    argv = test_man_systemd.check_execstart(settings["Service"]["ExecStart"])
    assert argv[0] == "/opt/mockd/.venv/bin/mockd"
    comment = "".join(line[4:] + "\n" for line in test_man_systemd.UNIT.read_text().splitlines()
                      if line.startswith("#   ") and not line.startswith("#   systemctl"))
    assert comment == override
    if shutil.which("systemd-analyze") and test_man_systemd.SYSTEM_UNITS.is_dir():
        test_man_systemd.systemd_analyze_verify(tmp_path, override, executables=(argv[0],))


# ---------------------------------------------------------------------------- references to documents

def documented_files():
    """What users and contributors read: the package, the README, docs/, etc/, the man page and
    the plugin's distribution (its sources and README)."""
    plugin = ROOT / "plugins" / "mockd-protobuf"
    return [*sorted((ROOT / "mockd").rglob("*.py")), ROOT / "mockd" / "demo.yaml", README, ROOT / "setup.cfg",
            *sorted(path for path in (ROOT / "docs").iterdir() if path.is_file()), *sorted((ROOT / "etc").iterdir()),
            *sorted((ROOT / "man").iterdir()),
            plugin / "README.rst", plugin / "setup.cfg", *sorted((plugin / "mockd_protobuf").glob("*.py"))]


def stale_references(text, here):
    """Documents ``text`` names that are not in the repository: ``*.md``/``*.rst``/``*.txt`` names
    found neither beside ``here`` nor from the top, a README section that is not a heading, and
    a ``§`` that is not an RFC's (those pointed into documents this repository does not have)."""
    headings = set(re.findall(r"^(\S.*)\n[-=~]{3,}\n", README.read_text(encoding="utf-8"), re.M))
    stale = [name for name in re.findall(r"(?<![\w.])[\w./-]*\w\.(?:md|rst|txt)\b", text)
             if not (here.parent / name).exists() and not (ROOT / name).exists()]
    stale += [f"README.rst section {title!r}" for title in re.findall(r'README\.rst, "([^"]+)"', text)
              if title not in headings]
    joined = re.sub(r"\n\s*(?:#:?|\*)?\s*", " ", text)  # "RFC 6455\n    #: §4.2.2" is one reference
    stale += [joined[max(0, m.start() - 30):m.end() + 5] for m in re.finditer("§", joined)
              if not re.search(r"RFC \d+\s*$", joined[max(0, m.start() - 12):m.start()])]
    return stale


def test_docs_and_code_name_only_documents_that_exist():
    """Issue 11 item 5: docstrings, comments, docs and the OpenAPI document point at README.rst
    and docs/, not at a behaviour.md or notes this repository does not have."""
    from mockd.admin.openapi import document

    stale = {str(path.relative_to(ROOT)): found for path in documented_files()
             if (found := stale_references(path.read_text(encoding="utf-8"), path))}
    openapi = json.dumps(document(with_token=True), ensure_ascii=False)
    if found := stale_references(openapi.replace('\\"', '"'), README):
        stale["GET /openapi.json"] = found
    assert stale == {}
    assert stale_references("see behaviour.md §11 and notes/x.md; README.rst, \"Nope\"", README) == [
        "behaviour.md", "notes/x.md", "README.rst section 'Nope'", "see behaviour.md §11 an"]
