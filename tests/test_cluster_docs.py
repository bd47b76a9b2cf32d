"""README "Running several instances": the two-node session, typed into one shell as a reader
would, with the fixed ports (Redis's 6379, the nodes' 4280/4290 and 4281/4291) replaced by free
ones (``-p``/``-a`` appended to the node on the default ports). Between commands the test waits for what a reader waits for: a server to listen."""
import json
import re
import socket

import pytest

from _helpers import wait_until
from _redis import free_port
from mockd.adminclient import AdminClient
from test_readme_examples import Shell, block, commands, tools

pytestmark = pytest.mark.slow
SECTION = "Running several instances #1"


def listening(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def test_two_node_session(tmp_path):
    ports = {name: free_port() for name in ("6379", "4280", "4290", "4281", "4291")}
    here = re.compile("|".join(ports))
    steps = commands(block(SECTION, "sh"))
    assert [command.split()[0] for command, _ in steps] == ["redis-server", "mockd", "mockd", "curl", "curl",
                                                            "mockd", "curl"]
    shell = Shell(tmp_path, tools(tmp_path))
    try:
        outputs = []
        for command, comments in steps:
            command = here.sub(lambda m: str(ports[m.group(0)]), command.replace("localhost", "127.0.0.1"))
            if command.startswith("mockd serve") and " -p " not in command:  # node a, on the default ports
                command = command.replace(" &", f" -p {ports['4280']} -a {ports['4290']} &")
            status, out, err = shell.run(command)
            assert status == 0, (command, out, err)
            outputs.append(out.splitlines()[-1] if out else "")  # the servers' banners come first
            if command.startswith("redis-server"):
                assert wait_until(lambda: listening(ports["6379"]), 10)
            elif command.startswith("mockd serve"):
                admin = ports["4291"] if "--node-id b" in command else ports["4290"]
                assert wait_until(lambda: listening(admin), 15), err
            elif command.startswith("curl"):
                assert re.search(r"HTTP 20[01]", err), (command, err)
        cluster = json.loads(outputs[3])
        assert sorted(node["id"] for node in cluster["nodes"]) == ["a", "b"] and cluster["self"] == "b"
        assert outputs[5] == '< {"order": 1}'  # b served the mock made through a
        messages = json.loads(outputs[6])["messages"]
        assert [(m["node"], m["direction"], m["body"]) for m in messages if m["direction"] != "event"] == [
            ("b", "inbound", '{"order": 1}'), ("b", "outbound", '{"order": 1}')]
        assert AdminClient(f"http://127.0.0.1:{ports['4290']}").get("/cluster").status == 200
    finally:
        shell.close()
